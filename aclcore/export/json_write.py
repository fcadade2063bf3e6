"""Writing the JSON export format (version 1); reading it back is :mod:`aclcore.export.json_read`.

Private helper of :mod:`aclcore.export`. The document is self-contained: every family's formula
is written with :func:`aclcore.symbolic.parse.formula_to_string` (the safe parser reads it back
with the identical SymPy ``srepr``), and every tensor of the layers' ``state_dict`` (raw AKPs,
gains, free kernels, bias) is written as nested lists of floats at full precision (Python's
shortest round-trip ``repr`` of the float64 value, which is exact for float32/16 values too).
Per-kernel AKP values and formula strings are included for readers; the rebuild only uses the
configuration, the family definitions and the tensors. The layout is documented in
``docs/export.md``."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import sympy as sp
import torch

from aclcore.errors import ExportError
from aclcore.export.collect import (
    FamilyInfo,
    KernelFormula,
    LayerFormulas,
    collect,
    formula_text,
    functions_for,
)
from aclcore.export.schema import FORMAT, VERSION
from aclcore.version import __version__

__all__ = ["layer_document", "to_json"]


# an array of numbers, literals and simple names is written on one line
_SIMPLE_NAME = re.compile(r"[A-Za-z0-9_.:]*")


def _family_block(info: FamilyInfo, where: str) -> dict[str, Any]:
    fam = info.family
    _, functions = functions_for(fam.sympy_expr)
    return {
        "name": fam.name,
        "expr": formula_text(fam.sympy_expr, where),
        "coords": list(fam.coord_names),
        "params": [p.to_json() for p in fam.params],
        "description": fam.description,
        "normalize": fam.normalize,
        "symmetries": list(fam.symmetries),
        "constant_along": [str(c) for c in fam.constant_along],
        "functions": functions,
        "provenance": dict(info.provenance),
        "fingerprint": info.fingerprint,
        "latex": sp.latex(fam.sympy_expr),
        "singularities": [
            {"at": list(coords), "limit": formula_text(limit, where)}
            for coords, limit in info.singularities
        ],
    }


def _tensor(t: torch.Tensor, where: str) -> dict[str, Any]:
    t = t.detach().to("cpu")
    if not bool(torch.isfinite(t).all()):
        raise ExportError(f"{where} contains NaN or infinite values; JSON cannot hold them "
                          "(fix or retrain the model before exporting)")
    return {"dtype": str(t.dtype).removeprefix("torch."), "shape": list(t.shape),
            "data": t.double().tolist()}


def _kernel_entry(k: KernelFormula, where: str) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "out": k.out_channel, "in": k.in_channel, "family": k.family, "akps": k.akps,
    }
    if k.wrapped:
        entry["wrapped"] = k.wrapped
    entry.update(gain=k.gain, scale=k.scale, offset=k.offset,
                 formula=formula_text(k.formula, where))
    return entry


def layer_document(lf: LayerFormulas, *, kernels: bool) -> dict[str, Any]:
    """The document entry of one layer."""
    where = f"layer {lf.path or type(lf.layer).__name__!r}"
    state = {k: v for k, v in lf.layer.state_dict().items() if isinstance(v, torch.Tensor)}
    doc: dict[str, Any] = {
        "path": lf.path,
        "class": lf.class_name,
        "config": lf.config,
        "families": [_family_block(f, f"{where}, family {f.name!r}") for f in lf.families],
        "tensors": {name: _tensor(t, f"{where}, tensor {name!r}") for name, t in state.items()},
        "statement": lf.statement,
    }
    if lf.quadrature_rule is not None:
        nodes, weights = lf.quadrature_rule
        doc["quadrature_rule"] = {"nodes": nodes, "weights": weights}
    if kernels:
        doc["kernels"] = [_kernel_entry(k, f"{where}, kernel ({k.out_channel}, "
                                           f"{k.in_channel})") for k in lf.kernels]
    return doc


def to_json(obj: object, *, indent: int | None = 1, kernels: bool = True) -> str:
    """The export document of a layer or model as JSON text (see :func:`aclcore.export.to_json`)."""
    root, layers = collect(obj)
    module = getattr(obj, "module", obj)
    doc: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "aclcore_version": __version__,
        "root": root,
        "model": type(module).__name__,
        "layers": [layer_document(lf, kernels=kernels) for lf in layers],
    }
    if indent is None:
        return json.dumps(doc, separators=(",", ":"), allow_nan=False)
    # structure indented, tensor data and per-kernel entries on one line each
    token = f"@@aclcore-{uuid.uuid4().hex}-"
    compact: list[str] = []

    def stash(value: Any) -> str:
        compact.append(json.dumps(value, separators=(",", ":"), allow_nan=False))
        return f"{token}{len(compact) - 1}@@"

    for layer in doc["layers"]:
        for spec in layer["tensors"].values():
            spec["data"] = stash(spec["data"])
        if "kernels" in layer:
            layer["kernels"] = [stash(entry) for entry in layer["kernels"]]
    text = json.dumps(_short_arrays(doc, compact, token), indent=indent, allow_nan=False)
    pattern = re.compile(f'"{re.escape(token)}([0-9]+)@@"')
    return pattern.sub(lambda m: compact[int(m.group(1))], text)


def _is_short_item(value: Any) -> bool:
    if isinstance(value, str):
        return _SIMPLE_NAME.fullmatch(value) is not None
    return value is None or isinstance(value, (bool, int, float))


def _short_arrays(node: Any, compact: list[str], token: str) -> Any:
    """``node`` with every array of numbers, literals and simple names stashed in ``compact``.

    The arrays are replaced structurally (never by rewriting the serialised text), so the
    contents of strings are written exactly as they are.
    """
    if isinstance(node, dict):
        return {key: _short_arrays(value, compact, token) for key, value in node.items()}
    if isinstance(node, (list, tuple)):
        if node and all(_is_short_item(item) for item in node):
            compact.append(json.dumps(list(node), separators=(", ", ":"), allow_nan=False))
            return f"{token}{len(compact) - 1}@@"
        return [_short_arrays(item, compact, token) for item in node]
    return node
