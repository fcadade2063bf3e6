"""Plugins are untrusted neighbours: one cannot change what other families compute, corrupt
shared tensors, register nonsense, or leave the registry half loaded."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
import sympy as sp
import torch
from helpers.plugins import ep, family, loaded, plugin, s, x

import aclcore
from aclcore import AnalyticConv1d, KernelFamily, Param
from aclcore.plugins import AclPluginWarning, plugin_report


def _report(*entry_points: Any) -> tuple[list[str], set[str]]:
    with loaded(*entry_points) as registry, warnings.catch_warnings():
        warnings.simplefilter("ignore", AclPluginWarning)
        report = plugin_report(registry)
        return [str(f) for f in report.failures], set(registry.families())


@pytest.mark.parametrize("name", ["sqrt", "abs", "Abs", "Max", "Min", "Piecewise", "pi", "E",
                                  "x", "True", "lambda", "Eq", "Float", "__import__",
                                  "has space", "exp", "_private", "9lives"])
def test_a_plugin_cannot_take_a_name_of_the_grammar_or_the_table(name: str) -> None:
    fn = sp.Function("anything")
    bad = plugin("squatter", functions=[(fn, torch.sin, {"name": name})],
                 families=[family("fine")])
    failures, families = _report(ep("squatter", bad))
    assert len(failures) == 1 and "plugin 'squatter'" in failures[0], failures
    assert name in failures[0]
    assert families == {"fine"}  # the plugin's other registrations still count
    # and nothing changed for everyone else: the grammar name still means what it meant
    if name in ("sqrt", "Abs", "exp", "Max"):
        assert aclcore.parse_formula(f"{name}(x)") != fn(sp.Symbol("x", real=True))


def test_a_function_writing_into_its_argument_is_refused() -> None:
    fn = sp.Function("clamped")
    bad = plugin("writer", functions=[(fn, lambda t: t.clamp_(-1, 1), {})])
    failures, _ = _report(ep("writer", bad))
    assert len(failures) == 1 and "writes into its argument" in failures[0]


def test_a_function_that_writes_later_cannot_corrupt_other_layers_kernels() -> None:
    # passes the registration check (it writes only into arguments with more than 7 values),
    # then would write into the cached tap grid: it gets copies instead
    sneaky = sp.Function("sneaky")

    def impl(t: torch.Tensor) -> torch.Tensor:
        if t.numel() > 7:
            t.mul_(0.0)
        return t * 1.0

    def families() -> list[KernelFamily]:  # built in the hook, once sneaky is registered
        return [KernelFamily("uses_sneaky", sneaky(x) * s, ("x",), [Param(s, 1.0, "positive")]),
                family("honest")]

    with loaded(ep("sneaky", plugin("sneaky", functions=[(sneaky, impl, {})],
                                    families=families))):
        torch.manual_seed(0)
        reference = AnalyticConv1d(1, 2, 9, families="honest").weight.detach().clone()
        AnalyticConv1d(1, 2, 9, families="uses_sneaky").weight  # noqa: B018
        torch.manual_seed(0)
        again = AnalyticConv1d(1, 2, 9, families="honest").weight.detach()
    torch.testing.assert_close(again, reference, atol=0, rtol=0)


@pytest.mark.parametrize(("options", "impl", "fragment"), [
    ({"domain": (5.0, -5.0)}, torch.sin, "domain must be a finite interval"),
    ({"domain": (0.0, float("inf"))}, torch.sin, "domain must be a finite interval"),
    ({"constant_args": (3,)}, torch.sin, "constant_args must be argument positions"),
    ({}, lambda t: torch.sin(t).float(), "keep the dtype of its arguments"),
    ({}, lambda t: torch.full_like(t, float("nan")), "not finite"),
    ({"grad": "not callable"}, torch.sin, "grad must be callable"),
])
def test_nonsense_registrations_are_refused(options: dict[str, Any], impl: Any,
                                            fragment: str) -> None:
    fn = sp.Function("nonsense")
    failures, _ = _report(ep("nonsense", plugin("nonsense", functions=[(fn, impl, options)])))
    assert len(failures) == 1 and fragment in failures[0], failures


@pytest.mark.parametrize("expr", [s / x, sp.log(sp.Abs(x)) * s, 1 / (x**2 * s)])
def test_a_family_singular_where_a_layer_samples_it_is_refused_at_registration(
        expr: sp.Expr) -> None:
    bad = KernelFamily("pole", expr, ("x",), [Param(s, 1.0, "positive")])
    failures, families = _report(ep("poles", plugin("poles", families=[bad, family("ok")])))
    assert families == {"ok"}
    assert len(failures) == 1 and "'pole'" in failures[0], failures
    assert "at tap (x=0)" in failures[0], failures


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt, SystemExit])
def test_an_interrupted_discovery_leaves_the_registry_unloaded(
        interrupt: type[BaseException]) -> None:
    calls: list[int] = []

    class Flaky:
        def load(self) -> object:
            calls.append(1)
            if len(calls) == 1:
                raise interrupt()
            return plugin("calm", families=[family("calm_family")])

        name, value, group, dist = "calm", "calm_module", "aclcore", None

    with loaded(Flaky()) as registry:
        with pytest.raises(interrupt):
            aclcore.families()
        assert not registry.loaded
        assert set(aclcore.families()) == {"calm_family"}  # the next look-up retries
    assert len(calls) == 2
