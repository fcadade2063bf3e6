"""Every script of the repository parses its command line: ``--help`` helps and does nothing.

A script is any ``.py`` file with an ``if __name__ == "__main__":`` block (``docs/*.py``,
``benchmarks/*.py``, ``docs/fitting/*.py``, ...). ``python SCRIPT --help`` must print a usage
and exit 0 without writing anything (``docs/make_card.py --help`` once trained a model and
wrote a directory named ``--help/``), and an unknown option must be refused with status 2.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import runpy
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_SKIP = {".git", ".venv", "venv", "build", "dist", "site", "runs", "node_modules",
         "__pycache__", ".hypothesis", ".mypy_cache", ".ruff_cache", ".pytest_cache"}
_GUARD = re.compile(r"^if __name__ == [\"']__main__[\"']:", re.M)


def _scripts() -> list[Path]:
    found = []
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in _SKIP and not d.endswith(".egg-info")]
        for name in files:
            path = Path(folder) / name
            if name.endswith(".py") and _GUARD.search(path.read_text(encoding="utf-8")):
                found.append(path)
    return sorted(found)


SCRIPTS = _scripts()


def _run(script: Path, args: list[str], cwd: Path,
         monkeypatch: pytest.MonkeyPatch) -> tuple[object, str, str]:
    monkeypatch.chdir(cwd)
    monkeypatch.setattr(sys, "argv", [str(script), *args])
    monkeypatch.syspath_prepend(str(script.parent))
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
            pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(script), run_name="__main__")
    return exit_info.value.code, out.getvalue(), err.getvalue()


def test_the_known_scripts_are_found() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in SCRIPTS}
    assert {"docs/make_card.py", "docs/make_figures.py", "benchmarks/bench_layer.py",
            "docs/fitting/make_banks.py"} <= names


@pytest.mark.real_registry
@pytest.mark.parametrize("script", SCRIPTS, ids=[p.relative_to(ROOT).as_posix() for p in SCRIPTS])
def test_help_prints_usage_and_does_nothing(script: Path, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, _ = _run(script, ["--help"], tmp_path, monkeypatch)
    assert code == 0
    assert out.startswith("usage: ") and "--help" in out
    assert list(tmp_path.iterdir()) == []  # nothing written where it ran
    code, _, err = _run(script, ["--no-such-option"], tmp_path, monkeypatch)
    assert code == 2 and ": error: " in err  # refused (or required arguments missing)
    assert list(tmp_path.iterdir()) == []
