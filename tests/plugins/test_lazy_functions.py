"""Plugin functions named by import path: imported and checked on first use, not at listing."""

from __future__ import annotations

import json
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sympy as sp
import torch
from helpers.plugins import ep, family, loaded, plugin, s, x

import aclcore
from aclcore import cli
from aclcore.errors import AclError, PluginError
from aclcore.plugins import AclPluginWarning, plugin_report
from aclcore.symbolic.functions import make_function


class cube_fn(sp.Function):  # type: ignore[misc]  # SymPy is untyped
    """``t**3`` with a numeric evaluation, so that checking a family needs no torch."""

    nargs = 1

    def _eval_evalf(self, prec: int) -> sp.Expr | None:
        arg = self.args[0]
        return (arg**3)._eval_evalf(prec) if arg.is_number else None

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return 3 * self.args[0] ** 2


@pytest.fixture()
def ops_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A module on sys.path, not imported yet, with a good and a bad implementation."""
    name = f"lazy_ops_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent("""
        def cube(t):
            return t * t * t

        def doubles_in_place(t):
            return t.mul_(2.0)

        NOT_CALLABLE = 3
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)


def _ring(fn: Any) -> Any:
    return lambda: [family("cubed", sp.exp(-x**2 / (2 * s**2)) * (1 + fn(x / 4) ** 2))]


def test_function_named_by_path_is_imported_on_first_compile_only(ops_module: str) -> None:
    provider = plugin("ops", families=_ring(cube_fn),
                      functions=[(cube_fn, f"{ops_module}:cube", {"domain": (-2.0, 2.0)})])
    with loaded(ep("ops", provider)) as reg:
        assert set(reg.families()) == {"cubed"}  # listed and checked (by SymPy) ...
        row = reg.functions()["cube_fn"]
        assert row.lazy and not row.loaded
        assert ops_module not in sys.modules  # ... without importing the implementation
        compiled = aclcore.compile_family(reg.families()["cubed"])
        assert ops_module in sys.modules and row.loaded
        xs = torch.linspace(-3, 3, 7, dtype=torch.float64)
        sigma = torch.tensor(1.3, dtype=torch.float64, requires_grad=True)
        out = compiled((xs,), {"s": sigma})
        expected = torch.exp(-xs**2 / (2 * sigma**2)) * (1 + (xs / 4) ** 6)
        torch.testing.assert_close(out, expected)
        assert torch.autograd.gradcheck(lambda sg: compiled((xs,), {"s": sg}), (sigma,))
        assert not plugin_report(reg).failures


def test_unimportable_path_fails_on_first_use_and_in_the_report(
        capsys: pytest.CaptureFixture[str]) -> None:
    provider = plugin("ops", families=_ring(cube_fn),
                      functions=[(cube_fn, "no_such_module_zz.ops:cube", {})])
    with loaded(ep("ops", provider)) as reg:
        assert set(reg.families()) == {"cubed"}  # listing does not import it
        with pytest.raises(PluginError, match=r"'no_such_module_zz\.ops:cube'.*cannot be "
                                              r"imported.*ModuleNotFoundError"):
            aclcore.compile_family(reg.families()["cubed"])
        with pytest.raises(PluginError, match="plugin 'ops'"):  # raised again, same cause
            aclcore.compile_family(reg.families()["cubed"])
        failures = plugin_report(reg).failures  # raised where used, listed here, not warned
        code, data = cli.main(["plugins", "--json"]), json.loads(capsys.readouterr().out)
    (failure,) = failures  # recorded once although used twice
    assert (failure.plugin, failure.stage, failure.item) == ("ops", "function", "cube_fn")
    assert "install the module" in failure.message
    assert code == 1 and data["plugins"][0]["status"] == "partial"


def test_acl_plugins_lists_a_path_whose_package_is_not_installed(
        capsys: pytest.CaptureFixture[str]) -> None:
    provider = plugin("ops", functions=[(cube_fn, "no_such_package_zz:cube", {}),
                                        (sp.Function("fine_fn"), "math:floor", {})])
    with loaded(ep("ops", provider)):
        code = cli.main(["plugins"])  # no formula used the functions, no --check
    out = capsys.readouterr().out
    assert code == 1
    assert "FAILED function 'cube_fn'" in out and "no_such_package_zz" in out
    assert "fine_fn" not in out.split("FAILED")[1]  # installed: not imported, not failed


