"""AnalyticConv2d against nn.Conv2d of the same shape, measured in the same run.

Prints, per shape, the ratio ACL / nn.Conv2d of

* the median time of a training step (zero_grad, forward, mean-square loss, backward, SGD
  step; targets: <= 1.03),
* the median time of an eval forward under ``torch.no_grad`` (the ACL serves its bank from
  the eval cache; target <= 1.01),
* the peak memory allocated by one training step (torch profiler memory timeline on CPU;
  target <= 1.05).

Timings alternate between the two layers after a warm-up, so that drifts of the machine hit
both. On a machine shared with other processes the medians still wander by several percent
(even the eval ratio, where both layers run the very same convolution), so the table also
shows the ratio of the fastest runs and the ACL's own work measured in isolation: the bank's
forward + backward per training step and the cache look-up per eval step. No assertions:
this is a measurement. Run ``python benchmarks/bench_layer.py`` (``--quick`` for a smoke run,
``--threads 1`` to keep OpenMP from waiting on busy cores); about a minute on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import sympy as sp
import torch
from torch import nn

from aclcore import KernelFamily, Param
from aclcore.nn import AnalyticConv2d

x, y = sp.symbols("x y", real=True)
sigma, lam, theta, psi = sp.symbols("sigma lambda theta psi", real=True)
GABOR = KernelFamily(
    "gabor",
    sp.exp(-(x**2 + y**2) / (2 * sigma**2))
    * sp.cos(2 * sp.pi * (x * sp.cos(theta) + y * sp.sin(theta)) / lam + psi),
    (x, y),
    [Param(sigma, (0.8, 2.5), "positive"), Param(lam, (2.0, 8.0), "positive"),
     Param(theta, (0.0, 3.14159), "angle"), Param(psi, (-3.14159, 3.14159))],
)


@dataclass(frozen=True)
class Shape:
    """One benchmark case."""

    cin: int
    cout: int
    kernel: int
    batch: int = 64
    size: int = 32

    def __str__(self) -> str:
        k, s = self.kernel, self.size
        return f"{self.cin}->{self.cout} {k}x{k} b{self.batch} {s}x{s}"


SHAPES = [Shape(64, 64, 3), Shape(3, 64, 7)]
CASES: dict[str, object] = {"gabor": GABOR, "gabor+free": {GABOR: 0.5, "free": 0.5}}


def _train_step(layer: nn.Module, inp: torch.Tensor) -> Callable[[], None]:
    opt = torch.optim.SGD(layer.parameters(), lr=1e-3)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        layer(inp).square().mean().backward()
        opt.step()

    return step


def _eval_step(layer: nn.Module, inp: torch.Tensor) -> Callable[[], None]:
    def step() -> None:
        with torch.no_grad():
            layer(inp)

    return step


def _times(steps: list[Callable[[], None]], repeats: int, warmup: int = 2
           ) -> list[list[float]]:
    for step in steps:
        for _ in range(warmup):
            step()
    times: list[list[float]] = [[] for _ in steps]
    for _ in range(repeats):
        for i, step in enumerate(steps):  # alternate: drifts hit every layer alike
            start = time.perf_counter()
            step()
            times[i].append(time.perf_counter() - start)
    return times


def _ratios(times: list[list[float]]) -> tuple[float, float, float]:
    """(median ratio, min ratio, baseline median) of [baseline, acl] timings."""
    med = [statistics.median(t) for t in times]
    return med[1] / med[0], min(times[1]) / min(times[0]), med[0]


def _bank_costs(acl: AnalyticConv2d) -> tuple[float, float]:
    """Median seconds of the bank's forward+backward, and of an eval cache look-up."""

    def bank_step() -> None:
        acl._compute_bank().sum().backward()

    (train,) = _times([bank_step], 51, warmup=5)
    acl.eval()
    with torch.no_grad():
        (lookup,) = _times([lambda: acl._bank()], 201, warmup=5)
    acl.train()
    acl.zero_grad(set_to_none=True)
    return statistics.median(train), statistics.median(lookup)


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Silence the profiler's C++ log lines (written straight to file descriptor 2)."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _peak_memory(step: Callable[[], None]) -> float:
    """Peak bytes allocated by one call of ``step`` (torch profiler memory timeline, CPU)."""
    from torch.profiler import ProfilerActivity, profile
    from torch.profiler._memory_profiler import MemoryProfileTimeline

    step()
    with warnings.catch_warnings(), _quiet_stderr():
        warnings.simplefilter("ignore")
        with profile(activities=[ProfilerActivity.CPU], profile_memory=True,
                     record_shapes=True, with_stack=True) as prof:
            step()
        timeline = MemoryProfileTimeline(prof._memory_profile())
        _, sizes = timeline._coalesce_timeline(torch.device("cpu"))
    return float(max(sum(s) for s in sizes))


def run(quick: bool = False) -> None:
    """Measure every shape and case and print the table."""
    torch.manual_seed(0)
    repeats_train, repeats_eval = (3, 5) if quick else (15, 31)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"medians of {repeats_train} train / {repeats_eval} eval steps")
    load, cores = os.getloadavg()[0], os.cpu_count() or 1
    if load > 0.5:
        print(f"note: load average {load:.1f} on {cores} cores before the run: other "
              "processes compete for the CPU and the time ratios are noisy (with several "
              "threads, every small parallel op can wait for a busy core)")
    print("ratios ACL / nn.Conv2d: train step, eval step (median; fastest), peak memory of a "
          "train step;\ntargets 1.03 / 1.01 / 1.05. bank: ACL work per train step; lookup: "
          "per cached eval step;\nest.: 1 + (bank or lookup) / conv median, the ratio the "
          "ACL's own work implies")
    print(f"{'shape':<26} {'families':<11} {'train':>13} {'eval':>13} {'memory':>7} "
          f"{'bank':>8} {'lookup':>8} {'est.':>11}  baseline conv")
    for shape in SHAPES:
        inp = torch.randn(shape.batch, shape.cin, shape.size, shape.size)
        pad = shape.kernel // 2
        ref = nn.Conv2d(shape.cin, shape.cout, shape.kernel, padding=pad)
        for label, families in CASES.items():
            acl = AnalyticConv2d(shape.cin, shape.cout, shape.kernel, padding=pad,
                                 families=families)  # type: ignore[arg-type]
            train = _ratios(_times([_train_step(ref, inp), _train_step(acl, inp)],
                                   repeats_train))
            ref.eval()
            acl.eval()
            evals = _ratios(_times([_eval_step(ref, inp), _eval_step(acl, inp)],
                                   repeats_eval))
            ref.train()
            acl.train()
            mem = [_peak_memory(_train_step(m, inp)) for m in (ref, acl)]
            bank, lookup = _bank_costs(acl)
            print(f"{shape!s:<26} {label:<11} {train[0]:>6.3f}; {train[1]:.3f} "
                  f"{evals[0]:>6.3f}; {evals[1]:.3f} {mem[1] / mem[0]:>7.3f} "
                  f"{bank * 1e3:>5.2f} ms {lookup * 1e6:>5.1f} us "
                  f"{1 + bank / train[2]:.3f}/{1 + lookup / evals[2]:.3f}  {train[2] * 1e3:.0f} ms "
                  f"train, {evals[2] * 1e3:.0f} ms eval, {mem[0] / 2**20:.0f} MiB")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few repeats (smoke run)")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch threads (default: torch's choice); 1 avoids measuring "
                        "OpenMP wake-ups when other processes share the cores")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    run(args.quick)
