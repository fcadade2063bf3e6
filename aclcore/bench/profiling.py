"""What dominates a figure: the operators, Python functions or imports that take the time.

* :func:`top_ops` -- the torch profiler's self CPU time per operator (forward and autograd
  nodes), as shares of the total;
* :func:`top_functions` -- :mod:`cProfile`'s internal time per Python function (work that is
  not torch operators: SymPy in the compiler, the fitting loop's bookkeeping);
* :func:`top_imports` -- ``python -X importtime``'s own time of each module, summed per
  top-level package, for a fresh interpreter running a command (start-up).
"""

from __future__ import annotations

import cProfile
import os
import pstats
import subprocess
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence

__all__ = ["top_functions", "top_imports", "top_ops"]


def top_ops(fn: Callable[[], object], *, runs: int = 3, top: int = 6,
            warmup: int = 2) -> list[tuple[str, float]]:
    """The ``top`` operators by self CPU time over ``runs`` calls: ``(name, share)``."""
    from torch.profiler import ProfilerActivity, profile

    for _ in range(warmup):
        fn()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(runs):
                fn()
    events = [e for e in prof.key_averages() if e.self_cpu_time_total > 0]
    total = sum(e.self_cpu_time_total for e in events) or 1.0
    events.sort(key=lambda e: -e.self_cpu_time_total)
    return [(e.key, e.self_cpu_time_total / total) for e in events[:top]]


def top_functions(fn: Callable[[], object], *, top: int = 6) -> list[tuple[str, float]]:
    """The ``top`` Python functions by internal time in one call: ``(where, share)``."""
    profiler = cProfile.Profile()
    profiler.enable()
    fn()
    profiler.disable()
    stats = pstats.Stats(profiler)
    rows = [(f"{os.path.basename(file)}:{line}({name})", tottime)
            for (file, line, name), (_, _, tottime, _, _) in stats.stats.items()]  # type: ignore[attr-defined]
    total = sum(t for _, t in rows) or 1.0
    rows.sort(key=lambda r: -r[1])
    return [(where, t / total) for where, t in rows[:top]]


def top_imports(argv: Sequence[str], *, env: Mapping[str, str] | None = None,
                top: int = 6) -> list[tuple[str, float]]:
    """The ``top`` top-level packages by import time (their modules' own times summed, at
    any depth) when ``argv`` (a command line; ``[sys.executable, ...]`` implied for
    ``-c``/``-m`` forms) starts: ``(package, seconds)``."""
    command = list(argv)
    if command and command[0] in ("-c", "-m"):
        command = [sys.executable, *command]
    full_env = dict(os.environ)
    full_env.update(env or {})
    full_env["PYTHONPROFILEIMPORTTIME"] = "1"
    out = subprocess.run(command, env=full_env, capture_output=True, text=True, check=False)
    totals: dict[str, float] = {}
    for line in out.stderr.splitlines():
        fields = line.removeprefix("import time:").split("|")
        if not line.startswith("import time:") or len(fields) != 3:
            continue
        own = fields[0].strip()
        if not own.isdigit():
            continue  # the header
        package = fields[2].strip().split(".")[0]
        totals[package] = totals.get(package, 0.0) + int(own) / 1e6
    ranked = sorted(totals.items(), key=lambda kv: -kv[1])
    return ranked[:top]
