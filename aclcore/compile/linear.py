"""Linear forms in grid features: ``expr = sum_i c_i(params) * m_i(coords)``.

Coordinates vary along the kernel axes and parameters along the kernel bank, so a
sub-expression that mixes them has the full bank shape, and every torch operation on it is a
pass over the whole bank. Many mixed sub-expressions of kernel formulas are sums of products
of a parameter-only factor and a coordinate-only factor: the carrier phase
``2*pi*(x*cos(theta) + y*sin(theta))/lambda + psi`` is ``c_1 x + c_2 y + c_3`` and the rotated
Gaussian exponent ``-(u**2 + gamma**2*v**2)/(2*sigma**2)`` is ``c_1 x**2 + c_2 x*y + c_3 y**2``.
:func:`split_linear` finds that form (distributing products and small integer powers over
sums, never expanding inside functions); the code generator then computes the coefficients
on parameter-sized tensors, the features ``m_i`` once per tap grid, and the form itself as one
matrix product (see :mod:`aclcore.compile.gridops`).

Pure SymPy: no torch here.
"""

from __future__ import annotations

from collections.abc import Callable

import sympy as sp

__all__ = ["MAX_POWER", "MAX_TERMS", "LinearForm", "split_linear"]

#: Most features (terms after collecting) a linear form may have.
MAX_TERMS = 16
#: Highest integer power of a sum of mixed terms that is expanded. Expanding a square keeps
#: the rounding of the result within a few ulps of the largest term; higher powers of sums
#: cancel more (binomial coefficients), so they stay as written.
MAX_POWER = 2

#: feature (coordinates only; ``1`` for the constant) -> coefficient (parameters only)
LinearForm = dict[sp.Expr, sp.Expr]


def split_linear(
    expr: sp.Expr,
    is_param_only: Callable[[sp.Expr], bool],
    is_grid_only: Callable[[sp.Expr], bool],
    max_terms: int = MAX_TERMS,
) -> LinearForm | None:
    """``expr`` as ``{feature: coefficient}`` with ``sum(c * m) == expr``, or ``None``.

    A sub-expression of the parameters only is a coefficient of the feature ``1``; one of the
    coordinates only is a feature (kept whole: ``x**2 + y**2`` is one feature); sums are
    merged, products and integer powers up to :data:`MAX_POWER` of decomposable factors are
    distributed. Anything else that mixes both (a function of a mixed argument, a negative or
    fractional power of a mixed base, a Piecewise) is not a linear form: ``None``. Features
    with structurally equal coefficients are summed into one feature. ``None`` too when more
    than ``max_terms`` features would be needed.
    """

    def rec(e: sp.Expr) -> LinearForm | None:
        if is_param_only(e):
            return {sp.S.One: e}
        if is_grid_only(e):
            return dict([_normal(e, sp.S.One)])
        if isinstance(e, sp.Add):
            acc: dict[sp.Expr, list[sp.Expr]] = {}
            for arg in e.args:
                part = rec(arg)
                if part is None:
                    return None
                for m, c in part.items():
                    acc.setdefault(m, []).append(c)
                if len(acc) > max_terms:
                    return None
            return {m: sp.Add(*cs) for m, cs in acc.items()}
        if isinstance(e, sp.Mul):
            prod: LinearForm | None = {sp.S.One: sp.S.One}
            for arg in e.args:
                part = rec(arg)
                if part is None or prod is None:
                    return None
                prod = _times(prod, part, max_terms)
            return prod
        if isinstance(e, sp.Pow) and e.exp.is_Integer and 2 <= int(e.exp) <= MAX_POWER:
            base = rec(e.base)
            if base is None:
                return None
            power: LinearForm | None = base
            for _ in range(int(e.exp) - 1):
                if power is None:
                    return None
                power = _times(power, base, max_terms)
            return power
        return None

    form = rec(expr)
    if form is None:
        return None
    return _merge_equal_coefficients({m: c for m, c in form.items() if c != 0})


def _times(a: LinearForm, b: LinearForm, max_terms: int) -> LinearForm | None:
    acc: dict[sp.Expr, list[sp.Expr]] = {}
    for ma, ca in a.items():
        for mb, cb in b.items():
            m, c = _normal(ma * mb, ca * cb)
            acc.setdefault(m, []).append(c)
            if len(acc) > max_terms:
                return None
    return {m: sp.Add(*cs) for m, cs in acc.items()}


def _normal(feature: sp.Expr, coeff: sp.Expr) -> tuple[sp.Expr, sp.Expr]:
    """The feature without its numeric factor and sign (``-2*x**2 - 2*y**2`` -> ``x**2 +
    y**2``, the factor moved to the coefficient), so that equal features meet."""
    k, m = feature.as_coeff_Mul()
    if m.could_extract_minus_sign():
        k, m = -k, -m
    return m, k * coeff


def _merge_equal_coefficients(form: LinearForm) -> LinearForm:
    by_coeff: dict[sp.Expr, list[sp.Expr]] = {}
    for m, c in form.items():
        by_coeff.setdefault(c, []).append(m)
    merged = {sp.Add(*ms): c for c, ms in by_coeff.items()}
    return {m: c for m, c in merged.items() if m != 0}
