"""The eval-time cache of a layer's kernel bank (never part of the module's state).

A layer recomputes its bank from the AKPs on every call that needs gradients. When no
gradient can flow into the bank (``torch.no_grad``, ``torch.inference_mode`` or frozen
parameters) the bank of the previous call is reused as long as every parameter it depends on
is unchanged. "Unchanged" is decided first from a key over the parameters: the Python
identity, ``_version`` (bumped by every in-place update: optimiser steps,
``load_state_dict``'s ``copy_``), the storage pointer (``.data`` swaps, ``.to()``), device
and dtype. Writes through ``p.data`` bump no version, so a hit is also verified by content:
the AKPs and gains (small) against a snapshot taken with the bank, the free kernels against
their own copy inside the bank (no second copy kept), and the bank's ``_version`` (a write
into a returned ``layer.weight`` does not survive). The cache is a plain attribute, so it
never shows in ``state_dict`` and mode switches do not change keys.
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


def _still_valid(entry: tuple[Any, ...], params: Sequence[torch.Tensor],
                 copied: tuple[torch.Tensor, int] | None) -> bool:
    _, bank, version, snapshot = entry
    if bank._version != version:
        return False
    if not all(torch.equal(p, s) for p, s in zip(params, snapshot, strict=True)):
        return False
    if copied is None:
        return True
    tensor, row = copied
    return bank is tensor or torch.equal(bank[row:row + tensor.shape[0]], tensor)


class BankCache:
    """One cached bank, valid while its parameters are unchanged (see the module doc).

    The key, the bank and its checks are stored as one tuple (a single, atomic attribute
    write), so a thread can never read a bank together with another bank's key.
    """

    __slots__ = ("_entry", "hits", "misses")

    def __init__(self) -> None:
        self._entry: tuple[Any, ...] | None = None
        #: Number of calls served from the cache / recomputed (for tests and diagnostics).
        self.hits = 0
        self.misses = 0

    def get(
        self,
        params: Sequence[torch.Tensor],
        compute: Callable[[], torch.Tensor],
        *,
        copied: tuple[torch.Tensor, int] | None = None,
    ) -> torch.Tensor:
        """The cached bank if its parameters are unchanged, else ``compute()`` without autograd.

        Args:
            params: the tensors the bank is computed from (AKPs and gains).
            compute: computes the bank.
            copied: ``(tensor, row)``: a parameter the bank holds verbatim from ``row`` on
                (the free kernels).

        Parameters without storage (``torch.func`` transforms) cannot be keyed: the bank is
        then computed and not cached.
        """
        key = _key([*params, *([copied[0]] if copied is not None else [])])
        if key is None:
            with torch.no_grad():
                return compute()
        entry = self._entry
        if entry is not None and entry[0] == key and _still_valid(entry, params, copied):
            self.hits += 1
            return entry[1]  # type: ignore[no-any-return]
        self._entry = None  # free the stale bank before computing the new one
        # a normal (non-inference) tensor, so it stays usable outside inference_mode
        with torch.inference_mode(False), torch.no_grad():
            bank = compute()
            snapshot = tuple(p.detach().clone() for p in params)
        self._entry = (key, bank, bank._version, snapshot)
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
