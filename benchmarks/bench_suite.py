"""The whole benchmark suite at the sizes ``docs/performance.md`` reports (minutes).

``aclcore.bench.suite.FULL``: kernel banks of every classic family, layers against
nn.ConvNd, the LeNet training step, compile time, start-up and fitting throughput, each as a
ratio against its baseline measured in the same run (median and interquartile range). The
same code as ``acl bench`` (which runs ``DEFAULT``, small sizes); no assertions.

Run: ``python benchmarks/bench_suite.py [--only GROUPS] [--threads 1] [--json]``
"""

from __future__ import annotations

import argparse
import sys

from aclcore.bench.harness import machine, torch_threads
from aclcore.bench.suite import FULL, GROUPS, report, run_suite


def main() -> None:
    """Run the suite and print the table (or JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=None, help=f"comma-separated groups of {GROUPS}")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (0: torch's)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args()
    only = tuple(args.only.split(",")) if args.only else None
    with torch_threads(args.threads or None):
        env = machine()
        rows = run_suite(FULL, only=only,
                         progress=lambda g: print(f"running {g} ...", file=sys.stderr,
                                                  flush=True))
    print(report(env, rows, as_json=args.json))


if __name__ == "__main__":
    main()
