"""aclcore.testing: each contract check passes good families and catches the bad ones."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
import sympy as sp
import torch
from helpers.plugins import ep, family, plugin

import aclcore
from aclcore import KernelFamily, Param
from aclcore import testing as T
from aclcore.plugins.registry import Registry, current_registry

x, y, z, a, s = sp.symbols("x y z a s", real=True)
GAUSS_2D = KernelFamily("g2", sp.exp(-(x**2 + y**2) / (2 * s**2)), ("x", "y"),
                        [Param(s, init=(0.8, 2.0), constraint="positive")],
                        symmetries=("even:x", "even:y", "rot90"))


def shifted(symmetries: tuple[str, ...]) -> KernelFamily:
    return KernelFamily("shifted", sp.exp(-((x - s) ** 2) - y**2), ("x", "y"),
                        [Param(s, init=(0.5, 1.0), constraint="positive")],
                        symmetries=symmetries)


@pytest.mark.parametrize(
    ("param", "domain"),
    [
        (Param("p", init=(0.5, 0.6), constraint=(0.0, 1.0)), (0.0, 1.0)),
        (Param("p", init=(0.0, 1.0), constraint="angle"), (-2 * math.pi, 2 * math.pi)),
        (Param("p", init=(1.0, 2.0), constraint="positive"), (0.5, 4.0)),
        (Param("p", init=3.0, constraint="positive"), (1.5, 6.0)),
        (Param("p", init=0.0), (-2.0, 2.0)),
        (Param("p", init=(-2.0, 2.0)), (-6.0, 6.0)),
    ],
)
def test_akp_domain(param: Param, domain: tuple[float, float]) -> None:
    assert T.akp_domain(param) == pytest.approx(domain)


@pytest.mark.parametrize(
    "fam",
    [
        GAUSS_2D,
        KernelFamily("odd1", x * sp.exp(-(x**2) / s), ("x",),
                     [Param(s, init=(1.0, 3.0), constraint="positive")], symmetries=("odd:x",)),
        KernelFamily("blob3", sp.exp(-(x**2 + y**2 + z**2) / s), ("x", "y", "z"),
                     [Param(s, init=(1.0, 3.0), constraint="positive")],
                     symmetries=("even:z", "rot90")),
    ],
    ids=["2d", "1d-odd", "3d"],
)
def test_assert_family_ok_passes_good_families(fam: KernelFamily) -> None:
    T.assert_family_ok(fam, max_examples=10, backend=None)


def test_torch_compile_check_passes_a_good_family() -> None:
    T.check_compile_pickle_and_torch_compile(GAUSS_2D)


def test_finite_check_finds_nan_inside_the_domain() -> None:
    logs = KernelFamily("logs", sp.log(a) * sp.exp(-(x**2)), ("x",), [Param(a, (0.5, 1.0))])
    with pytest.raises(AssertionError, match=r"family 'logs' fails finite values"):
        T.check_finite_over_domain(logs, max_examples=50)


def test_finite_check_finds_non_finite_gradients() -> None:
    steep = sp.Function("steep_grad")
    aclcore.register_function(steep, lambda t: t, grad=lambda t: (torch.full_like(t, math.inf),))
    fam = KernelFamily("steep", steep(a) * sp.exp(-(x**2)), ("x",), [Param(a, (0.5, 1.0))])
    with pytest.raises(AssertionError, match="finite gradients"):
        T.check_finite_over_domain(fam, max_examples=5)


def test_gradient_check_catches_an_akp_that_never_learns() -> None:
    gated = KernelFamily("gated", sp.exp(-(x**2) / s) * sp.Heaviside(a + 10), ("x",),
                         [Param(s, (1.0, 2.0), "positive"), Param(a, (0.5, 1.0))])
    with pytest.raises(AssertionError, match="AKP 'a' gets a zero gradient"):
        T.check_every_akp_gets_gradient(gated)
    T.check_every_akp_gets_gradient(GAUSS_2D)


def test_symmetry_check_catches_a_false_declaration() -> None:
    T.check_symmetries(shifted(("even:y",)))
    with pytest.raises(AssertionError, match="declared symmetry 'even:x'"):
        T.check_symmetries(shifted(("even:x",)))
    with pytest.raises(AssertionError, match="declared symmetry 'rot90'"):
        T.check_symmetries(shifted(("rot90",)))
    with pytest.raises(AssertionError, match="declared symmetry 'odd:y'"):
        T.check_symmetries(shifted(("odd:y",)))


def test_torch_compile_check_catches_graph_breaks() -> None:
    breaks = sp.Function("graph_breaker")

    def breaker(t: torch.Tensor) -> torch.Tensor:
        torch._dynamo.graph_break()
        return 2 * t

    aclcore.register_function(breaks, breaker)
    fam = KernelFamily("breaky", breaks(x / s), ("x",), [Param(s, 1.0, "positive")])
    with pytest.raises(AssertionError, match=r"torch.compile\(fullgraph=True\)"):
        T.check_compile_pickle_and_torch_compile(fam)


def test_round_trip_check_compares_exactly(monkeypatch: pytest.MonkeyPatch) -> None:
    T.check_formula_round_trip(GAUSS_2D)
    monkeypatch.setattr("aclcore.symbolic.parse.formula_to_string",
                        lambda expr, functions=None: "x*s")
    with pytest.raises(AssertionError, match="formula round trip"):
        T.check_formula_round_trip(GAUSS_2D)


def test_round_trip_knows_plugin_functions() -> None:
    twice = sp.Function("twice_rt")
    aclcore.register_function(twice, lambda t: 2 * t)
    T.check_formula_round_trip(family("twice", twice(x / s)))


def test_assert_family_ok_rejects_non_families() -> None:
    with pytest.raises(AssertionError, match=r"expected an aclcore\.KernelFamily"):
        T.assert_family_ok("gabor")  # type: ignore[arg-type]


def test_plugin_registry_is_current_inside_and_reports_failures(registry: Registry) -> None:
    good = plugin("good", families=[family("alpha")])
    with T.plugin_registry(good) as inner:
        assert current_registry() is inner and set(aclcore.families()) == {"alpha"}
    assert current_registry() is registry
    bad = plugin("bad", raise_in="acl_register_families")
    with pytest.raises(AssertionError, match="plugin 'bad' raised in acl_register_families"), \
            T.plugin_registry(bad):
        pass
    with T.plugin_registry(entry_points=[ep("fake", good)]) as inner:
        assert inner.records()["alpha"].provider == "fake"


def test_installed_families_honours_the_selection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACL_LOAD_PLUGINS", "")
    assert T.installed_families() == {}


def test_plugin_registry_loads_a_plugin_under_test_that_is_also_installed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    good = plugin("good", families=[family("alpha")])
    with T.plugin_registry(good, entry_points=[ep("fake", good)]) as inner:
        assert inner.records()["alpha"].provider == "fake"  # loaded once, as the entry point
    monkeypatch.delenv("ACL_LOAD_PLUGINS", raising=False)
    with T.plugin_registry(good, installed=True, entry_points=[ep("fake", good)]) as inner:
        assert inner.records()["alpha"].provider == "fake"
    other = plugin("other", families=[family("beta")])
    with pytest.raises(AssertionError, match=r"plugin name 'fake' .* is already used by"), \
            T.plugin_registry(("fake", other), entry_points=[ep("fake", good)]):
        pass


def test_plugin_registry_with_an_installed_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    acl_example = pytest.importorskip("acl_example")
    monkeypatch.delenv("ACL_LOAD_PLUGINS", raising=False)
    with T.plugin_registry(acl_example, installed=True) as inner:  # docs: writing-a-plugin.md
        assert "gaussian_ring" in inner.families() and "i0e" in inner.functions()


def test_the_kit_imports_without_hypothesis_and_says_what_to_install() -> None:
    code = (
        "import sys\n"
        "sys.modules['hypothesis'] = None  # as if it were not installed\n"
        "import sympy as sp\n"
        "import aclcore.testing as T\n"
        "from aclcore import KernelFamily, Param\n"
        "x, s = sp.symbols('x s', real=True)\n"
        "fam = KernelFamily('plain', sp.exp(-x**2 / s), ('x',), [Param(s, 1.0, 'positive')])\n"
        "T.check_every_akp_gets_gradient(fam)\n"
        "T.check_formula_round_trip(fam)\n"
        "try:\n"
        "    T.check_finite_over_domain(fam)\n"
        "except AssertionError as err:\n"
        "    print(err)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert "pip install hypothesis" in out.stdout


def test_assert_family_ok_reports_every_failure_at_once() -> None:
    broken = KernelFamily("broken", sp.exp(-((x - 1) ** 2)) * s, ("x", "y"),
                          [Param(s, (1.0, 2.0), "positive")],
                          symmetries=("even:x", "odd:x", "rot90"), constant_along=("y",))
    with pytest.raises(AssertionError) as info:
        T.assert_family_ok(broken, backend=None, max_examples=3)
    text = str(info.value)
    for symmetry in ("'even:x'", "'odd:x'", "'rot90'"):
        assert f"declared symmetry {symmetry}" in text
