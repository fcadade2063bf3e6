"""Large analytic kernels: the FFT and separable paths against nn.ConvNd, in the same run.

Cases (the targets of issue 12, as ratios ACL / ``nn.ConvNd`` of the same shape):

* ``sincnet``: a SincNet-like first layer, ``AnalyticConv1d(1, 80, 251, padding=125)`` with
  acl-classic's ``sinc_bandpass`` family (declared here when the plugin is not installed), on
  one 16,000-sample signal (target <= 0.5, train and eval);
* ``gauss31``: an axis-aligned anisotropic Gaussian (separable, ``normalize="sum"``),
  ``AnalyticConv2d(16, 16, 31, padding=15)`` on 8 images of 64x64, one AKP set per kernel
  (target <= 0.5);
* ``gauss31-shared``: the same with ``share_akps=True`` (one factor pair per output channel).

For each case, the rows are the ACL with ``path="auto"`` (the path the cost model chose is
printed) and with ``path="direct"`` (the plain bank + ``F.conv``, so that "never slower than
the direct path" can be read off), and ``nn.ConvNd`` fed an explicitly padded input
(``F.pad`` + an unpadded convolution: oneDNN's own large paddings are slower on this CPU, so
this is the faster plain convolution). Each ratio is the median over the rounds of
``time(variant) / time(nn.ConvNd)`` measured in the same round (the variants alternate, so
drifts of the machine hit all of them), with the 25 %-75 % spread of those paired ratios.
A train step is zero_grad, forward, mean-square loss, backward, SGD step; an eval step is a
forward under ``torch.no_grad`` (the ACL serves its bank from the eval cache).

With one thread (the default) times are the thread's CPU time (``time.thread_time``), which
other processes on a shared machine do not inflate; with more threads, wall-clock time. No
assertions: this is a measurement. ``python benchmarks/bench_large_kernels.py`` (about three
minutes on 2 CPU cores; ``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sympy as sp
import torch
import torch.nn.functional as F
from torch import nn

import aclcore
from aclcore import KernelFamily, Param
from aclcore.errors import UnknownFamilyError
from aclcore.nn import AnalyticConv1d, AnalyticConv2d, AnalyticConvNd

x, y = sp.symbols("x y", real=True)
SIGMA_X, SIGMA_Y = sp.symbols("sigma_x sigma_y", real=True)
AXIS_GAUSS = KernelFamily(
    "axis_gauss", sp.exp(-x**2 / (2 * SIGMA_X**2) - y**2 / (2 * SIGMA_Y**2)), (x, y),
    [Param(SIGMA_X, (1.0, 6.0), "positive"), Param(SIGMA_Y, (1.0, 6.0), "positive")],
    description="Axis-aligned anisotropic Gaussian (scale space), unit DC gain.",
    normalize="sum",
)


def sinc_bandpass() -> KernelFamily:
    """acl-classic's ``sinc_bandpass``, or the same formula when the plugin is missing."""
    try:
        return aclcore.get_family("sinc_bandpass")
    except UnknownFamilyError:
        f1, band = sp.symbols("f1 band", real=True)
        f2 = sp.Min(f1 + band, sp.Rational(1, 2))
        return KernelFamily(
            "sinc_bandpass",
            2 * f2 * sp.sinc(2 * sp.pi * f2 * x) - 2 * f1 * sp.sinc(2 * sp.pi * f1 * x), (x,),
            [Param(f1, (0.005, 0.3), (0.0, 0.5)), Param(band, (0.02, 0.15), (0.0, 0.5))])


@dataclass(frozen=True)
class Case:
    """One benchmark case: a layer shape and the input."""

    name: str
    ndim: int
    cin: int
    cout: int
    kernel: int
    input_shape: tuple[int, ...]
    options: dict[str, Any]


CASES = [
    Case("sincnet", 1, 1, 80, 251, (1, 1, 16000), {"families": "sinc"}),
    Case("gauss31", 2, 16, 16, 31, (8, 16, 64, 64), {"families": AXIS_GAUSS}),
    Case("gauss31-shared", 2, 16, 16, 31, (8, 16, 64, 64),
         {"families": AXIS_GAUSS, "share_akps": True}),
]


