"""THE function table: grammar name <-> SymPy object <-> torch lowering <-> derivative.

One :class:`FunctionTable` drives the formula parser (which names may be called), the printer
(which names may be written), the compiler (how a SymPy function is lowered to torch) and the
exports (which plugin functions a formula uses). The built-in rows are
:data:`BUILTIN_FUNCTIONS`; plugins add rows through the ``acl_register_functions`` hook
(:func:`make_function`). Structural constructs (sums, products, powers, Piecewise, Max/Min,
comparisons, constants) are lowered by the compiler itself and listed in
:data:`STRUCTURAL_RULES`; the grammar names that build them are :data:`STRUCTURAL_FUNCTIONS`.

The symbolic core never looks plugins up. The registry (:mod:`aclcore.plugins.registry`)
*pushes* its table here with :func:`install_table`, together with a callback that completes
it (loads the plugins). Declaring a family only reads the table installed now
(:func:`active_table`), so it never starts plugin discovery; the compiler, meeting a function
the table does not know yet, asks for the complete table (:func:`complete_table`).

Semantics follow SymPy exactly; the rows that differ from the obvious torch call say why.
"""

from __future__ import annotations

import difflib
import importlib
import keyword
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import sympy as sp
from sympy.core.function import UndefinedFunction

from aclcore.errors import AclError
from aclcore.symbolic.implementations import (
    IMPORT_PATH,
    load_implementation,
    load_once,
    resolve,
)

if TYPE_CHECKING:
    import torch

#: Largest |order| of ``besselj`` the compiler lowers (the trapezoid rule's accuracy bound).
MAX_BESSEL_ORDER = 20

__all__ = [
    "ALIASES",
    "BUILTIN_FUNCTIONS",
    "BUILTIN_TABLE",
    "CONSTANT_NAMES",
    "MAX_BESSEL_ORDER",
    "STRUCTURAL_FUNCTIONS",
    "STRUCTURAL_NAMES",
    "STRUCTURAL_RULES",
    "FunctionTable",
    "TorchFunction",
    "active_table",
    "complete_table",
    "install_table",
    "make_function",
    "sqrt1",
]


@dataclass(frozen=True)
class TorchFunction:
    """One row of the function table: a SymPy function and its torch implementation.

    Attributes:
        name: the name used in formula strings (the parser's allow-list) and in the docs.
        sympy: the SymPy function class (the head of the expression, e.g. ``sympy.exp``).
        torch: the implementation; called with tensors (and Python floats for constant
            arguments), must broadcast like torch element-wise functions and be
            differentiable (use :func:`aclcore.symbolic.autograd.with_grad` otherwise). The
            built-in rows name it (``"torch.exp"``, ``"aclcore.symbolic.special:sinc"``) so
            that the table, the parser and ``import aclcore`` need no torch;
            :attr:`implementation` is the callable either way.
        doc: the lowering as shown in the docs table.
        domain: an interval inside which every argument may be sampled for numeric tests.
        constant_args: positions of arguments that must be numeric constants (e.g. an order).
        differentiable: False where the result is piecewise constant (gradient zero).
        provider: who registered it ("aclcore" or a plugin name).
        arity: the numbers of arguments the function takes.
        grad: for a plugin implementation named by import path, the ``grad`` it is wrapped
            with (:func:`~aclcore.symbolic.autograd.with_grad`) once imported.
        loader: for a plugin implementation named by import path, what imports it on first
            use (default :func:`~aclcore.symbolic.implementations.load_implementation`; the
            plugin loader adds its checks).
    """

    name: str
    sympy: Any
    torch: Callable[..., Any] | str
    doc: str = ""
    domain: tuple[float, float] = (-3.0, 3.0)
    constant_args: tuple[int, ...] = ()
    differentiable: bool = True
    provider: str = "aclcore"
    arity: tuple[int, ...] = field(default=(1,))
    grad: Callable[..., Any] | None = field(default=None, compare=False, repr=False)
    loader: Callable[[TorchFunction], Callable[..., Any]] | None = field(
        default=None, compare=False, repr=False)
    _loaded: dict[str, Any] = field(default_factory=dict, init=False, compare=False,
                                    repr=False)

    @property
    def lazy(self) -> bool:
        """Whether the implementation is a plugin's import path, imported (and checked) on
        first use: ``torch`` is a string and a ``grad`` or a ``loader`` comes with it."""
        return isinstance(self.torch, str) and (self.grad is not None or self.loader is not None)

    @property
    def loaded(self) -> bool:
        """Whether :attr:`implementation` can be had without importing anything new (always,
        except for a :attr:`lazy` row not used yet)."""
        return not self.lazy or "value" in self._loaded

    @property
    def implementation(self) -> Callable[..., Any]:
        """The torch implementation as a callable.

        A built-in row's import path is imported on first use. A :attr:`lazy` row is
        imported, wrapped with its ``grad`` and handed to its ``loader`` (the plugin loader
        checks it there) once; a failure is raised again on every later use.
        """
        if not isinstance(self.torch, str):
            return self.torch
        if not self.lazy:
            return resolve(self.torch)
        return load_once(self, self._loaded, self.loader or load_implementation)

    @property
    def torch_name(self) -> str | None:
        """``"torch.exp"`` where the implementation is a function of the ``torch`` module
        itself (the generated code calls it by that name), else ``None``."""
        if isinstance(self.torch, str):
            if self.lazy or not self.torch.startswith("torch."):
                return None
            return self.torch if ":" not in self.torch else None
        name = getattr(self.torch, "__name__", "")
        torch_module = importlib.import_module("torch")
        return f"torch.{name}" if getattr(torch_module, name, None) is self.torch else None


