"""``acl plugins [--json] [--check]``: what the plugin loader did, plugin by plugin.

Exits with 1 when a plugin failed, so scripts and CI can check an installation.
"""

from __future__ import annotations

import argparse

from aclcore.cli.common import print_json

__all__ = ["add_plugins_command", "cmd_plugins"]


def add_plugins_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Declare ``acl plugins`` on the subcommand parser ``sub``."""
    p = sub.add_parser(
        "plugins",
        help="list plugins with distribution, version, families and failures",
        description="Load the installed plugins (honouring ACL_LOAD_PLUGINS and "
        "ACL_STRICT_PLUGINS) and list each with its distribution, version, families, "
        "functions and failures. Exits with 1 when a plugin failed.",
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--check", action="store_true",
                   help="also import and check every function a plugin registered by import "
                   "path (imports what the paths name, e.g. torch)")
    p.set_defaults(run=cmd_plugins)


def cmd_plugins(args: argparse.Namespace) -> int:
    """``acl plugins [--json] [--check]``."""
    import warnings

    from aclcore.plugins import AclPluginWarning, plugin_report

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AclPluginWarning)  # they are listed below
        report = plugin_report(check_functions=args.check)
    if args.json:
        print_json(report.to_json())
        return 1 if report.failures else 0
    if not report.plugins:
        print("no plugins installed (the classic families come with the aclcore repository: "
              "pip install ./plugins/acl-classic)")
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
