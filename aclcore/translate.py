"""The one SymPy -> torch translation table.

Every function a family may use is a row here (:data:`BUILTIN_FUNCTIONS`), or is added by a
plugin through the ``acl_register_functions`` hook (see :func:`make_function`). Structural
constructs (sums, products, powers, Piecewise, Max/Min, comparisons, constants) are lowered by
the compiler; they are listed in :data:`STRUCTURAL_RULES` so that the documentation, generated
from this module, describes all of the lowering.

Semantics follow SymPy exactly; the rows that differ from the obvious torch call say why.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import sympy as sp
import torch

from aclcore import _special
from aclcore.errors import AclError

__all__ = [
    "BUILTIN_FUNCTIONS",
    "STRUCTURAL_RULES",
    "TorchFunction",
    "function_table",
    "lookup",
    "make_function",
    "plugin_rows",
    "unsupported_parts",
]


@dataclass(frozen=True)
class TorchFunction:
    """One row of the translation table: a SymPy function and its torch implementation.

    Attributes:
        name: the name used in formula strings (the parser's allow-list) and in the docs.
        sympy: the SymPy function class (the head of the expression, e.g. ``sympy.exp``).
        torch: the implementation; called with tensors (and Python floats for constant
            arguments), must broadcast like torch element-wise functions and be
            differentiable (use :func:`aclcore._special.with_grad` otherwise).
        doc: the lowering as shown in the docs table.
        domain: an interval inside which every argument may be sampled for numeric tests.
        constant_args: positions of arguments that must be numeric constants (e.g. an order).
        differentiable: False where the result is piecewise constant (gradient zero).
        provider: who registered it ("aclcore" or a plugin name).
    """

    name: str
    sympy: Any
    torch: Callable[..., Any]
    doc: str = ""
    domain: tuple[float, float] = (-3.0, 3.0)
    constant_args: tuple[int, ...] = ()
    differentiable: bool = True
    provider: str = "aclcore"
    arity: tuple[int, ...] = field(default=(1,))


def _cot(x: torch.Tensor) -> torch.Tensor:
    return 1.0 / torch.tan(x)


def _sec(x: torch.Tensor) -> torch.Tensor:
    return 1.0 / torch.cos(x)


def _csc(x: torch.Tensor) -> torch.Tensor:
    return 1.0 / torch.sin(x)


def _row(
    name: str,
    sym: Any,
    fn: Callable[..., Any],
    doc: str,
    domain: tuple[float, float] = (-3.0, 3.0),
    **kw: Any,
) -> TorchFunction:
    return TorchFunction(name=name, sympy=sym, torch=fn, doc=doc, domain=domain, **kw)


#: The built-in rows, keyed by formula name.
BUILTIN_FUNCTIONS: Mapping[str, TorchFunction] = {
    row.name: row
    for row in (
        _row("exp", sp.exp, torch.exp, "torch.exp"),
        _row("log", sp.log, torch.log, "torch.log (natural log; NaN below 0 is reported)",
             (0.1, 5.0)),
        _row("sin", sp.sin, torch.sin, "torch.sin"),
        _row("cos", sp.cos, torch.cos, "torch.cos"),
        _row("tan", sp.tan, torch.tan, "torch.tan", (-1.2, 1.2)),
        _row("cot", sp.cot, _cot, "1 / torch.tan", (0.2, 1.4)),
        _row("sec", sp.sec, _sec, "1 / torch.cos", (-1.2, 1.2)),
        _row("csc", sp.csc, _csc, "1 / torch.sin", (0.2, 1.4)),
        _row("asin", sp.asin, torch.asin, "torch.asin", (-0.9, 0.9)),
        _row("acos", sp.acos, torch.acos, "torch.acos", (-0.9, 0.9)),
        _row("atan", sp.atan, torch.atan, "torch.atan"),
        _row("atan2", sp.atan2, torch.atan2, "torch.atan2(y, x)", (0.2, 3.0), arity=(2,)),
        _row("sinh", sp.sinh, torch.sinh, "torch.sinh"),
        _row("cosh", sp.cosh, torch.cosh, "torch.cosh"),
        _row("tanh", sp.tanh, torch.tanh, "torch.tanh"),
        _row("asinh", sp.asinh, torch.asinh, "torch.asinh"),
        _row("acosh", sp.acosh, torch.acosh, "torch.acosh", (1.1, 4.0)),
        _row("atanh", sp.atanh, torch.atanh, "torch.atanh", (-0.9, 0.9)),
        _row("erf", sp.erf, torch.erf, "torch.erf"),
        _row("erfc", sp.erfc, torch.erfc, "torch.erfc"),
        _row("erfinv", sp.erfinv, torch.erfinv, "torch.erfinv", (-0.9, 0.9)),
        _row("loggamma", sp.loggamma, torch.lgamma, "torch.lgamma (real for x > 0)",
             (0.2, 5.0)),
        _row("Abs", sp.Abs, torch.abs, "torch.abs (gradient 0 at 0)"),
        _row("sign", sp.sign, torch.sign, "torch.sign (gradient 0)", differentiable=False),
        _row("floor", sp.floor, torch.floor, "torch.floor (gradient 0)", differentiable=False),
        _row("ceiling", sp.ceiling, torch.ceil, "torch.ceil (gradient 0)",
             differentiable=False),
        _row(
            "sinc",
            sp.sinc,
            _special.sinc,
            "torch.sinc(x / pi): SymPy's sinc is sin(x)/x, torch's is normalised; sinc(0) = 1",
        ),
        _row(
            "Heaviside",
            sp.Heaviside,
            _special.heaviside,
            "torch.where: 0 below 0, H0 at 0 (SymPy's default 1/2), 1 above; gradient 0",
            differentiable=False,
            arity=(1, 2),
            constant_args=(1,),
        ),
        _row(
            "besselj",
            sp.besselj,
            _special.besselj,
            "integer order |n| <= 20: trapezoid rule on Bessel's integral (|x| < 25) or "
            "torch.special + recurrence, with exact gradients (torch's J0/J1 have none)",
            (-6.0, 6.0),
            arity=(2,),
            constant_args=(0,),
        ),
    )
}

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

_FUNC_BY_HEAD: dict[Any, TorchFunction] = {row.sympy: row for row in BUILTIN_FUNCTIONS.values()}


def make_function(
    sympy_function: Any,
    torch_function: Callable[..., Any],
    *,
    grad: Callable[..., Any] | None = None,
    name: str | None = None,
    doc: str = "",
    domain: tuple[float, float] = (-3.0, 3.0),
    constant_args: tuple[int, ...] = (),
    provider: str = "aclcore",
) -> TorchFunction:
    """Build a translation-table row for a function a plugin adds.

    Args:
        sympy_function: a SymPy function class (``sympy.Function`` subclass or an undefined
            function ``sympy.Function("name")``).
        torch_function: its torch implementation, element-wise and broadcasting.
        grad: where torch cannot differentiate ``torch_function``, a callable returning the
            partial derivative with respect to each argument (``None`` for constant ones).
        name: the formula name (default: the SymPy function's name).
        doc, domain, constant_args, provider: see :class:`TorchFunction`.
    """
    fname = name or getattr(sympy_function, "__name__", None) or str(sympy_function)
    if not isinstance(sympy_function, type) or not issubclass(sympy_function, sp.Function):
        raise AclError(
            f"function {fname!r}: expected a SymPy function class (e.g. "
            f"sympy.Function({fname!r}) or a sympy.Function subclass), got {sympy_function!r}"
        )
    if not callable(torch_function):
        raise AclError(f"function {fname!r}: the torch implementation must be callable")
    impl = torch_function if grad is None else _special.with_grad(torch_function, grad)
    nargs = getattr(sympy_function, "nargs", None)
    arity: tuple[int, ...] = (1,)
    if isinstance(nargs, sp.FiniteSet):
        arity = tuple(int(n) for n in nargs)
    return TorchFunction(
        name=fname,
        sympy=sympy_function,
        torch=impl,
        doc=doc or f"{getattr(torch_function, '__name__', 'torch function')} (plugin)",
        domain=domain,
        constant_args=constant_args,
        provider=provider,
        arity=arity,
    )


def _plugin_functions() -> Mapping[str, TorchFunction]:
    # lazy import: the registry loads plugins, which may import this module
    from aclcore import registry

    return registry.current_registry().functions()


def function_table() -> Mapping[str, TorchFunction]:
    """All rows currently known: built-ins plus functions registered by plugins."""
    extra = _plugin_functions()
    if not extra:
        return BUILTIN_FUNCTIONS
    merged = dict(BUILTIN_FUNCTIONS)
    merged.update(extra)
    return merged


def lookup(head: Any) -> TorchFunction | None:
    """The row for a SymPy function head (class), or ``None`` if unsupported."""
    row = _FUNC_BY_HEAD.get(head)
    if row is not None:
        return row
    for row in _plugin_functions().values():
        if row.sympy is head:
            return row
    return None


def plugin_rows(expr: sp.Basic) -> list[TorchFunction]:
    """The plugin-provided rows (not built-in, not structural) that ``expr`` uses."""
    rows: list[TorchFunction] = []
    if not _plugin_functions():
        return rows
    for node in _iter_nodes(expr):
        if (
            isinstance(node, sp.Function)
            and not isinstance(node, _STRUCTURAL_HEADS)
            and node.func not in _FUNC_BY_HEAD
        ):
            row = lookup(node.func)
            if row is not None and row not in rows:
                rows.append(row)
    return rows


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


def _iter_nodes(expr: sp.Basic) -> Iterator[sp.Basic]:
    stack = [expr]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(node.args)


def unsupported_parts(expr: sp.Basic, *, defer_unknown_functions: bool = False) -> list[str]:
    """Describe every part of ``expr`` the compiler cannot lower (empty list: all supported).

    Reports unknown functions (with close names), complex or infinite constants, calculus
    objects and constant-argument violations (e.g. a non-integer Bessel order), each once.
    ``defer_unknown_functions`` skips unknown function heads (used while plugins are still
    registering their functions; compilation checks them again).
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
            row = lookup(node.func)
            name = getattr(node.func, "__name__", str(node.func))
            if row is None and defer_unknown_functions:
                continue
            if row is None:
                close = difflib.get_close_matches(name, list(function_table()), n=3)
                hint = f" (did you mean {', '.join(close)}?)" if close else ""
                report(
                    f"function {name!r} in {node}{hint}: not in the translation table; "
                    "a plugin can add it with the acl_register_functions hook"
                )
                continue
            for pos in row.constant_args:
                if pos < len(node.args) and not node.args[pos].is_number:
                    report(f"{node}: argument {pos + 1} of {name} must be a numeric constant")
            if row.name == "besselj":
                order = node.args[0]
                integral = order.is_integer or (order.is_Float and float(order).is_integer())
                if order.is_number and not (
                    integral and abs(int(order)) <= _special.MAX_BESSEL_ORDER
                ):
                    report(f"{node}: besselj needs an integer order |n| <= 20, got {order}")
        else:
            report(f"{type(node).__name__} object {node} (not an element-wise expression)")
    return problems