def sqrt1(arg: Any) -> Any:
    """Square root of one argument (``sympy.sqrt`` would read a second one as ``evaluate``)."""
    return sp.sqrt(arg)


def _cot(x: torch.Tensor) -> torch.Tensor:
    return 1.0 / x.tan()


def _sec(x: torch.Tensor) -> torch.Tensor:
    return 1.0 / x.cos()


def _csc(x: torch.Tensor) -> torch.Tensor:
    return 1.0 / x.sin()


_SPECIAL = "aclcore.symbolic.special:"


def _row(
    name: str,
    sym: Any,
    fn: Callable[..., Any] | str,
    doc: str,
    domain: tuple[float, float] = (-3.0, 3.0),
    **kw: Any,
) -> TorchFunction:
    return TorchFunction(name=name, sympy=sym, torch=fn, doc=doc, domain=domain, **kw)


#: The built-in rows, keyed by formula name.
BUILTIN_FUNCTIONS: Mapping[str, TorchFunction] = MappingProxyType({
    row.name: row
    for row in (
        _row("exp", sp.exp, "torch.exp", "torch.exp"),
        _row("log", sp.log, "torch.log", "torch.log (natural log; NaN below 0 is reported)",
             (0.1, 5.0)),
        _row("sin", sp.sin, "torch.sin", "torch.sin"),
        _row("cos", sp.cos, "torch.cos", "torch.cos"),
        _row("tan", sp.tan, "torch.tan", "torch.tan", (-1.2, 1.2)),
        _row("cot", sp.cot, _cot, "1 / torch.tan", (0.2, 1.4)),
        _row("sec", sp.sec, _sec, "1 / torch.cos", (-1.2, 1.2)),
        _row("csc", sp.csc, _csc, "1 / torch.sin", (0.2, 1.4)),
        _row("asin", sp.asin, "torch.asin", "torch.asin", (-0.9, 0.9)),
        _row("acos", sp.acos, "torch.acos", "torch.acos", (-0.9, 0.9)),
        _row("atan", sp.atan, "torch.atan", "torch.atan"),
        _row("atan2", sp.atan2, _SPECIAL + "atan2",
             "torch.atan2(y, x); NaN at (0, 0), where SymPy's atan2 is undefined too (the "
             "finite check refuses that tap)", (0.2, 3.0), arity=(2,)),
        _row("sinh", sp.sinh, "torch.sinh", "torch.sinh"),
        _row("cosh", sp.cosh, "torch.cosh", "torch.cosh"),
        _row("tanh", sp.tanh, "torch.tanh", "torch.tanh"),
        _row("asinh", sp.asinh, "torch.asinh", "torch.asinh"),
        _row("acosh", sp.acosh, "torch.acosh", "torch.acosh", (1.1, 4.0)),
        _row("atanh", sp.atanh, "torch.atanh", "torch.atanh", (-0.9, 0.9)),
        _row("erf", sp.erf, "torch.erf", "torch.erf"),
        _row("erfc", sp.erfc, "torch.erfc", "torch.erfc"),
        _row("erfinv", sp.erfinv, "torch.erfinv", "torch.erfinv", (-0.9, 0.9)),
        _row("loggamma", sp.loggamma, "torch.lgamma", "torch.lgamma (real for x > 0)",
             (0.2, 5.0)),
        _row("Abs", sp.Abs, "torch.abs", "torch.abs (gradient 0 at 0)"),
        _row("sign", sp.sign, "torch.sign", "torch.sign (gradient 0)", differentiable=False),
        _row("floor", sp.floor, "torch.floor", "torch.floor (gradient 0)", differentiable=False),
        _row("ceiling", sp.ceiling, "torch.ceil", "torch.ceil (gradient 0)",
             differentiable=False),
        _row(
            "sinc",
            sp.sinc,
            _SPECIAL + "sinc",
            "sin(x)/x as torch.sinc(x/pi), derivatives exact at every order (Taylor series "
            "below |x| = 0.1); SymPy's sinc is un-normalised, torch.sinc is sin(pi x)/(pi x)",
        ),
        _row(
            "Heaviside",
            sp.Heaviside,
            _SPECIAL + "heaviside",
            "torch.where: 0 below 0, H0 at 0 (SymPy's default 1/2), 1 above; gradient 0",
            differentiable=False,
            arity=(1, 2),
            constant_args=(1,),
        ),
        _row(
            "besselj",
            sp.besselj,
            _SPECIAL + "besselj",
            "integer order |n| <= 20: trapezoid rule on Bessel's integral (|x| < 25) or "
            "torch.special + recurrence, with exact gradients (torch's J0/J1 have none)",
            (-6.0, 6.0),
            arity=(2,),
            constant_args=(0,),
        ),
    )
})

