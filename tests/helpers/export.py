"""Helpers of the export tests: an independent (mpmath) evaluator of exported formulas.

Nothing here uses aclcore's compiler, grid or quadrature: the tap coordinates follow the
documented convention and the Gauss-Legendre rule is computed from scratch with mpmath.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

import mpmath
import sympy as sp
import torch

from aclcore.nn import AnalyticConvNd

mpmath.mp.dps = 30


@functools.cache
def mp_gauss_legendre(n: int) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """Nodes in [-1/2, 1/2] and weights (sum 1) of the n-point rule, by Newton on P_n."""
    nodes, weights = [], []
    for i in range(n):
        x = mpmath.cos(mpmath.pi * (i + mpmath.mpf(3) / 4) / (n + mpmath.mpf(1) / 2))
        for _ in range(100):
            p, q = mpmath.legendre(n, x), mpmath.legendre(n - 1, x)
            dp = n * (x * p - q) / (x**2 - 1)
            step = p / dp
            x -= step
            if abs(step) < mpmath.mpf(10) ** -28:
                break
        p, q = mpmath.legendre(n, x), mpmath.legendre(n - 1, x)
        dp = n * (x * p - q) / (x**2 - 1)
        nodes.append(x / 2)
        weights.append(1 / ((1 - x**2) * dp**2))  # 2 / (...) on [-1, 1], halved
    return tuple(nodes), tuple(weights)


def tap_offsets(size: int, dilation: int) -> list[Any]:
    """Centred offsets (i - (size-1)/2) * dilation, increasing."""
    return [(mpmath.mpf(i) - mpmath.mpf(size - 1) / 2) * dilation for i in range(size)]


def evaluate(formula: sp.Expr, coords: Sequence[sp.Symbol], kernel_size: Sequence[int],
             dilation: Sequence[int], discretization: str, quadrature: int,
             functions: dict[str, Any] | None = None) -> torch.Tensor:
    """The kernel ``formula`` on the grid (y up), float64, evaluated with mpmath."""
    fn = sp.lambdify(tuple(coords), formula, modules=[functions or {}, "mpmath"])
    nd = len(kernel_size)
    axes = [tap_offsets(k, d) for k, d in zip(kernel_size, dilation, strict=True)]
    # coordinate j (x, y, z) lives on spatial dimension nd - 1 - j; y is reversed (upwards)
    per_coord = [axes[nd - 1]]
    if nd >= 2:
        per_coord.append(list(reversed(axes[nd - 2])))
    if nd == 3:
        per_coord.append(axes[0])
    if discretization == "sample":
        nodes, weights = (mpmath.mpf(0),), (mpmath.mpf(1),)
    else:
        nodes, weights = mp_gauss_legendre(quadrature)
    out = torch.zeros(tuple(kernel_size), dtype=torch.float64)
    for index in _indices(kernel_size):
        taps = [per_coord[j][index[nd - 1 - j]] for j in range(nd)]
        total = mpmath.mpf(0)
        for combo in _indices([len(nodes)] * nd):
            w = mpmath.mpf(1)
            point = []
            for j in range(nd):
                w *= weights[combo[j]]
                point.append(taps[j] + nodes[combo[j]])
            total += w * fn(*point)
        out[index] = float(total)
    return out


def _indices(shape: Sequence[int]) -> list[tuple[int, ...]]:
    result: list[tuple[int, ...]] = [()]
    for n in shape:
        result = [(*r, i) for r in result for i in range(n)]
    return result


def independent_bank(layer: AnalyticConvNd, matrix: list[list[sp.Expr | None]],
                     coords: Sequence[sp.Symbol], functions: dict[str, Any] | None = None
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """(exported formulas evaluated with mpmath, layer.weight) on the analytic kernels only."""
    with torch.no_grad():
        weight = layer.weight.detach().double()
    got, want = [], []
    for o, row in enumerate(matrix):
        for i, formula in enumerate(row):
            if formula is None:
                continue
            got.append(evaluate(formula, coords, layer.kernel_size, layer.dilation,
                                layer.discretization, layer.quadrature, functions))
            want.append(weight[o, i])
    return torch.stack(got), torch.stack(want)


def perturb(layer: AnalyticConvNd, seed: int = 0, angle_shift: float = 4 * math.pi) -> None:
    """Move the raw AKPs and gains away from their init (angles past 2 pi), deterministically."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for block in layer.analytic:
            for p in block.family.params:
                raw = block.raw(p.name)
                raw.add_(0.05 * torch.randn(raw.shape, generator=gen).to(raw.dtype))
                if p.constraint_obj.spec == "angle":
                    raw.add_(angle_shift)
            if block.gain is not None:
                block.gain.mul_(1 + 0.1 * torch.rand(block.gain.shape, generator=gen)
                                .to(block.gain.dtype))
    layer.clear_cache()
