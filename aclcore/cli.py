"""The ``acl`` command: a thin, scriptable layer over the library.

Each subcommand is one ``_add_<name>(subparsers)`` function that declares its arguments and
one ``cmd_<name>(args) -> int`` function that does the work; :data:`SUBCOMMANDS` lists the
``_add_`` functions (later subcommands append theirs). ``--json`` prints machine-readable
output. An :class:`~aclcore.errors.AclError` prints ``acl: error: <one line>`` on stderr and
exits with status 2.

Exit status: 0 success; 1 ``acl plugins`` found plugin failures; 2 usage or aclcore error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from aclcore._export_cli import add_export_command
from aclcore.errors import AclError, ConfigError

__all__ = ["SUBCOMMANDS", "build_parser", "cmd_families", "cmd_plugins", "cmd_show", "main"]

_AddCommand = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, sort_keys=False))


# -- acl plugins ----------------------------------------------------------------------------
def _add_plugins(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "plugins",
        help="list plugins with distribution, version, families and failures",
        description="Load the installed plugins (honouring ACL_LOAD_PLUGINS and "
        "ACL_STRICT_PLUGINS) and list each with its distribution, version, families, "
        "functions and failures. Exits with 1 when a plugin failed.",
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=cmd_plugins)


def cmd_plugins(args: argparse.Namespace) -> int:
    """``acl plugins [--json]``."""
    import warnings

    from aclcore.plugins import AclPluginWarning, plugin_report

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AclPluginWarning)  # they are listed below
        report = plugin_report()
    if args.json:
        _print_json(report.to_json())
        return 1 if report.failures else 0
    if not report.plugins:
        print("no plugins installed (pip install acl-classic for the classic families)")
    for rec in report.plugins:
        dist = f"{rec.distribution} {rec.version or '?'}" if rec.distribution else rec.source
        print(f"{rec.name}  [{rec.status}]  {dist}")
        if rec.families:
            print(f"  families ({len(rec.families)}): {', '.join(sorted(rec.families))}")
        if rec.functions:
            print(f"  functions ({len(rec.functions)}): {', '.join(sorted(rec.functions))}")
        for failure in rec.failures:
            item = f" {failure.item!r}" if failure.item else ""
            print(f"  FAILED {failure.stage}{item}: {failure.error_type}: "
                  f"{' '.join(failure.message.split())}")
    if report.in_process:
        print(f"in-process families: {', '.join(report.in_process)}")
    if report.only is not None:
        print(f"ACL_LOAD_PLUGINS selects: {', '.join(report.only) or '(none)'}")
    for name in report.unmatched:
        print(f"warning: ACL_LOAD_PLUGINS names {name!r}, which no installed plugin provides")
    count = len(report.failures)
    print(f"{count} failure(s)" if count else "no failures")
    return 1 if count else 0


# -- acl families ---------------------------------------------------------------------------
def _add_families(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
    from aclcore.parse import formula_to_string
    from aclcore.plugins import formula_functions

    return str(formula_to_string(expr, functions=formula_functions()))


def family_info(name: str) -> dict[str, Any]:
    """What ``acl families --json`` reports about the registered family ``name``."""
    import sympy as sp

    from aclcore.registry import current_registry

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
    from aclcore.registry import families

    names = list(args.names) or sorted(families())
    infos = [family_info(n) for n in names]
    if args.json:
        _print_json(infos)
        return 0
    if not infos:
        print("no families registered (pip install acl-classic for the classic families)")
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


# -- acl show -------------------------------------------------------------------------------
#: ``acl show --size``: at most this many taps in all ...
_MAX_SHOW_TAPS = 2**20
#: ... so at most this many along each axis, by the family's number of dimensions.
_MAX_SHOW_SIZE = {1: 1024, 2: 1024, 3: 101}


def _add_show(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "show",
        help="show a family's formula and a sampled kernel",
        description="Print a family's formula and a kernel sampled at typical AKPs (init "
        "values, midpoints of init ranges) with the family's normalisation: a text preview "
        "in the terminal, a PNG with --png (needs matplotlib).",
    )
    p.add_argument("name", metavar="NAME", help="family name (see acl families)")
    p.add_argument("--size", type=int, default=None,
                   help="kernel size along every axis (default 15 for 1-D, 7 otherwise; at "
                   "most 1024, or 101 for 3-D)")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="set an AKP (repeatable), e.g. --param sigma=2")
    p.add_argument("--png", metavar="PATH", help="also write the kernel as a PNG (.png is "
                   "added when PATH has no suffix)")
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
    """``acl show NAME [--size K] [--param NAME=VALUE] [--png PATH] [--json]``."""
    import torch

    from aclcore._plugin_checks import typical_values
    from aclcore.functional import sample_kernels
    from aclcore.registry import get_family
    from aclcore.viz import save_kernel_grid, text_preview

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
        _print_json({**info, "akps": values, "size": size, "kernel": kernel.tolist(),
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


#: The subcommands, in help order; each adds its parser and sets ``run``.
SUBCOMMANDS: list[_AddCommand] = [_add_plugins, _add_families, _add_show, add_export_command]


def build_parser() -> argparse.ArgumentParser:
    """The ``acl`` argument parser with every subcommand of :data:`SUBCOMMANDS`."""
    from aclcore import __version__

    parser = argparse.ArgumentParser(
        prog="acl",
        description="Analytic Convolutional Layers: inspect plugins and kernel families.",
    )
    parser.add_argument("--version", action="version", version=f"aclcore {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in SUBCOMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``acl`` with ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except AclError as err:
        print(f"acl: error: {' '.join(str(err).split())}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `acl families --json | head`: stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