#: Grammar names that build structural SymPy objects (lowered by the compiler, not by a row).
STRUCTURAL_FUNCTIONS: Mapping[str, Callable[..., Any]] = MappingProxyType({
    "sqrt": sqrt1, "Max": sp.Max, "Min": sp.Min, "Piecewise": sp.Piecewise,
})
#: Other spellings the parser accepts for a row (alias -> row name).
ALIASES: Mapping[str, str] = MappingProxyType({"abs": "Abs"})
#: Callable names the parser always knows (conditions and exact Floats), whatever the table.
STRUCTURAL_NAMES = frozenset({"Piecewise", "Float", "Eq", "Ne", "Lt", "Le", "Gt", "Ge",
                              "And", "Or", "Not", "ITE"})
#: Names the parser reads as constants.
CONSTANT_NAMES = ("pi", "E")

#: How the compiler lowers the structural parts of an expression (documentation rows).
STRUCTURAL_RULES: tuple[tuple[str, str], ...] = (
    ("numbers, pi, E, sqrt(2), ...", "folded to Python floats at full double precision"),
    ("a + b, a * b", "Python operators on tensors (common sub-expressions computed once)"),
    ("a**n (integer n)", "repeated products / reciprocal; no pow(), exact at 0"),
    ("a**(1/2), a**(-1/2)", "torch.sqrt, torch.rsqrt"),
    ("a**b (other)", "torch.pow(a, b)"),
    ("Max(a, b, ...), Min(...)", "torch.maximum / torch.minimum; clamp_min/max for constants"),
    ("a < b, a <= b, Eq(a, b), ...", "tensor comparisons; And/Or/Not as & | ~"),
    (
        "Piecewise((e1, c1), (e2, c2), ...)",
        "nested torch.where; every input of a branch is guarded so that the unselected branch "
        "cannot leak NaN/Inf into values or gradients; no true condition gives NaN (reported)",
    ),
    (
        "removable singularity at a coordinate zero",
        "the limit (SymPy, at compile time) is substituted on the taps where coordinates are 0",
    ),
)

