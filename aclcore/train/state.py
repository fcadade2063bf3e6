"""The training state file of a run (``state.pt``): what ``--resume`` continues from.

A plain dict written with ``torch.save`` and read with ``torch.load(weights_only=True)``
(nothing in it is executed)::

    {"format": "aclcore.train-state", "version": 1, "name": "analytic", "epoch": 2,
     "config": TrainConfig.to_dict(), "model": model.state_dict(),
     "optimizer": ..., "schedule": ..., "history": [EpochRecord.as_dict(), ...]}

It is written after every epoch, to a temporary file then renamed, so an interrupted run
keeps its last complete epoch.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from aclcore.errors import ConfigError

__all__ = ["STATE_FILE", "STATE_FORMAT", "load_state", "save_state"]

STATE_FILE = "state.pt"
STATE_FORMAT = "aclcore.train-state"
STATE_VERSION = 1


def save_state(path: Path, **fields: Any) -> None:
    """Write the state (tensors moved to the CPU) atomically to ``path``."""
    payload = {"format": STATE_FORMAT, "version": STATE_VERSION, **fields}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)


def load_state(path: Path) -> dict[str, Any]:
    """Read a state written by :func:`save_state` (weights only; ConfigError otherwise)."""
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types; weights_only executed nothing
        raise ConfigError(f"{path}: not a readable training state ({type(err).__name__}: "
                          f"{' '.join(str(err).split())[:200]}); start a new run instead "
                          "of --resume") from None
    if not isinstance(data, dict) or data.get("format") != STATE_FORMAT:
        raise ConfigError(f"{path}: not an aclcore training state (format "
                          f"{STATE_FORMAT!r} expected)")
    if data.get("version") != STATE_VERSION:
        raise ConfigError(f"{path}: training state version {data.get('version')!r} is not "
                          f"supported (this aclcore writes {STATE_VERSION})")
    for key in ("name", "epoch", "config", "model", "optimizer", "schedule", "history"):
        if key not in data:
            raise ConfigError(f"{path}: the training state lacks {key!r}")
    return data
