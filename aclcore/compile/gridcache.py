"""The grid-only values of a generated kernel function, kept per tap grid.

The code generator hoists every sub-expression of the coordinates alone (``x**2 + y**2``,
the stacked features of a linear form) into a block the generated function runs only when it
is not handed those values. :class:`GridCache` runs that block once per tap grid (the same
coordinate tensors: :func:`aclcore.nn.functional.sample_kernels` reuses its grids) and hands
the values back on the next call, so sampling a bank costs only the work that depends on the
AKPs.

The values are built outside the autograd graph and outside inference mode (coordinates that
require gradients, inference tensors, ``torch.func`` transforms and ``torch.compile`` tracing
are not cached: the function computes the block itself). An entry is valid while its
coordinate tensors and values are the very objects, unwritten (version counters unchanged),
so an in-place write anywhere makes the next call rebuild it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import torch

__all__ = ["GridCache"]

_is_wrapped = getattr(torch._C._functorch, "is_functorch_wrapped_tensor", None)


def _tensors(value: Any) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, tuple):
        return [t for item in value for t in _tensors(item)]
    return []


class GridCache:
    """Grid-only values of one generated function, by coordinate tensors (LRU, ``size``)."""

    def __init__(self, function: Callable[..., Any], size: int = 32) -> None:
        self._function = function
        self._size = size
        self._entries: OrderedDict[tuple[int, ...], tuple[Any, ...]] = OrderedDict()
        self._lock = threading.Lock()

    def lookup(self, coords: Sequence[torch.Tensor]) -> tuple[Any, ...] | None:
        """The grid values for ``coords`` (computed on a miss), or None when not cacheable."""
        if torch.compiler.is_compiling():
            return None
        for c in coords:
            if c.requires_grad or c.is_inference() or (_is_wrapped is not None
                                                       and _is_wrapped(c)):
                return None
        key = tuple(id(c) for c in coords)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                held, tensors, versions, values = entry
                if (all(a is b for a, b in zip(held, coords, strict=True))
                        and [t._version for t in tensors] == versions):
                    self._entries.move_to_end(key)
                    return values  # type: ignore[no-any-return]
        with torch.inference_mode(False), torch.no_grad():
            values = self._function(tuple(coords), None)
        tensors = [*coords, *_tensors(values)]
        with self._lock:
            self._entries[key] = (tuple(coords), tensors, [t._version for t in tensors], values)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return values  # type: ignore[no-any-return]

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._entries.clear()
