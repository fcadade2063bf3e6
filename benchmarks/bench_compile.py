"""Kernel-bank generation and compile time: aclcore against its baselines, in one run.

* The issue's figure: the Gabor bank of ``aclcore.bench.banks.ISSUE_GABOR`` (64 x 64 kernels of
  7 x 7, forward + backward of its four AKPs), aclcore's compiled function / SymPy's
  ``lambdify(..., "torch")`` (target <= 0.6) and / the hand-written form.
* Every classic family's bank (64 x 64 kernels; 7x7, 31 taps, 5x5x5) through
  ``sample_kernels`` against hand-written torch (target <= 1.0), ``lambdify``, sympytorch and
  kornia's Gaussians (optional: "skipped: not installed"); each generator is checked against
  aclcore's bank and gradients before it is timed.
* Compile time of the Gabor family, warm (caches cleared), cached and cold (a fresh
  interpreter), against ``lambdify`` of the same formula.
* ``--torch-compile``: ``torch.compile`` of the generator on the issue's bank (its compile
  time and the ratio to eager).

The timing rule is :mod:`aclcore.bench.harness` (alternating rounds, CPU time of the thread,
one torch thread by default). No assertions: this is a measurement.

Run: ``python benchmarks/bench_compile.py [--rounds 15] [--repeats 3] [--families a,b]
[--threads 1] [--torch-compile] [--json]``
"""

from __future__ import annotations

import argparse
import time

import torch

from aclcore.bench.banks import ISSUE_GABOR
from aclcore.bench.harness import Comparison, compare, machine, torch_threads
from aclcore.bench.suite import CLASSIC, Row, bank_rows, compile_rows, report, time_rows
from aclcore.compile.compiler import compile_family
from aclcore.nn.grid import kernel_grid


def _torch_compile_rows(rounds: int, repeats: int) -> list[Row]:
    compiled = compile_family(ISSUE_GABOR)
    cx, cy = kernel_grid((7, 7))
    gen = torch.Generator().manual_seed(0)
    shape = (64, 64, 1, 1)
    params = {n: (torch.rand(shape, generator=gen) * s + o).requires_grad_()
              for n, s, o in (("sigma", 1.7, 0.8), ("lambda", 6.0, 2.0), ("theta", 3.14, 0.0),
                              ("psi", 6.28, -3.14))}
    leaves = list(params.values())
    upstream = torch.randn(64, 64, 7, 7, generator=gen)
    start = time.perf_counter()
    traced = torch.compile(lambda c, p: compiled(c, p, check_finite=False), fullgraph=True)
    torch.autograd.grad(traced((cx, cy), params), leaves, upstream)
    seconds = time.perf_counter() - start
    torch.testing.assert_close(traced((cx, cy), params), compiled((cx, cy), params))
    c: Comparison = compare({
        "eager": lambda: torch.autograd.grad(compiled((cx, cy), params), leaves, upstream),
        "torch.compile": lambda: torch.autograd.grad(traced((cx, cy), params), leaves,
                                                     upstream),
    }, baseline="eager", rounds=rounds, repeats=repeats)
    rows = time_rows("bank", "issue Gabor 64x64x7x7 fwd+bwd", c,
                      {"torch.compile": "torch.compile(generator)"}, "eager aclcore")
    rows[0].detail += f"; compiling took {seconds:.1f} s"
    return rows


def main() -> None:
    """Measure and print the table (or JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="ratio samples")
    parser.add_argument("--repeats", type=int, default=3, help="calls per case and round")
    parser.add_argument("--families", default=",".join(CLASSIC),
                        help="comma-separated classic families (default: all)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (0: torch's)")
    parser.add_argument("--torch-compile", action="store_true",
                        help="also time torch.compile of the generator (needs a C compiler)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args()
    names = tuple(n for n in args.families.split(",") if n)
    with torch_threads(args.threads or None):
        env = machine()
        cfg_rows = bank_rows(names, rounds=args.rounds, repeats=args.repeats)
        cfg_rows += compile_rows(rounds=args.rounds, repeats=args.repeats)
        if args.torch_compile:
            cfg_rows += _torch_compile_rows(args.rounds, args.repeats)
    print(report(env, cfg_rows, as_json=args.json,
                 note=f"; {args.rounds} rounds x {args.repeats} calls"))


if __name__ == "__main__":
    main()
