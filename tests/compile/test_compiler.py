"""compile_family: numerics vs SymPy, gradients, safety, caching, pickling, torch.compile."""

from __future__ import annotations

import math
import pickle
import traceback
from collections import Counter
from typing import Any

import pytest
import sympy as sp
import torch
from torch.overrides import TorchFunctionMode

from aclcore import (
    CompileError,
    ConfigError,
    KernelFamily,
    NonFiniteKernelError,
    Param,
    compile_family,
)
from aclcore.compile.compiler import clear_cache, compile_expr
from aclcore.nn.grid import kernel_grid

x, y, z = sp.symbols("x y z", real=True)
sigma, lam, theta, psi, a = sp.symbols("sigma lambda theta psi a", real=True)
r = sp.sqrt(x**2 + y**2)


def gabor() -> KernelFamily:
    u = x * sp.cos(theta) + y * sp.sin(theta)
    return KernelFamily(
        "gabor",
        sp.exp(-(x**2 + y**2) / (2 * sigma**2)) * sp.cos(2 * sp.pi * u / lam + psi),
        (x, y),
        [Param(sigma, (0.8, 2.5), "positive"), Param(lam, (2.0, 8.0), "positive"),
         Param(theta, (0.0, 3.14), "angle"), Param(psi, (-3.14, 3.14))],
    )


def _sympy_grid(fam: KernelFamily, values: dict[str, float], size: int) -> torch.Tensor:
    """Independent reference: SymPy evaluation on the grid convention (y up)."""
    e = fam.substitute(values)
    out = torch.empty(size, size, dtype=torch.float64)
    offs = [i - (size - 1) / 2 for i in range(size)]
    for row in range(size):
        for col in range(size):
            out[row, col] = float(e.subs({x: offs[col], y: offs[size - 1 - row]}).evalf(30))
    return out


@pytest.mark.parametrize("size", [3, 4, 7])
def test_gabor_matches_sympy_on_the_grid(size: int, dtype: torch.dtype) -> None:
    fam = gabor()
    values = {"sigma": 1.3, "lambda": 3.7, "theta": 0.6, "psi": -0.4}
    c = compile_family(fam)
    out = c(kernel_grid((size, size), dtype=dtype), {k: torch.tensor(v, dtype=dtype)
                                                     for k, v in values.items()})
    assert out.dtype == dtype and out.shape == (size, size)
    tol = 1e-12 if dtype == torch.float64 else 1e-6
    torch.testing.assert_close(out.double(), _sympy_grid(fam, values, size), atol=tol, rtol=tol)


def test_gabor_gradients_match_sympy_diff() -> None:
    fam = gabor()
    values = {"sigma": 1.1, "lambda": 4.2, "theta": 0.3, "psi": 0.2}
    params = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True)
              for k, v in values.items()}
    grid = kernel_grid((5, 5), dtype=torch.float64)
    out = compile_family(fam)(grid, params)
    grads = torch.autograd.grad(out.sum(), list(params.values()))
    offs = [i - 2.0 for i in range(5)]
    for (name, _), g in zip(params.items(), grads, strict=True):
        d = sp.diff(fam.sympy_expr, sp.Symbol(name, real=True))
        d = d.subs({sp.Symbol(k, real=True): v for k, v in values.items()})
        ref = sum(float(d.subs({x: u, y: v})) for u in offs for v in offs)
        assert g.item() == pytest.approx(ref, rel=1e-10, abs=1e-12), name


def test_gradcheck_float64_broadcast_bank() -> None:
    c = compile_family(gabor())
    grid = kernel_grid((3, 3), dtype=torch.float64)
    g = torch.Generator().manual_seed(0)
    raw = [torch.rand(2, 1, 1, 1, generator=g, dtype=torch.float64) + 1 for _ in range(4)]
    names = ["sigma", "lambda", "theta", "psi"]

    def f(*ps: torch.Tensor) -> torch.Tensor:
        return c(grid, dict(zip(names, ps, strict=True)))

    assert torch.autograd.gradcheck(f, [p.requires_grad_() for p in raw])


