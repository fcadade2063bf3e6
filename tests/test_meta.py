"""Meta-tests: the public surface is documented, modules stay small, imports stay lazy."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import aclcore

ROOT = Path(aclcore.__file__).resolve().parent
MODULES = sorted(
    m.name for m in pkgutil.iter_modules([str(ROOT)]) if m.name != "__main__"
)
PUBLIC = [m for m in MODULES if not m.startswith("_")]


@pytest.mark.parametrize("name", MODULES)
def test_every_module_has_a_docstring_and_stays_small(name: str) -> None:
    module = importlib.import_module(f"aclcore.{name}")
    assert inspect.getdoc(module), f"aclcore.{name} has no module docstring"
    lines = (ROOT / f"{name}.py").read_text().count("\n")
    assert lines <= 400, f"aclcore/{name}.py has {lines} lines: split it by responsibility"


@pytest.mark.parametrize("name", PUBLIC)
def test_every_public_name_has_a_docstring(name: str) -> None:
    module = importlib.import_module(f"aclcore.{name}")
    for attr in getattr(module, "__all__", []):
        obj = getattr(module, attr)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert inspect.getdoc(obj), f"aclcore.{name}.{attr} has no docstring"
            if inspect.isclass(obj):
                for meth_name, meth in vars(obj).items():
                    if not meth_name.startswith("_") and inspect.isfunction(meth):
                        assert inspect.getdoc(meth), f"{name}.{attr}.{meth_name}: no docstring"


def test_top_level_all_resolves_and_is_documented() -> None:
    for attr in aclcore.__all__:
        obj = getattr(aclcore, attr)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert inspect.getdoc(obj), attr


def test_package_is_typed() -> None:
    assert (ROOT / "py.typed").is_file()


def test_import_is_lazy_and_loads_no_plugin() -> None:
    code = (
        "import sys, aclcore; "
        "heavy = [m for m in ('aclcore.nn', 'aclcore.export', 'aclcore.parse', 'matplotlib', "
        "'acl_classic', 'acl_example', 'aclcore.plugins') if m in sys.modules]; "
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]", out.stdout