_STRUCTURAL_HEADS: tuple[type, ...] = (
    sp.Add,
    sp.Mul,
    sp.Pow,
    sp.Piecewise,
    sp.Max,
    sp.Min,
    sp.Symbol,
    sp.Number,
    sp.NumberSymbol,
    sp.logic.boolalg.BooleanAtom,
    sp.logic.boolalg.BooleanFunction,
    sp.core.relational.Relational,
    sp.functions.elementary.piecewise.ExprCondPair,
)

#: Names a plugin function may never take: the grammar's own words and Python's keywords.
RESERVED_NAMES = frozenset({
    *STRUCTURAL_FUNCTIONS, *ALIASES, *STRUCTURAL_NAMES, *CONSTANT_NAMES, "True", "False",
    "None", "x", "y", "z", *keyword.kwlist,
})


def _iter_nodes(expr: sp.Basic) -> Iterator[sp.Basic]:
    stack = [expr]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(node.args)


def _head_name(head: Any) -> str:
    return str(getattr(head, "__name__", head))


class FunctionTable:
    """The function rows known at one moment: the built-ins plus plugin rows.

    A table is immutable; :meth:`with_rows` makes an extended copy. ``complete`` says whether
    every plugin that could add rows has done so (a table in use before plugins are loaded is
    incomplete: a function it does not know may still come).
    """

    __slots__ = ("_by_head", "_by_name", "_names", "complete", "rows")

    def __init__(self, rows: Mapping[str, TorchFunction], *, complete: bool = True) -> None:
        self.rows: Mapping[str, TorchFunction] = MappingProxyType(dict(rows))
        self.complete = complete
        self._by_head = {row.sympy: row for row in self.rows.values()}
        self._by_name = dict(self.rows)
        names: dict[str, Any] = {name: row.sympy for name, row in self.rows.items()}
        names.update({alias: self.rows[target].sympy for alias, target in ALIASES.items()
                      if target in self.rows})
        names.update(STRUCTURAL_FUNCTIONS)
        self._names: Mapping[str, Any] = MappingProxyType(names)

    def __repr__(self) -> str:
        extra = sorted(n for n in self.rows if n not in BUILTIN_FUNCTIONS)
        return f"<FunctionTable builtins + {extra} complete={self.complete}>"

    # -- the parser's and printer's view --------------------------------------------------
    def names(self) -> Mapping[str, Any]:
        """Grammar name -> SymPy callable for every callable name of the table."""
        return self._names

    # -- the compiler's view --------------------------------------------------------------
    def lookup(self, head: Any) -> TorchFunction | None:
        """The row of a SymPy function head (class), or ``None`` if the table lacks it.

        An undefined function (``sympy.Function("name")``, also what a formula string gives
        for a name the table did not know when it was parsed) matches the row of that name.
        """
        row = self._by_head.get(head)
        if row is None and isinstance(head, UndefinedFunction):
            row = self._by_name.get(_head_name(head))
        return row

    def is_plugin_row(self, row: TorchFunction) -> bool:
        """Whether ``row`` was added to the built-ins (by a plugin or in-process)."""
        return BUILTIN_FUNCTIONS.get(row.name) is not row

    def plugin_rows(self, expr: sp.Basic) -> list[TorchFunction]:
        """The rows added to the built-ins that ``expr`` uses, in order of appearance."""
        rows: list[TorchFunction] = []
        if len(self.rows) == len(BUILTIN_FUNCTIONS):
            return rows
        for node in _iter_nodes(expr):
            if isinstance(node, sp.Function) and not isinstance(node, _STRUCTURAL_HEADS):
                row = self.lookup(node.func)
                if row is not None and self.is_plugin_row(row) and row not in rows:
                    rows.append(row)
        return rows

    def unknown_heads(self, expr: sp.Basic) -> list[str]:
        """Names of the function heads in ``expr`` that this table has no row for."""
        found: list[str] = []
        for node in _iter_nodes(expr):
            if isinstance(node, sp.core.function.Application) and not isinstance(
                    node, _STRUCTURAL_HEADS) and self.lookup(node.func) is None:
                name = _head_name(node.func)
                if name not in found:
                    found.append(name)
        return found

    def unsupported_parts(self, expr: sp.Basic, *, defer_unknown: bool = False) -> list[str]:
        """Describe every part of ``expr`` the compiler cannot lower (empty: all supported).

        Reports unknown functions (with close names), complex or infinite constants, calculus
        objects and constant-argument violations (e.g. a non-integer Bessel order), each once.
        ``defer_unknown`` skips function heads the table does not know (while it is
        incomplete; compilation checks them again against the complete table).
        """
        problems: list[str] = []
        seen: set[str] = set()

        def report(msg: str) -> None:
            if msg not in seen:
                seen.add(msg)
                problems.append(msg)

        for node in _iter_nodes(expr):
            if node is sp.I or (node.has(sp.I) and isinstance(node, sp.Number)):
                report("the imaginary unit I (kernels must be real)")
            elif node in (sp.oo, -sp.oo, sp.zoo, sp.nan):
                report(f"the non-finite constant {node}")
            elif isinstance(node, sp.Number) and not node.is_real:
                report(f"the complex constant {node}")
            elif isinstance(node, _STRUCTURAL_HEADS):
                continue
            elif isinstance(node, sp.core.function.Application):
                row = self.lookup(node.func)
                name = _head_name(node.func)
                if row is None and defer_unknown:
                    continue
                if row is None:
                    close = difflib.get_close_matches(name, list(self.names()), n=3)
                    hint = f" (did you mean {', '.join(close)}?)" if close else ""
                    report(
                        f"function {name!r} in {node}{hint}: not in the translation table; "
                        "a plugin can add it with the acl_register_functions hook"
                    )
                    continue
                report_arguments(row, node, report)
            else:
                report(f"{type(node).__name__} object {node} (not an element-wise expression)")
        return problems

    # -- growing ----------------------------------------------------------------------------
    def name_problem(self, row: TorchFunction) -> str | None:
        """Why ``row`` cannot join this table (``None`` when it can)."""
        name = row.name
        if not isinstance(name, str) or not name.isidentifier() or name.startswith("_"):
            return (f"function name {name!r} is not a plain identifier (letters, digits and "
                    "underscores, not starting with '_'); pass name='...' to register")
        if name in RESERVED_NAMES:
            return (f"function name {name!r} belongs to the formula grammar; registering it "
                    "would change what other families compute: choose another name")
        if name in BUILTIN_FUNCTIONS:
            return f"function {name!r} from {row.provider} is already built into aclcore's table"
        old = self.rows.get(name)
        if old is not None and old is not row:
            return f"function {name!r} is provided twice: by {old.provider} and by {row.provider}"
        return None

    def with_rows(self, rows: Mapping[str, TorchFunction], *, complete: bool) -> FunctionTable:
        """A copy with ``rows`` added (or replaced) and the given completeness."""
        merged = dict(self.rows)
        merged.update(rows)
        return FunctionTable(merged, complete=complete)


