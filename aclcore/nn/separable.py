"""The separable convolution path: a separable family's kernels applied one axis at a time.

A kernel of a separable family is ``a * f_x(x) * f_y(y) [* f_z(z)]`` (see
:mod:`aclcore.compile.separable`), with ``a`` the gain times the normalisation's scale. So is
its cell mean (``discretization="integrate"``: the tensor-product Gauss rule of the cell is a
product of 1-D rules), and so are the normalisations ``"sum"`` (the sum of a product is the
product of the sums) and ``"l2"`` (likewise for the norm); ``"zero_mean"`` is not (the mean
removed is a constant kernel), so such blocks use the direct path.

* :func:`sample_factors` samples the 1-D factors on the tap offsets of each axis and returns
  them with the normalisation's scale;
* :func:`separable_conv` convolves with them. With one AKP set per output channel
  (``share_akps``, or one input per group) the input channels are first mixed by the
  ``(out, in)`` amplitudes (a 1x1 convolution), then each axis is a depthwise 1-D
  convolution. With one AKP set per kernel every ``(out, in)`` pair has its own factors: each
  axis is then a batched matrix product with banded (Toeplitz) matrices over tiles of the
  axis, the first keeping the pairs apart, the last summing over the inputs.

Both give the direct path's result up to floating-point rounding, with gradients for the AKPs,
the gains and the input.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F

from aclcore.compile.factored import CompiledFactors
from aclcore.errors import ConfigError, NonFiniteKernelError
from aclcore.nn.functional import DISCRETIZATIONS, norm_floor
from aclcore.nn.grid import axis_offsets, gauss_legendre
from aclcore.nn.rows import RowLayout

__all__ = [
    "SEPARABLE_NORMALIZATIONS",
    "sample_factors",
    "separable_conv",
    "toeplitz_tiles",
]

#: Normalisations that factor over the axes (``"zero_mean"`` does not).
SEPARABLE_NORMALIZATIONS = ("none", "sum", "l2")

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


def _axis_coords(size: int, dilation: int, reverse: bool, discretization: str,
                 quadrature: int, dtype: torch.dtype, device: torch.device | None
                 ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Coordinates along one axis, ``(k,)`` or ``(k, quadrature)`` with the Gauss weights."""
    taps = axis_offsets(size, dilation, dtype=torch.float64, device=device)
    if reverse:
        taps = taps.flip(0)
    if discretization == "sample":
        return taps.to(dtype), None
    nodes, weights = gauss_legendre(quadrature)
    grid = taps[:, None] + torch.as_tensor(nodes, dtype=torch.float64, device=device)
    return grid.to(dtype), torch.as_tensor(weights, dtype=dtype, device=device)


