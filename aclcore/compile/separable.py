"""Separable kernel formulas: prove that ``f(x, y[, z]; p) == g(x; p) * h(y; p) [* k(z; p)]``.

A family is *separable* when its formula is a product of factors that each depend on at most
one coordinate, for every value of its AKPs (axis-aligned Gaussians and their derivatives
along the axes, products of 1-D windows...). A separable kernel can be convolved with its 1-D
factors one axis after the other (see :mod:`aclcore.nn.separable`), which costs ``kH + kW``
instead of ``kH * kW`` multiply-adds per tap.

:func:`separate` decides it symbolically, by rewrites that are identities for every value of
the symbols, so the result is a proof by construction:

* a product is split into its factors (``Mul.make_args``) and the factors are grouped by the
  one coordinate they depend on; factors of AKPs only form the *constant* factor;
* ``exp(a + b)`` with each term of the expanded exponent depending on one coordinate at most
  becomes ``exp(a) * exp(b)`` (Gaussians);
* an integer power of a product is the product of the powers;
* a window ``Piecewise((v, c_x & c_y), (0, True))`` whose conditions each name one coordinate
  becomes ``v`` times one indicator ``Piecewise((1, c), (0, True))`` per coordinate;
* a sum that SymPy factors into a product (``x*y + x`` -> ``x*(y + 1)``) is split as a product.

Anything else that depends on two coordinates (``cos(x*cos(t) + y*sin(t))``, a sum of
separable terms such as a difference of Gaussians, a Laplacian of Gaussian) is *not*
separable: the answer is conservative, and a rewrite SymPy cannot finish within
:data:`SEPARABLE_WORK` calls also means "not separable". As a guard against mistakes in the
rewrites, the product of the factors is compared with the formula at a few exact rational
points before it is accepted.

Callers pass the formula the compiler evaluates (``CompiledFamily.explicit_expr``): a formula
whose removable singularities were written in as ``Piecewise`` branches is not a product, so
it is not separable (conservative), and the factors of a separable one compute exactly what
the compiled family computes. SymPy only: no torch here.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sympy as sp

__all__ = ["SEPARABLE_WORK", "Separation", "clear_separations", "separate"]

#: Python-level calls of SymPy work one separability decision may make (expanding exponents,
#: factoring sums, the final check): about 2 s here. A count, not a clock, so that a family
#: is separable or not the same way on every machine and under any load.
SEPARABLE_WORK = 2_000_000

_CACHE_SIZE = 256
#: Exact points at which the product of the factors must equal the formula (a guard).
_CHECK_POINTS = (
    (sp.Rational(3, 7), sp.Rational(-5, 11), sp.Rational(2, 13)),
    (sp.Rational(-9, 5), sp.Rational(4, 3), sp.Rational(-7, 2)),
)
_CHECK_AKPS = (sp.Rational(5, 4), sp.Rational(7, 9), sp.Rational(13, 10), sp.Rational(3, 5))


@dataclass(frozen=True)
class Separation:
    """A formula written as ``constant * factors[0] * factors[1] (* factors[2])``.

    Attributes:
        coords: the coordinates, in the family's order (x, y, z).
        factors: one expression per coordinate, depending on that coordinate (and AKPs)
            only; ``1`` along a coordinate the formula does not depend on.
        constant: the factor of AKPs only (``1`` when there is none).
    """

    coords: tuple[sp.Symbol, ...]
    factors: tuple[sp.Expr, ...]
    constant: sp.Expr

    def product(self) -> sp.Expr:
        """``constant * factors[0] * ...``, the formula again (up to SymPy's ordering)."""
        return sp.Mul(self.constant, *self.factors)


class _NotSeparable(Exception):
    """A factor depends on two coordinates in a way no rewrite of this module splits."""


def _coords_of(expr: sp.Basic, coords: frozenset[sp.Symbol]) -> frozenset[sp.Symbol]:
    return frozenset(expr.free_symbols) & coords


class _Splitter:
    """Groups the factors of a product by the one coordinate each depends on."""

    def __init__(self, coords: Sequence[sp.Symbol], budget: Any) -> None:
        self.coords = frozenset(coords)
        self.budget = budget
        self.groups: dict[sp.Symbol | None, list[sp.Expr]] = {c: [] for c in coords}
        self.groups[None] = []

    def add(self, expr: sp.Expr, depth: int = 0) -> None:
        """Split ``expr`` (a factor of the formula) into the groups, or raise _NotSeparable."""
        self.budget.check()
        if depth > 8:
            raise _NotSeparable
        for factor in sp.Mul.make_args(expr):
            found = _coords_of(factor, self.coords)
            if len(found) <= 1:
                self.groups[next(iter(found), None)].append(factor)
            elif isinstance(factor, sp.exp):
                self._exp(factor)
            elif isinstance(factor, sp.Pow) and factor.exp.is_Integer:
                part = _Splitter(sorted(self.coords, key=str), self.budget)
                part.add(factor.base, depth + 1)
                for key, items in part.groups.items():
                    self.groups[key].extend(item ** factor.exp for item in items)
            elif isinstance(factor, sp.Piecewise):
                self._window(factor, depth)
            elif isinstance(factor, sp.Add):
                product = sp.factor_terms(factor)
                if not isinstance(product, sp.Mul):
                    product = sp.factor(factor)
                if not isinstance(product, sp.Mul):
                    raise _NotSeparable
                self.add(product, depth + 1)
            else:
                raise _NotSeparable

    def _exp(self, factor: sp.exp) -> None:
        terms: dict[sp.Symbol | None, list[sp.Expr]] = {}
        for term in sp.Add.make_args(sp.expand(factor.args[0])):
            found = _coords_of(term, self.coords)
            if len(found) > 1:
                raise _NotSeparable
            terms.setdefault(next(iter(found), None), []).append(term)
        for key, items in terms.items():
            self.groups[key].append(sp.exp(sp.Add(*items)))

    def _window(self, factor: sp.Piecewise, depth: int) -> None:
        """``Piecewise((v, c1 & c2 ...), (0, True))`` with one coordinate per condition."""
        if len(factor.args) != 2:
            raise _NotSeparable
        (value, cond), (other, otherwise) = factor.args
        if otherwise != sp.true or other != 0:
            raise _NotSeparable
        by_coord: dict[sp.Symbol | None, list[Any]] = {}
        for clause in sp.And.make_args(cond):
            found = _coords_of(clause, self.coords)
            if len(found) > 1:
                raise _NotSeparable
            by_coord.setdefault(next(iter(found), None), []).append(clause)
        inner = _Splitter(sorted(self.coords, key=str), self.budget)
        inner.add(value, depth + 1)
        for key in self.groups:
            items = inner.groups[key]
            clauses = by_coord.get(key)
            part = sp.Mul(*items)
            if clauses is None:
                self.groups[key].extend(items)
            else:  # the value lives inside the indicator: evaluated only where it is selected
                self.groups[key].append(sp.Piecewise((part, sp.And(*clauses)), (0, True)))


def _agrees(expr: sp.Expr, product: sp.Expr, coords: Sequence[sp.Symbol]) -> bool:
    """Whether ``product`` equals ``expr`` at the exact points of ``_CHECK_POINTS``."""
    params = sorted(expr.free_symbols - set(coords), key=str)
    akps = {p: _CHECK_AKPS[i % len(_CHECK_AKPS)] + i for i, p in enumerate(params)}
    for point in _CHECK_POINTS:
        values = dict(akps)
        values.update({c: point[i] for i, c in enumerate(coords)})
        a, b = expr.xreplace(values), product.xreplace(values)
        if a.has(sp.nan, sp.zoo, sp.oo, -sp.oo) or b.has(sp.nan, sp.zoo, sp.oo, -sp.oo):
            continue  # a singular check point proves nothing either way
        try:
            difference = abs(sp.N(a - b, 30))
            scale = max(abs(sp.N(a, 30)), sp.Float(1))
            if not (difference.is_Number and scale.is_Number) or difference > 1e-20 * scale:
                return False
        except (TypeError, ValueError, ArithmeticError):  # a value SymPy cannot compare
            return False
    return True


def _separate(expr: sp.Expr, coords: tuple[sp.Symbol, ...]) -> Separation | None:
    from aclcore.symbolic.budget import Overtime, WorkBudget  # first use, not at import

    budget = WorkBudget(SEPARABLE_WORK)
    try:
        with budget:
            splitter = _Splitter(coords, budget)
            splitter.add(expr)
            factors = tuple(sp.Mul(*splitter.groups[c]) for c in coords)
            result = Separation(coords, factors, sp.Mul(*splitter.groups[None]))
            if not _agrees(expr, result.product(), coords):
                return None
            return result
    except _NotSeparable:
        return None
    except Overtime:
        if not budget.exhausted:  # an enclosing budget (a whole document) is used up
            raise
        return None


_cache: dict[tuple[Any, ...], Separation | None] = {}
_lock = threading.Lock()


def clear_separations() -> None:
    """Forget every cached decision (the next request decides again)."""
    with _lock:
        _cache.clear()


def separate(expr: sp.Expr, coords: Sequence[sp.Symbol]) -> Separation | None:
    """The 1-D factors of ``expr`` over ``coords``, or ``None`` when it is not separable.

    Decided once per ``(expr, coords)`` and cached. Proven for every value of the other
    symbols (the AKPs): the factors are obtained by identities only (see the module
    docstring), and checked at exact rational points. A formula of one coordinate is its own
    factor.

    Args:
        expr: the formula, as the compiler evaluates it (``CompiledFamily.explicit_expr``).
        coords: its coordinates in the family's order.
    """
    key = (expr, tuple(coords))
    with _lock:
        if key in _cache:
            return _cache[key]
    result = _separate(expr, tuple(coords))
    with _lock:
        if len(_cache) >= _CACHE_SIZE:
            _cache.clear()
        _cache[key] = result
    return result
