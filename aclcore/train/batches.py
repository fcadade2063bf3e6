"""Deterministic mini-batches, split across distributed ranks.

The order of the training examples in epoch ``e`` is a permutation drawn from a generator
seeded with ``(seed, e)`` only, so a resumed run sees exactly the batches an uninterrupted one
would. Each *global* batch of ``batch_size`` examples is cut into ``world_size`` equal slices,
one per rank: with DistributedDataParallel (which averages the ranks' gradients) a step
therefore follows the gradient of the mean loss over the global batch, as in one process.
The last incomplete global batch of an epoch is dropped.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from aclcore.data.splits import Split
from aclcore.errors import ConfigError

__all__ = ["epoch_order", "eval_batches", "steps_per_epoch", "train_batches"]


def steps_per_epoch(n: int, batch_size: int, world_size: int = 1) -> int:
    """Optimiser steps per epoch (ConfigError when there is not one full global batch)."""
    if batch_size % world_size:
        raise ConfigError(f"batch size {batch_size} is not divisible by the {world_size} "
                          "distributed processes; the global batch is split evenly")
    if n < batch_size:
        raise ConfigError(f"batch size {batch_size} is larger than the {n} training examples; "
                          "use a smaller --batch-size or more data")
    return n // batch_size


def epoch_order(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The permutation of ``range(n)`` used in ``epoch`` (0-based) under ``seed``."""
    gen = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(n, generator=gen)


def train_batches(split: Split, batch_size: int, seed: int, epoch: int, rank: int = 0,
                  world_size: int = 1) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """This rank's slice of every global batch of ``epoch``."""
    steps = steps_per_epoch(len(split), batch_size, world_size)
    order = epoch_order(len(split), seed, epoch)
    part = batch_size // world_size
    for step in range(steps):
        index = order[step * batch_size + rank * part: step * batch_size + (rank + 1) * part]
        yield split.images[index], split.labels[index]


def eval_batches(split: Split, batch_size: int, rank: int = 0, world_size: int = 1
                 ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """This rank's share of the split (contiguous shards), in batches, in order."""
    n = len(split)
    lo, hi = n * rank // world_size, n * (rank + 1) // world_size
    for start in range(lo, hi, batch_size):
        stop = min(start + batch_size, hi)
        yield split.images[start:stop], split.labels[start:stop]
