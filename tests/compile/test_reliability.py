"""No silently wrong kernel and no NaN gradient where the maths is finite.

Each class of the adversarial review, with the cases added beyond the one shown: limits taken
branch by branch under Piecewise conditions, undefined points (atan2 at the origin) refused
instead of a silent value the exported formula cannot give, infinite intermediates whose
limit is finite (exp(-a/x**2)), second derivatives through sinc, half precision, and the
torch.func transforms through every function-table row.
"""

from __future__ import annotations

import math

import pytest
import sympy as sp
import torch

from aclcore import AnalyticConv1d, AnalyticConv2d, KernelFamily, NonFiniteKernelError, Param
from aclcore.compile import compile_expr, compile_family
from aclcore.nn.grid import kernel_grid
from aclcore.symbolic.functions import BUILTIN_FUNCTIONS

x, y, a, b = sp.symbols("x y a b", real=True)
F64 = torch.float64


def _tensor(v: float, grad: bool = False) -> torch.Tensor:
    return torch.tensor(v, dtype=F64, requires_grad=grad)


def _formula_values(fam: KernelFamily, values: dict[str, float], size: int
                    ) -> list[float | None]:
    """The exported (explicit) formula evaluated by SymPy on every tap of a 1-D/2-D grid."""
    expr = compile_family(fam).explicit_expr.xreplace(
        {sp.Symbol(k, real=True): sp.Float(v, 30) for k, v in values.items()})
    offsets = [i - (size - 1) / 2 for i in range(size)]
    out: list[float | None] = []
    points = ([{x: sp.Float(c)} for c in offsets] if fam.ndim == 1 else
              [{x: sp.Float(c), y: sp.Float(r)} for r in reversed(offsets) for c in offsets])
    for point in points:
        v = complex(sp.N(expr.xreplace(point), 20))
        out.append(None if math.isnan(v.real) or v.imag else v.real)
    return out


# -- limits under Piecewise conditions ---------------------------------------------------------
@pytest.mark.parametrize(("expr", "akps", "centre", "d_centre"), [
    # the review's case: the condition holds a parameter; SymPy's limit of the whole
    # Piecewise returned its last branch (0) and d/da was 0 instead of 1
    (sp.Piecewise((sp.sin(a * x) / x, sp.Abs(x) < b), (0, True)), {"a": 0.7, "b": 2.0},
     0.7, {"a": 1.0, "b": 0.0}),
    # the condition selects the other branch at the tap: that branch's value, no NaN leak
    (sp.Piecewise((sp.sin(a * x) / x, sp.Abs(x) > b), (a**2, True)), {"a": 0.7, "b": 0.5},
     0.49, {"a": 1.4, "b": 0.0}),
    # nested Piecewise, limits in the inner branch
    (sp.Piecewise((sp.Piecewise((sp.sin(a * x) / x, a > 0), (-a, True)), b > 0), (0, True)),
     {"a": 0.7, "b": 1.0}, 0.7, {"a": 1.0, "b": 0.0}),
    # a Piecewise factor of a singular product keeps its selected branch
    (sp.Piecewise((2, b > 0), (3, True)) * sp.sin(a * x) / x, {"a": 0.7, "b": 1.0}, 1.4,
     {"a": 2.0, "b": 0.0}),
])
def test_limits_are_taken_branch_by_branch(expr: sp.Expr, akps: dict[str, float],
                                           centre: float, d_centre: dict[str, float]) -> None:
    fam = KernelFamily("branchy", expr, ("x",), [Param(k, v) for k, v in akps.items()])
    params = {k: _tensor(v, grad=True) for k, v in akps.items()}
    out = compile_family(fam)(kernel_grid(3, dtype=F64), params)
    assert out[1].item() == pytest.approx(centre, rel=1e-12)
    grads = torch.autograd.grad(out[1], list(params.values()), allow_unused=True)
    for (name, want), got in zip(d_centre.items(), grads, strict=True):
        assert (0.0 if got is None else got.item()) == pytest.approx(want, abs=1e-12), name
    formula = _formula_values(fam, akps, 3)
    torch.testing.assert_close(torch.tensor(formula, dtype=F64), out.detach())


