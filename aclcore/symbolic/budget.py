"""The work budget of :mod:`aclcore.symbolic.parse`: what SymPy may be asked to compute.

Private helper. SymPy evaluates eagerly, so a short formula can ask for a huge integer, an
mpmath evaluation that runs for seconds or an exponential rewrite. :class:`Limits` refuses those
*before* SymPy runs; :class:`WorkBudget` is the backstop for slow paths nobody foresaw: a
count of calls, so that every limit gives the same answer on every machine.
"""

from __future__ import annotations

import functools
import inspect
import math
import sys
import threading
from typing import Any

import sympy

from aclcore.symbolic.functions import sqrt1
from aclcore.symbolic.printer import MAX_FLOAT_EXPONENT, MAX_NUMBER_DIGITS, float_log10, int_digits

#: Digits that powers of numbers may create in one formula, all together.
MAX_POWER_DIGITS = 10_000
#: Roots are taken only of numbers up to this many digits.
MAX_ROOT_DIGITS = 300
#: Syntax-tree nodes (numbers, names, operators, calls) in one formula: SymPy spends up to
#: about half a millisecond on each, so this bounds the total build time.
MAX_NODES = 1000
#: Function calls in one formula (SymPy spends about a millisecond on each).
MAX_CALLS = 200
#: Pairwise comparisons that Max and Min may need in one formula, all together.
MAX_LATTICE_PAIRS = 30
#: Sum of squared argument sizes (in nodes) of the functions whose cost grows with it.
MAX_HEAVY_WORK = 200**2
#: Clauses that Piecewise may create when it merges pieces with equal expressions (in all).
MAX_CNF_CLAUSES = 500
#: Functions are evaluated numerically only on Floats up to 10**N in magnitude.
NUMERIC_EVAL_EXPONENT = 30
#: ... and besselj only for orders up to this magnitude.
BESSEL_MAX_ORDER = 200

#: Python-level calls (``call`` and ``c_call`` profile events) SymPy may make building one
#: formula: a backstop for slow paths of SymPy (its assumption system, ``expand``, ``simplify``
#: ...) that the size limits do not foresee. A count, not a clock, so that a formula is
#: accepted or refused the same way on every machine and under any load (about 1.5 s of
#: SymPy work here; the legitimate formulas of the test corpus need at most ~0.6 million with
#: a cold SymPy cache, far fewer with a warm one).
MAX_WORK = 1_500_000


class Overtime(BaseException):
    """Raised inside SymPy when a piece of work runs past its :class:`WorkBudget`.

    A BaseException, so that SymPy's own ``except Exception`` handlers let it through.
    """


_RESUMABLE = inspect.CO_GENERATOR | inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR


class WorkBudget:
    """Raise :class:`Overtime` in this thread once ``calls`` calls were made inside ``with``.

    A profile hook (``sys.setprofile``, per thread) counts every Python and builtin call and
    raises inside SymPy when the count passes the budget; the count depends only on the work
    (and SymPy's cache), never on the machine's speed or load. Budgets nest: an inner budget
    (one formula) counts together with the outer ones (a whole document), and the first one
    used up raises. The hook is not installed while a profiler other than a budget is active
    (a profiler a user runs), so profiling keeps working; the budget then counts nothing.
    CPython removes a hook that raises, and an exception raised while a generator is finalised
    is lost, so the hook never raises in generator frames and callers also call :meth:`check`
    between steps.
    """

    def __init__(self, calls: int) -> None:
        self.limit = calls
        self.used = 0
        self._active = False

    def __enter__(self) -> WorkBudget:
        current = sys.getprofile()
        if current is None:
            _stack.budgets = [self]
            sys.setprofile(_watch)
            self._active = True
        elif current is _watch:
            _stack.budgets.append(self)
            self._active = True
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._active:
            return
        self._active = False
        budgets = _stack.budgets
        if self in budgets:
            budgets.remove(self)
        if not budgets and sys.getprofile() is _watch:
            sys.setprofile(None)
        elif budgets and sys.getprofile() is None:  # CPython dropped the hook that raised
            sys.setprofile(_watch)

    @property
    def exhausted(self) -> bool:
        """Whether more calls were made than the budget allows."""
        return self.used > self.limit

    def check(self) -> None:
        """Raise :class:`Overtime` if this budget (or an enclosing one) is used up.

        A caller that catches :class:`Overtime` to give up on *its* piece of work re-raises
        it when its own budget is not the exhausted one (``budget.exhausted`` is false): then
        an enclosing budget (the whole document) is used up.
        """
        self.used += 1  # a step between checks is work too (counted even under a profiler)
        if self.exhausted or any(b.exhausted for b in getattr(_stack, "budgets", ())):
            raise Overtime


