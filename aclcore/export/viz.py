"""Pictures of kernels: PNG grids (matplotlib, optional) and plain-text previews.

Both follow the grid convention of :mod:`aclcore.nn.grid`: row 0 of a 2-D kernel is the top
(largest ``y``), ``x`` grows to the right. Values are shown on a diverging colour map centred
on 0 (red positive, blue negative), each panel scaled to its own largest magnitude.

matplotlib is imported only by :func:`save_kernel_grid` (``pip install matplotlib``; from a
checkout of the aclcore repository, ``pip install -c constraints.txt './[viz]'``).
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from aclcore.errors import AclError, ConfigError

__all__ = ["save_kernel_grid", "text_preview"]

_POS = " .+*@"
_NEG = " ,-=#"


def _panels(kernels: torch.Tensor, ndim: int | None) -> tuple[torch.Tensor, int, int, int]:
    """Kernels as ``(rows, cols, *k)`` plus ``ndim``; ``(n, *k)`` is laid out in a square."""
    if not isinstance(kernels, torch.Tensor):
        raise ConfigError(f"kernels must be a tensor, got {type(kernels).__name__}")
    dims = kernels.dim()
    if ndim is None:
        ndim = {2: 1, 3: 2, 4: 2, 5: 3}.get(dims, 0)
    if ndim not in (1, 2, 3) or dims not in (ndim + 1, ndim + 2):
        raise ConfigError(
            f"kernels must be shaped (n, *k) or (n, m, *k) with 1-3 spatial dims, got "
            f"{tuple(kernels.shape)} (ndim={ndim}); pass ndim= to disambiguate"
        )
    k = kernels.detach().to("cpu", torch.float64)
    if dims == ndim + 2:
        return k, k.shape[0], k.shape[1], ndim
    n = k.shape[0]
    cols = max(1, math.ceil(math.sqrt(n)))
    rows = math.ceil(n / cols)
    pad = torch.full((rows * cols - n, *k.shape[1:]), math.nan, dtype=k.dtype)
    return torch.cat([k, pad]).reshape(rows, cols, *k.shape[1:]), rows, cols, ndim


def _offsets(size: int) -> list[float]:
    return [i - (size - 1) / 2 for i in range(size)]


def save_kernel_grid(
    kernels: torch.Tensor,
    path: str | Path,
    titles: Sequence[str] | None = None,
    *,
    ndim: int | None = None,
    title: str | None = None,
    cmap: str = "RdBu_r",
    dpi: int = 120,
) -> Path:
    """Save kernels as a grid of panels in a PNG (or any format matplotlib infers from ``path``).

    Args:
        kernels: ``(n, *k)`` (laid out in a near-square grid) or ``(n, m, *k)`` (``n`` rows,
            ``m`` columns, e.g. output x input channels). 2-D kernels are images, 1-D kernels
            line plots over the tap offsets, 3-D kernels their central ``z`` slice.
        path: the file to write; its suffix picks the format (``.png``, ``.svg``, ``.pdf``,
            ...), ``.png`` is added when it has none.
        titles: one title per kernel, in row-major order.
        ndim: spatial dimensions; inferred from ``kernels.dim()`` when omitted (2: 1-D,
            3 and 4: 2-D, 5: 3-D), pass it for ``(n, kD, kH, kW)`` or ``(n, m, k)``.
        title: a title for the whole figure.
        cmap: a diverging matplotlib colour map, centred on 0.
        dpi: resolution.

    Returns:
        The path written (``path``, with ``.png`` added when it had no suffix).

    Raises:
        AclError: matplotlib is not installed, or the file cannot be written (e.g. its
            directory does not exist).
        ConfigError: ``kernels`` has an unsupported shape, ``titles`` the wrong length,
            ``path`` is a directory or has a suffix matplotlib cannot write.
    """
    try:
        from matplotlib.figure import Figure
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise AclError(
            "saving kernel pictures needs matplotlib: pip install matplotlib (from a checkout "
            "of the aclcore repository: pip install -c constraints.txt './[viz]')"
        ) from err
    grid, rows, cols, nd = _panels(kernels, ndim)
    count = kernels.shape[0] if kernels.dim() == nd + 1 else rows * cols
    if titles is not None and len(titles) != count:
        raise ConfigError(f"got {len(titles)} titles for {count} kernels")
    fig = Figure(figsize=(2.4 * cols + 0.6, 2.2 * rows + (0.6 if title else 0.2)), dpi=dpi,
                 layout="constrained")
    out, fmt = _target(Path(path), fig.canvas.get_supported_filetypes())
    axes = fig.subplots(rows, cols, squeeze=False)
    for index in range(rows * cols):
        ax: Any = axes[index // cols][index % cols]
        kernel = grid[index // cols, index % cols]
        if index >= count or bool(torch.isnan(kernel).all()):
            ax.axis("off")
            continue
        label = titles[index] if titles is not None else f"#{index}"
        if nd == 3:
            depth = kernel.shape[0] // 2
            kernel = kernel[depth]
            label += f" (z={_offsets(grid.shape[2])[depth]:g})"
        _draw(ax, fig, kernel, nd, cmap)
        ax.set_title(label, fontsize=9)
    if title:  # wrapped to the figure's width (about 11 characters per inch at 9 pt)
        fig.suptitle(textwrap.fill(title, max(24, int(fig.get_figwidth() * 11))), fontsize=9)
    try:
        fig.savefig(out, format=fmt)
    except OSError as err:
        raise AclError(f"cannot write the kernel picture {out}: {err.strerror or err}; check "
                       "that its directory exists and is writable") from None
    return out


def _target(out: Path, formats: dict[str, str]) -> tuple[Path, str]:
    """The file to write for ``out`` and its format (PNG when ``out`` has no suffix)."""
    if out.is_dir():
        raise ConfigError(f"{out} is a directory: give the picture's file name, e.g. "
                          f"{out / 'kernels.png'}")
    fmt = out.suffix[1:].lower()
    if not fmt:
        return out.with_name(out.name + ".png"), "png"
    if fmt not in formats:
        raise ConfigError(f"{out}: matplotlib cannot write {out.suffix!r} files; use .png (or "
                          f"one of {', '.join('.' + f for f in sorted(formats))})")
    return out, fmt


def _draw(ax: Any, fig: Any, kernel: torch.Tensor, ndim: int, cmap: str) -> None:
    vmax = float(kernel.abs().max()) or 1.0
    if ndim == 1:
        xs = _offsets(kernel.shape[0])
        ax.axhline(0.0, color="0.6", linewidth=0.8)
        ax.plot(xs, kernel.tolist(), marker="o", markersize=3)
        ax.set_xlabel("x")
        return
    kh, kw = kernel.shape
    xs, ys = _offsets(kw), _offsets(kh)
    image = ax.imshow(
        kernel.numpy(), cmap=cmap, vmin=-vmax, vmax=vmax, origin="upper",
        extent=(xs[0] - 0.5, xs[-1] + 0.5, ys[0] - 0.5, ys[-1] + 0.5),
    )
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    fig.colorbar(image, ax=ax, shrink=0.8)


def text_preview(kernel: torch.Tensor, *, numbers: bool = True) -> str:
    """A plain-text picture of one kernel (1-D, 2-D, or the central ``z`` slice of 3-D).

    Each tap is two characters, ``' .+*@'`` for positive and ``' ,-=#'`` for negative values
    of growing magnitude (relative to the largest one); with ``numbers`` the values follow
    (row 0 is the top, as in the grid convention).
    """
    k = kernel.detach().to("cpu", torch.float64)
    if k.dim() == 3:
        k = k[k.shape[0] // 2]
    if k.dim() == 1:
        k = k.unsqueeze(0)
    if k.dim() != 2:
        raise ConfigError(f"text_preview takes one 1-D, 2-D or 3-D kernel, got {tuple(k.shape)}")
    vmax = float(k.abs().max()) or 1.0
    lines = []
    for row in k.tolist():
        chars = []
        for v in row:
            level = min(4, round(abs(v) / vmax * 4))
            chars.append((_POS if v >= 0 else _NEG)[level] * 2)
        lines.append("".join(chars))
    if numbers:
        lines.append("")
        lines.extend(" ".join(f"{v:+.4f}" for v in row) for row in k.tolist())
    return "\n".join(lines)