def test_a_condition_on_another_coordinate_selects_the_branch_per_tap() -> None:
    fam = KernelFamily("halfplane", sp.Piecewise((sp.sin(a * x) / x, y > 0), (a * sp.cos(x),
                       True)), ("x", "y"), [Param("a", 0.7)])
    out = compile_family(fam)(kernel_grid((3, 3), dtype=F64), {"a": _tensor(0.7)})
    assert out[:, 1].tolist() == pytest.approx([0.7, 0.7, 0.7])  # x = 0 column: limit or a
    assert _formula_values(fam, {"a": 0.7}, 3) == pytest.approx(out.flatten().tolist())


# -- points where the formula has no value -----------------------------------------------------
def test_atan2_at_the_origin_is_refused_not_silently_zero() -> None:
    # SymPy's atan2(0, 0) is nan and the angle has no limit there: the exported formula could
    # not reproduce a value, so the tap is refused like any true singularity
    fam = KernelFamily("angular", sp.cos(2 * sp.atan2(y, x)) * sp.exp(-(x**2 + y**2) / a),
                       ("x", "y"), [Param("a", 2.0, "positive")])
    with pytest.raises(NonFiniteKernelError, match=r"angular.*x=0, y=0"):
        AnalyticConv2d(1, 2, 3, families=fam)
    layer = AnalyticConv2d(1, 2, 4, families=fam, dtype=F64)  # even size: no origin tap
    values = _formula_values(fam, {"a": 2.0}, 4)
    w = layer.weight.detach()[0, 0] / layer.analytic["angular"].gain.detach()[0, 0]
    assert values == pytest.approx(w.flatten().tolist(), rel=1e-12)
    x2 = torch.tensor([0.0, 0.0, 1.0], dtype=F64, requires_grad=True)
    y2 = torch.tensor([0.0, 1.0, 0.0], dtype=F64, requires_grad=True)
    value = compile_expr(sp.atan2(y, x), [x, y], [])((x2, y2), {})
    assert math.isnan(value[0].item()) and value[1:].tolist() == pytest.approx([math.pi / 2, 0])
    grads = torch.autograd.grad(value[1:].sum(), (x2, y2))
    assert all(bool(torch.isfinite(g).all()) for g in grads)  # the origin cannot poison them