def test_acl_plugins_check_imports_and_checks_a_function_no_formula_used_yet(
        ops_module: str, capsys: pytest.CaptureFixture[str]) -> None:
    provider = plugin("ops", functions=[
        (cube_fn, f"{ops_module}:doubles_in_place", {}),
        (sp.Function("not_callable"), f"{ops_module}:NOT_CALLABLE", {}),
    ])
    with loaded(ep("ops", provider)) as reg:
        assert reg.families() == {}
        # the listing imports nothing (the module is installed: found without importing)
        assert not plugin_report(reg).failures and cli.main(["plugins"]) == 0
        assert ops_module not in sys.modules
        assert cli.main(["plugins", "--check"]) == 1
        out = capsys.readouterr().out
        failures = {f.item: f.message for f in plugin_report(reg).failures}
    assert "writes into its argument" in failures["cube_fn"]
    assert "not a callable" in failures["not_callable"]
    assert "FAILED function 'cube_fn'" in out


def test_family_whose_function_sympy_cannot_evaluate_is_checked_with_torch(
        ops_module: str) -> None:
    opaque = sp.Function("opaque_cube")  # no numeric evaluation in SymPy
    singular = sp.Function("opaque_recip")
    provider = plugin(
        "ops",
        families=lambda: [family("fine", sp.exp(-x**2 / s**2) * opaque(x)),
                          family("broken", sp.exp(-x**2 / s**2) * singular(x))],
        functions=[(opaque, f"{ops_module}:cube", {}),
                   (singular, "torch:reciprocal", {"domain": (0.5, 2.0)})])
    with loaded(ep("ops", provider)) as reg, pytest.warns(AclPluginWarning):
        names = set(reg.families())
        failures = plugin_report(reg).failures
    assert names == {"fine"}
    (failure,) = failures  # 1/x is infinite on the centre tap: found by the compiled check
    assert (failure.stage, failure.item, failure.error_type) == (
        "family", "broken", "NonFiniteKernelError")


def test_function_named_by_path_with_grad() -> None:
    bessel = sp.Function("i0_path")
    provider = plugin("ops", families=lambda: [family("ring", sp.exp(-x**2) * bessel(x / s))],
                      functions=[(bessel, "torch.special.modified_bessel_i0",
                                  {"grad": lambda t: (torch.special.modified_bessel_i1(t),)})])
    with loaded(ep("ops", provider)) as reg:
        compiled = aclcore.compile_family(reg.families()["ring"])
        xs = torch.linspace(-2, 2, 5, dtype=torch.float64)
        assert torch.autograd.gradcheck(lambda sg: compiled((xs,), {"s": sg}),
                                        (torch.tensor(1.5, dtype=torch.float64,
                                                      requires_grad=True),))


@pytest.mark.parametrize("path", ["torch.special i0e", "1abc:f", "torch.special:", ":f",
                                  "a..b:f", "os:system; rm"])
def test_a_string_that_is_not_an_import_path_is_refused(path: str) -> None:
    with pytest.raises(AclError, match="is not an import path"):
        make_function(sp.Function("f_str"), path)


def test_a_module_that_fails_while_importing_gives_a_typed_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"lazy_broken_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text("raise RuntimeError('no GPU driver found')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    row = make_function(sp.Function("f_broken"), f"{name}:cube")
    assert row.lazy and not row.loaded
    for attempt in range(2):  # the same typed error every time: the failure is remembered
        with pytest.raises(PluginError, match=rf"'{name}:cube'.*cannot be imported: "
                                              r"RuntimeError: no GPU driver found"):
            row.implementation  # noqa: B018  # the property imports it
        if attempt == 0:  # a module that would now import is not tried again
            (tmp_path / f"{name}.py").write_text("def cube(t):\n    return t * t * t\n")
    assert name not in sys.modules
