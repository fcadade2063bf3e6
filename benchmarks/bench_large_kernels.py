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
the direct path" can be read off: the last column is auto / direct), and ``nn.ConvNd`` fed
an explicitly padded input (``F.pad`` + an unpadded convolution: oneDNN's own large paddings
are slower on this CPU, so this is the faster plain convolution). A train step is zero_grad,
forward, mean-square loss, backward, SGD step (column ``train``); the same without the loss,
the backward of a fixed output gradient as the rest of a network would send it (column
``layer``: the layer's own cost, without the loss's passes over the output, which are the same
for both layers); an eval step is a forward under ``torch.no_grad`` (the ACL serves its bank
from the eval cache).

The timing rule is :mod:`aclcore.bench.harness`'s: alternating rounds, the ratio to
``nn.ConvNd`` taken per round, median ``[q25, q75]`` over the rounds; with one torch thread
(the default) the clock is the thread's CPU time, which other processes on a shared machine
do not inflate. No assertions: this is a measurement. ``python
benchmarks/bench_large_kernels.py`` (about three minutes on 2 CPU cores; ``--quick`` for a
smoke run).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

import sympy as sp
import torch
import torch.nn.functional as F
from torch import nn

import aclcore
from aclcore import KernelFamily, Param
from aclcore.bench.harness import Comparison, compare, machine, torch_threads
from aclcore.bench.layers import eval_step, train_step
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


def _ratio(comparison: Comparison, name: str, baseline: str | None = None) -> str:
    stats = comparison.ratio(name, baseline)
    return f"{stats.median:.3f} [{stats.q25:.3f}, {stats.q75:.3f}]"


def run(quick: bool = False, rounds: int | None = None, repeats: int = 1) -> None:
    """Measure every case and print the table."""
    info = machine()
    print(f"{info['cpu']}, {info['cores']} cores, load {info['load_average_1min']:.1f}; "
          f"torch {info['torch']}, {info['torch_threads']} thread(s)")
    print("ratio to nn.ConvNd of the same shape, median [q25, q75] over rounds; targets <= 0.5 "
          "(sincnet, gauss31); auto/direct: ACL auto over ACL direct (<= 1: never slower)")
    print(f"{'case':<15} {'variant':<17} {'path':<22} {'train':>22} {'layer':>22} "
          f"{'eval':>22} "
          f"{'auto/direct':>13}  nn.ConvNd median")
    for case in CASES:
        layers = _layers(case)
        inp = torch.randn(*case.input_shape)
        count = rounds or (3 if quick else (31 if case.ndim == 1 else 5))
        train = compare({n: train_step(m, inp) for n, m in layers.items()},
                        baseline="nn.ConvNd", rounds=count, repeats=repeats)
        layer_only = compare({n: train_step(m, inp, loss=False) for n, m in layers.items()},
                             baseline="nn.ConvNd", rounds=count, repeats=repeats)
        for m in layers.values():
            m.eval()
        evals = compare({n: eval_step(m, inp) for n, m in layers.items()},
                        baseline="nn.ConvNd", rounds=count, repeats=repeats)
        base = (f"{train.time('nn.ConvNd').median * 1e3:.1f} ms train, "
                f"{evals.time('nn.ConvNd').median * 1e3:.1f} ms eval")
        for name, layer in layers.items():
            if name == "nn.ConvNd":
                continue
            path = layer.plan(inp).describe() if isinstance(layer, AnalyticConvNd) else "-"
            versus = ""
            if name == "ACL auto":
                versus = (f"{train.ratio(name, 'ACL direct').median:.3f}/"
                          f"{evals.ratio(name, 'ACL direct').median:.3f}")
            print(f"{case.name:<15} {name:<17} {path:<22} {_ratio(train, name):>22} "
                  f"{_ratio(layer_only, name):>22} "
                  f"{_ratio(evals, name):>22} {versus:>13}  {base}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few rounds (smoke run)")
    parser.add_argument("--rounds", type=int, default=None,
                        help="ratio samples (default: 31 for the 1-D case, 5 for the 2-D ones)")
    parser.add_argument("--repeats", type=int, default=1, help="steps per case and round")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (default 1: thread CPU time, robust on a shared "
                        "machine; more threads are timed by the wall clock)")
    args = parser.parse_args()
    with torch_threads(args.threads):
        run(args.quick, args.rounds, args.repeats)
