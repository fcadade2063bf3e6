"""Number rules and the exact printer behind :func:`aclcore.symbolic.parse.formula_to_string`.

Private helper of :mod:`aclcore.symbolic.parse`. It holds what the parser and the printer must
agree on bit for bit: how a literal's text becomes a SymPy number (:func:`read_number`), how a
number is written back (:func:`float_text`, :func:`int_text`), and :class:`FormulaPrinter`,
whose output the parser reads back with the identical ``srepr``."""

from __future__ import annotations

import keyword
import math
import unicodedata
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import mpmath.libmp as mlib
import sympy
from sympy.core.relational import Relational
from sympy.logic.boolalg import BooleanFalse, BooleanTrue
from sympy.printing.str import StrPrinter

from aclcore.errors import ParseError

#: Integer literals may have at most this many digits (bigger integers print as arithmetic).
MAX_INT_LITERAL_DIGITS = 100
#: Integers and the numerators/denominators of rationals may have at most this many digits.
MAX_NUMBER_DIGITS = 1000
#: Binary precision limit of a Float (a plain literal of ~1000 digits reaches it).
MAX_FLOAT_PRECISION = 3400
#: Significant digits allowed in one float literal.
MAX_FLOAT_LITERAL_DIGITS = 1100
#: A nonzero Float must lie within 10**-N .. 10**N in magnitude.
MAX_FLOAT_EXPONENT = 1000
_LOG10_2 = math.log10(2.0)
_CHUNK = 100  # digits per chunk when an integer is too long for one literal
_DIGITS_FOR_PRECISION = {
    int(mlib.dps_to_prec(d)): d for d in range(18, MAX_FLOAT_LITERAL_DIGITS + 1)
}
_REL_TYPES = (
    sympy.Eq, sympy.Ne, sympy.StrictLessThan, sympy.LessThan,
    sympy.StrictGreaterThan, sympy.GreaterThan,
)
_PLAIN_TYPES = (
    sympy.Add, sympy.Mul, sympy.Pow, sympy.Piecewise, sympy.And, sympy.Or, sympy.Not, sympy.ITE,
    BooleanTrue, BooleanFalse, *_REL_TYPES,
)


def float_log10(mpf: Any) -> float:
    """``log10(|x|)`` of a nonzero finite mpf tuple ``(sign, mantissa, exponent, bits)``."""
    exponent = int(mpf[2])
    if abs(exponent) >= 2**60:
        return math.inf if exponent > 0 else -math.inf
    return math.log10(int(mpf[1])) + exponent * _LOG10_2


def int_digits(value: int) -> int:
    """Number of decimal digits of ``abs(value)`` (cheap for huge values: no str())."""
    value = abs(value)
    if value.bit_length() > 4 * MAX_NUMBER_DIGITS:
        return int(value.bit_length() * _LOG10_2)
    return len(str(value))


def literal_digits(text: str) -> tuple[int, int, bool]:
    """Return ``(significant digits, decimal exponent of the leading digit, is zero)``.

    ``text`` is an unsigned decimal literal without underscores; significant digits are
    counted like SymPy does (leading zeros dropped, trailing zeros kept).
    """
    try:
        dec = Decimal(text)
    except InvalidOperation as exc:  # pragma: no cover - the tokenizer only gives valid literals
        raise ValueError(f"not a decimal literal: {text!r}") from exc
    digits = dec.as_tuple().digits
    return len(digits), dec.adjusted(), not any(digits)


def literal_precision(digits: int) -> int:
    """Binary precision a literal with ``digits`` significant digits gets (53 up to 17 digits)."""
    return 53 if digits <= 17 else int(mlib.dps_to_prec(digits))


def float_from_literal(text: str, precision: int | None = None) -> Any:
    """Build the Float of an unsigned decimal literal (checked by the caller for size).

    With ``precision`` the decimal value is rounded once to that many bits. Without it the
    literal rule applies: up to 17 significant digits give Python's ``float(text)`` exactly
    when that is a finite nonzero double (the same as rounding to 53 bits, except that
    subnormals stay the double that ``repr`` printed), else the value rounded to 53 bits;
    longer literals are rounded to SymPy's ``dps_to_prec(digits)`` bits.
    """
    digits, _, zero = literal_digits(text)
    prec = literal_precision(digits) if precision is None else precision
    if zero:
        return sympy.Float(0, precision=prec)
    if precision is None and digits <= 17:
        as_float = float(text)
        if as_float != 0.0 and math.isfinite(as_float):
            return sympy.Float(as_float)
    return sympy.Float(text, precision=prec)


