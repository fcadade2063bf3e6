"""Every translation-table row and structural rule against SymPy/mpmath values and derivatives."""

from __future__ import annotations

import math

import pytest
import sympy as sp
import torch

from aclcore.compile.compiler import compile_expr
from aclcore.symbolic.functions import (
    BUILTIN_FUNCTIONS,
    BUILTIN_TABLE,
    STRUCTURAL_RULES,
    TorchFunction,
)

a, b = sp.symbols("a b", real=True)


def _call(row: TorchFunction) -> tuple[sp.Expr, list[sp.Symbol]]:
    """An application of the row's function to symbols (constants where required)."""
    if row.name == "besselj":
        return sp.besselj(2, a), [a]
    if row.name == "Heaviside":
        return sp.Heaviside(a), [a]
    if 2 in row.arity and 1 not in row.arity:
        return row.sympy(a, b), [a, b]
    return row.sympy(a), [a]


def _points(row: TorchFunction, n: int = 9) -> list[float]:
    lo, hi = row.domain
    # avoid exact integers for floor/ceiling/sign discontinuities
    return [lo + (hi - lo) * (i + 0.37) / n for i in range(n)]


def _evaluate(expr: sp.Expr, subs: dict[sp.Symbol, float]) -> float:
    return float(sp.N(expr.xreplace({k: sp.Float(v, 30) for k, v in subs.items()}), 25))


@pytest.mark.parametrize("name", sorted(BUILTIN_FUNCTIONS))
def test_row_matches_sympy_values_and_derivatives(name: str) -> None:
    row = BUILTIN_FUNCTIONS[name]
    expr, syms = _call(row)
    fn = compile_expr(expr, [], syms)
    pts = _points(row)
    # second argument (if any) sampled on a shifted set so that pairs vary
    values = [torch.tensor(pts, dtype=torch.float64, requires_grad=True)]
    if len(syms) == 2:
        values.append(torch.tensor(pts[::-1], dtype=torch.float64, requires_grad=True))
    out = fn((), {s.name: v for s, v in zip(syms, values, strict=True)})
    grads = torch.autograd.grad(out.sum(), values, allow_unused=True)
    for i in range(len(pts)):
        subs = {s: float(v.detach()[i]) for s, v in zip(syms, values, strict=True)}
        ref = _evaluate(expr, subs)
        assert out[i].item() == pytest.approx(ref, rel=1e-12, abs=1e-12), (name, subs)
        for s, g in zip(syms, grads, strict=True):
            dref = _evaluate(sp.diff(expr, s), subs) if row.differentiable else 0.0
            got = 0.0 if g is None else g[i].item()
            assert got == pytest.approx(dref, rel=1e-9, abs=1e-10), (name, s, subs)


def test_every_row_has_a_docs_lowering_and_sane_domain() -> None:
    for row in BUILTIN_FUNCTIONS.values():
        assert row.doc, row.name
        assert row.domain[0] < row.domain[1]
    assert len(STRUCTURAL_RULES) >= 8


def test_sinc_is_unnormalised_and_finite_at_zero() -> None:
    fn = compile_expr(sp.sinc(a), [], [a])
    x = torch.tensor([0.0, 1.0, math.pi, -2.5], dtype=torch.float64, requires_grad=True)
    out = fn((), {"a": x})
    expected = [1.0, math.sin(1.0), 0.0, math.sin(-2.5) / -2.5]
    assert out.tolist() == pytest.approx(expected, abs=1e-15)
    (g,) = torch.autograd.grad(out.sum(), x)
    assert g[0].item() == 0.0 and torch.isfinite(g).all()


# points on both sides of the Taylor branch's edge (|x| = 0.1) and far from it
SINC_POINTS = [0.0, 1e-9, 1e-4, 0.03, 0.0999, 0.1, 0.1001, 0.5, 2.0, -3.7, 25.0]


