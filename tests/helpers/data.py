"""Small generated data files for the data-loader tests (IDX, CIFAR-10 binary, pickles)."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np


def idx_bytes(array: np.ndarray, type_byte: int = 0x08) -> bytes:
    """The IDX encoding of ``array`` (big-endian values after the header)."""
    dtype = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    header = bytes([0, 0, type_byte, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(dtype[type_byte]).tobytes()


def write_mnist_idx(directory: Path, n_train: int = 30, n_test: int = 12, *,
                    gz: bool = False, seed: int = 0) -> dict[str, np.ndarray]:
    """Write the four MNIST IDX files with random 28x28 images; returns the arrays."""
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": (np.arange(n_train) % 10).astype(np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": (np.arange(n_test) % 10).astype(np.uint8),
    }
    directory.mkdir(parents=True, exist_ok=True)
    for name, arr in arrays.items():
        data = idx_bytes(arr)
        if gz:
            (directory / f"{name}.gz").write_bytes(gzip.compress(data))
        else:
            (directory / name).write_bytes(data)
    return arrays


def cifar_records(n: int, seed: int) -> tuple[bytes, np.ndarray, np.ndarray]:
    """``n`` CIFAR-10 binary records, with their images ``(n, 3, 32, 32)`` and labels."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)
    labels = rng.integers(0, 10, n, dtype=np.uint8)
    rows = [bytes([int(labels[i])]) + images[i].tobytes() for i in range(n)]
    return b"".join(rows), images, labels.astype(np.int64)


def write_cifar10(directory: Path, per_batch: int = 4, n_test: int = 6
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Write the five training batches and the test batch; returns the training arrays."""
    directory.mkdir(parents=True, exist_ok=True)
    images, labels = [], []
    for i in range(1, 6):
        data, x, y = cifar_records(per_batch, seed=i)
        (directory / f"data_batch_{i}.bin").write_bytes(data)
        images.append(x)
        labels.append(y)
    data, _, _ = cifar_records(n_test, seed=99)
    (directory / "test_batch.bin").write_bytes(data)
    return np.concatenate(images), np.concatenate(labels)


class Hostile:
    """Unpickling this calls ``builtins.open(marker, "w")``: a stand-in for any code, whose
    effect (the marker file) a test can look for."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (str(self.marker), "w"))
