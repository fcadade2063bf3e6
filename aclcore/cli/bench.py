"""``acl bench [--quick] [--only GROUPS] [--threads N] [--json]``: the benchmark suite, quickly.

Runs :mod:`aclcore.bench.suite` (``DEFAULT``: well under a minute; ``--quick``: a smoke run
of every group) and prints one row per figure: the median ratio against its baseline measured
in the same run, the interquartile range over the rounds, the target where the project has
one, and the times. ``docs/performance.md`` reports the full suite (``benchmarks/``).
"""

from __future__ import annotations

import argparse

__all__ = ["add_bench_command", "cmd_bench"]

_GROUPS = ("bank", "layer", "network", "compile", "startup", "fit")


def add_bench_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Declare ``acl bench`` on the subcommand parser ``sub``."""
    p = sub.add_parser(
        "bench",
        help="run the benchmark suite quickly (ratios against baselines in the same run)",
        description="Measure kernel-bank generation, layers against nn.ConvNd, the training "
        "step of the reference AnaNN against its CNN, compile time, start-up and fitting, "
        "each as a ratio against its baseline measured in the same run (median and "
        "interquartile range over alternating rounds). Needs acl-classic for every group "
        "but start-up.",
    )
    p.add_argument("--quick", action="store_true",
                   help="a smoke run: tiny sizes, one round (seconds)")
    p.add_argument("--only", default=None, metavar="GROUPS",
                   help=f"comma-separated groups to run ({', '.join(_GROUPS)})")
    p.add_argument("--threads", type=int, default=1, metavar="N",
                   help="torch threads (default 1: the timings are the CPU time of one "
                   "thread, which other processes on the machine do not inflate; 0: torch's "
                   "choice, timed by the wall clock)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=cmd_bench)


def cmd_bench(args: argparse.Namespace) -> int:
    """``acl bench``."""
    import sys

    from aclcore.bench.harness import machine, torch_threads
    from aclcore.bench.suite import DEFAULT, QUICK, report, run_suite
    from aclcore.errors import ConfigError

    only = None
    if args.only is not None:
        only = tuple(g.strip() for g in args.only.split(",") if g.strip())
        unknown = sorted(set(only) - set(_GROUPS))
        if unknown:
            raise ConfigError(f"--only: unknown group(s) {', '.join(unknown)}; use "
                              f"{', '.join(_GROUPS)}")
    if args.threads < 0:
        raise ConfigError(f"--threads must be 0 (torch's choice) or positive, got "
                          f"{args.threads}")
    config = QUICK if args.quick else DEFAULT

    def progress(group: str) -> None:
        if not args.json:
            print(f"running {group} ...", file=sys.stderr, flush=True)

    with torch_threads(args.threads or None):
        env = machine()
        rows = run_suite(config, only=only, progress=progress)
    command = "acl bench" + (" --quick" if args.quick else "") + (
        f" --only {args.only}" if args.only else "") + f" --threads {args.threads}"
    print(report(env, rows, as_json=args.json, command=command))
    return 0
