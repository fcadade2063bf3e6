"""The mosaic: which output channels of a layer use which family (or free kernels).

Rules (documented in ``docs/layer.md``):

* ``families="gabor"`` (a name or a :class:`~aclcore.symbolic.family.KernelFamily`): every output
  channel uses that family; ``"free"`` means ordinary learned kernels.
* A mapping assigns contiguous blocks of output channels **in the mapping's order**.
  Values are either all ints (exact counts, which must sum to ``out_channels``) or all
  floats (fractions, which must sum to 1). Fractions are turned into counts by the
  largest-remainder method: every entry gets ``floor(fraction * out_channels)``, and the
  channels left over go one each to the entries with the largest remainders, ties going to
  the earlier entry. Entries with a count of 0 are dropped.
* Keys are family names (looked up in the registry), ``KernelFamily`` objects (used as
  given), or ``"free"``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TypeAlias

from aclcore.errors import ConfigError
from aclcore.plugins.registry import get_family
from aclcore.symbolic.family import KernelFamily

__all__ = ["FREE", "FamiliesSpec", "MosaicBlock", "resolve_mosaic", "split_fractions"]

#: The reserved name of ordinary (free) kernels in a mosaic.
FREE = "free"

#: What ``families=`` accepts: a name, a family, or a mapping of those to counts/fractions.
FamiliesSpec: TypeAlias = str | KernelFamily | Mapping[str | KernelFamily, int | float]

_AXES = ("x", "y", "z")


@dataclass(frozen=True)
class MosaicBlock:
    """A contiguous block of output channels ``[start, start + count)`` of one kind.

    Attributes:
        name: the family name, or ``"free"``.
        family: the resolved :class:`~aclcore.symbolic.family.KernelFamily` (``None`` for free).
        start: the first output channel of the block.
        count: the number of output channels.
    """

    name: str
    family: KernelFamily | None
    start: int
    count: int

    @property
    def stop(self) -> int:
        """One past the last output channel of the block."""
        return self.start + self.count

    @property
    def is_free(self) -> bool:
        """Whether the block holds ordinary learned kernels."""
        return self.family is None


def split_fractions(fractions: Sequence[float], total: int) -> list[int]:
    """Counts summing to ``total`` by the largest-remainder method (ties: earlier entry)."""
    quotas = [round(f * total, 9) for f in fractions]
    counts = [math.floor(q) for q in quotas]
    left = total - sum(counts)
    order = sorted(range(len(quotas)), key=lambda i: (-(quotas[i] - counts[i]), i))
    for i in order[:left]:
        counts[i] += 1
    return counts


def _resolve_family(key: object, ndim: int, layer: str) -> tuple[str, KernelFamily | None]:
    if isinstance(key, KernelFamily):
        family = key
    elif isinstance(key, str):
        if key == FREE:
            return FREE, None
        family = get_family(key)  # UnknownFamilyError lists close names and plugins
    else:
        raise ConfigError(
            f"{layer}: families keys must be family names, KernelFamily objects or 'free', "
            f"got {key!r}"
        )
    if family.ndim != ndim:
        want = ", ".join(_AXES[:ndim])
        raise ConfigError(
            f"{layer}: family {family.name!r} has {family.ndim} coordinate(s) "
            f"{family.coord_names} but a {ndim}-D layer needs {ndim} ({want}); use a "
            f"{ndim}-D family or AnalyticConv{family.ndim}d"
        )
    return family.name, family


def _check_value(name: str, value: object, layer: str) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ConfigError(
            f"{layer}: families[{name!r}] must be a channel count (int) or a fraction "
            f"(float), got {value!r}"
        )
    if not math.isfinite(float(value)) or value < 0:
        raise ConfigError(
            f"{layer}: families[{name!r}] = {value!r} must be a finite number >= 0"
        )


def resolve_mosaic(
    spec: FamiliesSpec, out_channels: int, ndim: int, layer: str = "AnalyticConv"
) -> tuple[MosaicBlock, ...]:
    """Resolve a ``families=`` argument into blocks of output channels (see module doc).

    Raises:
        UnknownFamilyError: a name is not registered (lists close names and plugins).
        ConfigError: counts that do not sum to ``out_channels``, fractions that do not sum
            to 1, mixed counts and fractions, duplicate families, a family of the wrong
            dimension, or an unusable key/value.
    """
    items: list[tuple[object, object]]
    if isinstance(spec, (str, KernelFamily)):
        items = [(spec, out_channels)]
    elif isinstance(spec, Mapping):
        items = list(spec.items())
    else:
        raise ConfigError(
            f"{layer}: families must be a family name, a KernelFamily, or a mapping "
            f"name -> count or fraction (e.g. {{'gabor': 48, 'free': 16}}), got {spec!r}"
        )
    if not items:
        raise ConfigError(f"{layer}: families is empty; name at least one family or 'free'")
    resolved: list[tuple[str, KernelFamily | None]] = []
    for key, value in items:
        name, family = _resolve_family(key, ndim, layer)
        if any(n == name for n, _ in resolved):
            raise ConfigError(
                f"{layer}: family {name!r} appears twice in families; merge the entries"
            )
        _check_value(name, value, layer)
        resolved.append((name, family))
    values = [v for _, v in items]
    ints = [isinstance(v, numbers.Integral) for v in values]
    table = ", ".join(f"{n!r}: {v!r}" for (n, _), v in zip(resolved, values, strict=True))
    if all(ints):
        counts = [int(v) for v in values]  # type: ignore[call-overload]
        if sum(counts) != out_channels:
            raise ConfigError(
                f"{layer}: channel counts {{{table}}} sum to {sum(counts)}, but "
                f"out_channels is {out_channels}; change the counts so they sum to "
                f"{out_channels}, or give fractions (floats) that sum to 1"
            )
    elif not any(ints):
        fractions = [float(v) for v in values]  # type: ignore[arg-type]
        if abs(sum(fractions) - 1.0) > 1e-6:
            raise ConfigError(
                f"{layer}: fractions {{{table}}} sum to {sum(fractions):g}, not 1; change "
                "them so they sum to 1, or give exact channel counts (ints)"
            )
        counts = split_fractions(fractions, out_channels)
    else:
        raise ConfigError(
            f"{layer}: families {{{table}}} mixes counts (ints) and fractions (floats); use "
            "only counts (summing to out_channels) or only fractions (summing to 1)"
        )
    blocks = []
    start = 0
    for (name, family), count in zip(resolved, counts, strict=True):
        if count:
            blocks.append(MosaicBlock(name, family, start, count))
            start += count
    if not blocks:
        raise ConfigError(f"{layer}: families assigns no channel (out_channels is 0?)")
    return tuple(blocks)
