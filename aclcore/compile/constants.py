"""The numeric value of a formula's constants: finite real floats, or the reason they are not.

One rule for the code generator (which folds every constant sub-expression into a Python
float) and the plugin loader's checks (which refuse a family whose constants do not fit a
float before anything is compiled). Needs SymPy only, no torch.
"""

from __future__ import annotations

import math

import sympy as sp

__all__ = ["NUMBER_WORK", "constant_problems", "constant_value"]

#: Python-level calls evaluating one constant may make (``exp(exp(exp(100)))`` would take
#: forever; ordinary constants need a few thousand): about 2 s of SymPy work here.
NUMBER_WORK = 2_000_000


def _short(expr: sp.Basic) -> str:
    text = str(expr)
    return text if len(text) <= 80 else text[:77] + "..."


def constant_value(expr: sp.Basic) -> float | str:
    """``expr`` (free of symbols) as a finite float, or a message saying why it is not one."""
    from aclcore.symbolic.budget import Overtime, WorkBudget  # first use, not at import

    budget = WorkBudget(NUMBER_WORK)
    try:
        if isinstance(expr, sp.Integer):
            return float(int(expr))
        with budget:
            # chop: a real constant written through I (atan2 -> -I*log(...)) can evaluate
            # with a spurious imaginary part below the working precision
            value = complex(sp.N(expr, 30, chop=True))
    except OverflowError:
        return f"constant {_short(expr)} is too large for a float"
    except Overtime:
        if not budget.exhausted:  # an enclosing budget is used up: not ours to handle
            raise
        return (f"constant {_short(expr)} could not be evaluated within {NUMBER_WORK} calls "
                "of SymPy work (far beyond the float range?)")
    except (TypeError, ValueError):
        return f"constant {_short(expr)} has no numeric value"
    if value.imag != 0 or not math.isfinite(value.real):
        return f"constant {expr} = {value} is not a finite real number"
    return float(value.real)


def constant_problems(expr: sp.Basic) -> list[str]:
    """The problems of every maximal constant sub-expression of ``expr`` (empty: all fine)."""
    problems: list[str] = []
    stack = [expr]
    while stack:
        node = stack.pop()
        if (isinstance(node, sp.Expr) and not node.free_symbols and not node.is_Atom) \
                or isinstance(node, sp.Number):
            value = constant_value(node)
            if isinstance(value, str) and value not in problems:
                problems.append(value)
        else:
            stack.extend(node.args)
    return problems
