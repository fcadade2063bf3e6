"""Fit analytic families to given kernels: :func:`fit_kernels`.

Every family is fitted to every kernel in one batched optimisation per family: all kernels
and all starts are rows of one problem batch (:mod:`aclcore.fit.optimize`), the gains are
projected out (:mod:`aclcore.fit.objective`). The starts are drawn from each Param's
``init`` range (a pair: uniform; a number: that value) with a generator seeded from
``seed`` and the family's name, so a result does not depend on the other families listed.

Schedule (``method="adam+lbfgs"``, the default): ``starts * screen`` starts per kernel (per
channel with separate AKPs) are evaluated once, the best ``starts`` run ``adam_steps`` Adam
steps, the best ``keep`` of each are polished by
up to ``lbfgs_steps`` L-BFGS iterations, and the best is kept. ``"adam"`` and ``"lbfgs"``
run one optimiser on every start.
"""

from __future__ import annotations

import contextlib
import math
import zlib
from collections.abc import Iterator, Sequence

import torch

from aclcore.errors import ConfigError
from aclcore.fit.inputs import FamilySpecs, check_target, resolve_families
from aclcore.fit.objective import TINY, Objective
from aclcore.fit.optimize import Minimum, adam, lbfgs
from aclcore.fit.result import FamilyFit, FitOptions, FitResult
from aclcore.fit.scoring import ERROR_FLOOR, bic_parsimony, parameter_count, rank, scores
from aclcore.nn.functional import DISCRETIZATIONS
from aclcore.nn.grid import normalize_size, quadrature_problem
from aclcore.symbolic.family import KernelFamily, normalize_problem

__all__ = ["METHODS", "fit_kernels"]

#: The optimisation schedules of :func:`fit_kernels`.
METHODS = ("adam+lbfgs", "adam", "lbfgs")
#: Kernel values evaluated at once while screening starts (bounds the memory).
_CHUNK = 4_000_000


def _check_int(name: str, value: object, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"{name} must be an int >= {low}, got {value!r}")
    return value


