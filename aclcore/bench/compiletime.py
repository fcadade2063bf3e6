"""Compile time of a family: aclcore's code generator against SymPy's ``lambdify``.

* ``warm``: in this process, aclcore's caches cleared before every compile (SymPy's memo of
  sub-expression results stays warm, as it is after the first family of a session), paired
  round by round with ``lambdify(..., "torch")`` of the same formula;
* ``cold``: the first compile in a fresh interpreter (SymPy's first-use imports and memo
  empty), against the first ``lambdify`` in another fresh interpreter, round by round. The
  compiler's own modules are imported before the clock starts, as ``import sympy`` imports
  ``lambdify``'s (about 15 ms here: start-up, measured by :mod:`aclcore.bench.startup`);
* ``cached``: a compile that the cache answers.
"""

from __future__ import annotations

import subprocess
import sys

import sympy as sp

from aclcore.bench.harness import Comparison, compare
from aclcore.compile.compiler import clear_cache, compile_family
from aclcore.plugins.registry import families
from aclcore.symbolic.family import KernelFamily

__all__ = ["measure_cold", "measure_warm"]


def _lambdify(family: KernelFamily) -> object:
    args = [*family.coords, *(p.symbol for p in family.params)]
    return sp.lambdify(args, family.sympy_expr, modules="torch")


def measure_warm(name: str = "gabor", *, rounds: int = 11, repeats: int = 3) -> Comparison:
    """Cases ``lambdify`` (the baseline), ``aclcore warm`` and ``aclcore cached``."""
    family = families()[name]

    def warm() -> None:
        clear_cache()
        compile_family(family)

    return compare({"lambdify": lambda: _lambdify(family), "aclcore warm": warm,
                    "aclcore cached": lambda: compile_family(family)},
                   baseline="lambdify", rounds=rounds, repeats=repeats, clock="wall")


_COLD = """
import time, aclcore, sympy as sp, torch
import aclcore.compile.compiler, aclcore.compile.codegen, aclcore.symbolic.special
family = aclcore.families()[{name!r}]
start = time.perf_counter()
{work}
print(time.perf_counter() - start)
"""
_WORK = {
    "lambdify": "sp.lambdify([*family.coords, *(p.symbol for p in family.params)], "
                "family.sympy_expr, modules='torch')",
    "aclcore cold": "aclcore.compile_family(family)",
}


def measure_cold(name: str = "gabor", *, rounds: int = 3) -> Comparison:
    """The first compile in a fresh interpreter (case ``aclcore cold``) against the first
    ``lambdify`` (the baseline), seconds reported by the child process."""
    result = Comparison("lambdify", {k: [] for k in _WORK}, clock="wall")
    for r in range(max(rounds, 1)):
        order = list(_WORK) if r % 2 == 0 else list(reversed(_WORK))
        for case in order:
            code = _COLD.format(name=name, work=_WORK[case])
            out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                                 text=True)
            result.times[case].append(float(out.stdout.split()[-1]))
    return result
