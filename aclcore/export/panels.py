"""PNG kernel panels of trained analytic layers: one picture per layer, family-labelled.

Private helper of :mod:`aclcore.export`, shared by the Markdown card
(:func:`aclcore.export.to_markdown`), the PNG export (:func:`aclcore.export.to_png`) and
``acl show SOURCE --png``. A panel shows at most ``max_out`` output x ``max_in`` input channels
of ``layer.weight``, each kernel titled with its family (``free`` for a free kernel) and its
``[out, in]`` index, drawn by :func:`aclcore.export.viz.save_kernel_grid` (diverging colour
map centred on 0, red positive, blue negative; 3-D kernels show their central ``z`` slice).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import torch

from aclcore.errors import ExportError
from aclcore.export.collect import LayerFormulas, collect
from aclcore.export.schema import make_directory
from aclcore.export.viz import save_kernel_grid

__all__ = ["kernel_labels", "layer_panel", "panel_name", "to_png"]


def panel_name(path: str, kind: str = "kernels") -> str:
    """The file name of a layer's picture: ``<path>_<kind>.png`` (``.`` and other characters
    that are not letters, digits or ``_`` become ``_``; the layer exported on its own is
    ``layer``)."""
    slug = re.sub(r"[^A-Za-z0-9_]+", "_", path) or "layer"
    return f"{slug}_{kind}.png"


def kernel_labels(lf: LayerFormulas) -> list[str]:
    """The family name of every output channel of the layer (``"free"`` for free kernels)."""
    labels = ["free"] * lf.layer.out_channels
    for info in lf.families:
        for o in range(info.start, info.start + info.count):
            labels[o] = info.name
    return labels


def _check_counts(max_out: int, max_in: int) -> None:
    for name, value in (("max_out", max_out), ("max_in", max_in)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ExportError(f"{name} must be an int >= 1, got {value!r}")


def layer_panel(lf: LayerFormulas, path: str | os.PathLike[str], *, max_out: int = 16,
                max_in: int = 4) -> tuple[Path, str]:
    """Draw the kernels of one layer into the picture ``path``; returns (file, what is shown).

    ``what is shown`` reads like ``"output channels 0-5 of 6, inputs 0-0 of 1"``. With one
    input channel shown the output channels are laid out in a near-square grid, otherwise as
    rows (outputs) by columns (inputs).

    Raises:
        AclError: matplotlib is missing or the file cannot be written.
        ConfigError: ``path`` is a directory or has a suffix matplotlib cannot write.
    """
    _check_counts(max_out, max_in)
    layer = lf.layer
    with torch.no_grad():
        bank = layer.weight.detach().to("cpu", torch.float64)
    rows, cols = min(bank.shape[0], max_out), min(bank.shape[1], max_in)
    labels = kernel_labels(lf)
    titles = [f"{labels[o]} [{o},{i}]" for o in range(rows) for i in range(cols)]
    shown = (f"output channels 0-{rows - 1} of {bank.shape[0]}, inputs 0-{cols - 1} of "
             f"{bank.shape[1]}")
    # one input channel: a near-square grid of the output channels instead of one column
    shown_bank = bank[:rows, 0] if cols == 1 else bank[:rows, :cols]
    out = save_kernel_grid(shown_bank, Path(path), titles, ndim=len(layer.kernel_size),
                           title=f"{lf.path or 'layer'}: {shown}")
    return out, shown


def to_png(obj: object, out_dir: str | os.PathLike[str], *, max_out: int = 16,
           max_in: int = 4) -> list[Path]:
    """Write one PNG panel per analytic layer into ``out_dir`` (:func:`aclcore.export.to_png`)."""
    _check_counts(max_out, max_in)
    _, layers = collect(obj)
    out = Path(out_dir)
    make_directory(out, "the kernel pictures (PNG files)")
    return [layer_panel(lf, out / panel_name(lf.path), max_out=max_out, max_in=max_in)[0]
            for lf in layers]
