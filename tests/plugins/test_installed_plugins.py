"""The real entry-point path with the installed acl-classic and acl-example distributions.

Install them with ``pip install --no-deps -e plugins/acl-classic -e plugins/acl-example``
(the README's test command does); each test skips with that hint when they are missing.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
from typing import Any

import pytest

from aclcore import cli
from aclcore.plugins.registry import Registry, use_registry
from aclcore.testing import assert_family_ok, installed_families, plugin_registry


def _installed(dist: str) -> bool:
    try:
        importlib.metadata.distribution(dist)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


HAVE_BOTH = _installed("acl-classic") and _installed("acl-example")
needs_plugins = pytest.mark.skipif(
    not HAVE_BOTH,
    reason="acl-classic/acl-example not installed: "
    "pip install --no-deps -e plugins/acl-classic -e plugins/acl-example",
)
pytestmark = needs_plugins

CLASSIC = {"gaussian", "anisotropic_gaussian", "gaussian_1d", "gaussian_3d", "gaussian_d1",
           "gaussian_d2", "log", "dog", "gabor", "sinusoid", "gabor_1d", "sinc_bandpass"}


def acl(*argv: str, **env: str) -> tuple[int, Any]:
    out = subprocess.run([sys.executable, "-m", "aclcore", *argv], capture_output=True,
                         text=True, env={**os.environ, **env})
    return out.returncode, json.loads(out.stdout) if "--json" in argv else out.stdout


def test_entry_points_are_installed() -> None:
    eps = {ep.name: ep.value for ep in importlib.metadata.entry_points(group="aclcore")}
    assert eps["classic"] == "acl_classic" and eps["example"] == "acl_example"


def test_real_entry_points_load_both_plugins() -> None:
    with plugin_registry(installed=True) as registry:
        records = registry.records()
        assert CLASSIC | {"gaussian_ring"} <= set(records)
        assert (records["gabor"].provider, records["gabor"].distribution) == (
            "classic", "acl-classic")
        ring = records["gaussian_ring"]
        assert (ring.provider, ring.distribution, ring.version) == (
            "example", "acl-example", importlib.metadata.version("acl-example"))
        assert registry.functions()["i0e"].provider == "example"


def test_acl_plugins_json_lists_the_installed_plugins() -> None:
    code, data = acl("plugins", "--json")
    assert code == 0, data["failures"]
    by_name = {p["name"]: p for p in data["plugins"]}
    assert set(by_name["classic"]["families"]) == CLASSIC
    assert by_name["example"]["functions"] == ["i0e"]
    assert by_name["example"]["distribution"] == "acl-example"


def in_process(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any]:
    """Run ``acl`` in this process on a fresh registry with the default (entry-point) loader."""
    with use_registry(Registry()):
        code = cli.main(list(argv))
    out = capsys.readouterr().out
    return code, json.loads(out) if "--json" in argv else out


def test_acl_load_plugins_selects_an_installed_plugin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACL_LOAD_PLUGINS", "example")
    code, data = in_process(capsys, "plugins", "--json")
    status = {p["name"]: p["status"] for p in data["plugins"]}
    assert code == 0 and status["example"] == "ok" and status["classic"] == "disabled"
    monkeypatch.setenv("ACL_LOAD_PLUGINS", "acl-classic")
    code, families = in_process(capsys, "families", "--json")
    assert code == 0 and {f["name"] for f in families} == CLASSIC


def test_acl_show_uses_a_plugin_function(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = in_process(capsys, "show", "gaussian_ring", "--size", "9")
    assert code == 0 and "i0e(" in out and "kernel 9x9" in out


def test_import_then_lookup_loads_the_plugins_lazily() -> None:
    probe = ("import sys, aclcore; before = [m for m in sys.modules if m.startswith('acl_')]; "
             "aclcore.get_family('gabor'); "
             "print(before, sorted(m for m in sys.modules if m in ('acl_classic', "
             "'acl_example')))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[] ['acl_classic', 'acl_example']"


INSTALLED = sorted(installed_families()) if HAVE_BOTH else []


@pytest.mark.parametrize("name", INSTALLED)
def test_every_installed_family_passes_the_contract(name: str) -> None:
    with plugin_registry(installed=True) as registry:
        assert_family_ok(registry.get_family(name), max_examples=15)


def test_the_contract_covers_every_installed_family() -> None:
    assert CLASSIC | {"gaussian_ring"} <= set(INSTALLED)


def test_listings_with_every_installed_plugin_import_no_torch() -> None:
    code = ("import contextlib, sys, aclcore\nfrom aclcore.cli import main\n"
            "names = aclcore.families()\nmain(['families'])\nmain(['plugins'])\n"
            "with contextlib.suppress(SystemExit): main(['--version'])\n"
            "print(sorted(names), 'torch' in sys.modules)")
    env = {k: v for k, v in os.environ.items() if k != "ACL_LOAD_PLUGINS"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env=env)
    names, torch_loaded = out.stdout.strip().splitlines()[-1].rsplit(" ", 1)
    # acl-example registers torch.special:i0e by import path: listing imports no torch
    assert "gaussian_ring" in names
    assert torch_loaded == "False", out.stdout
