"""``acl show SOURCE``: what a trained model holds, read from a checkpoint or a JSON export.

For each analytic layer (or the one ``--layer`` names): its configuration and mosaic (which
output channels each family, or free kernels, fills), per family its provenance and formula,
a table of the learned AKPs and gain per kernel, and the full formula of the first kernels;
``--png`` draws the layer's kernels (:func:`aclcore.export.panels.layer_panel`, the pictures
of the formula card). SOURCE is read by :func:`aclcore.cli.export.load_source`, so nothing
from it is executed. The work is in :mod:`aclcore.export`; this module only formats.

Module-level imports are light (``acl --help`` must stay fast); the work is imported lazily.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from aclcore.cli.common import print_json
from aclcore.errors import ConfigError

__all__ = ["looks_like_source", "show_source", "source_report"]


def looks_like_source(name: str) -> bool:
    """Whether ``acl show NAME`` reads ``name`` as a file: an existing path, or a name with a
    directory part or a suffix (``run/``, ``model.pt``, ``model.json``); otherwise it is a
    family name."""
    path = Path(name)
    return path.exists() or "/" in name or "\\" in name or bool(path.suffix)


def _plain(value: Any) -> Any:
    """``value`` with tuples as lists and anything else JSON cannot hold as its text."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def _mosaic(config: dict[str, Any]) -> list[dict[str, Any]]:
    blocks, start = [], 0
    for block in config["mosaic"]:
        blocks.append({"family": block["family"], "start": start, "count": block["count"]})
        start += block["count"]
    return blocks


def _family_report(info: Any, lf: Any, precision: int, max_rows: int,
                   formulas: int) -> dict[str, Any]:
    import sympy as sp

    from aclcore.export.collect import formula_text
    from aclcore.export.latex import rounded

    family = info.family
    where = f"layer {lf.path or 'layer'}, family {family.name!r}"
    kernels = [k for k in lf.kernels if k.family == family.name]
    shown = kernels if max_rows == 0 else kernels[:max_rows]
    rows = []
    for index, k in enumerate(shown):
        row: dict[str, Any] = {"out_channel": k.out_channel, "in_channel": k.in_channel,
                               "akps": dict(k.akps), "wrapped": dict(k.wrapped),
                               "gain": k.gain}
        if index < formulas:  # exact (parseable) text, and rounded for reading
            row["formula"] = formula_text(k.formula, where)
            row["formula_rounded"] = sp.sstr(rounded(k.formula, precision))
        rows.append(row)
    return {
        "name": family.name, "description": family.description,
        "output_channels": [info.start, info.start + info.count - 1],
        "normalize": info.normalize, "provenance": dict(info.provenance),
        "coordinates": list(family.coord_names), "parameters": list(family.param_names),
        "angles": [p.name for p in family.params if p.constraint_obj.spec == "angle"],
        "formula": formula_text(family.sympy_expr, where),
        "latex": sp.latex(family.sympy_expr),
        "kernel_count": len(kernels), "kernels": rows,
    }


def _png_path(png: str, path: str, several: bool) -> Path:
    """Where the picture of layer ``path`` goes: ``png`` itself, or, when several layers are
    drawn, ``png``'s stem plus the layer's name (``kernels.png`` -> ``kernels_features_0.png``)."""
    target = Path(png)
    if not several:
        return target
    from aclcore.export.panels import panel_name

    slug = panel_name(path).removesuffix("_kernels.png")
    return target.with_name(f"{target.stem}_{slug}{target.suffix or '.png'}")


def source_report(source: str, *, layer: str | None = None, precision: int = 4,
                  max_rows: int = 16, formulas: int = 1, png: str | None = None
                  ) -> dict[str, Any]:
    """What ``acl show SOURCE --json`` prints: the source's kind and metadata, and per layer
    its configuration, mosaic and families (formula, learned AKPs and gain per kernel, the
    formula of the first ``formulas`` kernels); ``png`` draws each layer's kernels.

    Raises:
        ConfigError: ``layer`` is not an analytic layer of the source, or a count is invalid.
        ExportError: the source cannot be read (see :func:`aclcore.cli.export.load_source`).
    """
    from aclcore.cli.export import load_source
    from aclcore.export.collect import collect
    from aclcore.export.containers import Checkpoint
    from aclcore.export.panels import layer_panel

    if not 1 <= precision <= 17:
        raise ConfigError(f"--precision must be from 1 to 17, got {precision}")
    for name, value in (("--max-rows", max_rows), ("--formulas", formulas)):
        if value < 0:
            raise ConfigError(f"{name} must be 0 or more, got {value}")
    model = load_source(source)
    kind, metadata = "json", {}
    if isinstance(model, Checkpoint):
        kind, metadata = model.kind, dict(model.metadata)
    _, layers = collect(model)
    if layer is not None:
        paths = [lf.path for lf in layers]
        layers = [lf for lf in layers if lf.path == layer]
        if not layers:
            raise ConfigError(f"--layer {layer!r} is not an analytic layer of {source}; its "
                              f"analytic layers are {', '.join(repr(p) for p in paths)}")
    report: dict[str, Any] = {"source": source, "kind": kind, "metadata": _plain(metadata),
                              "layers": []}
    for lf in layers:
        entry: dict[str, Any] = {
            "path": lf.path, "class": lf.class_name, "config": _plain(lf.config),
            "mosaic": _mosaic(lf.config), "statement": lf.statement,
            "families": [_family_report(info, lf, precision, max_rows, formulas)
                         for info in lf.families],
            "png": None,
        }
        if png:
            out, _ = layer_panel(lf, _png_path(png, lf.path, len(layers) > 1))
            entry["png"] = str(out)
        report["layers"].append(entry)
    return report


