"""Training-step time of the AnaNN against the CNN baseline, interleaved in one process.

Epoch times measured in separate runs on a shared CPU mostly measure the other processes; this
benchmark alternates one AdamW step (forward, backward, update; LeNet, MNIST-sized batch) of
each model, so both see the same load, and reports the median step times and their ratio.

Run: ``python benchmarks/bench_train_step.py [--steps 60] [--batch 64] [--threads 1]``
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from aclcore.models import PLAIN, analytic_preset, build_model


def _stepper(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> Callable[[], float]:
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)

    def step() -> float:
        begin = time.perf_counter()
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        opt.step()
        return time.perf_counter() - begin

    return step


def main() -> None:
    """Print the median step time of each model and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(args.batch, 1, 28, 28, generator=gen)
    y = torch.randint(0, 10, (args.batch,), generator=gen)
    steps = {
        name: _stepper(build_model("lenet", specs, image_shape=(1, 28, 28), num_classes=10,
                                   seed=0), x, y)
        for name, specs in (("cnn", PLAIN), ("analytic", analytic_preset("lenet")))
    }
    times: dict[str, list[float]] = {name: [] for name in steps}
    for i in range(args.steps + 5):
        for name, step in steps.items():
            t = step()
            if i >= 5:  # warm-up
                times[name].append(t)
    med = {name: statistics.median(ts) for name, ts in times.items()}
    for name, value in med.items():
        print(f"{name:9s} median step {1000 * value:7.1f} ms  ({args.batch / value:6.0f} img/s)")
    print(f"analytic / cnn = {med['analytic'] / med['cnn']:.2f} (threads {args.threads}, "
          f"batch {args.batch}, {args.steps} steps each, interleaved)")


if __name__ == "__main__":
    main()
