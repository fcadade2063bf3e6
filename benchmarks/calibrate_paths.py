"""Calibrate the constants of the convolution-path cost model (``aclcore.nn.paths``).

Times the primitives each path is made of, on this machine, with one torch thread and the
thread's CPU time (so that other processes on a shared machine do not inflate the numbers),
and prints the cost per unit of work of each: seconds per multiply-add of a dense
convolution (``CONV``), of a depthwise one (``DEPTHWISE``), of a batched matrix product
(``GEMM``), per ``n log2 n`` of a real FFT (``FFT``), per complex multiply-add of spectra
(``COMPLEX``), per element copied (``COPY``) and per operator call (``CALL``). Several shapes
are timed per primitive and the median is printed; ``aclcore/nn/paths.py`` states the values
it uses. Run ``python benchmarks/calibrate_paths.py`` (about a minute).
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F


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
    add("CONV", lambda: F.conv1d(x1, w1), 80 * 251 * 16000)
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


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, 1 thread, thread CPU time, median of {args.repeats}")
    medians = run(args.repeats)
    print("medians:")
    for name, value in medians.items():
        print(f"  {name} = {value:.3e}")
