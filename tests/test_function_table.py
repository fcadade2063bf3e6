"""Meta-test of THE function table: what the compiler accepts, the printer writes, the parser
reads back and the exports carry, for every row (built-in and plugin-registered).

Before the table was one, ``erfinv`` and ``loggamma`` compiled (a layer trained) and then
``to_json`` and ``save_checkpoint`` failed with "'loggamma' is not an allowed function".
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sympy as sp
import torch

from aclcore import KernelFamily, Param, register_function
from aclcore.export import from_json, to_json
from aclcore.export.checkpoint import load_checkpoint, save_checkpoint
from aclcore.nn import AnalyticConv1d
from aclcore.plugins import Registry, formula_functions
from aclcore.symbolic.functions import BUILTIN_FUNCTIONS, TorchFunction, active_table
from aclcore.symbolic.parse import DEFAULT_FUNCTIONS, formula_to_string, parse_formula

x, a = sp.symbols("x a", real=True)


class spiky(sp.Function):
    """A plugin function: ``spiky(t) = t / (1 + t**2)``."""

    nargs = 1


def _spiky(t: torch.Tensor) -> torch.Tensor:
    return t / (1 + t * t)


def _application(row: TorchFunction) -> sp.Expr:
    """The row's function on an argument that stays inside its domain on a 5-tap grid."""
    lo, hi = row.domain
    mid, half = (lo + hi) / 2, (hi - lo) / 2
    arg = sp.Float(mid) + sp.Float(0.4 * half) * x * a / 2  # x in [-2, 2], a near 1
    if row.name == "besselj":
        return sp.besselj(2, arg)
    if row.name == "Heaviside":
        return sp.Heaviside(arg - sp.Float(mid))
    if 1 not in row.arity:
        return row.sympy(arg, sp.Float(mid) + sp.Float(0.3 * half) * a)
    return row.sympy(arg)


def _check_row(row: TorchFunction, tmp_path: Path) -> None:
    expr = _application(row) + a * x**2  # every row combined with a plain term
    fam = KernelFamily(f"row_{row.name.lower()}", expr, ("x",),
                       [Param(a, init=(0.9, 1.1), constraint=(0.5, 1.5))])
    functions = formula_functions()
    text = formula_to_string(fam.sympy_expr, functions=functions)
    assert sp.srepr(parse_formula(text, functions=functions)) == sp.srepr(fam.sympy_expr), text
    torch.manual_seed(0)
    layer = AnalyticConv1d(2, 3, 5, families={fam: 2, "free": 1}, dtype=torch.float64)
    reloaded = from_json(to_json(layer))
    assert isinstance(reloaded, AnalyticConv1d)
    torch.testing.assert_close(reloaded.weight, layer.weight, atol=0, rtol=0)
    path = save_checkpoint(layer, tmp_path / f"{row.name}.pt")
    torch.testing.assert_close(load_checkpoint(path).layer.weight, layer.weight, atol=0,
                               rtol=0)


@pytest.mark.parametrize("name", sorted(BUILTIN_FUNCTIONS))
def test_every_builtin_row_compiles_prints_parses_and_exports(name: str, tmp_path: Path
                                                              ) -> None:
    _check_row(BUILTIN_FUNCTIONS[name], tmp_path)


def test_a_plugin_row_compiles_prints_parses_and_exports(registry: Registry,
                                                         tmp_path: Path) -> None:
    register_function(spiky, _spiky, domain=(-2.0, 2.0))
    row = active_table().rows["spiky"]
    assert row.provider == "<in-process>"
    _check_row(row, tmp_path)


def test_the_parser_knows_every_row_the_compiler_knows() -> None:
    # one table: the names the parser accepts by default are exactly the table's rows, the
    # alias abs and the structural sqrt, Max, Min, Piecewise
    rows = set(BUILTIN_FUNCTIONS)
    assert set(DEFAULT_FUNCTIONS) == rows | {"abs", "sqrt", "Max", "Min", "Piecewise"}
    for name in rows:
        assert DEFAULT_FUNCTIONS[name] is BUILTIN_FUNCTIONS[name].sympy
