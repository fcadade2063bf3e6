"""The options of one training run, as a frozen value with a plain-dict form.

:class:`TrainConfig` is what ``acl train`` passes to :func:`aclcore.train.loop.train_model`
and what the run directory records (``run.json``), so that ``--resume`` continues with the
same options.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from aclcore.errors import ConfigError

__all__ = ["SCHEDULES", "TrainConfig"]

#: Learning-rate schedules: cosine decay to 0 after a linear warm-up, or constant.
SCHEDULES = ("cosine", "constant")


@dataclass(frozen=True)
class TrainConfig:
    """Options of a training run.

    Attributes:
        epochs: passes over the training split.
        batch_size: the *global* batch (split evenly across DistributedDataParallel ranks).
        lr: AdamW learning rate of every parameter that is not an AKP or gain.
        akp_lr: learning rate of the AKPs and gains (``None``: ``lr``).
        weight_decay: AdamW weight decay (never applied to AKPs and gains).
        schedule: ``"cosine"`` (per step, after ``warmup_steps`` of linear warm-up) or
            ``"constant"``.
        warmup_steps: optimiser steps of linear warm-up.
        seed: seeds the model's initialisation and the order of the training examples.
        device: ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
        amp: automatic mixed precision (bfloat16 on the CPU, float16 with loss scaling on
            CUDA).
        eval_batch_size: batch size of evaluation.
    """

    epochs: int = 3
    batch_size: int = 64
    lr: float = 2e-3
    akp_lr: float | None = None
    weight_decay: float = 1e-4
    schedule: str = "cosine"
    warmup_steps: int = 100
    seed: int = 0
    device: str = "cpu"
    amp: bool = False
    eval_batch_size: int = 1000

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "eval_batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be a positive int, got {value!r}")
        if isinstance(self.warmup_steps, bool) or not isinstance(self.warmup_steps, int) \
                or self.warmup_steps < 0:
            raise ConfigError(f"warmup_steps must be an int >= 0, got {self.warmup_steps!r}")
        for name in ("lr", "akp_lr"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, (int, float)) and 0 < value < 10):
                raise ConfigError(f"{name} must be a number in (0, 10), got {value!r}")
        if not isinstance(self.weight_decay, (int, float)) or not 0 <= self.weight_decay < 1:
            raise ConfigError(f"weight_decay must be in [0, 1), got {self.weight_decay!r}")
        if self.schedule not in SCHEDULES:
            raise ConfigError(f"schedule {self.schedule!r} is unknown: use "
                              f"{' or '.join(SCHEDULES)}")

    def to_dict(self) -> dict[str, Any]:
        """Plain values (for ``run.json`` and checkpoints)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """The inverse of :meth:`to_dict`; unknown keys are a ConfigError naming them."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ConfigError(f"unknown training options {unknown}; known: {sorted(names)}")
        return cls(**data)
