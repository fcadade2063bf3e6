"""Rebuilding analytic layers from a plain ``state_dict`` (no embedded formulas).

Private helper of :mod:`aclcore.export.checkpoint`. Every analytic layer stores its configuration
under ``<prefix>_extra_state`` (see :mod:`aclcore.nn.state`): the mosaic's family *names*,
not their formulas. The families are therefore looked up in the registry; a family that is
not installed raises :class:`~aclcore.errors.UnknownFamilyError` naming the family and the
plugin and distribution that provided it when the checkpoint was written. The extra state
comes from an untrusted file: it is validated field by field before anything is built.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from aclcore.errors import ConfigError, UnknownFamilyError
from aclcore.export.rebuild import CLASSES, bounded, build_layer, check_sizes, read_options
from aclcore.export.schema import DTYPES, ExportLimits, Reader
from aclcore.nn.config import CONFIG_FIELDS, OPTIONAL_FIELDS
from aclcore.nn.layers import AnalyticConvNd
from aclcore.nn.state import FORMAT
from aclcore.plugins.provenance import record_text
from aclcore.plugins.registry import get_family
from aclcore.symbolic.family import NORMALIZATIONS, KernelFamily

__all__ = ["layers_from_state_dict"]

_SUFFIX = "_extra_state"
#: Keys of a layer state written since format 1 (``stride``, ``padding`` and ``padding_mode``
#: came later: states without them load with nn.ConvNd's defaults; the later options of
#: ``OPTIONAL_FIELDS`` with the defaults given there).
_OPTIONAL = ("aclcore_version", "stride", "padding", "padding_mode", *OPTIONAL_FIELDS)
_KEYS = ("aclcore_format", "layer", *(name for name, _ in CONFIG_FIELDS if name not in _OPTIONAL),
         "families")
_FAMILY_KEYS = ("akps", "normalize", "fingerprint", "provider", "distribution", "version")


def _where(source: Mapping[str, Any]) -> str:
    if not source.get("provider"):
        return ("an unknown source (registered in-process or passed as a KernelFamily "
                "object when the checkpoint was saved)")
    text = record_text(source)
    dist = source.get("distribution")
    return f"{text}; install it (pip install {dist})" if dist else text


def _tensor_problem(value: object) -> str | None:
    """Why ``value`` cannot be a layer's tensor (None when it can)."""
    if not isinstance(value, torch.Tensor) or value.dtype not in DTYPES.values():
        return "expected a floating-point tensor"
    if value.layout != torch.strided:
        return (f"expected a dense tensor, got layout {value.layout} (convert it with "
                ".to_dense() before saving)")
    if value.device.type != "cpu":
        return (f"expected a tensor with data, got one on the {value.device.type!r} device "
                "(save the trained model's state_dict, not a meta or placeholder tensor)")
    return None


def _lookup(name: str, entry: Mapping[str, Any], path: str) -> KernelFamily:
    try:
        return get_family(name)
    except UnknownFamilyError as err:
        raise UnknownFamilyError(
            f"{path}: the checkpoint uses the kernel family {name!r}, which is not installed; "
            f"it came from {_where(entry)}. A plain state_dict stores family names, not "
            "formulas: load an aclcore checkpoint (save_checkpoint) or a JSON export "
            f"(to_json), which embed the formulas. ({err})"
        ) from err


def _config(r: Reader, state: object, path: str) -> tuple[type[AnalyticConvNd], dict[str, Any],
                                                          list[dict[str, Any]]]:
    lim = r.limits
    s = r.obj(state, path, _KEYS, _OPTIONAL)
    fmt = r.integer(s["aclcore_format"], f"{path}.aclcore_format", 1, 10**6)
    if fmt > FORMAT:
        r.fail(f"{path}.aclcore_format", f"layer-state format {fmt} is newer than this "
                                         f"aclcore ({FORMAT}); upgrade aclcore")
    cls = CLASSES[r.string(s["layer"], f"{path}.layer", choices=tuple(CLASSES))]
    nd = cls._ndim
    defaults = {"stride": [1] * nd, "padding": [0] * nd, "padding_mode": "zeros"}
    cfg = read_options(r, s, path, nd, defaults)
    entries = []
    for i, item in enumerate(r.array(s["families"], f"{path}.families", min_len=1,
                                     max_len=lim.max_families)):
        where = f"{path}.families[{i}]"
        e = r.obj(item, where, ("name", "count"), _FAMILY_KEYS)
        entry = {"name": r.string(e["name"], f"{where}.name", max_len=64),
                 "count": r.integer(e["count"], f"{where}.count", 1, lim.max_channels)}
        for key in ("fingerprint", "provider", "distribution", "version"):
            entry[key] = r.opt_string(e.get(key), f"{where}.{key}")
        if "normalize" in e:
            entry["normalize"] = r.string(e["normalize"], f"{where}.normalize",
                                          choices=NORMALIZATIONS)
        if "akps" in e:
            entry["akps"] = r.strings(e["akps"], f"{where}.akps", max_len=lim.max_params)
        entries.append(entry)
    cfg["mosaic"] = [(e["name"], e["count"]) for e in entries]
    cfg["normalize"] = {e["name"]: e["normalize"] for e in entries if "normalize" in e}
    check_sizes(r, cfg, path)
    return cls, cfg, entries


