"""Removable singularities of a kernel formula: where vanishing coordinates make it 0/0.

Private helper of :mod:`aclcore.compile.compiler`. ``sin(r)/r`` is NaN on the centre tap when
evaluated as written; its limit there is finite. The compiler substitutes such limits,
computed here by SymPy once per expression, so the kernel is finite with exact gradients.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import sympy as sp

__all__ = ["LIMIT_WORK", "removable_singularities"]

#: Python-level calls the search for removable singularities (SymPy limits) may make per
#: expression: about 10 s of SymPy work here (a 3-D Bessel family needs ~2 million). A count,
#: not a clock, so that a family compiles the same way on every machine and under any load.
LIMIT_WORK = 10_000_000

_NON_FINITE = (sp.nan, sp.zoo, sp.oo, -sp.oo)


def _has_non_finite(expr: sp.Basic) -> bool:
    return any(expr.has(v) for v in _NON_FINITE)


def _is_clean_limit(value: sp.Basic) -> bool:
    return not (_has_non_finite(value) or value.has(sp.Limit) or value.has(sp.AccumBounds))


def _limit(expr: sp.Expr, order: Sequence[sp.Symbol]) -> sp.Expr | None:
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
            if value is None:  # terms may diverge only separately: sin(x)/x**3 - 1/x**2
                return _limit(expr, order) if term is not expr else None
        total += value
    return total


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
    expr: sp.Expr, coords: Sequence[sp.Symbol]
) -> list[tuple[tuple[sp.Symbol, ...], sp.Expr]]:
    """(coordinate subset, limit) for each subset whose vanishing makes ``expr`` singular.

    Larger subsets come first (the origin before the axes). A subset qualifies when setting
    its coordinates to 0 yields nan/zoo/oo and the two-sided iterated limit in both orders
    exists and agrees, also with the limits along two rays through the origin. SymPy's limit
    has no bound of its own, so the search stops after ``LIMIT_WORK`` calls: a singularity left
    unresolved is then reported by the finite check when the kernel is sampled, never
    silently NaN.
    """
    found: list[tuple[tuple[sp.Symbol, ...], sp.Expr]] = []
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
    try:
        with budget:
            for subset in singular:
                budget.check()
                first = _limit_at(expr, subset, subset)
                if first is None:
                    continue
                if len(subset) > 1:
                    second = _limit_at(expr, subset, tuple(reversed(subset)))
                    if second is None or sp.simplify(first - second) != 0:
                        continue
                    if not _agrees_on_rays(expr, subset, first):
                        continue
                found.append((subset, first))
    except Overtime:
        if not budget.exhausted:  # an enclosing budget (a whole document) is used up
            raise
    return found
