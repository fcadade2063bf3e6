"""Start-up cost of aclcore: ``acl`` commands and (import aclcore + discovery) / import torch.

Every program runs in a fresh interpreter, the programs alternating round by round
(:mod:`aclcore.bench.startup`); printed per program: the median wall time, its ratio to
``python -c "import torch"`` in the same round (median and interquartile range), and the
target of issue 12 (``acl --version`` <= 0.3 s, listings <= 1.0 s, import + discovery <= 1.3x
``import torch``). The listings and the discovery are measured with ``ACL_LOAD_PLUGINS=classic``
(acl-classic only, which imports no torch) and with every installed plugin (acl-example
registers a torch function and so imports torch itself).

Usage: ``python benchmarks/bench_import.py [--runs 7] [--json]``.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from aclcore.bench.startup import TARGETS, measure_startup


def main(argv: list[str] | None = None) -> int:
    """Print the figures; exit status 0 (the benchmark reports, it does not gate)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="fresh interpreters per program")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    c = measure_startup(rounds=args.runs)
    figures: dict[str, dict[str, Any]] = {}
    for name in c.times:
        seconds, ratio = c.time(name), c.ratio(name)
        kind, limit = TARGETS.get(name, ("", 0.0))
        value = seconds.median if kind == "seconds" else ratio.median
        figures[name] = {"seconds": seconds.to_dict(), "ratio_to_import_torch": ratio.to_dict(),
                         "target": f"{kind} <= {limit}" if kind else None,
                         "met": (value <= limit) if kind else None}
    if args.json:
        print(json.dumps({"runs": args.runs, "figures": figures}, indent=2))
        return 0
    print(f"{'program':<42} {'seconds':>8} {'/ import torch':>15} {'[q25, q75]':<15} target")
    for name, f in figures.items():
        s, r = f["seconds"], f["ratio_to_import_torch"]
        target = "" if f["target"] is None else (
            f"{f['target']}: {'met' if f['met'] else 'missed'}")
        print(f"{name:<42} {s['median']:>8.3f} {r['median']:>15.3f} "
              f"[{r['q25']:.3f}, {r['q75']:.3f}]  {target}")
    print(f"(median of {args.runs} fresh interpreters per program, alternating)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
