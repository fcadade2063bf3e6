"""Removable singularities of a kernel formula: where vanishing coordinates make it 0/0.

``sin(r)/r`` is NaN on the centre tap when evaluated as written; its limit there is finite.
:func:`resolve_singularities` returns the formula with every such limit written in as a
``Piecewise`` branch (``Piecewise((limit, Eq(x, 0) & Eq(y, 0)), (formula, True))``), computed
by SymPy once per expression, so the compiled kernel is finite with exact gradients and the
exported formula evaluates to the same values on every tap.

Inside a ``Piecewise`` the limits are taken branch by branch: a branch's limit is used where
its condition selects it at the tap (SymPy's ``limit`` of a whole Piecewise returns its last
branch, whatever the conditions say). A singular term that still holds a Piecewise is not
resolved at all: its tap is reported by the finite check, never given a value that is not the
limit. Parameters whose constraint keeps them positive are positive for SymPy's limits, so
``exp(-a/x**2)`` with a positive ``a`` has the limit 0 at ``x = 0`` (with a zero gradient).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import sympy as sp

__all__ = ["LIMIT_WORK", "Singularity", "clear_resolved", "removable_singularities",
           "resolve_singularities"]

#: Python-level calls the search for removable singularities (SymPy limits) may make per
#: expression: about 10 s of SymPy work here (a 3-D Bessel family needs ~2 million). A count,
#: not a clock, so that a family compiles the same way on every machine and under any load.
LIMIT_WORK = 10_000_000

#: (coordinates that vanish, the limit there)
Singularity = tuple[tuple[sp.Symbol, ...], sp.Expr]

_NON_FINITE = (sp.nan, sp.zoo, sp.oo, -sp.oo)


def _has_non_finite(expr: sp.Basic) -> bool:
    return any(expr.has(v) for v in _NON_FINITE)


def _is_clean_limit(value: sp.Basic) -> bool:
    return not (_has_non_finite(value) or value.has(sp.Limit) or value.has(sp.AccumBounds))


def _limit(expr: sp.Expr, order: Sequence[sp.Symbol]) -> sp.Expr | None:
    if expr.has(sp.Piecewise):  # SymPy's limit of a Piecewise ignores its conditions
        return None
    value = expr
    try:
        for sym in order:
            value = sp.limit(value, sym, 0, dir="+-")  # two-sided: a jump is no removable point
            if not _is_clean_limit(value):
                return None
    except (NotImplementedError, ValueError, TypeError, RecursionError, AttributeError):
        return None
    return value


def _limit_at(expr: sp.Expr, subset: Sequence[sp.Symbol],
              order: Sequence[sp.Symbol]) -> sp.Expr | None:
    """The limit of ``expr`` as the ``subset`` coordinates vanish in ``order``, term by term.

    Terms of a sum that are finite there keep their value; only the singular ones go through
    SymPy's limit, which is far cheaper than the limit of the whole sum (and a sum's limit is
    the sum of its terms' limits where those exist).
    """
    zeros = {c: sp.Integer(0) for c in subset}
    total: sp.Expr = sp.Integer(0)
    for term in sp.Add.make_args(expr):
        value = term.xreplace(zeros)
        if _has_non_finite(value):
            value = _limit(term, order)
            if value is None and isinstance(term, sp.Mul):
                value = _factorwise(term, zeros, order)
            if value is None:  # terms may diverge only separately: sin(x)/x**3 - 1/x**2
                return _limit(expr, order) if term is not expr else None
        total += value
    return total


def _factorwise(term: sp.Mul, zeros: dict[sp.Symbol, sp.Expr],
                order: Sequence[sp.Symbol]) -> sp.Expr | None:
    """A product's value where only some factors are singular: the factors that do not depend
    on the vanishing coordinates, or are finite and non-zero at the tap, keep their value there
    (a Piecewise factor its selected branch); the others take their joint limit.

    So ``Piecewise((1, b > 0), (2, True)) * sin(a*x)/x`` is the Piecewise times ``a`` at
    ``x = 0``.
    """
    kept: list[sp.Expr] = []
    singular: list[sp.Expr] = []
    for factor in term.args:
        at = factor.xreplace(zeros)
        constant = not factor.free_symbols & set(zeros)
        if constant or (not _has_non_finite(at) and at.is_zero is False):
            kept.append(at)
        else:
            singular.append(factor)
    if not kept or not singular:
        return None
    limit = _limit(sp.Mul(*singular), order)
    return None if limit is None else sp.Mul(*kept) * limit


#: Rays through the origin along which a limit in 2 or 3 coordinates is also taken.
_RAYS = {2: ((1, 1), (1, -2)), 3: ((1, 1, 1), (1, -2, 3))}


def _agrees_on_rays(expr: sp.Expr, subset: Sequence[sp.Symbol], value: sp.Expr) -> bool:
    """Whether the limit along each ray of ``_RAYS`` is ``value`` too.

    Equal iterated limits do not prove that the limit exists (``x*y/(x**2 + y**2)`` has
    both iterated limits 0 but 1/2 along ``x = y``); rays catch such cases.
    """
    t = sp.Dummy("t", real=True)
    for ray in _RAYS[len(subset)]:
        along = expr.xreplace({c: d * t for c, d in zip(subset, ray, strict=True)})
        limit = _limit_at(along, (t,), (t,))
        if limit is None or sp.simplify(limit - value) != 0:
            return False
    return True


def removable_singularities(
    expr: sp.Expr, coords: Sequence[sp.Symbol], positive: Sequence[sp.Symbol] = ()
) -> list[Singularity]:
    """(coordinate subset, limit) for each subset whose vanishing makes ``expr`` singular.

    Larger subsets come first (the origin before the axes). A subset qualifies when setting
    its coordinates to 0 yields nan/zoo/oo and the two-sided iterated limit in both orders
    exists and agrees, also with the limits along two rays through the origin. The symbols in
    ``positive`` are taken as positive (their constraints say so). SymPy's limit has no bound
    of its own, so the search stops after ``LIMIT_WORK`` calls: a singularity left unresolved
    is then reported by the finite check when the kernel is sampled, never silently NaN.
    """
    found: list[Singularity] = []
    singular = [
        subset
        for size in range(len(coords), 0, -1)
        for subset in itertools.combinations(coords, size)
        if _has_non_finite(expr.xreplace({c: sp.Integer(0) for c in subset}))
    ]
    if not singular:
        return found
    from aclcore.symbolic.budget import Overtime, WorkBudget  # first use, not at import

    budget = WorkBudget(LIMIT_WORK)
    params = sorted(expr.free_symbols - set(coords), key=lambda s: s.name)
    try:
        with budget:
            for subset in singular:
                budget.check()
                limit = _limit_under(expr, subset, [p for p in params if p in positive])
                if limit is None and any(p not in positive for p in params):
                    # a limit that exists only for positive values of the other parameters
                    # (exp(-a/x**2) with a real a) holds where they are positive; elsewhere
                    # the Piecewise has no value (NaN), which the finite check reports
                    limit = _limit_under(expr, subset, params)
                    if limit is not None:
                        limit = sp.Piecewise((limit, sp.And(*[p > 0 for p in params
                                                             if p not in positive])))
                if limit is not None:
                    found.append((subset, limit))
    except Overtime:
        if not budget.exhausted:  # an enclosing budget (a whole document) is used up
            raise
    return found


def _limit_under(expr: sp.Expr, subset: Sequence[sp.Symbol],
                 positive: Sequence[sp.Symbol]) -> sp.Expr | None:
    """The limit at the zeros of ``subset`` with ``positive`` taken as positive, or None."""
    assume = {p: sp.Dummy(p.name, positive=True) for p in positive}
    work = expr.xreplace(assume) if assume else expr
    first = _limit_at(work, subset, subset)
    if first is None:
        return None
    if len(subset) > 1:
        second = _limit_at(work, subset, tuple(reversed(subset)))
        if second is None or sp.simplify(first - second) != 0:
            return None
        if not _agrees_on_rays(work, subset, first):
            return None
    return first.xreplace({d: p for p, d in assume.items()}) if assume else first


def _with_limits(expr: sp.Expr, coords: Sequence[sp.Symbol], positive: Sequence[sp.Symbol]
                 ) -> tuple[sp.Expr, list[Singularity]]:
    found = removable_singularities(expr, coords, positive)
    if not found:
        return expr, found
    pieces = [(limit, sp.And(*[sp.Eq(c, 0) for c in subset])) for subset, limit in found]
    return sp.Piecewise(*pieces, (expr, True)), found


#: Resolved expressions by (expression, coordinates, positive symbols): the plugin loader's
#: check and the compiler ask for the same ones, and a limit search can cost seconds.
_RESOLVED: dict[tuple[Any, ...], tuple[sp.Expr, list[Singularity]]] = {}
_RESOLVED_SIZE = 256


def clear_resolved() -> None:
    """Forget the resolved expressions (the next request searches the limits again)."""
    _RESOLVED.clear()


def resolve_singularities(
    expr: sp.Expr, coords: Sequence[sp.Symbol], positive: Sequence[sp.Symbol] = ()
) -> tuple[sp.Expr, list[Singularity]]:
    """``expr`` with the limits of its removable singularities written in, and the top-level ones.

    Every branch value of every Piecewise (innermost first) gets its own limits, so a branch's
    limit applies where its condition selects it; then the whole expression gets its limits
    (see :func:`removable_singularities`). Returns the explicit expression and the
    ``(coordinates, limit)`` pairs of the whole expression.
    """
    def branchwise(node: sp.Basic) -> sp.Basic:
        if not node.args or node.is_Atom:
            return node
        args = tuple(branchwise(a) for a in node.args)
        if isinstance(node, sp.Piecewise):
            pairs = [(_with_limits(value, coords, positive)[0], cond) for value, cond in args]
            return sp.Piecewise(*pairs, evaluate=False)
        return node.func(*args) if args != node.args else node

    key = (expr, tuple(coords), tuple(sorted(p.name for p in positive)))
    hit = _RESOLVED.get(key)
    if hit is not None:
        return hit[0], list(hit[1])
    inner = branchwise(expr) if expr.has(sp.Piecewise) else expr
    result = _with_limits(inner, coords, positive)
    if len(_RESOLVED) >= _RESOLVED_SIZE:
        _RESOLVED.clear()
    _RESOLVED[key] = result
    return result[0], list(result[1])
