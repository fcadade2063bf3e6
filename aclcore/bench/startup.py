"""Start-up: ``acl`` commands and ``import aclcore`` + discovery against ``import torch``.

Every program runs in a fresh interpreter (nothing cached in-process), the programs
alternating round by round; the figure is the round's wall time of the program over that of
``python -c "import torch"`` in the same round. The ``acl`` listings are measured with
``ACL_LOAD_PLUGINS=classic`` (acl-classic only: it imports no torch) and with every installed
plugin (acl-example registers ``torch.special:i0e`` by import path: the listings import no
torch; ``acl plugins --check``, which imports and checks such functions, is not a listing).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from aclcore.bench.harness import Comparison, Stats

__all__ = ["TARGETS", "Program", "acl_command", "measure_startup", "programs", "verdict"]


@dataclass(frozen=True)
class Program:
    """One start-up measurement: a command line and extra environment variables."""

    argv: tuple[str, ...]
    env: Mapping[str, str]


def acl_command() -> tuple[str, ...]:
    """The ``acl`` console script next to this interpreter, else ``python -m aclcore``."""
    script = Path(sys.executable).with_name("acl")
    return (str(script),) if script.exists() else (sys.executable, "-m", "aclcore")


_DISCOVERY = "import aclcore; aclcore.families()"
_ALL: Mapping[str, str] = {}
_CLASSIC: Mapping[str, str] = {"ACL_LOAD_PLUGINS": "classic"}


def programs() -> dict[str, Program]:
    """The programs of the start-up figures, the baseline ``import torch`` first."""
    acl = acl_command()
    return {
        "import torch": Program((sys.executable, "-c", "import torch"), _ALL),
        "acl --version": Program((*acl, "--version"), _ALL),
        "acl --help": Program((*acl, "--help"), _ALL),
        "acl families (classic)": Program((*acl, "families"), _CLASSIC),
        "acl plugins (classic)": Program((*acl, "plugins"), _CLASSIC),
        "acl families (all plugins)": Program((*acl, "families"), _ALL),
        "acl plugins (all plugins)": Program((*acl, "plugins"), _ALL),
        "import aclcore + discovery (classic)": Program((sys.executable, "-c", _DISCOVERY),
                                                        _CLASSIC),
        "import aclcore + discovery (all plugins)": Program((sys.executable, "-c", _DISCOVERY),
                                                            _ALL),
    }


#: Targets of issue 12: seconds for the ``acl`` programs, a ratio to ``import torch`` for
#: ``import aclcore`` + discovery.
TARGETS: Mapping[str, tuple[str, float]] = {
    "acl --version": ("seconds", 0.3),
    "acl --help": ("seconds", 0.3),
    "acl families (classic)": ("seconds", 1.0),
    "acl plugins (classic)": ("seconds", 1.0),
    "acl families (all plugins)": ("seconds", 1.0),
    "acl plugins (all plugins)": ("seconds", 1.0),
    "import aclcore + discovery (classic)": ("ratio", 1.3),
    "import aclcore + discovery (all plugins)": ("ratio", 1.3),
}


def _wall(program: Program) -> float:
    env = dict(os.environ)
    env.pop("ACL_LOAD_PLUGINS", None)
    env.update(program.env)
    start = time.perf_counter()
    subprocess.run(program.argv, env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def measure_startup(*, rounds: int = 5, names: tuple[str, ...] | None = None) -> Comparison:
    """Wall seconds of each program per round (fresh interpreters, alternating); the
    baseline is ``import torch``. ``names`` selects programs (the baseline is always run)."""
    table = programs()
    chosen = [n for n in table if names is None or n in names or n == "import torch"]
    for name in chosen:  # warm the file cache
        _wall(table[name])
    result = Comparison("import torch", {n: [] for n in chosen}, clock="wall")
    for r in range(max(rounds, 1)):
        order = chosen[r % len(chosen):] + chosen[:r % len(chosen)]
        for name in order:
            result.times[name].append(_wall(table[name]))
    return result


def verdict(name: str, comparison: Comparison) -> str:
    """Whether ``name`` meets its target (``"met"``/``"missed"``; ``""`` without one)."""
    if name not in TARGETS:
        return ""
    kind, limit = TARGETS[name]
    value: Stats = comparison.time(name) if kind == "seconds" else comparison.ratio(name)
    return "met" if value.median <= limit else "missed"
