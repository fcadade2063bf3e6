"""A pip-installed plugin that declares its families from formula strings at module level.

Declaring a family must never start plugin discovery: a parse that looked the plugins up
while this very plugin was half imported made it "implement no aclcore hook" and its families
unknown. Its own function, used by a string family before its ``acl_register_functions`` hook
has run, is resolved when the family is compiled.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PLUGIN = '''
"""acl-ringtest: families declared from formula strings when the module is imported."""

import sympy as sp
import torch

from aclcore import KernelFamily, Param, hookimpl

RING = KernelFamily("ringtest", "exp(-(x**2 + y**2)/s**2)*(x**2 + y**2)", ("x", "y"),
                    [Param("s", init=(1.0, 2.0), constraint="positive")])
# uses this plugin's own function, registered only later by the hook below
SOFT = KernelFamily("softtest", "softsign(a*x)", ("x",), [Param("a", init=1.0)])


class softsign(sp.Function):
    nargs = 1


@hookimpl
def acl_register_functions(register):
    register(softsign, lambda t: t / (1 + torch.abs(t)), domain=(-3.0, 3.0))


@hookimpl
def acl_register_families(register):
    register(RING)
    register(SOFT)
'''

PYPROJECT = '''
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "acl-ringtest"
version = "0.3.0"
dependencies = []

[project.entry-points.aclcore]
ringtest = "acl_ringtest"
'''

PROBE = '''
import json, warnings
import torch
import aclcore
from aclcore.plugins import plugin_report
from aclcore.nn import AnalyticConv2d, AnalyticConv1d
warnings.simplefilter("error")  # a plugin failure is a warning: make it fail the probe
report = plugin_report()
record = next(p for p in report.plugins if p.name == "ringtest")
ring = AnalyticConv2d(1, 2, 5, families="ringtest")
soft = AnalyticConv1d(1, 2, 5, families="softtest")
print(json.dumps({
    "status": record.status, "families": record.families, "functions": record.functions,
    "failures": [str(f) for f in report.failures],
    "finite": bool(torch.isfinite(ring.weight).all() and torch.isfinite(soft.weight).all()),
}))
'''


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ringtest")
    src = root / "src"
    (src / "acl_ringtest").mkdir(parents=True)
    (src / "acl_ringtest" / "__init__.py").write_text(textwrap.dedent(PLUGIN))
    (src / "pyproject.toml").write_text(textwrap.dedent(PYPROJECT))
    target = root / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                    "--no-build-isolation", "--target", str(target), str(src)],
                   check=True, capture_output=True, text=True)
    return target


@pytest.mark.real_registry
@pytest.mark.parametrize("strict", ["0", "1"])
def test_module_level_string_families_load_from_a_pip_installed_plugin(site: Path,
                                                                       strict: str) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [
        str(site), os.environ.get("PYTHONPATH")])), "ACL_STRICT_PLUGINS": strict}
    env.pop("ACL_LOAD_PLUGINS", None)
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                         env=env)
    assert out.returncode == 0, out.stderr
    state = json.loads(out.stdout)
    assert state == {"status": "ok", "families": ["ringtest", "softtest"],
                     "functions": ["softsign"], "failures": [], "finite": True}