def report_arguments(row: TorchFunction, node: sp.Basic, report: Callable[[str], None]) -> None:
    """Report the constant-argument violations of one application ``node`` of ``row``."""
    name = row.name
    for pos in row.constant_args:
        if pos < len(node.args) and not node.args[pos].is_number:
            report(f"{node}: argument {pos + 1} of {name} must be a numeric constant")
    if row.sympy is sp.besselj and row.name == "besselj":
        order = node.args[0]
        integral = order.is_integer or (order.is_Float and float(order).is_integer())
        if order.is_number and not (integral and abs(int(order)) <= MAX_BESSEL_ORDER):
            report(f"{node}: besselj needs an integer order |n| <= "
                   f"{MAX_BESSEL_ORDER}, got {order}")


#: The table of the built-in rows alone (complete: nothing else can come).
BUILTIN_TABLE = FunctionTable(BUILTIN_FUNCTIONS, complete=True)


@dataclass
class _Installed:
    table: FunctionTable
    completer: Callable[[], None] | None


_installed = _Installed(BUILTIN_TABLE, None)


def install_table(table: FunctionTable, completer: Callable[[], None] | None = None) -> None:
    """Make ``table`` the one families and the compiler use (called by the registry).

    ``completer`` is called (at most once per need) to complete an incomplete table, e.g.
    by loading the plugins; it installs the completed table itself.
    """
    _installed.table, _installed.completer = table, completer


