"""The FFT convolution path: ``nn.ConvNd``'s cross-correlation through ``torch.fft``.

:func:`fft_conv` has :func:`aclcore.nn.functional.conv`'s signature and result (stride,
dilation, every padding mode, ``"same"``/``"valid"``, groups, bias), computed by overlap-save:
the padded input is cut along each axis into overlapping blocks of a size ``2**a`` or
``3 * 2**a`` (:func:`fft_block`), each block is transformed (``rfftn``), multiplied by the
transform of the flipped, dilated kernel, summed over the input channels of its group and
transformed back; the part of each block that no wrap-around touched is kept. One block per
axis is the plain FFT convolution; smaller blocks keep the transform of a short kernel
short (a 251-tap kernel over 16,000 samples needs 1,024-point transforms, not 16,384-point
ones). Stride > 1 computes the stride-1 result and subsamples it (correct, not cheaper; the
cost model of :mod:`aclcore.nn.paths` accounts for it). Half precision is computed in
float32 and rounded once; under autocast the result has autocast's dtype, like ``F.conv``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch.nn import grad as nn_grad

from aclcore.errors import ConfigError
from aclcore.nn.functional import PADDING_MODES, conv, input_covers, reversed_padding
from aclcore.nn.grid import normalize_size

__all__ = ["CHUNK_BYTES", "PRODUCT_WEIGHT", "fft_block", "fft_conv", "fft_cost", "smooth_size"]

#: Default cost of a complex multiply-add of two spectra, in units of ``n log2 n`` of a
#: transform (:mod:`aclcore.nn.paths` passes its calibrated ratio).
PRODUCT_WEIGHT = 13.0


def smooth_size(n: int) -> int:
    """The smallest ``m >= n`` of the form ``2**a`` or ``3 * 2**a`` (fast transforms).

    Sizes with a factor 5 (or a higher power of 3) are up to twice as slow per point with the
    CPU transforms measured here (MKL through torch 2.13).
    """
    power = 1 << max(0, (n - 1).bit_length())
    three = 3 * (1 << max(0, (-(-n // 3) - 1).bit_length()))
    return min(power, three)


def _smooth_sizes(lo: int, hi: int) -> list[int]:
    """Every size ``2**a`` or ``3 * 2**a`` in ``[lo, hi]``, increasing."""
    out: list[int] = []
    for base in (1, 3):
        m = base
        while m <= hi:
            if m >= lo:
                out.append(m)
            m *= 2
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
    """The block size along one axis that minimises :func:`fft_cost` (see :func:`smooth_size`).

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
    if input.dim() == nd + 1:  # unbatched (C, *spatial), as nn.ConvNd takes it
        return fft_conv(input.unsqueeze(0), weight, bias, stride, padding, dilation, groups,
                        padding_mode, blocks=blocks).squeeze(0)
    stride_t = normalize_size(stride, nd, "stride")
    dil = normalize_size(dilation, nd, "dilation")
    pad: str | tuple[int, ...]
    if isinstance(padding, str):
        pad = padding
    else:
        pad = (padding,) * nd if isinstance(padding, int) else tuple(padding)
    if input.numel() == 0:  # no signal to transform (MKL refuses empty batches)
        return conv(input, weight, bias, stride_t, pad, dil, groups, padding_mode)
    ksize = tuple(weight.shape[2:])
    amounts = reversed_padding(pad, ksize, dil)
    out_dtype = torch.promote_types(input.dtype, weight.dtype)
    if torch.is_autocast_enabled(input.device.type):  # what F.conv returns under autocast
        out_dtype = torch.get_autocast_dtype(input.device.type)
    work = torch.promote_types(out_dtype, torch.float32)
    x = input.to(work)
    if any(amounts):
        x = F.pad(x, amounts, mode="constant" if padding_mode == "zeros" else padding_mode)
    b = None if bias is None else bias.to(work)
    y = _correlate(x, weight.to(work), b, dil, groups, blocks)
    if any(s != 1 for s in stride_t):
        y = y[_every(stride_t)]
    return y if y.dtype == out_dtype else y.to(out_dtype)


def _every(steps: Sequence[int]) -> tuple[Any, ...]:
    """The index ``[..., ::steps[0], ::steps[1], ...]`` over the last ``len(steps)`` axes."""
    return (Ellipsis, *[slice(None, None, step) for step in steps])


def _dilated(weight: torch.Tensor, dilation: Sequence[int]) -> torch.Tensor:
    """The kernel with ``dilation - 1`` zeros between taps."""
    if all(d == 1 for d in dilation):
        return weight
    size = [d * (k - 1) + 1 for d, k in zip(dilation, weight.shape[2:], strict=True)]
    spread = weight.new_zeros(*weight.shape[:2], *size)
    spread[_every(dilation)] = weight
    return spread