# -- infinite intermediates with a finite limit ------------------------------------------------
@pytest.mark.parametrize("coords", [("x",), ("x", "y")])
@pytest.mark.parametrize("constraint", ["real", "positive"])
def test_exp_of_minus_a_over_r2_has_exact_gradients(coords: tuple[str, ...],
                                                    constraint: str) -> None:
    r2 = x**2 + (y**2 if len(coords) == 2 else 0)
    fam = KernelFamily("bump", sp.exp(-a / r2), coords, [Param("a", 1.0, constraint)])
    grid = kernel_grid((3,) * len(coords), dtype=F64)
    compiled = compile_family(fam)
    av = _tensor(1.3, grad=True)
    out = compiled(grid, {"a": av})
    centre = out.flatten()[out.numel() // 2]
    assert centre.item() == 0.0
    (g,) = torch.autograd.grad(centre, av)
    assert g.item() == 0.0  # was NaN: exp(-inf) = 0 times d(-a/0)/da = -inf
    assert torch.autograd.gradcheck(lambda t: compiled(grid, {"a": t}), (av.detach()
                                                                        .requires_grad_(),))
    if constraint == "real":  # for a < 0 the formula is infinite at the centre: refused
        with pytest.raises(NonFiniteKernelError):
            compiled(grid, {"a": _tensor(-1.0)})


def test_half_precision_banks_have_finite_akp_gradients_at_small_scales() -> None:
    # 1/sigma**2 overflows float16 for sigma < 4e-3; exp(-inf) = 0 then had the gradient NaN
    fam = KernelFamily("g16", sp.exp(-(x**2 + y**2) / (2 * a**2)), ("x", "y"),
                       [Param("a", 1.0, "positive")])
    layer = AnalyticConv2d(2, 4, 5, families=fam, dtype=torch.float16, gain=True)
    with torch.no_grad():
        layer.analytic["g16"].raw("a").fill_(-8.0)  # softplus(-8) + 1e-6 ~ 3.4e-4
    bank = layer.weight
    assert bank.dtype == torch.float16 and bool(torch.isfinite(bank).all())
    bank.float().square().sum().backward()
    for p in layer.akp_parameters():
        assert p.grad is not None and bool(torch.isfinite(p.grad).all())


# -- second derivatives ------------------------------------------------------------------------
@pytest.mark.parametrize("expr", [sp.sinc(a * x), 2 * b * sp.sinc(2 * sp.pi * b * x)
                                  - 2 * a * sp.sinc(2 * sp.pi * a * x)],
                         ids=["sinc", "sinc_bandpass"])
def test_second_derivatives_through_sinc_are_exact(expr: sp.Expr) -> None:
    params = sorted(expr.free_symbols - {x}, key=str)
    fn = compile_expr(expr, [x], params)
    grid = kernel_grid(5, dtype=F64)
    values = {p: 0.3 + 0.1 * i for i, p in enumerate(params)}

    def kernel(*ts: torch.Tensor) -> torch.Tensor:
        return fn(grid, {p.name: t for p, t in zip(params, ts, strict=True)})

    inputs = tuple(_tensor(values[p]) for p in params)
    hessians = torch.autograd.functional.hessian(lambda *ts: kernel(*ts)[2], inputs)
    for i, p in enumerate(params):
        for j, q in enumerate(params):
            got = hessians[i][j]
            ref = sp.diff(expr, p, q).subs(x, 0)
            want = float(sp.limit(sp.diff(expr, p, q).xreplace(
                {s: sp.Float(v) for s, v in values.items()}), x, 0)) if ref.has(sp.nan) \
                else float(ref.xreplace({s: sp.Float(v) for s, v in values.items()}))
            assert got.item() == pytest.approx(want, abs=1e-12), (p, q)
    assert torch.autograd.gradgradcheck(kernel, tuple(t.requires_grad_() for t in inputs))


# -- torch.func through every row --------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(BUILTIN_FUNCTIONS))
def test_torch_func_grad_and_vmap_work_for_every_row(name: str) -> None:
    row = BUILTIN_FUNCTIONS[name]
    lo, hi = row.domain
    arg = sp.Float((lo + hi) / 2) + sp.Float((hi - lo) / 8) * x * a
    if name == "besselj":
        expr = sp.besselj(1, arg)
    elif name == "Heaviside":
        expr = sp.Heaviside(arg - sp.Float((lo + hi) / 2))
    elif 1 not in row.arity:
        expr = row.sympy(arg, sp.Float((lo + hi) / 2) + a / 8)
    else:
        expr = row.sympy(arg)
    fn = compile_expr(expr, [x], [a])
    grid = kernel_grid(5, dtype=F64)

    def total(t: torch.Tensor) -> torch.Tensor:
        return fn(grid, {"a": t}).sum()

    at = torch.tensor([0.8, 1.0, 1.2], dtype=F64)
    per = torch.func.vmap(torch.func.grad(total))(at)
    for i, v in enumerate(at):
        t = v.clone().requires_grad_()
        (g,) = torch.autograd.grad(total(t), t, allow_unused=True)
        assert per[i].item() == pytest.approx(0.0 if g is None else g.item(), rel=1e-12,
                                              abs=1e-14)


def test_plugin_functions_with_grad_work_under_torch_func() -> None:
    from aclcore.symbolic.functions import make_function

    cube = sp.Function("cube")
    row = make_function(cube, lambda t: t.detach() ** 3, grad=lambda t: (3 * t * t,))
    t = torch.tensor([1.0, 2.0], dtype=F64)
    assert torch.func.grad(lambda s: row.implementation(s).sum())(t).tolist() == [3.0, 12.0]
    assert torch.func.vmap(row.implementation)(t[:, None]).flatten().tolist() == [1.0, 8.0]


def test_layers_under_torch_func_functional_call() -> None:
    layer = AnalyticConv1d(1, 2, 5, families=KernelFamily(
        "sinc_layer", sp.sinc(a * x), ("x",), [Param("a", (0.5, 1.0), "positive")]),
        check_finite=False, dtype=F64)
    params = {k: v.detach() for k, v in layer.named_parameters()}
    inp = torch.randn(3, 1, 9, dtype=F64)

    def loss(p: dict[str, torch.Tensor]) -> torch.Tensor:
        return torch.func.functional_call(layer, p, (inp,)).square().sum()

    grads = torch.func.grad(loss)(params)
    assert all(bool(torch.isfinite(g).all()) for g in grads.values())
