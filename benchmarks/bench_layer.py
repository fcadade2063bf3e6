"""Analytic layers against nn.ConvNd of the same shape, measured in the same run.

For every case of ``aclcore.bench.layers.LAYER_CASES`` (the first layer 3 -> 64 with 7x7 and
11x11 kernels, a 64 -> 64 3x3 layer, SincNet's 1-D band-pass layer, a 3-D layer and a 31x31
large-kernel layer) the ratios ACL / ``nn.ConvNd`` of

* the time of a training step (zero_grad, forward, mean-square loss, backward, SGD step),
* the time of an eval forward under ``torch.no_grad`` (the ACL serves its bank from the eval
  cache),
* the peak memory allocated by one training step (torch profiler memory timeline),

with the timing rule of :mod:`aclcore.bench.harness` (alternating rounds, CPU time of the
thread with one torch thread). No assertions: this is a measurement.

Run: ``python benchmarks/bench_layer.py [--rounds 15] [--repeats 3] [--quick] [--threads 1]
[--cases NAME,...] [--json]`` (a few minutes on 2 CPU cores; ``--quick``: small batches).
"""

from __future__ import annotations

import argparse
from dataclasses import replace

from aclcore.bench.harness import machine, torch_threads
from aclcore.bench.suite import QUICK, SuiteConfig, report, run_suite


def main() -> None:
    """Measure every case and print the table (or JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="ratio samples")
    parser.add_argument("--repeats", type=int, default=3, help="steps per case and round")
    parser.add_argument("--quick", action="store_true", help="small batches, few rounds")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (0: torch's)")
    parser.add_argument("--cases", default=None, help="comma-separated case names")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args()
    config = SuiteConfig(groups=("layer",), rounds=args.rounds, repeats=args.repeats,
                         layer_quick=False)
    if args.quick:
        config = SuiteConfig(groups=("layer",), rounds=QUICK.rounds + 2,
                             repeats=QUICK.repeats, layer_quick=True)
    if args.cases:
        config = replace(config, layer_cases=tuple(args.cases.split(",")))
    with torch_threads(args.threads or None):
        env = machine()
        rows = run_suite(config)
    print(report(env, rows, as_json=args.json,
                 note=f"; {config.rounds} rounds x {config.repeats} steps"))


if __name__ == "__main__":
    main()
