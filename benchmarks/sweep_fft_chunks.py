"""The FFT path's channel chunk size: a layer's training step for several chunk sizes, in one run.

The FFT path (:mod:`aclcore.nn.fftconv`) runs its spectrum products, transforms and copies
over chunks of output channels whose spectra take about ``CHUNK_BYTES`` (default 4 MiB). This
script times one layer's training step (zero_grad, forward, mean-square loss, backward, SGD
step; ``path="fft"``) with each chunk size of ``--sizes``, alternating with ``nn.ConvNd`` of
the same shape, and prints each size's step time, its ratio to ``nn.ConvNd`` and to the first
size, and the page faults per step (minor faults of the process: the allocator returning
memory to the system and taking it back). Timing rule: :mod:`aclcore.bench.harness`
(alternating rounds, one torch thread, thread CPU time). No assertions: a measurement.

Run: ``python benchmarks/sweep_fft_chunks.py [--layer sincnet] [--sizes 32,8,4,2]
[--rounds 25]`` (seconds to a few minutes per layer on 2 CPU cores). Layers (``--layer``):

* ``sincnet``: ``AnalyticConv1d(1, 80, 251, padding=125)``, ``sinc_bandpass``, 1 x 1 x 16000
  (the case of ``benchmarks/bench_large_kernels.py``);
* ``sincnet-b32``: the same layer on 32 x 1 x 3200;
* ``gabor15``: ``AnalyticConv2d(16, 32, 15, padding=7)``, ``gabor``, 16 x 16 x 48 x 48;
* ``gauss31``: ``AnalyticConv2d(3, 16, 31, padding=15)``, ``gaussian``, 8 x 3 x 64 x 64;
* ``gabor1d``: ``AnalyticConv1d(8, 64, 129, padding=64)``, ``gabor_1d``, 8 x 8 x 4000;
* ``gauss3d``: ``AnalyticConv3d(4, 8, 9, padding=4)``, ``gaussian_3d``, 2 x 4 x 24^3.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from aclcore.bench.harness import compare, machine, torch_threads
from aclcore.bench.layers import train_step
from aclcore.nn import AnalyticConv1d, AnalyticConv2d, AnalyticConv3d, fftconv

try:
    import resource
except ImportError:  # not on Windows: no fault counts
    resource = None  # type: ignore[assignment]

#: name -> (ACL class, nn class, (cin, cout, kernel), family, input shape)
LAYERS: dict[str, tuple[Any, Any, tuple[int, int, int], str, tuple[int, ...]]] = {
    "sincnet": (AnalyticConv1d, nn.Conv1d, (1, 80, 251), "sinc_bandpass", (1, 1, 16000)),
    "sincnet-b32": (AnalyticConv1d, nn.Conv1d, (1, 80, 251), "sinc_bandpass", (32, 1, 3200)),
    "gabor15": (AnalyticConv2d, nn.Conv2d, (16, 32, 15), "gabor", (16, 16, 48, 48)),
    "gauss31": (AnalyticConv2d, nn.Conv2d, (3, 16, 31), "gaussian", (8, 3, 64, 64)),
    "gabor1d": (AnalyticConv1d, nn.Conv1d, (8, 64, 129), "gabor_1d", (8, 8, 4000)),
    "gauss3d": (AnalyticConv3d, nn.Conv3d, (4, 8, 9), "gaussian_3d", (2, 4, 24, 24, 24)),
}


def _faults() -> int:
    return 0 if resource is None else resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def _with_chunk(step: Callable[[], None], size: int, faults: list[int]) -> Callable[[], None]:
    """``step`` run with ``CHUNK_BYTES = size``, its page faults appended to ``faults``."""

    def run() -> None:
        saved, fftconv.CHUNK_BYTES = fftconv.CHUNK_BYTES, size
        before = _faults()
        try:
            step()
        finally:
            fftconv.CHUNK_BYTES = saved
        faults.append(_faults() - before)

    return run


def sweep(layer: str, sizes: list[int], rounds: int) -> None:
    """Time ``layer``'s training step for every chunk size and print the table."""
    acl_cls, conv_cls, (cin, cout, k), family, shape = LAYERS[layer]
    torch.manual_seed(0)
    acl = acl_cls(cin, cout, k, padding=k // 2, families=family, path="fft")
    conv = conv_cls(cin, cout, k, padding=k // 2)
    inp = torch.randn(*shape)
    acl_step, conv_step = train_step(acl, inp), train_step(conv, inp)
    faults: dict[str, list[int]] = {}
    cases: dict[str, Callable[[], object]] = {"nn.ConvNd": conv_step}
    for size in sizes:
        name = f"{size / 2**20:g} MiB"
        faults[name] = []
        cases[name] = _with_chunk(acl_step, size, faults[name])
    result = compare(cases, baseline="nn.ConvNd", rounds=rounds, repeats=2)
    first = f"{sizes[0] / 2**20:g} MiB"
    print(f"{layer}: {acl_cls.__name__}({cin}, {cout}, {k}), {family}, input {shape}; "
          f"nn.ConvNd {result.time('nn.ConvNd').median * 1e3:.1f} ms per step")
    print(f"{'chunk':>10} {'step':>10} {'/ nn.ConvNd':>22} {f'/ {first}':>22} {'faults/step':>12}")
    for name in faults:
        ratio, versus = result.ratio(name), result.ratio(name, first)
        print(f"{name:>10} {result.time(name).median * 1e3:8.2f}ms "
              f"{ratio.median:8.3f} [{ratio.q25:.3f}, {ratio.q75:.3f}] "
              f"{versus.median:8.3f} [{versus.q25:.3f}, {versus.q75:.3f}] "
              f"{statistics.median(faults[name]):12.0f}")


def main() -> None:
    """Parse the arguments and run the sweep."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layer", choices=sorted(LAYERS), default="sincnet")
    parser.add_argument("--sizes", default="32,8,4,2",
                        help="chunk sizes in MiB, comma-separated (default 32,8,4,2)")
    parser.add_argument("--rounds", type=int, default=25, help="ratio samples")
    args = parser.parse_args()
    try:
        sizes = [int(float(s) * 2**20) for s in args.sizes.split(",")]
    except ValueError:
        sys.exit(f"--sizes must be numbers of MiB separated by commas, got {args.sizes!r}")
    info = machine()
    print(f"{info['cpu']}, {info['cores']} cores; torch {info['torch']}, one thread")
    with torch_threads(1):
        sweep(args.layer, sizes, args.rounds)


if __name__ == "__main__":
    main()
