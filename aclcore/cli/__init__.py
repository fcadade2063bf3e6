"""The ``acl`` command: a thin, scriptable layer over the library.

One module per command group (:mod:`.plugins`, :mod:`.families`, :mod:`.export`); each
subcommand is one ``add_<name>_command(subparsers)`` function that declares its arguments and
one ``cmd_<name>(args) -> int`` function that does the work; :data:`SUBCOMMANDS` lists the
``add_`` functions. ``--json`` prints machine-readable
output. An :class:`~aclcore.errors.AclError` prints ``acl: error: <one line>`` on stderr and
exits with status 2.

Exit status: 0 success; 1 ``acl plugins`` found plugin failures; 2 usage or aclcore error.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from aclcore.cli.bench import add_bench_command
from aclcore.cli.export import add_export_command
from aclcore.cli.families import add_families_command, add_show_command
from aclcore.cli.fit import add_fit_command
from aclcore.cli.new_plugin import add_new_plugin_command
from aclcore.cli.plugins import add_plugins_command
from aclcore.cli.train import add_train_command
from aclcore.errors import AclError

__all__ = ["SUBCOMMANDS", "build_parser", "main"]

_AddCommand = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]


#: The subcommands, in help order; each adds its parser and sets ``run``.
SUBCOMMANDS: list[_AddCommand] = [
    add_plugins_command, add_families_command, add_show_command, add_export_command,
    add_fit_command,
    add_train_command,
    add_new_plugin_command,
    add_bench_command,
]


def build_parser() -> argparse.ArgumentParser:
    """The ``acl`` argument parser with every subcommand of :data:`SUBCOMMANDS`."""
    from aclcore.version import __version__

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
        lines = getattr(err, "failures", None)
        if lines:  # several failures (strict plugin loading): one per line
            print(f"acl: error: {len(lines)} plugin failure(s):", file=sys.stderr)
            for line in lines:
                print(f"  - {line}", file=sys.stderr)
        else:
            print(f"acl: error: {' '.join(str(err).split())}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `acl families --json | head`: stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