def read_number(value: int | float, text: str, precision: int | None) -> Any:
    """Build the SymPy number of a literal (``text`` unsigned, no underscores) or raise.

    Raises:
        ValueError: with the reason when the literal is beyond the grammar's limits.
    """
    if isinstance(value, int):
        if int_digits(value) > MAX_INT_LITERAL_DIGITS:
            raise ValueError(f"integer literal has more than {MAX_INT_LITERAL_DIGITS} digits")
        if precision is None:
            return sympy.Integer(value)
        text = str(value)
    digits, exponent, zero = literal_digits(text)
    prec = literal_precision(digits) if precision is None else precision
    if digits > MAX_FLOAT_LITERAL_DIGITS or prec > MAX_FLOAT_PRECISION:
        raise ValueError(f"float literal has too many digits ({digits})")
    if not zero and abs(exponent) > MAX_FLOAT_EXPONENT:
        raise ValueError(f"float literal is out of range (beyond 1e+-{MAX_FLOAT_EXPONENT})")
    return float_from_literal(text, precision)


def _same_float(value: Any, text: str, precision: int | None) -> bool:
    try:
        back = float_from_literal(text, precision)
    except ValueError:
        return False
    return bool(back._mpf_ == value._mpf_ and back._prec == value._prec)


def float_text(value: Any) -> str:
    """Write a finite Float so that the parser rebuilds it exactly (same mantissa, precision)."""
    mpf, prec = value._mpf_, int(value._prec)
    negative = mpf[0] == 1 and mpf != mlib.fzero
    body = sympy.Float._new(mlib.mpf_abs(mpf), prec) if negative else value
    sign = "-" if negative else ""
    candidates: list[str] = []
    if prec == 53:
        as_float = float(body)
        if (math.isfinite(as_float) and as_float != 0.0) or mpf == mlib.fzero:
            candidates.append(repr(as_float))
        candidates.append(mlib.to_str(body._mpf_, 17, strip_zeros=False))
    elif prec in _DIGITS_FOR_PRECISION:
        candidates.append(
            mlib.to_str(body._mpf_, _DIGITS_FOR_PRECISION[prec], strip_zeros=False)
        )
    for text in candidates:
        if _same_float(body, text, None):
            return sign + text
    needed = math.ceil(prec * _LOG10_2) + 1
    for digits in range(needed, needed + 4):
        text = mlib.to_str(body._mpf_, digits, strip_zeros=False)
        if _same_float(body, text, prec):
            return f"{sign}Float({text}, precision={prec})"
    raise ParseError(f"cannot write the Float {value} exactly")  # pragma: no cover


def int_text(value: int) -> str:
    """Write an integer; more than 100 digits become ``(c0*10**100 + c1)...`` (Horner form)."""
    digits = str(abs(value))
    if len(digits) <= MAX_INT_LITERAL_DIGITS:
        return str(value)
    head = len(digits) % _CHUNK or _CHUNK
    text = str(int(digits[:head]))
    for start in range(head, len(digits), _CHUNK):
        factor = text if start == head else f"({text})"
        text = f"{factor}*10**{_CHUNK} + {int(digits[start:start + _CHUNK])}"
    return f"-({text})" if value < 0 else f"({text})"


def symbol_problem(name: str, reserved: frozenset[str]) -> str | None:
    """Why a Symbol of this name cannot be written, or ``None`` when it can."""
    if not name.isidentifier():
        return "is not a valid identifier"
    if name.startswith("_"):
        return "starts with '_'"
    if unicodedata.normalize("NFKC", name) != name:
        return "is not in NFKC normal form (Python would rename it)"
    if (keyword.iskeyword(name) and name != "lambda") or name in reserved:
        return "is a reserved name of the formula grammar"
    return None


