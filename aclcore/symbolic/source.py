"""Formula text to a checked Python syntax tree: the syntax half of :mod:`aclcore.symbolic.parse`.

Private helper. :class:`Source` takes the text to an AST without letting hostile text reach the
expensive or recursive parts of Python's parser (deep brackets, long runs of signs, NUL
characters), lets ``lambda`` be an ordinary name, maps AST positions back to character offsets
for error messages, and checks every node against the grammar's allow-list. Building SymPy
objects from the checked tree is :mod:`aclcore.symbolic.parse`'s part.
"""

from __future__ import annotations

import ast
import difflib
import io
import re
import tokenize
import warnings
from collections.abc import Collection
from typing import Any, NoReturn

from aclcore.errors import ParseError
from aclcore.symbolic.budget import MAX_NODES
from aclcore.symbolic.functions import CONSTANT_NAMES, STRUCTURAL_NAMES
from aclcore.symbolic.printer import MAX_INT_LITERAL_DIGITS

MAX_ARGS = 100  # operands of one call, Piecewise, comparison chain, & or | run
RELATION_NAMES = ("Eq", "Ne", "Lt", "Le", "Gt", "Ge")
LOGIC_NAMES = ("And", "Or", "Not", "ITE")
COMPARE_OPS = (ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Eq, ast.NotEq)
GROUP = {ast.Add: "add", ast.Sub: "add", ast.Mult: "mul", ast.Div: "mul", ast.Pow: "pow",
         ast.BitAnd: "and", ast.BitOr: "or"}
SYMBOL = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**",
          ast.BitAnd: "&", ast.BitOr: "|", ast.FloorDiv: "//", ast.Mod: "%", ast.MatMult: "@",
          ast.BitXor: "^", ast.LShift: "<<", ast.RShift: ">>", ast.Is: "is",
          ast.IsNot: "is not", ast.In: "in", ast.NotIn: "not in"}
LAMBDA_REASON = "lambda expressions are not allowed"
REJECTED: dict[type, str] = {
    ast.Attribute: "attribute access ('.name') is not allowed",
    ast.Subscript: "subscripts ('[...]') are not allowed",
    ast.Lambda: LAMBDA_REASON,
    ast.JoinedStr: "f-strings are not allowed", ast.Starred: "'*' unpacking is not allowed",
    ast.NamedExpr: "assignment expressions (':=') are not allowed",
    ast.IfExp: "conditional expressions are not allowed; use Piecewise((a, cond), (b, True))",
    ast.Tuple: "tuples are only allowed as the (expression, condition) pairs of Piecewise",
    ast.BoolOp: "'and'/'or' are not allowed; use & and | on parenthesised comparisons",
    **dict.fromkeys((ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp),
                    "comprehensions are not allowed"),
    **{kind: f"{kind.__name__.lower()} displays are not allowed"
       for kind in (ast.List, ast.Dict, ast.Set)},
}
CONSTANT_PROBLEMS = {complex: "imaginary numbers are not allowed",
                     str: "strings are not allowed", bytes: "bytes are not allowed"}
PLACEHOLDER = "_lmbd_"  # stands for the name `lambda`; same length, so positions hold
_NEWLINE = re.compile(r"\r\n|\r|\n")
_TOO_COMPLEX = (MemoryError, RecursionError, ValueError, OverflowError)


