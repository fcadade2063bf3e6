"""Bank-level choices from a fit: which family (or a free kernel) each kernel keeps.

* :func:`select`: the best-ranked family whose error is within ``tol``, else free (what
  :func:`aclcore.fit.fit_conv` builds).
* :func:`pareto_front`: the error/compression trade-off of the whole bank. Choosing one
  option per kernel (a family, or the free kernel: no error, ``C * prod(k)`` parameters)
  to minimise the bank's squared error under a parameter budget is a multiple-choice
  knapsack; its lower convex hull is found exactly by a greedy merge: every kernel starts
  at its cheapest option, and the upgrades along each kernel's own convex hull are applied
  in order of error removed per parameter added. Every point of the front is optimal for its
  budget among the hull choices.
* :func:`summarize`: one row per family (parameters, compression, errors, wins).

Compression is the number of weights of the bank (``N * C * prod(k)``) divided by the
parameters of the analytic version (AKPs, gains and free kernels; a bias is the same in both
and left out). The bank error is ``||T - fit|| / ||T||`` over the whole bank.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from aclcore.errors import ConfigError
from aclcore.fit.result import FitResult

__all__ = ["FamilySummary", "ParetoPoint", "best_within", "pareto_front", "select",
           "summarize"]


def _check_tol(tol: float) -> float:
    if isinstance(tol, bool) or not isinstance(tol, (int, float)) or math.isnan(tol) or tol < 0:
        raise ConfigError(f"tol must be a number >= 0 (a relative L2 error), got {tol!r}")
    return float(tol)


def select(result: FitResult, tol: float) -> list[str | None]:
    """Per kernel: its best-ranked family with relative error ``<= tol``, or ``None`` (free)."""
    tol = _check_tol(tol)
    errors = result.errors
    choice: list[str | None] = []
    for n in range(result.kernel_count):
        pick = None
        for j in result.order[n].tolist():
            if float(errors[n, j]) <= tol:
                pick = result.names[j]
                break
        choice.append(pick)
    return choice


@dataclass(frozen=True)
class ParetoPoint:
    """One point of the error/compression front.

    Attributes:
        n_params: parameters of the analytic bank (AKPs, gains, free kernels).
        compression: weights of the bank divided by ``n_params``.
        error: relative L2 error of the whole bank.
        choice: per kernel its family name, or ``None`` for a free kernel.
    """

    n_params: int
    compression: float
    error: float
    choice: tuple[str | None, ...]


def _hull(options: list[tuple[int, float, str | None]]) -> list[tuple[int, float, str | None]]:
    """Lower convex hull of ``(params, residual, name)``, residual strictly decreasing."""
    options = sorted(options, key=lambda o: (o[0], o[1]))
    front: list[tuple[int, float, str | None]] = []
    for o in options:
        if front and o[1] >= front[-1][1]:
            continue  # dominated: more parameters, no lower residual
        front.append(o)
    hull: list[tuple[int, float, str | None]] = []
    for o in front:
        while len(hull) >= 2:
            (p0, r0, _), (p1, r1, _) = hull[-2], hull[-1]
            if (r1 - r0) * (o[0] - p1) >= (o[1] - r1) * (p1 - p0):  # slope no longer rising
                hull.pop()
            else:
                break
        hull.append(o)
    return hull


def pareto_front(result: FitResult, *, free: bool = True) -> list[ParetoPoint]:
    """The error/compression front of the bank, from most compressed to most accurate.

    Args:
        result: a fit.
        free: whether a kernel may stay free (exact, ``C * prod(k)`` parameters).
    """
    target = result.target
    numel = int(target[0].numel())
    total = float((target * target).sum())
    hulls = []
    for n in range(result.kernel_count):
        opts: list[tuple[int, float, str | None]] = [
            (fit.n_params, float(fit.residuals[n]), name)
            for name, fit in result.fits.items() if math.isfinite(float(fit.residuals[n]))
        ]
        if free:
            opts.append((numel, 0.0, None))
        if not opts:
            raise ConfigError(f"kernel {n}: no family gave a finite fit and free=False")
        hulls.append(_hull(opts))
    steps = []
    for n, hull in enumerate(hulls):
        for i in range(1, len(hull)):
            dp = hull[i][0] - hull[i - 1][0]
            dr = hull[i - 1][1] - hull[i][1]
            steps.append((-dr / dp, n, i))
    steps.sort()
    state = [0] * len(hulls)
    params = sum(h[0][0] for h in hulls)
    current = np.array([h[0][1] for h in hulls], dtype=np.float64)

    def point() -> ParetoPoint:
        choice = tuple(h[s][2] for h, s in zip(hulls, state, strict=True))
        resid = float(current.sum())  # summed afresh: no drift from running updates
        err = math.sqrt(max(resid, 0.0) / total) if total > 0 else 0.0
        return ParetoPoint(params, target.numel() / params, err, choice)

    points = [point()]
    for _, n, i in steps:
        params += hulls[n][i][0] - hulls[n][i - 1][0]
        current[n] = hulls[n][i][1]
        state[n] = i
        points.append(point())
    return points


def best_within(front: list[ParetoPoint], compression: float) -> ParetoPoint | None:
    """The most accurate point with at least ``compression`` (``None`` if there is none)."""
    ok = [p for p in front if p.compression >= compression * (1 - 1e-12)]
    return min(ok, key=lambda p: (p.error, p.n_params)) if ok else None


@dataclass(frozen=True)
class FamilySummary:
    """One family over the whole bank.

    Attributes:
        family: its name.
        akps: its AKP names.
        n_params: parameters per kernel.
        compression: weights per kernel divided by ``n_params``.
        bank_error: relative L2 error of the bank when every kernel uses this family.
        median_error: median relative error of a kernel.
        ranked_first: kernels on which it ranks first.
        within_tol: kernels it fits within ``tol`` (``None`` without ``tol``).
    """

    family: str
    akps: tuple[str, ...]
    n_params: int
    compression: float
    bank_error: float
    median_error: float
    ranked_first: int
    within_tol: int | None


def summarize(result: FitResult, tol: float | None = None) -> list[FamilySummary]:
    """One :class:`FamilySummary` per family, in the order the families were given."""
    if tol is not None:
        tol = _check_tol(tol)
    numel = int(result.target[0].numel())
    total = float((result.target * result.target).sum())
    firsts = result.order[:, 0]
    rows = []
    for j, (name, fit) in enumerate(result.fits.items()):
        res = float(fit.residuals.sum())
        rows.append(FamilySummary(
            family=name,
            akps=fit.family.param_names,
            n_params=fit.n_params,
            compression=numel / fit.n_params,
            bank_error=math.sqrt(res / total) if total > 0 else 0.0,
            median_error=float(torch.median(fit.errors)),
            ranked_first=int((firsts == j).sum()),
            within_tol=None if tol is None else int((fit.errors <= tol).sum()),
        ))
    return rows
