"""Kernel-tap coordinates: THE grid convention of aclcore.

* Coordinates are in pixel units and centred: for a kernel of size ``k`` along an axis the
  tap offsets are ``i - (k - 1) / 2`` for ``i = 0 .. k-1`` (half-integers for even ``k``),
  multiplied by the dilation.
* ``x`` grows to the right (with the column index, the last tensor dimension).
* ``y`` grows **upwards**: row 0 of the kernel tensor is the top, so ``y`` decreases with the
  row index. An angle ``theta`` is therefore counter-clockwise as the kernel is displayed.
* ``z`` (3-D) grows with the depth index (the first spatial dimension).
* 1-D kernels use ``x`` only.

:func:`kernel_grid` returns one tensor per coordinate in the family's order (x, y, z), shaped
to broadcast against a kernel tensor whose trailing dimensions are the spatial ones, e.g. for
2-D ``x`` has shape ``(1, kW)`` and ``y`` has shape ``(kH, 1)``.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np
import torch

from aclcore.errors import ConfigError

__all__ = [
    "MAX_QUADRATURE",
    "axis_offsets",
    "cell_quadrature",
    "gauss_legendre",
    "kernel_grid",
    "normalize_size",
    "quadrature_problem",
]

#: Most Gauss-Legendre points per axis of the ``"integrate"`` discretisation.
MAX_QUADRATURE = 64


def quadrature_problem(points: object) -> str | None:
    """Why ``points`` is not a quadrature rule size (``None`` when it is an int in 1..64)."""
    if isinstance(points, bool) or not isinstance(points, int) or not (
            1 <= points <= MAX_QUADRATURE):
        return f"quadrature must be an int in 1..{MAX_QUADRATURE}, got {points!r}"
    return None


def as_int(value: object) -> int | None:
    """``value`` as a Python int if it is an integer (numpy integers too, not bools)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        return None
    return int(value)


def normalize_size(value: int | Sequence[int], ndim: int, what: str = "kernel_size") -> tuple[
    int, ...
]:
    """Expand an int or a sequence to a tuple of ``ndim`` positive ints (ConfigError otherwise)."""
    # the common, already valid forms first: this runs on every kernel sampling
    if type(value) is int and value >= 1:
        return (value,) * ndim
    if type(value) is tuple and len(value) == ndim and all(
            type(v) is int and v >= 1 for v in value):
        return value
    if as_int(value) is not None:
        items: tuple[object, ...] = (value,) * ndim
    elif isinstance(value, Sequence):
        items = tuple(value)
    else:
        raise ConfigError(f"{what} must be a positive int or {ndim} positive ints, got {value!r}")
    ints = [as_int(v) for v in items]
    if len(items) != ndim or not all(v is not None and v >= 1 for v in ints):
        raise ConfigError(f"{what} must be a positive int or {ndim} positive ints, got {value!r}")
    return tuple(ints)  # type: ignore[arg-type]


def axis_offsets(
    size: int,
    dilation: int = 1,
    *,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Centred tap offsets ``(i - (size - 1) / 2) * dilation`` for one axis (increasing)."""
    i = torch.arange(size, dtype=torch.float64, device=device)
    return ((i - (size - 1) / 2) * dilation).to(dtype or torch.get_default_dtype())


def kernel_grid(
    kernel_size: int | Sequence[int],
    dilation: int | Sequence[int] = 1,
    *,
    ndim: int | None = None,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> tuple[torch.Tensor, ...]:
    """Coordinate tensors ``(x,)``, ``(x, y)`` or ``(x, y, z)`` for a kernel of this size.

    Args:
        kernel_size: spatial size in torch order: ``(kW,)``, ``(kH, kW)`` or
            ``(kD, kH, kW)``; an int means the same along every axis (needs ``ndim``).
        dilation: spacing of the taps in pixels (scales the offsets).
        ndim: number of spatial dimensions when ``kernel_size`` is an int.

    Returns:
        One tensor per coordinate, in the family's coordinate order (x, then y, then z),
        each shaped to broadcast to ``kernel_size``.
    """
    if ndim is None:
        ndim = 1 if isinstance(kernel_size, int) else len(kernel_size)
    if ndim not in (1, 2, 3):
        raise ConfigError(f"kernels have 1, 2 or 3 spatial dimensions, got {ndim}")
    size = normalize_size(kernel_size, ndim)
    dil = normalize_size(dilation, ndim, "dilation")
    axes = [axis_offsets(k, d, dtype=dtype, device=device) for k, d in zip(size, dil, strict=True)]

    def shaped(t: torch.Tensor, dim: int) -> torch.Tensor:
        shape = [1] * ndim
        shape[dim] = -1
        return t.reshape(shape)

    x = shaped(axes[-1], ndim - 1)
    if ndim == 1:
        return (x,)
    y = shaped(torch.flip(axes[-2], (0,)), ndim - 2)
    if ndim == 2:
        return (x, y)
    z = shaped(axes[0], 0)
    return (x, y, z)


def gauss_legendre(points: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes in ``[-1/2, 1/2]`` and weights summing to 1 of a ``points``-point Gauss rule.

    Used by the ``"integrate"`` discretisation: the mean of a function over a tap's cell is
    ``sum(w * f(c + nodes))`` along each axis. An even number of points never samples the
    cell centre, where many formulas have a removable singularity.
    """
    if (problem := quadrature_problem(points)) is not None:
        raise ConfigError(problem)
    nodes, weights = np.polynomial.legendre.leggauss(points)
    return nodes / 2.0, weights / 2.0


def cell_quadrature(
    kernel_size: int | Sequence[int],
    dilation: int | Sequence[int] = 1,
    points: int = 4,
    *,
    ndim: int | None = None,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
    """Quadrature nodes over every tap's cell, for the ``"integrate"`` discretisation.

    A tap's cell is the square (cube) of side 1 pixel centred on the tap, whatever the
    dilation. Along each axis it carries the ``points`` Gauss-Legendre nodes of
    :func:`gauss_legendre`, so the mean of ``f`` over every cell is
    ``(f(*coords) * weights).sum(dims=last ndim)``.

    Returns:
        ``(coords, weights)``: ``coords`` in the family's order (x, y, z), each shaped to
        broadcast to ``(*kernel_size, *(points,) * ndim)`` (spatial dimensions first, then one
        quadrature dimension per spatial dimension in the same torch order); ``weights`` of
        shape ``(points,) * ndim``, summing to 1.
    """
    if ndim is None:
        ndim = 1 if isinstance(kernel_size, int) else len(kernel_size)
    taps = kernel_grid(kernel_size, dilation, ndim=ndim, dtype=torch.float64, device=device)
    nodes_np, weights_np = gauss_legendre(points)
    nodes = torch.as_tensor(nodes_np, dtype=torch.float64, device=device)
    w1 = torch.as_tensor(weights_np, dtype=torch.float64, device=device)
    coords = []
    for j, tap in enumerate(taps):  # coordinate j lives on spatial dimension ndim - 1 - j
        shape = [1] * (2 * ndim)
        shape[2 * ndim - 1 - j] = points
        tap = tap.reshape(*tap.shape, *([1] * ndim))
        coords.append((tap + nodes.reshape(shape)).to(dtype or torch.get_default_dtype()))
    weights = w1
    for _ in range(ndim - 1):
        weights = weights[..., None] * w1
    return tuple(coords), weights.to(dtype or torch.get_default_dtype())
