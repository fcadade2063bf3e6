"""CIFAR-10 binary batches (``data_batch_1.bin`` ... ``test_batch.bin``), no pickle.

The binary version of CIFAR-10 stores 10,000 records per file, each one label byte followed
by 3,072 pixel bytes: the 32x32 red plane, then green, then blue, rows first. The directory
the user names (or its ``cifar-10-batches-bin`` subdirectory) must hold the five training
batches and the test batch; the last 5,000 training images become the validation split.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from aclcore.data.hashing import read_bounded
from aclcore.data.splits import DataSplits, make_splits
from aclcore.errors import DataError

__all__ = ["CIFAR_CLASSES", "RECORD_BYTES", "TRAIN_BATCHES", "load_cifar10", "read_batch"]

RECORD_BYTES = 1 + 3 * 32 * 32
TRAIN_BATCHES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
TEST_BATCH = "test_batch.bin"
CIFAR_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                 "ship", "truck")
_MAX_BYTES = 10_000 * RECORD_BYTES * 2
_VALIDATION = 5_000


def read_batch(path: Path) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """``(images (n, 3, 32, 32) uint8, labels (n,) int64)`` of one binary batch file."""
    try:
        with path.open("rb") as stream:
            data = read_bounded(stream, _MAX_BYTES, str(path))
    except OSError as err:
        raise DataError(f"{path}: cannot be read ({err.strerror or err})") from None
    if not data or len(data) % RECORD_BYTES:
        raise DataError(f"{path}: {len(data)} bytes is not a whole number of CIFAR-10 records "
                        f"({RECORD_BYTES} bytes each); the file is truncated or not a binary "
                        "CIFAR-10 batch")
    records = np.frombuffer(data, dtype=np.uint8).reshape(-1, RECORD_BYTES)
    labels = records[:, 0].astype(np.int64)
    if int(labels.max()) > 9:
        raise DataError(f"{path}: label {int(labels.max())} is out of range 0..9; not a "
                        "CIFAR-10 batch (CIFAR-100 binaries have two label bytes)")
    return records[:, 1:].reshape(-1, 3, 32, 32).copy(), labels


def _directory(directory: Path) -> Path:
    nested = directory / "cifar-10-batches-bin"
    return nested if not (directory / TEST_BATCH).is_file() and nested.is_dir() else directory


def load_cifar10(directory: Path) -> DataSplits:
    """CIFAR-10 from the binary batches in ``directory``.

    Raises:
        DataError: a batch is missing (names it and where to get it) or malformed.
    """
    where = _directory(directory)
    batches = []
    for name in (*TRAIN_BATCHES, TEST_BATCH):
        if not (where / name).is_file():
            raise DataError(
                f"{where}: no {name}: a CIFAR-10 directory holds {', '.join(TRAIN_BATCHES)} "
                f"and {TEST_BATCH} (the 'CIFAR-10 binary version' from "
                "https://www.cs.toronto.edu/~kriz/cifar.html, unpacked)"
            )
        batches.append(read_batch(where / name))
    x = np.concatenate([b[0] for b in batches[:-1]])
    y = np.concatenate([b[1] for b in batches[:-1]])
    n_val = _VALIDATION if x.shape[0] > 2 * _VALIDATION else max(1, x.shape[0] // 10)
    parts = {"train": (x[:-n_val], y[:-n_val]), "val": (x[-n_val:], y[-n_val:]),
             "test": batches[-1]}
    return make_splits("cifar10", f"CIFAR-10 binary batches in {where}", parts, 10)
