"""Calibrate the constants of the convolution-path cost model (``aclcore.nn.paths``).

Times the primitives each path is made of, on this machine, with one torch thread and the
thread's CPU time (so that other processes on a shared machine do not inflate the numbers),
and prints the cost per unit of work of each: seconds per multiply-add of a dense 2-D
convolution (``CONV``), of a 1-D one (``CONV1D``), of a depthwise one (``DEPTHWISE``), of a
batched matrix product (``GEMM``), per output element of a memory-bound pass (``ELEMENT``),
per ``n log2 n`` of a 1-D real FFT (``FFT``), of a 2-D/3-D one read from strided blocks
(``FFT_ND``) and of its inverse (``IFFT_ND``), per complex multiply-add of spectra
(``COMPLEX``), per element copied (``COPY``) and per operator call (``CALL``). Several shapes
are timed per primitive and the median is printed; ``aclcore/nn/paths.py`` states the values
it uses. Run ``python benchmarks/calibrate_paths.py`` (about a minute).

``--check`` instead times the paths themselves on a set of layer shapes (eval forwards, the
paths alternating) and prints, per shape, what ``path="auto"`` chooses, the measured time of
each path relative to the direct one and the model's estimate of the same ratio (about three
minutes). Gaussian families are used, so the measured direct path includes the cost of the
subnormal numbers in the tails of large Gaussian kernels, which the model does not know.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections.abc import Callable

import sympy as sp
import torch
import torch.nn.functional as F

from aclcore import KernelFamily, Param
from aclcore.nn import AnalyticConv1d, AnalyticConv2d, AnalyticConv3d, AnalyticConvNd


def _seconds(step: Callable[[], object], repeats: int) -> float:
    step()
    times = []
    for _ in range(repeats):
        start = time.thread_time()
        step()
        times.append(time.thread_time() - start)
    return statistics.median(times)


def run(repeats: int) -> dict[str, float]:
    """Measure every primitive; return the median cost per unit of work of each."""
    torch.manual_seed(0)
    results: dict[str, list[float]] = {}

    def add(name: str, step: Callable[[], object], work: float) -> None:
        cost = _seconds(step, repeats) / work
        results.setdefault(name, []).append(cost)
        print(f"  {name:<10} {cost:.3e} s per unit ({work:.3g} units)")

    for n, cin, cout, k, size in ((8, 16, 16, 7, 64), (8, 64, 64, 3, 32), (8, 16, 16, 15, 64)):
        x = torch.randn(n, cin, size, size)
        w = torch.randn(cout, cin, k, k)
        out = size - k + 1
        add("CONV", lambda x=x, w=w: F.conv2d(x, w), n * cout * cin * k * k * out * out)
    x1 = torch.randn(1, 1, 16250)
    w1 = torch.randn(80, 1, 251)
    add("CONV1D", lambda: F.conv1d(x1, w1), 80 * 251 * 16000)
    x2 = torch.randn(4, 8, 4062)
    w2 = torch.randn(16, 8, 63)
    add("CONV1D", lambda: F.conv1d(x2, w2), 4 * 16 * 8 * 63 * 4000)
    for channels, size in ((64, 32), (16, 64)):  # k=3 depthwise: the output writes dominate
        x = torch.randn(8, channels, size, size + 2)
        w = torch.randn(channels, 1, 1, 3)
        add("ELEMENT", lambda x=x, w=w, g=channels: F.conv2d(x, w, groups=g),
            8 * channels * size * size)
    for channels, k, size in ((128, 31, 64), (16, 31, 94), (64, 7, 64)):
        x = torch.randn(8, channels, size, size + k - 1)
        w = torch.randn(channels, 1, 1, k)
        add("DEPTHWISE", lambda x=x, w=w, g=channels: F.conv2d(x, w, groups=g),
            8 * channels * k * size * size)
    for b, m, kk, nn_ in ((16, 1024, 94, 752), (16, 512, 1504, 64), (256, 64, 62, 300)):
        a = torch.randn(b, m, kk)
        c = torch.randn(b, kk, nn_)
        add("GEMM", lambda a=a, c=c: torch.bmm(a, c), b * m * kk * nn_)
    for shape in ((128, 96, 96), (80, 21, 1024), (256, 64, 64)):
        x = torch.randn(*shape)
        dims = (-2, -1) if len(shape) == 3 and shape[1] == shape[2] else (-1,)
        points = math.prod(shape[d] for d in dims)
        count = math.prod(shape) // points
        add("FFT", lambda x=x, dims=dims: torch.fft.rfftn(x, dim=dims),
            count * points * math.log2(points))
    for shape in ((8, 16, 4, 48, 48), (8, 16, 1, 96, 96), (2, 8, 1, 32, 32, 32)):
        x = torch.randn(*shape)
        dims = tuple(range(-(len(shape) - 3), 0))
        points = math.prod(shape[3:])
        units = math.prod(shape[:3]) * points * math.log2(points)
        blocks = x.transpose(0, 1)  # a strided view, as the overlap-save blocks are
        add("FFT_ND", lambda b=blocks, d=dims: torch.fft.rfftn(b, dim=d), units)
        spectrum = torch.fft.rfftn(x, dim=dims)
        add("IFFT_ND", lambda sp_=spectrum, d=dims, s=shape[3:]: torch.fft.irfftn(
            sp_, s=s, dim=d), units)
    for shape in ((80, 21, 513), (8, 16, 96 * 49)):
        a = torch.randn(*shape, dtype=torch.complex64)
        c = torch.randn(*shape, dtype=torch.complex64)
        add("COMPLEX", lambda a=a, c=c: a * c, math.prod(shape))
    for shape in ((8, 256, 64, 94), (80, 21, 1024)):  # a transposition and a narrowing
        x = torch.randn(*shape)
        add("COPY", lambda x=x: x.transpose(-1, -2).contiguous(), math.prod(shape))
        add("COPY", lambda x=x: x[..., :-7].contiguous(), math.prod(shape))
    tiny = torch.randn(1, 1, 4, 4)
    small = torch.randn(1, 1, 1, 1)
    add("CALL", lambda: F.conv2d(tiny, small), 1)
    add("CALL", lambda: torch.fft.rfftn(tiny, dim=(-2, -1)), 1)
    return {name: statistics.median(values) for name, values in results.items()}


def _gaussian(ndim: int) -> KernelFamily:
    coords = sp.symbols("x y z", real=True)[:ndim]
    scales = [sp.Symbol(f"sigma_{c}", real=True) for c in coords]
    expr = sp.exp(-sum(c**2 / (2 * s**2) for c, s in zip(coords, scales, strict=True)))
    return KernelFamily(f"gauss{ndim}", expr, coords,
                        [Param(s, (1.0, 3.0), "positive") for s in scales], normalize="sum")


#: (dimension, in, out, kernel, input shape, share_akps) of the --check table.
CHECKS = [
    (1, 1, 80, 251, (1, 1, 16000), False), (1, 8, 16, 63, (4, 8, 4000), False),
    (2, 16, 16, 31, (8, 16, 64, 64), False), (2, 16, 16, 31, (8, 16, 64, 64), True),
    (2, 16, 16, 15, (8, 16, 64, 64), False), (2, 16, 16, 15, (8, 16, 64, 64), True),
    (2, 16, 16, 9, (8, 16, 64, 64), False), (2, 32, 32, 7, (8, 32, 32, 32), True),
    (2, 64, 64, 3, (8, 64, 32, 32), True), (3, 8, 8, 9, (2, 8, 24, 24, 24), False),
]


def check(rounds: int) -> None:
    """Time every path on the :data:`CHECKS` shapes against the model's estimates."""
    classes: dict[int, type[AnalyticConvNd]] = {1: AnalyticConv1d, 2: AnalyticConv2d,
                                                3: AnalyticConv3d}
    print("per shape: auto's plan; measured time of each path / direct (estimated)")
    for nd, cin, cout, k, shape, share in CHECKS:
        torch.manual_seed(0)
        layer = classes[nd](cin, cout, k, padding=k // 2, families=_gaussian(nd),
                            share_akps=share).eval()
        inp = torch.randn(*shape)
        plan = layer.plan(inp)
        paths = ["direct", "fft"] + (["separable"] if nd > 1 else [])
        times: dict[str, list[float]] = {p: [] for p in paths}
        with torch.no_grad():
            for _ in range(rounds + 1):
                for p in paths:  # alternate; the first round warms up
                    layer.path = p
                    start = time.thread_time()
                    layer(inp)
                    times[p].append(time.thread_time() - start)
        direct = statistics.median(times["direct"][1:])
        estimate = plan.estimates
        parts = []
        for p in paths[1:]:
            label = next((e for e in estimate if e.startswith(p)), None)
            guess = f"{estimate[label] / estimate['direct']:.2f}" if label else "-"
            parts.append(f"{p} {statistics.median(times[p][1:]) / direct:.2f} ({guess})")
        print(f"  {nd}-D {cin}->{cout} k={k} {shape} share_akps={share}: auto "
              f"{plan.describe()}; direct {direct * 1e3:.1f} ms; " + "; ".join(parts))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--check", action="store_true",
                        help="time the paths on layer shapes against the model's estimates")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, 1 thread, thread CPU time, median of {args.repeats}")
    if args.check:
        check(max(3, args.repeats // 3))
    else:
        medians = run(args.repeats)
        print("medians:")
        for name, value in medians.items():
            print(f"  {name} = {value:.3e}")
