"""Safe formula parser (text -> SymPy through an AST allow-list) and its exact inverse printer.

Formula strings come from users, files and plugins, so they are never evaluated: no ``eval``,
``exec``, ``sympify``, ``parse_expr`` or ``S(str)``. Python's parser (:func:`ast.parse`) only
reads the syntax; the tree is checked against an explicit allow-list and every node is built
directly as a SymPy object. :func:`formula_to_string` writes expressions back in this grammar.

Grammar:

* **Numbers** — integer literals (``3``, ``0x1F``; at most 100 digits) become ``Integer``;
  ``1/3`` stays the exact ``Rational(1, 3)``. A float literal (``2.5``, ``1e-3``, ``.5``) of up
  to 17 significant digits becomes the 53-bit Float of Python's ``float`` of it (beyond the
  double range: its decimal value rounded to 53 bits); longer literals get SymPy's
  ``dps_to_prec(digits)`` bits. ``Float(1.5, precision=80)`` gives any binary precision
  (``precision=`` is the only keyword argument of the grammar).
* **Names** — identifiers become ``Symbol(name, real=True)``; ``lambda`` is an ordinary name
  (a lambda *expression* is rejected). Names starting with ``_`` are rejected.
* **Constants** — ``pi``, ``E``, ``True``, ``False``.
* **Arithmetic** — ``+ - * / **`` and unary ``-``/``+`` on expressions.
* **Comparisons** — ``< <= > >= == !=`` (Lt, Le, Gt, Ge, Eq, Ne); ``a < b < c`` means
  ``(a < b) & (b < c)``.
* **Logic** — ``&``, ``|``, ``~`` on conditions (And, Or, Not); parenthesise comparisons:
  ``(x > 0) & (y > 0)``.
* **Calls** — by plain name with positional arguments: the allowed functions
  (``DEFAULT_FUNCTIONS``: every row of the function table (:mod:`aclcore.symbolic.functions`),
  the alias ``abs`` of ``Abs``, and ``sqrt Max Min Piecewise``; or the ``functions`` mapping
  given), and always the structural names ``Piecewise((expr, cond), ..., (expr, True))``,
  ``Eq Ne Lt Le Gt Ge`` (2 arguments), ``And Or`` (1 or more), ``Not`` (1), ``ITE(c, a, b)``
  (``a`` if ``c`` else ``b``, all three conditions; SymPy writes comparisons of a Piecewise
  this way) and ``Float``. With ``undefined_functions=True`` (how a family formula is read
  while plugins may still add functions) a call of any other plain name builds the undefined
  SymPy function of that name, which the compiler later resolves by name.

Everything else is an ``aclcore.ParseError`` naming the reason and the 0-based
character position: attribute access, subscripts, strings and f-strings, lambda expressions,
comprehensions, ``:=``, ``a if c else b``, list/dict/set/tuple displays (tuples only as
Piecewise arguments), ``*``/``**`` unpacking, keyword arguments, ``and``/``or``/``not``,
``// % @ ^ << >>``, ``is``/``in``, unknown functions, wrong argument counts, imaginary
numbers, and results that are complex, infinite or undefined (``1/0``, ``log(0)``).

Limits, so that every hostile formula is refused after bounded work (most within milliseconds),
the same way on every machine: the text has at most ``max_length`` characters (default 20000),
at most ``max_depth`` (default 100) levels of brackets, signs in a row and syntax-tree nesting
(a run like ``a + b - c`` counts as one level), and at most 1000 numbers, names, operators and
calls (200 calls). Integer literals have at most 100 digits, numbers at most 1000 digits, Floats
a magnitude within ``1e+-1000`` and at most 3400 bits. Because SymPy evaluates eagerly, the
costly cases are checked before it runs: a power may create at most 1000 digits (10000 in the
whole formula), roots are taken of numbers of at most 300 digits, ``exp(c*log(b))`` counts as
the power ``b**c``, functions are evaluated numerically on Floats up to ``1e30`` only
(``besselj`` orders up to 200), ``Max``/``Min`` may need at most 30 pairwise comparisons (and no
constants that may be complex), ``floor``, ``ceiling``, ``Abs``, ``Max`` and ``Min`` take
arguments of about 200 syntax-tree nodes in all (their cost grows with the square of the
argument size), ``Piecewise`` pieces that SymPy would merge may create at most 500 clauses, a
``Piecewise`` condition must not contain a ``Piecewise``, and comparisons of constants must be
decidable. Calls, ``Piecewise``, comparison chains and ``&``/``|`` runs take at most 100
operands. As a backstop for SymPy slow paths that these limits do not foresee, building may make
at most 1.5 million Python-level calls (about 1.5 s here; a count, not a clock, checked by a
per-thread profile hook, which stands aside while another profiler is active).

Numbers: ``-0.0`` reads as ``0.0`` (SymPy Floats have no signed zero); ``repr(float)``
strings read back bit for bit, subnormals included. Operator chains are built left to right
exactly as Python would; only runs of more than 32 ``+``/``-`` or ``*``/``/`` operands are
built with one ``Add``/``Mul`` call (the same value; the grouping of Float roundings may
differ).

Round trip: for an expression of this grammar within these limits whose symbols are
``real=True``, ``parse_formula(formula_to_string(e))`` has the identical ``srepr``.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping
from typing import Any

import sympy
from sympy.logic.boolalg import Boolean

from aclcore.errors import ParseError
from aclcore.symbolic import budget as guard
from aclcore.symbolic import printer as fp
from aclcore.symbolic import source as src
from aclcore.symbolic.functions import BUILTIN_TABLE, CONSTANT_NAMES, STRUCTURAL_NAMES

__all__ = ["DEFAULT_FUNCTIONS", "STRUCTURAL_NAMES", "formula_to_string", "parse_formula"]

_SEQUENTIAL_CHAIN = 32  # longer + and * chains are built with one Add/Mul call

DEFAULT_FUNCTIONS: Mapping[str, Callable[..., Any]] = BUILTIN_TABLE.names()
"""The callable names allowed by default (name -> SymPy callable); ``functions=`` replaces it."""

_RELATIONS = {"Eq": sympy.Eq, "Ne": sympy.Ne, "Lt": sympy.Lt, "Le": sympy.Le,
              "Gt": sympy.Gt, "Ge": sympy.Ge}
_LOGIC = {"And": sympy.And, "Or": sympy.Or, "Not": sympy.Not, "ITE": sympy.ITE}
_CONSTANTS = {"pi": sympy.pi, "E": sympy.E}
_COMPARE = {ast.Lt: sympy.Lt, ast.LtE: sympy.Le, ast.Gt: sympy.Gt, ast.GtE: sympy.Ge,
            ast.Eq: sympy.Eq, ast.NotEq: sympy.Ne}
_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
           ast.Div: operator.truediv}


def parse_formula(text: str, *, functions: Mapping[str, Callable[..., Any]] | None = None,
                  max_length: int = 20_000, max_depth: int = 100,
                  undefined_functions: bool = False) -> Any:
    """Parse a formula string into a SymPy expression without evaluating any code.

    Args:
        text: the formula, in the grammar described in this module's docstring.
        functions: name -> callable for the allowed function calls; replaces
            :data:`DEFAULT_FUNCTIONS`. :data:`STRUCTURAL_NAMES` (Piecewise, Eq, Ne, Lt, Le, Gt,
            Ge, And, Or, Not, ITE, Float) and the constants ``pi`` and ``E`` always work.
        max_length: longest accepted text, checked before anything else.
        max_depth: deepest accepted nesting (brackets, runs of signs, syntax tree).
        undefined_functions: read a call of a name that ``functions`` lacks as the undefined
            SymPy function of that name (``sympy.Function(name)``) instead of refusing it.

    Returns:
        A ``sympy.Expr`` whose symbols are all ``real=True``.

    Raises:
        ParseError: the text is not a str, too long, too deep, or not in the grammar; the
            error carries ``reason``, the 0-based character ``position`` and the ``text``.
    """
    if not isinstance(text, str):
        raise ParseError(f"a formula must be a str, not {type(text).__name__}")
    if len(text) > max_length:
        raise ParseError(f"formula is too long: {len(text)} characters (the limit is "
                         f"{max_length})", text=text[:200] + "...")
    table = DEFAULT_FUNCTIONS if functions is None else functions
    if not isinstance(table, Mapping):
        raise ParseError(f"functions must be a mapping of name -> callable, not "
                         f"{type(table).__name__}")
    return _Parser(text, table, max_depth, undefined_functions).run()


def formula_to_string(expr: Any, *,
                      functions: Mapping[str, Callable[..., Any]] | None = None) -> str:
    """Write ``expr`` so that :func:`parse_formula` reads back an identical expression.

    For every expression of the grammar (within its limits) whose symbols are ``real=True``
    (the parser makes all symbols real) ``srepr(parse_formula(formula_to_string(e)))`` equals
    ``srepr(e)``: Floats keep every bit and their precision, Rationals stay exact, integers
    over 100 digits are written as exact arithmetic. Symbols with other assumptions are
    written by name alone. Pass the ``functions`` mapping given to :func:`parse_formula`.

    Raises:
        ParseError: ``expr`` holds something the grammar cannot express (``I``, ``oo``,
            ``zoo``, ``nan``, an unknown or undefined function, ``Derivative``, ``Integral``,
            a Dummy, a reserved symbol name such as ``pi`` ...), naming the offender.
    """
    table = DEFAULT_FUNCTIONS if functions is None else functions
    if isinstance(expr, bool) or not isinstance(expr, (sympy.Basic, int, float)):
        raise ParseError(f"expected a SymPy expression, not {type(expr).__name__}")
    if not isinstance(expr, sympy.Basic):
        expr = sympy.Integer(expr) if isinstance(expr, int) else sympy.Float(expr)
    reserved = frozenset({*table, *STRUCTURAL_NAMES, *CONSTANT_NAMES})
    return fp.FormulaPrinter(table, reserved).doprint(expr)


class _Parser(src.Source):
    """One parse: the text is read and checked (:class:`Source`), then built bottom-up."""

    def __init__(self, text: str, functions: Mapping[str, Callable[..., Any]],
                 max_depth: int, undefined_functions: bool) -> None:
        super().__init__(text, functions, max_depth, undefined_functions)
        self.table = functions
        self.limits = guard.Limits()
        self.clock = guard.WorkBudget(guard.MAX_WORK)

    def run(self) -> Any:
        body = self.read().body
        self.validate(body)
        try:
            with guard.WorkBudget(guard.MAX_WORK) as self.clock:
                value = self.build(body)
                if not isinstance(value, sympy.Expr):
                    self.fail("the formula is a condition, not an expression; use it in "
                              "Piecewise", 0)
                self.refuse(self.limits.finished(value), None)
        except guard.Overtime:
            if not self.clock.exhausted:  # an enclosing budget (a whole document) is used up
                raise
            raise self.error(f"formula takes too long to build (over {guard.MAX_WORK} calls "
                             "of SymPy work); simplify it") from None
        return value

    # -- building ---------------------------------------------------------------------------
    def build(self, root: ast.expr) -> Any:
        """Build the checked tree bottom-up without recursion."""
        stack: list[tuple[ast.expr, bool]] = [(root, False)]
        values: list[Any] = []
        while stack:
            node, ready = stack.pop()
            kids = self.kids[id(node)]
            if not ready:
                stack.append((node, True))
                stack.extend((kid, False) for kid in reversed(kids))
                continue
            args = values[len(values) - len(kids):]
            del values[len(values) - len(kids):]
            try:
                value = self.make(node, args, kids)
            except ParseError:
                raise
            except Exception as exc:  # SymPy refused to build the node
                segment = self.source[self.pos(node):self.end(node)]
                raise self.error(f"cannot build {segment[:60]!r}: {type(exc).__name__}: "
                                 f"{str(exc)[:160]}", node) from exc
            self.refuse(self.limits.value(value), node)
            self.clock.check()
            values.append(value)
        return values[0]

    def make(self, node: ast.expr, args: list[Any], kids: list[ast.expr]) -> Any:
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool):
                return sympy.true if node.value else sympy.false
            return self.number(node, None)
        if isinstance(node, ast.Name):
            if self.is_lambda(node):
                return sympy.Symbol("lambda", real=True)
            return _CONSTANTS[node.id] if node.id in _CONSTANTS else \
                sympy.Symbol(node.id, real=True)
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.Invert):
                return sympy.Not(*self.typed(args, kids, condition=True))
            value = self.typed(args, kids)[0]
            return -value if isinstance(node.op, ast.USub) else value
        if isinstance(node, ast.BinOp):
            return self.binop(node, args, kids)
        if isinstance(node, ast.Compare):
            self.typed(args, kids)
            rels = [_COMPARE[type(op)](a, b)
                    for op, a, b in zip(node.ops, args, args[1:], strict=False)]
            for rel in rels:
                self.refuse(self.limits.relation(rel), node)
            return rels[0] if len(rels) == 1 else sympy.And(*rels)
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
            self.fail(f"{type(node).__name__} is not allowed", node)  # pragma: no cover
        return self.call(node, node.func.id, args, kids)

    def typed(self, args: list[Any], kids: list[ast.expr], condition: bool = False) -> list[Any]:
        """Require expressions (or, with ``condition``, conditions) as operands."""
        for arg, kid in zip(args, kids, strict=True):
            if condition and (not isinstance(arg, Boolean) or isinstance(arg, sympy.Expr)):
                self.fail("expected a condition here (a comparison, True/False, or &, |, ~ of "
                          "them)", kid)
            if not condition and not isinstance(arg, sympy.Expr):
                self.fail("expected an expression here, not a condition", kid)
        return args

    def number(self, node: ast.Constant, precision: int | None) -> Any:
        text = self.source[self.pos(node):self.end(node)].replace("_", "")
        try:
            return fp.read_number(node.value, text, precision)  # type: ignore[arg-type]
        except ValueError as exc:
            raise self.error(str(exc), node) from None

    def binop(self, node: ast.BinOp, args: list[Any], kids: list[ast.expr]) -> Any:
        group = src.GROUP[type(node.op)]
        if group in ("and", "or"):
            return (sympy.And if group == "and" else sympy.Or)(
                *self.typed(args, kids, condition=True))
        self.typed(args, kids)
        if group == "pow":
            self.refuse(self.limits.power(*args), self.op_pos(kids[0], kids[1], "**"))
            return args[0] ** args[1]
        acc, rest = args[0], list[Any]()
        for link, arg in zip(self.links[id(node)], args[1:], strict=True):
            if len(args) <= _SEQUENTIAL_CHAIN or (not rest and isinstance(acc, sympy.Number)
                                                  and isinstance(arg, sympy.Number)):
                acc = _BINARY[type(link.op)](acc, arg)  # exactly Python's left-to-right order
                self.refuse(self.limits.value(acc),
                            self.op_pos(link.left, link.right, src.SYMBOL[type(link.op)]))
            elif group == "add":
                rest.append(arg if isinstance(link.op, ast.Add) else -arg)
            else:
                rest.append(arg if isinstance(link.op, ast.Mult) else sympy.Pow(arg, -1))
        if not rest:
            return acc
        return sympy.Add(acc, *rest) if group == "add" else sympy.Mul(acc, *rest)

    def call(self, node: ast.Call, name: str, args: list[Any], kids: list[ast.expr]) -> Any:
        if name == "Float":
            literal, negative = node.args[0], False
            while isinstance(literal, ast.UnaryOp) and isinstance(literal.op, (ast.USub, ast.UAdd)):
                negative ^= isinstance(literal.op, ast.USub)
                literal = literal.operand
            bits = node.keywords[0].value
            if not (isinstance(literal, ast.Constant) and type(literal.value) in (int, float)
                    and isinstance(bits, ast.Constant) and type(bits.value) is int
                    and 1 <= bits.value <= fp.MAX_FLOAT_PRECISION):
                self.fail("write Float(<number literal>, precision=<bits from 1 to "
                          f"{fp.MAX_FLOAT_PRECISION}>)", node)
            value = self.number(literal, bits.value)
            return -value if negative else value
        if name == "Piecewise":
            self.typed(args[0::2], kids[0::2])
            self.typed(args[1::2], kids[1::2], condition=True)
            pairs = list(zip(args[0::2], args[1::2], strict=True))
            self.refuse(self.limits.piecewise(pairs), node)
            return sympy.Piecewise(*pairs)
        if name in _LOGIC:
            return _LOGIC[name](*self.typed(args, kids, condition=True))
        self.typed(args, kids)
        if name in _RELATIONS:
            relation = _RELATIONS[name](*args)
            self.refuse(self.limits.relation(relation), node)
            return relation
        function = self.table.get(name) or sympy.Function(name)  # checked by Source
        if not callable(function):
            self.fail(f"{name!r} is not callable in the functions mapping", node.func)
        self.refuse(self.limits.call(function, name, args), node)
        return function(*args)
