"""Safe formula parser (text -> SymPy through an AST allow-list) and its exact inverse printer.

Formula strings come from users, files and plugins, so they are never evaluated: no ``eval``,
``exec``, ``sympify``, ``parse_expr`` or ``S(str)``. Python's parser (:func:`ast.parse`) only
reads the syntax; the tree is checked against an explicit allow-list and every node is built
directly as a SymPy object. :func:`formula_to_string` writes expressions back in this grammar.

Grammar:

* **Numbers** — integer literals (``3``, ``0x1F``; at most 100 digits) become ``Integer``;
  ``1/3`` stays the exact ``Rational(1, 3)``. Float literals (``2.5``, ``1e-3``, ``.5``) are
  rounded once from their decimal text: 53 bits for up to 17 significant digits (so
  ``repr(float)`` strings round trip), SymPy's ``dps_to_prec(digits)`` bits for longer ones.
  ``Float(1.5, precision=80)`` gives any binary precision (the only keyword argument).
* **Names** — identifiers become ``Symbol(name, real=True)``; ``lambda`` is an ordinary name
  (a lambda *expression* is rejected). Names starting with ``_`` are rejected.
* **Constants** — ``pi``, ``E``, ``True``, ``False``.
* **Arithmetic** — ``+ - * / **`` and unary ``-``/``+`` on expressions.
* **Comparisons** — ``< <= > >= == !=`` (Lt, Le, Gt, Ge, Eq, Ne); ``a < b < c`` means
  ``(a < b) & (b < c)``.
* **Logic** — ``&``, ``|``, ``~`` on conditions (And, Or, Not); parenthesise comparisons:
  ``(x > 0) & (y > 0)``.
* **Calls** — by plain name with positional arguments: the allowed functions
  (:data:`DEFAULT_FUNCTIONS`: ``exp log sqrt sin cos tan cot sec csc asin acos atan atan2 sinh
  cosh tanh asinh acosh atanh erf erfc Abs abs sign sinc Heaviside Max Min besselj floor
  ceiling Piecewise``, or the ``functions`` mapping given), and always the structural names
  ``Piecewise((expr, cond), ..., (expr, True))``, ``Eq Ne Lt Le Gt Ge`` (2 arguments),
  ``And Or`` (1 or more), ``Not`` (1) and ``Float``.

Everything else is a :class:`~aclcore.errors.ParseError` naming the reason and the 0-based
character position: attribute access, subscripts, strings and f-strings, lambda expressions,
comprehensions, ``:=``, ``a if c else b``, list/dict/set/tuple displays (tuples only as
Piecewise arguments), ``*``/``**`` unpacking, keyword arguments, ``and``/``or``/``not``,
``// % @ ^ << >>``, ``is``/``in``, unknown functions, wrong argument counts, imaginary
numbers, and results that are complex, infinite or undefined (``1/0``, ``log(0)``).

Limits (every hostile input fails in well under a second): the text is at most
``max_length`` characters and ``max_depth`` levels deep (brackets, signs and syntax tree);
numbers have at most 1000 digits and Floats a magnitude within ``1e+-1000`` and at most 3400
bits; a power must not create more than 1000 digits (10000 in all), roots are taken of numbers
of at most 300 digits; calls, Piecewise and ``&``/``|`` take at most 100 operands; ``Max`` and
``Min`` at most 300 pairwise comparisons in all; functions are evaluated numerically only on
Floats up to ``1e30`` (``besselj`` orders up to 200). Long ``+``/``*`` chains (over 32
operands) are built with one ``Add``/``Mul`` call.
"""

from __future__ import annotations

import ast
import difflib
import io
import math
import operator
import re
import tokenize
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, NoReturn

import sympy
from sympy.logic.boolalg import Boolean

from aclcore import _formula_print as fp
from aclcore.errors import ParseError

__all__ = ["DEFAULT_FUNCTIONS", "formula_to_string", "parse_formula"]

