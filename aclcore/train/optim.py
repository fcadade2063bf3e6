"""AdamW with separate AKP / free-weight parameter groups, and the learning-rate schedule.

The groups come from :func:`aclcore.nn.param_groups`: ``"other"`` (free kernels, plain
convolutions, biases, linear layers...) with ``lr`` and weight decay, and ``"akp"`` (raw AKPs
and gains) with ``akp_lr`` and no weight decay. The schedule is a ``LambdaLR`` (its state is
plain data, so checkpoints load with ``weights_only=True``).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from aclcore.nn import param_groups
from aclcore.train.config import TrainConfig

__all__ = ["lr_factor", "make_optimizer", "make_schedule"]


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.AdamW:
    """AdamW over the ``"other"`` and ``"akp"`` groups of ``model``."""
    groups = param_groups(model, akp_lr=config.akp_lr or config.lr, lr=config.lr,
                          weight_decay=config.weight_decay)
    return torch.optim.AdamW(groups, lr=config.lr, weight_decay=config.weight_decay)


def lr_factor(step: int, total: int, warmup: int, schedule: str) -> float:
    """The multiplier of the base learning rates at optimiser step ``step`` (0-based)."""
    warm = min(warmup, max(total - 1, 0))
    if step < warm:
        return (step + 1) / (warm + 1)
    if schedule == "constant":
        return 1.0
    progress = min(1.0, (step - warm) / max(1, total - warm))
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def make_schedule(optimizer: torch.optim.Optimizer, total_steps: int,
                  config: TrainConfig) -> torch.optim.lr_scheduler.LambdaLR:
    """A per-step schedule following :func:`lr_factor`."""
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda step: lr_factor(step, total_steps, config.warmup_steps, config.schedule),
    )