def fit_kernels(
    target: object,
    families: FamilySpecs,
    *,
    share_akps: bool = False,
    dilation: int | Sequence[int] = 1,
    discretization: str = "sample",
    quadrature: int = 4,
    normalize: str | None = None,
    starts: int = 16,
    screen: int = 8,
    keep: int = 4,
    method: str = "adam+lbfgs",
    adam_steps: int = 150,
    lr: float = 0.05,
    lbfgs_steps: int = 60,
    seed: int = 0,
    parsimony: float | None = None,
    error_floor: float = ERROR_FLOOR,
    extent: float | None = None,
    threads: int | None = 1,
) -> FitResult:
    """Fit every family to every kernel of ``target`` and rank the families per kernel.

    Args:
        target: the kernels, ``(N, C, *kernel_size)`` (a tensor or NumPy array, e.g.
            ``conv.weight``); ``C`` channels per kernel, 1 to 3 spatial dimensions.
        families: names, :class:`~aclcore.symbolic.family.KernelFamily` objects or
            spellings such as ``"shifted(gabor)"`` and ``"gabor+log"``
            (:mod:`aclcore.fit.compose`).
        share_akps: ``True``: one AKP set per kernel shared by its channels, one gain per
            channel (shared geometry); ``False``: separate AKPs and a gain per channel. The
            same option as the layer's.
        dilation, discretization, quadrature, normalize: how a family is sampled, as in
            :func:`aclcore.nn.functional.sample_kernels` and the layer (``normalize=None``:
            each family's own).
        starts: starts per kernel (per channel with separate AKPs).
        screen: ``starts * screen`` candidates per kernel are drawn and evaluated once (no
            gradients); the best ``starts`` of them are optimised.
        keep: starts per kernel that L-BFGS polishes after Adam (``"adam+lbfgs"``).
        method: ``"adam+lbfgs"``, ``"adam"`` or ``"lbfgs"`` (see the module doc).
        adam_steps, lr: Adam's steps and learning rate (on the raw AKPs).
        lbfgs_steps: L-BFGS iterations.
        seed: seeds the starts; the same arguments give the same result.
        parsimony: the score's cost per parameter (default ``ln(n)/(2n)`` for kernels of
            ``n = C * prod(kernel_size)`` values, see :mod:`aclcore.fit.scoring`).
        error_floor: relative errors below it rank as exact.
        extent: centre range of ``shifted(...)`` spellings (default: half the kernel).
        threads: torch's intra-op threads during the fit (restored after; ``None`` leaves
            them). The fit runs many operations on small tensors, where one thread is
            fastest and several threads on a busy machine are many times slower.

    Returns:
        A :class:`~aclcore.fit.result.FitResult`: per family the best AKPs, gains, fitted
        kernels and relative errors; per kernel the families ranked by score.

    Raises:
        ConfigError: a target of the wrong shape or with NaN/inf values, a family of the
            wrong dimension or given twice, an invalid option.
        UnknownFamilyError: a family name that is not registered.
    """
    bank = check_target(target)
    nd = bank.dim() - 2
    size = tuple(bank.shape[2:])
    if extent is None:
        extent = max(1.0, (max(size) - 1) / 2)
    candidates = resolve_families(families, nd, extent=extent)
    dil = normalize_size(dilation, nd, "dilation")
    if discretization not in DISCRETIZATIONS:
        raise ConfigError(f"discretization={discretization!r} is unknown: use 'sample' or "
                          "'integrate'")
    if (problem := quadrature_problem(quadrature)) is not None:
        raise ConfigError(problem)
    if normalize is not None and (problem := normalize_problem(normalize)) is not None:
        raise ConfigError(problem)
    if method not in METHODS:
        raise ConfigError(f"method={method!r} is unknown: use one of {', '.join(METHODS)}")
    starts = _check_int("starts", starts, 1)
    screen = _check_int("screen", screen, 1)
    keep = min(_check_int("keep", keep, 1), starts)
    adam_steps = _check_int("adam_steps", adam_steps, 0)
    lbfgs_steps = _check_int("lbfgs_steps", lbfgs_steps, 0)
    seed = _check_int("seed", seed, 0)
    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise ConfigError(f"lr must be a finite number > 0, got {lr!r}")
    numel = bank.shape[1] * math.prod(size)
    weight = bic_parsimony(numel) if parsimony is None else float(parsimony)
    # checks parsimony and error_floor before any fitting
    scores(torch.zeros(1, 1), torch.zeros(1), parsimony=weight, error_floor=error_floor)
    options = FitOptions(bool(share_akps), dil, discretization, quadrature, normalize, seed)
    if threads is not None:
        threads = _check_int("threads", threads, 1)
    fits = {}
    with _torch_threads(threads):
        for family in candidates:
            fits[family.name] = _fit_family(
                family, bank, options, starts=starts, screen=screen, keep=keep, method=method,
                adam_steps=adam_steps, lr=float(lr), lbfgs_steps=lbfgs_steps,
            )
    errors = torch.stack([f.errors for f in fits.values()], dim=1)
    counts = torch.tensor([f.n_params for f in fits.values()])
    score = scores(errors, counts, parsimony=weight, error_floor=error_floor)
    return FitResult(bank, fits, score, rank(score, counts), weight, options)


@contextlib.contextmanager
def _torch_threads(threads: int | None) -> Iterator[None]:
    if threads is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _seed(seed: int, name: str) -> int:
    return (seed * 1_000_003 + zlib.crc32(name.encode())) % (2**63)


