"""Parameter containers of an analytic layer: one block of AKPs (and gains) per family.

State-dict keys (documented in ``docs/layer.md``) are ``analytic.<family>.raw_<akp>`` for the
unconstrained AKPs and ``analytic.<family>.gain`` for the gains. Family names become module
keys as given; the container writes ``_modules`` directly, so that a family may be called
like a Module attribute (``eval``, ``train``...) without clashing.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import nn

from aclcore.compile.compiler import CompiledFamily, compile_family
from aclcore.nn.functional import sample_kernels
from aclcore.symbolic.constraints import Constraint
from aclcore.symbolic.family import KernelFamily

__all__ = ["AnalyticBlock", "Blocks"]


class AnalyticBlock(nn.Module):
    """Raw AKPs and gains of the ``count`` output channels of one family in a layer.

    Args:
        family: the family.
        count: output channels of the block.
        in_per_group: input channels per group (kernels per output channel).
        share_akps: one AKP set per output channel (shape ``(count, 1)``) instead of one per
            kernel (``(count, in_per_group)``).
        gain: whether each kernel gets a learnable gain (shape ``(count, in_per_group)``).
    """

    def __init__(
        self,
        family: KernelFamily,
        count: int,
        in_per_group: int,
        *,
        share_akps: bool,
        gain: bool,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.family = family
        self.compiled: CompiledFamily = compile_family(family)
        self.count = count
        self.in_per_group = in_per_group
        self.share_akps = share_akps
        self.akp_names: tuple[str, ...] = family.param_names
        self.constraints: tuple[Constraint, ...] = tuple(p.constraint_obj for p in family.params)
        cols = 1 if share_akps else in_per_group
        for name in self.akp_names:
            raw = torch.empty(count, cols, device=device, dtype=dtype)
            self.register_parameter(f"raw_{name}", nn.Parameter(raw))
        self.gain: nn.Parameter | None
        if gain:
            self.gain = nn.Parameter(torch.ones(count, in_per_group, device=device, dtype=dtype))
        else:
            self.register_parameter("gain", None)

    def raw(self, name: str) -> nn.Parameter:
        """The unconstrained tensor of AKP ``name``."""
        param = self._parameters[f"raw_{name}"]
        assert param is not None
        return param

    def akp_parameters(self) -> Iterator[nn.Parameter]:
        """Raw AKPs, then the gain."""
        for name in self.akp_names:
            yield self.raw(name)
        if self.gain is not None:
            yield self.gain

    def values(self) -> dict[str, torch.Tensor]:
        """Constrained AKP values by name, shaped ``(count, in_per_group)`` or ``(count, 1)``."""
        return {
            name: c.forward(self.raw(name))
            for name, c in zip(self.akp_names, self.constraints, strict=True)
        }

    def init_akps(self) -> None:
        """Draw initial AKPs from the family's ``Param.init`` (through the inverse map)."""
        with torch.no_grad():
            for param in self.family.params:
                raw = self.raw(param.name)
                value = param.sample(raw.shape, dtype=torch.float64, device=raw.device)
                raw.copy_(param.constraint_obj.inverse(value).to(raw.dtype))

    def kernels(
        self,
        kernel_size: tuple[int, ...],
        dilation: tuple[int, ...],
        *,
        discretization: str,
        quadrature: int,
        normalize: str,
        check_finite: bool,
        like: torch.Tensor,
        with_gain: bool = True,
    ) -> torch.Tensor:
        """The block's kernels ``(count, in_per_group, *kernel_size)``, normalised, gained.

        ``like`` gives dtype and device when the family has no AKPs.
        """
        bank = sample_kernels(
            self.compiled, self.values(), kernel_size, dilation,
            discretization=discretization, quadrature=quadrature, normalize=normalize,
            check_finite=check_finite, dtype=like.dtype, device=like.device,
        )
        nd = len(kernel_size)
        if with_gain and self.gain is not None:
            bank = bank * self.gain.reshape(*self.gain.shape, *([1] * nd))
        shape = (self.count, self.in_per_group, *kernel_size)
        return bank if bank.shape == shape else bank.expand(shape)

    def extra_repr(self) -> str:
        shape = (self.count, 1 if self.share_akps else self.in_per_group)
        gain = ", gain" if self.gain is not None else ""
        return f"family={self.family.name!r}, akps={list(self.akp_names)} x {shape}{gain}"


class Blocks(nn.Module):
    """Analytic blocks by family name (state-dict keys ``analytic.<family>.*``)."""

    def add(self, name: str, block: AnalyticBlock) -> None:
        """Register ``block`` under ``name`` (any family name, no attribute clash checks)."""
        self._modules[name] = block

    def __getitem__(self, name: str) -> AnalyticBlock:
        block = self._modules[name]
        assert isinstance(block, AnalyticBlock)
        return block

    def __iter__(self) -> Iterator[AnalyticBlock]:
        for block in self._modules.values():
            assert isinstance(block, AnalyticBlock)
            yield block

    def __len__(self) -> int:
        return len(self._modules)
