"""Rebuilding analytic layers from an export document (untrusted input, never evaluated).

Private helper of :mod:`aclcore.export`. Each layer entry is validated field by field
(:mod:`aclcore.export.schema`), its families are rebuilt from the embedded definitions (the
formula strings go through :func:`aclcore.symbolic.parse.parse_formula` only), and the layer
is built by :mod:`aclcore.export.rebuild`: on the ``meta`` device first (nothing allocated, no
random numbers drawn), then allocated and filled once the document's tensors match.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from typing import Any

from aclcore.errors import AclError, ExportError, ParseError
from aclcore.export.collect import functions_for
from aclcore.export.rebuild import CLASSES, bounded, build_layer, check_sizes, read_options
from aclcore.export.schema import DTYPES, FORMAT, VERSION, ExportLimits, Reader, load_json
from aclcore.nn.config import CONFIG_FIELDS, OPTIONAL_FIELDS
from aclcore.nn.layers import AnalyticConvNd
from aclcore.nn.state import family_fingerprint
from aclcore.plugins.provenance import record_text
from aclcore.plugins.registry import current_registry
from aclcore.symbolic.family import FAMILY_NAME, NORMALIZATIONS, SYMMETRIES, KernelFamily, Param
from aclcore.symbolic.parse import DEFAULT_FUNCTIONS, formula_to_string, parse_formula

__all__ = ["read_document", "warn_if_installed_differs"]

_PATH = re.compile(r"^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$")
_FAMILY_KEYS = ("name", "expr", "coords", "params", "description", "normalize", "symmetries",
                "constant_along", "functions", "provenance", "fingerprint")
_INFO_KEYS = ("latex", "singularities")
_CONFIG_KEYS = (*(name for name, _ in CONFIG_FIELDS if name not in OPTIONAL_FIELDS), "bias",
                "dtype", "check_finite", "mosaic", "normalize")


def warn_if_installed_differs(family: KernelFamily, prov: Mapping[str, Any], where: str) -> None:
    """Warn when the registry has a family of this name with a different definition."""
    try:
        record = current_registry().records().get(family.name)
    except AclError:  # a broken plugin setup: nothing installed to compare with
        return
    if record is None or family_fingerprint(record.family) == family_fingerprint(family):
        return
    try:
        mine, theirs = (formula_to_string(f.sympy_expr, functions=_table(f))
                        for f in (family, record.family))
    except ParseError:
        mine, theirs = str(family.sympy_expr), str(record.family.sympy_expr)
    warnings.warn(
        f"{where}: family {family.name!r} in the document (from {record_text(prov)}: {mine}; "
        f"AKPs {list(family.param_names)}) differs from the installed one (from "
        f"{record.source()}: {theirs}; AKPs {list(record.family.param_names)}); the rebuilt "
        "layer uses the document's definition, so it computes what the exported model did",
        UserWarning, stacklevel=5,
    )


def _table(family: KernelFamily) -> dict[str, Any]:
    return functions_for(family.sympy_expr)[0]


def _functions(r: Reader, value: object, path: str) -> dict[str, Any]:
    """The parser table for a family: defaults plus the listed plugin functions (installed)."""
    table: dict[str, Any] = dict(DEFAULT_FUNCTIONS)
    items = r.array(value, path, max_len=64)
    if not items:
        return table
    for i, item in enumerate(items):
        spec = r.obj(item, f"{path}[{i}]", ("name", "provider"))
        name = r.ident(spec["name"], f"{path}[{i}].name")
        provider = r.string(spec["provider"], f"{path}[{i}].provider", max_len=200)
        try:
            row = current_registry().functions().get(name)
        except AclError as err:
            raise ExportError(f"{path}[{i}]: cannot load plugins to find function "
                              f"{name!r}: {err}") from err
        if row is None:
            raise ExportError(
                f"{path}[{i}]: the formula uses the function {name!r} from {provider}, which "
                "is not installed; the document embeds formulas, not the implementations of "
                f"plugin functions: install the plugin that provides {name!r}"
            )
        table[name] = row.sympy
    return table


def _family(r: Reader, value: object, path: str, ndim: int) -> tuple[KernelFamily, dict[str, Any]]:
    lim = r.limits
    spec = r.obj(value, path, _FAMILY_KEYS, _INFO_KEYS)
    name = r.string(spec["name"], f"{path}.name", max_len=64, pattern=FAMILY_NAME)
    coords = r.strings(spec["coords"], f"{path}.coords", max_len=3)
    if len(coords) != ndim:
        r.fail(f"{path}.coords", f"{len(coords)} coordinates for a {ndim}-D layer")
    table = _functions(r, spec["functions"], f"{path}.functions")
    text = r.string(spec["expr"], f"{path}.expr", max_len=lim.max_formula_chars)
    try:
        expr = parse_formula(text, functions=table, max_length=lim.max_formula_chars)
    except ParseError as err:
        raise ExportError(f"{path}.expr: {err}") from err
    params = []
    for i, item in enumerate(r.array(spec["params"], f"{path}.params", max_len=lim.max_params)):
        where = f"{path}.params[{i}]"
        p = r.obj(item, where, ("name", "constraint", "init", "description"))
        pname = r.ident(p["name"], f"{where}.name")
        constraint: Any = p["constraint"]
        if isinstance(constraint, list):
            constraint = tuple(r.number(v, f"{where}.constraint[{j}]") for j, v in
                               enumerate(r.array(constraint, f"{where}.constraint",
                                                 min_len=2, max_len=2)))
        else:
            r.string(constraint, f"{where}.constraint", choices=("real", "positive", "angle"))
        init: Any = p["init"]
        if isinstance(init, list):
            init = tuple(r.number(v, f"{where}.init[{j}]") for j, v in
                         enumerate(r.array(init, f"{where}.init", min_len=2, max_len=2)))
        else:
            init = r.number(init, f"{where}.init")
        desc = r.string(p["description"], f"{where}.description")
        try:
            params.append(Param(pname, init=init, constraint=constraint, description=desc))
        except AclError as err:
            raise ExportError(f"{where}: {err}") from err
    normalize = r.string(spec["normalize"], f"{path}.normalize", choices=NORMALIZATIONS)
    symmetries = [r.string(s, f"{path}.symmetries[{i}]", max_len=16)
                  for i, s in enumerate(r.array(spec["symmetries"], f"{path}.symmetries",
                                                max_len=8))]
    for i, s in enumerate(symmetries):
        if s.partition(":")[0] not in SYMMETRIES:
            r.fail(f"{path}.symmetries[{i}]", f"unknown symmetry {s!r}")
    constant_along = r.strings(spec["constant_along"], f"{path}.constant_along", max_len=3)
    prov = r.obj(spec["provenance"], f"{path}.provenance",
                 ("provider", "distribution", "version"))
    provenance = {k: r.opt_string(prov[k], f"{path}.provenance.{k}") for k in prov}
    fingerprint = r.string(spec["fingerprint"], f"{path}.fingerprint", max_len=64)
    r.string(spec.get("latex", ""), f"{path}.latex")
    for i, item in enumerate(r.array(spec.get("singularities", []), f"{path}.singularities",
                                     max_len=8)):
        sing = r.obj(item, f"{path}.singularities[{i}]", ("at", "limit"))
        r.strings(sing["at"], f"{path}.singularities[{i}].at", max_len=3)
        r.string(sing["limit"], f"{path}.singularities[{i}].limit",
                 max_len=lim.max_formula_chars)
    try:
        family = KernelFamily(name, expr, coords, params,
                              description=r.string(spec["description"], f"{path}.description"),
                              normalize=normalize, constant_along=constant_along,
                              symmetries=symmetries)
    except AclError as err:
        raise ExportError(f"{path}: {err}") from err
    if family_fingerprint(family) != fingerprint:
        warnings.warn(f"{path}: the fingerprint {fingerprint!r} does not match the family's "
                      f"formula ({family_fingerprint(family)!r}): the document was edited or "
                      "written by another SymPy version; the formula is used as written",
                      UserWarning, stacklevel=5)
    return family, provenance


def _config(r: Reader, value: object, path: str, ndim: int) -> dict[str, Any]:
    lim = r.limits
    c = r.obj(value, path, _CONFIG_KEYS, OPTIONAL_FIELDS)
    out = read_options(r, c, path, ndim)
    for key in ("bias", "check_finite"):
        out[key] = r.boolean(c[key], f"{path}.{key}")
    out["dtype"] = r.string(c["dtype"], f"{path}.dtype", choices=tuple(DTYPES))
    mosaic: list[tuple[str, int]] = []
    for i, item in enumerate(r.array(c["mosaic"], f"{path}.mosaic", min_len=1,
                                     max_len=lim.max_families)):
        m = r.obj(item, f"{path}.mosaic[{i}]", ("family", "count"))
        name = r.string(m["family"], f"{path}.mosaic[{i}].family", max_len=64,
                        pattern=FAMILY_NAME)
        if any(name == n for n, _ in mosaic):
            r.fail(f"{path}.mosaic[{i}].family", f"{name!r} is given twice")
        mosaic.append((name, r.integer(m["count"], f"{path}.mosaic[{i}].count", 1,
                                       lim.max_channels)))
    out["mosaic"] = mosaic
    norm = r.obj(c["normalize"], f"{path}.normalize", (), [n for n, _ in mosaic])
    out["normalize"] = {k: r.string(v, f"{path}.normalize.{k}", choices=NORMALIZATIONS)
                        for k, v in norm.items()}
    check_sizes(r, out, path)
    return out


def _layer(r: Reader, value: object, path: str) -> tuple[str, AnalyticConvNd]:
    e = r.obj(value, path, ("path", "class", "config", "families", "tensors", "statement"),
              ("quadrature_rule", "kernels"))
    mpath = r.string(e["path"], f"{path}.path", max_len=1000)
    if mpath and not _PATH.match(mpath):
        r.fail(f"{path}.path", f"{mpath[:80]!r} is not a module path like 'features.0'")
    cls = CLASSES[r.string(e["class"], f"{path}.class", choices=tuple(CLASSES))]
    ndim = cls._ndim
    cfg = _config(r, e["config"], f"{path}.config", ndim)
    families: dict[str, KernelFamily] = {}
    provenances: dict[str, dict[str, Any]] = {}
    for i, item in enumerate(r.array(e["families"], f"{path}.families",
                                     max_len=r.limits.max_families)):
        fam, prov = _family(r, item, f"{path}.families[{i}]", ndim)
        if fam.name in families:
            r.fail(f"{path}.families[{i}].name", f"family {fam.name!r} is given twice")
        families[fam.name] = fam
        provenances[fam.name] = prov
    wanted = [n for n, _ in cfg["mosaic"] if n != "free"]
    if sorted(wanted) != sorted(families):
        r.fail(f"{path}.families", f"the mosaic uses {wanted} but the document defines "
                                   f"{sorted(families)}")
    raw = e["tensors"]
    if not isinstance(raw, dict):
        r.fail(f"{path}.tensors", "expected an object of tensors")
    if len(raw) > 4 + len(families) * (r.limits.max_params + 1):
        r.fail(f"{path}.tensors", f"{len(raw)} tensors is more than the layer can hold")
    tensors = {r.string(k, f"{path}.tensors", max_len=200): r.tensor(v, f"{path}.tensors.{k}")
               for k, v in raw.items()}
    r.string(e["statement"], f"{path}.statement")
    _check_info(r, e, path)
    layer = build_layer(cls, cfg, families, tensors, path)
    for name, fam in families.items():
        if not layer._provenance.get(name, {}).get("provider"):
            layer._provenance[name] = dict(provenances[name])
        warn_if_installed_differs(fam, provenances[name], path)
    return mpath, layer


def _check_info(r: Reader, e: Mapping[str, Any], path: str) -> None:
    """Type checks of the informational fields (never used to rebuild)."""
    if "quadrature_rule" in e:
        q = r.obj(e["quadrature_rule"], f"{path}.quadrature_rule", ("nodes", "weights"))
        for key in ("nodes", "weights"):
            for i, v in enumerate(r.array(q[key], f"{path}.quadrature_rule.{key}", max_len=64)):
                r.number(v, f"{path}.quadrature_rule.{key}[{i}]")
    if "kernels" in e:
        items = r.array(e["kernels"], f"{path}.kernels", max_len=r.limits.max_bank_elements)
        for i, item in enumerate(items):
            where = f"{path}.kernels[{i}]"
            k = r.obj(item, where, ("out", "in", "family", "akps", "gain", "scale", "offset",
                                    "formula"), ("wrapped",))
            for key in ("out", "in"):
                r.integer(k[key], f"{where}.{key}", 0, r.limits.max_channels)
            r.string(k["family"], f"{where}.family", max_len=64)
            for key in ("akps", "wrapped"):
                value = k.get(key, {})
                names = list(value)[:64] if isinstance(value, dict) else []
                table = r.obj(value, f"{where}.{key}", (), names)
                for name, v in table.items():
                    r.number(v, f"{where}.{key}.{name}")
            for key in ("gain", "scale", "offset"):
                r.number(k[key], f"{where}.{key}")
            r.string(k["formula"], f"{where}.formula", max_len=10 * r.limits.max_formula_chars)


def read_document(text: object, limits: ExportLimits | None = None
                  ) -> tuple[str, list[tuple[str, AnalyticConvNd]]]:
    """Validate and rebuild every layer of an export document: ``(root, [(path, layer)])``."""
    r = Reader(limits or ExportLimits())
    data = load_json(text, r.limits)
    if not isinstance(data, dict):
        r.fail("", f"expected an object at the top, got {type(data).__name__}")
    r.header(data, "", FORMAT, VERSION, what="export", version_name="format version")
    doc = r.obj(data, "", ("format", "version", "aclcore_version", "root", "layers"),
                ("model",))
    r.string(doc["aclcore_version"], "aclcore_version", max_len=100)
    root = r.string(doc["root"], "root", choices=("layer", "model"))
    r.string(doc.get("model", ""), "model", max_len=200)
    items = r.array(doc["layers"], "layers", min_len=1, max_len=r.limits.max_layers)
    if root == "layer" and len(items) != 1:
        r.fail("layers", f"a document with root 'layer' holds one layer, not {len(items)}")
    layers: list[tuple[str, AnalyticConvNd]] = []
    with bounded(r, "the document"):
        for i, item in enumerate(items):
            path, layer = _layer(r, item, f"layers[{i}]")
            if (root == "layer") != (path == ""):
                r.fail(f"layers[{i}].path", "the path is '' exactly for a document whose root "
                                            "is a single layer")
            if any(p == path for p, _ in layers):
                r.fail(f"layers[{i}].path", f"{path!r} is given twice")
            layers.append((path, layer))
    return root, layers