def test_broadcasting_to_a_bank_and_constant_along() -> None:
    c = compile_family(gabor())
    grid = kernel_grid((5, 5))
    params = {"sigma": torch.ones(4, 3, 1, 1), "lambda": 3.0, "theta": 0.0, "psi": 0.0}
    assert c(grid, params).shape == (4, 3, 5, 5)
    ridge = KernelFamily("ridge", sp.exp(-x**2 / sigma), (x, y), [Param(sigma, 1.0, "positive")],
                         constant_along=("y",))
    out = compile_family(ridge)(kernel_grid((3, 5)), {"sigma": torch.tensor(2.0)})
    assert out.shape == (3, 5)
    assert torch.equal(out[0], out[2])


def test_every_parameter_stays_in_the_graph() -> None:
    # 'a' only enters a condition: it must get a zero gradient, never None
    fam = KernelFamily("cond", sp.Piecewise((sp.exp(-x**2 / sigma), x < a), (0, True)), (x,),
                       [Param(sigma, 1.0, "positive"), Param(a, 0.5)])
    ps = {"sigma": torch.tensor(1.5, requires_grad=True),
          "a": torch.tensor(0.5, requires_grad=True)}
    out = compile_family(fam)(kernel_grid(5), ps)
    gs, ga = torch.autograd.grad(out.sum(), [ps["sigma"], ps["a"]])
    assert ga is not None and ga.item() == 0.0
    assert gs.item() != 0.0


def test_piecewise_unused_branch_leaks_no_nan() -> None:
    # log(x)/x is NaN/-inf for x <= 0, but that branch is only used for x > 0
    expr = sp.Piecewise((sp.log(x) / x * sigma, x > 0), (sigma * sp.exp(x), True))
    fam = KernelFamily("pw", expr, (x,), [Param(sigma, 1.0, "positive")])
    s = torch.tensor(1.3, dtype=torch.float64, requires_grad=True)
    grid = kernel_grid(5, dtype=torch.float64)
    out = compile_family(fam)(grid, {"sigma": s})
    assert torch.isfinite(out).all()
    (g,) = torch.autograd.grad(out.sum(), s)
    ref = sum(float(expr.diff(sigma).subs({x: v, sigma: 1.3})) for v in (-2, -1, 0, 1, 2))
    assert g.item() == pytest.approx(ref, rel=1e-12)


def test_piecewise_without_true_branch_is_reported() -> None:
    fam = KernelFamily("gap", sp.Piecewise((sigma * x, x > 0)), (x,), [Param(sigma, 1.0)])
    with pytest.raises(NonFiniteKernelError, match=r"'gap'.*x=-2"):
        compile_family(fam)(kernel_grid(5), {"sigma": 1.0})


