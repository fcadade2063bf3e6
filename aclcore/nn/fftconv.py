"""The FFT convolution path: ``nn.ConvNd``'s cross-correlation through ``torch.fft``.

:func:`fft_conv` has :func:`aclcore.nn.functional.conv`'s signature and result (stride,
dilation, every padding mode, ``"same"``/``"valid"``, groups, bias), computed by overlap-save:
the padded input is cut along each axis into overlapping blocks of a size with small prime
factors (:func:`fft_block`), each block is transformed (``rfftn``), multiplied by the
transform of the flipped, dilated kernel, summed over the input channels of its group and
transformed back; the part of each block that no wrap-around touched is kept. One block per
axis is the plain FFT convolution; smaller blocks keep the transform of a short kernel
short (a 251-tap kernel over 16,000 samples needs 1,024-point transforms, not 16,384-point
ones). Stride > 1 computes the stride-1 result and subsamples it (correct, not cheaper; the
cost model of :mod:`aclcore.nn.paths` accounts for it). Half precision is computed in
float32 and rounded once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from aclcore.errors import ConfigError
from aclcore.nn.functional import PADDING_MODES, reversed_padding
from aclcore.nn.grid import normalize_size

__all__ = ["PRODUCT_WEIGHT", "fft_block", "fft_conv", "fft_cost", "smooth_size"]

#: Default cost of a complex multiply-add of two spectra, in units of ``n log2 n`` of a
#: transform (:mod:`aclcore.nn.paths` passes its calibrated ratio).
PRODUCT_WEIGHT = 13.0


def smooth_size(n: int) -> int:
    """The smallest ``m >= n`` whose prime factors are 2, 3 and 5 (fast transforms)."""
    best = 1 << max(0, (n - 1).bit_length())
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            m = p35
            while m < n:
                m *= 2
            best = min(best, m)
            p35 *= 3
        p5 *= 5
    return best


def _smooth_sizes(lo: int, hi: int) -> list[int]:
    """Every 2-3-5-smooth size in ``[lo, hi]``, increasing."""
    out: list[int] = []
    p5 = 1
    while p5 <= hi:
        p35 = p5
        while p35 <= hi:
            m = p35
            while m <= hi:
                if m >= lo:
                    out.append(m)
                m *= 2
            p35 *= 3
        p5 *= 5
    return sorted(out)


def fft_cost(block: int, length: int, span: int, signals: float, kernels: float,
             products: float, product_weight: float = PRODUCT_WEIGHT) -> float:
    """Relative cost of transforming along one axis with blocks of ``block`` points.

    ``length`` is the padded input length, ``span`` the dilated kernel extent; ``signals``
    counts the transforms per block position (inputs and outputs), ``kernels`` the kernel
    transforms and ``products`` the spectrum products per block position, each costing
    ``product_weight`` units of ``n log2 n``.
    """
    valid = block - span + 1
    tiles = -(-(length - span + 1) // valid)
    log = math.log2(max(block, 2))
    return (signals * tiles * block * log + kernels * block * log
            + products * product_weight * tiles * (block // 2 + 1))


def fft_block(length: int, span: int, signals: float = 2.0, kernels: float = 1.0,
              products: float = 1.0, product_weight: float = PRODUCT_WEIGHT) -> int:
    """The block size along one axis that minimises :func:`fft_cost` (2-3-5-smooth).

    Candidates run from ``2 * span`` (at least 16) to the single block of the whole padded
    input, ``smooth_size(length)``.
    """
    whole = smooth_size(length)
    lo = min(whole, max(16, 2 * span))
    candidates = _smooth_sizes(lo, whole) or [whole]
    return min(candidates, key=lambda b: (
        fft_cost(b, length, span, signals, kernels, products, product_weight), b))


def fft_conv(
    input: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: int | Sequence[int] = 1,
    padding: str | int | Sequence[int] = 0,
    dilation: int | Sequence[int] = 1,
    groups: int = 1,
    padding_mode: str = "zeros",
    *,
    blocks: Sequence[int] | None = None,
) -> torch.Tensor:
    """Cross-correlate like ``nn.Conv{1,2,3}d``, by FFT (see the module docstring).

    Arguments as :func:`aclcore.nn.functional.conv`; ``blocks``: the transform size per
    spatial axis (default: :func:`fft_block` of each axis).
    """
    nd = weight.dim() - 2
    if nd not in (1, 2, 3):
        raise ConfigError(f"weight must have 3, 4 or 5 dimensions, got {tuple(weight.shape)}")
    if padding_mode not in PADDING_MODES:
        raise ConfigError(
            f"padding_mode={padding_mode!r} is unknown: use one of {', '.join(PADDING_MODES)}")
    stride_t = normalize_size(stride, nd, "stride")
    dil = normalize_size(dilation, nd, "dilation")
    pad: str | tuple[int, ...]
    if isinstance(padding, str):
        pad = padding
    else:
        pad = (padding,) * nd if isinstance(padding, int) else tuple(padding)
    ksize = tuple(weight.shape[2:])
    amounts = reversed_padding(pad, ksize, dil)
    out_dtype = torch.promote_types(input.dtype, weight.dtype)
    work = torch.promote_types(out_dtype, torch.float32)
    x = input.to(work)
    if any(amounts):
        x = F.pad(x, amounts, mode="constant" if padding_mode == "zeros" else padding_mode)
    y = _correlate(x, weight.to(work), dil, groups, blocks)
    if any(s != 1 for s in stride_t):
        y = y[(..., *[slice(None, None, s) for s in stride_t])]
    if bias is not None:
        y = y + bias.to(work).reshape(-1, *([1] * nd))
    return y if y.dtype == out_dtype else y.to(out_dtype)


def _dilated_flipped(weight: torch.Tensor, dilation: Sequence[int]) -> torch.Tensor:
    """The kernel with ``dilation - 1`` zeros between taps, flipped along every axis."""
    nd = weight.dim() - 2
    if any(d != 1 for d in dilation):
        size = [d * (k - 1) + 1 for d, k in zip(dilation, weight.shape[2:], strict=True)]
        spread = weight.new_zeros(*weight.shape[:2], *size)
        spread[(..., *[slice(None, None, d) for d in dilation])] = weight
        weight = spread
    return weight.flip(tuple(range(2, 2 + nd)))


def _correlate(x: torch.Tensor, weight: torch.Tensor, dilation: Sequence[int], groups: int,
               blocks: Sequence[int] | None) -> torch.Tensor:
    """Valid, stride-1 cross-correlation of a padded input by overlap-save."""
    nd = weight.dim() - 2
    n, cin = x.shape[:2]
    cout, ipg = weight.shape[:2]
    kernel = _dilated_flipped(weight, dilation)
    spans = kernel.shape[2:]
    lengths = x.shape[2:]
    outputs = [length - span + 1 for length, span in zip(lengths, spans, strict=True)]
    if blocks is None:
        blocks = [fft_block(length, span) for length, span in zip(lengths, spans, strict=True)]
    valid = [b - s + 1 for b, s in zip(blocks, spans, strict=True)]
    tiles = [-(-o // v) for o, v in zip(outputs, valid, strict=True)]
    need = [(t - 1) * v + b for t, v, b in zip(tiles, valid, blocks, strict=True)]
    extra = [max(0, nd_need - length) for nd_need, length in zip(need, lengths, strict=True)]
    if any(extra):
        x = F.pad(x, [a for e in reversed(extra) for a in (0, e)])
    for axis in range(nd):
        dim = 2 + axis
        x = x.narrow(dim, 0, need[axis]).unfold(dim, blocks[axis], valid[axis])
    # x: (n, cin, *tiles, *blocks)
    dims = tuple(range(-nd, 0))
    spectrum = torch.fft.rfftn(x, s=blocks, dim=dims)
    kernel_spectrum = torch.fft.rfftn(kernel, s=blocks, dim=dims)  # (cout, ipg, *freq)
    opg = cout // groups
    t = "uvw"[:nd]
    f = "fhj"[:nd]
    spectrum = spectrum.reshape(n, groups, ipg, *spectrum.shape[2:])
    kernel_spectrum = kernel_spectrum.reshape(groups, opg, ipg, *kernel_spectrum.shape[2:])
    if ipg == 1:
        product = spectrum * kernel_spectrum.reshape(
            1, groups, opg, *([1] * nd), *kernel_spectrum.shape[3:])
    else:
        product = torch.einsum(f"ngi{t}{f},goi{f}->ngo{t}{f}", spectrum, kernel_spectrum)
    product = product.reshape(n, cout, *product.shape[3:])
    blocks_out = torch.fft.irfftn(product, s=blocks, dim=dims)  # (n, cout, *tiles, *blocks)
    for axis in range(nd):
        blocks_out = blocks_out.narrow(2 + nd + axis, spans[axis] - 1, valid[axis])
    # interleave tiles and valid positions: (n, cout, t0, v0, t1, v1, ...)
    order = [0, 1] + [i for axis in range(nd) for i in (2 + axis, 2 + nd + axis)]
    merged = blocks_out.permute(order).reshape(
        n, cout, *[tiles[a] * valid[a] for a in range(nd)])
    for axis in range(nd):
        merged = merged.narrow(2 + axis, 0, outputs[axis])
    del cin
    return merged