class FormulaPrinter(StrPrinter):  # type: ignore[misc]
    """StrPrinter whose output :func:`aclcore.symbolic.parse.parse_formula` reads back exactly.

    ``functions`` are the callable names the parser will accept, ``reserved`` every name
    that the parser does not read as a Symbol (functions, structural names, constants).
    """

    printmethod = "_aclcore_formula_str"

    def __init__(self, functions: Mapping[str, Any], reserved: frozenset[str]) -> None:
        super().__init__()
        self._functions = functions
        self._reserved = reserved

    def doprint(self, expr: Any) -> str:
        """Check that every node is expressible, then print."""
        self._check_tree(expr)
        try:
            return str(super().doprint(expr))
        except RecursionError as exc:
            raise ParseError("expression is nested too deeply to print") from exc

    def _check_tree(self, expr: Any) -> None:
        stack = [expr]
        seen: set[int] = set()
        while stack:
            node = stack.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            self._check_node(node)
            stack.extend(node.args)

    def _check_node(self, node: Any) -> None:
        def fail(why: str) -> None:
            try:
                shown = str(node)
            except ValueError:  # an integer too long for str()
                shown = "(huge)"
            shown = shown if len(shown) <= 80 else shown[:77] + "..."
            raise ParseError(f"cannot write {type(node).__name__} {shown}: {why}")

        if isinstance(node, sympy.Symbol):
            problem = symbol_problem(node.name, self._reserved)
            if type(node) is not sympy.Symbol:
                fail("only plain Symbols are expressible (not Dummy or Wild)")
            elif problem:
                fail(f"the name {node.name!r} {problem}")
        elif isinstance(node, sympy.Float):
            if node._mpf_ in (mlib.finf, mlib.fninf, mlib.fnan):
                fail("the formula grammar has no infinities or NaN")
            elif node._prec > MAX_FLOAT_PRECISION:
                fail(f"precision above the {MAX_FLOAT_PRECISION}-bit limit")
            elif node and abs(float_log10(node._mpf_)) > MAX_FLOAT_EXPONENT:
                fail(f"magnitude beyond 1e+-{MAX_FLOAT_EXPONENT}")
        elif isinstance(node, sympy.Rational):
            if max(int_digits(int(node.p)), int_digits(int(node.q))) > MAX_NUMBER_DIGITS:
                fail(f"more than {MAX_NUMBER_DIGITS} digits")
        elif isinstance(node, (sympy.core.numbers.Pi, sympy.core.numbers.Exp1)):
            return
        elif isinstance(node, (*_PLAIN_TYPES, sympy.functions.elementary.piecewise.ExprCondPair)):
            if isinstance(node, Relational) and not isinstance(node, _REL_TYPES):
                fail("not a comparison of the grammar")
        elif isinstance(node, (sympy.Function, sympy.Max, sympy.Min)):
            name = type(node).__name__
            target = self._functions.get(name)
            if target is None or (isinstance(target, type) and target is not type(node)):
                fail(f"{name!r} is not an allowed function")
        else:
            fail("not part of the formula grammar")

    def _print_Symbol(self, expr: Any) -> str:
        return str(expr.name)

    def _print_Float(self, expr: Any) -> str:
        return float_text(expr)

    def _print_Integer(self, expr: Any) -> str:
        return int_text(int(expr.p))

    def _print_Rational(self, expr: Any) -> str:
        return f"{int_text(int(expr.p))}/{int_text(int(expr.q))}"

    def _print_Mul(self, expr: Any) -> str:
        # Python reads ``2*(a + b)*y`` as ``(2*(a + b))*y`` and ``-(a + b)*y`` as
        # ``(-(a + b))*y``, and SymPy distributes a number over a lone Add: such products are
        # written ``2*((a + b)*y)`` so that they read back unchanged.
        numbers = [arg for arg in expr.args if arg.is_Number]
        others = [arg for arg in expr.args if not arg.is_Number]
        if not numbers or not others:
            return str(super()._print_Mul(expr))
        coeff, rest = sympy.Mul(*numbers), sympy.Mul(*others)
        numer, denom = [], []
        for factor in rest.as_ordered_factors():  # the order StrPrinter prints them in
            if factor.is_commutative and isinstance(factor, sympy.Pow) \
                    and bool(factor.exp.as_coeff_Mul()[0] < 0):
                denom.append(factor.base if factor.exp is sympy.S.NegativeOne else factor)
            else:
                numer.append(factor)
        rational = isinstance(coeff, sympy.Rational)
        prefix = not rational or abs(coeff.p) != 1  # a number is printed before the factors
        first_add = bool(numer) and numer[0].is_Add
        if (first_add and prefix) or (denom and denom[0].is_Add and rational and coeff.q != 1):
            text = f"({self._print(rest)})"
            if not rational:
                text = f"{float_text(abs(coeff))}*{text}"
            elif abs(coeff.p) != 1:
                text = f"{int_text(abs(int(coeff.p)))}*{text}"
            if rational and coeff.q != 1:
                text = f"{text}/{int_text(int(coeff.q))}"
            return ("-" if coeff < 0 else "") + text
        if first_add and coeff < 0:
            return f"-({super()._print_Mul(-expr)})"
        return str(super()._print_Mul(expr))

    def _print_Pow(self, expr: Any, rational: bool = False) -> str:
        return str(super()._print_Pow(expr, rational=rational or "sqrt" not in self._functions))