@dataclass(frozen=True)
class _Tiling:
    """How a padded input is cut into overlapping blocks (one entry per spatial axis)."""

    lengths: tuple[int, ...]  # padded input
    spans: tuple[int, ...]  # dilated kernel
    blocks: tuple[int, ...]  # transform size
    valid: tuple[int, ...]  # outputs per block
    tiles: tuple[int, ...]  # blocks
    outputs: tuple[int, ...]  # stride-1 outputs

    @classmethod
    def build(cls, lengths: Sequence[int], spans: Sequence[int],
              blocks: Sequence[int] | None) -> _Tiling:
        outputs = [n - s + 1 for n, s in zip(lengths, spans, strict=True)]
        if blocks is None:
            blocks = [fft_block(n, s) for n, s in zip(lengths, spans, strict=True)]
        if any(b < s for b, s in zip(blocks, spans, strict=True)):
            raise ConfigError(f"FFT blocks {tuple(blocks)} must be at least the dilated kernel "
                              f"extent {tuple(spans)}")
        valid = [b - s + 1 for b, s in zip(blocks, spans, strict=True)]
        tiles = [-(-o // v) for o, v in zip(outputs, valid, strict=True)]
        return cls(tuple(lengths), tuple(spans), tuple(blocks), tuple(valid), tuple(tiles),
                   tuple(outputs))

    @property
    def need(self) -> tuple[int, ...]:
        """Input length the blocks cover (the input is cut or zero-extended to it)."""
        return tuple((t - 1) * v + b for t, v, b in zip(self.tiles, self.valid, self.blocks,
                                                         strict=True))

    def cut(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, *lengths)`` -> overlapping blocks ``(N, C, *tiles, *blocks)`` (a view)."""
        nd = len(self.lengths)
        extra = [max(0, need - n) for need, n in zip(self.need, self.lengths, strict=True)]
        if any(extra):
            x = F.pad(x, [a for e in reversed(extra) for a in (0, e)])
        for axis in range(nd):
            dim = 2 + axis
            x = x.narrow(dim, 0, self.need[axis]).unfold(dim, self.blocks[axis],
                                                         self.valid[axis])
        return x

    def join(self, blocks: torch.Tensor, out: torch.Tensor) -> None:
        """Write the first ``valid`` points of each block, in order, into ``out``
        ``(N, C, *outputs)`` (one copy)."""
        nd = len(self.lengths)
        if nd == 1:  # the full blocks, then the part of the last one
            t, v, length = self.tiles[0], self.valid[0], self.outputs[0]
            n, c = blocks.shape[:2]
            if t > 1:
                out[..., :(t - 1) * v].view(n, c, t - 1, v).copy_(blocks[:, :, :t - 1, :v])
            out[..., (t - 1) * v:].copy_(blocks[:, :, t - 1, :length - (t - 1) * v])
            return
        for choice in self._parts():
            src, dst = blocks, out
            for axis, (first, count, width) in enumerate(choice):
                src = src.narrow(2 + axis, first, count).narrow(2 + nd + axis, 0, width)
                dim = 2 + 2 * axis
                dst = dst.narrow(dim, first * self.valid[axis], count * width)
                dst = dst.view(*dst.shape[:dim], count, width, *dst.shape[dim + 1:])
            order = [0, 1, *[i for axis in range(nd) for i in (2 + axis, 2 + nd + axis)]]
            dst.copy_(src.permute(order))

    def _parts(self) -> list[tuple[tuple[int, int, int], ...]]:
        """Per axis the full tiles, then the last one (partial where ``valid`` does not
        divide the output): ``(first tile, tiles, points)`` for each combination."""
        axes = [[(0, t - 1, v), (t - 1, 1, o - (t - 1) * v)]
                for t, v, o in zip(self.tiles, self.valid, self.outputs, strict=True)]
        return [choice for choice in itertools.product(*axes)
                if all(count and width for _, count, width in choice)]

    def place(self, grad: torch.Tensor) -> torch.Tensor:
        """:meth:`join`'s adjoint: ``(N, C, *outputs)`` -> zero-extended ``(N, C, *tiles,
        *blocks)``, each block holding its ``valid`` points first (one copy)."""
        nd = len(self.lengths)
        n, c = grad.shape[:2]
        if nd == 1:  # zero only what the copies below leave alone
            out = grad.new_empty(n, c, *self.tiles, *self.blocks)
            t, v, length = self.tiles[0], self.valid[0], self.outputs[0]
            out[..., v:].zero_()
            out[..., t - 1, length - (t - 1) * v:v].zero_()
        else:
            out = grad.new_zeros(n, c, *self.tiles, *self.blocks)
        for choice in self._parts():
            src, dst = grad, out
            for axis, (first, count, width) in enumerate(choice):
                dim = 2 + 2 * axis
                src = src.narrow(dim, first * self.valid[axis], count * width)
                src = src.view(*src.shape[:dim], count, width, *src.shape[dim + 1:])
                dst = dst.narrow(2 + axis, first, count).narrow(2 + nd + axis, 0, width)
            order = [0, 1, *range(2, 2 + 2 * nd, 2), *range(3, 3 + 2 * nd, 2)]
            dst.copy_(src.permute(order))
        return out

    def overlap_add(self, blocks: torch.Tensor) -> torch.Tensor:
        """:meth:`cut`'s adjoint: blocks ``(N, C, *tiles, *blocks)`` summed back into
        ``(N, C, *lengths)``."""
        nd = len(self.lengths)
        for axis in range(nd):
            # this axis' tile dimension is 2 + axis; its block dimension the first of the
            # nd - axis block dimensions still at the end
            data = blocks.movedim((2 + axis, blocks.dim() - (nd - axis)), (-2, -1))
            blocks = _overlap_add_last(data, self.valid[axis]).movedim(-1, 2 + axis)
        for axis in range(nd):
            have, n = blocks.shape[2 + axis], self.lengths[axis]
            if have > n:
                blocks = blocks.narrow(2 + axis, 0, n)
            elif have < n:
                blocks = F.pad(blocks, [0, 0] * (nd - 1 - axis) + [0, n - have])
        return blocks


def _overlap_add_last(data: torch.Tensor, step: int) -> torch.Tensor:
    """``(..., tiles, block)`` -> ``(..., (tiles - 1) * step + block)``: block ``j`` added in
    at ``j * step``."""
    tiles, block = data.shape[-2:]
    chunks = -(-block // step)
    out = data.new_zeros(*data.shape[:-2], tiles + chunks, step)
    for c in range(chunks):
        width = min(step, block - c * step)
        out[..., c:c + tiles, :width] += data[..., :, c * step:c * step + width]
    return out.flatten(-2)[..., :(tiles - 1) * step + block]


#: Bytes of the spectra of one chunk of output channels (4 MiB): the products, transforms and
#: copies of one chunk run back to back while its data is still in the CPU's caches, and the
#: temporaries of a large layer stay bounded. Smaller chunks pay the fixed cost of each call
#: (tens of microseconds) too often; chunks of 32 MiB made the training steps of six layers
#: 1-56 % slower (``benchmarks/sweep_fft_chunks.py``, docs/performance.md, "Large kernels").
CHUNK_BYTES = 1 << 22


def _chunks(tiling: _Tiling, batch: int, groups: int, opg: int) -> list[tuple[int, int]]:
    """Ranges of output channels per group whose blocks take about :data:`CHUNK_BYTES`."""
    per_channel = batch * groups * math.prod(tiling.tiles) * math.prod(tiling.blocks) * 8
    step = max(1, min(opg, CHUNK_BYTES // max(per_channel, 1)))
    return [(o, min(opg, o + step)) for o in range(0, opg, step)]


def _channels(t: torch.Tensor, groups: int, lo: int, hi: int) -> torch.Tensor:
    """Output channels ``lo:hi`` of every group of ``t`` ``(N, groups * opg, ...)``."""
    if groups == 1:
        return t[:, lo:hi]
    grouped = t.view(t.shape[0], groups, -1, *t.shape[2:])[:, :, lo:hi]
    return grouped.reshape(t.shape[0], -1, *t.shape[2:])


class _Correlation(torch.autograd.Function):
    """Valid, stride-1 cross-correlation of a padded input by overlap-save, with gradients
    computed by transforms as well (the spectra of the forward pass are reused; the bias
    gradient is frequency 0 of the output gradient's block spectra)."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                dilation: tuple[int, ...], groups: int, tiling: _Tiling) -> torch.Tensor:
        nd = weight.dim() - 2
        dims = tuple(range(-nd, 0))
        n = x.shape[0]
        cout, ipg = weight.shape[:2]
        opg = cout // groups
        kernel = torch.fft.rfftn(_dilated(weight, dilation), s=tiling.blocks, dim=dims)
        kernel = kernel.reshape(groups, opg, ipg, *kernel.shape[2:])
        spectrum = torch.fft.rfftn(tiling.cut(x), s=tiling.blocks, dim=dims)
        spectrum = spectrum.reshape(n, groups, ipg, *spectrum.shape[2:])
        out = x.new_empty(n, cout, *tiling.outputs)
        grouped_out = out.view(n, groups, opg, *tiling.outputs)
        conj = kernel.conj().resolve_conj()  # small; a lazy conj would slow every product
        dc: tuple[Any, ...] = (Ellipsis, *([0] * nd))
        for lo, hi in _chunks(tiling, n, groups, opg):
            product = _apply(spectrum, conj[:, lo:hi], nd)
            if bias is not None:  # a constant output is a spike at frequency 0 of every block
                value = bias.view(groups, opg)[:, lo:hi].reshape(1, -1, *([1] * nd))
                product[dc] += value * math.prod(tiling.blocks)
            blocks = torch.fft.irfftn(product, s=tiling.blocks, dim=dims)
            target = grouped_out[:, :, lo:hi]
            if groups == 1:
                tiling.join(blocks, target.view(n, hi - lo, *tiling.outputs))
            else:
                part = x.new_empty(n, groups * (hi - lo), *tiling.outputs)
                tiling.join(blocks, part)
                target.copy_(part.view(n, groups, hi - lo, *tiling.outputs))
        ctx.tiling, ctx.dilation, ctx.groups = tiling, dilation, groups
        ctx.weight_shape, ctx.input_shape = weight.shape, x.shape
        ctx.has_bias = bias is not None
        need_x, need_w = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        # the inputs themselves too (references, no copies): a backward pass that is itself
        # differentiated (create_graph) needs gradients connected to them
        ctx.save_for_backward(spectrum if need_w else None, kernel if need_x else None,
                              x if need_w else None, weight if need_x else None)
        return out

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        spectrum, kernel, x, weight = ctx.saved_tensors
        if torch.is_grad_enabled():  # create_graph: the spectra are constants to autograd
            return _differentiable_grads(ctx, grad, x, weight)
        tiling: _Tiling = ctx.tiling
        nd = len(tiling.blocks)
        dims = tuple(range(-nd, 0))
        groups = ctx.groups
        n, cout = grad.shape[:2]
        opg = cout // groups
        need_x, need_w = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        need_b = ctx.has_bias and ctx.needs_input_grad[2]
        dx: torch.Tensor | None = None
        dk_parts, db_parts = [], []
        zero: tuple[Any, ...] = (Ellipsis, *([0] * nd))  # frequency 0 of every block
        for lo, hi in _chunks(tiling, n, groups, opg) if need_x or need_w else ():
            g = torch.fft.rfftn(tiling.place(_channels(grad, groups, lo, hi)),
                                s=tiling.blocks, dim=dims)
            g = g.reshape(n, groups, hi - lo, *g.shape[2:])
            if need_x:
                part = _apply(g, kernel[:, lo:hi].transpose(1, 2), nd)
                dx = part if dx is None else dx.add_(part)
            if need_w:
                dk_parts.append(_kernel_grad(g, spectrum, nd))
            if need_b:  # a block's frequency 0 is the sum of its outputs: no pass over grad
                db_parts.append(g[zero].real.sum(dim=(0, *range(3, 3 + nd))))  # (groups, chunk)
        grad_x = grad_w = grad_b = None
        if dx is not None:
            grad_x = tiling.overlap_add(torch.fft.irfftn(dx, s=tiling.blocks, dim=dims))
        if need_w:
            dk = torch.cat(dk_parts, dim=1)  # (groups, opg, ipg, *freq)
            dk = torch.fft.irfftn(dk.reshape(cout, -1, *dk.shape[3:]), s=tiling.blocks,
                                  dim=dims)
            index = (..., *[slice(0, s, d) for s, d in zip(tiling.spans, ctx.dilation,
                                                           strict=True)])
            grad_w = dk[index].reshape(ctx.weight_shape)
        if need_b:
            grad_b = (torch.cat(db_parts, dim=1).reshape(cout) if db_parts
                      else grad.sum(dim=(0, *range(2, 2 + nd))))
        return grad_x, grad_w, grad_b, None, None, None


#: ``F.conv``'s gradients by dimension (``torch.nn.grad`` is untyped)
_Grad = Callable[..., torch.Tensor]
_CONV_INPUT_GRAD: dict[int, _Grad] = {
    1: nn_grad.conv1d_input, 2: nn_grad.conv2d_input, 3: nn_grad.conv3d_input}
_CONV_WEIGHT_GRAD: dict[int, _Grad] = {
    1: nn_grad.conv1d_weight, 2: nn_grad.conv2d_weight, 3: nn_grad.conv3d_weight}


def _differentiable_grads(ctx: Any, grad: torch.Tensor, x: torch.Tensor | None,
                          weight: torch.Tensor | None) -> tuple[torch.Tensor | None, ...]:
    """:class:`_Correlation`'s gradients as ``F.conv``'s own, differentiable ones (for a
    backward pass that records a graph: higher derivatives, gradient penalties); the same
    values as the transforms give."""
    nd = len(ctx.dilation)
    options = {"stride": 1, "padding": 0, "dilation": ctx.dilation, "groups": ctx.groups}
    grad_x = grad_w = grad_b = None
    if ctx.needs_input_grad[0]:
        grad_x = _CONV_INPUT_GRAD[nd](ctx.input_shape, weight, grad, **options)
    if ctx.needs_input_grad[1]:
        grad_w = _CONV_WEIGHT_GRAD[nd](x, ctx.weight_shape, grad, **options)
    if ctx.has_bias and ctx.needs_input_grad[2]:
        grad_b = grad.sum(dim=(0, *range(2, 2 + nd)))
    return grad_x, grad_w, grad_b, None, None, None


def _apply(spectrum: torch.Tensor, kernel: torch.Tensor, nd: int) -> torch.Tensor:
    """``sum_i spectrum[n, g, i, *tiles, *f] * kernel[g, o, i, *f]`` -> ``(n, g*o, ...)``.

    A loop of in-place multiply-adds over ``i``: complex batched matrix products over the
    frequencies are several times slower on the CPU (tiny matrices, no batched kernel).
    """
    n, groups, ipg = spectrum.shape[:3]
    opg = kernel.shape[1]
    shape = (1, groups, opg, *([1] * nd), *kernel.shape[3:])
    product = spectrum[:, :, :1] * kernel[:, :, 0].reshape(shape)
    for i in range(1, ipg):
        product.addcmul_(spectrum[:, :, i:i + 1], kernel[:, :, i].reshape(shape))
    return product.reshape(n, groups * opg, *product.shape[3:])


def _kernel_grad(grad: torch.Tensor, spectrum: torch.Tensor, nd: int) -> torch.Tensor:
    """``sum_{n, tiles} conj(grad[n, g, o, ...]) * spectrum[n, g, i, ...]`` -> ``(g, o, i, *f)``.

    Computed as the conjugate of ``sum grad * conj(spectrum)``: conjugating the (large)
    gradient spectrum would copy it. One input channel per group: in-place multiply-adds over
    the batch and the tiles (no temporary as large as the spectra); otherwise one product per
    input channel.
    """
    n, groups, opg = grad.shape[:3]
    ipg = spectrum.shape[2]
    conj = spectrum.conj().resolve_conj()
    if ipg == 1:
        flat_g = grad.reshape(n, groups, opg, -1, *grad.shape[3 + nd:])
        flat_x = conj.reshape(n, groups, 1, -1, *conj.shape[3 + nd:])
        out = flat_g.new_zeros(groups, opg, 1, *flat_g.shape[4:])
        # views by unbind (one call per signal and tensor, not two per product)
        for gb, xb in zip(flat_g.unsqueeze(3).unbind(0), flat_x.unsqueeze(2).unbind(0),
                          strict=True):
            for gt, xt in zip(gb.unbind(3), xb.unbind(3), strict=True):
                out.addcmul_(gt, xt)
        return out.conj()
    dims = (0, *range(3, 3 + nd))
    parts = [(grad * conj[:, :, i:i + 1]).sum(dim=dims) for i in range(ipg)]
    return torch.stack(parts, dim=2).conj()


def _correlate(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
               dilation: Sequence[int], groups: int,
               blocks: Sequence[int] | None) -> torch.Tensor:
    """Valid, stride-1 cross-correlation of a padded input by overlap-save."""
    spans = [d * (k - 1) + 1 for d, k in zip(dilation, weight.shape[2:], strict=True)]
    if not input_covers(x.shape[2:], spans):
        raise ConfigError(
            f"input of spatial size {tuple(x.shape[2:])} (after padding) is smaller than the "
            f"dilated kernel extent {tuple(spans)}: pad the input more or use a smaller kernel"
        )
    tiling = _Tiling.build(tuple(x.shape[2:]), spans, blocks)
    out: torch.Tensor = _Correlation.apply(  # type: ignore[no-untyped-call]
        x, weight, bias, tuple(dilation), groups, tiling)
    return out
