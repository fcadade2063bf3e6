"""``acl families [NAME...] [--json]`` and ``acl show NAME|SOURCE``: families and models.

``acl families`` lists every family (coordinates, AKPs with constraint and init, provider,
formula as text and LaTeX); ``acl show NAME`` prints one family's formula and a kernel sampled
at typical AKPs, as a text preview and optionally a PNG. ``acl show SOURCE`` (a checkpoint, a
run directory or a JSON export) shows what was trained: see :mod:`aclcore.cli.show_source`.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from aclcore.cli.common import print_json
from aclcore.errors import ConfigError

__all__ = ["add_families_command", "add_show_command", "cmd_families", "cmd_show",
           "family_info"]


def add_families_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Declare ``acl families`` on the subcommand parser ``sub``."""
    p = sub.add_parser(
        "families",
        help="list the registered kernel families",
        description="List every registered family: coordinates, parameters (constraint, "
        "init), providing plugin and formula (text and LaTeX).",
    )
    p.add_argument("names", nargs="*", metavar="NAME", help="only these families")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=cmd_families)


def _formula_text(expr: Any) -> str:
    from aclcore.plugins import formula_functions
    from aclcore.symbolic.parse import formula_to_string

    return str(formula_to_string(expr, functions=formula_functions()))


def family_info(name: str) -> dict[str, Any]:
    """What ``acl families --json`` reports about the registered family ``name``."""
    import sympy as sp

    from aclcore.plugins.registry import current_registry

    registry = current_registry()
    family = registry.get_family(name)
    record = registry.records()[name]
    return {
        "name": family.name,
        "description": family.description,
        "ndim": family.ndim,
        "coordinates": list(family.coord_names),
        "parameters": [p.to_json() for p in family.params],
        "normalize": family.normalize,
        "symmetries": list(family.symmetries),
        "provider": record.provider,
        "distribution": record.distribution,
        "version": record.version,
        "formula": _formula_text(family.sympy_expr),
        "latex": sp.latex(family.sympy_expr),
    }


def _describe_param(p: dict[str, Any]) -> str:
    constraint = p["constraint"]
    if isinstance(constraint, list):
        constraint = f"in ({constraint[0]:g}, {constraint[1]:g})"
    init = p["init"]
    init_text = f"[{init[0]:.4g}, {init[1]:.4g}]" if isinstance(init, list) else f"{init:.4g}"
    desc = f"  {p['description']}" if p["description"] else ""
    return f"    {p['name']:<10} {constraint:<18} init {init_text:<14}{desc}".rstrip()


def cmd_families(args: argparse.Namespace) -> int:
    """``acl families [NAME...] [--json]``."""
    from aclcore.plugins.registry import families

    names = list(args.names) or sorted(families())
    infos = [family_info(n) for n in names]
    if args.json:
        print_json(infos)
        return 0
    if not infos:
        print("no families registered (for the classic families, from a checkout of the "
              "aclcore repository: pip install -c constraints.txt ./plugins/acl-classic)")
    for info in infos:
        source = info["provider"]
        if info["distribution"]:
            source += f" ({info['distribution']} {info['version'] or '?'})"
        print(f"{info['name']}  ({', '.join(info['coordinates'])}; normalize "
              f"{info['normalize']}; from {source})")
        if info["description"]:
            print(f"  {info['description']}")
        print(f"  formula: {info['formula']}")
        print(f"  latex:   {info['latex']}")
        for p in info["parameters"]:
            print(_describe_param(p))
        if info["symmetries"]:
            print(f"  symmetries: {', '.join(info['symmetries'])}")
    return 0


#: ``acl show --size``: at most this many taps in all ...
_MAX_SHOW_TAPS = 2**20
#: ... so at most this many along each axis, by the family's number of dimensions.
_MAX_SHOW_SIZE = {1: 1024, 2: 1024, 3: 101}