def _ast_parse(source: str) -> ast.Expression:
    """``ast.parse`` in eval mode, without Python's warnings about code (``1if`` ...)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        return ast.parse(source, mode="eval")


class Source:
    """The formula text on its way to a checked AST, with positions mapped back to the text."""

    def __init__(self, text: str, functions: Collection[str], max_depth: int,
                 undefined_functions: bool = False) -> None:
        self.text, self.functions, self.max_depth = text, functions, max_depth
        self.undefined_functions = undefined_functions
        self.source = text.lstrip()
        self.base = len(text) - len(self.source)
        self.starts = [0] + [m.end() for m in _NEWLINE.finditer(self.source)]
        self.lambdas: set[int] = set()
        self.kids: dict[int, list[ast.expr]] = {}  # checked node -> the operands to build
        self.links: dict[int, list[ast.BinOp]] = {}  # first node of a run -> its operators

    def error(self, reason: str, at: ast.AST | int | None = None) -> ParseError:
        """A ParseError at a node or at a character offset of the (stripped) source."""
        pos = self.pos(at) if isinstance(at, ast.AST) else at
        return ParseError(reason, text=self.text, position=None if pos is None else
                          self.base + max(0, min(pos, len(self.source))))

    def fail(self, reason: str, at: ast.AST | int | None = None) -> NoReturn:
        raise self.error(reason, at)

    def refuse(self, problem: str | None, at: ast.AST | int | None) -> None:
        if problem:
            self.fail(problem, at)

    def offset(self, line: int, col: int) -> int:
        """Character offset in the source of an AST (line, UTF-8 byte column)."""
        start = self.starts[line - 1]
        text = self.source[start:self.starts[line] if line < len(self.starts) else None]
        return start + (col if text.isascii() else
                        len(text.encode()[:col].decode("utf-8", "ignore")))

    def pos(self, node: Any) -> int:
        return self.offset(node.lineno, node.col_offset)

    def end(self, node: Any) -> int:
        return self.offset(node.end_lineno, node.end_col_offset)

    def op_pos(self, left: ast.AST, right: ast.AST, symbol: str) -> int:
        """Offset of an operator between two operands (for error messages)."""
        found = self.source.find(symbol, self.end(left), self.pos(right))
        return found if found >= 0 else self.end(left)

    def is_lambda(self, node: ast.Name) -> bool:
        """Whether a Name stands for the symbol ``lambda``."""
        return node.id == "lambda" or (node.id == PLACEHOLDER and self.pos(node) in self.lambdas)

    def read(self) -> ast.Expression:
        """Pre-scan the text, then parse it with Python's parser (mode ``eval``)."""
        if not self.source.strip():
            self.fail("empty formula")
        self.prescan()
        try:
            return _ast_parse(self.source)
        except SyntaxError as exc:
            first = exc
        except _TOO_COMPLEX as exc:
            raise self.error("formula is too complex for the Python parser") from exc
        if "lambda" in self.source and self.rename_lambda():
            try:
                return _ast_parse(self.source)
            except (SyntaxError, *_TOO_COMPLEX):
                pass
        message = first.msg or "invalid syntax"
        if "Exceeds the limit" in message:
            message = f"integer literal has more than {MAX_INT_LITERAL_DIGITS} digits"
        line = min(max(first.lineno or 1, 1), len(self.starts))
        raise self.error(f"invalid syntax: {message}",
                         self.starts[line - 1] + max((first.offset or 1) - 1, 0)) from first

    def prescan(self) -> None:
        """Reject deep bracket nesting and long runs of signs before Python's parser sees them."""
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

    def rename_lambda(self) -> bool:
        """Rename each NAME token ``lambda`` to the placeholder; False if there is none.

        Any ``:`` after a ``lambda`` makes it a lambda expression (``:`` has no other use in
        the grammar), which is refused.
        """
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
                self.fail(LAMBDA_REASON, found[-1])
        chars = list(self.source)
        for at in found:
            chars[at:at + len(PLACEHOLDER)] = PLACEHOLDER
        self.source, self.lambdas = "".join(chars), set(found)
        return bool(found)

    # -- the allow-list ---------------------------------------------------------------------
    def validate(self, body: ast.expr) -> None:
        """Check every node and the size limits, before SymPy builds anything."""
        stack: list[tuple[ast.expr, int]] = [(body, 1)]
        while stack:
            node, depth = stack.pop()
            if depth > self.max_depth:
                self.fail(f"formula is nested too deeply (limit {self.max_depth})", node)
            if len(self.kids) >= MAX_NODES:
                self.fail(f"formula is too large: over {MAX_NODES} numbers, names, operators "
                          "and calls", node)
            kids = self.kids[id(node)] = self.check(node)
            stack.extend((kid, depth + 1) for kid in reversed(kids))

    def check(self, node: ast.expr) -> list[ast.expr]:
        """Refuse a node outside the grammar; return the sub-expressions to build first."""
        if isinstance(node, ast.Constant):
            kind = type(node.value)
            if kind not in (bool, int, float):
                self.fail(CONSTANT_PROBLEMS.get(kind, f"{node.value!r} is not allowed"), node)
            return []
        if isinstance(node, ast.Name):
            if not self.is_lambda(node):
                self.check_name(node.id, node)
                if node.id in self.functions or node.id in STRUCTURAL_NAMES:
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
            for op, left, right in zip(node.ops, operands, operands[1:], strict=False):
                if type(op) not in COMPARE_OPS:
                    word = SYMBOL.get(type(op), "?")
                    self.fail(f"{word!r} is not allowed",
                              self.op_pos(left, right, word.split()[0]))
            return self.count(operands, node)
        if isinstance(node, ast.Call):
            return self.check_call(node)
        if isinstance(node, ast.Attribute):
            self.fail(REJECTED[ast.Attribute], self.end(node) - len(node.attr))
        if isinstance(node, ast.Subscript):
            self.fail(REJECTED[ast.Subscript], self.source.find("[", self.end(node.value)))
        self.fail(REJECTED.get(type(node), f"{type(node).__name__} is not allowed"), node)

    def count(self, operands: list[ast.expr], node: ast.AST) -> list[ast.expr]:
        if len(operands) > MAX_ARGS:
            self.fail(f"too many operands ({len(operands)}; the limit is {MAX_ARGS})", node)
        return operands

    def chain(self, node: ast.BinOp) -> list[ast.expr]:
        """Operands of a left-nested run of one operator group (``a + b - c`` is one level)."""
        group = GROUP.get(type(node.op))
        if group is None:
            symbol = SYMBOL.get(type(node.op), "?")
            hint = "; use ** for powers" if symbol == "^" else ""
            self.fail(f"operator {symbol!r} is not allowed{hint}",
                      self.op_pos(node.left, node.right, symbol))
        links = [node]
        while group != "pow" and isinstance(links[-1].left, ast.BinOp) \
                and GROUP.get(type(links[-1].left.op)) == group:
            links.append(links[-1].left)
        links.reverse()
        self.links[id(node)] = links
        operands = [links[0].left, *(link.right for link in links)]
        return self.count(operands, node) if group in ("and", "or") else operands

    def check_name(self, name: str, node: ast.AST) -> None:
        if name.startswith("_"):
            self.fail(f"names starting with '_' are not allowed: {name!r}", node)

    def check_call(self, node: ast.Call) -> list[ast.expr]:
        func = node.func
        if not isinstance(func, ast.Name):
            self.check(func)
            self.fail("only allowed functions can be called, by their plain name", func)
        name = func.id
        self.check_name(name, func)
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                self.fail(REJECTED[ast.Starred], arg)
        for kw in node.keywords:
            if kw.arg is None:
                self.fail("'**' unpacking is not allowed", kw)
            if (name, kw.arg) != ("Float", "precision"):
                self.fail(f"keyword arguments are not allowed ({kw.arg}=)", kw)
        if name in CONSTANT_NAMES:
            self.fail(f"{name!r} is a constant, not a function", func)
        if name not in STRUCTURAL_NAMES and name not in self.functions \
                and not (self.undefined_functions and name.isidentifier()):
            close = difflib.get_close_matches(name, sorted({*self.functions, *STRUCTURAL_NAMES}))
            hint = f"did you mean {', '.join(close)}?" if close else \
                "allowed: " + ", ".join(sorted(self.functions))
            self.fail(f"unknown function {name!r}; {hint}", func)
        args = self.count(list(node.args), node)
        wanted = {"Not": 1, "ITE": 3, **dict.fromkeys(RELATION_NAMES, 2)}.get(name)
        if (wanted and len(args) != wanted) or not args:
            self.fail(f"{name} takes {wanted or 'at least 1'} argument(s), got {len(args)}", node)
        if name == "Float":
            if len(args) != 1 or [kw.arg for kw in node.keywords] != ["precision"]:
                self.fail("write Float(<number literal>, precision=<bits>)", node)
            return []
        if name == "Piecewise":
            pairs = [arg for arg in args if isinstance(arg, ast.Tuple) and len(arg.elts) == 2]
            if len(pairs) != len(args):
                self.fail("Piecewise takes (expression, condition) pairs", node)
            return [elt for pair in pairs for elt in pair.elts]
        return args
