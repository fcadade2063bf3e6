"""One convolution to its analytic equivalent: :func:`fit_conv`.

Fits the candidate families to the kernels of an ``nn.Conv1d/2d/3d``
(:func:`aclcore.fit.fit_kernels`, with the convolution's dilation), keeps as analytic the
kernels whose best-ranked family within ``tol`` exists (:func:`aclcore.fit.selection.select`)
and the others free, and builds the mosaic layer with the same hyper-parameters
(:func:`aclcore.fit.assemble.assemble`).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn.modules.conv import _ConvNd

from aclcore.errors import ConfigError
from aclcore.fit.assemble import FittedConv, assemble
from aclcore.fit.inputs import FamilySpecs
from aclcore.fit.kernels import fit_kernels
from aclcore.fit.result import FitResult
from aclcore.fit.selection import select

__all__ = ["check_conv", "fit_conv"]


def check_conv(conv: object, where: str = "conv") -> _ConvNd:
    """``conv`` if it is a plain (not transposed) ``nn.Conv1d/2d/3d``; ConfigError otherwise."""
    if not isinstance(conv, (nn.Conv1d, nn.Conv2d, nn.Conv3d)) or conv.transposed:
        raise ConfigError(
            f"{where} must be an nn.Conv1d, nn.Conv2d or nn.Conv3d (not transposed), got "
            f"{type(conv).__name__}"
        )
    if isinstance(conv.weight, nn.parameter.UninitializedParameter):
        raise ConfigError(f"{where} is a lazy convolution that has not seen an input yet; "
                          "run one forward pass first")
    return conv


def fit_conv(
    conv: nn.Module,
    families: FamilySpecs,
    tol: float = 0.1,
    *,
    result: FitResult | None = None,
    **fit_options: Any,
) -> FittedConv:
    """An analytic equivalent of ``conv``: kernels fitted within ``tol`` analytic, the rest free.

    Args:
        conv: an ``nn.Conv1d``, ``nn.Conv2d`` or ``nn.Conv3d``.
        families: the candidate families (as for :func:`~aclcore.fit.fit_kernels`).
        tol: the largest relative L2 error of a kernel that becomes analytic; ``0`` keeps
            every kernel free (an exact copy), ``float("inf")`` makes every kernel analytic.
        result: a fit of ``conv.weight`` made before (skips fitting; ``families`` and
            ``fit_options`` are then unused).
        **fit_options: options of :func:`~aclcore.fit.fit_kernels` (``share_akps``,
            ``starts``, ``seed``...); the dilation is the convolution's.

    Returns:
        A :class:`~aclcore.fit.assemble.FittedConv` with the convolution's hyper-parameters,
        bias, device and dtype, whose output channels are in the original order.

    Raises:
        ConfigError: ``conv`` is not a convolution, ``tol`` is negative, or a fit option is
            invalid (see :func:`~aclcore.fit.fit_kernels`).
    """
    conv = check_conv(conv)
    if "dilation" in fit_options:
        raise ConfigError("fit_conv takes the dilation from the convolution; do not pass it")
    weight = conv.weight.detach()
    if result is None:
        result = fit_kernels(weight, families, dilation=conv.dilation, **fit_options)
    elif tuple(result.target.shape) != tuple(weight.shape):
        raise ConfigError(f"result fits kernels of shape {tuple(result.target.shape)}, but the "
                          f"convolution's weight is {tuple(weight.shape)}")
    choice = select(result, tol)
    padding = conv.padding if isinstance(conv.padding, str) else tuple(conv.padding)
    bias = conv.bias.detach() if conv.bias is not None else None
    with torch.no_grad():
        return assemble(
            result, choice, in_channels=conv.in_channels, stride=conv.stride, padding=padding,
            groups=conv.groups, padding_mode=conv.padding_mode, bias=bias,
            device=weight.device, dtype=weight.dtype,
        )