def layers_from_state_dict(state_dict: object, *, limits: ExportLimits | None = None,
                           where: str = "state_dict") -> tuple[str, list[tuple[str,
                                                                               AnalyticConvNd]]]:
    """Rebuild every analytic layer of a plain ``state_dict`` from its extra state.

    Returns ``("layer" | "model", [(path, layer), ...])``; ``"layer"`` when the state dict is
    that of a single layer. Families are looked up by name in the registry.

    Raises:
        UnknownFamilyError: a family is not installed (names it and its distribution).
        ExportError: the state dict is malformed (names the key and field).
        ConfigError: the installed family no longer matches the checkpoint (other AKPs).
    """
    r = Reader(limits or ExportLimits())
    if not isinstance(state_dict, Mapping) or not all(isinstance(k, str) for k in state_dict):
        r.fail(where, "expected a state dict (a mapping of names to tensors)")
    prefixes = sorted(
        key[: -len(_SUFFIX)] for key, value in state_dict.items()
        if (key == _SUFFIX or key.endswith("." + _SUFFIX))
        and isinstance(value, Mapping) and "aclcore_format" in value
    )
    if not prefixes:
        r.fail(where, "no aclcore analytic layer in this state dict (no '_extra_state' entry "
                      "with 'aclcore_format')")
    if len(prefixes) > r.limits.max_layers:
        r.fail(where, f"{len(prefixes)} layers (the limit is {r.limits.max_layers})")
    layers = []
    with bounded(r, f"the {where}"):
        for prefix in prefixes:
            layers.append(_state_layer(r, state_dict, prefix, where))
    root = "layer" if prefixes == [""] else "model"
    return root, layers


def _state_layer(r: Reader, state_dict: Mapping[str, Any], prefix: str, where: str
                 ) -> tuple[str, AnalyticConvNd]:
    """Rebuild the layer whose extra state is ``<prefix>_extra_state``."""
    path = prefix[:-1] if prefix else ""
    key = f"{where}[{prefix + _SUFFIX!r}]"
    cls, cfg, entries = _config(r, dict(state_dict[prefix + _SUFFIX]), key)
    tensors = {k[len(prefix):]: v for k, v in state_dict.items()
               if k.startswith(prefix) and k != prefix + _SUFFIX
               and "." + _SUFFIX not in "." + k[len(prefix):]}
    if prefix == "":  # a single layer: every key belongs to it
        tensors = {k: v for k, v in state_dict.items() if k != _SUFFIX}
    for name, value in tensors.items():
        problem = _tensor_problem(value)
        if problem:
            r.fail(f"{where}[{prefix + name!r}]", problem)
    dtypes = {v.dtype for v in tensors.values()}
    if len(dtypes) != 1:
        r.fail(key, f"the layer's tensors have {len(dtypes)} dtypes; expected one")
    cfg["dtype"] = str(dtypes.pop()).removeprefix("torch.")
    cfg["bias"] = "bias" in tensors
    cfg["check_finite"] = True
    families = {e["name"]: _lookup(e["name"], e, path or "layer")
                for e in entries if e["name"] != "free"}
    for e in entries:
        fam = families.get(e["name"])
        if fam is not None and "akps" in e and e["akps"] != list(fam.param_names):
            raise ConfigError(
                f"{path or 'layer'}: the installed family {fam.name!r} has AKPs "
                f"{list(fam.param_names)} but the checkpoint's has {e['akps']}; install "
                f"the version the checkpoint was trained with ({_where(e)})")
    layer = build_layer(cls, cfg, families, {k: v.detach().cpu() for k, v in
                                             tensors.items()}, path or "layer")
    try:  # checks the recorded configuration again and warns on changed formulas
        layer.set_extra_state(dict(state_dict[prefix + _SUFFIX]))
    except ConfigError as err:
        raise ConfigError(f"{path or 'layer'}: {err}") from err
    return path, layer