@pytest.mark.parametrize(
    ("expr", "coords", "centre"),
    [
        (sp.sin(r / sigma) / (r / sigma), (x, y), 1.0),
        (sp.besselj(1, r / sigma) / (r / sigma), (x, y), 0.5),
        ((1 - sp.cos(x * sigma)) / x**2, (x,), None),  # limit sigma**2/2
        (sp.sin(x / sigma) * sp.sin(y / sigma) / (x * y), (x, y), None),
        ((1 - sp.exp(-(r**2) / sigma**2)) / r**2 + sp.sin(z) / z, (x, y, z), None),
    ],
)
def test_removable_singularities_give_limits_and_finite_gradients(
    expr: sp.Expr, coords: tuple[sp.Symbol, ...], centre: float | None
) -> None:
    fam = KernelFamily("sing", expr, coords, [Param(sigma, 1.0, "positive")])
    c = compile_family(fam)
    assert c.singular_sets
    s = torch.tensor(1.7, dtype=torch.float64, requires_grad=True)
    grid = kernel_grid((5,) * len(coords), dtype=torch.float64)
    out = c(grid, {"sigma": s})
    (g,) = torch.autograd.grad(out.sum(), s)
    assert torch.isfinite(out).all() and torch.isfinite(g).all()
    # every tap equals the limit of the formula there (checked with SymPy at the tap)
    e = expr.subs(sigma, 1.7)
    flat = out.reshape(-1)
    full = torch.broadcast_tensors(*grid)
    for i in range(flat.numel()):
        point = {c_: float(t.reshape(-1)[i]) for c_, t in zip(coords, full, strict=True)}
        ref = e
        for c_, v in point.items():
            ref = sp.limit(ref, c_, v) if v == 0 else ref.subs(c_, v)
        assert flat[i].item() == pytest.approx(float(ref), rel=1e-9, abs=1e-12), point
    if centre is not None:
        assert flat[flat.numel() // 2].item() == pytest.approx(centre, rel=1e-12)
    # the gradient matches finite differences
    assert torch.autograd.gradcheck(lambda t: c(grid, {"sigma": t}), (s.detach().requires_grad_(),))


def test_a_limit_search_past_its_work_bound_is_reported_not_silently_nan(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # SymPy's limit has no bound of its own; past LIMIT_WORK the search gives up, and the
    # unresolved 0/0 on the centre tap is reported by the finite check (never a silent NaN)
    import aclcore.compile.singular as singular

    monkeypatch.setattr(singular, "LIMIT_WORK", 0)
    expr = sp.sin(x * sigma * 3) / (x * 7)  # an expression no other test compiles (cache)
    fam = KernelFamily("slow_limit", expr, (x,), [Param(sigma, 1.0, "positive")])
    c = compile_family(fam)
    assert not c.singular_sets
    with pytest.raises(NonFiniteKernelError, match=r"slow_limit.*x=0"):
        c(kernel_grid(3), {"sigma": torch.tensor(2.5)})
    monkeypatch.undo()
    clear_cache()
    assert compile_family(fam).singular_sets  # with time, the limit 3*sigma/7 is found


def test_a_one_sided_limit_is_no_removable_singularity() -> None:
    # Piecewise without an otherwise branch is undefined (NaN in SymPy) where no condition
    # holds, x = 0 included: its right-hand limit there must not be substituted
    fam = KernelFamily("half", sp.Piecewise((sigma * x, x > 0)), (x,),
                       [Param(sigma, 1.0, "positive")])
    c = compile_family(fam)
    assert not c.singular_sets
    out = c(kernel_grid(5), {"sigma": torch.tensor(1.0)}, check_finite=False)
    assert torch.isnan(out[:3]).all() and out[3:].tolist() == [1.0, 2.0]
    with pytest.raises(NonFiniteKernelError, match=r"x=-2.*without an otherwise branch"):
        c(kernel_grid(5), {"sigma": torch.tensor(1.0)})
    # a jump is not removable either: the two one-sided limits differ
    jump = KernelFamily("jump", sigma * sp.Abs(x) / x, (x,), [Param(sigma, 1.0, "positive")])
    assert not compile_family(jump).singular_sets


@pytest.mark.parametrize("expr", [
    sp.exp(-sp.sqrt(x**2 / sigma**2 + y**2 / a**2)),  # an anisotropic cone: 0 at the centre
    sp.sqrt(x**2 + (sigma * y) ** 2) * a,
    (x**2 + (sigma * y) ** 2) ** sp.Rational(1, 3) * a,
    sp.Abs(sigma * x + a * y) ** sp.Rational(3, 2),
])
def test_roots_reaching_zero_on_a_tap_have_finite_parameter_gradients(expr: sp.Expr) -> None:
    # d sqrt(u)/d sigma = u'/(2 sqrt(u)) is inf * 0 = NaN where u = 0: the compiled root
    # gives the one-sided derivative 0 there, elsewhere the exact gradient (gradcheck)
    fam = KernelFamily("root", expr, (x, y), [Param(sigma, 1.0, "positive"), Param(a, 2.0)])
    c = compile_family(fam)
    grid = kernel_grid((5, 5), dtype=torch.float64)
    s = torch.tensor(1.3, dtype=torch.float64, requires_grad=True)
    b = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    out = c(grid, {"sigma": s, "a": b})
    grads = torch.autograd.grad(out.sum(), (s, b))
    assert all(torch.isfinite(g) for g in grads)
    assert torch.autograd.gradcheck(lambda u, v: c(grid, {"sigma": u, "a": v}), (s, b))
    ref = sp.lambdify((x, y, sigma, a), expr, "mpmath")
    for i in range(5):
        for j in range(5):
            xv, yv = float(grid[0][0, j]), float(grid[1][i, 0])
            value = float(out[i, j].detach())
            assert value == pytest.approx(float(ref(xv, yv, 1.3, 0.7)), rel=1e-12)


@pytest.mark.parametrize("text", ["x*sigma*10**400", "Max(x, 10**400)*sigma",
                                  "x**(10**400)*sigma", "x*sigma*exp(exp(exp(100)))"])
def test_constants_beyond_the_float_range_are_a_compile_error(text: str) -> None:
    fam = KernelFamily("huge", text, ("x",), [Param("sigma", 1.0)])
    with pytest.raises(CompileError, match=r"constant .* (too large for a float|could not be "
                                           r"evaluated within)"):
        compile_family(fam)


@pytest.mark.parametrize(("expr", "limit"), [
    (sigma * sp.sin(x) / x**3 - sigma / x**2, -sigma / 6),  # the terms diverge separately
    (1 / x - sigma / sp.sin(sigma * x), sp.Integer(0)),
])
def test_singular_terms_of_a_sum_that_only_cancel_together(expr: sp.Expr,
                                                            limit: sp.Expr) -> None:
    c = compile_family(KernelFamily("cancel", expr, (x,), [Param(sigma, 1.0, "positive")]))
    assert c.singular_limits == (limit,)
    out = c(kernel_grid(3, dtype=torch.float64), {"sigma": torch.tensor(1.5, dtype=torch.float64)})
    assert float(out[1]) == pytest.approx(float(limit.subs(sigma, 1.5)), abs=1e-12)


def test_equal_iterated_limits_without_a_limit_are_no_removable_singularity() -> None:
    # both iterated limits of x*y/(x**2 + y**2) at the origin are 0, along x = y it is 1/2
    fam = KernelFamily("saddle", sigma * x * y / (x**2 + y**2), (x, y),
                       [Param(sigma, 1.0, "positive")])
    c = compile_family(fam)
    assert c.singular_sets == ()
    with pytest.raises(NonFiniteKernelError, match=r"x=0, y=0"):
        c(kernel_grid((3, 3)), {"sigma": torch.tensor(1.0)})


def test_vmap_with_the_finite_check_on_says_to_turn_it_off() -> None:
    c = compile_family(KernelFamily("g2", sp.exp(-(x**2) / sigma), (x,), [Param(sigma, 1.0)]))
    grid = kernel_grid(3)
    sigmas = torch.tensor([1.0, 2.0])
    with pytest.raises(ConfigError, match="pass check_finite=False"):
        torch.func.vmap(lambda s: c(grid, {"sigma": s}))(sigmas)
    batched = torch.func.vmap(lambda s: c(grid, {"sigma": s}, check_finite=False))(sigmas)
    torch.testing.assert_close(batched[1], c(grid, {"sigma": sigmas[1]}))


def test_true_singularity_is_reported_with_family_tap_and_akps() -> None:
    fam = KernelFamily("pole", sigma / x, (x,), [Param(sigma, 1.0, "positive")])
    with pytest.raises(NonFiniteKernelError) as info:
        compile_family(fam)(kernel_grid(3), {"sigma": torch.tensor(2.5)})
    msg = str(info.value)
    assert "'pole'" in msg and "x=0" in msg and "sigma=2.5" in msg
    # even kernel sizes never sample x = 0: fine
    assert torch.isfinite(compile_family(fam)(kernel_grid(4), {"sigma": 2.5})).all()


def test_direction_dependent_limit_is_not_silently_patched() -> None:
    fam = KernelFamily("dir", x / r * sigma, (x, y), [Param(sigma, 1.0)])
    c = compile_family(fam)
    assert c.singular_sets == ()
    with pytest.raises(NonFiniteKernelError):
        c(kernel_grid((3, 3)), {"sigma": 1.0})


def test_source_is_kept_and_shows_in_tracebacks() -> None:
    c = compile_family(gabor())
    bad = {"sigma": torch.ones(2), "lambda": torch.ones(3), "theta": 0.0, "psi": 0.0}
    with pytest.raises(RuntimeError) as info:
        c(kernel_grid((3, 3)), bad)
    text = "".join(traceback.format_exception(info.value))
    assert c.filename in text
    body = [ln.strip() for ln in c.source.splitlines()[1:]]
    assert any(ln and ln in text for ln in body)  # the generated line itself is shown


class _CountOps(TorchFunctionMode):
    """Counts the torch operations a piece of code runs (a public torch.overrides hook)."""

    def __init__(self) -> None:
        super().__init__()
        self.ops: list[str] = []

    def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None
                           ) -> Any:
        self.ops.append(getattr(func, "__name__", str(func)))
        return func(*args, **(kwargs or {}))


def _ops(fam: KernelFamily) -> list[str]:
    compiled = compile_family(fam)
    grid = kernel_grid((5, 5), dtype=torch.float64)
    with _CountOps() as mode:
        compiled(grid, {"sigma": torch.tensor([[2.0]], dtype=torch.float64)}, check_finite=False)
    return mode.ops


def test_common_subexpressions_are_computed_once() -> None:
    # x**2 + y**2 appears three times; with CSE adding "* cos(r2) + sin(r2)" costs one cos,
    # one sin, one product and the sums (or one fused addcmul), never a second x*x or y*y
    # (4 more products)
    r2 = x**2 + y**2
    base = KernelFamily("cse_base", sp.exp(-r2 / sigma), (x, y),
                        [Param(sigma, 1.0, "positive")])
    full = KernelFamily("cse", sp.exp(-r2 / sigma) * sp.cos(r2) + sp.sin(r2), (x, y),
                        [Param(sigma, 1.0, "positive")])
    extra = Counter(_ops(full))
    extra.subtract(Counter(_ops(base)))
    assert (extra["cos"], extra["sin"], extra["mul"] + extra["addcmul"]) == (1, 1, 1), extra
    assert extra["add"] + extra["addcmul"] <= 2, extra
    assert sum(v for k, v in extra.items() if not k.startswith("__")) <= 5, extra


def test_compilation_is_cached_by_canonical_expression() -> None:
    clear_cache()
    f1 = gabor()
    f2 = KernelFamily("gabor_copy", f1.expr, ("x", "y"), list(f1.params))
    assert compile_family(f1).function is compile_family(f2).function
    assert compile_family(f1, singularities=False).function is not compile_family(f1).function


def test_unsupported_parts_are_listed_in_one_compile_error() -> None:
    mystery = sp.Function("mystery")
    with pytest.raises(CompileError) as info:
        compile_expr(mystery(x) + sp.gamma(x) * sp.Function("other")(x), [x], [])
    assert {"mystery", "gamma", "other"} <= {u.split("'")[1] for u in info.value.unsupported}


def test_pickle_rebuilds_from_the_family() -> None:
    c = compile_family(gabor())
    c2 = pickle.loads(pickle.dumps(c))
    grid = kernel_grid((4, 4))
    ps = {"sigma": 1.2, "lambda": 3.0, "theta": 0.4, "psi": 0.1}
    assert torch.equal(c(grid, ps), c2(grid, ps))
    assert c2.family == c.family


def test_runs_under_torch_compile_fullgraph() -> None:
    c = compile_family(gabor())
    grid = kernel_grid((5, 5))
    ps = {"sigma": torch.full((3, 2, 1, 1), 1.5, requires_grad=True), "lambda": torch.tensor(4.0),
          "theta": torch.tensor(0.3), "psi": torch.tensor(0.0)}
    compiled = torch.compile(lambda g, p: c(g, p), fullgraph=True, backend="aot_eager")
    out = compiled(grid, ps)
    torch.testing.assert_close(out, c(grid, ps))
    out.sum().backward()
    assert ps["sigma"].grad is not None


def test_bad_call_arguments_are_config_errors() -> None:
    c = compile_family(gabor())
    with pytest.raises(ConfigError, match="2 coordinate"):
        c(kernel_grid(3), {"sigma": 1.0, "lambda": 1.0, "theta": 0.0, "psi": 0.0})
    with pytest.raises(ConfigError, match=r"missing \['psi'\], unexpected \['phi'\]"):
        c(kernel_grid((3, 3)), {"sigma": 1.0, "lambda": 1.0, "theta": 0.0, "phi": 0.0})


def test_integer_coordinates_and_scalar_params_are_accepted() -> None:
    fam = KernelFamily("g", sp.exp(-x**2 / (2 * sigma**2)), (x,), [Param(sigma, 1.0, "positive")])
    out = compile_family(fam)((torch.arange(-2, 3),), {"sigma": 1})
    assert out.dtype == torch.get_default_dtype()
    assert out[2].item() == 1.0 and out[0].item() == pytest.approx(math.exp(-2))


def test_device_and_dtype_follow_inputs(device: torch.device, dtype: torch.dtype) -> None:
    c = compile_family(gabor())
    grid = kernel_grid((3, 3), dtype=dtype, device=device)
    ps = {k: torch.tensor(v, dtype=dtype, device=device)
          for k, v in {"sigma": 1.0, "lambda": 2.0, "theta": 0.1, "psi": 0.0}.items()}
    out = c(grid, ps)
    assert out.device.type == device.type and out.dtype == dtype