class _Stack(threading.local):
    budgets: list[WorkBudget]

    def __init__(self) -> None:
        self.budgets = []


_stack = _Stack()


def _watch(frame: Any, event: str, arg: Any) -> None:
    if event == "call" or event == "c_call":
        over = False
        for budget in _stack.budgets:
            budget.used += 1
            over = over or budget.used > budget.limit
        if over and not frame.f_code.co_flags & _RESUMABLE:
            raise Overtime


def _log10(number: Any) -> float:
    """log10 of the magnitude of a nonzero Rational, Float or NumberSymbol."""
    if isinstance(number, sympy.Float):
        return float_log10(number._mpf_)
    if isinstance(number, sympy.Rational):
        return math.log10(abs(int(number.p))) - math.log10(int(number.q))
    return math.log10(abs(float(number)))


def _digits(atom: Any) -> float:
    """Size of a number for powers: decimal digits of a Rational's larger part, else |log10|."""
    if isinstance(atom, sympy.Rational):
        return math.log10(max(abs(int(atom.p)), int(atom.q), 1))
    return abs(_log10(atom)) if atom.is_finite and atom != 0 else 0.0


def _size(expr: Any) -> float:
    """Largest size over all numbers (and pi, E) in ``expr``."""
    return max([0.0, *map(_digits, expr.atoms(sympy.Number, sympy.NumberSymbol))])


@functools.cache
def _powers_pull_floats_out_of_sums() -> bool:
    """Whether this SymPy rewrites ``(2.0 + 4*x)**e`` as ``4**e*(0.5 + x)**e`` (older ones do)."""
    return not isinstance((sympy.Symbol("x") * 4 + sympy.Float(2.0)) ** sympy.Float(2.5),
                          sympy.Pow)


def _exposed(base: Any) -> tuple[float, float]:
    """How a power of ``base`` grows: (log10 of the digits per unit exponent, root digits).

    Only numbers that SymPy raises when it evaluates ``base**n`` count: factors of products,
    bases of numeric powers (scaled by their exponent) and, in SymPy versions whose
    ``Add._eval_power`` pulls them out, Float coefficients of sums; function arguments, pi and
    E stay symbolic.
    """
    growth, roots, stack = -math.inf, 0.0, [(base, 0.0)]
    while stack:
        node, scale = stack.pop()  # scale: log10 of the exponents met on the way down
        if isinstance(node, sympy.Number):
            if (size := _digits(node)) > 0:
                growth, roots = max(growth, math.log10(size) + scale), max(roots, size)
        elif isinstance(node, sympy.Mul):
            stack.extend((arg, scale) for arg in node.args)
        elif isinstance(node, sympy.Add) and _powers_pull_floats_out_of_sums():
            coeffs = (arg.as_coeff_Mul()[0] for arg in node.args)
            stack.extend((c, scale) for c in coeffs if isinstance(c, sympy.Float))
        elif isinstance(node, sympy.Pow) and isinstance(node.exp, sympy.Number) \
                and not node.exp.is_zero:
            stack.append((node.base, scale + _log10(node.exp)))
    return growth, roots


def _nodes(expr: Any) -> int:
    """Number of nodes of an expression tree."""
    count, stack = 0, [expr]
    while stack:
        node = stack.pop()
        count += 1
        stack.extend(node.args)
    return count


