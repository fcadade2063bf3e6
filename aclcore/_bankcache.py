"""The eval-time cache of a layer's kernel bank (never part of the module's state).

A layer recomputes its bank from the AKPs on every call that needs gradients. When no
gradient can flow into the bank (``torch.no_grad``, ``torch.inference_mode`` or frozen
parameters) the bank of the previous call is reused as long as every parameter it depends on
is unchanged. "Unchanged" is decided from a key over the parameters: the Python identity,
``_version`` (bumped by every in-place update: optimiser steps, ``load_state_dict``'s
``copy_``), the storage pointer (``.data`` swaps, ``.to()``), device and dtype. The cache is a
plain attribute, so it never shows in ``state_dict`` and mode switches do not change keys.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

__all__ = ["BankCache"]


def _key(params: Sequence[torch.Tensor]) -> tuple[Any, ...] | None:
    try:
        return tuple(
            (id(p), p._version, p.data_ptr(), p.device, p.dtype, tuple(p.shape))
            for p in params
        )
    except (RuntimeError, NotImplementedError):  # no storage: functorch wrappers, fakes
        return None


class BankCache:
    """One cached bank, valid while the key of its parameters is unchanged.

    The key and the bank are stored as one tuple (a single, atomic attribute write), so a
    thread can never read a bank together with another bank's key.
    """

    __slots__ = ("_entry", "hits", "misses")

    def __init__(self) -> None:
        self._entry: tuple[tuple[Any, ...], torch.Tensor] | None = None
        #: Number of calls served from the cache / recomputed (for tests and diagnostics).
        self.hits = 0
        self.misses = 0

    def get(
        self, params: Sequence[torch.Tensor], compute: Callable[[], torch.Tensor]
    ) -> torch.Tensor:
        """The cached bank if ``params`` are unchanged, else ``compute()`` without autograd.

        Parameters without storage (``torch.func`` transforms) cannot be keyed: the bank is
        then computed and not cached.
        """
        key = _key(params)
        if key is None:
            with torch.no_grad():
                return compute()
        entry = self._entry
        if entry is not None and entry[0] == key:
            self.hits += 1
            return entry[1]
        self._entry = None  # free the stale bank before computing the new one
        # a normal (non-inference) tensor, so it stays usable outside inference_mode
        with torch.inference_mode(False), torch.no_grad():
            bank = compute()
        self._entry = (key, bank)
        self.misses += 1
        return bank

    def clear(self) -> None:
        """Drop the cached bank (the next call recomputes)."""
        self._entry = None

    @property
    def bank(self) -> torch.Tensor | None:
        """The cached bank, if any."""
        entry = self._entry
        return None if entry is None else entry[1]

    def __getstate__(self) -> dict[str, Any]:
        return {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__()  # type: ignore[misc]
