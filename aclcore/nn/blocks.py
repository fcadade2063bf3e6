"""Parameter containers of an analytic layer: one block of AKPs (and gains) per family.

State-dict keys (documented in ``docs/layer.md``) are ``analytic.<family>.raw_<akp>`` for the
unconstrained AKPs and ``analytic.<family>.gain`` for the gains, or, with ``gain_rank=r``,
``analytic.<family>.gain_out`` ``(count, r)`` and ``analytic.<family>.gain_in``
``(r, in_per_group)``, whose product is the gain of every kernel. Family names become module
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
        gain_rank: ``None`` (one free gain per kernel) or ``r``: the gains are the product
            ``gain_out @ gain_in`` of a ``(count, r)`` and an ``(r, in_per_group)`` matrix
            (``r * (count + in_per_group)`` parameters instead of ``count * in_per_group``).
    """

    def __init__(
        self,
        family: KernelFamily,
        count: int,
        in_per_group: int,
        *,
        share_akps: bool,
        gain: bool,
        gain_rank: int | None = None,
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
        self.gain_rank = gain_rank if gain else None
        self.gain: nn.Parameter | None
        self.gain_out: nn.Parameter | None
        self.gain_in: nn.Parameter | None
        if gain and gain_rank is None:
            self.gain = nn.Parameter(torch.ones(count, in_per_group, device=device, dtype=dtype))
        else:
            self.register_parameter("gain", None)
        if gain and gain_rank is not None:
            self.gain_out = nn.Parameter(torch.ones(count, gain_rank, device=device, dtype=dtype))
            self.gain_in = nn.Parameter(
                torch.ones(gain_rank, in_per_group, device=device, dtype=dtype))
        else:
            self.register_parameter("gain_out", None)
            self.register_parameter("gain_in", None)

    def raw(self, name: str) -> nn.Parameter:
        """The unconstrained tensor of AKP ``name``."""
        param = self._parameters[f"raw_{name}"]
        assert param is not None
        return param

    @property
    def has_gain(self) -> bool:
        """Whether the kernels have learnable gains (full or factorised)."""
        return self.gain is not None or self.gain_out is not None

    def gains(self) -> torch.Tensor | None:
        """The gain of every kernel, ``(count, in_per_group)`` (``None`` without gains).

        The parameter itself for full gains; ``gain_out @ gain_in`` with ``gain_rank``.
        """
        if self.gain_out is not None and self.gain_in is not None:
            return self.gain_out @ self.gain_in
        return self.gain

    def akp_parameters(self) -> Iterator[nn.Parameter]:
        """Raw AKPs, then the gain (or its two factors)."""
        for name in self.akp_names:
            yield self.raw(name)
        for p in (self.gain, self.gain_out, self.gain_in):
            if p is not None:
                yield p

    def init_gains(self, target: torch.Tensor) -> None:
        """Set the gains so that kernel ``(o, i)`` has gain ``target[o, i]`` in expectation.

        Full gains are set to ``target``. Factorised gains are drawn standard normal (from
        torch's global generator, so the ``r`` input mixtures differ and have random signs),
        then each row of ``gain_out`` is scaled so that the gains of output channel ``o``
        have the root mean square of ``target[o]``.
        """
        with torch.no_grad():
            if self.gain is not None:
                self.gain.copy_(target)
            elif self.gain_out is not None and self.gain_in is not None:
                self.gain_in.normal_()
                self.gain_out.normal_()
                drawn = (self.gain_out @ self.gain_in).square().mean(dim=1, keepdim=True)
                wanted = target.square().mean(dim=1, keepdim=True)
                tiny = torch.finfo(drawn.dtype).tiny
                self.gain_out.mul_((wanted / drawn.clamp_min(tiny)).sqrt())

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
        gains = self.gains() if with_gain else None
        if gains is not None:
            bank = bank * gains.reshape(*gains.shape, *([1] * nd))
        shape = (self.count, self.in_per_group, *kernel_size)
        return bank if bank.shape == shape else bank.expand(shape)

    def extra_repr(self) -> str:
        shape = (self.count, 1 if self.share_akps else self.in_per_group)
        gain = ", gain" if self.gain is not None else ""
        if self.gain_rank is not None:
            gain = f", gain_rank={self.gain_rank}"
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