def _starts(family: KernelFamily, problems: int, seed: int) -> torch.Tensor:
    """Raw starting AKPs ``(problems, P)`` drawn from the Params' init."""
    gen = torch.Generator().manual_seed(_seed(seed, family.name))
    cols = []
    for p in family.params:
        value = p.sample((problems,), generator=gen, dtype=torch.float64)
        cols.append(p.constraint_obj.inverse(value))
    if not cols:
        return torch.zeros(problems, 0, dtype=torch.float64)
    return torch.stack(cols, dim=1)


def _best_of(minimum: Minimum, units: int, per_unit: int, keep: int) -> torch.Tensor:
    """Indices into the batch of the ``keep`` best rows of every unit, ``(units * keep,)``."""
    loss = torch.nan_to_num(minimum.loss, nan=math.inf).reshape(units, per_unit)
    top = torch.argsort(loss, dim=1, stable=True)[:, :keep]
    base = (torch.arange(units) * per_unit)[:, None]
    return (base + top).reshape(-1)


def _screened(objective: Objective, units: int, starts: int, screen: int, seed: int
              ) -> torch.Tensor:
    """The best ``starts`` of ``starts * screen`` drawn starts of every unit, by loss."""
    drawn = _starts(objective.family, units * starts * screen, seed)
    if screen == 1 or objective.dim == 0:
        return drawn
    unit = torch.arange(units).repeat_interleave(starts * screen)
    losses = []
    chunk = max(1, _CHUNK // max(1, int(objective.flat[0].numel())))
    with torch.no_grad():
        for i in range(0, drawn.shape[0], chunk):
            losses.append(objective.evaluate(drawn[i:i + chunk], unit[i:i + chunk]).loss)
    best = _best_of(Minimum(drawn, torch.cat(losses)), units, starts * screen, starts)
    return drawn[best]


def _fit_family(family: KernelFamily, bank: torch.Tensor, options: FitOptions, *,
                starts: int, screen: int, keep: int, method: str, adam_steps: int, lr: float,
                lbfgs_steps: int) -> FamilyFit:
    n, c = bank.shape[:2]
    size = bank.shape[2:]
    units = bank if options.share_akps else bank.reshape(n * c, 1, *size)
    u = units.shape[0]
    objective = Objective(family, units, dilation=options.dilation,
                          discretization=options.discretization, quadrature=options.quadrature,
                          normalize=options.normalize)
    x0 = _screened(objective, u, starts, screen, options.seed)
    unit = torch.arange(u).repeat_interleave(starts)
    per_unit = starts
    if method == "lbfgs":
        result = lbfgs(objective.loss(unit), x0, steps=lbfgs_steps)
    else:
        result = adam(objective.loss(unit), x0, steps=adam_steps, lr=lr)
        if method == "adam+lbfgs":
            chosen = _best_of(result, u, starts, keep)
            unit = unit[chosen]
            result = lbfgs(objective.loss(unit), result.x[chosen], steps=lbfgs_steps)
            per_unit = keep
    best = _best_of(result, u, per_unit, 1)
    raw = result.x[best]
    with torch.no_grad():
        ev = objective.evaluate(raw, torch.arange(u))
    p = objective.dim
    akp_shape = (n, 1) if options.share_akps else (n, c)
    raws = {name: raw[:, i].reshape(akp_shape).clone()
            for i, name in enumerate(family.param_names)}
    akps = {name: con.forward(raws[name]) for name, con in
            zip(family.param_names, objective.constraints, strict=True)}
    gains = ev.gains.reshape(n, c)
    kernels = ev.kernels.reshape(n, c, *size)
    residuals = torch.nan_to_num(ev.residual.reshape(n, -1).sum(dim=1), nan=math.inf)
    norm2 = (bank * bank).flatten(1).sum(dim=1)
    errors = torch.where(norm2 > 0, (residuals / norm2.clamp_min(TINY)).sqrt(),
                         torch.zeros_like(norm2))
    return FamilyFit(family, akps, raws, gains, kernels, errors, residuals,
                     parameter_count(p, c, options.share_akps))
