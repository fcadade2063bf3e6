"""Kernel banks from files: :func:`load_bank` (what ``acl fit SOURCE`` reads).

* ``.npy``: the array itself (read with ``allow_pickle=False``); ``.npz``: the array named
  by ``layer``.
* a torch file (``.pt``, ``.pth``, anything else): read with ``torch.load(weights_only=True)``
  (never unpickling code). A tensor is the bank; a mapping (a ``state_dict``, or a
  checkpoint holding one under ``"state_dict"``, ``"model"``, ``"model_state_dict"``...) is
  searched for ``<layer>.weight`` (or ``<layer>`` itself).
* a directory: a training run directory, read through its ``checkpoint.pt``.

Without ``layer``, a mapping must hold exactly one convolution weight (a tensor of 3 to 5
dimensions whose key ends in ``.weight``); otherwise the error lists them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from aclcore.errors import AclError, ConfigError
from aclcore.export.checkpoint import resolve_source

__all__ = ["load_bank"]

_NESTED = ("state_dict", "model", "model_state_dict", "module", "net", "weights")


def _weights(mapping: Mapping[Any, Any], prefix: str = "", depth: int = 0
             ) -> dict[str, torch.Tensor]:
    """Every tensor of 3-5 dimensions in ``mapping`` (and nested state dicts) by key."""
    found: dict[str, torch.Tensor] = {}
    for key, value in mapping.items():
        if not isinstance(key, str):
            continue
        if isinstance(value, torch.Tensor) and value.dim() in (3, 4, 5):
            found[prefix + key] = value
        elif isinstance(value, Mapping) and depth < 2 and key in _NESTED:
            found.update(_weights(value, prefix, depth + 1))
    return found


def _from_mapping(mapping: Mapping[Any, Any], layer: str | None, source: str) -> torch.Tensor:
    weights = _weights(mapping)
    convs = sorted(k[: -len(".weight")] for k in weights if k.endswith(".weight"))
    if layer is None:
        if len(convs) == 1:
            return weights[convs[0] + ".weight"]
        listed = ", ".join(convs) or "none"
        raise ConfigError(f"{source}: name the layer to fit (--layer NAME); convolution "
                          f"weights found: {listed}")
    for key in (f"{layer}.weight", layer):
        if key in weights:
            return weights[key]
    raise ConfigError(f"{source}: no convolution weight for layer {layer!r}; layers found: "
                      f"{', '.join(convs) or 'none'}")


def load_bank(source: str | os.PathLike[str], layer: str | None = None) -> torch.Tensor:
    """The kernel bank ``(N, C, *k)`` stored in ``source`` (see the module doc).

    Raises:
        ConfigError: the file is missing or unreadable, holds no bank of 3 to 5 dimensions,
            or ``layer`` is missing or unknown (the message lists the layers found).
    """
    path = Path(source)
    name = str(source)
    if path.suffix.lower() in (".npy", ".npz"):
        if not path.is_file():
            raise ConfigError(f"{name}: no such file")
        try:
            data = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as err:
            raise ConfigError(f"{name}: not a readable NumPy file ({err})") from None
        if isinstance(data, np.ndarray):
            array = data
        else:
            with data:
                keys = list(data.keys())
                if layer is None and len(keys) == 1:
                    layer = keys[0]
                if layer not in keys:
                    raise ConfigError(f"{name}: name the array to fit (--layer NAME); arrays: "
                                      f"{', '.join(keys)}")
                array = data[layer]
        bank = torch.from_numpy(np.array(array))
    else:
        try:
            file = resolve_source(path)
        except AclError as err:
            raise ConfigError(str(err)) from None
        try:
            data = torch.load(file, map_location="cpu", weights_only=True)
        except Exception as err:  # torch raises many types; nothing was executed
            text = " ".join(str(err).split())[:300]
            raise ConfigError(f"{name}: not a weights-only torch file ({type(err).__name__}: "
                              f"{text})") from None
        if isinstance(data, torch.Tensor):
            bank = data
        elif isinstance(data, Mapping):
            bank = _from_mapping(data, layer, name)
        else:
            raise ConfigError(f"{name}: holds a {type(data).__name__}, not a tensor or a "
                              "state dict")
    if bank.dim() not in (3, 4, 5):
        raise ConfigError(f"{name}: the bank has shape {tuple(bank.shape)}; expected "
                          "(N, C, *kernel_size) with 1 to 3 spatial dimensions")
    return bank
