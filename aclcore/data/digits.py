"""scikit-learn's bundled 8x8 digits (1,797 images): the data set that is always present.

The images ship inside scikit-learn (no download), with 17 grey levels (0..16), scaled here
to ``[0, 1]``. The split is fixed (60% train, 20% validation, 20% test, by a permutation
with seed 0), independent of the training seed.
"""

from __future__ import annotations

import numpy as np

from aclcore.data.splits import DataSplits, make_splits
from aclcore.errors import DataError

__all__ = ["load_digits"]


def load_digits() -> DataSplits:
    """The 8x8 digits as :class:`DataSplits` (1,078 / 359 / 360 examples).

    Raises:
        DataError: scikit-learn is not installed (says how to install it).
    """
    try:
        from sklearn.datasets import load_digits as sklearn_digits
    except ImportError:
        raise DataError("the 8x8 digits come with scikit-learn, which is not installed: "
                        "pip install scikit-learn (from a checkout of the aclcore repository: "
                        "pip install -c constraints.txt './[train]')") from None
    bunch = sklearn_digits()
    images = (np.asarray(bunch.images, dtype=np.float32) / 16.0)[:, None]
    labels = np.asarray(bunch.target, dtype=np.int64)
    order = np.random.default_rng(0).permutation(len(labels))
    n_train, n_val = int(0.6 * len(order)), int(0.2 * len(order))
    cuts = {"train": order[:n_train], "val": order[n_train:n_train + n_val],
            "test": order[n_train + n_val:]}
    parts = {k: (images[v], labels[v]) for k, v in cuts.items()}
    if any(len(v[1]) == 0 for v in parts.values()):
        raise DataError("scikit-learn's digits are unexpectedly empty")
    import sklearn

    return make_splits("digits", f"scikit-learn {sklearn.__version__} load_digits() (8x8)",
                       parts, 10)
