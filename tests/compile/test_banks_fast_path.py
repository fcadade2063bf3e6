"""The code for large banks (linear forms, folded scales, sin for cos, exp2 for exp) and the
grid cache.

The generated function has a body for large banks and one as written for small banks
(:data:`aclcore.compile.gridops.WIDE_BANK`); both must give the same values and gradients, on
every layout of the inputs. Grid-only values are cached per tap grid outside the autograd
graph; the cache must never serve stale or graph-attached values.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sympy as sp
import torch

from aclcore import KernelFamily, Param, compile_family
from aclcore.compile import gridops
from aclcore.compile.compiler import compile_expr
from aclcore.compile.linear import split_linear
from aclcore.nn.functional import sample_kernels
from aclcore.nn.grid import kernel_grid

x, y, z = sp.symbols("x y z", real=True)
sigma, gamma, lam, theta, psi, a, b = sp.symbols("sigma gamma lambda theta psi a b", real=True)
u = x * sp.cos(theta) + y * sp.sin(theta)
v = -x * sp.sin(theta) + y * sp.cos(theta)
F64 = torch.float64

EXPRS = {
    "gabor": sp.exp(-(u**2 + gamma**2 * v**2) / (2 * sigma**2))
    * sp.cos(2 * sp.pi * u / lam + psi),
    "log": (1 - (x**2 + y**2) / (2 * sigma**2)) * sp.exp(-(x**2 + y**2) / (2 * sigma**2)),
    "dog": sp.exp(-(x**2 + y**2) / (2 * sigma**2)) / sigma**2
    - sp.exp(-(x**2 + y**2) / (2 * gamma**2 * sigma**2)) / (gamma**2 * sigma**2),
    "d1": -u * sp.exp(-(x**2 + y**2) / (2 * sigma**2)) / sigma,
    "sinc": 2 * gamma * sp.sinc(2 * sp.pi * gamma * x) - 2 * sigma * sp.sinc(2 * sp.pi * sigma * y),
    "shifted": sp.exp(-((x - a) ** 2 + (y - b) ** 2) / sigma**2) + a * x * y - b,
    "root": sp.sqrt((x - a) ** 2 + y**2 + sigma**2) * sp.cos(theta * x),
}
VALUES = {"sigma": 1.3, "gamma": 0.7, "lambda": 3.1, "theta": 0.4, "psi": -0.6, "a": 0.5,
          "b": -1.0}


@pytest.fixture
def wide_bank() -> Iterator[None]:
    """Every bank takes the body for large banks."""
    saved = gridops.WIDE_BANK
    gridops.WIDE_BANK = 0
    try:
        yield
    finally:
        gridops.WIDE_BANK = saved


def _params(names: list[str], shape: tuple[int, ...]) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    return {n: (VALUES[n] * (1 + 0.2 * torch.rand(shape, generator=gen, dtype=F64)))
            .requires_grad_() for n in names}


def _run(expr: sp.Expr, coords: tuple[torch.Tensor, ...], params: dict[str, torch.Tensor],
         wide: bool) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
    syms = sorted(expr.free_symbols - {x, y}, key=str)
    fn = compile_expr(expr, [x, y], syms)
    saved = gridops.WIDE_BANK
    gridops.WIDE_BANK = 0 if wide else 2**62
    try:
        out = fn(coords, params)
    finally:
        gridops.WIDE_BANK = saved
    upstream = torch.linspace(-1, 1, out.numel(), dtype=out.dtype).reshape(out.shape)
    grads = torch.autograd.grad(out, list(params.values()), upstream, allow_unused=True)
    return out, tuple(torch.zeros(()) if g is None else g for g in grads)


LAYOUTS = {
    "bank": (lambda: kernel_grid((5, 7), dtype=F64), (3, 2, 1, 1)),
    "flat meshgrid": (lambda: tuple(t.expand(5, 7).reshape(35)
                                    for t in kernel_grid((5, 7), dtype=F64)), (4, 1)),
    "params along the taps": (lambda: kernel_grid((5, 7), dtype=F64), (5, 7)),
    "scalar coordinates": (lambda: (torch.tensor(0.5, dtype=F64), torch.tensor(-1.5, dtype=F64)),
                           (3,)),
}


@pytest.mark.parametrize("name", sorted(EXPRS))
@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_large_and_small_bank_bodies_agree(name: str, layout: str) -> None:
    expr = EXPRS[name]
    make, shape = LAYOUTS[layout]
    names = sorted(str(s) for s in expr.free_symbols - {x, y})
    params = _params(names, shape)
    wide, wide_grads = _run(expr, make(), params, wide=True)
    narrow, narrow_grads = _run(expr, make(), params, wide=False)
    torch.testing.assert_close(wide, narrow, rtol=1e-12, atol=1e-12)
    for g, h in zip(wide_grads, narrow_grads, strict=True):
        torch.testing.assert_close(g, h, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("dtype", [torch.float32, F64], ids=["float32", "float64"])
def test_exp_of_a_form_goes_through_exp2_within_rounding_of_its_exponent(
        dtype: torch.dtype, wide_bank: None) -> None:
    # exp(a) is computed as exp2(a / log 2) (the 1/log 2 in the form's coefficients): the
    # result is exp of the exponent as rounded, within a few ulps of its largest term, so the
    # relative error is at most about that term's size times eps, over exponents from deep
    # underflow to near overflow, and the gradients too
    expr = sp.exp(a * x - b * y**2)
    fn = compile_family(KernelFamily("e2", expr, (x, y), [Param(a, 1.0), Param(b, 1.0)]))
    assert "torch.exp2(" in fn.source
    limit = 80.0 if dtype == torch.float32 else 700.0  # exp(limit) is finite
    xs = torch.linspace(-1, 1, 41, dtype=dtype).reshape(1, 41)
    ys = torch.tensor([0.0, 0.5, 1.0], dtype=dtype).reshape(3, 1)
    params = {"a": torch.tensor(limit, dtype=dtype, requires_grad=True),
              "b": torch.tensor(limit / 4, dtype=dtype, requires_grad=True)}
    out = fn((xs, ys), params)
    ga, gb = torch.autograd.grad(out.sum(), [params["a"], params["b"]])
    out = out.detach()
    ref = sp.lambdify((x, y, a, b), expr, "mpmath")
    eps = torch.finfo(dtype).eps
    want_a = want_b = 0.0
    for i, yv in enumerate(ys.flatten().tolist()):
        for j, xv in enumerate(xs.flatten().tolist()):
            exact = float(ref(xv, yv, limit, limit / 4))
            terms = abs(limit * xv) + limit / 4 * yv**2
            got = float(out[i, j])
            if exact >= torch.finfo(dtype).tiny:  # normal numbers: relative error
                assert abs(got - exact) <= 4 * eps * (1 + terms) * exact, (xv, yv)
            want_a += xv * exact
            want_b -= yv**2 * exact
    assert float(ga) == pytest.approx(want_a, rel=8 * eps * (1 + limit))
    assert float(gb) == pytest.approx(want_b, rel=8 * eps * (1 + limit))


def test_a_root_of_a_sum_of_squares_is_exactly_zero_on_its_tap(wide_bank: None) -> None:
    # the root's argument is computed as written (never expanded into x**2 - 2*a*x + a**2,
    # which rounds to a tiny negative and gives NaN): 0 on the tap x = a, y = 0
    fam = KernelFamily("cone", sp.sqrt((x - a) ** 2 + y**2) * b, (x, y),
                       [Param(a, 1.0), Param(b, 1.0)])
    params = {"a": torch.full((2, 1), 1.0, dtype=F64, requires_grad=True),
              "b": torch.full((2, 1), 3.0, dtype=F64, requires_grad=True)}
    bank = sample_kernels(fam, params, 5, dtype=F64)
    assert bank[0, 0, 2, 3].item() == 0.0  # x = 1, y = 0
    bank.sum().backward()
    assert all(bool(torch.isfinite(p.grad).all()) for p in params.values())  # type: ignore[arg-type]


def test_mixed_dtypes_promote_like_torch(wide_bank: None) -> None:
    fam = KernelFamily("g", EXPRS["gabor"], (x, y),
                       [Param(s, 1.0) for s in (sigma, gamma, lam, theta, psi)])
    coords = kernel_grid((5, 5))  # float32
    params = {n: torch.full((2, 1, 1, 1), VALUES[n], dtype=F64) for n in
              ("sigma", "gamma", "lambda", "theta", "psi")}
    out = compile_family(fam)(coords, params)
    assert out.dtype == F64
    ref = compile_family(fam)(tuple(c.double() for c in coords), params)
    torch.testing.assert_close(out, ref)


def test_split_linear_finds_the_forms_of_the_classic_formulas() -> None:
    def param_only(e: sp.Expr) -> bool:
        return not (e.free_symbols & {x, y})

    def grid_only(e: sp.Expr) -> bool:
        return not (e.free_symbols - {x, y})

    phase = split_linear(2 * sp.pi * u / lam + psi, param_only, grid_only)
    assert phase is not None and set(phase) == {sp.S.One, x, y}
    assert sp.simplify(sum(c * m for m, c in phase.items()) - (2 * sp.pi * u / lam + psi)) == 0
    quadratic = split_linear(-(u**2 + gamma**2 * v**2) / (2 * sigma**2), param_only, grid_only)
    assert quadratic is not None and set(quadratic) == {x**2, y**2, x * y}
    # one feature for x**2 + y**2 (kept whole), whatever its sign and factor
    assert split_linear(-(x**2 + y**2) / (2 * sigma**2), param_only, grid_only) == {
        x**2 + y**2: -1 / (2 * sigma**2)}
    assert split_linear(sp.exp(u), param_only, grid_only) is None  # a function of a mixed sum
    assert split_linear((x + a) ** 3, param_only, grid_only) is None  # cube: not expanded
    assert split_linear(sp.Add(*(a**i * x**i for i in range(1, 20))), param_only, grid_only,
                        max_terms=8) is None


# -- the grid cache -----------------------------------------------------------------------------
def _gauss() -> KernelFamily:
    return KernelFamily("gc", sp.exp(-(x**2 + y**2) / (2 * sigma**2)) * sp.cos(a * x), (x, y),
                        [Param(sigma, 1.0, "positive"), Param(a, 1.0)])


def test_cached_grid_values_give_the_uncached_result_bit_for_bit() -> None:
    c = compile_family(_gauss())
    grid = kernel_grid((6, 5))
    params = {"sigma": torch.tensor([[[[1.3]]]]), "a": torch.tensor([[[[0.7]]]])}
    first, second = c(grid, params), c(grid, params)  # the second call reads the cache
    plain = c.function(grid, params)  # computes the grid block itself
    assert torch.equal(first, plain) and torch.equal(second, plain)


def test_a_grid_written_in_place_is_not_served_stale() -> None:
    c = compile_family(_gauss())
    grid = tuple(t.clone() for t in kernel_grid((5, 5)))
    params = {"sigma": torch.tensor(1.3), "a": torch.tensor(0.7)}
    c(grid, params)
    with torch.no_grad():
        grid[0].mul_(2.0)
    torch.testing.assert_close(c(grid, params), c.function(grid, params), rtol=0, atol=0)
    assert not torch.equal(c(grid, params), c(kernel_grid((5, 5)), params))


def test_coordinates_that_require_gradients_get_them() -> None:
    c = compile_family(_gauss())
    xs, ys = (t.clone().requires_grad_() for t in kernel_grid((5, 5), dtype=F64))
    params = {"sigma": torch.tensor(1.3, dtype=F64), "a": torch.tensor(0.7, dtype=F64)}
    out = c((xs, ys), params)
    gx, gy = torch.autograd.grad(out.sum(), (xs, ys))
    expr = _gauss().sympy_expr.subs({sigma: 1.3, a: 0.7})
    dfdx = sp.lambdify((x, y), sp.diff(expr, x))
    want = sum(dfdx(float(xv), float(yv)) for xv in xs.detach().flatten()
               for yv in ys.detach().flatten())
    assert gx.sum().item() == pytest.approx(want, rel=1e-12)
    assert gy.shape == ys.shape


def test_a_grid_cached_under_inference_mode_serves_training_later() -> None:
    fam = KernelFamily("gi", EXPRS["gabor"], (x, y),
                       [Param(s, 1.0) for s in (sigma, gamma, lam, theta, psi)])
    params = {n: torch.full((64, 64), VALUES[n]) for n in ("sigma", "gamma", "lambda", "theta",
                                                             "psi")}
    with torch.inference_mode():
        sample_kernels(fam, params, 7)  # fills the grid cache (large bank: linear forms)
    leaves = {n: t.clone().requires_grad_() for n, t in params.items()}
    sample_kernels(fam, leaves, 7).sum().backward()
    assert all(t.grad is not None for t in leaves.values())


def test_vmap_over_the_akps_of_a_large_bank(wide_bank: None) -> None:
    c = compile_family(_gauss())
    grid = kernel_grid((5, 5))
    sigmas = torch.tensor([1.0, 1.5, 2.0])
    batched = torch.func.vmap(lambda s: c(grid, {"sigma": s, "a": torch.tensor(0.3)},
                                          check_finite=False))(sigmas)
    for i, s in enumerate(sigmas):
        torch.testing.assert_close(batched[i], c(grid, {"sigma": s, "a": torch.tensor(0.3)}))


def test_reduced_precision_matmul_settings_do_not_change_the_bank(wide_bank: None) -> None:
    # float32 "high" lets matrix products round to TF32/bfloat16: the forms then take the
    # plain sum of products, so the bank is the same as with "highest"
    fam = KernelFamily("gp", EXPRS["gabor"], (x, y),
                       [Param(s, 1.0) for s in (sigma, gamma, lam, theta, psi)])
    params = {n: torch.full((4, 3, 1, 1), VALUES[n]) for n in ("sigma", "gamma", "lambda",
                                                               "theta", "psi")}
    grid = kernel_grid((7, 7))
    exact = compile_family(fam)(grid, params)
    before = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("medium")
    try:
        relaxed = compile_family(fam)(grid, params)
    finally:
        torch.set_float32_matmul_precision(before)
    torch.testing.assert_close(relaxed, exact, rtol=1e-6, atol=1e-6)
