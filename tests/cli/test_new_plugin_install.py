"""End to end: ``acl new-plugin`` from a fresh, non-editable installation of aclcore, the
generated plugin pip-installed next to it, its own tests run unchanged, ``acl plugins`` ok.

The single slow test of the scaffold (a fresh virtual environment installs torch from the
local wheel: 20-60 s). aclcore is built from a copy of this checkout's sources (so the build
writes nothing here) and installed non-editable, which also proves that the template ships
as package data (``[tool.setuptools.package-data]``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run(args: list[str], cwd: Path, env: dict[str, str], timeout: int = 900) -> str:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)
    assert done.returncode == 0, (args, done.stdout[-4000:], done.stderr[-4000:])
    return done.stdout


@pytest.mark.slow
def test_a_generated_plugin_installs_passes_its_tests_and_loads(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    bin_dir = venv / ("Scripts" if os.name == "nt" else "bin")
    python = str(bin_dir / "python")
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "ACL_LOAD_PLUGINS", "ACL_STRICT_PLUGINS")}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    pip = [python, "-m", "pip", "install", "-q", "--disable-pip-version-check",
           "-c", str(ROOT / "constraints.txt")]
    source = tmp_path / "aclcore-src"
    shutil.copytree(ROOT / "aclcore", source / "aclcore",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    _run([*pip, str(source)], tmp_path, env)
    plugin = tmp_path / "acl-zqring"
    out = _run([str(bin_dir / "acl"), "new-plugin", "acl-zqring", "--dir", str(plugin)],
               tmp_path, env)
    assert "wrote the plugin acl-zqring" in out
    _run([*pip, f"{plugin}[test]"], tmp_path, env)
    # the generated tests, unchanged, against the installed aclcore and plugin
    out = _run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider"], plugin, env)
    assert " passed" in out and "skipped" not in out and "failed" not in out, out
    out = _run([str(bin_dir / "acl"), "plugins"], tmp_path, env)
    assert out.splitlines()[0] == "zqring  [ok]  acl-zqring 0.1.0", out
    assert "families (2): zqring_lorentzian, zqring_ring_wave" in out
    assert out.rstrip().endswith("no failures")
    # nothing of this checkout was used: aclcore came from the fresh installation
    where = _run([python, "-c", "import aclcore; print(aclcore.__file__)"], tmp_path, env)
    assert str(venv) in where
