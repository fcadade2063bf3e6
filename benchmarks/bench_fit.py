"""Time to fit 64 kernels x every classic 2-D family with aclcore.fit.fit_kernels (target: <= 60 s
on 2 cores).

The bank (:func:`aclcore.bench.fitting.fit_bank`): 64 kernels of 3 x 11 x 11 (AlexNet's
first-layer shape) spread over the classic 2-D families (acl-classic: gabor, sinusoid,
gaussian, anisotropic_gaussian, gaussian_d1, gaussian_d2, log, dog), each with 10 % noise,
fitted by every one of those families with the default schedule (16 starts screened from 128
per kernel, 150 Adam steps, the best 4 polished by up to 60 L-BFGS iterations) and shared
geometry across the channels. Prints the time per family and in all, and two ratios measured
in the same run:

* total time / 60 s (the target);
* one batched fit of 8 kernels / 8 fits of one kernel each (a Python loop per kernel), for
  the Gabor: what the batching across kernels saves.

It also reports on how many kernels the ranking puts the generating family first. No timed
assertions: this is a measurement. ``python benchmarks/bench_fit.py`` (``--quick``: fewer
starts and steps, a smoke run; ``--families a,b``: fewer families). Needs acl-classic
(``pip install -e plugins/acl-classic``).
"""

from __future__ import annotations

import argparse

import torch

import aclcore
from aclcore.bench.fitting import FIT_FAMILIES, TARGET_SECONDS, measure_fit


def main() -> None:
    """Fit, time and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer starts and steps")
    parser.add_argument("--families", default=",".join(FIT_FAMILIES),
                        help="comma-separated families (default: every classic 2-D family)")
    args = parser.parse_args()
    names = tuple(n for n in args.families.split(",") if n)
    for name in names:  # compile outside the timed region (cached per process)
        aclcore.compile_family(aclcore.get_family(name))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads available; "
          f"bank (64, 3, 11, 11); fit with threads=1")
    r = measure_fit(names=names, quick=args.quick)
    for name, seconds in r.seconds.items():
        print(f"  {name:20s} {seconds:6.1f} s")
    print(f"64 kernels x {len(names)} families: {r.total:.1f} s (target <= "
          f"{TARGET_SECONDS:.0f} s; ratio {r.total / TARGET_SECONDS:.2f})")
    print(f"ranking: the generating family first on {r.hits} of 64 kernels")
    print(f"gabor, 8 kernels: batched {r.batched:.2f} s, a loop of 8 single-kernel fits "
          f"{r.looped:.2f} s (ratio batched / loop {r.batched / r.looped:.2f})")


if __name__ == "__main__":
    main()
