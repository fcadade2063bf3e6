"""An analytic layer's configuration: validation of the constructor arguments and THE schema.

:class:`LayerConfig` is the validated configuration (every message names the layer class
and the offending argument, and says what to change). :data:`CONFIG_FIELDS` is the one schema
of the options a layer records: the layer state (``state_dict``'s extra state) and the JSON
export both write :meth:`LayerConfig.options` and both readers check the fields it lists.
:func:`check_path` validates the runtime option ``path``, which is deliberately not recorded
(how a layer convolves does not change what it computes).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import torch

from aclcore.errors import ConfigError
from aclcore.nn.functional import DISCRETIZATIONS, PADDING_MODES
from aclcore.nn.grid import as_int, normalize_size, quadrature_problem
from aclcore.nn.mosaic import FamiliesSpec, MosaicBlock, resolve_mosaic
from aclcore.symbolic.family import NORMALIZATIONS, KernelFamily, normalize_problem

__all__ = ["CONFIG_FIELDS", "OPTIONAL_FIELDS", "PATHS", "LayerConfig", "check_factory",
           "check_path"]

#: The values of the runtime option ``path`` (see :mod:`aclcore.nn.paths`).
PATHS = ("auto", "direct", "separable", "fft")

#: The recorded options of a layer, in order, with their kind: ``"count"`` (a positive int),
#: ``"sizes"`` (one positive int per spatial dimension), ``"padding"`` (``"same"``,
#: ``"valid"`` or one int >= 0 per dimension), ``"quadrature"``, ``"bool"``, ``"rank"``
#: (``None`` or a positive int), or a tuple of the allowed strings. Fields added after the
#: first release are in :data:`OPTIONAL_FIELDS`: readers of older documents and states use
#: the default given there.
CONFIG_FIELDS: tuple[tuple[str, str | tuple[str, ...]], ...] = (
    ("in_channels", "count"),
    ("out_channels", "count"),
    ("kernel_size", "sizes"),
    ("stride", "sizes"),
    ("padding", "padding"),
    ("dilation", "sizes"),
    ("groups", "count"),
    ("padding_mode", PADDING_MODES),
    ("discretization", DISCRETIZATIONS),
    ("quadrature", "quadrature"),
    ("share_akps", "bool"),
    ("gain", "bool"),
    ("gain_rank", "rank"),
)

#: Recorded options that older layer states and documents lack, with the value they mean.
OPTIONAL_FIELDS: dict[str, object] = {"gain_rank": None}


def _count(value: object, what: str, layer: str) -> int:
    count = as_int(value)
    if count is None or count < 1:
        raise ConfigError(f"{layer}: {what} must be a positive int, got {value!r}")
    return count


def _size(value: object, nd: int, what: str, layer: str) -> tuple[int, ...]:
    try:
        return normalize_size(value, nd, what)  # type: ignore[arg-type]
    except ConfigError as err:
        raise ConfigError(f"{layer}: {err}") from None


def _padding(
    value: object, nd: int, stride: tuple[int, ...], layer: str
) -> str | tuple[int, ...]:
    if isinstance(value, str):
        if value not in ("same", "valid"):
            raise ConfigError(
                f"{layer}: padding={value!r} is unknown: use 'same', 'valid' or ints >= 0"
            )
        if value == "same" and any(s != 1 for s in stride):
            raise ConfigError(
                f"{layer}: padding='same' is not supported with stride={stride} (as in "
                "nn.ConvNd); give an explicit padding or use stride=1"
            )
        return value
    items = (value,) * nd if as_int(value) is not None else value
    ints = [as_int(v) for v in items] if isinstance(items, Sequence) else []
    if len(ints) != nd or not all(v is not None and v >= 0 for v in ints):
        raise ConfigError(
            f"{layer}: padding must be 'same', 'valid', an int >= 0 or {nd} ints >= 0, "
            f"got {value!r}"
        )
    return tuple(ints)  # type: ignore[arg-type]


def _normalize(
    normalize: object, families: Mapping[str, KernelFamily], layer: str
) -> dict[str, str]:
    modes = {n: f.normalize for n, f in families.items()}
    if normalize is None:
        return modes
    given = {n: normalize for n in modes} if isinstance(normalize, str) else normalize
    if not isinstance(given, Mapping):
        raise ConfigError(
            f"{layer}: normalize must be None, one of {', '.join(NORMALIZATIONS)}, or a "
            f"mapping family name -> mode, got {normalize!r}"
        )
    for fam, mode in given.items():
        if fam not in modes:
            raise ConfigError(
                f"{layer}: normalize names {fam!r}, which is not an analytic family of this "
                f"layer ({', '.join(modes) or 'none'})"
            )
        if (problem := normalize_problem(mode)) is not None:
            raise ConfigError(f"{layer}: family {fam!r}: {problem}")
        modes[fam] = mode
    return modes


@dataclass(frozen=True)
class LayerConfig:
    """The validated configuration of an analytic layer (see ``AnalyticConvNd``)."""

    layer: str
    ndim: int
    in_channels: int
    out_channels: int
    kernel_size: tuple[int, ...]
    stride: tuple[int, ...]
    padding: str | tuple[int, ...]
    dilation: tuple[int, ...]
    groups: int
    padding_mode: str
    discretization: str
    quadrature: int
    share_akps: bool
    gain: bool
    gain_rank: int | None
    mosaic: tuple[MosaicBlock, ...]
    normalize: dict[str, str]

    def options(self) -> dict[str, Any]:
        """The :data:`CONFIG_FIELDS` as plain JSON values (tuples become lists)."""
        out: dict[str, Any] = {}
        for name, _ in CONFIG_FIELDS:
            value = getattr(self, name)
            out[name] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def build(
        cls,
        layer: str,
        ndim: int,
        in_channels: object,
        out_channels: object,
        kernel_size: object,
        stride: object,
        padding: object,
        dilation: object,
        groups: object,
        padding_mode: object,
        *,
        families: FamiliesSpec,
        discretization: object,
        quadrature: object,
        normalize: object,
        share_akps: bool,
        gain: bool,
        gain_rank: object = None,
    ) -> LayerConfig:
        """Validate everything; raise :class:`ConfigError` naming the first problem."""
        cin = _count(in_channels, "in_channels", layer)
        cout = _count(out_channels, "out_channels", layer)
        g = _count(groups, "groups", layer)
        for what, n in (("in_channels", cin), ("out_channels", cout)):
            if n % g:
                raise ConfigError(
                    f"{layer}: {what}={n} is not divisible by groups={g}; change one of them"
                )
        ksize = _size(kernel_size, ndim, "kernel_size", layer)
        strides = _size(stride, ndim, "stride", layer)
        dil = _size(dilation, ndim, "dilation", layer)
        pad = _padding(padding, ndim, strides, layer)
        if padding_mode not in PADDING_MODES:
            raise ConfigError(
                f"{layer}: padding_mode={padding_mode!r} is unknown: use one of "
                f"{', '.join(PADDING_MODES)}"
            )
        if discretization not in DISCRETIZATIONS:
            raise ConfigError(
                f"{layer}: discretization={discretization!r} is unknown: use 'sample' or "
                "'integrate'"
            )
        if (problem := quadrature_problem(quadrature)) is not None:
            raise ConfigError(f"{layer}: {problem}")
        if share_akps and not gain:
            raise ConfigError(
                f"{layer}: share_akps=True shares one AKP set across the inputs and scales it "
                "per input with the gains; it needs gain=True"
            )
        rank = None if gain_rank is None else as_int(gain_rank)
        if gain_rank is not None and (rank is None or rank < 1):
            raise ConfigError(
                f"{layer}: gain_rank must be None (one gain per kernel) or a positive int "
                f"(gains factorised as an (out x rank) by (rank x in) product), got "
                f"{gain_rank!r}"
            )
        if rank is not None and not gain:
            raise ConfigError(
                f"{layer}: gain_rank={rank} factorises the per-kernel gains, but gain=False "
                "turns them off; drop gain_rank or set gain=True"
            )
        mosaic = resolve_mosaic(families, cout, ndim, layer)
        fams = {b.name: b.family for b in mosaic if b.family is not None}
        return cls(
            layer=layer, ndim=ndim, in_channels=cin, out_channels=cout, kernel_size=ksize,
            stride=strides, padding=pad, dilation=dil, groups=g,
            padding_mode=str(padding_mode), discretization=str(discretization),
            quadrature=cast(int, quadrature), share_akps=bool(share_akps),
            gain=bool(gain) and bool(fams),  # recorded as whether analytic kernels have gains
            gain_rank=rank if fams else None,
            mosaic=mosaic,
            normalize=_normalize(normalize, fams, layer),
        )


def _physical_memory() -> int | None:
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return None


def check_factory(cfg: LayerConfig, device: torch.device | str | None,
                  dtype: torch.dtype | None) -> None:
    """Refuse a non-floating ``dtype``, and a kernel bank that cannot fit in memory (CPU).

    Without the memory check an absurd ``kernel_size`` lets the operating system kill the process
    while the grid is sampled, instead of raising. The estimate is the bank itself (times
    the quadrature points per tap for ``"integrate"``), a lower bound of what sampling needs.
    """
    if dtype is not None and (not isinstance(dtype, torch.dtype) or not dtype.is_floating_point):
        raise ConfigError(
            f"{cfg.layer}: dtype={dtype!r} is not a floating-point dtype; use torch.float32, "
            "torch.float64, torch.float16 or torch.bfloat16"
        )
    dev = torch.empty(0, device=device).device
    if dev.type != "cpu":
        return
    itemsize = torch.empty(0, dtype=dtype).element_size()
    taps = math.prod(cfg.kernel_size)
    if cfg.discretization == "integrate":
        taps *= cfg.quadrature ** cfg.ndim
    need = cfg.out_channels * (cfg.in_channels // cfg.groups) * taps * itemsize
    have = _physical_memory()
    if have is not None and need > have:
        raise ConfigError(
            f"{cfg.layer}: the kernel bank of kernel_size={cfg.kernel_size} with "
            f"{cfg.out_channels} x {cfg.in_channels // cfg.groups} kernels needs at least "
            f"{need / 2**30:.3g} GiB, more than this machine's {have / 2**30:.3g} GiB; "
            "use a smaller kernel_size or fewer channels"
        )


def check_path(path: object, layer: str) -> str:
    """``path`` if it is one of :data:`PATHS`, else a :class:`ConfigError` naming the option.

    Whether ``"separable"`` suits the layer's families is checked by the layer, which knows
    them compiled.
    """
    if not isinstance(path, str) or path not in PATHS:
        raise ConfigError(
            f"{layer}: path={path!r} is unknown: use one of {', '.join(map(repr, PATHS))} "
            "('auto' lets the cost model choose; see docs/layer.md, 'Convolution paths')"
        )
    return path