MAX_ARGS = 100
MAX_POWER_DIGITS = 10_000
MAX_ROOT_DIGITS = 300
MAX_LATTICE_PAIRS = 300
NUMERIC_EVAL_MAX = 30.0  # log10 of the largest Float argument evaluated numerically
BESSEL_MAX_ORDER = 200
_SEQUENTIAL_CHAIN = 32
_PLACEHOLDER = "_lmbd_"  # stands for the name `lambda`; same length, so positions hold


def _sqrt(arg: Any) -> Any:
    """Square root of one argument (``sympy.sqrt`` would read a second one as ``evaluate``)."""
    return sympy.sqrt(arg)


DEFAULT_FUNCTIONS: Mapping[str, Callable[..., Any]] = MappingProxyType({
    "exp": sympy.exp, "log": sympy.log, "sqrt": _sqrt, "sin": sympy.sin, "cos": sympy.cos,
    "tan": sympy.tan, "cot": sympy.cot, "sec": sympy.sec, "csc": sympy.csc, "asin": sympy.asin,
    "acos": sympy.acos, "atan": sympy.atan, "atan2": sympy.atan2, "sinh": sympy.sinh,
    "cosh": sympy.cosh, "tanh": sympy.tanh, "asinh": sympy.asinh, "acosh": sympy.acosh,
    "atanh": sympy.atanh, "erf": sympy.erf, "erfc": sympy.erfc, "Abs": sympy.Abs,
    "abs": sympy.Abs, "sign": sympy.sign, "sinc": sympy.sinc, "Heaviside": sympy.Heaviside,
    "Max": sympy.Max, "Min": sympy.Min, "besselj": sympy.besselj, "floor": sympy.floor,
    "ceiling": sympy.ceiling, "Piecewise": sympy.Piecewise,
})
"""The callable names allowed by default (name -> SymPy callable); ``functions=`` replaces it."""

_RELATIONS = {"Eq": sympy.Eq, "Ne": sympy.Ne, "Lt": sympy.Lt, "Le": sympy.Le,
              "Gt": sympy.Gt, "Ge": sympy.Ge}
_LOGIC = {"And": sympy.And, "Or": sympy.Or, "Not": sympy.Not}
STRUCTURAL = frozenset({"Piecewise", "Float", *_RELATIONS, *_LOGIC})
_CONSTANTS = {"pi": sympy.pi, "E": sympy.E}
_COMPARE = {ast.Lt: sympy.Lt, ast.LtE: sympy.Le, ast.Gt: sympy.Gt, ast.GtE: sympy.Ge,
            ast.Eq: sympy.Eq, ast.NotEq: sympy.Ne}
_GROUP = {ast.Add: "add", ast.Sub: "add", ast.Mult: "mul", ast.Div: "mul", ast.Pow: "pow",
          ast.BitAnd: "and", ast.BitOr: "or"}
_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
           ast.Div: operator.truediv}
_SYMBOL = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**",
           ast.BitAnd: "&", ast.BitOr: "|", ast.FloorDiv: "//", ast.Mod: "%", ast.MatMult: "@",
           ast.BitXor: "^", ast.LShift: "<<", ast.RShift: ">>", ast.Is: "is",
           ast.IsNot: "is not", ast.In: "in", ast.NotIn: "not in"}
_REJECTED = {
    ast.Attribute: "attribute access ('.name') is not allowed",
    ast.Subscript: "subscripts ('[...]') are not allowed",
    ast.Lambda: "lambda expressions are not allowed",
    ast.JoinedStr: "f-strings are not allowed", ast.Starred: "'*' unpacking is not allowed",
    ast.NamedExpr: "assignment expressions (':=') are not allowed",
    ast.IfExp: "conditional expressions are not allowed; use Piecewise((a, cond), (b, True))",
    ast.Tuple: "tuples are only allowed as the (expression, condition) pairs of Piecewise",
    ast.BoolOp: "'and'/'or' are not allowed; use & and | on parenthesised comparisons",
}
for _kind in (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp):
    _REJECTED[_kind] = "comprehensions are not allowed"
