r"""How a fitted family is scored: parameter counts and the error/parameter trade-off.

A family that explains a kernel with fewer parameters at a similar error should rank first,
as in symbolic regression, where a formula is judged by its loss *and* its complexity. The
score of a family on a kernel is (lower is better)

.. math::  s = \ln \max(e, e_{floor}) + \pi \, k

with ``e`` the relative L2 error, ``k`` the parameters the family needs for the kernel and
``\pi`` the *parsimony*: a family must divide the error by ``exp(pi)`` per extra parameter
to rank higher. The default ``\pi = \ln(n) / (2 n)``, ``n`` the number of values in a
kernel, makes ``s`` the Bayesian information criterion of a Gaussian residual divided by
``2 n`` (so, with noise, a richer family that contains the generating one does not outrank
it). Errors below ``e_floor`` (default ``1e-3``) count as exact: between exact fits the
fewest parameters win. Ties go to the family given first.

Parameters of a kernel ``C`` channels deep, for a family of ``P`` AKPs (each analytic kernel
also has its gain, as in the layer):

* shared geometry (``share_akps=True``): ``P + C`` (one AKP set, one gain per channel);
* separate AKPs per channel: ``C * (P + 1)``.
"""

from __future__ import annotations

import math

import torch

from aclcore.errors import ConfigError

__all__ = ["ERROR_FLOOR", "bic_parsimony", "parameter_count", "rank", "scores"]

#: Relative errors below this count as exact fits when ranking.
ERROR_FLOOR = 1e-3


def parameter_count(akps: int, channels: int, share_akps: bool) -> int:
    """Parameters one analytic kernel of ``channels`` channels needs (AKPs and gains)."""
    return akps + channels if share_akps else channels * (akps + 1)


def bic_parsimony(numel: int) -> float:
    """The default parsimony ``ln(n) / (2 n)`` for kernels of ``n`` values."""
    return math.log(max(numel, 2)) / (2 * max(numel, 2))


def scores(errors: torch.Tensor, n_params: torch.Tensor, *, parsimony: float,
           error_floor: float = ERROR_FLOOR) -> torch.Tensor:
    """Scores ``(N, F)`` from relative errors ``(N, F)`` and parameter counts ``(F,)``."""
    if not (math.isfinite(parsimony) and parsimony >= 0):
        raise ConfigError(f"parsimony must be a finite number >= 0, got {parsimony!r}")
    if not (math.isfinite(error_floor) and error_floor > 0):
        raise ConfigError(f"error_floor must be a finite number > 0, got {error_floor!r}")
    err = torch.nan_to_num(errors.to(torch.float64), nan=math.inf)
    return torch.log(err.clamp_min(error_floor)) + parsimony * n_params.to(torch.float64)


def rank(score: torch.Tensor, n_params: torch.Tensor) -> torch.Tensor:
    """Family indices of every kernel from best to worst, ``(N, F)``.

    Sorted by score, then by parameter count, then by the families' order.
    """
    n, f = score.shape
    index = torch.arange(f, dtype=torch.float64).expand(n, f)
    params = n_params.to(torch.float64).expand(n, f)
    # lexicographic sort: stable sorts from the least significant key up
    order = torch.argsort(index, dim=1, stable=True)
    for key in (params, score):
        taken = torch.gather(key, 1, order)
        order = torch.gather(order, 1, torch.argsort(taken, dim=1, stable=True))
    return order
