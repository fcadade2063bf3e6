"""What reading an export gives back: :class:`LayerDict` and :class:`Checkpoint`.

:func:`aclcore.export.from_json` returns a :class:`LayerDict` (rebuilt analytic layers by
module path) for a model; :func:`aclcore.export.checkpoint.load_checkpoint` returns a
:class:`Checkpoint` (the layers, the whole state dict and the metadata). Every export function
accepts both.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from torch import nn

from aclcore.errors import ExportError
from aclcore.nn.layers import AnalyticConvNd

__all__ = ["CHECKPOINT_FORMAT", "Checkpoint", "LayerDict"]

#: The ``format`` field of an aclcore checkpoint.
CHECKPOINT_FORMAT = "aclcore.checkpoint"


class LayerDict(nn.Module):
    """Rebuilt analytic layers by module path: what :func:`~aclcore.export.from_json` returns
    for a model.

    The layers sit at the same module paths as in the exported model (``"features.0"`` is the
    submodule ``features`` -> ``0``), so ``state_dict()`` keys match the original model's.
    It is a read-only mapping: ``layers["features.0"]``, ``len``, iteration over the paths,
    ``keys()``, ``values()``, ``items()``; and a Module (``.to()``, ``.parameters()``).
    """

    def __init__(self, layers: list[tuple[str, AnalyticConvNd]]) -> None:
        super().__init__()
        self._paths: list[str] = []
        for path, layer in layers:
            parent: nn.Module = self
            parts = path.split(".")
            try:
                for part in parts[:-1]:
                    child = parent._modules.get(part)
                    if child is None:
                        child = nn.Module()
                        parent.add_module(part, child)
                    parent = child
                if parts[-1] in parent._modules:
                    raise KeyError(f"{path!r} is given twice")
                parent.add_module(parts[-1], layer)
            except (KeyError, TypeError) as err:
                raise ExportError(f"layer path {path!r} cannot be rebuilt: {err}") from None
            self._paths.append(path)

    def forward(self, *args: object, **kwargs: object) -> NoReturn:
        """Refuse to run: the document holds the analytic layers, not the model around them."""
        example = self._paths[0] if self._paths else "features.0"
        raise ExportError(
            "a LayerDict holds the rebuilt analytic layers of a model, not the model's "
            f"architecture, so it cannot be called; call a layer (layers[{example!r}](x)) or "
            "load the document into the model with aclcore.export.load_json_into(model, text)"
        )

    def __getitem__(self, path: str) -> AnalyticConvNd:
        if path not in self._paths:
            raise KeyError(f"no layer {path!r}; layers: {', '.join(self._paths)}")
        layer = self.get_submodule(path)
        assert isinstance(layer, AnalyticConvNd)
        return layer

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._paths))

    def __len__(self) -> int:
        return len(self._paths)

    def __contains__(self, path: object) -> bool:
        return path in self._paths

    def keys(self) -> list[str]:
        """The module paths, in document order."""
        return list(self._paths)

    def values(self) -> list[AnalyticConvNd]:
        """The layers, in document order."""
        return [self[p] for p in self._paths]

    def items(self) -> list[tuple[str, AnalyticConvNd]]:
        """``(path, layer)`` pairs, in document order."""
        return [(p, self[p]) for p in self._paths]


@dataclass
class Checkpoint:
    """What :func:`load_checkpoint` returns.

    Attributes:
        module: the rebuilt analytic layer (a checkpoint of one layer) or a
            :class:`~aclcore.export.LayerDict` of the model's analytic layers by module path.
        metadata: the keyword arguments given to :func:`save_checkpoint` (plain values).
        state_dict: the whole model's ``state_dict`` (also the layers that are not analytic,
            e.g. a classifier head), to load into your own architecture.
        kind: ``"aclcore.checkpoint"`` or ``"state_dict"`` (a plain ``torch.save`` file).
        path: the file read.
    """

    module: nn.Module
    metadata: dict[str, Any] = field(default_factory=dict)
    state_dict: dict[str, Any] = field(default_factory=dict)
    kind: str = CHECKPOINT_FORMAT
    path: Path | None = None

    @property
    def layers(self) -> dict[str, AnalyticConvNd]:
        """The rebuilt analytic layers by module path (``""`` for a single layer)."""
        if isinstance(self.module, AnalyticConvNd):
            return {"": self.module}
        assert isinstance(self.module, LayerDict)
        return dict(self.module.items())

    @property
    def layer(self) -> AnalyticConvNd:
        """The layer of a single-layer checkpoint (ExportError for a model's checkpoint)."""
        if not isinstance(self.module, AnalyticConvNd):
            raise ExportError(f"the checkpoint holds a model with layers "
                              f"{list(self.layers)}; use .layers or .module")
        return self.module
