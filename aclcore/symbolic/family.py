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
from typing import TYPE_CHECKING, Any, Union, cast

import sympy as sp

from aclcore.errors import ConfigError, FamilyError, FamilyParseError, ParseError
from aclcore.symbolic import checks
from aclcore.symbolic.checks import SYMBOL_NAME, canonical_symbol, symbol_name
from aclcore.symbolic.constraints import Constraint, ConstraintSpec, Interval, as_constraint
from aclcore.symbolic.functions import active_table

if TYPE_CHECKING:  # Param.sample imports torch itself: declaring a family needs no torch
    import torch

__all__ = [
    "FAMILY_NAME",
    "NORMALIZATIONS",
    "RESERVED_NAMES",
    "SYMMETRIES",
    "KernelFamily",
    "Param",
    "canonical_symbol",
    "normalize_problem",
]

#: Per-family normalisations of a sampled kernel (see ``docs/concepts.md``).
NORMALIZATIONS = ("none", "sum", "zero_mean", "l2")

#: Declarable symmetries, checked by :mod:`aclcore.testing`: ``even:<coord>`` (f(-c) = f(c)),
#: ``odd:<coord>`` (f(-c) = -f(c)) and ``rot90`` (invariant under (x, y) -> (-y, x)).
SYMMETRIES = ("even", "odd", "rot90")

#: What a family name looks like: a lowercase identifier of at most 64 characters.
FAMILY_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
#: Names no family may take (``"free"`` means ordinary learned kernels in a mosaic).
RESERVED_NAMES = frozenset({"free"})


def normalize_problem(mode: object) -> str | None:
    """Why ``mode`` is not a normalisation (``None`` when it is one of :data:`NORMALIZATIONS`)."""
    if isinstance(mode, str) and mode in NORMALIZATIONS:
        return None
    return f"normalize={mode!r} is unknown: use one of {', '.join(NORMALIZATIONS)}"

SymbolLike = Union[sp.Symbol, str]  # noqa: UP007 (a runtime alias; Python 3.10 compatible)
Init = Union[float, tuple[float, float]]  # noqa: UP007


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
        name = symbol_name(self.symbol, "Param symbol")
        if not SYMBOL_NAME.match(name):
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
        """The parameter's :class:`~aclcore.symbolic.constraints.Constraint`."""
        assert isinstance(self.constraint, Constraint)  # normalised in __post_init__
        return self.constraint

    def to_json(self) -> dict[str, Any]:
        """The parameter as plain JSON values: name, constraint, init, description.

        The record used by ``acl families --json`` and by the JSON export.
        """
        return {
            "name": self.name,
            "constraint": self.constraint_obj.to_json(),
            "init": list(self.init) if isinstance(self.init, tuple) else self.init,
            "description": self.description,
        }

    def sample(
        self,
        shape: Sequence[int],
        *,
        generator: torch.Generator | None = None,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> torch.Tensor:
        """Initial *constrained* values of the given shape (uniform for a pair init)."""
        import torch

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
        if not isinstance(self.name, str) or not FAMILY_NAME.match(self.name):
            problems.append(
                f"name {self.name!r} is invalid: use a lowercase identifier such as 'gabor' "
                "or 'log_2d' (letters, digits, underscores; at most 64 characters)"
            )
        elif self.name in RESERVED_NAMES:
            problems.append(f"name {self.name!r} is reserved for ordinary (free) kernels")
        expr = self._to_expr(label)
        coords = checks.names(self.coords, "coordinate", problems)
        params = tuple(self.params) if isinstance(self.params, Iterable) else None
        if params is None or not all(isinstance(p, Param) for p in params):
            problems.append("params must be a sequence of aclcore.Param")
            params = tuple(p for p in (params or ()) if isinstance(p, Param))
        constant_along = checks.names(self.constant_along, "constant_along entry", problems)
        pnames = [p.name for p in params]
        checks.check_coords(coords, problems)
        checks.check_names(coords, pnames, problems)
        expr = checks.canonical(expr)
        checks.check_symbols(expr, coords, pnames, constant_along, problems)
        checks.check_functions(expr, active_table(), problems)
        if (problem := normalize_problem(self.normalize)) is not None:
            problems.append(problem)
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
        # looked up on every kernel sampling: computed once (not dataclass fields)
        object.__setattr__(self, "_coord_names", tuple(coords))
        object.__setattr__(self, "_param_names", tuple(pnames))

    # -- construction helpers -------------------------------------------------------------
    def _to_expr(self, label: str) -> sp.Expr:
        expr = self.expr
        if isinstance(expr, str):
            from aclcore.symbolic.parse import parse_formula  # imported on first use

            table = active_table()  # never loads plugins (see aclcore.symbolic.functions)
            try:
                # a name the table does not know yet may be a plugin function still to come
                expr = parse_formula(expr, functions=table.names(),
                                     undefined_functions=not table.complete)
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
        return self._coord_names  # type: ignore[no-any-return,attr-defined]

    @property
    def param_names(self) -> tuple[str, ...]:
        """Parameter names in declaration order."""
        return self._param_names  # type: ignore[no-any-return,attr-defined]

    def param(self, name: str) -> Param:
        """The :class:`Param` called ``name`` (``KeyError`` naming the family otherwise)."""
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(f"family {self.name!r} has no parameter {name!r}")

    def check_param_names(self, names: Iterable[str]) -> None:
        """Raise :class:`~aclcore.errors.ConfigError` unless ``names`` are exactly the AKPs."""
        given = list(names)
        missing = [n for n in self.param_names if n not in given]
        extra = [n for n in given if n not in self.param_names]
        if missing or extra:
            raise ConfigError(
                f"family {self.name!r} takes AKPs {list(self.param_names)}; "
                f"missing {missing}, unexpected {extra}"
            )

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
