"""Validation of a kernel family's parts; each check appends readable problems to a list.

Used by :class:`aclcore.symbolic.family.KernelFamily` so that every problem is reported at once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import sympy as sp

from aclcore.errors import FamilyError
from aclcore.symbolic.functions import FunctionTable

SYMBOL_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
CANONICAL_AXES = ("x", "y", "z")


def symbol_name(obj: object, what: str) -> str:
    """The name of a Symbol or a name string (FamilyError otherwise)."""
    if isinstance(obj, sp.Symbol):
        return str(obj.name)
    if isinstance(obj, str):
        return obj
    raise FamilyError(f"{what} must be a SymPy Symbol or a name, got {obj!r}")


def canonical_symbol(name: str) -> sp.Symbol:
    """The one symbol aclcore uses for ``name``: ``Symbol(name, real=True)``."""
    return sp.Symbol(name, real=True)


def names(items: object, what: str, problems: list[str]) -> list[str]:
    if isinstance(items, (str, sp.Symbol)):
        items = (items,)
    if not isinstance(items, Iterable):
        problems.append(f"{what}s must be a sequence of symbols or names, got {items!r}")
        return []
    names = []
    for item in items:
        try:
            names.append(symbol_name(item, what))
        except FamilyError as err:
            problems.append(str(err))
    return names

def check_coords(coords: list[str], problems: list[str]) -> None:
    if not 1 <= len(coords) <= 3:
        problems.append(
            f"a family has 1, 2 or 3 coordinates (x; x, y; x, y, z), got {len(coords)}"
        )
    for c in coords:
        if not SYMBOL_NAME.match(c):
            problems.append(f"coordinate name {c!r} is invalid: use e.g. 'x'")
    axes = [c for c in coords if c in CANONICAL_AXES]
    if axes and axes != [a for a in CANONICAL_AXES[: len(coords)] if a in axes]:
        problems.append(
            f"coordinates {tuple(coords)} are out of order: coordinates are positional "
            f"(horizontal, vertical, depth); declare them as {CANONICAL_AXES[: len(coords)]}"
        )

def check_names(coords: list[str], params: list[str], problems: list[str]) -> None:
    seen: dict[str, str] = {}
    for kind, name in [("coordinate", c) for c in coords] + [
        ("parameter", p) for p in params
    ]:
        if name in seen:
            problems.append(f"duplicate name {name!r} (a {seen[name]} and a {kind})")
        else:
            seen[name] = kind

def canonical(expr: sp.Expr) -> sp.Expr:
    """``expr`` with every symbol replaced by its canonical (real) symbol of the same name, and
    every exact numeric product, sum or power in SymPy's evaluated form.

    SymPy can build numeric sub-expressions that its own arithmetic never produces (a power of
    a product gives ``Mul(3, 15**(3/4), sqrt(3))``, which ``3*15**(3/4)*sqrt(3)`` evaluates to
    ``9*3**(1/4)*5**(3/4)``). No formula string can express such a form, so it is evaluated
    here: the family's formula then survives ``formula_to_string`` -> ``parse_formula``
    exactly (the JSON export, fingerprints) and equal formulas compare equal.
    """
    mapping = {s: canonical_symbol(s.name) for s in expr.free_symbols}
    expr = expr.xreplace(mapping) if mapping else expr
    return _evaluated_numbers(expr)


_NUMERIC_NODES = (sp.Add, sp.Mul, sp.Pow)


def _evaluated_numbers(expr: sp.Basic) -> sp.Basic:
    """``expr`` with its exact numeric Add/Mul/Pow nodes rebuilt (evaluated), bottom-up."""
    if not expr.args or expr.is_Atom:
        return expr
    args = tuple(_evaluated_numbers(a) for a in expr.args)
    changed = args != expr.args
    if isinstance(expr, _NUMERIC_NODES) and expr.is_number and not expr.has(sp.Float):
        rebuilt = expr.func(*args)
        return rebuilt if rebuilt != expr or changed else expr
    return expr.func(*args) if changed else expr

def check_symbols(
    expr: sp.Expr,
    coords: list[str],
    params: list[str],
    constant_along: list[str],
    problems: list[str],
) -> None:
    present = {s.name for s in expr.free_symbols}
    declared = set(coords) | set(params)
    for name in sorted(present - declared):
        problems.append(
            f"symbol {name!r} is neither a coordinate nor a parameter: declare it with "
            f"Param({name!r}, ...) or replace it by a number"
        )
    for p in params:
        if p not in present:
            problems.append(
                f"parameter {p!r} does not occur in the expression: remove it "
                "or use it in the formula"
            )
    for c in constant_along:
        if c not in coords:
            problems.append(f"constant_along names {c!r}, which is not a coordinate")
        elif c in present:
            problems.append(
                f"constant_along names {c!r}, but the expression depends on {c!r}"
            )
    for c in coords:
        if c not in present and c not in constant_along:
            problems.append(
                f"coordinate {c!r} does not occur in the expression: use it, or declare "
                f"constant_along=({c!r},) if the kernel is constant along it"
            )

def check_functions(expr: sp.Expr, table: FunctionTable, problems: list[str]) -> None:
    """Every function of ``expr`` the compiler cannot lower, checked against ``table``.

    While the table is incomplete (plugins not loaded yet, or loading), a function it does
    not know is not a problem yet: compiling the family checks it against the complete table.
    """
    problems.extend(
        f"unsupported: {p}"
        for p in table.unsupported_parts(expr, defer_unknown=not table.complete)
    )
