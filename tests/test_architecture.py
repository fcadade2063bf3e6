"""The pipeline's import rule is enforced: the import-linter contracts hold, and they fail on
an upward import, also one hidden inside a function (docs/architecture.md)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import aclcore

ROOT = Path(__file__).resolve().parents[1]
LINT = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")

pytestmark = pytest.mark.skipif(not Path(LINT).exists(),
                                reason="import-linter is not installed (pip install -e '.[dev]')")


def _lint(package_parent: Path, config: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(package_parent)}
    return subprocess.run([LINT, "--config", str(config), "--no-cache"], capture_output=True,
                          text=True, env=env, cwd=package_parent)


def _copy(tmp_path: Path) -> tuple[Path, Path]:
    shutil.copytree(Path(aclcore.__file__).parent, tmp_path / "aclcore",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path / "aclcore", tmp_path / "pyproject.toml"


def test_the_contracts_hold(tmp_path: Path) -> None:
    _, config = _copy(tmp_path)
    out = _lint(tmp_path, config)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "0 broken" in out.stdout


@pytest.mark.parametrize(("module", "line", "contract"), [
    ("symbolic/family.py", "    from aclcore.plugins import registry  # noqa",
     "Pipeline stages import only downwards"),
    ("nn/functional.py", "    import aclcore.export.api  # noqa", "Pipeline stages"),
    ("export/json_read.py", "    from aclcore import grid  # noqa",
     "Compatibility paths are for users only"),
])
def test_an_upward_import_inside_a_function_breaks_a_contract(
        tmp_path: Path, module: str, line: str, contract: str) -> None:
    package, config = _copy(tmp_path)
    path = package / module
    path.write_text(path.read_text() + f"\n\ndef _sneaky() -> None:\n{line}\n")
    out = _lint(tmp_path, config)
    assert out.returncode != 0
    assert f"{contract}" in out.stdout and "BROKEN" in out.stdout, out.stdout
