"""Scaling out on torch's own engine: DistributedDataParallel under ``torchrun``.

``torchrun --nproc-per-node N -m aclcore.cli train ...`` (or ``torchrun ... $(which acl)
train ...``) starts N processes with ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
``MASTER_ADDR`` and ``MASTER_PORT`` set; :func:`setup_distributed` reads them and joins the
process group (``gloo`` on the CPU, ``nccl`` on CUDA, one GPU per local rank). Without them
everything runs in one process. Rank 0 alone prints and writes files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from aclcore.errors import ConfigError

__all__ = ["DistContext", "resolve_device", "setup_distributed", "teardown_distributed"]


@dataclass(frozen=True)
class DistContext:
    """This process's place: ``rank`` of ``world_size`` and the device it trains on."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        """Whether this is rank 0 (the one that prints and writes)."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """Whether a process group with more than one process is in use."""
        return self.world_size > 1

    def all_reduce_sum(self, values: torch.Tensor) -> torch.Tensor:
        """The element-wise sum of ``values`` over the ranks (``values`` itself alone)."""
        if self.distributed:
            values = values.to(self.device)
            dist.all_reduce(values, op=dist.ReduceOp.SUM)
        return values.cpu()

    def barrier(self) -> None:
        """Wait for every rank (nothing alone)."""
        if self.distributed:
            dist.barrier()


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """``cpu``, ``cuda`` (the local rank's GPU) or ``cuda:N``; ConfigError when unavailable."""
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise ConfigError(f"unknown device {name!r}: use cpu, cuda or cuda:N") from None
    if device.type == "cpu":
        return device
    if device.type != "cuda":
        raise ConfigError(f"device {name!r} is not supported: use cpu, cuda or cuda:N")
    if not torch.cuda.is_available():
        raise ConfigError(f"--device {name}: no CUDA GPU is available here (torch "
                          f"{torch.__version__}); train on the CPU with --device cpu")
    index = device.index if device.index is not None else local_rank
    if index >= torch.cuda.device_count():
        raise ConfigError(f"--device {name}: GPU {index} does not exist (this machine has "
                          f"{torch.cuda.device_count()})")
    return torch.device("cuda", index)


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"environment variable {name}={value!r} is not an integer") from None


def setup_distributed(device: str = "cpu") -> DistContext:
    """Join the process group described by torchrun's environment, or run alone.

    Returns the context; call :func:`teardown_distributed` when done.
    """
    world = _env_int("WORLD_SIZE", 1)
    rank, local = _env_int("RANK", 0), _env_int("LOCAL_RANK", 0)
    dev = resolve_device(device, local)
    if world > 1 and not dist.is_initialized():
        if not dist.is_available():
            raise ConfigError("WORLD_SIZE > 1 but this torch build has no torch.distributed")
        backend = "nccl" if dev.type == "cuda" else "gloo"
        if dev.type == "cuda":
            torch.cuda.set_device(dev)
        dist.init_process_group(backend, rank=rank, world_size=world)
    if world > 1:
        rank, world = dist.get_rank(), dist.get_world_size()
    return DistContext(rank=rank, world_size=world, local_rank=local, device=dev)


def teardown_distributed(context: DistContext) -> None:
    """Leave the process group joined by :func:`setup_distributed` (nothing alone)."""
    if context.distributed and dist.is_initialized():
        dist.destroy_process_group()