@pytest.mark.parametrize("normalised", [False, True], ids=["sinc", "sinc_pi"])
def test_sinc_derivatives_match_mpmath_to_third_order(normalised: bool) -> None:
    import mpmath

    from aclcore.symbolic.special import sinc, sinc_pi

    scale = mpmath.pi if normalised else mpmath.mpf(1)
    fn = sinc_pi if normalised else sinc

    def ref(t: float, order: int) -> float:
        f = lambda s: mpmath.sinc(scale * s)  # noqa: E731 - mpmath's sinc is sin(x)/x
        return float(mpmath.diff(f, mpmath.mpf(t), order))

    with mpmath.workdps(40):
        for t in SINC_POINTS:
            x = torch.tensor(t / (math.pi if normalised else 1.0), dtype=torch.float64,
                             requires_grad=True)
            value = fn(x)
            d1, = torch.autograd.grad(value, x, create_graph=True)
            d2, = torch.autograd.grad(d1, x, create_graph=True)
            d3, = torch.autograd.grad(d2, x)
            for order, got in enumerate((value, d1, d2, d3)):
                want = ref(float(x.detach()), order)
                assert got.item() == pytest.approx(want, rel=1e-9, abs=1e-12), (t, order)


def test_sinc_pi_is_torch_sinc_with_gradients_that_work_under_torch_func() -> None:
    from aclcore.symbolic.special import sinc_pi

    x = torch.tensor([0.0, 1e-3, 0.02, 0.05, 0.7, -2.2], dtype=torch.float64)
    torch.testing.assert_close(sinc_pi(x), torch.sinc(x), rtol=3e-16, atol=0)
    assert torch.autograd.gradcheck(sinc_pi, (x.clone().requires_grad_(),))
    assert torch.autograd.gradgradcheck(sinc_pi, (x.clone().requires_grad_(),))
    per_point = torch.func.vmap(torch.func.grad(sinc_pi))(x)
    xs = x.clone().requires_grad_()
    (expected,) = torch.autograd.grad(sinc_pi(xs).sum(), xs)
    torch.testing.assert_close(per_point, expected, rtol=0, atol=0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_sinc_pi_values_match_torch_sinc_to_an_ulp_including_special_points(
        dtype: torch.dtype) -> None:
    # sinc_pi computes torch.sinc's sin(pi u)/(pi u) through the vectorised sin (even: on
    # |pi u| floored at the smallest normal number, so 1 at 0 without a mask)
    from aclcore.symbolic.special import sinc_pi

    tiny = torch.finfo(dtype).tiny
    special = [0.0, -0.0, tiny, -tiny, tiny / 8, 1e-30, -1e-30, 1.0, -3.0, 0.5, 1e30,
               float("inf"), float("-inf"), float("nan")]
    u = torch.cat([torch.linspace(-60, 60, 20001, dtype=torch.float64),
                   torch.tensor(special, dtype=torch.float64)]).to(dtype)
    got, want = sinc_pi(u), torch.sinc(u)
    assert torch.equal(torch.isnan(got), torch.isnan(want))  # inf and nan give nan
    assert (got[u == 0] == 1).all() and (got[u.abs() <= 1e-30] == 1).all()
    ulp = torch.finfo(dtype).eps
    finite = torch.isfinite(want)
    assert float((got - want)[finite].abs().max()) <= 2 * ulp


@pytest.mark.parametrize(("h0", "expected"), [(None, 0.5), (sp.Integer(1), 1.0), (sp.S(0), 0.0)])
def test_heaviside_at_zero_follows_sympy(h0: sp.Basic | None, expected: float) -> None:
    expr = sp.Heaviside(a) if h0 is None else sp.Heaviside(a, h0)
    assert float(expr.subs(a, 0)) == expected
    fn = compile_expr(expr, [], [a])
    out = fn((), {"a": torch.tensor([-1.0, 0.0, 2.0], dtype=torch.float64)})
    assert out.tolist() == [0.0, expected, 1.0]


def test_max_min_with_constants_and_tensors() -> None:
    expr = sp.Max(a, 0.5) + sp.Min(a, b, -1) + sp.Max(a, b)
    fn = compile_expr(expr, [], [a, b])
    xa = torch.tensor([-2.0, 0.0, 3.0], dtype=torch.float64)
    xb = torch.tensor([1.0, -4.0, 2.0], dtype=torch.float64)
    out = fn((), {"a": xa, "b": xb})
    for i in range(3):
        ref = float(expr.subs({a: float(xa[i]), b: float(xb[i])}))
        assert out[i].item() == pytest.approx(ref)


def test_irrational_and_rational_constants_are_folded_exactly() -> None:
    expr = sp.sqrt(2) * a + sp.Rational(1, 3) + sp.pi * sp.E
    fn = compile_expr(expr, [], [a])
    out = fn((), {"a": torch.tensor(1.0, dtype=torch.float64)})
    assert out.item() == pytest.approx(float(sp.N(expr.subs(a, 1), 30)), rel=1e-15)
    x32 = fn((), {"a": torch.tensor(1.0, dtype=torch.float32)})
    assert x32.dtype == torch.float32


@pytest.mark.parametrize("n", [1, 2, 3, 5, -1, -2, -3])
def test_integer_powers(n: int) -> None:
    fn = compile_expr(a**n, [], [a])
    x = torch.tensor([0.5, -1.5, 2.0], dtype=torch.float64, requires_grad=True)
    out = fn((), {"a": x})
    assert out.tolist() == pytest.approx([v**n for v in (0.5, -1.5, 2.0)], rel=1e-14)
    (g,) = torch.autograd.grad(out.sum(), x)
    assert g.tolist() == pytest.approx([n * v ** (n - 1) for v in (0.5, -1.5, 2.0)], rel=1e-13)


def test_positive_integer_power_has_exact_zero_gradient_at_zero() -> None:
    fn = compile_expr(a**3 + a**2, [], [a])
    x = torch.tensor([0.0], dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(fn((), {"a": x}).sum(), x)
    assert g.item() == 0.0


def test_fractional_and_symbolic_powers() -> None:
    expr = sp.sqrt(a) + 1 / sp.sqrt(a) + a**sp.Rational(3, 2) + a**b + 2**a
    fn = compile_expr(expr, [], [a, b])
    out = fn((), {"a": torch.tensor(1.7, dtype=torch.float64),
                  "b": torch.tensor(0.3, dtype=torch.float64)})
    assert out.item() == pytest.approx(float(expr.subs({a: 1.7, b: 0.3})), rel=1e-14)


def test_unsupported_parts_are_all_reported() -> None:
    f = sp.Function("mystery")
    expr = f(a) + sp.gamma(a) + sp.I * a + sp.besselj(sp.Rational(1, 2), a) + sp.besselj(b, a)
    problems = BUILTIN_TABLE.unsupported_parts(expr)
    text = "\n".join(problems)
    assert "mystery" in text
    assert "gamma" in text
    assert "imaginary" in text
    assert "integer order" in text
    assert "must be a numeric constant" in text


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_besselj_is_exact_at_zero_and_has_exact_parity(dtype: torch.dtype) -> None:
    # Heaviside(besselj(1, 0)) is 1/2 in SymPy: J_n(0) must be exactly 0 (n >= 1), not 1e-16
    from aclcore.symbolic.special import besselj

    zero = torch.zeros(1, dtype=dtype)
    xs = torch.linspace(0.01, 24.9, 97, dtype=dtype)
    for n in range(-20, 21):
        assert besselj(n, zero).item() == (1.0 if n == 0 else 0.0), n
        assert torch.equal(besselj(n, -xs), (-1) ** (n % 2) * besselj(n, xs)), n


def test_besselj_accepts_an_integral_float_order_and_refuses_others() -> None:
    from aclcore import FamilyError, KernelFamily, Param, compile_family
    from aclcore.nn.grid import kernel_grid

    grid = kernel_grid(7, dtype=torch.float64)
    akp = {"a": torch.tensor(1.3, dtype=torch.float64)}
    as_float = compile_family(KernelFamily("bf", "besselj(2.0, a*x)", ("x",), [Param("a", 1.0)]))
    as_int = compile_family(KernelFamily("bi", "besselj(2, a*x)", ("x",), [Param("a", 1.0)]))
    assert torch.equal(as_float(grid, akp), as_int(grid, akp))
    for order in ("1.5", "21.0"):
        with pytest.raises(FamilyError, match="besselj needs an integer order"):
            KernelFamily("bb", f"besselj({order}, a*x)", ("x",), [Param("a", 1.0)])
