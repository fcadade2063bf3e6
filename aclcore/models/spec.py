"""How each convolution of a reference model is built: :class:`ConvSpec`, and its text form.

A reference model (:mod:`.lenet`, :mod:`.resnet`) names its convolutions (``conv1``,
``conv2`` ...) and takes one :class:`ConvSpec` per name, or one for all. A spec without
``families`` is a plain ``nn.Conv2d`` (the CNN); with ``families`` it is an
:class:`~aclcore.nn.AnalyticConv2d` of exactly the same shape: all-analytic (a family name,
or several families) or a mosaic with ``"free"`` kernels.

The text form (:func:`parse_families`, used by ``acl train --families``) is ``cnn`` (plain),
a family name (``gabor``), or comma-separated ``name:share`` entries with fractions
(``gabor:0.75,free:0.25``) or channel counts (``gabor:24,gaussian_d2:8``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from aclcore.errors import ConfigError
from aclcore.nn import AnalyticConv2d
from aclcore.nn.mosaic import FamiliesSpec
from aclcore.symbolic.family import KernelFamily

__all__ = ["PLAIN", "PLAIN_NAMES", "ConvSpec", "LayerSpecs", "families_text", "parse_families",
           "resolve_specs", "spec_from_dict"]

#: Words that mean "a plain convolution" in the text form.
PLAIN_NAMES = ("cnn", "plain", "none")


@dataclass(frozen=True)
class ConvSpec:
    """How to build one convolution.

    Attributes:
        families: ``None`` for a plain ``nn.Conv2d``; otherwise the ``families=`` argument of
            :class:`~aclcore.nn.AnalyticConv2d` (a name, a family, or a mosaic mapping).
        share_akps: one AKP set per output channel (see the layer).
        gain_rank: factorised gains of that rank (see the layer); ``None``: one per kernel.
        options: any other keyword arguments of the analytic layer (``normalize``,
            ``discretization`` ...).
    """

    families: FamiliesSpec | None = None
    share_akps: bool = False
    gain_rank: int | None = None
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def analytic(self) -> bool:
        """Whether this builds an analytic layer."""
        return self.families is not None

    def build(self, in_channels: int, out_channels: int, kernel_size: int, *, stride: int = 1,
              padding: int = 0, bias: bool = True) -> nn.Module:
        """The convolution: ``nn.Conv2d`` or an ``AnalyticConv2d`` of the same shape."""
        if self.families is None:
            return nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride,
                             padding=padding, bias=bias)
        return AnalyticConv2d(in_channels, out_channels, kernel_size, stride=stride,
                              padding=padding, bias=bias, families=self.families,
                              share_akps=self.share_akps, gain_rank=self.gain_rank,
                              **dict(self.options))

    def describe(self) -> dict[str, Any]:
        """Plain values (for run records): the families as text and the options."""
        out: dict[str, Any] = {"families": families_text(self.families)}
        if self.families is not None:
            out.update(share_akps=self.share_akps, gain_rank=self.gain_rank)
            out.update({k: v for k, v in self.options.items()
                        if isinstance(v, (str, int, float, bool))})
        return out


#: The plain convolution.
PLAIN = ConvSpec()

#: One spec for every convolution, a list in the model's order, or a mapping by name.
LayerSpecs = ConvSpec | Sequence[ConvSpec] | Mapping[str, ConvSpec]


def resolve_specs(specs: LayerSpecs, names: Sequence[str], model: str) -> dict[str, ConvSpec]:
    """One spec per convolution name; a mapping may leave names out (they stay plain).

    Raises:
        ConfigError: a list of the wrong length or a mapping naming an unknown convolution.
    """
    if isinstance(specs, ConvSpec):
        return dict.fromkeys(names, specs)
    if isinstance(specs, Mapping):
        unknown = [n for n in specs if n not in names]
        if unknown:
            raise ConfigError(f"{model}: no convolution named {unknown[0]!r}; its convolutions "
                              f"are {', '.join(names)}")
        return {n: specs.get(n, PLAIN) for n in names}
    items = list(specs)
    if len(items) != len(names) or not all(isinstance(s, ConvSpec) for s in items):
        raise ConfigError(f"{model}: give one ConvSpec per convolution ({len(names)}: "
                          f"{', '.join(names)}), got {len(items)}")
    return dict(zip(names, items, strict=True))


def _number(text: str, entry: str) -> int | float:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"families entry {entry!r}: {text!r} is not a count or a "
                          "fraction") from None
    if not 0.0 < value <= 1.0:
        raise ConfigError(f"families entry {entry!r}: a fraction must be in (0, 1]")
    return value


def parse_families(text: str) -> FamiliesSpec | None:
    """The ``families=`` value of a text spec (``None`` for a plain convolution).

    ``cnn`` -> ``None``; ``gabor`` -> ``"gabor"``; ``gabor:0.75,free:0.25`` ->
    ``{"gabor": 0.75, "free": 0.25}``; ``gabor:24,log:8`` -> ``{"gabor": 24, "log": 8}``.

    Raises:
        ConfigError: an empty entry, a repeated name, a malformed share, or counts mixed with
            fractions.
    """
    spec = text.strip()
    if not spec:
        raise ConfigError("an empty families spec: give cnn, a family name, or name:share "
                          "entries such as gabor:0.5,free:0.5")
    if spec.lower() in PLAIN_NAMES:
        return None
    if ":" not in spec and "," not in spec:
        return spec
    out: dict[str | KernelFamily, int | float] = {}
    for entry in (e.strip() for e in spec.split(",")):
        name, sep, share = entry.partition(":")
        name = name.strip()
        if not name or not sep:
            raise ConfigError(f"families entry {entry!r} must be name:share (e.g. gabor:0.5 "
                              "or gabor:24)")
        if name in out:
            raise ConfigError(f"families spec {text!r} names {name!r} twice")
        out[name] = _number(share.strip(), entry)
    if len({type(v) for v in out.values()}) > 1:
        raise ConfigError(f"families spec {text!r} mixes channel counts and fractions; use "
                          "one kind")
    return out


def families_text(families: FamiliesSpec | None) -> str:
    """The text form of a ``families=`` value (inverse of :func:`parse_families`)."""
    if families is None:
        return "cnn"
    if isinstance(families, str):
        return families
    if isinstance(families, KernelFamily):
        return families.name
    parts = []
    for key, share in families.items():
        name = key.name if isinstance(key, KernelFamily) else str(key)
        parts.append(f"{name}:{share:g}" if isinstance(share, float) else f"{name}:{share}")
    return ",".join(parts)


def spec_from_dict(data: Mapping[str, Any]) -> ConvSpec:
    """The inverse of :meth:`ConvSpec.describe` (for specs whose families are given by name).

    Raises:
        ConfigError: missing ``families`` or malformed values.
    """
    if not isinstance(data, Mapping) or not isinstance(data.get("families"), str):
        raise ConfigError(f"a convolution spec needs a 'families' text, got {data!r}")
    families = parse_families(data["families"])
    if families is None:
        return PLAIN
    rest = {k: v for k, v in data.items() if k not in ("families", "share_akps", "gain_rank")}
    rank = data.get("gain_rank")
    if rank is not None and (isinstance(rank, bool) or not isinstance(rank, int)):
        raise ConfigError(f"gain_rank must be an int or null, got {rank!r}")
    return ConvSpec(families, share_akps=bool(data.get("share_akps", False)), gain_rank=rank,
                    options=rest)