def active_table() -> FunctionTable:
    """The table installed now (never triggers plugin loading)."""
    return _installed.table


def complete_table() -> FunctionTable:
    """The installed table, completed first (plugins loaded) when it is incomplete."""
    table = _installed.table
    if not table.complete and _installed.completer is not None:
        _installed.completer()
    return _installed.table


def make_function(
    sympy_function: Any,
    torch_function: Callable[..., Any] | str,
    *,
    grad: Callable[..., Any] | None = None,
    name: str | None = None,
    doc: str = "",
    domain: tuple[float, float] = (-3.0, 3.0),
    constant_args: tuple[int, ...] = (),
    provider: str = "aclcore",
) -> TorchFunction:
    """Build a table row for a function a plugin adds.

    Args:
        sympy_function: a SymPy function class (``sympy.Function`` subclass or an undefined
            function ``sympy.Function("name")``).
        torch_function: its torch implementation, element-wise and broadcasting: the
            callable, or its import path (``"torch.special:i0e"``, ``"my_plugin.ops:f"``),
            imported on first use, so that registering it imports neither torch nor the
            module (listing families stays fast).
        grad: where torch cannot differentiate ``torch_function``, a callable returning the
            partial derivative with respect to each argument (``None`` for constant ones).
        name: the formula name (default: the SymPy function's name).
        doc, domain, constant_args, provider: see :class:`TorchFunction`.

    Raises:
        AclError: naming the function and what is wrong (not a SymPy function class, not
            callable, a domain that is not a finite interval ``lo < hi``, constant argument
            positions outside the function's arity).
    """
    fname = name or getattr(sympy_function, "__name__", None) or str(sympy_function)
    if not isinstance(sympy_function, type) or not issubclass(sympy_function, sp.Function):
        raise AclError(
            f"function {fname!r}: expected a SymPy function class (e.g. "
            f"sympy.Function({fname!r}) or a sympy.Function subclass), got {sympy_function!r}"
        )
    if isinstance(torch_function, str):
        if not IMPORT_PATH.fullmatch(torch_function):
            raise AclError(
                f"function {fname!r}: the torch implementation {torch_function!r} is not an "
                "import path; give the callable itself or 'package.module:function'"
            )
    elif not callable(torch_function):
        raise AclError(f"function {fname!r}: the torch implementation must be callable (or "
                       "its import path 'package.module:function')")
    if grad is not None and not callable(grad):
        raise AclError(f"function {fname!r}: grad must be callable (returning one partial "
                       "derivative per argument)")
    lo_hi = tuple(domain) if isinstance(domain, (tuple, list)) else ()
    if len(lo_hi) != 2 or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and abs(v) < float("inf")
            for v in lo_hi) or not lo_hi[0] < lo_hi[1]:
        raise AclError(f"function {fname!r}: domain must be a finite interval (lo, hi) with "
                       f"lo < hi, got {domain!r}")
    nargs = getattr(sympy_function, "nargs", None)
    arity: tuple[int, ...] = (1,)
    if isinstance(nargs, sp.FiniteSet):
        arity = tuple(int(n) for n in nargs)
    if not isinstance(constant_args, (tuple, list)) or not all(
            isinstance(i, int) and not isinstance(i, bool) and 0 <= i < max(arity)
            for i in constant_args):
        raise AclError(f"function {fname!r}: constant_args must be argument positions "
                       f"0..{max(arity) - 1} (it takes {' or '.join(map(str, arity))} "
                       f"argument(s)), got {constant_args!r}")
    lazy = isinstance(torch_function, str)
    impl: Callable[..., Any] | str = torch_function
    if grad is not None and not isinstance(torch_function, str):
        from aclcore.symbolic.autograd import with_grad  # torch: a plugin function uses it

        impl = with_grad(torch_function, grad)
    shown = torch_function if lazy else getattr(torch_function, "__name__", "torch function")
    return TorchFunction(
        name=fname,
        sympy=sympy_function,
        torch=impl,
        doc=doc or f"{shown} (plugin)",
        domain=(float(lo_hi[0]), float(lo_hi[1])),
        constant_args=tuple(constant_args),
        provider=provider,
        arity=arity,
        grad=grad if lazy else None,
        loader=load_implementation if lazy else None,
    )