def _number(value: float, precision: int) -> str:
    return f"{value:.{precision}g}"


def _table(fam: dict[str, Any], precision: int) -> list[str]:
    names = fam["parameters"]
    header = ["kernel", *[f"{n} (mod 2pi)" if n in fam["angles"] else n for n in names],
              "gain"]
    rows = [header]
    for k in fam["kernels"]:
        values = [k["wrapped"].get(n, k["akps"][n]) for n in names]
        rows.append([f"[{k['out_channel']},{k['in_channel']}]",
                     *[_number(v, precision) for v in values], _number(k["gain"], precision)])
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    return ["    " + "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip()
            for r in rows]


def _print_layer(entry: dict[str, Any], precision: int) -> None:
    c = entry["config"]
    size = "x".join(str(k) for k in c["kernel_size"])
    print(f"layer {entry['path'] or '(the layer itself)'}: {entry['class']}, "
          f"{c['in_channels']} -> {c['out_channels']} channels, kernel {size}, stride "
          f"{tuple(c['stride'])}, dilation {tuple(c['dilation'])}, groups {c['groups']}, "
          f"discretization {c['discretization']}")
    mosaic = ", ".join(f"{b['family']} {b['start']}-{b['start'] + b['count'] - 1}"
                       for b in entry["mosaic"])
    print(f"  mosaic (output channels): {mosaic}")
    for fam in entry["families"]:
        prov = fam["provenance"]
        source = "an unknown source"
        if prov.get("provider"):
            source = f"plugin {prov['provider']}"
            if prov.get("distribution"):
                source += f" ({prov['distribution']} {prov.get('version') or '?'})"
        print(f"  family {fam['name']}: from {source}; normalize {fam['normalize']}")
        print(f"    f({', '.join(fam['coordinates'])}) = {fam['formula']}")
        print(f"    learned AKPs ({fam['kernel_count']} kernel(s)):")
        for line in _table(fam, precision):
            print(line)
        hidden = fam["kernel_count"] - len(fam["kernels"])
        if hidden:
            print(f"    ... {hidden} more kernel(s) (--max-rows 0 shows all)")
        for k in fam["kernels"]:
            if "formula" in k:
                print(f"    kernel [{k['out_channel']},{k['in_channel']}]: "
                      f"w({', '.join(fam['coordinates'])}) = {k['formula_rounded']}")
    if entry["png"]:
        print(f"  wrote {entry['png']}")


def show_source(args: argparse.Namespace) -> int:
    """``acl show SOURCE [--layer PATH] [--png PATH] [--precision N] [--max-rows N]
    [--formulas N] [--json]``."""
    if args.param or args.size is not None:
        raise ConfigError(f"--size and --param sample a family; {args.name} is read as a "
                          "checkpoint or JSON export (a family name has no '/' or suffix)")
    precision = 4 if args.precision is None else args.precision
    report = source_report(
        args.name, layer=args.layer, precision=precision,
        max_rows=16 if args.max_rows is None else args.max_rows,
        formulas=1 if args.formulas is None else args.formulas, png=args.png)
    if args.json:
        print_json(report)
        return 0
    count = len(report["layers"])
    print(f"{report['source']}: {report['kind']}, {count} analytic layer(s) shown")
    scalars = {k: v for k, v in report["metadata"].items()
               if isinstance(v, (bool, int, float, str))}
    if scalars:
        print("metadata: " + ", ".join(f"{k}={v}" for k, v in scalars.items()))
    for entry in report["layers"]:
        _print_layer(entry, precision)
    return 0
