"""Kernel families (ACK families) and their parameters (AKPs) as frozen, validated values.

A :class:`KernelFamily` is a SymPy expression over 1, 2 or 3 spatial coordinates and a set of
parameters; each :class:`Param` carries its initialisation and its constraint. Everything is
validated at construction and every problem is reported at once in a
:class:`~aclcore.errors.FamilyError` that names the offending symbol or sub-expression.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Union, cast

import sympy as sp
import torch

from aclcore.constraints import Constraint, ConstraintSpec, Interval, as_constraint
from aclcore.errors import FamilyError, FamilyParseError, ParseError

__all__ = ["NORMALIZATIONS", "SYMMETRIES", "KernelFamily", "Param"]

#: Per-family normalisations of a sampled kernel (see ``docs/concepts.md``).
NORMALIZATIONS = ("none", "sum", "zero_mean", "l2")

#: Declarable symmetries, checked by :mod:`aclcore.testing`: ``even:<coord>`` (f(-c) = f(c)),
#: ``odd:<coord>`` (f(-c) = -f(c)) and ``rot90`` (invariant under (x, y) -> (-y, x)).
SYMMETRIES = ("even", "odd", "rot90")

_FAMILY_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_SYMBOL_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
_CANONICAL_AXES = ("x", "y", "z")
RESERVED_NAMES = frozenset({"free"})

SymbolLike = Union[sp.Symbol, str]  # noqa: UP007 (a runtime alias; Python 3.10 compatible)
Init = Union[float, tuple[float, float]]  # noqa: UP007


def _symbol_name(obj: object, what: str) -> str:
    if isinstance(obj, sp.Symbol):
        return str(obj.name)
    if isinstance(obj, str):
        return obj
    raise FamilyError(f"{what} must be a SymPy Symbol or a name, got {obj!r}")


def canonical_symbol(name: str) -> sp.Symbol:
    """The one symbol aclcore uses for ``name``: ``Symbol(name, real=True)``."""
    return sp.Symbol(name, real=True)


def _default_init(constraint: Constraint) -> float:
    if isinstance(constraint, Interval):
        return (constraint.lo + constraint.hi) / 2
    return 1.0 if constraint.spec == "positive" else 0.0


@dataclass(frozen=True)
class Param:
    """An analytic kernel parameter (AKP) of a family.

    Args:
        symbol: the SymPy symbol (or its name) as it occurs in the family's expression.
        init: a number (every kernel starts there) or a pair ``(lo, hi)`` (uniform random
            per kernel). Default: 0 for ``real``/``angle``, 1 for ``positive``, the midpoint
            of an interval.
        constraint: ``"real"``, ``"positive"``, ``"angle"`` or ``(lo, hi)``; a
            reparameterisation, so the optimiser sees an unconstrained raw tensor.
        description: what the parameter means (shown by ``acl families`` and in exports).
    """

    symbol: SymbolLike
    init: Init | None = None
    constraint: ConstraintSpec = "real"
    description: str = ""

    def __post_init__(self) -> None:
        name = _symbol_name(self.symbol, "Param symbol")
        if not _SYMBOL_NAME.match(name):
            raise FamilyError(
                f"parameter name {name!r} is invalid: use a letter followed by letters, digits "
                "or underscores (at most 64 characters), e.g. 'sigma' or 'theta_1'"
            )
        constraint = as_constraint(self.constraint)
        object.__setattr__(self, "symbol", canonical_symbol(name))
        object.__setattr__(self, "constraint", constraint)
        init = _default_init(constraint) if self.init is None else self.init
        object.__setattr__(self, "init", self._check_init(name, init, constraint))
        if not isinstance(self.description, str):
            raise FamilyError(f"parameter {name!r}: description must be a string")

    @staticmethod
    def _check_init(name: str, init: object, constraint: Constraint) -> Init:
        def number(v: object) -> float:
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise FamilyError(
                    f"parameter {name!r}: init must be a number or a pair (lo, hi), got {init!r}"
                )
            return float(v)

        if isinstance(init, (tuple, list)):
            if len(init) != 2:
                raise FamilyError(
                    f"parameter {name!r}: init pair must have two numbers (lo, hi), got {init!r}"
                )
            lo, hi = number(init[0]), number(init[1])
            if not lo <= hi:
                raise FamilyError(f"parameter {name!r}: init range {init!r} needs lo <= hi")
            values: tuple[float, ...] = (lo, hi)
            result: Init = (lo, hi)
        else:
            values = (number(init),)
            result = values[0]
        bad = [v for v in values if not constraint.contains(v)]
        if bad:
            raise FamilyError(
                f"parameter {name!r}: init {init!r} is outside its constraint "
                f"{constraint.to_json()!r} (expected {constraint.describe()}); change init"
            )
        return result

    @property
    def name(self) -> str:
        """The parameter's name (the key used for tensors, state dicts and JSON)."""
        return str(self.symbol.name)  # type: ignore[union-attr]

    @property
    def constraint_obj(self) -> Constraint:
        """The parameter's :class:`~aclcore.constraints.Constraint`."""
        assert isinstance(self.constraint, Constraint)  # normalised in __post_init__
        return self.constraint

    def sample(
        self,
        shape: Sequence[int],
        *,
        generator: torch.Generator | None = None,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> torch.Tensor:
        """Initial *constrained* values of the given shape (uniform for a pair init)."""
        init = self.init
        if isinstance(init, tuple):
            lo, hi = init
            u = torch.rand(tuple(shape), generator=generator, dtype=dtype, device=device)
            return lo + (hi - lo) * u
        assert isinstance(init, float)  # normalised in __post_init__
        return torch.full(tuple(shape), init, dtype=dtype, device=device)


@dataclass(frozen=True)
class KernelFamily:
    """An analytic convolution kernel (ACK) family: a formula with learnable parameters.

    Args:
        name: a lowercase identifier (``[a-z][a-z0-9_]*``); families are referenced by name
            from layers, the CLI and JSON. ``"free"`` is reserved.
        expr: a SymPy expression, or a formula string (parsed safely, never evaluated).
        coords: the spatial coordinates, 1 to 3 symbols or names. Positional: the first is
            the horizontal axis (x), the second the vertical axis (y, upwards), the third
            depth (z). Names from x, y, z must come in that order.
        params: the AKPs (:class:`Param`), each occurring in ``expr``.
        description: one line on what the family is (the maths belongs in the docstring of
            the module that declares it).
        normalize: default normalisation of a sampled kernel: "none", "sum", "zero_mean" or
            "l2".
        constant_along: coordinates the expression deliberately does not depend on (e.g. a
            1-D profile used as a 2-D kernel).
        symmetries: declared symmetries that tests verify, from ``even:<coord>``,
            ``odd:<coord>`` and ``rot90``.

    Raises:
        FamilyError: listing every problem found (unknown or unused symbols, duplicate or
            invalid names, unsupported functions, invalid options).
    """

    name: str
    expr: sp.Expr | str
    coords: Sequence[SymbolLike]
    params: Sequence[Param] = ()
    description: str = ""
    normalize: str = "none"
    constant_along: Sequence[SymbolLike] = ()
    symmetries: Sequence[str] = ()

    def __post_init__(self) -> None:
        label = self.name if isinstance(self.name, str) else repr(self.name)
        problems: list[str] = []
        if not isinstance(self.name, str) or not _FAMILY_NAME.match(self.name):
            problems.append(
                f"name {self.name!r} is invalid: use a lowercase identifier such as 'gabor' "
                "or 'log_2d' (letters, digits, underscores; at most 64 characters)"
            )
        elif self.name in RESERVED_NAMES:
            problems.append(f"name {self.name!r} is reserved for ordinary (free) kernels")
        expr = self._to_expr(label)
        coords = self._names(self.coords, "coordinate", problems)
        params = tuple(self.params) if isinstance(self.params, Iterable) else None
        if params is None or not all(isinstance(p, Param) for p in params):
            problems.append("params must be a sequence of aclcore.Param")
            params = tuple(p for p in (params or ()) if isinstance(p, Param))
        constant_along = self._names(self.constant_along, "constant_along entry", problems)
        self._check_coords(coords, problems)
        self._check_names(coords, params, problems)
        expr = self._canonical(expr)
        self._check_symbols(expr, coords, params, constant_along, problems)
        self._check_functions(expr, problems)
        if self.normalize not in NORMALIZATIONS:
            problems.append(
                f"normalize={self.normalize!r} is unknown: use one of {', '.join(NORMALIZATIONS)}"
            )
        symmetries = self._check_symmetries(coords, problems)
        if not isinstance(cast(object, self.description), str):
            problems.append("description must be a string")
        if problems:
            raise FamilyError(
                f"invalid kernel family {label}:\n" + "\n".join(f"  - {p}" for p in problems),
                problems,
            )
        object.__setattr__(self, "expr", expr)
        object.__setattr__(self, "coords", tuple(canonical_symbol(c) for c in coords))
        object.__setattr__(self, "params", params)
        object.__setattr__(self, "constant_along", tuple(constant_along))
        object.__setattr__(self, "symmetries", symmetries)

    # -- construction helpers -------------------------------------------------------------
    def _to_expr(self, label: str) -> sp.Expr:
        expr = self.expr
        if isinstance(expr, str):
            from aclcore.parse import parse_formula  # parse imports nothing from here
            from aclcore.plugins import formula_functions

            try:
                # built-in names plus functions registered by plugins (loads them once)
                expr = parse_formula(expr, functions=formula_functions())
            except ParseError as err:
                raise FamilyParseError(label, err) from err
        elif isinstance(expr, bool) or not isinstance(expr, (int, float, sp.Basic)):
            raise FamilyError(
                f"invalid kernel family {label}: expr must be a SymPy expression or a formula "
                f"string, got {type(expr).__name__}"
            )
        elif isinstance(expr, (int, float)):
            expr = sp.Float(expr) if isinstance(expr, float) else sp.Integer(expr)
        if not isinstance(expr, sp.Expr):
            raise FamilyError(
                f"invalid kernel family {label}: expr must be a scalar expression, "
                f"got {type(expr).__name__} {expr}"
            )
        return expr

    @staticmethod
    def _names(items: object, what: str, problems: list[str]) -> list[str]:
        if isinstance(items, (str, sp.Symbol)):
            items = (items,)
        if not isinstance(items, Iterable):
            problems.append(f"{what}s must be a sequence of symbols or names, got {items!r}")
            return []
        names = []
        for item in items:
            try:
                names.append(_symbol_name(item, what))
            except FamilyError as err:
                problems.append(str(err))
        return names

    @staticmethod
    def _check_coords(coords: list[str], problems: list[str]) -> None:
        if not 1 <= len(coords) <= 3:
            problems.append(
                f"a family has 1, 2 or 3 coordinates (x; x, y; x, y, z), got {len(coords)}"
            )
        for c in coords:
            if not _SYMBOL_NAME.match(c):
                problems.append(f"coordinate name {c!r} is invalid: use e.g. 'x'")
        axes = [c for c in coords if c in _CANONICAL_AXES]
        if axes and axes != [a for a in _CANONICAL_AXES[: len(coords)] if a in axes]:
            problems.append(
                f"coordinates {tuple(coords)} are out of order: coordinates are positional "
                f"(horizontal, vertical, depth); declare them as {_CANONICAL_AXES[: len(coords)]}"
            )

    @staticmethod
    def _check_names(coords: list[str], params: tuple[Param, ...], problems: list[str]) -> None:
        seen: dict[str, str] = {}
        for kind, name in [("coordinate", c) for c in coords] + [
            ("parameter", p.name) for p in params
        ]:
            if name in seen:
                problems.append(f"duplicate name {name!r} (a {seen[name]} and a {kind})")
            else:
                seen[name] = kind

    @staticmethod
    def _canonical(expr: sp.Expr) -> sp.Expr:
        mapping = {s: canonical_symbol(s.name) for s in expr.free_symbols}
        return expr.xreplace(mapping) if mapping else expr

    @staticmethod
    def _check_symbols(
        expr: sp.Expr,
        coords: list[str],
        params: tuple[Param, ...],
        constant_along: list[str],
        problems: list[str],
    ) -> None:
        present = {s.name for s in expr.free_symbols}
        declared = set(coords) | {p.name for p in params}
        for name in sorted(present - declared):
            problems.append(
                f"symbol {name!r} is neither a coordinate nor a parameter: declare it with "
                f"Param({name!r}, ...) or replace it by a number"
            )
        for p in params:
            if p.name not in present:
                problems.append(
                    f"parameter {p.name!r} does not occur in the expression: remove it "
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

    @staticmethod
    def _check_functions(expr: sp.Expr, problems: list[str]) -> None:
        from aclcore.registry import current_registry
        from aclcore.translate import unsupported_parts

        # a plugin module may declare a family that uses its own function before the loader
        # has called its acl_register_functions hook; the loader compiles every family anyway
        defer = current_registry().loading_in_this_thread
        problems.extend(
            f"unsupported: {p}" for p in unsupported_parts(expr, defer_unknown_functions=defer)
        )

    def _check_symmetries(self, coords: list[str], problems: list[str]) -> tuple[str, ...]:
        items = self.symmetries
        if isinstance(items, str):
            items = (items,)
        out = []
        for item in items:
            kind, _, axis = str(item).partition(":")
            rot = kind == "rot90" and not axis and len(coords) >= 2
            if rot or (kind in ("even", "odd") and axis in coords):
                out.append(item)
            else:
                problems.append(
                    f"symmetry {item!r} is unknown: use 'even:<coord>', 'odd:<coord>' or "
                    "'rot90' (2-D and 3-D)"
                )
        return tuple(out)

    # -- accessors --------------------------------------------------------------------------
    @property
    def ndim(self) -> int:
        """Number of spatial coordinates (1, 2 or 3)."""
        return len(self.coords)

    @property
    def coord_names(self) -> tuple[str, ...]:
        """Coordinate names in positional order."""
        return tuple(str(c.name) for c in self.coords)  # type: ignore[union-attr]

    @property
    def param_names(self) -> tuple[str, ...]:
        """Parameter names in declaration order."""
        return tuple(p.name for p in self.params)

    def param(self, name: str) -> Param:
        """The :class:`Param` called ``name`` (``KeyError`` naming the family otherwise)."""
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(f"family {self.name!r} has no parameter {name!r}")

    @property
    def sympy_expr(self) -> sp.Expr:
        """The validated expression (canonical ``real=True`` symbols)."""
        assert isinstance(self.expr, sp.Expr)  # normalised in __post_init__
        return self.expr

    def substitute(self, values: dict[str, Any]) -> sp.Expr:
        """The expression with parameter values (numbers or SymPy) substituted by name."""
        unknown = set(values) - set(self.param_names)
        if unknown:
            raise KeyError(f"family {self.name!r} has no parameters {sorted(unknown)}")
        subs = {canonical_symbol(k): _to_sympy_number(v) for k, v in values.items()}
        return self.sympy_expr.xreplace(subs)


def _to_sympy_number(value: Any) -> sp.Basic:
    if isinstance(value, sp.Basic):
        return value
    if isinstance(value, bool):
        raise TypeError("booleans are not parameter values")
    if isinstance(value, int):
        return sp.Integer(value)
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"parameter value {value!r} is not finite")
    return sp.Float(v)