class Padded(nn.Module):
    """``nn.ConvNd`` without padding, fed an input padded by ``F.pad`` (zeros)."""

    def __init__(self, conv: nn.Module, pad: int, ndim: int) -> None:
        super().__init__()
        self.conv = conv
        self.pad = [pad] * (2 * ndim)

    def forward(self, inp: torch.Tensor) -> torch.Tensor:
        """Pad, then convolve."""
        out: torch.Tensor = self.conv(F.pad(inp, self.pad))
        return out


def _layers(case: Case) -> dict[str, nn.Module]:
    torch.manual_seed(0)
    pad = case.kernel // 2
    conv_cls = nn.Conv1d if case.ndim == 1 else nn.Conv2d
    acl_cls: type[AnalyticConvNd] = AnalyticConv1d if case.ndim == 1 else AnalyticConv2d
    options = dict(case.options)
    if options["families"] == "sinc":
        options["families"] = sinc_bandpass()
    return {
        "nn.ConvNd": conv_cls(case.cin, case.cout, case.kernel, padding=pad),
        "nn.ConvNd, F.pad": Padded(conv_cls(case.cin, case.cout, case.kernel), pad, case.ndim),
        "ACL auto": acl_cls(case.cin, case.cout, case.kernel, padding=pad, **options),
        "ACL direct": acl_cls(case.cin, case.cout, case.kernel, padding=pad, path="direct",
                              **options),
    }


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


def _rounds(steps: dict[str, Callable[[], None]], rounds: int,
            clock: Callable[[], float]) -> dict[str, list[float]]:
    for step in steps.values():  # warm-up: allocations, plans, the eval cache
        step()
        step()
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(rounds):
        for name, step in steps.items():  # alternate: drifts hit every variant alike
            start = clock()
            step()
            times[name].append(clock() - start)
    return times


def _summary(times: dict[str, list[float]], name: str) -> str:
    base = times["nn.ConvNd"]
    ratios = sorted(t / b for t, b in zip(times[name], base, strict=True))
    q = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else [ratios[0]] * 3
    return f"{statistics.median(ratios):6.3f} [{q[0]:.3f}-{q[2]:.3f}]"


def run(quick: bool = False) -> None:
    """Measure every case and print the table."""
    threads = torch.get_num_threads()
    clock = time.thread_time if threads == 1 else time.perf_counter
    print(f"torch {torch.__version__}, {threads} thread(s), "
          f"{'thread CPU time' if threads == 1 else 'wall-clock time'}")
    print("ratio to nn.ConvNd of the same shape: median over rounds [25%-75% of the paired "
          "ratios]; targets <= 0.5 (sincnet, gauss31)")
    print(f"{'case':<15} {'variant':<17} {'path':<22} {'train':>21} {'eval':>21}  "
          "nn.ConvNd median")
    for case in CASES:
        layers = _layers(case)
        inp = torch.randn(*case.input_shape)
        rounds = 3 if quick else (15 if case.ndim == 1 else 5)
        train = _rounds({n: _train_step(m, inp) for n, m in layers.items()}, rounds, clock)
        for m in layers.values():
            m.eval()
        evals = _rounds({n: _eval_step(m, inp) for n, m in layers.items()}, rounds, clock)
        base_train = statistics.median(train["nn.ConvNd"]) * 1e3
        base_eval = statistics.median(evals["nn.ConvNd"]) * 1e3
        for name, layer in layers.items():
            if name == "nn.ConvNd":
                continue
            path = layer.plan(inp).describe() if isinstance(layer, AnalyticConvNd) else "-"
            print(f"{case.name:<15} {name:<17} {path:<22} {_summary(train, name):>21} "
                  f"{_summary(evals, name):>21}  {base_train:.1f} ms train, "
                  f"{base_eval:.1f} ms eval")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few rounds (smoke run)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (default 1: thread CPU time, robust on a shared "
                        "machine; more threads are timed by the wall clock)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    run(args.quick)
