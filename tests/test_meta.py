"""Meta-tests: every module and public name is documented, imports stay lazy."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import aclcore

MODULES = sorted(
    m.name for m in pkgutil.walk_packages(aclcore.__path__, "aclcore.")
    if not m.name.endswith("__main__")
)
PUBLIC = [m for m in MODULES if not any(part.startswith("_") for part in m.split("."))]


def test_the_pipeline_packages_are_found() -> None:
    for package in ("symbolic", "compile", "plugins", "nn", "export", "cli"):
        assert f"aclcore.{package}" in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_every_module_has_a_docstring(name: str) -> None:
    module = importlib.import_module(name)
    assert inspect.getdoc(module), f"{name} has no module docstring"


@pytest.mark.parametrize("name", PUBLIC)
def test_every_public_name_has_a_docstring(name: str) -> None:
    module = importlib.import_module(name)
    for attr in getattr(module, "__all__", []):
        obj = getattr(module, attr)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert inspect.getdoc(obj), f"{name}.{attr} has no docstring"
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
    assert (Path(aclcore.__path__[0]) / "py.typed").is_file()


def test_import_is_lazy_and_loads_no_plugin() -> None:
    code = (
        "import sys, aclcore; "
        "heavy = [m for m in ('aclcore.nn', 'aclcore.export', 'aclcore.cli', 'matplotlib', "
        "'acl_classic', 'acl_example') if m in sys.modules]; "
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]", out.stdout
