"""A progress bar over an epoch's steps, with loss, accuracy and throughput.

tqdm draws it when installed (``pip install tqdm``; from a checkout of the
aclcore repository ``pip install -c constraints.txt './[train]'``); otherwise, and when disabled,
nothing is drawn. Only rank 0 shows one. Output goes to stderr, so ``acl train --json`` keeps
stdout machine-readable.
"""

from __future__ import annotations

import sys
from types import TracebackType
from typing import Any

__all__ = ["EpochProgress"]


class EpochProgress:
    """A bar over ``total`` steps: ``with EpochProgress(...) as bar: bar.update(...)``."""

    def __init__(self, total: int, desc: str, enabled: bool) -> None:
        self._bar: Any = None
        self._loss = 0.0
        self._correct = 0
        self._seen = 0
        self._seconds = 0.0
        if not enabled:
            return
        try:
            from tqdm import tqdm
        except ImportError:
            return
        self._bar = tqdm(total=total, desc=desc, unit="step", file=sys.stderr, leave=True,
                         dynamic_ncols=True, mininterval=0.5)

    def __enter__(self) -> EpochProgress:
        return self

    def update(self, loss: float, correct: int, count: int, seconds: float) -> None:
        """One step: its mean loss, correct predictions, examples and seconds (all ranks)."""
        self._loss += loss * count
        self._correct += correct
        self._seen += count
        self._seconds += seconds
        if self._bar is not None:
            self._bar.update(1)
            if self._bar.n % 10 == 0 or self._bar.n == self._bar.total:
                self._bar.set_postfix(
                    loss=f"{self._loss / self._seen:.4f}",
                    acc=f"{100 * self._correct / self._seen:.2f}%",
                    img_s=f"{self._seen / max(self._seconds, 1e-9):.0f}", refresh=False)

    def note(self, text: str) -> None:
        """Show ``text`` after the counters (e.g. the validation accuracy at the end)."""
        if self._bar is not None:
            self._bar.set_postfix_str(f"{self._bar.postfix}, {text}")

    def __exit__(self, kind: type[BaseException] | None, err: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._bar is not None:
            self._bar.close()
