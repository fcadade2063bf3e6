"""Reading back the kernel pictures aclcore writes, to check what they show (not just bytes).

2-D and 3-D kernels are drawn on a diverging colour map centred on 0 (positive values red,
negative blue, with a colour bar that shows both); 1-D kernels as line plots.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.image
import numpy as np


def colours(path: Path) -> tuple[float, float]:
    """Fractions of clearly red and clearly blue pixels of a PNG (decoded, so it is one)."""
    img = np.asarray(matplotlib.image.imread(str(path)), dtype=float)
    assert img.ndim == 3 and img.shape[0] >= 40 and img.shape[1] >= 40, img.shape
    rgb = img[..., :3]
    red = float(((rgb[..., 0] - rgb[..., 2]) > 0.3).mean())
    blue = float(((rgb[..., 2] - rgb[..., 0]) > 0.3).mean())
    return red, blue


def assert_shows_signed_kernels(path: Path) -> None:
    """The picture decodes and shows positive (red) and negative (blue) kernel values."""
    red, blue = colours(path)
    assert red > 0.002 and blue > 0.002, (path, red, blue)


def assert_shows_positive_kernel(path: Path) -> None:
    """The picture decodes and shows a kernel that is positive everywhere: red cells, and blue
    only in the colour bar (an order of magnitude less)."""
    red, blue = colours(path)
    assert red > 0.02 and red > 10 * blue, (path, red, blue)


def assert_shows_line_plots(path: Path) -> None:
    """The picture decodes and holds drawn content (1-D kernels are line plots)."""
    img = np.asarray(matplotlib.image.imread(str(path)), dtype=float)[..., :3]
    drawn = float((img.min(axis=-1) < 0.6).mean())
    assert drawn > 0.005, (path, drawn)
