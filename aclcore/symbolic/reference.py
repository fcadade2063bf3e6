"""Reference tables for the documentation, generated from the code so that they cannot drift.

``docs/_hooks.py`` replaces ``<!-- generated:NAME -->`` in a page by ``NAME()`` from here.
"""

from __future__ import annotations

import inspect

from aclcore.symbolic import constraints, parse
from aclcore.symbolic.functions import BUILTIN_FUNCTIONS, STRUCTURAL_RULES

__all__ = ["constraints_table", "grammar", "structural_rules", "translation_table"]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def translation_table() -> str:
    """Markdown table of every built-in function row: formula name, SymPy head, lowering."""
    lines = [
        "| formula name | SymPy | arguments | torch lowering | differentiable |",
        "|---|---|---|---|---|",
    ]
    for name in sorted(BUILTIN_FUNCTIONS, key=str.lower):
        row = BUILTIN_FUNCTIONS[name]
        arity = " or ".join(str(n) for n in row.arity)
        consts = (
            f" (argument {', '.join(str(i + 1) for i in row.constant_args)} constant)"
            if row.constant_args
            else ""
        )
        sym = getattr(row.sympy, "__name__", str(row.sympy))
        lines.append(
            f"| `{name}` | `sympy.{sym}` | {arity}{consts} | {_cell(row.doc)} | "
            f"{'yes' if row.differentiable else 'gradient 0'} |"
        )
    return "\n".join(lines) + "\n"


def structural_rules() -> str:
    """Markdown table of how structural SymPy constructs are lowered."""
    lines = ["| construct | lowering |", "|---|---|"]
    lines += [f"| `{_cell(k)}` | {_cell(v)} |" for k, v in STRUCTURAL_RULES]
    return "\n".join(lines) + "\n"


def grammar() -> str:
    """The accepted formula grammar, from the parser's module docstring."""
    doc = inspect.getdoc(parse) or ""
    start = doc.find("Grammar:")
    return doc[start + len("Grammar:"):].strip() + "\n" if start >= 0 else doc


def constraints_table() -> str:
    """Markdown table of the constraints, from the constraint classes themselves."""
    lines = ["| constraint | raw r → value v | domain |", "|---|---|---|"]
    examples = [constraints.Real(), constraints.Positive(), constraints.Angle(),
                constraints.Interval(0.0, 1.0)]
    for c in examples:
        spec = "`(lo, hi)`" if isinstance(c, constraints.Interval) else f'`"{c.spec}"`'
        domain = "lo < v < hi" if isinstance(c, constraints.Interval) else c.describe()
        lines.append(f"| {spec} | `{c.formula}` | {domain} |")
    return "\n".join(lines) + "\n"
