"""An analytic layer built from a fit: :func:`assemble` and the :class:`FittedConv` module.

A layer's mosaic keeps each family's output channels in one contiguous block, while a fit
chooses a family per kernel in any order. :func:`assemble` therefore builds an
:class:`~aclcore.nn.layers.AnalyticConvNd` whose channels are grouped by family (families in
the order they were fitted, free kernels last) and wraps it in a :class:`FittedConv` that
puts the output channels back in the original order, so it replaces the original
convolution exactly: same input, same output channels, same hyper-parameters.

The analytic layer gets the fitted raw AKPs and gains, the free kernels the original
weights, the bias the original bias. Building it draws no random numbers from the caller's
generator (the layer's own initialisation runs under a forked RNG and is overwritten).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn.modules.conv import _ConvNd

from aclcore.fit.result import FitResult
from aclcore.nn.layers import AnalyticConv1d, AnalyticConv2d, AnalyticConv3d, AnalyticConvNd
from aclcore.nn.mosaic import FREE
from aclcore.symbolic.family import KernelFamily

__all__ = ["FittedConv", "assemble"]

_LAYERS: dict[int, type[AnalyticConvNd]] = {1: AnalyticConv1d, 2: AnalyticConv2d,
                                             3: AnalyticConv3d}


class FittedConv(nn.Module):
    """An analytic layer standing in for an ``nn.ConvNd``, output channels in its order.

    Attributes:
        layer: the :class:`~aclcore.nn.layers.AnalyticConvNd` (channels grouped by family;
            export it, freeze it or train it like any analytic layer).
        order: buffer ``(out_channels,)``: channel ``i`` of ``layer`` computes output channel
            ``order[i]`` of the original convolution.
    """

    layer: AnalyticConvNd | _ConvNd
    order: torch.Tensor

    def __init__(self, layer: AnalyticConvNd | _ConvNd, order: torch.Tensor) -> None:
        super().__init__()
        self.layer = layer
        self.register_buffer("order", order.to(torch.long))

    def _inverse(self) -> torch.Tensor:
        return torch.argsort(self.order)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        """The original convolution's output: ``layer(input)`` with channels put back."""
        out: torch.Tensor = self.layer(input)
        nd = len(self.layer.kernel_size)  # an analytic layer, or its frozen nn.ConvNd
        return out.index_select(out.dim() - nd - 1, self._inverse())

    @property
    def weight(self) -> torch.Tensor:
        """The kernel bank in the original channel order, ``(out, in / groups, *k)``."""
        return self.layer.weight.index_select(0, self._inverse())

    @property
    def bias(self) -> torch.Tensor | None:
        """The bias in the original channel order (``None`` without bias)."""
        bias = self.layer.bias
        return None if bias is None else bias.index_select(0, self._inverse())


def assemble(
    result: FitResult,
    choice: Sequence[str | None],
    *,
    in_channels: int | None = None,
    stride: int | Sequence[int] = 1,
    padding: str | int | Sequence[int] = 0,
    groups: int = 1,
    padding_mode: str = "zeros",
    bias: torch.Tensor | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> FittedConv:
    """The analytic version of the fitted bank: kernel ``n`` from family ``choice[n]``.

    Args:
        result: the fit of the bank (its dilation, discretisation, normalisation and
            ``share_akps`` are the layer's).
        choice: per kernel a family name of ``result`` or ``None`` (a free kernel holding
            the target kernel), e.g. :func:`aclcore.fit.selection.select`.
        in_channels: input channels (default ``C * groups``).
        stride, padding, groups, padding_mode: the convolution's, as in ``nn.ConvNd``.
        bias: the bias to copy (``None``: no bias).
        device, dtype: of the layer (default CPU, the default dtype).

    Raises:
        ConfigError: ``choice`` of the wrong length or naming a family not in ``result``.
    """
    n = result.kernel_count
    result.check_choice(choice)
    target = result.target
    c = int(target.shape[1])
    size = tuple(int(s) for s in target.shape[2:])
    mapping: dict[str | KernelFamily, int] = {}
    order: list[int] = []
    blocks: list[tuple[str | None, list[int]]] = []
    for name in (*result.names, None):
        members = [i for i, pick in enumerate(choice) if pick == name]
        if members:
            mapping[FREE if name is None else result.fits[name].family] = len(members)
            order.extend(members)
            blocks.append((name, members))
    opts = result.options
    cls = _LAYERS[len(size)]
    dtype = dtype or torch.get_default_dtype()
    with torch.random.fork_rng(devices=[]):
        layer = cls(
            c * groups if in_channels is None else in_channels, n, size, stride, padding,
            opts.dilation, groups, bias is not None, padding_mode, device=device, dtype=dtype,
            families=mapping, share_akps=opts.share_akps, discretization=opts.discretization,
            quadrature=opts.quadrature, normalize=opts.normalize,
        )
    with torch.no_grad():
        for name, members in blocks:
            index = torch.tensor(members)
            if name is None:
                assert layer.free_weight is not None
                layer.free_weight.copy_(target[index])
                continue
            fit = result.fits[name]
            block = layer.analytic[name]
            for akp in fit.family.param_names:
                block.raw(akp).copy_(fit.raw[akp][index])
            if block.gain is not None:
                block.gain.copy_(fit.gains[index])
        if bias is not None:
            assert layer.bias is not None
            layer.bias.copy_(bias.detach()[torch.tensor(order)])
    layer.clear_cache()
    return FittedConv(layer, torch.tensor(order, device=device))
