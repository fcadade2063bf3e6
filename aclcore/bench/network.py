"""Whole-network training step: the main job's AnaNN against its CNN, in the same run.

One unit of work is one AdamW step (forward, cross-entropy, backward, update) of the LeNet
of ``acl train`` on an MNIST-sized batch: the CNN baseline (``PLAIN``) and the analytic preset
(``analytic_preset("lenet")``: a Gabor first layer and a Gabor + Gaussian-d2 mosaic second
layer), built by :func:`aclcore.models.build_model` with the same seed.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from aclcore.bench.harness import Comparison, compare
from aclcore.models import PLAIN, analytic_preset, build_model

__all__ = ["measure_train_step", "train_stepper"]


def train_stepper(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor
                  ) -> Callable[[], None]:
    """One AdamW step of ``model`` on the batch ``(x, y)`` (cross-entropy), as a callable."""
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)

    def step() -> None:
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        opt.step()

    return step


def measure_train_step(*, batch: int = 64, rounds: int = 11, repeats: int = 3,
                       seed: int = 0) -> Comparison:
    """Time the training steps of both models (cases ``cnn``, the baseline, and ``analytic``)."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, 1, 28, 28, generator=gen)
    y = torch.randint(0, 10, (batch,), generator=gen)
    steps = {
        name: train_stepper(build_model("lenet", specs, image_shape=(1, 28, 28), num_classes=10,
                                   seed=seed), x, y)
        for name, specs in (("cnn", PLAIN), ("analytic", analytic_preset("lenet")))
    }
    return compare(steps, baseline="cnn", rounds=rounds, repeats=repeats, warmup=3)
