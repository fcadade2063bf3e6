"""``acl new-plugin NAME [--dir D] [--json]``: write a ready plugin distribution to start from.

The CLI face of :mod:`aclcore.cli.scaffold`: checks NAME (a lowercase distribution name, not
taken by an installed distribution, package, plugin or family), writes the template into D
(default ``./NAME``; it must not exist or be empty) and says how to install and test it.

Module-level imports are light (``acl --help`` must stay fast); the work is imported lazily.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from aclcore.cli.common import print_json

__all__ = ["add_new_plugin_command", "cmd_new_plugin"]


def add_new_plugin_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Declare ``acl new-plugin`` on the subcommand parser ``sub``."""
    p = sub.add_parser(
        "new-plugin",
        help="write a ready plugin distribution (families, tests, README, CI) to start from",
        description="Write a new aclcore plugin distribution: pyproject.toml with the "
        "'aclcore' entry point, a package with one family declared with SymPy objects and one "
        "from a formula string (their maths in docstrings), tests using aclcore.testing "
        "(contract, gradients, symmetries), a README with the install and test commands and "
        "a CI workflow. NAME is the distribution name, e.g. acl-mykernels (package "
        "acl_mykernels, plugin name mykernels, families mykernels_lorentzian and "
        "mykernels_ring_wave). Nothing is downloaded.",
    )
    p.add_argument("name", metavar="NAME", help="distribution name: lowercase letters and "
                   "digits in words joined by hyphens, e.g. acl-mykernels")
    p.add_argument("--dir", metavar="D", help="directory to write the distribution into "
                   "(default ./NAME; it must not exist or be empty)")
    p.add_argument("--json", action="store_true", help="print a JSON report (names, "
                   "directory, files)")
    p.set_defaults(run=cmd_new_plugin)


def cmd_new_plugin(args: argparse.Namespace) -> int:
    """``acl new-plugin NAME [--dir D] [--json]``."""
    import warnings

    from aclcore.cli.scaffold import check_available, plugin_names, write_plugin
    from aclcore.plugins import AclPluginWarning
    from aclcore.plugins.registry import families

    names = plugin_names(args.name)
    with warnings.catch_warnings():  # a broken neighbour plugin is `acl plugins`' business
        warnings.simplefilter("ignore", AclPluginWarning)
        registered = frozenset(families())
    check_available(names, registered)
    root = Path(args.dir) if args.dir else Path(names.distribution)
    files = write_plugin(names, root)
    if args.json:
        print_json({"distribution": names.distribution, "package": names.package,
                    "plugin": names.plugin, "families": list(names.families),
                    "directory": str(root), "files": [str(f) for f in files]})
        return 0
    print(f"wrote the plugin {names.distribution} into {root}/:")
    for f in files:
        print(f"  {f.relative_to(root).as_posix()}")
    print(f"\nplugin name {names.plugin!r}, package {names.package!r}, families "
          f"{', '.join(names.families)}. Next:")
    print(f"  cd {root}")
    print("  pip install -e '.[test]'     # needs aclcore installed (see README.md)")
    print("  python -m pytest")
    print(f"  acl plugins                  # {names.plugin}  [ok]  {names.distribution} 0.1.0")
    return 0
