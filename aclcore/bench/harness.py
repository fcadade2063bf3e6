"""The timing rule of every aclcore benchmark: paired rounds, one clock, ratios.

A benchmark compares *cases* (callables doing one unit of work: a forward + backward pass, a
training step) with a *baseline* measured in the same run. :func:`compare` runs ``rounds``
rounds; in each round every case runs ``repeats`` times back to back and its time per call is
recorded, the order of the cases rotating from round to round. A round's ratio case /
baseline pairs two measurements taken seconds apart, so a drift of the machine (other
processes on a shared CPU) hits both; the median over rounds and the spread (interquartile
range, and min..max) are reported.

The clock is the CPU time of the calling thread (:func:`time.thread_time`) when torch uses one
thread (:func:`torch_threads`), which other processes' load does not inflate, and wall time
otherwise (the work then runs on torch's worker threads too).
"""

from __future__ import annotations

import contextlib
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

__all__ = ["Comparison", "Stats", "compare", "machine", "pick_clock", "torch_threads"]


@dataclass(frozen=True)
class Stats:
    """Median and spread of a list of samples."""

    median: float
    q25: float
    q75: float
    low: float
    high: float
    n: int

    @classmethod
    def of(cls, samples: Sequence[float]) -> Stats:
        """The statistics of ``samples`` (at least one)."""
        values = sorted(samples)
        if len(values) == 1:
            v = values[0]
            return cls(v, v, v, v, v, 1)
        q = statistics.quantiles(values, n=4, method="inclusive")
        return cls(statistics.median(values), q[0], q[2], values[0], values[-1], len(values))

    def to_dict(self) -> dict[str, float | int]:
        """The fields as a JSON-ready dict."""
        return {"median": self.median, "q25": self.q25, "q75": self.q75, "min": self.low,
                "max": self.high, "n": self.n}


@dataclass
class Comparison:
    """Per-round times (seconds per call) of every case of one comparison."""

    baseline: str
    times: dict[str, list[float]] = field(default_factory=dict)
    clock: str = "thread"
    repeats: int = 1

    def time(self, name: str) -> Stats:
        """Seconds per call of ``name``."""
        return Stats.of(self.times[name])

    def ratio(self, name: str, baseline: str | None = None) -> Stats:
        """Round-by-round ratio ``name / baseline`` (default: the comparison's baseline)."""
        base = self.times[baseline or self.baseline]
        return Stats.of([a / b for a, b in zip(self.times[name], base, strict=True)])


def pick_clock(clock: str = "auto") -> Callable[[], float]:
    """``"thread"`` (CPU time of this thread), ``"wall"``, or ``"auto"``: thread time when
    torch runs on one thread, else wall time."""
    if clock == "auto":
        clock = "thread" if torch.get_num_threads() == 1 else "wall"
    if clock == "thread":
        return time.thread_time
    if clock == "wall":
        return time.perf_counter
    raise ValueError(f"clock must be 'auto', 'thread' or 'wall', got {clock!r}")


def compare(
    cases: Mapping[str, Callable[[], object]],
    *,
    baseline: str,
    rounds: int = 11,
    repeats: int = 5,
    warmup: int = 2,
    clock: str = "auto",
) -> Comparison:
    """Time every case in alternating rounds (see the module docstring).

    Args:
        cases: name -> callable doing one unit of work; must include ``baseline``.
        baseline: the case the ratios are taken against.
        rounds: rounds (ratio samples).
        repeats: calls per case and round (their mean is the round's time).
        warmup: untimed calls of every case first.
        clock: see :func:`pick_clock`.
    """
    if baseline not in cases:
        raise ValueError(f"baseline {baseline!r} is not one of the cases {list(cases)}")
    tick = pick_clock(clock)
    names = list(cases)
    for name in names:
        for _ in range(warmup):
            cases[name]()
    result = Comparison(baseline, {name: [] for name in names},
                        "thread" if tick is time.thread_time else "wall", repeats)
    for r in range(max(rounds, 1)):
        order = names[r % len(names):] + names[:r % len(names)]
        for name in order:
            fn = cases[name]
            start = tick()
            for _ in range(max(repeats, 1)):
                fn()
            result.times[name].append((tick() - start) / max(repeats, 1))
    return result


@contextlib.contextmanager
def torch_threads(count: int | None) -> Iterator[None]:
    """Run the block with ``count`` torch threads (``None``: leave torch's choice)."""
    before = torch.get_num_threads()
    if count is not None:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _cpu_model() -> str:
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def machine() -> dict[str, Any]:
    """What the figures were measured on: CPU, cores, load, torch, Python, threads."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "load_average_1min": load,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "python": ".".join(str(v) for v in sys.version_info[:3]),
        "platform": platform.platform(),
    }