def sample_factors(
    factors: CompiledFactors,
    params: Mapping[str, torch.Tensor],
    kernel_size: Sequence[int],
    dilation: Sequence[int],
    *,
    discretization: str = "sample",
    quadrature: int = 4,
    normalize: str = "none",
    check_finite: bool = True,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
    """The 1-D factors of a bank of a separable family, and the normalisation's scale.

    Args:
        factors: the compiled factors of the family.
        params: constrained AKPs, each ``(count, in_per_group)`` or ``(count, 1)``.
        kernel_size, dilation: in torch order (``(kH, kW)``, ``(kD, kH, kW)``).
        discretization, quadrature: as :func:`aclcore.nn.functional.sample_kernels`.
        normalize: ``"none"``, ``"sum"`` or ``"l2"`` (see :data:`SEPARABLE_NORMALIZATIONS`).
        check_finite: raise :class:`~aclcore.errors.NonFiniteKernelError` where a factor is
            NaN or infinite (eager mode).
        dtype, device: of the result when the family has no AKPs.

    Returns:
        ``(per_axis, scale)``: one tensor ``(count, n, k_axis)`` per spatial axis in torch
        order, and ``scale`` ``(count, n)``, such that the sampled, normalised kernel is
        ``scale * outer(per_axis)`` (``(count, n)`` the broadcast shape of the AKPs). Half
        precision is evaluated in float32 and rounded once, like the direct path.
    """
    fam = factors.family
    nd = fam.ndim
    if discretization not in DISCRETIZATIONS:
        raise ConfigError(f"discretization={discretization!r} is unknown: use 'sample' or "
                          "'integrate'")
    if normalize not in SEPARABLE_NORMALIZATIONS:
        raise ConfigError(
            f"family {fam.name!r}: normalize={normalize!r} does not factor over the axes; "
            f"the separable path supports {', '.join(SEPARABLE_NORMALIZATIONS)}")
    values = dict(params)
    ref = next(iter(values.values()), None)
    if ref is not None:
        dtype, device = ref.dtype, ref.device
    out_dtype = dtype or torch.get_default_dtype()
    work = torch.promote_types(out_dtype, torch.float32)
    values = {n: v.to(work).unsqueeze(-1) for n, v in values.items()}
    lead = [1, 1]
    for v in values.values():
        lead = [max(a, b) for a, b in zip(lead, v.shape[:2], strict=True)]
    dev = torch.device(device) if device is not None else None
    per_axis: list[torch.Tensor] = []
    for axis in range(nd):
        coord = nd - 1 - axis  # x is the last torch dimension, y the one before, z the first
        taps, weights = _axis_coords(kernel_size[axis], dilation[axis], coord == 1,
                                     discretization, quadrature, work, dev)
        ps = values if weights is None else {n: v.unsqueeze(-1) for n, v in values.items()}
        out = factors.evaluate(coord, taps, ps)
        if weights is not None:
            out = (out * weights).sum(-1)
        if check_finite and not torch.compiler.is_compiling() and not bool(
                torch.isfinite(out.detach()).all()):
            raise NonFiniteKernelError(
                f"family {fam.name!r}: its 1-D factor along {fam.coord_names[coord]!r} "
                f"({factors.separation.factors[coord]}) is not finite on the tap grid; keep "
                "the AKPs where the formula is finite, or use path='direct'")
        per_axis.append(out.expand(*lead, kernel_size[axis]))
    for name in factors.unused:  # keep every AKP in the graph, with a zero gradient
        per_axis[0] = per_axis[0] + 0.0 * values[name].sum()
    scale = _scale(per_axis, normalize)
    if out_dtype != work:
        per_axis = [p.to(out_dtype) for p in per_axis]
        scale = scale.to(out_dtype)
    return tuple(per_axis), scale


def _scale(per_axis: Sequence[torch.Tensor], mode: str) -> torch.Tensor:
    """The normalisation's scale of ``outer(per_axis)``, exactly as the direct path's rule."""
    lead = per_axis[0].shape[:-1]
    if mode == "none":
        return per_axis[0].new_ones(()).expand(lead)
    eps = norm_floor(per_axis[0].dtype)
    if mode == "sum":
        total = per_axis[0].sum(-1)
        for p in per_axis[1:]:
            total = total * p.sum(-1)
        floor = torch.where(total < 0, -eps, eps).to(total.dtype)
        total = torch.where(total.abs() < eps, floor, total)
        return 1.0 / total
    norm = torch.linalg.vector_norm(per_axis[0], dim=-1)
    for p in per_axis[1:]:
        norm = norm * torch.linalg.vector_norm(p, dim=-1)
    scale: torch.Tensor = 1.0 / norm.clamp_min(eps)
    return scale


def _along(nd: int, axis: int, size: int, value: int) -> tuple[int, ...]:
    out = [1] * nd
    out[axis] = value if size else 1
    return tuple(out)


def toeplitz_tiles(output: int, span: int, stride: int) -> tuple[int, int, int]:
    """``(tile, tiles, window)``: how an axis is cut for the banded matrix products.

    ``tile`` outputs per tile (balanced, about ``span / stride``: each output then costs about
    twice the taps, and the input is copied about twice), ``tiles`` of them, each reading a
    ``window = stride * (tile - 1) + span`` long stretch of the input.
    """
    step = max(1, -(-span // stride))
    tiles = max(1, output // step)
    tile = -(-output // tiles)
    tiles = -(-output // tile)
    return tile, tiles, stride * (tile - 1) + span


def _banded(factor: torch.Tensor, tile: int, window: int, stride: int,
            dilation: int) -> torch.Tensor:
    """``M[..., j, stride * j + dilation * t] = factor[..., t]``: ``(..., tile, window)``."""
    k = factor.shape[-1]
    cols = torch.arange(window, device=factor.device)[None, :]
    rows = torch.arange(tile, device=factor.device)[:, None] * stride
    offset = cols - rows
    taps = torch.div(offset, dilation, rounding_mode="floor")
    valid = (offset >= 0) & (offset % dilation == 0) & (taps < k)
    index = torch.where(valid, taps, k)
    padded = torch.cat([factor, factor.new_zeros(*factor.shape[:-1], 1)], dim=-1)
    return padded[..., index]


def separable_conv(
    padded: torch.Tensor,
    per_axis: Sequence[torch.Tensor],
    amplitude: torch.Tensor,
    layout: RowLayout,
    stride: Sequence[int],
    dilation: Sequence[int],
) -> torch.Tensor:
    """Cross-correlate ``padded`` (already padded) with the kernels ``amplitude * outer(per_axis)``.

    Args:
        padded: input ``(N, C_in, *spatial)``, padded as the layer's padding mode asks (the
            convolution itself adds no padding).
        per_axis: one factor tensor ``(count, n, k_axis)`` per spatial axis (torch order);
            ``n`` is 1 (one factor per output channel) or ``in_per_group``.
        amplitude: ``(count, in_per_group)``: each kernel's gain times its scale.
        layout: the block's output channels in the layer (groups).
        stride, dilation: of the layer.

    Returns:
        ``(N, count, *out_spatial)``, as a direct convolution with the full kernels.
    """
    nd = len(per_axis)
    x = layout.inputs(padded)
    ipg = layout.in_per_group
    shared = per_axis[0].shape[1] == 1
    if shared or ipg == 1:
        return _shared(x, per_axis, amplitude, layout, stride, dilation, nd)
    return _pairs(x, per_axis, amplitude, layout, stride, dilation, nd)


def _shared(x: torch.Tensor, per_axis: Sequence[torch.Tensor], amplitude: torch.Tensor,
            layout: RowLayout, stride: Sequence[int], dilation: Sequence[int],
            nd: int) -> torch.Tensor:
    """Mix the inputs with the amplitudes (1x1), then one depthwise 1-D pass per axis."""
    conv = _CONV[nd]
    ng, width, ipg = len(layout.groups), layout.width, layout.in_per_group
    factors = [p[:, :1] for p in per_axis]
    if ipg == 1:  # one input per output: the amplitude is a scale of the first factor
        factors[0] = factors[0] * amplitude.reshape(-1, 1, 1)
        z = x if layout.per_group == 1 else x.repeat_interleave(layout.per_group, dim=1)
    else:
        mix = layout.spread(amplitude).reshape(width, ipg, *([1] * nd))
        z = conv(x, mix.to(x.dtype), groups=ng)
    for axis in range(nd):
        k = per_axis[axis].shape[-1]
        shape = [width, 1, *([1] * nd)]
        shape[2 + axis] = k
        weight = layout.spread(factors[axis].reshape(-1, k)).reshape(shape)
        z = conv(z, weight.to(z.dtype), stride=_along(nd, axis, 1, stride[axis]),
                 dilation=_along(nd, axis, 1, dilation[axis]), groups=width)
    return layout.gather(z)


def _pairs(x: torch.Tensor, per_axis: Sequence[torch.Tensor], amplitude: torch.Tensor,
           layout: RowLayout, stride: Sequence[int], dilation: Sequence[int],
           nd: int) -> torch.Tensor:
    """One factor per (out, in) pair: banded matrix products along each axis in turn."""
    ng, pg, ipg = len(layout.groups), layout.per_group, layout.in_per_group
    data = x.reshape(x.shape[0], ng, ipg, *x.shape[2:])
    spatial = "pqr"[:nd]
    for axis in range(nd):
        factor = per_axis[axis]
        if axis == 0:
            factor = factor * amplitude.unsqueeze(-1)
        factor = layout.spread(factor).reshape(ng, pg, ipg, factor.shape[-1])
        length = data.shape[data.dim() - nd + axis]
        span = dilation[axis] * (factor.shape[-1] - 1) + 1
        output = (length - span) // stride[axis] + 1
        tile, tiles, window = toeplitz_tiles(output, span, stride[axis])
        need = stride[axis] * tile * (tiles - 1) + window
        dim = data.dim() - nd + axis
        if need > length:
            data = F.pad(data, [0, 0] * (data.dim() - 1 - dim) + [0, need - length])
        elif need < length:
            data = data.narrow(dim, 0, need)
        data = data.unfold(dim, window, stride[axis] * tile)  # axis -> tiles, window last
        band = _banded(factor.to(data.dtype), tile, window, stride[axis], dilation[axis])
        before = spatial[:axis]
        after = spatial[axis + 1:]
        lead = "ngi" if axis == 0 else "ngmi"
        out_lead = "ngm" if axis == nd - 1 else "ngmi"
        data = torch.einsum(f"gmitl,{lead}{before}u{after}l->{out_lead}{before}ut{after}",
                            band, data)
        shape = list(data.shape)
        pos = len(out_lead) + axis
        merged = [*shape[:pos], tiles * tile, *shape[pos + 2:]]
        data = data.reshape(merged).narrow(pos, 0, output)
    out = data.reshape(data.shape[0], ng * pg, *data.shape[3:])
    return layout.gather(out)
