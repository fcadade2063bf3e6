"""Lowering of a SymPy expression to the source of a torch function.

The emitter walks the expression once, gives every distinct sub-expression one temporary
(common sub-expression elimination by structural identity) and lowers each node through the
translation table. Piecewise branches (and removable-singularity branches) are emitted in
*scopes*: every tensor a branch reads from outside is first passed through ``_guard(mask, t)``,
so that where the branch is not selected its backward pass cannot carry ``0 * inf = NaN`` back
into the parameters. Unsupported nodes are collected, not raised one by one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sympy as sp
import torch

from aclcore.compile import safe
from aclcore.compile.constants import constant_value
from aclcore.symbolic.functions import FunctionTable

__all__ = ["Emitter", "Scope"]

#: Integer powers up to this exponent are emitted as such; larger ones go through floats.
_MAX_INT_EXPONENT = 2**62


_RELATIONAL_OPS = {
    sp.StrictLessThan: "<",
    sp.LessThan: "<=",
    sp.StrictGreaterThan: ">",
    sp.GreaterThan: ">=",
    sp.Equality: "==",
    sp.Unequality: "!=",
}


@dataclass
class Scope:
    """A region of generated code whose values are only used where ``mask`` holds."""

    mask: str | None
    memo: dict[sp.Basic, str] = field(default_factory=dict)


class Emitter:
    """Accumulates generated statements for one kernel function."""

    def __init__(self, symbol_vars: dict[sp.Symbol, str], coords: set[sp.Symbol],
                 table: FunctionTable) -> None:
        self.coords = coords
        self.table = table
        self.lines: list[str] = []
        self.namespace: dict[str, Any] = {"torch": torch, "_guard": safe.safe_guard}
        self.unsupported: list[str] = []
        self._counter = 0
        self.scopes: list[Scope] = [Scope(mask=None)]
        for sym, var in symbol_vars.items():
            self.scopes[0].memo[sym] = var

    # -- bookkeeping ------------------------------------------------------------------------
    def _new(self, prefix: str = "_t") -> str:
        self._counter += 1
        return f"{prefix}{self._counter}"

    def assign(self, code: str, prefix: str = "_t") -> str:
        """Emit ``var = code`` and return ``var``."""
        var = self._new(prefix)
        self.lines.append(f"{var} = {code}")
        return var

    def _fail(self, message: str) -> str:
        if message not in self.unsupported:
            self.unsupported.append(message)
        return "_z"

    def push(self, mask: str | None) -> None:
        """Enter a branch scope whose results are used only where ``mask`` holds."""
        outer = self.scopes[-1].mask
        if mask is not None and outer is not None:
            mask = self.assign(f"{outer} & {mask}", "_m")
        self.scopes.append(Scope(mask=mask if mask is not None else outer))

    def pop(self) -> None:
        """Leave the current branch scope."""
        self.scopes.pop()

    def tensor(self, code: str) -> str:
        """``code`` as a tensor expression (Python literals become 0-d tensors)."""
        return code if _is_var(code) else f"(_z + {code})"

    # -- the walk ---------------------------------------------------------------------------
    def emit(self, expr: sp.Basic) -> str:
        """Return a Python expression (a variable or a literal) computing ``expr``."""
        if isinstance(expr, sp.logic.boolalg.BooleanAtom):
            return "True" if bool(expr) else "False"
        if isinstance(expr, sp.Expr) and not expr.free_symbols:
            return self._number(expr)
        current = self.scopes[-1]
        if expr in current.memo:
            return current.memo[expr]
        for scope in reversed(self.scopes[:-1]):
            if expr in scope.memo:
                var = scope.memo[expr]
                if current.mask is not None and scope.mask != current.mask:
                    var = self.assign(f"_guard({current.mask}, {var})", "_g")
                current.memo[expr] = var
                return var
        if isinstance(expr, sp.Symbol):
            return self._fail(f"symbol {expr} is not an input")
        var = self.assign(self._lower(expr))
        current.memo[expr] = var
        return var

    def _number(self, expr: sp.Basic) -> str:
        value = constant_value(expr)
        return self._fail(value) if isinstance(value, str) else repr(value)

    def _lower(self, expr: sp.Basic) -> str:
        if isinstance(expr, sp.Add):
            return self._add(expr)
        if isinstance(expr, sp.Mul):
            return self._mul(expr)
        if isinstance(expr, sp.Pow):
            return self._pow(expr.base, expr.exp)
        if isinstance(expr, sp.Piecewise):
            return self._piecewise(expr)
        if isinstance(expr, (sp.Max, sp.Min)):
            return self._minmax(expr)
        if isinstance(expr, sp.core.relational.Relational):
            op = _RELATIONAL_OPS.get(type(expr))
            if op is None:
                return self._fail(f"relation {expr}")
            return f"({self.emit(expr.lhs)} {op} {self.emit(expr.rhs)})"
        if isinstance(expr, sp.And):
            return " & ".join(f"({self.emit(a)})" for a in expr.args)
        if isinstance(expr, sp.Or):
            return " | ".join(f"({self.emit(a)})" for a in expr.args)
        if isinstance(expr, sp.Not):
            return f"~({self.emit(expr.args[0])})"
        if isinstance(expr, sp.logic.boolalg.BooleanFunction):
            return self._boolean(expr)
        if isinstance(expr, sp.Function):
            return self._function(expr)
        return self._fail(f"{type(expr).__name__} object {expr}")

    def _boolean(self, expr: sp.Basic) -> str:
        args = [f"({self.emit(a)})" for a in expr.args]
        logic = sp.logic.boolalg
        if isinstance(expr, logic.ITE):
            c, t, f = args
            return f"({c} & {t}) | (~{c} & {f})"
        if isinstance(expr, logic.Xor):
            return " ^ ".join(args)
        if isinstance(expr, logic.Implies):
            return f"~{args[0]} | {args[1]}"
        if isinstance(expr, logic.Equivalent):
            return " & ".join(f"({args[0]} == {q})" for q in args[1:])
        if isinstance(expr, logic.Nand):
            return "~(" + " & ".join(args) + ")"
        if isinstance(expr, logic.Nor):
            return "~(" + " | ".join(args) + ")"
        return self._fail(f"boolean {type(expr).__name__} in {expr}")

    def _kind(self, expr: sp.Basic) -> int:
        """Broadcast class: 0 constant, 1 parameters only, 2 coordinates only, 3 mixed.

        Coordinates vary along the kernel axes and parameters along the kernel bank, so only
        mixed sub-expressions have the full bank shape; combining within a class first keeps
        the number of full-size operations minimal.
        """
        syms = expr.free_symbols
        has_c = bool(syms & self.coords)
        has_p = bool(syms - self.coords)
        return (1 if has_p else 0) + (2 if has_c else 0)

    def _product(self, factors: list[sp.Basic], coeff: str | None) -> str:
        num: list[str] = [coeff] if coeff is not None else []
        den: list[str] = []
        for f in factors:
            if isinstance(f, sp.Pow) and f.exp.is_Integer and f.exp < 0:
                den.append(self.emit(f.base) if f.exp == -1 else self.emit(f.base ** -f.exp))
            else:
                num.append(self.emit(f))
        code = " * ".join(num) if num else "1.0"
        if den:
            code = f"{code} / " + (den[0] if len(den) == 1 else "(" + " * ".join(den) + ")")
        return code

    def _mul(self, expr: sp.Mul) -> str:
        coeff, factors = expr.as_coeff_mul()
        groups: dict[int, list[sp.Basic]] = {}
        for f in factors:
            groups.setdefault(self._kind(f), []).append(f)
        coeff = coeff * sp.Mul(*groups.pop(0, []))  # fold constant factors (pi, sqrt(2))
        c = None if coeff == 1 else ("-1.0" if coeff == -1 else self._number(coeff))
        parts: list[str] = []
        for kind in sorted(groups):
            part = self._product(groups[kind], c if not parts else None)
            parts.append(part if len(groups) == 1 else f"({part})")
        if not parts:
            return c or "1.0"
        return " * ".join(parts)

    def _add(self, expr: sp.Add) -> str:
        groups: dict[int, list[str]] = {}
        for term in expr.args:
            groups.setdefault(self._kind(term), []).append(self.emit(term))
        parts = [" + ".join(groups[k]) for k in sorted(groups)]
        return parts[0] if len(parts) == 1 else " + ".join(f"({p})" for p in parts)

    def _pow(self, base: sp.Basic, exp: sp.Basic) -> str:
        b = self.emit(base)
        if exp.is_Integer and abs(exp) <= _MAX_INT_EXPONENT:
            n = int(exp)
            if n == 2:
                return f"{b} * {b}"
            if n > 0:
                return f"{b} ** {n}"
            return f"1.0 / {b}" if n == -1 else f"1.0 / {b} ** {-n}"
        # a root of coordinates and parameters can reach 0 at a tap: its parameter gradient
        # there would be inf * 0 = NaN (see safe.safe_sqrt)
        mixed = bool(base.free_symbols & self.coords) and bool(base.free_symbols - self.coords)
        if exp == sp.Rational(1, 2):
            if mixed:
                self.namespace["_f_safe_sqrt"] = safe.safe_sqrt
                return f"_f_safe_sqrt({self.tensor(b)})"
            return f"torch.sqrt({self.tensor(b)})"
        if exp == sp.Rational(-1, 2):
            return f"torch.rsqrt({self.tensor(b)})"
        e = self.emit(exp)
        if not _is_var(b) and not _is_var(e):
            return self._fail(f"constant power {base}**{exp}")
        if mixed:
            self.namespace["_f_safe_pow"] = safe.safe_pow
            return f"_f_safe_pow({self.tensor(b)}, {e})"
        return f"torch.pow({b}, {e})"

    def _minmax(self, expr: sp.Basic) -> str:
        is_max = isinstance(expr, sp.Max)
        tensors = [a for a in (self.emit(x) for x in expr.args) if _is_var(a)]
        consts = [self.emit(x) for x in expr.args if not x.free_symbols]
        acc = tensors[0]
        pair = "torch.maximum" if is_max else "torch.minimum"
        for other in tensors[1:]:
            acc = self.assign(f"{pair}({acc}, {other})")
        for c in consts:  # SymPy keeps at most one constant, but be general
            acc = self.assign(f"torch.clamp({acc}, {'min' if is_max else 'max'}={c})")
        return acc

    def _function(self, expr: sp.Function) -> str:
        row = self.table.lookup(expr.func)
        name = getattr(expr.func, "__name__", str(expr.func))
        if row is None:
            return self._fail(f"function {name!r} in {expr}")
        args: list[str] = []
        for pos, arg in enumerate(expr.args):
            if pos in row.constant_args:
                value = self._number(arg) if arg.is_number else self._fail(
                    f"{expr}: argument {pos + 1} of {name} must be a numeric constant"
                )
                args.append(value)
            else:
                code = self.tensor(self.emit(arg))
                # a plugin function gets a copy: were it to write into its argument, it must
                # not change the tap grid or another sub-expression (built-ins never write)
                args.append(f"{code}.clone()" if self.table.is_plugin_row(row) else code)
        fn = row.torch_name or f"_f_{row.name}"
        if fn.startswith("_f_"):
            self.namespace[fn] = row.implementation
        return f"{fn}({', '.join(args)})"

    def _piecewise(self, expr: sp.Piecewise) -> str:
        pieces: list[tuple[sp.Basic, str]] = []
        rest: str | None = None
        for value, cond in expr.args:
            c = self.emit(cond)
            if c == "False":
                continue
            if c == "True":
                sel = rest
            else:
                sel = c if rest is None else self.assign(f"{rest} & {c}", "_m")
                rest = self.assign(f"~{c}" if rest is None else f"{rest} & ~{c}", "_m")
            self.push(sel)
            v = self.tensor(self.emit(value))
            self.pop()
            pieces.append((c, v))
            if c == "True":
                break
        return self.select(pieces)

    def select(self, pieces: Sequence[tuple[str, str]]) -> str:
        """Nested ``torch.where`` over (condition, value) pairs; none true gives NaN."""
        if not pieces:
            return "(_z + float('nan'))"
        cond, acc = pieces[-1]
        if cond != "True":
            acc = f"torch.where({cond}, {acc}, _z + float('nan'))"
        for cond, value in reversed(pieces[:-1]):
            acc = f"torch.where({cond}, {value}, {acc})"
        return acc


def _is_var(code: str) -> bool:
    return code.isidentifier() and code not in ("True", "False")
