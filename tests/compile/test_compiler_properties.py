"""Property test: random expression trees over the supported grammar compile faithfully.

Values are compared with SymPy's own numerics (mpmath precision), derivatives with
``sympy.diff``, and smooth expressions additionally pass ``torch.autograd.gradcheck``.
"""

from __future__ import annotations

import math

import pytest
import sympy as sp
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from aclcore.compile.compiler import compile_expr
from aclcore.symbolic.functions import BUILTIN_FUNCTIONS

x, y = sp.symbols("x y", real=True)
a = sp.Symbol("a", real=True)
POINTS = [(-1.3, 0.4), (0.7, -2.2), (2.1, 1.1)]
A_VALUE = 0.6180339887  # not a small rational: no exact ties with Max/Min constants

_UNARY = sorted(n for n, r in BUILTIN_FUNCTIONS.items() if r.arity == (1,) or n == "Heaviside")
_NON_SMOOTH = (sp.Abs, sp.sign, sp.Piecewise, sp.Max, sp.Min, sp.Heaviside, sp.floor,
               sp.ceiling)


def _into_domain(name: str, e: sp.Expr) -> sp.Expr:
    """Map any real ``e`` into the row's sample domain (so that every node is defined)."""
    lo, hi = BUILTIN_FUNCTIONS[name].domain
    if (lo, hi) == (-3.0, 3.0):
        return e
    return sp.Float(lo) + sp.Float(hi - lo) * (1 + sp.tanh(e)) / 2


leaves = st.one_of(
    st.sampled_from([x, y, a, x, a]),
    st.integers(-3, 3).map(sp.Integer),
    st.fractions(min_value=-3, max_value=3, max_denominator=7).map(sp.Rational),
    st.floats(-3, 3, allow_nan=False).map(lambda v: sp.Float(v)),
    st.sampled_from([sp.pi, sp.E, sp.sqrt(2)]),
)


def _extend(children: st.SearchStrategy[sp.Expr]) -> st.SearchStrategy[sp.Expr]:
    unary = st.tuples(st.sampled_from(_UNARY), children).map(
        lambda t: getattr(sp, t[0])(_into_domain(t[0], t[1]))
    )
    binary = st.tuples(st.sampled_from(["add", "mul", "div", "max", "min", "atan2"]),
                       children, children).map(_binary)
    power = st.tuples(children, st.sampled_from([2, 3, -1, sp.Rational(1, 2)])).map(
        lambda t: (1 + t[0] ** 2) ** t[1] if t[1] in (-1, sp.Rational(1, 2)) else t[0] ** t[1]
    )
    bessel = st.tuples(st.integers(0, 3), children).map(lambda t: sp.besselj(t[0], t[1]))
    piecewise = st.tuples(children, children, children).map(
        lambda t: sp.Piecewise((t[0], t[1] > 0), (t[2], True))
    )
    return st.one_of(unary, binary, power, bessel, piecewise)


def _binary(t: tuple[str, sp.Expr, sp.Expr]) -> sp.Expr:
    op, p, q = t
    if op == "add":
        return p + q
    if op == "mul":
        return p * q
    if op == "div":
        return p / (2 + sp.cos(q))
    if op == "max":
        return sp.Max(p, q)
    if op == "min":
        return sp.Min(p, q)
    return sp.atan2(p, 1 + q**2)


expressions = st.recursive(leaves, _extend, max_leaves=10)


def _ref(e: sp.Expr, px: float, py: float) -> complex:
    subs = {x: sp.Float(px, 30), y: sp.Float(py, 30), a: sp.Float(A_VALUE, 30)}
    return complex(sp.N(e.xreplace(subs), 30))


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisWarning")
@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(expressions)
def test_random_trees_match_sympy_values_and_derivatives(e: sp.Expr) -> None:
    assume(isinstance(e, sp.Expr) and e.has(a) and not e.has(sp.nan, sp.zoo, sp.oo))
    refs = []
    for px, py in POINTS:
        try:
            v = _ref(e, px, py)
        except (TypeError, ValueError):
            assume(False)
        assume(v.imag == 0 and math.isfinite(v.real) and abs(v.real) < 1e6)
        refs.append(v.real)
    d = sp.diff(e, a)
    assume(not d.has(sp.Derivative, sp.Subs, sp.DiracDelta))
    drefs = []
    for px, py in POINTS:
        dv = _ref(d, px, py)
        assume(dv.imag == 0 and math.isfinite(dv.real) and abs(dv.real) < 1e6)
        drefs.append(dv.real)

    fn = compile_expr(e, [x, y], [a])
    cx = torch.tensor([p[0] for p in POINTS], dtype=torch.float64)
    cy = torch.tensor([p[1] for p in POINTS], dtype=torch.float64)
    pa = torch.tensor(A_VALUE, dtype=torch.float64, requires_grad=True)
    out = fn((cx, cy), {"a": pa})
    (g,) = torch.autograd.grad(out.sum(), pa, allow_unused=True)
    for i, ref in enumerate(refs):
        assert abs(out[i].item() - ref) <= 1e-9 * max(1.0, abs(ref)), (e, POINTS[i])
    assert g is not None
    assert abs(g.item() - sum(drefs)) <= 1e-6 * max(1.0, sum(abs(v) for v in drefs)), e

    if not e.has(*_NON_SMOOTH):
        assert torch.autograd.gradcheck(
            lambda t: fn((cx, cy), {"a": t}), (pa.detach().clone().requires_grad_(),),
            atol=1e-6, rtol=1e-5,
        )