def _cnf_size(cond: Any) -> int:
    """Upper bound on the clauses of ``cond`` in conjunctive normal form."""
    if isinstance(cond, sympy.And):
        return sum(map(_cnf_size, cond.args))
    if isinstance(cond, sympy.Or):
        return math.prod(map(_cnf_size, cond.args))
    return 1


_HEAVY = (sympy.floor, sympy.ceiling, sympy.Abs, sympy.Max, sympy.Min)
_UNDEFINED = (sympy.zoo, sympy.nan, sympy.oo, -sympy.oo, sympy.I)


class Limits:
    """The work budget of one parse; each check returns the reason to refuse, or ``None``.

    SymPy evaluates eagerly: ``9**9**9`` computes a 370-million-digit integer, ``sqrt`` of a
    big integer factors it, ``exp(1e300)`` and ``besselj(1e4, 1e6)`` run mpmath for seconds,
    ``Max`` of n arguments makes n**2 assumption queries. These checks run before SymPy does.
    """

    def __init__(self) -> None:
        self.power_digits = 0.0
        self.lattice_pairs = 0
        self.clauses = 0
        self.calls = 0
        self.heavy_work = 0

    def power(self, base: Any, exponent: Any) -> str | None:
        """Refuse ``base**exponent`` when it would build a huge number or cost too much."""
        if exponent.has(sympy.log) and (problem := self.exp_log(exponent)):
            return problem
        if not isinstance(exponent, sympy.Number) or exponent.is_zero:
            return None
        if isinstance(exponent, sympy.Float) and base.is_number:  # mpmath evaluates it
            growth, roots = math.log10(max(_size(base), 1.0)), 0.0
        else:
            growth, roots = _exposed(base)
        if growth == -math.inf:
            return None
        if isinstance(exponent, sympy.Rational) and exponent.q != 1 and roots > MAX_ROOT_DIGITS:
            return f"cannot take roots of numbers over {MAX_ROOT_DIGITS} digits"
        estimate = _log10(exponent) + growth
        if estimate > math.log10(MAX_NUMBER_DIGITS):
            return (f"exponent too large: the power would have about 10**{estimate:.0f} "
                    f"digits (limit {MAX_NUMBER_DIGITS})")
        self.power_digits += 10.0 ** estimate
        if self.power_digits > MAX_POWER_DIGITS:
            return f"too many large powers: over {MAX_POWER_DIGITS} digits in all"
        return None

    def exp_log(self, arg: Any) -> str | None:
        """Refuse ``exp(c*log(b))`` (SymPy rewrites it to ``b**c``) for a large ``c``."""
        size = _size(arg)
        if size > 0 and size + math.log10(size) > math.log10(MAX_NUMBER_DIGITS):
            return "exponent too large: exp(c*log(b)) would build a huge power b**c"
        return None

    def call(self, function: Any, name: str, args: list[Any]) -> str | None:
        """Refuse a call of an allowed function that SymPy would make expensive."""
        self.calls += 1
        if self.calls > MAX_CALLS:
            return f"too many function calls (limit {MAX_CALLS})"
        if function is sympy.exp and len(args) == 1 and args[0].has(sympy.log) \
                and (problem := self.exp_log(args[0])):
            return problem
        if function in (sqrt1, sympy.sqrt) and len(args) == 1 \
                and (problem := self.power(args[0], sympy.Rational(1, 2))):
            return problem
        if function in _HEAVY:
            self.heavy_work += sum(_nodes(arg) for arg in args) ** 2
            if self.heavy_work > MAX_HEAVY_WORK:
                return (f"arguments too large for {name}: its cost grows with their square "
                        f"(limit {MAX_HEAVY_WORK} nodes squared in all)")
        if function in (sympy.Max, sympy.Min):
            if any(not arg.free_symbols and arg.is_extended_real is not True for arg in args):
                return f"{name} of a constant that may be complex cannot be decided"
            count = sum(len(a.args) if isinstance(a, function) else 1 for a in args)
            self.lattice_pairs += count * (count - 1) // 2
            if self.lattice_pairs > MAX_LATTICE_PAIRS:
                return f"too many Max/Min comparisons (limit {MAX_LATTICE_PAIRS} pairs in all)"
        if all(isinstance(arg, sympy.Float) for arg in args):  # mpmath evaluates the call
            if any(arg and float_log10(arg._mpf_) > NUMERIC_EVAL_EXPONENT for arg in args):
                return (f"numeric argument too large to evaluate {name} "
                        f"(limit 1e{NUMERIC_EVAL_EXPONENT})")
            if function is sympy.besselj and len(args) == 2 and abs(args[0]) > BESSEL_MAX_ORDER:
                return f"besselj order too large to evaluate (limit {BESSEL_MAX_ORDER})"
        return None

    @staticmethod
    def relation(value: Any) -> str | None:
        """Refuse a comparison of constants that SymPy could not decide (complex-valued ones).

        Left in a condition, SymPy would try again to decide it, expanding real and imaginary
        parts at a cost that grows exponentially with the constant's size.
        """
        if isinstance(value, sympy.core.relational.Relational) and not value.free_symbols:
            return (f"comparison of constants that cannot be decided (complex-valued?): "
                    f"{str(value)[:60]}")
        return None

    def piecewise(self, pairs: list[tuple[Any, Any]]) -> str | None:
        """Refuse a Piecewise that SymPy would take very long to build.

        A condition holding a Piecewise is folded with ``simplify`` (and ``solve``). Pieces
        with equal expressions are merged, ``(e, c1), (e, c2)`` into ``(e, c1 | c2)``, and
        that is rewritten in conjunctive normal form, whose size is the product of the sizes
        of the merged conditions.
        """
        for _, cond in pairs:
            if cond.has(sympy.Piecewise):  # SymPy folds it, calling simplify and solve
                return ("a Piecewise condition must not contain a Piecewise (SymPy would "
                        "rewrite it at great cost); compare the pieces' expressions instead")
        group, previous = 1, None
        for expr, cond in pairs:
            if previous is not None and expr == previous:
                group *= _cnf_size(cond)  # the merged condition of this run of pieces
                self.clauses += group
            else:
                group = _cnf_size(cond)
            previous = expr
            if self.clauses > MAX_CNF_CLAUSES:
                return ("Piecewise pieces with the same expression and compound conditions "
                        f"would need over {MAX_CNF_CLAUSES} clauses; merge them into one piece")
        return None

    def value(self, value: Any) -> str | None:
        """Refuse a built value that is undefined, complex or out of range (cheap check)."""
        items = (value, *value.args[:2]) if isinstance(value, (sympy.Add, sympy.Mul)) \
            else (value,)
        for item in items:
            if any(item is bad for bad in _UNDEFINED):
                return (f"the value here is {item} (complex, infinite or undefined, e.g. a "
                        "division by zero)")
            if problem := self.number(item):
                return problem
        return None

    def finished(self, value: Any) -> str | None:
        """Refuse a finished expression with complex or undefined parts or oversized numbers."""
        if value.has(*_UNDEFINED):
            return "the formula has complex, infinite or undefined parts (I, oo, zoo, nan)"
        for atom in value.atoms(sympy.Number):
            if problem := self.number(atom):
                return problem
        return None

    @staticmethod
    def number(item: Any) -> str | None:
        """Refuse a number beyond the grammar's limits."""
        if isinstance(item, sympy.Float):
            if item.is_finite is False:
                return "the value here is not finite"
            if item and abs(float_log10(item._mpf_)) > MAX_FLOAT_EXPONENT:
                return f"number out of range (beyond 1e+-{MAX_FLOAT_EXPONENT})"
        elif isinstance(item, sympy.Rational) and max(
                int_digits(int(item.p)), int_digits(int(item.q))) > MAX_NUMBER_DIGITS:
            return f"number too large: more than {MAX_NUMBER_DIGITS} digits"
        return None


