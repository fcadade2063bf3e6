"""Train / validation / test splits as normalised tensors, with deterministic subsets.

Every loader of :mod:`aclcore.data` ends in :func:`make_splits`: images in ``[0, 1]``
shaped ``(n, channels, height, width)``, integer labels, three fixed splits (never drawn from
the training seed, so every seed sees the same test set). Normalisation uses the mean and
standard deviation per channel of the *training* split only. :meth:`DataSplits.subset`
keeps a deterministic part of each split (for tests and quick runs).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from aclcore.errors import DataError

__all__ = ["DataSplits", "Split", "make_splits"]


@dataclass(frozen=True)
class Split:
    """One split: ``images`` ``(n, c, h, w)`` float32 (normalised) and ``labels`` ``(n,)``."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def head(self, n: int) -> Split:
        """The first ``n`` examples (the splits are stored in a fixed shuffled order)."""
        return Split(self.images[:n], self.labels[:n])


@dataclass(frozen=True)
class DataSplits:
    """A data set ready for training.

    Attributes:
        name: ``"mnist"``, ``"cifar10"`` or ``"digits"``.
        source: where it was read from, in words (file, distribution and version).
        train, val, test: the splits (validation for model selection, test reported only).
        num_classes: number of classes (labels are ``0 .. num_classes - 1``).
        mean, std: the per-channel normalisation (of the raw ``[0, 1]`` pixels).
        note: why this data set was chosen when another was asked for ("" otherwise).
    """

    name: str
    source: str
    train: Split
    val: Split
    test: Split
    num_classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    note: str = ""

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(channels, height, width)``."""
        c, h, w = self.train.images.shape[1:]
        return int(c), int(h), int(w)

    def subset(self, train: int, evaluation: int | None = None) -> DataSplits:
        """Keep the first ``train`` training and ``evaluation`` (default ``max(1, train // 4)``)
        validation and test examples; deterministic (the splits are in a fixed order)."""
        if train < 1:
            raise DataError(f"subset must be a positive number of examples, got {train}")
        n_eval = max(1, train // 4) if evaluation is None else evaluation
        return replace(self, train=self.train.head(train), val=self.val.head(n_eval),
                       test=self.test.head(n_eval))

    def normalize(self, raw: torch.Tensor) -> torch.Tensor:
        """Raw ``[0, 1]`` images to the normalised inputs the models see."""
        mean, std = self._stats(raw)
        return (raw - mean) / std

    def denormalize(self, images: torch.Tensor) -> torch.Tensor:
        """Normalised images back to raw ``[0, 1]`` pixels."""
        mean, std = self._stats(images)
        return images * std + mean

    def _stats(self, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        shape = (1, len(self.mean), 1, 1)
        return (torch.tensor(self.mean, dtype=like.dtype, device=like.device).reshape(shape),
                torch.tensor(self.std, dtype=like.dtype, device=like.device).reshape(shape))

    def describe(self) -> dict[str, Any]:
        """Plain values for run records: name, source, sizes, shape, classes, normalisation."""
        return {
            "name": self.name, "source": self.source,
            "sizes": {"train": len(self.train), "val": len(self.val), "test": len(self.test)},
            "image_shape": list(self.image_shape), "num_classes": self.num_classes,
            "mean": list(self.mean), "std": list(self.std), "note": self.note,
        }


def _order(n: int, seed: int) -> torch.Tensor:
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed))


def _as_images(x: np.ndarray[Any, Any], what: str) -> torch.Tensor:
    if x.ndim != 4:
        raise DataError(f"{what}: images must be shaped (n, c, h, w), got {x.shape}")
    t = torch.from_numpy(np.ascontiguousarray(x))
    t = t.float() / 255.0 if x.dtype == np.uint8 else t.float()
    if not bool(torch.isfinite(t).all()) or float(t.min()) < 0.0 or float(t.max()) > 1.0:
        raise DataError(f"{what}: pixel values must be in [0, 1] (or uint8)")
    return t


def _as_labels(y: np.ndarray[Any, Any], n: int, num_classes: int, what: str) -> torch.Tensor:
    if y.shape != (n,) or y.dtype.kind not in "iu":
        raise DataError(f"{what}: expected {n} integer labels, got {y.dtype} {y.shape}")
    t = torch.from_numpy(np.ascontiguousarray(y)).long()
    if n and (int(t.min()) < 0 or int(t.max()) >= num_classes):
        raise DataError(f"{what}: labels must be 0..{num_classes - 1}, got "
                        f"{int(t.min())}..{int(t.max())}")
    return t


def make_splits(
    name: str,
    source: str,
    parts: dict[str, tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]],
    num_classes: int,
) -> DataSplits:
    """Splits from numpy ``(images, labels)`` per split name (``train``, ``val``, ``test``).

    Images are ``(n, c, h, w)``, uint8 (0..255) or float in ``[0, 1]``. Each split is put in
    a fixed shuffled order (seed 0, independent of any training seed) so that a
    :meth:`DataSplits.subset` is a fair sample; normalisation statistics come from ``train``.
    """
    out: dict[str, Split] = {}
    for key in ("train", "val", "test"):
        x, y = parts[key]
        images = _as_images(x, f"{name} {key} images")
        labels = _as_labels(y, images.shape[0], num_classes, f"{name} {key} labels")
        if images.shape[0] == 0:
            raise DataError(f"{name}: the {key} split is empty")
        order = _order(images.shape[0], seed=0)
        out[key] = Split(images[order], labels[order])
    train = out["train"].images
    mean = train.mean(dim=(0, 2, 3)).double()
    std = train.std(dim=(0, 2, 3)).double().clamp_min(1e-6)
    stats = tuple(float(v) for v in mean), tuple(float(v) for v in std)
    shape = (1, train.shape[1], 1, 1)
    m, s = mean.float().reshape(shape), std.float().reshape(shape)
    normed = {k: Split((v.images - m) / s, v.labels) for k, v in out.items()}
    return DataSplits(name, source, normed["train"], normed["val"], normed["test"],
                      num_classes, *stats)
