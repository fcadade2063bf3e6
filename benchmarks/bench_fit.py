"""Time to fit 64 kernels x 6 families with aclcore.fit.fit_kernels (target: <= 60 s on 2 cores).

The bank: 64 kernels of 3 x 11 x 11 (AlexNet's first-layer shape), 11 of each of the six
families and the rest from a Gabor, each with 10 % noise, fitted by the six classic families
(acl-classic: gabor, sinusoid, gaussian, gaussian_d1, gaussian_d2, log) with the default
schedule (16 starts screened from 128 per kernel, 150 Adam steps, the best 4 polished by up
to 60 L-BFGS iterations) and shared geometry across the channels. Prints the time per
family and in all, and two ratios measured in the same run:

* total time / 60 s (the target);
* one batched fit of 8 kernels / 8 fits of one kernel each (a Python loop per kernel), for
  the Gabor: what the batching across kernels saves.

It also checks that the ranking finds the generating family of most kernels. No timed
assertions: this is a measurement. ``python benchmarks/bench_fit.py`` (``--quick``: fewer
steps, a smoke run). Needs acl-classic (``pip install -e plugins/acl-classic``).
"""

from __future__ import annotations

import argparse
import time

import torch

import aclcore
from aclcore.fit import fit_kernels
from aclcore.nn.functional import sample_kernels

FAMILIES = ("gabor", "sinusoid", "gaussian", "gaussian_d1", "gaussian_d2", "log")
TARGET_SECONDS = 60.0


def bank(seed: int = 0) -> tuple[torch.Tensor, list[str]]:
    """64 kernels ``(64, 3, 11, 11)`` of the six families with 10 % noise, and their family."""
    gen = torch.Generator().manual_seed(seed)
    parts, truth = [], []
    counts = [64 - 5 * 11] + [11] * 5
    for name, count in zip(FAMILIES, counts, strict=True):
        family = aclcore.get_family(name)
        akps = {p.name: p.sample((count, 1), generator=gen, dtype=torch.float64)
                for p in family.params}
        gains = torch.randn(count, 3, 1, 1, generator=gen, dtype=torch.float64)
        parts.append(sample_kernels(family, akps, 11) * gains)
        truth += [name] * count
    clean = torch.cat(parts)
    noise = torch.randn(clean.shape, generator=gen, dtype=torch.float64)
    norm = torch.linalg.vector_norm
    dims = (1, 2, 3)
    noise = noise / norm(noise, dim=dims, keepdim=True) * norm(clean, dim=dims, keepdim=True)
    return clean + 0.1 * noise, truth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer starts and steps")
    args = parser.parse_args()
    options = {"starts": 4, "adam_steps": 30, "lbfgs_steps": 10} if args.quick else {}
    target, truth = bank()
    for name in FAMILIES:  # compile outside the timed region (cached per process)
        aclcore.compile_family(aclcore.get_family(name))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads available; "
          f"bank {tuple(target.shape)}; fit with threads=1")
    total = 0.0
    fits = {}
    for name in FAMILIES:
        start = time.perf_counter()
        fits[name] = fit_kernels(target, [name], share_akps=True, **options).fits[name]
        seconds = time.perf_counter() - start
        total += seconds
        print(f"  {name:12s} {seconds:6.1f} s  median relative error "
              f"{float(fits[name].errors.median()):.3f}")
    print(f"64 kernels x 6 families: {total:.1f} s (target <= {TARGET_SECONDS:.0f} s; ratio "
          f"{total / TARGET_SECONDS:.2f})")
    result = fit_kernels(target, list(FAMILIES), share_akps=True, **options)
    hits = sum(a == b for a, b in zip(result.best(), truth, strict=True))
    print(f"ranking: the generating family first on {hits} of 64 kernels")
    few = target[:8]
    start = time.perf_counter()
    fit_kernels(few, ["gabor"], share_akps=True, **options)
    batched = time.perf_counter() - start
    start = time.perf_counter()
    for n in range(8):
        fit_kernels(few[n:n + 1], ["gabor"], share_akps=True, **options)
    looped = time.perf_counter() - start
    print(f"gabor, 8 kernels: batched {batched:.2f} s, a loop of 8 single-kernel fits "
          f"{looped:.2f} s (ratio batched / loop {batched / looped:.2f})")


if __name__ == "__main__":
    main()