for _kind in (ast.List, ast.Dict, ast.Set):
    _REJECTED[_kind] = f"{_kind.__name__.lower()} displays are not allowed"
_UNDEFINED = (sympy.zoo, sympy.nan, sympy.oo, -sympy.oo, sympy.I)
_NEWLINE = re.compile(r"\r\n|\r|\n")


def parse_formula(text: str, *, functions: Mapping[str, Callable[..., Any]] | None = None,
                  max_length: int = 20_000, max_depth: int = 100) -> Any:
    """Parse a formula string into a SymPy expression without evaluating any code.

    Args:
        text: the formula, in the grammar described in this module's docstring.
        functions: name -> callable for the allowed function calls; replaces
            :data:`DEFAULT_FUNCTIONS` (the structural names Piecewise, Eq, Ne, Lt, Le, Gt, Ge,
            And, Or, Not and Float, and the constants pi and E, always work).
        max_length: longest accepted text, checked before anything else.
        max_depth: deepest accepted nesting (brackets, runs of signs, syntax tree).

    Returns:
        A ``sympy.Expr`` whose symbols are all ``real=True``.

    Raises:
        ParseError: the text is not a str, too long, too deep, or not in the grammar; the
            error carries ``reason``, the 0-based ``position`` and the ``text``.
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
    return _Parser(text, table, max_depth).run()


def formula_to_string(expr: Any, *,
                      functions: Mapping[str, Callable[..., Any]] | None = None) -> str:
    """Write ``expr`` so that :func:`parse_formula` reads back an identical expression.

    For every expression of the grammar whose symbols are ``real=True`` (the parser makes
    all symbols real), ``srepr(parse_formula(formula_to_string(e))) == srepr(e)``: Floats keep
    every bit and their precision, Rationals stay exact, integers over 100 digits are written
    as exact arithmetic. Symbols with other assumptions print by name alone. Pass the same
    ``functions`` mapping as to :func:`parse_formula` when it is not the default.

    Raises:
        ParseError: ``expr`` holds something the grammar cannot express (``I``, ``oo``,
            ``zoo``, ``nan``, an unknown or undefined function, ``Derivative``, ``Integral``,
            a Dummy, a reserved symbol name such as ``pi`` ...), naming the offender.
    """
    table = DEFAULT_FUNCTIONS if functions is None else functions
    if isinstance(expr, bool) or not isinstance(expr, (sympy.Basic, int, float)):
        raise ParseError(f"expected a SymPy expression, not {type(expr).__name__}")
    if isinstance(expr, int):
        expr = sympy.Integer(expr)
    elif isinstance(expr, float):
        expr = sympy.Float(expr)
    reserved = frozenset({*table, *STRUCTURAL, *_CONSTANTS})
    return fp.FormulaPrinter(table, reserved).doprint(expr)


def _log10(number: Any) -> float:
    """log10 of the magnitude of a nonzero Rational, Float or NumberSymbol."""
    if isinstance(number, sympy.Float):
        return fp.float_log10(number._mpf_)
    if isinstance(number, sympy.Rational):
        return math.log10(abs(int(number.p))) - math.log10(int(number.q))
    return math.log10(abs(float(number)))


def _size(expr: Any) -> float:
    """Largest |log10| over the numbers in ``expr``: how fast a power of it grows."""
    atoms = expr.atoms(sympy.Number, sympy.NumberSymbol)
    sizes = [0.0]
    for atom in atoms:
        if isinstance(atom, sympy.Rational):
            sizes.append(math.log10(max(abs(int(atom.p)), int(atom.q), 1)))
        elif atom.is_finite and atom != 0:
            sizes.append(abs(_log10(atom)))
    return max(sizes)


class _Parser:
    """One parse: source bookkeeping, the allow-list check and the iterative builder."""

    def __init__(self, text: str, functions: Mapping[str, Callable[..., Any]],
                 max_depth: int) -> None:
        self.text, self.functions, self.max_depth = text, functions, max_depth
        self.source = text.lstrip()
        self.base = len(text) - len(self.source)
        self.starts = [0] + [m.end() for m in _NEWLINE.finditer(self.source)]
        self.kids: dict[int, list[ast.AST]] = {}
        self.links: dict[int, list[ast.BinOp]] = {}
        self.lambdas: set[int] = set()
        self.power_digits = 0.0
        self.lattice_pairs = 0

    # -- positions and errors ---------------------------------------------------------------
    def error(self, reason: str, at: ast.AST | int | None = None) -> ParseError:
        pos = self.pos(at) if isinstance(at, ast.AST) else at
        return ParseError(reason, text=self.text, position=None if pos is None else
                          self.base + max(0, min(pos, len(self.source))))

    def fail(self, reason: str, at: ast.AST | int | None = None) -> NoReturn:
        raise self.error(reason, at)

    def offset(self, line: int, col: int) -> int:
        start = self.starts[line - 1]
        end = self.starts[line] if line < len(self.starts) else len(self.source)
        text = self.source[start:end]
        return start + (col if text.isascii() else
                        len(text.encode()[:col].decode("utf-8", "ignore")))

    def pos(self, node: Any) -> int:
        return self.offset(node.lineno, node.col_offset)

    def end(self, node: Any) -> int:
        return self.offset(node.end_lineno, node.end_col_offset)

    def segment(self, node: ast.AST) -> str:
        return self.source[self.pos(node):self.end(node)]

    def op_pos(self, left: ast.AST, right: ast.AST, symbol: str) -> int:
        start = self.end(left)
        found = self.source.find(symbol, start, self.pos(right))
        return found if found >= 0 else start

    # -- reading the text -------------------------------------------------------------------
    def run(self) -> Any:
        if not self.source.strip():
            self.fail("empty formula")
        self.prescan()
        tree = self.parse()
        self.validate(tree.body)
        value = self.build(tree.body)
        if not isinstance(value, sympy.Expr):
            self.fail("the formula is a condition, not an expression; use it in Piecewise", 0)
        if value.has(*_UNDEFINED):
            self.fail("the formula has complex, infinite or undefined parts (I, oo, zoo, nan)")
        for atom in value.atoms(sympy.Number):
            self.check_number(atom, 0)
        return value

    def prescan(self) -> None:
        depth = signs = 0
        for i, char in enumerate(self.source):
            if char in "([{":
                depth, signs = depth + 1, 0
                if depth > self.max_depth:
                    self.fail(f"brackets are nested too deeply (limit {self.max_depth})", i)
            elif char in ")]}":
                depth, signs = depth - 1, 0
            elif char in "+-~":
                signs += 1
                if signs > self.max_depth:
                    self.fail(f"too many signs in a row (limit {self.max_depth})", i)
            elif char == "\0":
                self.fail("NUL characters are not allowed", i)
            elif not char.isspace():
                signs = 0

    def parse(self) -> ast.Expression:
        try:
            return ast.parse(self.source, mode="eval")
        except SyntaxError as exc:
            first = exc
        except (MemoryError, RecursionError, ValueError, OverflowError) as exc:
            raise self.error("formula is too complex for the Python parser") from exc
        if "lambda" in self.source and self.rename_lambda():
            try:
                return ast.parse(self.source, mode="eval")
            except (SyntaxError, MemoryError, RecursionError, ValueError, OverflowError):
                pass
        message = first.msg or "invalid syntax"
        if "Exceeds the limit" in message:
            message = f"integer literal has more than {fp.MAX_INT_LITERAL_DIGITS} digits"
        line = min(max(first.lineno or 1, 1), len(self.starts))
        raise self.error(f"invalid syntax: {message}",
                         self.starts[line - 1] + max((first.offset or 1) - 1, 0)) from first

    def rename_lambda(self) -> bool:
        """Turn each NAME token ``lambda`` into the placeholder; False when that cannot help."""
        try:
            tokens = list(tokenize.generate_tokens(io.StringIO(self.source).readline))
        except (tokenize.TokenError, SyntaxError):
            return False
        lines = [0]
        for line in io.StringIO(self.source):
            lines.append(lines[-1] + len(line))
        found: list[int] = []
        for tok in tokens:
            if tok.type == tokenize.NAME and tok.string == "lambda":
                found.append(lines[tok.start[0] - 1] + tok.start[1])
            elif found and tok.type == tokenize.OP and tok.string == ":":
                self.fail("lambda expressions are not allowed", found[-1])
        chars = list(self.source)
        for at in found:
            chars[at:at + 6] = _PLACEHOLDER
        self.source, self.lambdas = "".join(chars), set(found)
        return bool(found)

    # -- the allow-list ---------------------------------------------------------------------
    def validate(self, root: ast.AST) -> None:
        stack: list[tuple[ast.AST, int]] = [(root, 1)]
        while stack:
            node, depth = stack.pop()
            if depth > self.max_depth:
                self.fail(f"formula is nested too deeply (limit {self.max_depth})", node)
            kids = self.kids[id(node)] = self.check(node)
            stack.extend((kid, depth + 1) for kid in reversed(kids))

    def check(self, node: ast.AST) -> list[ast.AST]:
        if isinstance(node, ast.Constant):
            kind = type(node.value)
            if kind not in (bool, int, float):
                self.fail({complex: "imaginary numbers are not allowed", str: "strings are not "
                           "allowed", bytes: "bytes are not allowed"}.get(
                               kind, f"{node.value!r} is not allowed"), node)
            return []
        if isinstance(node, ast.Name):
            if not self.is_lambda(node):
                self.check_name(node.id, node)
                if node.id in self.functions or node.id in STRUCTURAL:
                    self.fail(f"{node.id!r} is a function; call it, e.g. {node.id}(x)", node)
            return []
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.Not):
                self.fail("'not' is not allowed; negate a condition with ~", node)
            return [node.operand]
        if isinstance(node, ast.BinOp):
            return self.chain(node)
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            for op, left, right in zip(node.ops, operands, operands[1:]):
                if type(op) not in _COMPARE:
                    word = _SYMBOL.get(type(op), "?")
                    self.fail(f"{word!r} is not allowed",
                              self.op_pos(left, right, word.split()[0]))
            return self.count(operands, node)
        if isinstance(node, ast.Call):
            return self.check_call(node)
        if isinstance(node, ast.Attribute):
            self.fail(_REJECTED[ast.Attribute], self.end(node) - len(node.attr))
        if isinstance(node, ast.Subscript):
            self.fail(_REJECTED[ast.Subscript], self.source.find("[", self.end(node.value)))
        self.fail(_REJECTED.get(type(node), f"{type(node).__name__} is not allowed"), node)

    def count(self, operands: list[ast.AST], node: ast.AST) -> list[ast.AST]:
        if len(operands) > MAX_ARGS:
            self.fail(f"too many operands ({len(operands)}; the limit is {MAX_ARGS})", node)
        return operands

    def chain(self, node: ast.BinOp) -> list[ast.AST]:
        group = _GROUP.get(type(node.op))
        if group is None:
            symbol = _SYMBOL.get(type(node.op), "?")
            hint = "; use ** for powers" if symbol == "^" else ""
            self.fail(f"operator {symbol!r} is not allowed{hint}",
                      self.op_pos(node.left, node.right, symbol))
        links = [node]
        while group != "pow" and isinstance(links[-1].left, ast.BinOp) \
                and _GROUP.get(type(links[-1].left.op)) == group:
            links.append(links[-1].left)
        links.reverse()
        self.links[id(node)] = links
        operands = [links[0].left, *(link.right for link in links)]
        return self.count(operands, node) if group in ("and", "or") else operands

    def check_name(self, name: str, node: ast.AST) -> None:
        if name.startswith("_"):
            self.fail(f"names starting with '_' are not allowed: {name!r}", node)

    def is_lambda(self, node: ast.Name) -> bool:
        return node.id == "lambda" or (node.id == _PLACEHOLDER and self.pos(node) in self.lambdas)

    def check_call(self, node: ast.Call) -> list[ast.AST]:
        func = node.func
        if not isinstance(func, ast.Name):
            self.check(func)
            self.fail("only allowed functions can be called, by their plain name", func)
        name = func.id
        self.check_name(name, func)
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                self.fail(_REJECTED[ast.Starred], arg)
        for kw in node.keywords:
            if kw.arg is None:
                self.fail("'**' unpacking is not allowed", kw)
            if (name, kw.arg) != ("Float", "precision"):
                self.fail(f"keyword arguments are not allowed ({kw.arg}=)", kw)
        if name in _CONSTANTS:
            self.fail(f"{name!r} is a constant, not a function", func)
        if name not in STRUCTURAL and name not in self.functions:
            close = difflib.get_close_matches(name, sorted({*self.functions, *STRUCTURAL}))
            hint = f"did you mean {', '.join(close)}?" if close else \
                "allowed: " + ", ".join(sorted(self.functions))
            self.fail(f"unknown function {name!r}; {hint}", func)
        args = self.count(list(node.args), node)
        wanted = {"Not": 1, **dict.fromkeys(_RELATIONS, 2)}.get(name)
        if (wanted and len(args) != wanted) or not args:
            self.fail(f"{name} takes {wanted or 'at least 1'} argument(s), got {len(args)}", node)
        if name == "Float":
            if len(args) != 1 or [kw.arg for kw in node.keywords] != ["precision"]:
                self.fail("write Float(<number literal>, precision=<bits>)", node)
            return []
        if name == "Piecewise":
            for arg in args:
                if not isinstance(arg, ast.Tuple) or len(arg.elts) != 2:
                    self.fail("Piecewise takes (expression, condition) pairs", arg)
            return [elt for arg in args for elt in arg.elts]  # type: ignore[attr-defined]
        return args

    # -- building ---------------------------------------------------------------------------
    def build(self, root: ast.AST) -> Any:
        stack: list[tuple[ast.AST, bool]] = [(root, False)]
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
            except Exception as exc:
                detail = f"{type(exc).__name__}: {exc}"[:200]
                raise self.error(f"cannot build {self.segment(node)[:60]!r}: {detail}",
                                 node) from exc
            self.check_value(value, node)
            values.append(value)
        return values[0]

    def make(self, node: ast.AST, args: list[Any], kids: list[ast.AST]) -> Any:
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool):
                return sympy.true if node.value else sympy.false
            return self.number(node, None)
        if isinstance(node, ast.Name):
            if self.is_lambda(node):
                return sympy.Symbol("lambda", real=True)
            if node.id in _CONSTANTS:
                return _CONSTANTS[node.id]
            return sympy.Symbol(node.id, real=True)
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.Invert):
                return sympy.Not(self.cond(args[0], kids[0]))
            return -self.expr(args[0], kids[0]) if isinstance(node.op, ast.USub) else \
                self.expr(args[0], kids[0])
        if isinstance(node, ast.BinOp):
            return self.binop(node, args, kids)
        if isinstance(node, ast.Compare):
            for arg, kid in zip(args, kids):
                self.expr(arg, kid)
            rels = [_COMPARE[type(op)](a, b) for op, a, b in zip(node.ops, args, args[1:])]
            return rels[0] if len(rels) == 1 else sympy.And(*rels)
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
            self.fail(f"{type(node).__name__} is not allowed", node)  # pragma: no cover
        return self.call(node, node.func.id, args, kids)

    def expr(self, value: Any, node: ast.AST) -> Any:
        if not isinstance(value, sympy.Expr):
            self.fail("expected an expression here, not a condition", node)
        return value

    def cond(self, value: Any, node: ast.AST) -> Any:
        if not isinstance(value, Boolean) or isinstance(value, sympy.Expr):
            self.fail("expected a condition here (a comparison, True/False, or &, |, ~ of "
                      "them)", node)
        return value

    def number(self, node: ast.AST, precision: int | None) -> Any:
        value = node.value  # type: ignore[attr-defined]
        if isinstance(value, int):
            if fp.int_digits(value) > fp.MAX_INT_LITERAL_DIGITS:
                self.fail(f"integer literal has more than {fp.MAX_INT_LITERAL_DIGITS} digits",
                          node)
            if precision is None:
                return sympy.Integer(value)
        text = str(value) if isinstance(value, int) else self.segment(node).replace("_", "")
        digits, exponent, zero = fp.literal_digits(text)
        prec = fp.literal_precision(digits) if precision is None else precision
        if digits > fp.MAX_FLOAT_LITERAL_DIGITS or prec > fp.MAX_FLOAT_PRECISION:
            self.fail(f"float literal has too many digits ({digits})", node)
        if not zero and abs(exponent) > fp.MAX_FLOAT_EXPONENT:
            self.fail(f"float literal is out of range (beyond 1e+-{fp.MAX_FLOAT_EXPONENT})", node)
        return fp.float_from_literal(text, prec)

    def binop(self, node: ast.BinOp, args: list[Any], kids: list[ast.AST]) -> Any:
        links = self.links[id(node)]
        group = _GROUP[type(node.op)]
        if group in ("and", "or"):
            conds = [self.cond(arg, kid) for arg, kid in zip(args, kids)]
            return (sympy.And if group == "and" else sympy.Or)(*conds)
        for arg, kid in zip(args, kids):
            self.expr(arg, kid)
        if group == "pow":
            self.check_power(args[0], args[1], self.op_pos(kids[0], kids[1], "**"))
            return args[0] ** args[1]
        acc, rest = args[0], []
        for link, arg in zip(links, args[1:]):
            if len(args) <= _SEQUENTIAL_CHAIN or not rest and isinstance(acc, sympy.Number) \
                    and isinstance(arg, sympy.Number):
                acc = _BINARY[type(link.op)](acc, arg)
                self.check_value(acc, self.op_pos(link.left, link.right, _SYMBOL[type(link.op)]))
            elif group == "add":
                rest.append(arg if isinstance(link.op, ast.Add) else -arg)
            else:
                rest.append(arg if isinstance(link.op, ast.Mult) else sympy.Pow(arg, -1))
        if not rest:
            return acc
        return sympy.Add(acc, *rest) if group == "add" else sympy.Mul(acc, *rest)

    def call(self, node: ast.Call, name: str, args: list[Any], kids: list[ast.AST]) -> Any:
        if name == "Float":
            literal, sign = node.args[0], 1
            while isinstance(literal, ast.UnaryOp) and isinstance(literal.op, (ast.USub, ast.UAdd)):
                sign, literal = -sign if isinstance(literal.op, ast.USub) else sign, literal.operand
            bits = node.keywords[0].value
            if not (isinstance(literal, ast.Constant) and type(literal.value) in (int, float)
                    and isinstance(bits, ast.Constant) and type(bits.value) is int
                    and 1 <= bits.value <= fp.MAX_FLOAT_PRECISION):
                self.fail("write Float(<number literal>, precision=<bits from 1 to "
                          f"{fp.MAX_FLOAT_PRECISION}>)", node)
            value = self.number(literal, bits.value)
            return -value if sign < 0 else value
        if name == "Piecewise":
            pairs = [(self.expr(args[i], kids[i]), self.cond(args[i + 1], kids[i + 1]))
                     for i in range(0, len(args), 2)]
            return sympy.Piecewise(*pairs)
        if name in _LOGIC:
            return _LOGIC[name](*(self.cond(arg, kid) for arg, kid in zip(args, kids)))
        for arg, kid in zip(args, kids):
            self.expr(arg, kid)
        if name in _RELATIONS:
            return _RELATIONS[name](*args)
        function = self.functions[name]
        if not callable(function):
            self.fail(f"{name!r} is not callable in the functions mapping", node.func)
        self.guard_call(function, name, args, self.pos(node))
        return function(*args)

    # -- resource guards --------------------------------------------------------------------
    def guard_call(self, function: Any, name: str, args: list[Any], at: int) -> None:
        if function is sympy.exp and len(args) == 1 and args[0].has(sympy.log):
            self.check_exp_log(args[0], at)
        if function in (_sqrt, sympy.sqrt) and len(args) == 1:
            self.check_power(args[0], sympy.S.Half, at)
        if function in (sympy.Max, sympy.Min):
            count = sum(len(a.args) if isinstance(a, function) else 1 for a in args)
            self.lattice_pairs += count * (count - 1) // 2
            if self.lattice_pairs > MAX_LATTICE_PAIRS:
                self.fail(f"too many Max/Min comparisons (limit {MAX_LATTICE_PAIRS})", at)
        if all(arg.is_number and arg.has(sympy.Float) for arg in args):  # evaluated by mpmath
            if any(f and fp.float_log10(f._mpf_) > NUMERIC_EVAL_MAX
                   for arg in args for f in arg.atoms(sympy.Float)):
                self.fail(f"numeric argument too large to evaluate {name} (limit 1e30)", at)
            if function is sympy.besselj and len(args) == 2 and abs(args[0]) > BESSEL_MAX_ORDER:
                self.fail(f"besselj order too large to evaluate (limit {BESSEL_MAX_ORDER})", at)

    def check_exp_log(self, arg: Any, at: int) -> None:
        size = _size(arg)
        if size > 0 and size + math.log10(size) > math.log10(fp.MAX_NUMBER_DIGITS):
            self.fail("exponent too large: exp(c*log(b)) would create a huge power", at)

    def check_power(self, base: Any, exponent: Any, at: int) -> None:
        if exponent.has(sympy.log):
            self.check_exp_log(exponent, at)
        if not isinstance(exponent, sympy.Number) or exponent.is_zero:
            return
        size = _size(base)
        if size <= 0:
            return
        if isinstance(exponent, sympy.Rational) and exponent.q != 1 and any(
                fp.int_digits(int(n)) > MAX_ROOT_DIGITS
                for a in base.atoms(sympy.Rational) for n in (a.p, a.q)):
            self.fail(f"cannot take roots of numbers over {MAX_ROOT_DIGITS} digits", at)
        estimate = _log10(exponent) + math.log10(size)
        if estimate > math.log10(fp.MAX_NUMBER_DIGITS):
            self.fail(f"exponent too large: the power would have about 10**{estimate:.0f} "
                      f"digits (limit {fp.MAX_NUMBER_DIGITS})", at)
        self.power_digits += 10.0 ** estimate
        if self.power_digits > MAX_POWER_DIGITS:
            self.fail(f"too many large powers: over {MAX_POWER_DIGITS} digits in all", at)

    def check_value(self, value: Any, at: ast.AST | int) -> None:
        items = (value, *value.args[:2]) if isinstance(value, (sympy.Add, sympy.Mul)) \
            else (value,)
        for item in items:
            if any(item is bad for bad in _UNDEFINED):
                self.fail(f"the value here is {item} (complex, infinite or undefined, e.g. "
                          "a division by zero)", at)
            self.check_number(item, at)

    def check_number(self, item: Any, at: ast.AST | int) -> None:
        if isinstance(item, sympy.Float):
            if item.is_finite is False:
                self.fail("the value here is not finite", at)
            if item and abs(fp.float_log10(item._mpf_)) > fp.MAX_FLOAT_EXPONENT:
                self.fail(f"number out of range (beyond 1e+-{fp.MAX_FLOAT_EXPONENT})", at)
        elif isinstance(item, sympy.Rational) and max(
                fp.int_digits(int(item.p)), fp.int_digits(int(item.q))) > fp.MAX_NUMBER_DIGITS:
            self.fail(f"number too large: more than {fp.MAX_NUMBER_DIGITS} digits", at)
