"""Lowering of a SymPy expression to the source of a torch function.

The emitter walks the expression once, gives every distinct sub-expression one temporary
(common sub-expression elimination by structural identity) and lowers each node through the
translation table. Piecewise branches (and removable-singularity branches) are emitted in
*scopes*: every tensor a branch reads from outside is first passed through ``_guard(mask, t)``,
so that where the branch is not selected its backward pass cannot carry ``0 * inf = NaN`` back
into the parameters. Unsupported nodes are collected, not raised one by one.

The cost of a kernel bank is the number of passes over tensors of the full bank shape (every
sub-expression that mixes coordinates and parameters), so the emitter keeps them few:

* sub-expressions of the coordinates only go to a separate *grid block* (``grid_lines``), which
  the generated function runs only when it is not handed its values
  (:mod:`aclcore.compile.gridcache` keeps them per tap grid);
* a mixed sum of products of parameter-only and coordinate-only factors is a *linear form*
  (:mod:`aclcore.compile.linear`), evaluated as one matrix product over the stacked features
  (:mod:`aclcore.compile.gridops`), with the coefficients computed on parameter-sized tensors;
* a parameter factor of a mixed term is folded into a linear form or an ``addcmul``;
* ``cos(linear form)`` is ``sin(linear form + pi/2)`` (the ``pi/2`` joins the constant
  coefficient): torch differentiates ``sin`` in two passes, ``cos`` in three;
* ``exp(linear form)`` is ``exp2(linear form / log(2))`` (the ``1/log(2)`` joins the
  coefficients): torch's CPU ``exp2`` is 2-3x faster than its ``exp`` (0.31 against 0.85 ns
  per float32 element here, 0.85 against 1.63 in float64), for one more pass in the backward.

These rewrites round differently from the formula as written (within a few ulps of the
largest term), so they are used only where that cannot matter: for values, and for the
arguments of smooth functions defined everywhere (``exp``, ``sin``, ``cos``, ...). Arguments
of roots, logarithms, divisions, comparisons and the other functions are computed as written,
so an exact zero stays exactly zero where the formula needs it.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import sympy as sp
import torch

from aclcore.compile import gridops, safe
from aclcore.compile.constants import constant_value
from aclcore.compile.linear import LinearForm, split_linear
from aclcore.symbolic import special
from aclcore.symbolic.functions import FunctionTable

__all__ = ["HELPERS", "Emitter", "Scope"]

#: Integer powers up to this exponent are emitted as such; larger ones go through floats.
_MAX_INT_EXPONENT = 2**62

#: ``1/log(2)`` as a float: the exponent of ``exp2`` is ``exp``'s times it (a number, so that
#: SymPy distributes it over the exponent's terms without symbolic work)
_LOG2_E = sp.Float(1 / math.log(2))


#: Built-in functions whose arguments may be computed with the rewrites (smooth, defined on the
#: whole real line, so a rounding difference in the argument is a rounding difference in the
#: value). Any other function, root, division or comparison gets its operands as written.
_TOLERANT_FUNCTIONS = frozenset({"exp", "sin", "cos", "sinh", "cosh", "tanh", "atan", "erf",
                                 "erfc", "sinc", "besselj"})

#: Functions the generated code calls besides the table's rows (``_f_<row>``) and the grid
#: helpers: name in the generated source -> implementation (exporters inline them).
HELPERS: dict[str, Any] = {"_sinc_pi": special.sinc_pi}

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
    memo: dict[Any, str] = field(default_factory=dict)


class Emitter:
    """Accumulates generated statements for one kernel function.

    ``grid_lines`` compute the sub-expressions of the coordinates alone (the grid block,
    anchored on ``_zg``, the coordinates' dtype) and assign ``grid_vars``; ``lines`` the rest
    (anchored on ``_z``).
    """

    def __init__(self, symbol_vars: dict[sp.Symbol, str], coords: set[sp.Symbol],
                 table: FunctionTable) -> None:
        self.coords = coords
        self.table = table
        self.lines: list[str] = []
        self.grid_lines: list[str] = []
        self.grid_vars: list[str] = []
        self.namespace: dict[str, Any] = {
            "torch": torch, "_guard": safe.safe_guard,
            "linear_features": gridops.linear_features, "linear_form": gridops.linear_form,
            "is_wide": gridops.is_wide, **HELPERS,
        }
        self.unsupported: list[str] = []
        self._counter = 0
        self._in_grid = False
        self._tolerant = True
        #: whether the rewrites for large banks may be used (see :meth:`restart`)
        self.rewrites = True
        #: whether a rewrite was used since the last :meth:`restart`
        self.rewritten = False
        self._symbols = dict(symbol_vars)
        self._splits: dict[sp.Basic, LinearForm | None] = {}
        self._kinds: dict[sp.Basic, int] = {}
        self._stacks: dict[tuple[sp.Basic, ...], str] = {}
        self._forms: dict[tuple[tuple[sp.Basic, sp.Basic], ...], str] = {}  # body products
        self.scopes: list[Scope] = [Scope(mask=None)]
        for sym, var in symbol_vars.items():
            self.scopes[0].memo[sym] = var

    # -- bookkeeping ------------------------------------------------------------------------
    def _new(self, prefix: str = "_t") -> str:
        self._counter += 1
        return f"{prefix}{self._counter}"

    def assign(self, code: str, prefix: str = "_t") -> str:
        """Emit ``var = code`` (into the grid block while lowering one) and return ``var``."""
        var = self._new(prefix)
        if self._in_grid:
            self.grid_lines.append(f"{var} = {code}")
            self.grid_vars.append(var)
        else:
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

    @property
    def rewriting(self) -> bool:
        """Whether the current sub-expression may be computed with the rewrites."""
        return self.rewrites and self._tolerant

    def restart(self, rewrites: bool) -> None:
        """Start another lowering of the function body (``lines`` emptied), with or without
        the rewrites; the grid block and its values are kept and shared."""
        grid = set(self.grid_vars)
        top = {k: v for k, v in self.scopes[0].memo.items() if v in grid}
        self.scopes = [Scope(mask=None, memo={**self._symbols, **top})]
        self.lines = []
        self._forms = {}
        self.rewrites = rewrites
        self.rewritten = False

    @property
    def anchor(self) -> str:
        """The 0-d tensor that literals are added to: ``_zg`` in the grid block, else ``_z``."""
        return "_zg" if self._in_grid else "_z"

    def tensor(self, code: str) -> str:
        """``code`` as a tensor expression (Python literals become 0-d tensors)."""
        return code if _is_var(code) else f"({self.anchor} + {code})"

    @contextlib.contextmanager
    def _tolerance(self, tolerant: bool) -> Iterator[None]:
        """Within the block, the rewrites that round differently are allowed (or not)."""
        saved, self._tolerant = self._tolerant, tolerant
        try:
            yield
        finally:
            self._tolerant = saved

    def emit_exact(self, expr: sp.Basic) -> str:
        """:meth:`emit` with ``expr`` computed as written (no rewrites that round differently)."""
        with self._tolerance(False):
            return self.emit(expr)

    def _emit_tolerant(self, expr: sp.Basic) -> str:
        with self._tolerance(True):
            return self.emit(expr)

    # -- the walk ---------------------------------------------------------------------------
    def emit(self, expr: sp.Basic) -> str:
        """Return a Python expression (a variable or a literal) computing ``expr``."""
        if isinstance(expr, sp.logic.boolalg.BooleanAtom):
            return "True" if bool(expr) else "False"
        if isinstance(expr, sp.Expr) and not expr.free_symbols:
            return self._number(expr)
        kind = self._kind(expr)
        # a mixed sub-expression computed with the rewrites is only valid where they are
        # allowed: it is remembered under its own key
        key: Any = (expr, "tolerant") if kind == 3 and self.rewriting else expr
        keys = (key, expr) if key is not expr else (expr,)
        current = self.scopes[-1]
        for k in keys:
            if k in current.memo:
                return current.memo[k]
        for scope in reversed(self.scopes[:-1]):
            for k in keys:
                if k in scope.memo:
                    var = scope.memo[k]
                    if current.mask is not None and scope.mask != current.mask:
                        var = self.assign(f"_guard({current.mask}, {var})", "_g")
                    current.memo[k] = var
                    return var
        if isinstance(expr, sp.Symbol):
            return self._fail(f"symbol {expr} is not an input")
        if kind == 2 and current.mask is None and not self._in_grid:
            self._in_grid = True  # hoisted: computed once per tap grid
            try:
                var = self.assign(self._lower(expr))
            finally:
                self._in_grid = False
        elif kind == 3 and self.rewriting and (form := self._split(expr)) is not None:
            self.rewritten = True
            var = self._linear(form)
        else:
            var = self.assign(self._lower(expr))
        current.memo[key] = var
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
            return f"({self.emit_exact(expr.lhs)} {op} {self.emit_exact(expr.rhs)})"
        if isinstance(expr, sp.And):
            return " & ".join(f"({self.emit_exact(a)})" for a in expr.args)
        if isinstance(expr, sp.Or):
            return " | ".join(f"({self.emit_exact(a)})" for a in expr.args)
        if isinstance(expr, sp.Not):
            return f"~({self.emit_exact(expr.args[0])})"
        if isinstance(expr, sp.logic.boolalg.BooleanFunction):
            return self._boolean(expr)
        if isinstance(expr, sp.Function):
            return self._function(expr)
        return self._fail(f"{type(expr).__name__} object {expr}")

    def _boolean(self, expr: sp.Basic) -> str:
        args = [f"({self.emit_exact(a)})" for a in expr.args]
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
        kind = self._kinds.get(expr)
        if kind is None:  # memoised: free_symbols walks the whole sub-tree every time
            syms = expr.free_symbols
            kind = (1 if syms - self.coords else 0) + (2 if syms & self.coords else 0)
            self._kinds[expr] = kind
        return kind

    # -- linear forms -----------------------------------------------------------------------
    def _split(self, expr: sp.Basic) -> LinearForm | None:
        """``expr`` as a linear form in grid features (memoised), or None."""
        if expr not in self._splits:
            form = None
            if isinstance(expr, (sp.Add, sp.Mul, sp.Pow)):
                form = split_linear(expr, lambda e: self._kind(e) <= 1,
                                    lambda e: self._kind(e) == 2)
            self._splits[expr] = form
        return self._splits[expr]

    def _linear_part(self, expr: sp.Basic) -> bool:
        """Whether ``expr`` can join a linear form (not mixed, or a linear form itself)."""
        return self._kind(expr) != 3 or self._split(expr) is not None

    def _linear(self, form: LinearForm) -> str:
        """Emit ``sum(c * m)`` as one matrix product (also for one term: an outer product,
        whose backward pass is one matrix-vector product instead of a product and a sum).

        The terms with numeric coefficients are a function of the grid alone: computed once
        per tap grid (or a number), they are added to the product of the others, so
        ``1 - r**2/(2*sigma**2)`` is one feature, not two; and a product already computed
        (``exp(-r**2/(2*sigma**2))`` beside it) is reused."""
        fixed = [c * m for m, c in form.items() if c.is_number]
        if fixed and len(fixed) < len(form):
            rest = {m: c for m, c in form.items() if not c.is_number}
            # a coefficient alone (``a + x``) is added as it is: no product to compute
            base = self.emit(rest[sp.S.One]) if list(rest) == [sp.S.One] else self._linear(rest)
            return self.assign(f"{base} + {self.emit(sp.Add(*fixed))}")
        items = key = self._form_key(form)
        unmasked = self.scopes[-1].mask is None
        if unmasked and key in self._forms:
            return self._forms[key]
        features = tuple(m for m, _ in items)
        feats = [None if m == 1 else self.emit(m) for m in features]
        listed = ", ".join("None" if f is None else f for f in feats)
        stacked = self._stacks.get(features) if self.scopes[-1].mask is None else None
        if stacked is None:
            code = f"linear_features({listed})"
            if self.scopes[-1].mask is None:
                self._in_grid = True
                try:
                    stacked = self.assign(code, "_s")
                finally:
                    self._in_grid = False
                self._stacks[features] = stacked
            else:
                stacked = self.assign(code, "_s")
        coeffs = ", ".join(self.tensor(self.emit(c)) for _, c in items)
        var = self.assign(f"linear_form(({coeffs},), ({listed},), {stacked})")
        if unmasked:
            self._forms[key] = var
        return var

    @staticmethod
    def _form_key(form: LinearForm) -> tuple[tuple[sp.Basic, sp.Basic], ...]:
        """The terms of ``form`` in feature order: the key its product is memoised by."""
        return tuple(sorted(form.items(), key=lambda item: sp.default_sort_key(item[0])))

    def _emitted_form(self, form: LinearForm) -> str | None:
        """The variable of ``form``'s product where it was already computed in this scope's
        unmasked body, else None."""
        if self.scopes[-1].mask is not None:
            return None
        return self._forms.get(self._form_key(form))

    # -- arithmetic -------------------------------------------------------------------------
    def _product(self, factors: list[sp.Basic], coeff: str | None) -> str:
        num: list[str] = [coeff] if coeff is not None else []
        den: list[str] = []
        for f in factors:
            if isinstance(f, sp.Pow) and f.exp.is_Integer and f.exp < 0:
                base = f.base if f.exp == -1 else f.base ** -f.exp
                den.append(self.emit_exact(base))
            else:
                num.append(self.emit(f))
        code = " * ".join(num) if num else "1.0"
        if den:
            below = den[0] if len(den) == 1 else "(" + " * ".join(den) + ")"
            if len(num) <= 1 and not _is_var(code) and any(_is_var(d) for d in den):
                # a number over a tensor: what torch's __rdiv__ computes, without its Python
                # wrapper (~7 us per call)
                return f"{below}.reciprocal()" + ("" if code == "1.0" else f" * {code}")
            code = f"{code} / {below}"
        return code

    def _mul(self, expr: sp.Mul) -> str:
        coeff, factors = expr.as_coeff_mul()
        if self.rewriting and self._kind(expr) == 3:
            # parameter and grid factors (and linear forms) multiply into one linear form;
            # only the other mixed factors cost a pass each
            linear = [f for f in factors if self._linear_part(f)]
            rest = [f for f in factors if not self._linear_part(f)]
            if rest and linear:
                self.rewritten = True
                scale = sp.Mul(coeff, *linear)
                return self._product(rest, self.emit(scale))
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
        if self.rewriting and self._kind(expr) == 3:
            self.rewritten = True
            return self._mixed_add(expr)
        groups: dict[int, list[tuple[bool, str]]] = {}
        for term in expr.args:
            negative = term.could_extract_minus_sign()
            code = self.emit(-term if negative else term)  # a - b, not a + (-1.0 * b)
            groups.setdefault(self._kind(term), []).append((negative, code))
        parts = []
        for kind in sorted(groups):
            terms = sorted(groups[kind], key=lambda t: t[0])  # positive terms first
            code = terms[0][1] if not terms[0][0] else f"-{terms[0][1]}"
            for negative, c in terms[1:]:
                code += f" - {c}" if negative else f" + {c}"
            parts.append(code)
        return parts[0] if len(parts) == 1 else " + ".join(f"({p})" for p in parts)

    def _mixed_add(self, expr: sp.Add) -> str:
        """A mixed sum: its linear part as one form, each other term added with its scale
        folded in (``torch.addcmul``: one pass instead of a product and a sum)."""
        linear = [t for t in expr.args if self._linear_part(t)]
        acc = self.emit(sp.Add(*linear)) if linear else None
        pending: str | None = None  # the last operation, returned rather than assigned
        for term in (t for t in expr.args if not self._linear_part(t)):
            if pending is not None:
                acc = self.assign(pending)
            if acc is None:
                acc = self.emit(term)
                continue
            coeff, factors = term.as_coeff_mul()
            scale = sp.Mul(coeff, *(f for f in factors if self._linear_part(f)))
            rest = sp.Mul(*(f for f in factors if not self._linear_part(f)))
            if scale == 1:
                pending = f"{self.tensor(acc)} + {self.emit(term)}"
                continue
            s, r = self.emit(scale), self.emit(rest)
            if _is_var(s):
                pending = f"torch.addcmul({self.tensor(acc)}, {s}, {r})"
            else:
                pending = f"torch.add({self.tensor(acc)}, {r}, alpha={s})"
        assert pending is not None  # a mixed sum that is no linear form has such a term
        return pending

    def _pow(self, base: sp.Basic, exp: sp.Basic) -> str:
        if exp.is_Integer and 0 < exp <= _MAX_INT_EXPONENT:
            b = self.emit(base)  # a square is as good as its base, rounded or not
        else:
            b = self.emit_exact(base)
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
        e = self.emit_exact(exp)
        if not _is_var(b) and not _is_var(e):
            return self._fail(f"constant power {base}**{exp}")
        if mixed:
            self.namespace["_f_safe_pow"] = safe.safe_pow
            return f"_f_safe_pow({self.tensor(b)}, {e})"
        return f"torch.pow({b}, {e})"

    def _minmax(self, expr: sp.Basic) -> str:
        is_max = isinstance(expr, sp.Max)
        tensors = [a for a in (self.emit_exact(x) for x in expr.args) if _is_var(a)]
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
        builtin = not self.table.is_plugin_row(row)
        tolerant = builtin and row.name in _TOLERANT_FUNCTIONS
        if builtin and row.name == "cos" and self.rewriting and self._kind(expr) == 3:
            (arg,) = expr.args
            sin = self.table.lookup(sp.sin)
            if sin is not None and self._split(arg) is not None:
                self.rewritten = True
                # cos(a) = sin(a + pi/2); the pi/2 joins the form's constant coefficient
                return self._call(sin, [self.tensor(self._emit_tolerant(arg + sp.pi / 2))])
        if builtin and row.name == "exp" and self.rewriting and self._kind(expr) == 3:
            (arg,) = expr.args
            form = self._split(arg)
            if form is not None:
                self.rewritten = True
                known = self._emitted_form(form)
                if known is not None:  # reused as it is (LoG's 1 - q beside exp(-q))
                    return self._call(row, [known])
                # exp(a) = exp2(a / log(2)); the 1/log(2) joins the form's coefficients
                with self._tolerance(True):
                    power = self._linear({m: c * _LOG2_E for m, c in form.items()})
                return f"torch.exp2({self.tensor(power)})"
        if builtin and row.name == "sinc" and self.rewriting and self._kind(expr) == 3:
            (arg,) = expr.args
            self.rewritten = True
            # sinc(a) = sinc_pi(a/pi): the 1/pi joins the argument's constant (sinc(2*pi*f*x)
            # becomes sinc_pi(2*f*x)), where sinc(a) would scale a first
            return f"_sinc_pi({self.tensor(self._emit_tolerant(arg / sp.pi))})"
        args: list[str] = []
        for pos, arg in enumerate(expr.args):
            if pos in row.constant_args:
                value = self._number(arg) if arg.is_number else self._fail(
                    f"{expr}: argument {pos + 1} of {name} must be a numeric constant"
                )
                args.append(value)
            else:
                code = self.tensor(self._emit_tolerant(arg) if tolerant
                                   else self.emit_exact(arg))
                # a plugin function gets a copy: were it to write into its argument, it must
                # not change the tap grid or another sub-expression (built-ins never write)
                args.append(f"{code}.clone()" if not builtin else code)
        return self._call(row, args)

    def _call(self, row: Any, args: list[str]) -> str:
        fn = row.torch_name or f"_f_{row.name}"
        if fn.startswith("_f_"):
            self.namespace[fn] = row.implementation
        return f"{fn}({', '.join(args)})"

    def _piecewise(self, expr: sp.Piecewise) -> str:
        pieces: list[tuple[sp.Basic, str]] = []
        rest: str | None = None
        for value, cond in expr.args:
            c = self.emit_exact(cond)
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
        nan = f"({self.anchor} + float('nan'))"
        if not pieces:
            return nan
        cond, acc = pieces[-1]
        if cond != "True":
            acc = f"torch.where({cond}, {acc}, {nan})"
        for cond, value in reversed(pieces[:-1]):
            acc = f"torch.where({cond}, {value}, {acc})"
        return acc


def _is_var(code: str) -> bool:
    return code.isidentifier() and code not in ("True", "False")