def add_show_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Declare ``acl show`` on the subcommand parser ``sub``."""
    p = sub.add_parser(
        "show",
        help="show a family's formula and a sampled kernel, or a trained model's kernels",
        description="NAME: print a family's formula and a kernel sampled at typical AKPs "
        "(init values, midpoints of init ranges) with the family's normalisation: a text "
        "preview in the terminal, a PNG with --png (needs matplotlib). SOURCE (a checkpoint, "
        "a training run directory or a JSON export; anything that exists as a path or has a "
        "'/' or a suffix): print each analytic layer's mosaic, each family's formula, the "
        "learned AKPs and the first kernels' formulas; --png draws the kernels. Nothing from "
        "SOURCE is executed.",
    )
    p.add_argument("name", metavar="NAME|SOURCE", help="family name (see acl families), or a "
                   "checkpoint, run directory or JSON export")
    p.add_argument("--size", type=int, default=None,
                   help="kernel size along every axis (default 15 for 1-D, 7 otherwise; at "
                   "most 1024, or 101 for 3-D)")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="set an AKP (repeatable), e.g. --param sigma=2")
    p.add_argument("--png", metavar="PATH", help="also write the kernel (SOURCE: each shown "
                   "layer's kernels; with several layers, PATH's stem plus the layer's name) as "
                   "a PNG (.png is added when PATH has no suffix)")
    p.add_argument("--layer", metavar="PATH", help="SOURCE only: show only the analytic layer "
                   "at this module path (e.g. features.0)")
    p.add_argument("--precision", type=int, metavar="N", help="SOURCE only: significant "
                   "digits of AKPs and formulas (default 4)")
    p.add_argument("--max-rows", type=int, metavar="N", help="SOURCE only: AKP rows shown per "
                   "family (default 16; 0 shows all)")
    p.add_argument("--formulas", type=int, metavar="N", help="SOURCE only: full formulas "
                   "shown per family (default 1)")
    p.add_argument("--json", action="store_true", help="print JSON (formula and values)")
    p.set_defaults(run=cmd_show)


def _parse_assignments(items: Sequence[str], names: Sequence[str]) -> dict[str, float]:
    values = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or key not in names:
            raise ConfigError(
                f"--param {item!r}: expected NAME=VALUE with NAME one of {', '.join(names)}"
            )
        try:
            values[key] = float(text)
        except ValueError:
            raise ConfigError(f"--param {item!r}: {text!r} is not a number") from None
    return values


def cmd_show(args: argparse.Namespace) -> int:
    """``acl show NAME [--size K] [--param NAME=VALUE] [--png PATH] [--json]``, or ``acl show
    SOURCE [--layer PATH] [--png PATH] [--precision N] [--max-rows N] [--formulas N]
    [--json]`` (see :mod:`aclcore.cli.show_source`)."""
    from aclcore.cli.show_source import looks_like_source, show_source

    if looks_like_source(args.name):
        return show_source(args)
    given = [f"--{name.replace('_', '-')}" for name in ("layer", "precision", "max_rows",
                                                          "formulas")
             if getattr(args, name) is not None]
    if given:
        raise ConfigError(f"{', '.join(given)}: only for a checkpoint or JSON export, and "
                          f"{args.name!r} is read as a family name (for a file of that name, "
                          f"write ./{args.name})")
    import torch

    from aclcore.export.viz import save_kernel_grid, text_preview
    from aclcore.nn.functional import sample_kernels
    from aclcore.plugins.checks import typical_values
    from aclcore.plugins.registry import get_family

    family = get_family(args.name)
    size = args.size if args.size is not None else (15 if family.ndim == 1 else 7)
    largest = _MAX_SHOW_SIZE[family.ndim]
    if not 1 <= size <= largest:
        raise ConfigError(f"--size must be a positive int of at most {largest} for a "
                          f"{family.ndim}-D family (at most {_MAX_SHOW_TAPS} taps in all), "
                          f"got {size}")
    values = typical_values(family)
    values.update(_parse_assignments(args.param, family.param_names))
    for name, value in values.items():
        if not family.param(name).constraint_obj.contains(value):
            raise ConfigError(f"--param {name}={value:g} is outside its constraint "
                              f"({family.param(name).constraint_obj.describe()})")
    params = {n: torch.tensor([[v]], dtype=torch.float64) for n, v in values.items()}
    kernel = sample_kernels(family, params, size, dtype=torch.float64)[0, 0]
    info = family_info(family.name)
    akps = ", ".join(f"{n}={v:g}" for n, v in values.items()) or "none"
    png = None
    if args.png:
        png = str(save_kernel_grid(kernel[None, None], args.png, [family.name],
                                   ndim=family.ndim, title=akps))
    if args.json:
        print_json({**info, "akps": values, "size": size, "kernel": kernel.tolist(),
                     "png": png})
        return 0
    print(f"{family.name}: {family.description}" if family.description else family.name)
    print(f"formula: {info['formula']}")
    print(f"latex:   {info['latex']}")
    print(f"AKPs:    {akps}")
    shape = "x".join([str(size)] * family.ndim)
    slice_note = ", central z slice" if family.ndim == 3 else ""
    print(f"kernel {shape} (normalize {family.normalize}{slice_note}):")
    print(text_preview(kernel))
    if png:
        print(f"wrote {png}")
    return 0
