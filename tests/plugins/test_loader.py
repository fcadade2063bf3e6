"""The plugin loader: faked entry points, the broken-plugin matrix, env vars, strict mode."""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
import textwrap
import threading
import time
import types
import warnings
from pathlib import Path
from typing import Any

import pytest
import sympy as sp
import torch
from helpers.plugins import ep, family, loaded, no_grad_i0, plugin, s, x

import aclcore
from aclcore import cli, hookimpl
from aclcore.errors import ConfigError, PluginError, UnknownFamilyError
from aclcore.plugins import (
    AclPluginWarning,
    discover_entry_points,
    load_plugins,
    plugin_report,
    selected_names,
    strict_mode,
)
from aclcore.plugins.registry import Registry, use_registry


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ACL_LOAD_PLUGINS", raising=False)
    monkeypatch.delenv("ACL_STRICT_PLUGINS", raising=False)


def failures_of(registry: Registry) -> list[Any]:
    with pytest.warns(AclPluginWarning):
        return plugin_report(registry).failures


def acl_plugins_json(capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    code = cli.main(["plugins", "--json"])
    return code, json.loads(capsys.readouterr().out)


# -- the happy path ---------------------------------------------------------------------------
def test_entry_points_register_families_with_distribution_and_version() -> None:
    good = plugin("good", families=[family("alpha"), family("beta")])
    with loaded(ep("good", good, dist="acl-good", version="2.1")) as reg:
        assert not reg.loaded  # lazy: nothing happens before the first look-up
        assert set(aclcore.families()) == {"alpha", "beta"}
        record = reg.records()["alpha"]
        assert (record.provider, record.distribution, record.version) == ("good", "acl-good",
                                                                          "2.1")
        (rec,) = plugin_report(reg).plugins
        assert (rec.name, rec.status, rec.families) == ("good", "ok", ["alpha", "beta"])


def test_real_entry_point_object_loads_a_module_from_sys_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "acl_tmp_plugin.py").write_text(textwrap.dedent("""
        import sympy as sp
        from aclcore import KernelFamily, Param, hookimpl

        x, w = sp.symbols("x w", real=True)
        BUMP = KernelFamily("bump", sp.exp(-x**2 / w), ("x",), [Param(w, 1.0, "positive")])

        @hookimpl
        def acl_register_families(register):
            register(BUMP)
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    real = importlib.metadata.EntryPoint(name="tmp", value="acl_tmp_plugin", group="aclcore")
    with loaded(real) as reg:
        assert aclcore.get_family("bump").name == "bump"
        assert plugin_report(reg).plugins[0].source == "acl_tmp_plugin"


def test_fresh_plugin_manager_per_registry() -> None:
    good = plugin("good", families=[family("alpha")])
    for _ in range(2):  # the same plugin object loads into two registries
        with loaded(ep("good", good)):
            assert set(aclcore.families()) == {"alpha"}


def test_plugin_objects_can_be_passed_directly() -> None:
    with loaded(plugins=[plugin("direct", families=[family("gamma")])]) as reg:
        assert set(reg.families()) == {"gamma"}
        assert plugin_report(reg).plugins[0].name == "direct"


def test_discover_entry_points_reads_the_aclcore_group() -> None:
    expected = {e.name for e in importlib.metadata.entry_points(group="aclcore")}
    assert {e.name for e in discover_entry_points()} == expected


# -- the broken-plugin matrix -----------------------------------------------------------------
GOOD = plugin("good", families=[family("alpha")])


def test_import_error_is_recorded_and_other_plugins_work(
    capsys: pytest.CaptureFixture[str],
) -> None:
    broken = importlib.metadata.EntryPoint("broken", "acl_no_such_module_xyz", "aclcore")
    with loaded(broken, ep("good", GOOD)) as reg:
        (failure,) = failures_of(reg)
        assert (failure.plugin, failure.stage, failure.error_type) == (
            "broken", "import", "ModuleNotFoundError")
        assert aclcore.get_family("alpha").name == "alpha"
        code, data = acl_plugins_json(capsys)
    assert code == 1
    assert [p["status"] for p in data["plugins"]] == ["failed", "ok"]
    assert data["failures"][0]["plugin"] == "broken"
    assert "acl_no_such_module_xyz" in data["failures"][0]["message"]


@pytest.mark.parametrize("hook", ["acl_register_functions", "acl_register_families"])
def test_raising_hook_is_recorded_and_other_plugins_work(
    hook: str, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = plugin("bad", families=[family("kept")], raise_in=hook)
    with loaded(ep("bad", bad, dist="acl-bad", version="0.3"), ep("good", GOOD)) as reg:
        (failure,) = failures_of(reg)
        assert (failure.stage, failure.error_type) == (hook, "RuntimeError")
        assert (failure.distribution, failure.version) == ("acl-bad", "0.3")
        assert "alpha" in reg.families()
        assert "RuntimeError" in failure.traceback
        _, data = acl_plugins_json(capsys)
    assert data["failures"][0]["stage"] == hook


def test_acl_register_families_rejects_a_non_family_and_keeps_the_rest(
    capsys: pytest.CaptureFixture[str],
) -> None:
    bad = plugin("bad", families=["not a family", family("kept")])
    with loaded(ep("bad", bad)) as reg:
        (failure,) = failures_of(reg)
        assert failure.stage == "family"
        assert "not an aclcore.KernelFamily" in failure.message
        text = str(failure)
        assert text.startswith("plugin 'bad' registered a rejected family (at ") and \
            "): PluginError: " in text
        assert set(reg.families()) == {"kept"}
        _, data = acl_plugins_json(capsys)
    assert data["plugins"][0]["status"] == "partial"


def test_family_that_fails_to_compile_is_recorded(capsys: pytest.CaptureFixture[str]) -> None:
    mystery = sp.Function("mystery")
    # built inside the hook: unknown functions are only deferred while plugins load
    bad = plugin("bad", families=lambda: [family("uses_mystery", mystery(x / s)), family("ok")])
    with loaded(ep("bad", bad), ep("good", GOOD)) as reg:
        (failure,) = failures_of(reg)
        assert (failure.stage, failure.item, failure.error_type) == (
            "family", "uses_mystery", "CompileError")
        assert "mystery" in failure.message
        assert set(reg.families()) == {"ok", "alpha"}
        _, data = acl_plugins_json(capsys)
    assert data["failures"][0]["item"] == "uses_mystery"


def test_duplicate_family_names_both_providers(capsys: pytest.CaptureFixture[str]) -> None:
    first = plugin("first", families=[family("same")])
    second = plugin("second", families=[family("same", sp.exp(-x**2 / s))])
    with loaded(ep("first", first, dist="acl-first", version="1.0"),
                ep("second", second, dist="acl-second", version="2.0")) as reg:
        (failure,) = failures_of(reg)
        assert failure.plugin == "second" and failure.error_type == "DuplicateError"
        assert "plugin 'first' (acl-first 1.0)" in failure.message
        assert "plugin 'second' (acl-second 2.0)" in failure.message
        assert reg.records()["same"].provider == "first"  # the first one loaded wins
        _, data = acl_plugins_json(capsys)
    assert "acl-first" in data["failures"][0]["message"]


def test_duplicate_function_names_both_providers() -> None:
    fn = sp.Function("twin")
    a = plugin("a", functions=[(fn, torch.sin, {})])
    b = plugin("b", functions=[(fn, torch.cos, {})])
    with loaded(ep("a", a), ep("b", b)) as reg:
        (failure,) = failures_of(reg)
        assert failure.stage == "function" and failure.item == "twin"
        assert "'twin' is provided twice: by a and by b" in failure.message


def test_function_shadowing_a_builtin_is_rejected() -> None:
    with loaded(ep("p", plugin("p", functions=[(sp.Function("exp"), torch.exp, {})]))) as reg:
        (failure,) = failures_of(reg)
        assert "already built into aclcore" in failure.message


def test_same_plugin_name_from_two_distributions_is_a_failure() -> None:
    with loaded(ep("dup", GOOD, dist="acl-one"),
                ep("dup", plugin("other", families=[family("zeta")]), dist="acl-two")) as reg:
        (failure,) = failures_of(reg)
        assert "provided twice" in failure.message and "acl-one" in failure.message
        assert set(reg.families()) == {"alpha"}


def test_same_distribution_found_twice_is_loaded_once() -> None:
    with loaded(ep("good", GOOD, dist="acl-good"), ep("good", GOOD, dist="acl-good")) as reg:
        assert len(plugin_report(reg).plugins) == 1
        assert set(reg.families()) == {"alpha"}


def statuses(registry: Registry) -> list[tuple[str, str]]:
    return [(p.name, p.status) for p in plugin_report(registry).plugins]


@pytest.mark.parametrize("second", ["ex", "other"])
def test_one_object_given_twice_keeps_the_first(second: str) -> None:
    with loaded(plugins=[("ex", GOOD), (second, GOOD)]) as reg:
        (failure,) = failures_of(reg)
        assert set(reg.families()) == {"alpha"}  # the first registration still works
        assert statuses(reg) == [("ex", "ok"), (second, "failed")]
    assert (failure.plugin, failure.stage, failure.error_type) == (second, "hooks",
                                                                     "PluginError")
    assert f"plugin {second!r} is module 'good', which is already loaded as plugin 'ex'" in (
        failure.message)


def test_plugin_name_already_used_by_another_object_is_a_failure() -> None:
    other = plugin("other", families=[family("zeta")])
    with loaded(ep("dup", GOOD, dist="acl-one"), plugins=[("dup", other)]) as reg:
        (failure,) = failures_of(reg)
        assert set(reg.families()) == {"alpha"}
        assert statuses(reg) == [("dup", "ok"), ("dup", "failed")]
    assert "plugin name 'dup' (module 'other') is already used by plugin 'dup' (acl-one" in (
        failure.message) and "another name" in failure.message


@pytest.mark.parametrize("given", [GOOD, ("good", GOOD), ("mine", GOOD)])
def test_object_an_entry_point_provides_is_loaded_once(given: object) -> None:
    with loaded(ep("good", GOOD, dist="acl-good"), plugins=[given]) as reg, \
            warnings.catch_warnings():
        warnings.simplefilter("error", AclPluginWarning)
        report = plugin_report(reg)
        assert [(p.name, p.distribution, p.status) for p in report.plugins] == [
            ("good", "acl-good", "ok")]
        assert set(reg.families()) == {"alpha"} and report.failures == []


def test_two_entry_points_loading_one_object_is_a_failure() -> None:
    with loaded(ep("good", GOOD), ep("good2", GOOD)) as reg:
        (failure,) = failures_of(reg)
        assert statuses(reg) == [("good", "ok"), ("good2", "failed")]
        assert "already loaded as plugin 'good'" in failure.message


def _hook_module(name: str, hook: Any) -> types.ModuleType:
    module = types.ModuleType(name)
    module.acl_register_families = hookimpl(hook)  # type: ignore[attr-defined]
    return module


def test_generator_and_async_hooks_are_failures() -> None:
    def generator(register: Any) -> Any:
        register(family("never"))
        yield family("yielded")

    async def coroutine(register: Any) -> None:
        register(family("never"))

    with loaded(ep("gen", _hook_module("gen", generator)),
                ep("aio", _hook_module("aio", coroutine)), ep("good", GOOD)) as reg:
        gen, aio = failures_of(reg)
        assert set(reg.families()) == {"alpha"}
        assert statuses(reg) == [("gen", "failed"), ("aio", "failed"), ("good", "ok")]
    assert gen.stage == "hooks" and "is a generator function (it contains yield)" in gen.message
    assert "call register(family) inside the hook" in gen.message
    assert "is an async function" in aio.message


def test_hook_returning_a_value_is_a_failure_and_keeps_its_registrations() -> None:
    def returns(register: Any) -> Any:
        register(family("kept"))
        return [family("returned")]

    with loaded(ep("ret", _hook_module("ret", returns))) as reg:
        (failure,) = failures_of(reg)
        assert set(reg.families()) == {"kept"} and statuses(reg) == [("ret", "partial")]
    assert "acl_register_families returned a list instead of None" in failure.message
    assert "call register(family) inside the hook for each family" in failure.message


def test_unknown_hook_is_a_failure_with_a_hint() -> None:
    typo = types.ModuleType("typo")

    @hookimpl
    def acl_register_family(register: Any) -> None:  # missing "ies"
        raise AssertionError("never called")

    typo.acl_register_family = acl_register_family  # type: ignore[attr-defined]
    with loaded(ep("typo", typo)) as reg:
        messages = [f.message for f in failures_of(reg)]
    assert any("did you mean 'acl_register_families'" in m for m in messages)


def test_unmarked_hook_is_a_failure() -> None:
    unmarked = types.ModuleType("unmarked")
    unmarked.acl_register_families = lambda register: register(family("x"))  # type: ignore[attr-defined]
    with loaded(ep("unmarked", unmarked)) as reg:
        (failure,) = failures_of(reg)
    assert "not marked with @aclcore.hookimpl" in failure.message


def test_hook_with_wrong_argument_name_is_rejected_by_pluggy() -> None:
    wrong = types.ModuleType("wrong")

    @hookimpl
    def acl_register_families(registrar: Any) -> None:
        raise AssertionError("never called")

    wrong.acl_register_families = acl_register_families  # type: ignore[attr-defined]
    with loaded(ep("wrong", wrong), ep("good", GOOD)) as reg:
        (failure,) = failures_of(reg)
        assert (failure.stage, failure.error_type) == ("hooks", "PluginValidationError")
        assert "alpha" in reg.families()


def test_hook_wrappers_are_rejected() -> None:
    wrapper = types.ModuleType("wrapper")

    @hookimpl(wrapper=True)
    def acl_register_families(register: Any) -> Any:
        register(family("never"))
        return (yield)

    wrapper.acl_register_families = acl_register_families  # type: ignore[attr-defined]
    with loaded(ep("wrapper", wrapper)) as reg:
        (failure,) = failures_of(reg)
        assert "hook wrapper" in failure.message and reg.families() == {}


def test_register_after_the_hook_returned_raises() -> None:
    kept: list[Any] = []
    late = types.ModuleType("late")

    @hookimpl
    def acl_register_families(register: Any) -> None:
        kept.append(register)
        register(family("early"))

    late.acl_register_families = acl_register_families  # type: ignore[attr-defined]
    with loaded(ep("late", late)) as reg:
        assert set(reg.families()) == {"early"}
        with pytest.raises(PluginError, match="after its hook returned"):
            kept[0](family("later"))


# -- acl_register_functions -------------------------------------------------------------------
def test_acl_register_functions_makes_a_function_usable_by_any_plugin() -> None:
    i0 = sp.Function("i0_plugin")
    grad = {"grad": lambda t: (torch.special.modified_bessel_i1(t),)}
    provider = plugin("provider", functions=[(i0, no_grad_i0, grad)])
    # the user is loaded first: every acl_register_functions runs before any family hook
    user = plugin("user", families=lambda: [family("ring", sp.exp(-x**2) * i0(x / s))])
    with loaded(ep("user", user), ep("provider", provider)) as reg:
        assert set(reg.families()) == {"ring"}
        assert reg.functions()["i0_plugin"].provider == "provider"
        compiled = aclcore.compile_family(reg.families()["ring"])
        sigma = torch.tensor(1.5, dtype=torch.float64, requires_grad=True)
        xs = torch.linspace(-2, 2, 5, dtype=torch.float64)
        compiled((xs,), {"s": sigma}).sum().backward()
        expected = (-torch.exp(-xs**2) * torch.special.modified_bessel_i1(xs / 1.5)
                    * xs / 1.5**2).sum()
        assert sigma.grad is not None and torch.allclose(sigma.grad, expected)
        assert plugin_report(reg).plugins[1].functions == ["i0_plugin"]


def test_acl_register_functions_requires_grad_where_torch_has_none() -> None:
    provider = plugin("provider", functions=[(sp.Function("i0_nograd"), no_grad_i0, {})])
    with loaded(ep("provider", provider)) as reg:
        (failure,) = failures_of(reg)
    assert failure.stage == "function" and failure.item == "i0_nograd"
    assert "pass grad=" in failure.message


def test_acl_register_functions_rejects_non_elementwise_and_non_finite() -> None:
    reducer = plugin("reducer", functions=[(sp.Function("total"), torch.sum, {})])
    blowup = plugin("blowup", functions=[(sp.Function("recip"), lambda t: 1 / t,
                                          {"domain": (-1.0, 1.0)})])
    with loaded(ep("reducer", reducer), ep("blowup", blowup)) as reg:
        messages = {f.plugin: f.message for f in failures_of(reg)}
    assert "element-wise tensor" in messages["reducer"]
    assert "not finite" in messages["blowup"]


# -- environment variables --------------------------------------------------------------------
def test_acl_load_plugins_selects_by_name_or_distribution(monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    a = plugin("a", families=[family("from_a")])
    b = plugin("b", families=[family("from_b")])
    eps = (ep("a", a, dist="acl-a"), ep("b", b, dist="acl-b"))
    monkeypatch.setenv("ACL_LOAD_PLUGINS", "a")
    with loaded(*eps) as reg:
        assert set(reg.families()) == {"from_a"}
        assert [p.status for p in plugin_report(reg).plugins] == ["ok", "disabled"]
    monkeypatch.setenv("ACL_LOAD_PLUGINS", " acl_b ,")  # distribution names normalise
    with loaded(*eps) as reg:
        assert set(reg.families()) == {"from_b"}


def test_acl_load_plugins_empty_loads_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACL_LOAD_PLUGINS", "")
    assert selected_names() == []
    with loaded(ep("good", GOOD)) as reg:
        assert reg.families() == {}
        # true on this install: the plugin is installed, only deselected
        with pytest.raises(UnknownFamilyError, match=r"Installed but not loaded, because "
                           r"ACL_LOAD_PLUGINS='' does not select them: plugin 'good'"):
            aclcore.get_family("alpha")


def test_acl_load_plugins_warns_about_unknown_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACL_LOAD_PLUGINS", "god")
    with loaded(ep("good", GOOD)) as reg, pytest.warns(AclPluginWarning, match="'god'"):
        reg.families()
    assert plugin_report(reg).unmatched == ["god"]


def test_strict_mode_raises_listing_every_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACL_STRICT_PLUGINS", "1")
    broken = ep("broken", error=ImportError("no module named broken_dep"))
    bad = plugin("bad", raise_in="acl_register_families")
    with loaded(broken, ep("bad", bad), ep("good", GOOD)):
        with pytest.raises(PluginError) as info:
            aclcore.families()
        assert "broken_dep" in str(info.value) and "bad" in str(info.value)
        with pytest.raises(PluginError, match="failed earlier"):  # stays unusable
            aclcore.get_family("alpha")
        assert cli.main(["plugins"]) == 2


def test_strict_mode_without_failures_loads_normally(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACL_STRICT_PLUGINS", "yes")
    with loaded(ep("good", GOOD)):
        assert set(aclcore.families()) == {"alpha"}


def test_env_values_are_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    assert strict_mode() is False and selected_names() is None
    monkeypatch.setenv("ACL_STRICT_PLUGINS", "maybe")
    with pytest.raises(ConfigError, match="ACL_STRICT_PLUGINS"):
        strict_mode()


# -- laziness and threads ---------------------------------------------------------------------
def test_plugins_load_once_under_concurrent_first_use() -> None:
    calls: list[int] = []
    slow = types.ModuleType("slow")

    @hookimpl
    def acl_register_families(register: Any) -> None:
        calls.append(threading.get_ident())
        time.sleep(0.05)
        register(family("slowpoke"))

    slow.acl_register_families = acl_register_families  # type: ignore[attr-defined]
    registry = Registry(loader=lambda r: load_plugins(r, entry_points=[ep("slow", slow)]))
    results: list[set[str]] = []
    with use_registry(registry):
        threads = [threading.Thread(target=lambda: results.append(set(aclcore.families())))
                   for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len(calls) == 1
    assert results == [{"slowpoke"}] * 8


def test_non_current_registry_is_made_current_while_loading() -> None:
    fn = sp.Function("local_fn")
    p = plugin("p", functions=[(fn, torch.sin, {})],
               families=lambda: [family("uses_local", sp.exp(-x**2) * fn(x / s))])
    registry = Registry(loader=lambda r: load_plugins(r, entry_points=[ep("p", p)]))
    assert set(registry.families()) == {"uses_local"}  # compiled while loading


IMPORT_PROBE = """
import importlib.metadata, json, sys
calls = []
original = importlib.metadata.entry_points
def spy(*args, **kwargs):
    if kwargs.get("group") == "aclcore":  # torch scans its own group at import
        calls.append(kwargs)
    return original(*args, **kwargs)
importlib.metadata.entry_points = spy
import aclcore
from aclcore.plugins import current_registry
state = {
    "plugin_modules": sorted(m for m in sys.modules if m.startswith(("acl_classic",
                                                                     "acl_example"))),
    "entry_point_scans": len(calls),
    "loaded": current_registry().loaded,
}
aclcore.families()
state["scans_after_lookup"] = len(calls)
print(json.dumps(state))
"""


def test_import_aclcore_loads_no_plugin() -> None:
    out = subprocess.run([sys.executable, "-c", IMPORT_PROBE], capture_output=True, text=True,
                         check=True, env={**os.environ, "ACL_LOAD_PLUGINS": ""})
    state = json.loads(out.stdout)
    assert state["plugin_modules"] == []
    assert state["entry_point_scans"] == 0
    assert state["loaded"] is False
    assert state["scans_after_lookup"] == 1  # the probe can see a scan when there is one


def test_a_misspelt_selection_is_said_and_a_close_name_suggested(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACL_LOAD_PLUGINS", "clasic")
    classic = plugin("classic", families=[family("gabor")])
    with loaded(ep("classic", classic, dist="acl-classic", version="0.1.0")), \
            warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(UnknownFamilyError) as info:
            aclcore.get_family("gabor")
    message = str(info.value)
    assert "Known families: none." in message and "no plugins are installed" not in message
    assert "plugin 'classic' (acl-classic 0.1.0)" in message
    assert "ACL_LOAD_PLUGINS names 'clasic', which no installed plugin provides (did you " \
           "mean 'classic'" in message
    assert "pip install" not in message  # acl-classic is installed: never suggest it
    warning = next(w for w in caught if "clasic" in str(w.message))
    assert warning.filename == "ACL_LOAD_PLUGINS" and "did you mean 'classic'" in str(
        warning.message)


def test_failures_are_attributed_to_the_plugins_own_code(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    source = tmp_path / "acl_sloppy.py"
    source.write_text(
        "from aclcore import KernelFamily, Param, hookimpl\n"
        "\n"
        "@hookimpl\n"
        "def acl_register_families(register):\n"
        "    register(KernelFamily('pole_demo', 's/x', ('x',), [Param('s', 1.0)]))\n"
        "    raise RuntimeError('broken after registering')\n")
    broken_import = tmp_path / "acl_broken_import.py"
    broken_import.write_text("import json\n\nx = 1 / 0\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import importlib

    sloppy = importlib.import_module("acl_sloppy")
    entry = ep("broken", error=None)
    entry.load = lambda: importlib.import_module("acl_broken_import")  # type: ignore[method-assign]
    with loaded(ep("sloppy", sloppy), entry), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        aclcore.families()
    where = {(Path(w.filename).name, w.lineno) for w in caught}
    assert ("acl_sloppy.py", 5) in where  # the register(...) call of the rejected family
    assert ("acl_sloppy.py", 6) in where  # the raise in the hook
    assert ("acl_broken_import.py", 3) in where  # where the import failed
    messages = [str(w.message) for w in caught if "broken" in str(w.message)]
    assert any(f"(at {broken_import}:3)" in m for m in messages)


def test_strict_mode_lists_one_failure_per_line(monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ACL_STRICT_PLUGINS", "1")
    bad = plugin("bad", families=["not a family", family("ok")],
                 raise_in="acl_register_families")
    with loaded(ep("bad", bad)):
        with pytest.raises(PluginError) as info:
            aclcore.families()
        assert len(info.value.failures) == 2
        assert cli.main(["families"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "acl: error: 2 plugin failure(s):"
    assert len(err) == 3 and all(line.startswith("  - plugin 'bad'") for line in err[1:])
