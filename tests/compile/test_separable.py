"""The separability proof (compile/separable.py) and the compiled 1-D factors (factored.py)."""

from __future__ import annotations

import pytest
import sympy as sp
import torch

from aclcore import KernelFamily, Param
from aclcore.compile import compile_family
from aclcore.compile import separable as separable_module
from aclcore.compile.factored import compile_factors
from aclcore.compile.separable import clear_separations, separate
from aclcore.nn.grid import kernel_grid

x, y, z = sp.symbols("x y z", real=True)
s, s2, t, a, b = sp.symbols("sigma sigma2 theta a b", real=True)
G = sp.exp(-(x**2 + y**2) / (2 * s**2))
U = x * sp.cos(t) + y * sp.sin(t)
V = -x * sp.sin(t) + y * sp.cos(t)

SEPARABLE = {
    "gaussian": G,
    "anisotropic_axis_aligned": sp.exp(-x**2 / (2 * s**2) - y**2 / (2 * s2**2)),
    "d_dx": -x * G / s,
    "d2_dx2": (x**2 / s**2 - 1) * G,
    "d2_dxdy": x * y * G / s**4,
    "shifted": sp.exp(-((x - a) ** 2 + (y + b) ** 2) / (2 * s**2)),
    "box_window": sp.Piecewise((1, (sp.Abs(x) <= a) & (sp.Abs(y) <= b)), (0, True)),
    "box_product": sp.Piecewise((1, sp.Abs(x) <= a), (0, True))
    * sp.Piecewise((1, sp.Abs(y) <= b), (0, True)),
    "windowed_gaussian": sp.Piecewise((G, (x**2 <= a**2) & (y**2 <= a**2)), (0, True)),
    "sinc_product": sp.sinc(x / a) * sp.sinc(y / a),
    "factorable_sum": x * y + x,
    "integer_power": (x * sp.exp(-y**2)) ** 2,
    "constant": a * s + 0 * x,
    "one_coordinate_piecewise": sp.Piecewise((1, sp.Abs(x) <= a), (2, True)) * G,
}

NOT_SEPARABLE = {
    "oriented_gabor": G * sp.cos(2 * sp.pi * U / a),
    "oriented_anisotropic": sp.exp(-U**2 / (2 * s**2) - V**2 / (2 * s2**2)),
    "dog": G / s**2 - sp.exp(-(x**2 + y**2) / (8 * s**2)) / (4 * s**2),
    "log": (1 - (x**2 + y**2) / (2 * s**2)) * G,
    "sum": x + y,
    "oriented_derivative": -U * G / s,
    "radial": sp.sqrt(x**2 + y**2),
    "cross_term": sp.exp(-x * y),
    "window_of_radius": sp.Piecewise((1, x**2 + y**2 <= a**2), (0, True)),
    "window_with_other_value": sp.Piecewise((1, (sp.Abs(x) <= a) & (sp.Abs(y) <= a)), (2, True)),
    "window_of_two_coordinates": sp.Piecewise((1, sp.Abs(x) <= a), (2, True)) * G * sp.Piecewise(
        (1, sp.Abs(x - y) <= a), (0, True)),
}


@pytest.mark.parametrize("name", sorted(SEPARABLE))
def test_separable_families_factor_exactly(name: str) -> None:
    expr = SEPARABLE[name]
    found = separate(expr, (x, y))
    assert found is not None, name
    for coord, factor in zip((x, y), found.factors, strict=True):
        assert factor.free_symbols & {x, y} <= {coord}
    assert not found.constant.free_symbols & {x, y}
    assert sp.simplify(sp.piecewise_fold(found.product() - expr)) == 0


@pytest.mark.parametrize("name", sorted(NOT_SEPARABLE))
def test_non_separable_families_are_refused(name: str) -> None:
    assert separate(NOT_SEPARABLE[name], (x, y)) is None


def test_three_dimensional_gaussian_and_its_z_derivative() -> None:
    g3 = sp.exp(-(x**2 + y**2 + z**2) / (2 * s**2))
    found = separate(z * g3, (x, y, z))
    assert found is not None
    assert found.factors[2].has(z) and not found.factors[2].has(x)
    assert separate(g3 * (x + z), (x, y, z)) is None


def test_a_coordinate_the_formula_ignores_gets_the_factor_one() -> None:
    found = separate(sp.exp(-x**2 / s), (x, y))
    assert found is not None and found.factors[1] == 1


def test_decisions_are_cached() -> None:
    expr = sp.exp(-x**2 / (3 * s**2) - y**2)
    first = separate(expr, (x, y))
    assert separate(expr, (x, y)) is first
    clear_separations()
    again = separate(expr, (x, y))
    assert again == first


def test_work_beyond_the_budget_means_not_separable(monkeypatch: pytest.MonkeyPatch) -> None:
    clear_separations()
    monkeypatch.setattr(separable_module, "SEPARABLE_WORK", 50)
    assert separate((x**2 * y + x * y**2 + x * y) * G, (x, y)) is None
    clear_separations()


def test_the_numeric_guard_rejects_a_wrong_product(monkeypatch: pytest.MonkeyPatch) -> None:
    clear_separations()
    monkeypatch.setattr(separable_module, "_agrees", lambda *args: False)
    assert separate(G, (x, y)) is None
    clear_separations()


def test_removable_singularities_make_a_product_non_separable() -> None:
    # sin(x)/x * sin(y)/y: the compiler writes in the limits as Piecewise branches over both
    # coordinates, so the formula it evaluates is not a product (conservative)
    fam = KernelFamily("sinxy", sp.sin(x) / x * sp.sin(y) / y, (x, y), [])
    assert compile_family(fam).explicit_expr != fam.sympy_expr
    assert compile_factors(fam) is None
    sinc = KernelFamily("sincxy", sp.sinc(a * x) * sp.sinc(a * y), (x, y), [Param(a, 1.0)])
    assert compile_factors(sinc) is not None


@pytest.mark.parametrize("discrete", ["sample", "integrate"])
def test_compiled_factors_reproduce_the_compiled_family(discrete: str) -> None:
    fam = KernelFamily("aniso_d", (x / s - b) * sp.exp(-x**2 / (2 * s**2) - y**2 / (2 * s2**2)),
                       (x, y), [Param(s, 1.0, "positive"), Param(s2, 1.5, "positive"),
                                Param(b, 0.3)])
    factors = compile_factors(fam)
    assert factors is not None
    params = {"sigma": torch.tensor(1.3, dtype=torch.float64),
              "sigma2": torch.tensor(0.7, dtype=torch.float64),
              "b": torch.tensor(0.2, dtype=torch.float64)}
    cx, cy = kernel_grid((5, 4), dtype=torch.float64)
    full = compile_family(fam)((cx, cy), params)
    outer = factors.evaluate(0, cx, params) * factors.evaluate(1, cy, params)
    torch.testing.assert_close(outer, full)
    assert factors.unused == ()


def test_one_coordinate_families_are_not_factored() -> None:
    fam = KernelFamily("g1", sp.exp(-x**2 / s**2), (x,), [Param(s, 1.0, "positive")])
    assert compile_factors(fam) is None
