"""Training-step time of the AnaNN against the CNN baseline, interleaved in one process.

Epoch times measured in separate runs on a shared CPU mostly measure the other processes; this
benchmark alternates AdamW steps (forward, backward, update; LeNet, MNIST-sized batch) of
each model round by round with the timing rule of :mod:`aclcore.bench.harness` (CPU time of
the thread with one torch thread), and reports the median step times and the median and
interquartile range of the per-round ratio (target <= 1.05).

Run: ``python benchmarks/bench_train_step.py [--steps 60] [--batch 64] [--threads 1]``
"""

from __future__ import annotations

import argparse

from aclcore.bench.harness import torch_threads
from aclcore.bench.network import measure_train_step

REPEATS = 3  # steps per model and round


def main() -> None:
    """Print the median step time of each model and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    with torch_threads(args.threads or None):
        c = measure_train_step(batch=args.batch, rounds=max(args.steps // REPEATS, 1),
                               repeats=REPEATS)
    for name in ("cnn", "analytic"):
        value = c.time(name).median
        print(f"{name:9s} median step {1000 * value:7.1f} ms  ({args.batch / value:6.0f} img/s)")
    ratio = c.ratio("analytic")
    print(f"analytic / cnn = {ratio.median:.3f} [IQR {ratio.q25:.3f}, {ratio.q75:.3f}] "
          f"(threads {args.threads}, batch {args.batch}, {args.steps} steps each, interleaved, "
          f"{c.clock} clock)")


if __name__ == "__main__":
    main()
