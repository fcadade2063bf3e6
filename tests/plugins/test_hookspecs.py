"""Hook specifications: markers, documentation, and the meta-tests over every hook."""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Any

import pluggy
import pytest

import aclcore
from aclcore import hookspecs

ROOT = Path(__file__).resolve().parents[2]
HOOKS = sorted(n for n in dir(hookspecs) if n.startswith("acl_"))


class _Raw(str):
    """An annotation string that ``inspect`` prints without quotes."""

    def __repr__(self) -> str:
        return str(self)


def signature(fn: Any, *, drop_self: bool = False) -> str:
    """``(arg: Type, ...) -> Ret`` exactly as written in the source."""
    sig = inspect.signature(fn)
    params = list(sig.parameters.values())[1 if drop_self else 0:]
    params = [p.replace(annotation=_Raw(p.annotation)) for p in params]
    return str(sig.replace(parameters=params, return_annotation=_Raw(sig.return_annotation)))


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_markers_use_the_project_name() -> None:
    assert hookspecs.PROJECT_NAME == "aclcore"
    assert isinstance(hookspecs.hookimpl, pluggy.HookimplMarker)
    assert hookspecs.hookimpl.project_name == hookspecs.hookspec.project_name == "aclcore"
    assert aclcore.hookimpl is hookspecs.hookimpl


def test_hooks_are_the_documented_pair() -> None:
    assert HOOKS == ["acl_register_families", "acl_register_functions"]


@pytest.mark.parametrize("name", HOOKS)
def test_every_hook_is_a_typed_spec_with_the_docstring_template(name: str) -> None:
    fn = getattr(hookspecs, name)
    assert getattr(fn, "aclcore_spec", None) is not None, "not marked with @hookspec"
    for section in ("What:", "When:", "Arguments:", "What to register:"):
        assert section in (fn.__doc__ or ""), f"{name} docstring lacks {section!r}"
    sig = inspect.signature(fn)
    assert all(p.annotation is not inspect.Parameter.empty for p in sig.parameters.values())
    assert sig.return_annotation == "None"


@pytest.mark.parametrize("name", HOOKS)
def test_every_hook_is_documented_with_its_exact_signature(name: str) -> None:
    docs = (ROOT / "docs" / "hooks.md").read_text()
    expected = name + signature(getattr(hookspecs, name))
    assert squash(expected) in squash(docs), f"docs/hooks.md lacks {expected!r}"
    assert f"## `{name}`" in docs


@pytest.mark.parametrize("protocol", [hookspecs.RegisterFamily, hookspecs.RegisterFunction])
def test_register_callables_are_documented_with_their_exact_signature(protocol: Any) -> None:
    docs = (ROOT / "docs" / "hooks.md").read_text()
    expected = "register" + signature(protocol.__call__, drop_self=True)
    assert squash(expected) in squash(docs), f"docs/hooks.md lacks {expected!r}"


@pytest.mark.parametrize("name", HOOKS)
def test_every_hook_has_a_test(name: str) -> None:
    tests = "\n".join(p.read_text() for p in (ROOT / "tests").rglob("test_*.py"))
    assert re.search(rf"def test_{name}_\w+", tests), f"no test named test_{name}_..."


def test_plugin_manager_accepts_the_specs() -> None:
    pm = pluggy.PluginManager("aclcore")
    pm.add_hookspecs(hookspecs)
    for name in HOOKS:
        assert getattr(pm.hook, name).spec.argnames == ("register",)
