"""The registry: look-ups with helpful errors, in-process registration, duplicates, loading."""

from __future__ import annotations

import threading

import pytest
import sympy as sp
import torch
from helpers.plugins import ep, family, loaded, plugin, s, x

import aclcore
from aclcore.errors import AclError, PluginError, UnknownFamilyError
from aclcore.plugins import plugin_report
from aclcore.plugins.registry import (
    IN_PROCESS,
    DuplicateError,
    Registry,
    current_registry,
    use_registry,
)


def test_register_family_and_look_it_up(registry: Registry) -> None:
    fam = family("bump")
    assert aclcore.register_family(fam) is fam
    assert aclcore.get_family("bump") is fam
    assert aclcore.families() == {"bump": fam}
    assert registry.records()["bump"].provider == IN_PROCESS


def test_unknown_family_lists_close_matches_and_sources() -> None:
    good = plugin("good", families=[family("gabor"), family("gaussian")])
    with loaded(ep("good", good, dist="acl-good", version="1.2")), \
            pytest.raises(UnknownFamilyError) as info:
        aclcore.get_family("gabr")
    message = str(info.value)
    assert "Did you mean 'gabor'" in message
    assert "Known families: gabor, gaussian" in message
    assert "plugin 'good' (acl-good 1.2)" in message
    assert "register_family" in message
    assert "pip install" not in message  # plugins are installed: no install advice
    assert isinstance(info.value, LookupError) and isinstance(info.value, AclError)


def test_unknown_family_in_an_empty_registry_says_no_plugins() -> None:
    with pytest.raises(UnknownFamilyError, match=r"No plugin is installed: the classic families "
                       r"come with aclcore's repository \(pip install ./plugins/acl-classic\)"):
        aclcore.get_family("gabor")


def test_duplicate_in_process_registration_names_both_and_replace_swaps() -> None:
    aclcore.register_family(family("bump"))
    aclcore.register_family(family("bump"))  # the identical family again: a no-op
    other = family("bump", sp.exp(-sp.Abs(x) / s))
    with pytest.raises(DuplicateError, match="provided twice"):
        aclcore.register_family(other)
    aclcore.register_family(other, replace=True)
    assert aclcore.get_family("bump") is other


def test_in_process_registration_loads_plugins_first_and_can_shadow() -> None:
    with loaded(ep("early", plugin("early", families=[family("bump")]), dist="acl-early",
                   version="1.0")) as reg:
        mine = family("bump", sp.exp(-sp.Abs(x) / s))
        with pytest.raises(DuplicateError) as info:
            aclcore.register_family(mine)  # before any look-up: plugins load first
        assert "by plugin 'early' (acl-early 1.0) and by <in-process>" in str(info.value)
        assert "replace=True" in str(info.value)
        aclcore.register_family(mine, replace=True)
        assert aclcore.get_family("bump") is mine
        report = plugin_report(reg)
        assert report.in_process == ["bump"] and report.failures == []


def test_in_process_function_clashing_with_a_plugin_names_both() -> None:
    fn = sp.Function("shared_fn")
    with loaded(ep("p", plugin("p", functions=[(fn, torch.sin, {})]))), \
            pytest.raises(DuplicateError, match="by p and by <in-process>"):
        aclcore.register_function(fn, torch.cos)


def test_register_function_in_process_is_used_by_families(registry: Registry) -> None:
    twice = sp.Function("twice_reg")
    aclcore.register_function(twice, lambda t: 2 * t)
    assert registry.functions()["twice_reg"].provider == IN_PROCESS
    fam = aclcore.register_family(family("doubled", twice(x / s)))
    out = aclcore.compile_family(fam)((torch.tensor([1.5]),), {"s": torch.tensor(1.0)})
    assert float(out) == 3.0


def test_add_family_rejects_non_families(registry: Registry) -> None:
    with pytest.raises(PluginError, match=r"not an aclcore\.KernelFamily"):
        registry.add_family("gabor")  # type: ignore[arg-type]


def test_remove_family(registry: Registry) -> None:
    aclcore.register_family(family("bump"))
    registry.remove_family("bump")
    registry.remove_family("bump")
    assert registry.families() == {}


def test_use_registry_restores_the_previous_one(registry: Registry) -> None:
    with use_registry() as inner:
        assert current_registry() is inner and inner is not registry
        assert inner.families() == {}
    assert current_registry() is registry


def test_loader_runs_once_and_other_threads_wait_for_it() -> None:
    seen: list[tuple[str, object]] = []
    waiter_result: list[set[str]] = []
    waiter = threading.Thread(target=lambda: waiter_result.append(set(reg.families())))

    def loader(reg: Registry) -> None:
        seen.append(("loader thread", reg.loading_in_this_thread))
        reg.ensure_loaded()  # re-entrant: returns immediately
        probe = threading.Thread(
            target=lambda: seen.append(("other thread", reg.loading_in_this_thread)))
        probe.start()
        probe.join()  # checked while this thread is still loading
        waiter.start()  # its look-up must wait for this load to finish, not see it half done
        reg.add_family(family("late"))

    reg = Registry(loader=loader)
    assert not reg.loaded
    assert set(reg.families()) == {"late"}
    reg.families()
    waiter.join()
    assert seen == [("loader thread", True), ("other thread", False)]
    assert waiter_result == [{"late"}]
    assert reg.loaded and not reg.loading_in_this_thread


def test_a_failed_loader_keeps_failing() -> None:
    def loader(reg: Registry) -> None:
        raise PluginError("strict mode says no")

    reg = Registry(loader=loader)
    with pytest.raises(PluginError, match="strict mode says no"):
        reg.families()
    with pytest.raises(PluginError, match="failed earlier: strict mode says no"):
        reg.get_family("gabor")
