"""Honest parameter counts: the whole model and its convolutions, by kind.

Every parameter of a convolution module counts as a convolution parameter: for a plain
``nn.ConvNd`` its weight and bias; for an analytic layer its raw AKPs, its gains (full, or
both factors with ``gain_rank``), its free kernels and its bias. A parameter shared by
several modules counts once.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn.modules.conv import _ConvNd

from aclcore.nn import AnalyticConvNd

__all__ = ["ParameterCounts", "count_parameters"]


@dataclass(frozen=True)
class ParameterCounts:
    """Numbers of scalar parameters.

    Attributes:
        total: every parameter of the model.
        conv: every parameter of its convolutions (the sum of the next four).
        akps: raw AKPs of analytic kernels.
        gains: gains of analytic kernels (both factors when factorised).
        kernels: free kernels of analytic layers and weights of plain convolutions.
        bias: biases of the convolutions.
    """

    total: int
    conv: int
    akps: int
    gains: int
    kernels: int
    bias: int

    def as_dict(self) -> dict[str, int]:
        """The counts as a plain dict."""
        return asdict(self)


def count_parameters(model: nn.Module) -> ParameterCounts:
    """Count ``model``'s parameters (see the module docstring)."""
    seen: set[int] = set()
    akps = gains = kernels = bias = 0

    def fresh(p: torch.Tensor) -> bool:
        if id(p) in seen:
            return False
        seen.add(id(p))
        return True

    for module in model.modules():
        if isinstance(module, AnalyticConvNd):
            for block in module.analytic:
                for name in block.akp_names:
                    raw = block.raw(name)
                    akps += raw.numel() if fresh(raw) else 0
                for p in (block.gain, block.gain_out, block.gain_in):
                    if p is not None and fresh(p):
                        gains += p.numel()
            if module.free_weight is not None and fresh(module.free_weight):
                kernels += module.free_weight.numel()
            if module.bias is not None and fresh(module.bias):
                bias += module.bias.numel()
        elif isinstance(module, _ConvNd):
            if fresh(module.weight):
                kernels += module.weight.numel()
            if module.bias is not None and fresh(module.bias):
                bias += module.bias.numel()
    total = sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())
    return ParameterCounts(total=total, conv=akps + gains + kernels + bias, akps=akps,
                           gains=gains, kernels=kernels, bias=bias)
