"""Analytic convolution layers: drop-in ``nn.Conv{1,2,3}d`` with analytic and free kernels.

``AnalyticConv2d(in, out, k, ..., families={"gabor": 48, "free": 16})`` holds, per family,
its AKPs as ``nn.Parameter`` (unconstrained raw tensors, one set per kernel), a learnable gain
per kernel, and ordinary free kernels; every forward samples the kernel bank from the AKPs
(inside the autograd graph) and runs ``F.conv{1,2,3}d``, or, for large kernels, a
separable or FFT path chosen by a cost model (:mod:`aclcore.nn.paths`). See
``docs/layer.md``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, ClassVar

import sympy as sp
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.conv import _ConvNd

from aclcore.compile.factored import CompiledFactors, compile_factors
from aclcore.errors import ConfigError, NonFiniteKernelError
from aclcore.nn import functional
from aclcore.nn.bankcache import BankCache
from aclcore.nn.blocks import AnalyticBlock, Blocks
from aclcore.nn.config import LayerConfig, check_factory, check_path
from aclcore.nn.fftconv import fft_conv
from aclcore.nn.introspect import AnalyticKernel, kernel_records
from aclcore.nn.mosaic import FamiliesSpec, MosaicBlock
from aclcore.nn.paths import BlockShape, ConvShape, Plan, choose_plan
from aclcore.nn.rows import RowLayout
from aclcore.nn.separable import SEPARABLE_NORMALIZATIONS, sample_factors, separable_conv
from aclcore.nn.state import check_extra_state, layer_state, provenance

__all__ = [
    "AnalyticConv1d",
    "AnalyticConv2d",
    "AnalyticConv3d",
    "AnalyticConvNd",
    "AnalyticKernel",
    "MosaicBlock",
]

_CONV_CLS: dict[int, Callable[..., _ConvNd]] = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}
_CONV_FN: dict[int, Callable[..., torch.Tensor]] = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
#: A sampled kernel whose L2 norm is below this gets gain 1 at init (no blow-up).
GAIN_INIT_FLOOR = 1e-6


class AnalyticConvNd(nn.Module):
    """Base class of :class:`AnalyticConv1d`, :class:`AnalyticConv2d`, :class:`AnalyticConv3d`.

    Arguments up to ``dtype`` are those of ``nn.ConvNd``; the rest are keyword-only:

    Args:
        families: a family name, a :class:`~aclcore.symbolic.family.KernelFamily`, ``"free"``, or a
            mapping of those to channel counts (ints summing to ``out_channels``) or
            fractions (floats summing to 1): contiguous blocks of output channels in the
            mapping's order (see :mod:`aclcore.nn.mosaic` for the rounding rule).
        discretization: ``"sample"`` (value at each tap) or ``"integrate"`` (mean over each
            tap's 1-pixel cell by Gauss-Legendre quadrature).
        quadrature: points per axis of the ``"integrate"`` rule.
        normalize: ``None`` (each family's own ``normalize``), one of ``"none"``, ``"sum"``,
            ``"zero_mean"``, ``"l2"`` for every family, or a mapping family name -> mode.
        share_akps: one AKP set per output channel shared by its inputs (shape
            ``(count, 1)``), with the per-kernel gain acting as a per-input gain.
        gain: a learnable gain per analytic kernel, initialised so that each kernel's L2 norm
            matches the expected norm of an ``nn.ConvNd`` default-init kernel.
        gain_rank: ``None`` (one free gain per kernel) or ``r``: per family block, the gains
            are the product of an ``(out, r)`` and an ``(r, in / groups)`` matrix, so the
            block mixes its inputs through ``r`` learned combinations (far fewer
            parameters than ``out * in / groups`` gains); needs ``gain=True``.
        check_finite: raise :class:`~aclcore.errors.NonFiniteKernelError` when an analytic
            kernel becomes NaN/inf (eager mode only).
        path: how the layer convolves: ``"auto"`` (a cost model chooses per input shape),
            ``"direct"`` (the whole bank, one ``F.conv``), ``"separable"`` (separable
            families through their 1-D factors) or ``"fft"``; all give the same result up to
            rounding. A runtime choice, not recorded in states or exports; settable later
            (``layer.path = "fft"``). See :mod:`aclcore.nn.paths`.

    Raises:
        ConfigError: inconsistent sizes, counts, options or families of the wrong dimension.
        UnknownFamilyError: a family name that is not registered.
        NonFiniteKernelError: the initial AKPs make a kernel NaN/inf.
    """

    _ndim: ClassVar[int] = 0

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | Sequence[int],
        stride: int | Sequence[int] = 1,
        padding: str | int | Sequence[int] = 0,
        dilation: int | Sequence[int] = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        *,
        families: FamiliesSpec,
        discretization: str = "sample",
        quadrature: int = 4,
        normalize: str | Mapping[str, str] | None = None,
        share_akps: bool = False,
        gain: bool = True,
        gain_rank: int | None = None,
        check_finite: bool = True,
        path: str = "auto",
    ) -> None:
        super().__init__()
        name, nd = type(self).__name__, self._ndim
        if nd not in _CONV_CLS:
            raise TypeError("use AnalyticConv1d, AnalyticConv2d or AnalyticConv3d")
        cfg = LayerConfig.build(
            name, nd, in_channels, out_channels, kernel_size, stride, padding, dilation,
            groups, padding_mode, families=families, discretization=discretization,
            quadrature=quadrature, normalize=normalize, share_akps=share_akps, gain=gain,
            gain_rank=gain_rank,
        )
        self._cfg = cfg
        self.in_channels, self.out_channels, self.groups = (
            cfg.in_channels, cfg.out_channels, cfg.groups)
        self.kernel_size, self.stride, self.dilation = cfg.kernel_size, cfg.stride, cfg.dilation
        self.padding, self.padding_mode = cfg.padding, cfg.padding_mode
        self.transposed = False
        self.output_padding = (0,) * nd
        self._reversed_padding_repeated_twice = functional.reversed_padding(
            self.padding, self.kernel_size, self.dilation
        )
        self.discretization, self.quadrature = cfg.discretization, cfg.quadrature
        self.share_akps = cfg.share_akps
        self.gain_rank = cfg.gain_rank
        self.check_finite = bool(check_finite)
        self.mosaic: tuple[MosaicBlock, ...] = cfg.mosaic
        self.kernel_families = {b.name: b.family for b in self.mosaic if b.family is not None}
        self.normalize_modes = dict(cfg.normalize)
        self._provenance = {
            n: provenance(f, look_up=False) for n, f in self.kernel_families.items()
        }
        factory: dict[str, Any] = {"device": device, "dtype": dtype}
        check_factory(cfg, device, dtype)
        ipg = cfg.in_channels // cfg.groups
        self.analytic = Blocks()
        for block in self.mosaic:
            if block.family is not None:
                self.analytic.add(block.name, AnalyticBlock(
                    block.family, block.count, ipg, share_akps=share_akps, gain=gain,
                    gain_rank=cfg.gain_rank, **factory))
        free = sum(b.count for b in self.mosaic if b.is_free)
        self.free_weight: nn.Parameter | None
        self.bias: nn.Parameter | None
        if free:
            self.free_weight = nn.Parameter(torch.empty(free, ipg, *self.kernel_size, **factory))
        else:
            self.register_parameter("free_weight", None)
        if bias:
            self.bias = nn.Parameter(torch.empty(cfg.out_channels, **factory))
        else:
            self.register_parameter("bias", None)
        if next(self.parameters(), None) is None:
            raise ConfigError(
                f"{name}: the layer has nothing to learn (families without AKPs, gain=False, "
                "bias=False); enable gain or bias"
            )
        self._cache = BankCache()
        self._paths = _PathState()
        self.path = path
        self.reset_parameters()

    # -- parameters -----------------------------------------------------------------------
    @property
    def config(self) -> LayerConfig:
        """The validated configuration (what the layer state and the exports record)."""
        return self._cfg

    @property
    def in_per_group(self) -> int:
        """Input channels per group (dimension 1 of ``weight``)."""
        return self.in_channels // self.groups

    def reset_parameters(self) -> None:
        """Initialise like ``nn.ConvNd`` (free kernels, bias), then AKPs and gains.

        Free kernels: ``kaiming_uniform_(a=sqrt(5))``; bias: ``U(-1/sqrt(fan_in), ...)`` with
        ``fan_in = in_channels / groups * prod(kernel_size)``, drawn in that order (a
        free-only layer matches ``nn.ConvNd`` under the same seed). AKPs: each ``Param``'s
        ``init``. Gains: ``sqrt(1 / (3 * in_channels / groups)) / ||kernel||_2`` per kernel
        (the expected norm of an ``nn.ConvNd`` kernel), 1 where the kernel is ~0; factorised
        gains (``gain_rank``) have that value as their root mean square, with random signs
        (:meth:`~aclcore.nn.blocks.AnalyticBlock.init_gains`).
        """
        if self.free_weight is not None:
            nn.init.kaiming_uniform_(self.free_weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.in_per_group * math.prod(self.kernel_size)
            bound = 1 / math.sqrt(fan_in)
            nn.init.uniform_(self.bias, -bound, bound)
        for block in self.analytic:
            block.init_akps()
        self._init_gains()
        self._cache.clear()

    def _init_gains(self) -> None:
        target = math.sqrt(1.0 / (3 * self.in_per_group))
        dims = tuple(range(2, 2 + self._ndim))
        if self._like().device.type == "meta":
            return
        for block in self.analytic:
            try:
                with torch.no_grad():
                    kernels = self._block_kernels(block, with_gain=False, check_finite=True)
            except NonFiniteKernelError as err:
                raise NonFiniteKernelError(
                    f"{type(self).__name__}: the initial AKPs of family {block.family.name!r} "
                    f"give a non-finite kernel on the {self.kernel_size} grid (dilation "
                    f"{self.dilation}); change the init (or constraint) of its Params so that "
                    f"the formula is finite there. {err}"
                ) from err
            if block.has_gain:
                norms = torch.linalg.vector_norm(kernels, dim=dims)
                block.init_gains(torch.where(norms > GAIN_INIT_FLOOR, target / norms, 1.0))

    def akp_parameters(self) -> Iterator[nn.Parameter]:
        """Parameters of the analytic kernels: raw AKPs and gains (mosaic order)."""
        for block in self.analytic:
            yield from block.akp_parameters()

    def free_parameters(self) -> Iterator[nn.Parameter]:
        """Free kernel weights and the bias."""
        for p in (self.free_weight, self.bias):
            if p is not None:
                yield p

    def akp_values(self) -> dict[str, dict[str, torch.Tensor]]:
        """Constrained AKPs per family, shaped ``(count, in_per_group)`` or ``(count, 1)``."""
        return {block.family.name: block.values() for block in self.analytic}

    # -- the bank -------------------------------------------------------------------------
    def _like(self) -> torch.Tensor:
        for p in self.parameters():
            return p
        raise ConfigError("the layer has no parameters")  # unreachable: checked at init

    def _block_kernels(
        self, block: AnalyticBlock, *, with_gain: bool = True, check_finite: bool | None = None
    ) -> torch.Tensor:
        like = self._like()
        check = self.check_finite if check_finite is None else check_finite
        return block.kernels(
            self.kernel_size, self.dilation, discretization=self.discretization,
            quadrature=self.quadrature, normalize=self.normalize_modes[block.family.name],
            check_finite=check and like.device.type != "meta", like=like, with_gain=with_gain,
        )

    def _compute_bank(self) -> torch.Tensor:
        parts: list[torch.Tensor] = []
        for b in self.mosaic:
            if b.is_free:
                assert self.free_weight is not None
                parts.append(self.free_weight)
            else:
                parts.append(self._block_kernels(self.analytic[b.name]))
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=0)

    def _bank(self) -> torch.Tensor:
        akps: list[torch.Tensor] = list(self.akp_parameters())
        free = self.free_weight
        if torch.compiler.is_compiling() or (torch.is_grad_enabled() and (
            any(p.requires_grad for p in akps) or (free is not None and free.requires_grad)
        )):
            return self._compute_bank()
        copied = None
        if free is not None:
            copied = (free, next(b.start for b in self.mosaic if b.is_free))
        return self._cache.get(akps, self._compute_bank, copied=copied)

    @property
    def weight(self) -> torch.Tensor:
        """The full kernel bank ``(out_channels, in_channels // groups, *kernel_size)``.

        Recomputed from the AKPs (inside the autograd graph) whenever gradients can flow into
        it; otherwise served from a cache that is valid while the parameters are unchanged.
        """
        return self._bank()

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        """Cross-correlate ``input`` with the kernel bank, like ``nn.ConvNd``.

        The direct path is exactly ``nn.ConvNd``'s computation; the separable and FFT paths
        (see :attr:`path`) give the same result up to floating-point rounding.
        """
        # torch.func transforms (vmap, grad, ...) take the direct path: the FFT path's
        # autograd function has no functorch rules
        if self._path != "direct" and not torch._C._are_functorch_transforms_active():
            plan = self.plan(input)
            if not plan.is_direct:
                return self._forward_plan(input, plan)
        return self._conv_forward(input, self._bank(), self.bias)

    # -- convolution paths ----------------------------------------------------------------
    @property
    def path(self) -> str:
        """The path option: ``"auto"``, ``"direct"``, ``"separable"`` or ``"fft"``."""
        return self._path

    @path.setter
    def path(self, value: str) -> None:
        path = check_path(value, type(self).__name__)
        if path == "separable":
            if self._ndim < 2:
                raise ConfigError(
                    f"{type(self).__name__}: path='separable' convolves along each axis in "
                    "turn; a 1-D layer has one axis (use 'auto', 'direct' or 'fft')")
            factors = self._separable_factors()
            refused = [(b.family.name, why) for b in self.analytic
                       if (why := self._not_separable(b.family.name, factors)) is not None]
            if refused or not self.analytic:
                reasons = "; ".join(f"family {n!r} {why}" for n, why in refused) or (
                    "the layer has no analytic family")
                raise ConfigError(
                    f"{type(self).__name__}: path='separable' needs every analytic family to "
                    f"be separable: {reasons}. Use path='auto' (separable blocks take the "
                    "separable path where it pays) or 'direct'")
        elif path == "auto" and self._ndim >= 2:
            self._separable_factors()
        self._path = path
        self._paths.plans.clear()

    def _not_separable(self, name: str, factors: dict[str, CompiledFactors | None]
                       ) -> str | None:
        """Why block ``name`` cannot take the separable path (``None`` when it can)."""
        if factors.get(name) is None:
            return ("is not separable (its formula is not a product of 1-D factors for every "
                    "AKP value)")
        mode = self.normalize_modes[name]
        if mode not in SEPARABLE_NORMALIZATIONS:
            return f"has normalize={mode!r}, which does not factor over the axes"
        return None

    @torch.compiler.disable  # type: ignore[untyped-decorator]
    def _separable_factors(self) -> dict[str, CompiledFactors | None]:
        """The compiled 1-D factors of each analytic family (``None``: not separable)."""
        found = self._paths.factors
        if found is None:
            found = {b.family.name: compile_factors(b.family) if self._ndim >= 2 else None
                     for b in self.analytic}
            self._paths.factors = found
        return found

    def _known_factors(self) -> dict[str, CompiledFactors | None]:
        """:meth:`_separable_factors`, read without a call while ``torch.compile`` traces
        (they are found in eager mode, when the path is set)."""
        factors = self._paths.factors
        if factors is None:
            return self._separable_factors() if self._ndim >= 2 else {}
        return factors

    def _conv_shape(self, input: torch.Tensor) -> ConvShape:
        nd = self._ndim
        if input.dim() not in (nd + 1, nd + 2):
            raise ConfigError(
                f"{type(self).__name__}: expected a {nd + 1}-D (unbatched) or {nd + 2}-D "
                f"(batched) input, got shape {tuple(input.shape)}")
        batch = input.shape[0] if input.dim() == nd + 2 else 1
        pads = self._reversed_padding_repeated_twice
        padded = tuple(int(input.shape[-nd + i]) + pads[2 * (nd - 1 - i)]
                       + pads[2 * (nd - 1 - i) + 1] for i in range(nd))
        return ConvShape(batch, self.in_channels, self.out_channels, self.groups,
                         self.kernel_size, self.stride, self.dilation, padded,
                         input.element_size())

    def plan(self, input: torch.Tensor) -> Plan:
        """The :class:`~aclcore.nn.paths.Plan` this layer uses for ``input``'s shape.

        Chosen by :func:`~aclcore.nn.paths.choose_plan` from :attr:`path` and the shapes,
        cached per input shape, dtype and device type (never part of the module's state).
        """
        like = self._like()
        half = input.dtype in (torch.float16, torch.bfloat16) or like.dtype in (
            torch.float16, torch.bfloat16) or torch.is_autocast_enabled(input.device.type)
        key = (tuple(input.shape), input.dtype, input.device.type, half)
        plan = self._paths.plans.get(key)
        if plan is None:
            factors = self._known_factors() if self._path in ("auto", "separable") else {}
            blocks = [BlockShape(b.name, b.start, b.count,
                                 not b.is_free and self._not_separable(b.name, factors) is None,
                                 self.share_akps) for b in self.mosaic]
            plan = choose_plan(self._path, self._conv_shape(input), blocks, half=half)
            if len(self._paths.plans) >= 64:
                self._paths.plans.clear()
            self._paths.plans[key] = plan
        return plan

    def _rows_bank(self, blocks: list[MosaicBlock]) -> torch.Tensor:
        """The bank rows of ``blocks`` (mosaic order), from the eval cache when it applies."""
        if len(blocks) == len(self.mosaic):
            return self._bank()
        akps = list(self.akp_parameters())
        free = self.free_weight
        grad = torch.is_grad_enabled() and (
            any(p.requires_grad for p in akps) or (free is not None and free.requires_grad))
        if not grad and not torch.compiler.is_compiling():
            bank = self._bank()
            return torch.cat([bank[b.start:b.start + b.count] for b in blocks], dim=0)
        parts: list[torch.Tensor] = []
        for b in blocks:
            if b.is_free:
                assert free is not None
                parts.append(free)
            else:
                parts.append(self._block_kernels(self.analytic[b.name]))
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=0)

    def _layout(self, rows: Sequence[int]) -> RowLayout:
        """The grouped arrangement of output ``rows`` (memoised per layer)."""
        key = tuple(rows)
        layout = self._paths.layouts.get(key)
        if layout is None:
            layout = RowLayout.build(key, self.out_channels // self.groups, self.in_per_group)
            self._paths.layouts[key] = layout
        return layout

    def _forward_plan(self, input: torch.Tensor, plan: Plan) -> torch.Tensor:
        """The convolution by ``plan``'s paths (see :mod:`aclcore.nn.paths`)."""
        if not plan.separable and plan.bank == "fft":
            return fft_conv(input, self._bank(), self.bias, self.stride, self.padding,
                            self.dilation, self.groups, self.padding_mode,
                            blocks=plan.fft_blocks)
        nd = self._ndim
        unbatched = input.dim() == nd + 1
        x = input.unsqueeze(0) if unbatched else input
        pads = self._reversed_padding_repeated_twice
        if any(pads):
            mode = "constant" if self.padding_mode == "zeros" else self.padding_mode
            x = F.pad(x, pads, mode=mode)
        like = self._like()
        parts: dict[str, torch.Tensor] = {}
        for name in plan.separable:
            block = self.analytic[name]
            mosaic = next(b for b in self.mosaic if b.name == name)
            per_axis, scale = sample_factors(
                self._known_factors()[name] or _missing(name), block.values(),
                self.kernel_size, self.dilation, discretization=self.discretization,
                quadrature=self.quadrature, normalize=self.normalize_modes[name],
                check_finite=self.check_finite and like.device.type != "meta",
                dtype=like.dtype, device=like.device)
            gains = block.gains()
            amplitude = (scale if gains is None else scale * gains).expand(
                block.count, self.in_per_group)
            layout = self._layout(range(mosaic.start, mosaic.start + mosaic.count))
            piece = separable_conv(x, per_axis, amplitude, layout, self.stride, self.dilation)
            if self.bias is not None:
                own = self.bias[mosaic.start:mosaic.start + mosaic.count]
                piece = piece + own.to(piece.dtype).reshape(-1, *([1] * nd))
            parts[name] = piece
        if plan.bank is not None:
            rest = [b for b in self.mosaic if b.name not in plan.separable]
            layout = self._layout([r for b in rest for r in range(b.start, b.start + b.count)])
            weight = layout.spread(self._rows_bank(rest))
            bias: torch.Tensor | None = None
            if self.bias is not None:
                bias = layout.spread(torch.cat([self.bias[b.start:b.start + b.count]
                                                for b in rest]))
            inputs, groups = layout.inputs(x), len(layout.groups)
            if plan.bank == "fft":
                y = fft_conv(inputs, weight, bias, self.stride, 0, self.dilation, groups,
                             blocks=plan.fft_blocks)
            else:
                y = _CONV_FN[nd](inputs, weight, bias, self.stride, 0, self.dilation, groups)
            y = layout.gather(y)
            for b, piece in zip(rest, torch.split(y, [b.count for b in rest], dim=1),
                                strict=True):
                parts[b.name] = piece
        ordered = [parts[b.name] for b in self.mosaic]
        out = ordered[0] if len(ordered) == 1 else torch.cat(ordered, dim=1)
        return out.squeeze(0) if unbatched else out

    def _conv_forward(
        self, input: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None
    ) -> torch.Tensor:
        return functional.conv(input, weight, bias, self.stride, self.padding, self.dilation,
                               self.groups, self.padding_mode)

    def clear_cache(self) -> None:
        """Drop the cached kernel bank (never needed for correctness; frees its memory)."""
        self._cache.clear()

    def _apply(self, fn: Any, recurse: bool = True) -> Any:
        self._cache.clear()
        self._paths.plans.clear()
        return super()._apply(fn, recurse)  # type: ignore[no-untyped-call]

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)  # type: ignore[no-untyped-call]
        if self._path in ("auto", "separable") and self._ndim >= 2:
            self._separable_factors()  # in eager mode, before any torch.compile trace

    def _load_from_state_dict(self, *args: Any, **kwargs: Any) -> None:
        self._cache.clear()
        super()._load_from_state_dict(*args, **kwargs)

    # -- introspection and export ---------------------------------------------------------
    def analytic_kernels(self) -> list[AnalyticKernel]:
        """One :class:`AnalyticKernel` record per analytic kernel (out, then in order)."""
        blocks = [
            (b, self.analytic[b.name], self.normalize_modes[b.name])
            for b in self.mosaic if not b.is_free
        ]
        return kernel_records(
            blocks, kernel_size=self.kernel_size, dilation=self.dilation,
            discretization=self.discretization, quadrature=self.quadrature,
            in_per_group=self.in_per_group, like=self._like(),
        )

    def formulas(self) -> list[list[sp.Expr | None]]:
        """SymPy formula of every kernel, indexed ``[out_channel][in_channel]``.

        Each is an expression of the coordinates only, with the learned constrained AKPs,
        gain and normalisation substituted; ``None`` for free kernels. With
        ``discretization="integrate"`` the weight is the formula's mean over each tap's cell.
        """
        table: list[list[sp.Expr | None]] = [
            [None] * self.in_per_group for _ in range(self.out_channels)
        ]
        for record in self.analytic_kernels():
            table[record.out_channel][record.in_channel] = record.formula()
        return table

    def to_conv(self) -> _ConvNd:
        """A plain ``nn.Conv{1,2,3}d`` with this layer's current bank and bias (same outputs).

        No random numbers are drawn; the result is in the layer's mode, device and dtype.
        """
        like = self._like()
        conv = _CONV_CLS[self._ndim](
            self.in_channels, self.out_channels, self.kernel_size, self.stride,
            self.padding, self.dilation, self.groups, self.bias is not None,
            self.padding_mode, device="meta", dtype=like.dtype,
        )
        conv = conv.to_empty(device=like.device)
        with torch.no_grad():
            conv.weight.copy_(self.weight)
            if self.bias is not None and conv.bias is not None:
                conv.bias.copy_(self.bias)
        return conv.train(self.training)

    # -- state ----------------------------------------------------------------------------
    def _config(self) -> dict[str, Any]:
        return layer_state(self._cfg, self._provenance)

    def get_extra_state(self) -> dict[str, Any]:
        """The layer's configuration as plain values (stored in ``state_dict``)."""
        return self._config()

    def set_extra_state(self, state: Any) -> None:
        """Check a loaded configuration against this layer (ConfigError on mismatch)."""
        check_extra_state(self._config(), state)
        self._cache.clear()

    def extra_repr(self) -> str:
        """``nn.ConvNd``'s summary plus the mosaic and non-default options."""
        nd = self._ndim
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0,) * nd:
            s += f", padding={self.padding!r}"
        if self.dilation != (1,) * nd:
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode!r}"
        s += ", families={" + ", ".join(f"{b.name!r}: {b.count}" for b in self.mosaic) + "}"
        if self.discretization != "sample":
            s += f", discretization={self.discretization!r}, quadrature={self.quadrature}"
        if self.share_akps:
            s += ", share_akps=True"
        if any(not block.has_gain for block in self.analytic):
            s += ", gain=False"
        if self.gain_rank is not None:
            s += f", gain_rank={self.gain_rank}"
        own = {n: f.normalize for n, f in self.kernel_families.items()}
        if self.normalize_modes != own:
            s += f", normalize={self.normalize_modes!r}"
        if not self.check_finite:
            s += ", check_finite=False"
        if self._path != "auto":
            s += f", path={self._path!r}"
        return s


def _missing(name: str) -> CompiledFactors:
    raise ConfigError(f"family {name!r} has no separable factors")  # unreachable: planned


class _PathState:
    """Per-layer memo of the separable factors, plans and row layouts (never in the state).

    A plain attribute like the bank cache: copies and pickles start empty (the factors hold
    generated functions, which do not pickle; they are found again on first use).
    """

    __slots__ = ("factors", "layouts", "plans")

    def __init__(self) -> None:
        self.factors: dict[str, CompiledFactors | None] | None = None
        self.plans: dict[tuple[Any, ...], Plan] = {}
        self.layouts: dict[tuple[int, ...], RowLayout] = {}

    def __getstate__(self) -> dict[str, Any]:
        return {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__()  # type: ignore[misc]

    def __deepcopy__(self, memo: dict[int, Any]) -> _PathState:
        return _PathState()


class AnalyticConv1d(AnalyticConvNd):
    """Drop-in ``nn.Conv1d`` whose kernels are a mosaic of 1-D analytic families (``x``)."""

    _ndim = 1


class AnalyticConv2d(AnalyticConvNd):
    """Drop-in ``nn.Conv2d`` whose kernels are a mosaic of 2-D analytic families (``x, y``)."""

    _ndim = 2


class AnalyticConv3d(AnalyticConvNd):
    """Drop-in ``nn.Conv3d``: a mosaic of 3-D analytic families (``x, y, z``)."""

    _ndim = 3
