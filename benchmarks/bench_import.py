"""Start-up cost of aclcore relative to torch: (import aclcore + plugin discovery) / import torch.

Each measurement runs in a fresh interpreter (so nothing is cached in-process), alternating
the programs; the ratio of the medians is printed with the target (<= 1.3), and for context
the floor that aclcore's two heavy dependencies alone set (``import torch, sympy``). Plugin
discovery is the first ``aclcore.families()``: entry points found, plugins imported, hooks
called, every family compiled and checked. ``import aclcore`` itself includes ``import
torch`` and ``import sympy``.

Usage: ``python benchmarks/bench_import.py [--runs 7] [--json]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

TARGET = 1.3

_TORCH = """
import time
t0 = time.perf_counter()
import torch
print(time.perf_counter() - t0)
"""

_FLOOR = """
import time
t0 = time.perf_counter()
import torch, sympy
print(time.perf_counter() - t0)
"""

_ACLCORE = """
import sys, time
t0 = time.perf_counter()
import aclcore
t1 = time.perf_counter()
names = aclcore.families()
t2 = time.perf_counter()
plugins = sorted(m for m in sys.modules if m.startswith(("acl_classic", "acl_example")))
print(t2 - t0, t1 - t0, t2 - t1, len(names), ",".join(plugins))
"""


def _run(code: str) -> list[str]:
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True)
    return out.stdout.split()


def measure(runs: int) -> dict[str, object]:
    """Median seconds of ``import torch`` and of ``import aclcore`` + discovery."""
    torch_times, floor, total, imports, discovery = [], [], [], [], []
    families = 0
    _run(_TORCH)  # warm the OS file cache for all three
    _run(_FLOOR)
    _run(_ACLCORE)
    for _ in range(runs):
        torch_times.append(float(_run(_TORCH)[0]))
        floor.append(float(_run(_FLOOR)[0]))
        fields = _run(_ACLCORE)
        total.append(float(fields[0]))
        imports.append(float(fields[1]))
        discovery.append(float(fields[2]))
        families = int(fields[3])
    t_torch = statistics.median(torch_times)
    t_total = statistics.median(total)
    return {
        "runs": runs,
        "import_torch_s": t_torch,
        "import_torch_sympy_s": statistics.median(floor),
        "import_aclcore_s": statistics.median(imports),
        "discovery_s": statistics.median(discovery),
        "import_plus_discovery_s": t_total,
        "families": families,
        "ratio": t_total / t_torch,
        "floor_ratio": statistics.median(floor) / t_torch,
        "target": TARGET,
    }


def main(argv: list[str] | None = None) -> int:
    """Print the ratio; exit status 0 (the benchmark reports, it does not gate)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="fresh interpreters per program")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    result = measure(args.runs)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"import torch                      {result['import_torch_s']:.3f} s (median of "
          f"{args.runs})")
    print(f"import torch, sympy (the floor)   {result['import_torch_sympy_s']:.3f} s")
    print(f"import aclcore                    {result['import_aclcore_s']:.3f} s")
    print(f"plugin discovery ({result['families']} families)   "
          f"{result['discovery_s']:.3f} s")
    print(f"ratio (import + discovery) / import torch = {result['ratio']:.3f} "
          f"(target <= {TARGET}; torch + sympy alone: {result['floor_ratio']:.3f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
