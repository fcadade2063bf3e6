"""The extra state of an analytic layer: its configuration as plain values.

``state_dict()`` carries, under ``<prefix>_extra_state``, a dict of str/int/bool/None/lists
only (so ``torch.load(weights_only=True)`` reads it): the aclcore format version, the layer's
shape and convolution options (stride, padding and padding mode are recorded so that a layer
can be rebuilt from a state dict alone, but not checked on load, like ``nn.ConvNd``), the
mosaic (family names and channel counts in order) and, per family, its AKP names,
normalisation, a fingerprint of its formula and where it came from (plugin, distribution,
version) when the registry knows. Loading checks it against the layer:
a different configuration raises :class:`~aclcore.errors.ConfigError` naming the family or
option; a family whose formula changed (same name, different fingerprint) only warns.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aclcore.errors import ConfigError
from aclcore.plugins.provenance import record_text
from aclcore.plugins.registry import current_registry
from aclcore.symbolic.family import KernelFamily
from aclcore.version import __version__

if TYPE_CHECKING:
    from aclcore.nn.config import LayerConfig

__all__ = ["FORMAT", "check_extra_state", "family_fingerprint", "layer_state", "provenance"]

#: Version of the extra-state layout; bumped on incompatible changes.
FORMAT = 1

_SHAPE_KEYS = ("layer", "in_channels", "out_channels", "kernel_size", "dilation", "groups")
_OPTION_KEYS = ("discretization", "quadrature", "share_akps", "gain", "gain_rank")


def family_fingerprint(family: KernelFamily) -> str:
    """A short hash of a family's formula, coordinates and AKPs (names and constraints)."""
    import sympy as sp

    parts = [
        sp.srepr(family.sympy_expr),
        repr(family.coord_names),
        repr([(p.name, p.constraint_obj.to_json()) for p in family.params]),
    ]
    return hashlib.sha1("\n".join(parts).encode()).hexdigest()[:16]


def provenance(family: KernelFamily, *, look_up: bool) -> dict[str, str | None]:
    """``provider``, ``distribution`` and ``version`` of ``family`` from the registry.

    With ``look_up=False`` the registry is consulted only if it has already loaded its
    plugins (so that building a layer from a ``KernelFamily`` object never loads plugins).
    """
    unknown: dict[str, str | None] = {"provider": None, "distribution": None, "version": None}
    registry = current_registry()
    if not look_up and not registry.loaded:
        return unknown
    record = registry.records().get(family.name)
    if record is None or record.family != family:
        return unknown
    return {
        "provider": record.provider,
        "distribution": record.distribution,
        "version": record.version,
    }


def _mosaic(state: Mapping[str, Any]) -> list[tuple[str, int]]:
    return [(str(f.get("name")), int(f.get("count", -1))) for f in state.get("families", [])]


def _check_keys(layer: str, saved: Mapping[str, Any], expected: Mapping[str, Any],
                keys: tuple[str, ...]) -> None:
    for key in keys:
        if saved.get(key) != expected[key]:
            raise ConfigError(
                f"{layer}: the checkpoint was saved with {key}={saved.get(key)!r}, this layer "
                f"has {key}={expected[key]!r}; build the layer with {key}="
                f"{saved.get(key)!r} to load it"
            )


def check_extra_state(expected: Mapping[str, Any], saved: object) -> None:
    """Raise :class:`ConfigError` where ``saved`` does not describe the layer ``expected``."""
    layer = expected["layer"]
    if not isinstance(saved, Mapping) or "aclcore_format" not in saved:
        raise ConfigError(
            f"{layer}: the checkpoint's extra state {type(saved).__name__} is not an aclcore "
            "layer state; load a state_dict saved from an aclcore analytic layer"
        )
    if not isinstance(saved["aclcore_format"], int) or saved["aclcore_format"] > FORMAT:
        raise ConfigError(
            f"{layer}: the checkpoint uses layer-state format {saved['aclcore_format']!r}, "
            f"newer than this aclcore ({FORMAT}); upgrade aclcore"
        )
    _check_keys(layer, saved, expected, _SHAPE_KEYS)
    have, want = _mosaic(saved), _mosaic(expected)
    if have != want:
        names = [n for n, _ in have]
        for name, count in want:
            if name not in names:
                detail = f"family {name!r} ({count} channels) is not in the checkpoint"
                break
            if (name, count) not in have:
                saved_count = dict(have)[name]
                detail = (
                    f"family {name!r} has {saved_count} channels in the checkpoint but "
                    f"{count} here"
                )
                break
        else:
            extra = [n for n in names if n not in dict(want)]
            detail = (
                f"family {extra[0]!r} is in the checkpoint but not in this layer"
                if extra else "the families are in a different order"
            )
        mapping = "{" + ", ".join(f"{n!r}: {c}" for n, c in have) + "}"
        raise ConfigError(
            f"{layer}: the checkpoint's mosaic differs: {detail}; build the layer with "
            f"families={mapping} to load it"
        )
    _check_keys(layer, saved, expected, _OPTION_KEYS)
    for old, new in zip(saved["families"], expected["families"], strict=True):
        name = new["name"]
        for key in ("akps", "normalize"):
            if old.get(key) != new.get(key):
                raise ConfigError(
                    f"{layer}: family {name!r} has {key}={old.get(key)!r} in the checkpoint "
                    f"but {key}={new.get(key)!r} here; use the family definition (and "
                    "normalize option) the checkpoint was trained with"
                )
        if old.get("fingerprint") != new.get("fingerprint"):
            warnings.warn(
                f"{layer}: family {name!r} from {record_text(new)} has a different formula than "
                f"the one the checkpoint was trained with (from {record_text(old)}); the loaded "
                "AKPs may mean something else",
                UserWarning,
                stacklevel=4,
            )


def layer_state(
    config: LayerConfig, provenances: Mapping[str, Mapping[str, str | None]]
) -> dict[str, Any]:
    """The extra state of a layer with this configuration (plain values only)."""
    families: list[dict[str, Any]] = []
    for b in config.mosaic:
        entry: dict[str, Any] = {"name": b.name, "count": b.count}
        if b.family is not None:
            entry.update(
                akps=list(b.family.param_names),
                normalize=config.normalize[b.name],
                fingerprint=family_fingerprint(b.family),
                **provenances[b.name],
            )
        families.append(entry)
    return {
        "aclcore_format": FORMAT,
        "aclcore_version": __version__,
        "layer": f"AnalyticConv{config.ndim}d",
        **config.options(),
        "families": families,
    }
