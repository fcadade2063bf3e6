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


SAVE = """
import sys, torch
from aclcore.nn import AnalyticConv2d
from aclcore.export.checkpoint import save_checkpoint
torch.manual_seed(0)
model = torch.nn.Sequential(AnalyticConv2d(1, 2, 5, families="ringtest"))
torch.save(model.state_dict(), sys.argv[1])
save_checkpoint(model, sys.argv[2])
torch.save(model[0].weight.detach(), sys.argv[3])
"""

LOAD = """
import sys, json, torch
from aclcore.errors import UnknownFamilyError
from aclcore.export.checkpoint import load_checkpoint
try:
    load_checkpoint(sys.argv[1])
    plain = "loaded"
except UnknownFamilyError as err:
    plain = str(err)
embedded = load_checkpoint(sys.argv[2]).layers["0"].weight.detach()
same = bool(torch.equal(embedded, torch.load(sys.argv[3], weights_only=True)))
print(json.dumps({"plain": plain, "embedded_equal": same}))
"""


@pytest.mark.real_registry
def test_a_model_whose_plugin_was_uninstalled_names_the_family_and_distribution(
        site: Path, tmp_path: Path) -> None:
    files = [str(tmp_path / n) for n in ("plain.pt", "aclcore.pt", "weight.pt")]
    with_plugin = {**os.environ, "PYTHONPATH": str(site)}
    with_plugin.pop("ACL_LOAD_PLUGINS", None)
    subprocess.run([sys.executable, "-c", SAVE, *files], check=True, env=with_plugin,
                   capture_output=True)
    without = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",
                                                                  "ACL_LOAD_PLUGINS")}
    out = subprocess.run([sys.executable, "-c", LOAD, *files], capture_output=True, text=True,
                         env=without)
    assert out.returncode == 0, out.stderr
    state = json.loads(out.stdout)
    # a plain state dict stores family names: the error says which family and where it came
    # from; an aclcore checkpoint embeds the formulas and loads without the plugin
    assert "'ringtest', which is not installed" in state["plain"]
    assert "plugin 'ringtest' (acl-ringtest 0.3.0)" in state["plain"]
    assert "pip install acl-ringtest" in state["plain"]
    assert state["embedded_equal"] is True
