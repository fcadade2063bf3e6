"""A separable family compiled as 1-D factors: one torch function per coordinate.

:func:`compile_factors` asks :func:`aclcore.compile.separable.separate` whether the formula
the compiler evaluates (``CompiledFamily.explicit_expr``) is a product of 1-D factors, and if
so compiles each factor with :func:`~aclcore.compile.compiler.compile_expr` (the constant
factor of AKPs only is folded into the first coordinate's factor). The separable convolution
path of the layers (:mod:`aclcore.nn.separable`) evaluates these on 1-D tap offsets.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sympy as sp
import torch

from aclcore.compile.compiler import compile_expr, compile_family
from aclcore.compile.separable import Separation, separate
from aclcore.symbolic.family import KernelFamily

__all__ = ["CompiledFactors", "compile_factors"]


@dataclass(frozen=True)
class CompiledFactors:
    """The 1-D factors of a separable family, compiled.

    Attributes:
        family: the family.
        separation: the symbolic factors (the constant factor kept apart).
        functions: per coordinate (family order: x, y, z), ``fn((coord,), params)`` over the
            AKPs of ``reads``; the first one includes the constant factor.
        reads: per coordinate, the names of the AKPs its factor depends on.
        unused: AKPs that no factor depends on (the caller links them into the autograd
            graph with a zero gradient, as the compiled family does).
    """

    family: KernelFamily
    separation: Separation
    functions: tuple[Any, ...]
    reads: tuple[tuple[str, ...], ...]
    unused: tuple[str, ...]

    def evaluate(self, axis: int, coord: torch.Tensor,
                 params: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Factor ``axis`` (coordinate index, family order) at ``coord`` (broadcast)."""
        return self.functions[axis]((coord,), {n: params[n] for n in self.reads[axis]})  # type: ignore[no-any-return]


_cache: dict[Any, CompiledFactors | None] = {}
_lock = threading.Lock()


def compile_factors(family: KernelFamily) -> CompiledFactors | None:
    """The compiled 1-D factors of ``family``, or ``None`` when it is not separable.

    Decided on the formula the compiler evaluates (removable singularities written in), once
    per formula (cached). A family of one coordinate is not factored (``None``).
    """
    if family.ndim < 2:
        return None
    compiled = compile_family(family)
    explicit = compiled.explicit_expr
    key = (explicit, family.coords, tuple(p.symbol for p in family.params))
    with _lock:
        if key in _cache:
            hit = _cache[key]
            return None if hit is None else CompiledFactors(
                family, hit.separation, hit.functions, hit.reads, hit.unused)
    separation = separate(explicit, family.coords)
    result = None if separation is None else _compile(family, separation)
    with _lock:
        if len(_cache) >= 256:
            _cache.clear()
        _cache[key] = result
    return result


def _compile(family: KernelFamily, separation: Separation) -> CompiledFactors:
    params = [(p.name, p.symbol) for p in family.params]
    positive = [p.symbol for p in family.params if p.constraint_obj.positive]
    functions, reads = [], []
    for i, (coord, factor) in enumerate(zip(separation.coords, separation.factors,
                                            strict=True)):
        expr = sp.Mul(separation.constant, factor) if i == 0 else factor
        uses = [(name, sym) for name, sym in params if sym in expr.free_symbols]
        symbols = [sym for _, sym in uses]
        functions.append(compile_expr(
            expr, (coord,), symbols, label=f"{family.name}_{coord.name}",
            singularities=False, positive=[p for p in positive if p in symbols]))
        reads.append(tuple(name for name, _ in uses))
    used = {n for names in reads for n in names}
    unused = tuple(n for n in family.param_names if n not in used)
    return CompiledFactors(family, separation, tuple(functions), tuple(reads), unused)
