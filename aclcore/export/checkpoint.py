"""Checkpoints that load safely and without the plugins that provided their families.

:func:`save_checkpoint` writes a torch file holding only plain values and tensors::

    {"format": "aclcore.checkpoint", "version": 1, "aclcore_version": "...",
     "model": "<class name>", "json": <aclcore.export.to_json(model)>,
     "state_dict": model.state_dict(), "metadata": {...}}

so ``torch.load(path, weights_only=True)`` reads it. :func:`load_checkpoint` reads it that
way (never unpickling code), rebuilds every analytic layer from the embedded JSON export (so
the families' plugins need not be installed) and returns a :class:`Checkpoint`. It also
accepts a plain ``torch.save(model.state_dict())`` file, whose layers are rebuilt from their
extra state with the *installed* families (a missing family raises
:class:`~aclcore.errors.UnknownFamilyError` naming it and the distribution that provided it),
and a *training run directory*: a directory containing ``checkpoint.pt``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from aclcore.errors import ExportError
from aclcore.export.containers import CHECKPOINT_FORMAT, Checkpoint, LayerDict
from aclcore.export.json_read import read_document
from aclcore.export.json_write import to_json
from aclcore.export.schema import ExportLimits, Reader, plain_value
from aclcore.export.state_dict import layers_from_state_dict
from aclcore.version import __version__

__all__ = ["CHECKPOINT_FORMAT", "CHECKPOINT_VERSION", "RUN_CHECKPOINT", "Checkpoint",
           "load_checkpoint", "resolve_source", "save_checkpoint"]

#: The current version of the checkpoint layout.
CHECKPOINT_VERSION = 1
#: The checkpoint file inside a training run directory.
RUN_CHECKPOINT = "checkpoint.pt"
_KEYS = ("format", "version", "aclcore_version", "model", "json", "state_dict", "metadata")


def save_checkpoint(model_or_layer: nn.Module, path: str | os.PathLike[str],
                    **metadata: Any) -> Path:
    """Save a model (or one analytic layer) as an aclcore checkpoint.

    Args:
        model_or_layer: an analytic layer or a model containing analytic layers.
        path: the file to write (parent directories are created). A training run directory
            keeps it as ``<run>/checkpoint.pt``.
        **metadata: plain values to keep with it (str, int, float, bool, None, lists, dicts
            with str keys), e.g. ``step=1200, accuracy=0.97``.

    Returns:
        The path written.

    Raises:
        ExportError: metadata that is not plain data, or a model without analytic layers.
    """
    meta = plain_value(metadata, "metadata")
    state = {k: (v.detach().cpu() if isinstance(v, torch.Tensor) else v)
             for k, v in model_or_layer.state_dict().items()}
    payload = {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "aclcore_version": __version__,
        "model": type(model_or_layer).__name__,
        "json": to_json(model_or_layer, indent=None, kernels=False),
        "state_dict": state,
        "metadata": meta,
    }
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(payload, out)
    return out


def resolve_source(path: str | os.PathLike[str]) -> Path:
    """The checkpoint file for ``path``: the file itself, or ``<dir>/checkpoint.pt``."""
    p = Path(path)
    if p.is_dir():
        p = p / RUN_CHECKPOINT
        if not p.is_file():
            raise ExportError(f"{path} is a directory without {RUN_CHECKPOINT}: a training run "
                              f"directory keeps its checkpoint as {RUN_CHECKPOINT}")
    elif p.exists() and not p.is_file():
        raise ExportError(f"{path} is not a regular file: give a checkpoint file or a training "
                          "run directory")
    elif not p.is_file():
        raise ExportError(f"{path}: no such checkpoint file or run directory")
    return p


def looks_like_json(path: Path) -> bool:
    """Whether the file ``path`` starts (after blanks) with ``{``: a JSON document."""
    try:
        with path.open("rb") as file:
            head = file.read(4096)
    except OSError:
        return False
    return head.removeprefix(b"\xef\xbb\xbf").lstrip(b" \t\r\n").startswith(b"{")


def _read(path: Path, limits: ExportLimits) -> Any:
    size = path.stat().st_size
    if size > limits.max_file_bytes:
        raise ExportError(f"{path}: {size} bytes is larger than the limit "
                          f"({limits.max_file_bytes})")
    if looks_like_json(path):
        raise ExportError(f"{path}: this is a JSON document, not a torch checkpoint; read a "
                          "JSON export with aclcore.export.from_json (acl export reads it as "
                          "SOURCE)")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types; nothing was executed (weights_only)
        text = " ".join(str(err).split())[:300]
        if "weights only" in text.lower() or "weights_only" in text:
            raise ExportError(
                f"{path}: refused: the file is not a weights-only checkpoint (it asks to "
                f"unpickle arbitrary objects, which could run code); aclcore loads checkpoints "
                f"with torch.load(weights_only=True) only. Details: {text}") from None
        raise ExportError(f"{path}: not a readable torch checkpoint ({type(err).__name__}: "
                          f"{text})") from None


def load_checkpoint(path: str | os.PathLike[str], *,
                    limits: ExportLimits | None = None) -> Checkpoint:
    """Load a checkpoint file or training run directory without running any code from it.

    Reads with ``torch.load(weights_only=True)``. An aclcore checkpoint
    (:func:`save_checkpoint`) is rebuilt from its embedded JSON export: the families'
    plugins need not be installed (a plugin whose definition differs warns). A plain
    ``torch.save(model.state_dict())`` file is rebuilt from the layers' extra state with the
    installed families.

    Raises:
        ExportError: the file is missing, not a weights-only torch file (e.g. a pickle with
            code), malformed, or exceeds ``limits`` (naming the field).
        UnknownFamilyError: a plain state dict uses a family that is not installed (names it
            and the distribution that provided it).
    """
    limits = limits or ExportLimits()
    file = resolve_source(path)
    data = _read(file, limits)
    r = Reader(limits)
    if isinstance(data, Mapping) and "format" in data:
        r.header(data, "checkpoint.", CHECKPOINT_FORMAT, CHECKPOINT_VERSION,
                 what="checkpoint", version_name="checkpoint version")
        doc = r.obj(dict(data), "checkpoint", _KEYS)
        for key in ("aclcore_version", "model"):
            r.string(doc[key], f"checkpoint.{key}", max_len=200)
        text = r.string(doc["json"], "checkpoint.json", max_len=limits.max_chars)
        state = doc["state_dict"]
        if not isinstance(state, Mapping) or not all(isinstance(k, str) for k in state):
            r.fail("checkpoint.state_dict", "expected a mapping of names to tensors")
        meta = doc["metadata"]
        if not isinstance(meta, dict):
            r.fail("checkpoint.metadata", "expected a dict")
        meta = plain_value(meta, "checkpoint.metadata", max_depth=limits.max_depth)
        root, layers = read_document(text, limits)
        kind = CHECKPOINT_FORMAT
    else:
        state = data
        meta = {}
        root, layers = layers_from_state_dict(data, limits=limits)
        kind = "state_dict"
    module: nn.Module = layers[0][1] if root == "layer" else LayerDict(layers)
    return Checkpoint(module, meta, dict(state), kind, file)
