"""The checks the plugin loader runs on everything a plugin registers (cheap, once).

A function is evaluated and differentiated once on its declared domain (refused when it
writes into its arguments, changes their dtype, is not finite or has no gradient); one a
plugin named by import path is checked when it is first imported (first use, or ``acl
plugins --check``). A family is checked without compiling it and without torch, so that
listing families stays instant: every function it uses must be in the table, its constants
must be finite floats, and its formula (removable singularities resolved as the compiler
will) must be finite at its typical AKPs on a 5-tap grid, evaluated with mpmath (SymPy's
evalf for a plugin function not imported yet; the compiled code for one already imported or
without a numeric evaluation in SymPy). The compiler runs on first use. Deeper checks
(hypothesis over the whole domain, gradients of every AKP, pickling, ``torch.compile``) live
in :mod:`aclcore.testing`, which plugin authors run in their own test suites.
"""

from __future__ import annotations

import cmath
import itertools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import sympy as sp

from aclcore.errors import CompileError, NonFiniteKernelError, PluginError
from aclcore.symbolic.family import KernelFamily
from aclcore.symbolic.functions import TorchFunction, active_table

if TYPE_CHECKING:
    import torch

__all__ = ["CHECK_SIZE", "check_family", "check_function", "typical_values"]

#: Taps per axis of the grid a registered family is evaluated on (odd: it has a centre tap).
CHECK_SIZE = 5


def typical_values(family: KernelFamily) -> dict[str, float]:
    """A typical value of each AKP: the init value, or the midpoint of an init range."""
    values = {}
    for p in family.params:
        init = p.init
        values[p.name] = (init[0] + init[1]) / 2 if isinstance(init, tuple) else float(init)  # type: ignore[arg-type]
    return values


def check_family(family: object, plugin: str) -> KernelFamily:
    """Check that ``family`` is a :class:`KernelFamily` the compiler can lower and that is
    finite where a layer samples it at its typical AKPs (:func:`typical_values`): on the taps
    -2..2 along each axis (5 per axis, the centre included).

    A family that is singular there (``s/x`` on the centre tap) is refused here, listed by
    ``acl plugins``, instead of failing when a layer is built. Neither torch nor the compiler
    runs: the formula is evaluated with mpmath, with the limits the compiler substitutes.

    Raises:
        PluginError: ``family`` is not a :class:`KernelFamily`.
        CompileError: a function the table lacks, or a constant that is not a finite float.
        NonFiniteKernelError: naming the tap and the AKP values.
    """
    if not isinstance(family, KernelFamily):
        raise PluginError(
            f"plugin {plugin!r} registered {family!r:.80} (a {type(family).__name__}), "
            "which is not an aclcore.KernelFamily"
        )
    from aclcore.compile.constants import constant_problems  # SymPy only, no torch
    from aclcore.compile.singular import resolve_singularities

    expr = family.sympy_expr
    problems = active_table().unsupported_parts(expr) + constant_problems(expr)
    if problems:
        raise CompileError(f"cannot compile {family.name}: unsupported "
                           + "; ".join(problems), problems)
    positive = [p.symbol for p in family.params if p.constraint_obj.positive]
    values = typical_values(family)
    half = (CHECK_SIZE - 1) // 2
    taps = list(itertools.product(range(-half, half + 1), repeat=family.ndim))
    rows = active_table().plugin_rows(expr)
    found: list[complex | None] | None = None
    if not rows or not all(row.loaded for row in rows):
        explicit, _ = resolve_singularities(expr, family.coords, positive)
        if rows:  # a function named by import path is not imported to list families: SymPy
            # evaluates the formula where the plugin's function has a numeric value
            found = _sympy_values(explicit, family, taps, values)
        else:
            evaluate = _evaluator(explicit, family)
            found = [evaluate(tap, values) for tap in taps]
    if found is None:  # the plugin's torch code evaluates its functions
        found = _compiled_values(family, taps, values)
    for tap, value in zip(taps, found, strict=True):
        if not (value is not None and cmath.isfinite(value) and value.imag == 0):
            where = ", ".join(f"{c}={v}" for c, v in zip(family.coord_names, tap, strict=True))
            akps = ", ".join(f"{n}={v:.6g}" for n, v in values.items())
            shown = "no value" if value is None else value
            raise NonFiniteKernelError(
                f"family {family.name!r} is not finite ({shown}) at tap ({where}) for its "
                f"typical AKPs ({akps}); the formula {expr} is singular there: keep the AKPs "
                "in a domain where it is finite (constraints), or make a removable "
                "singularity explicit with Piecewise or sinc"
            )
    return family


def _compiled_values(family: KernelFamily, taps: list[tuple[int, ...]],
                     values: dict[str, float]) -> list[complex | None]:
    """The compiled family's values at ``taps`` (for formulas with plugin functions)."""
    import torch

    from aclcore.compile import compile_family

    coords = tuple(torch.tensor([float(tap[i]) for tap in taps], dtype=torch.float64)
                   for i in range(family.ndim))
    params = {n: torch.tensor(v, dtype=torch.float64) for n, v in values.items()}
    out = compile_family(family)(coords, params, check_finite=False)
    return [complex(float(v)) for v in out.tolist()]


def _sympy_values(expr: sp.Expr, family: KernelFamily, taps: list[tuple[int, ...]],
                  values: dict[str, float]) -> list[complex | None] | None:
    """SymPy's numeric values of ``expr`` at ``taps``, or ``None`` where a function in it
    has no numeric evaluation in SymPy (then only its torch implementation can give one)."""
    symbols = [*family.coords, *(p.symbol for p in family.params)]
    akps = [sp.Float(values[p.name]) for p in family.params]
    found: list[complex | None] = []
    for tap in taps:
        point = dict(zip(symbols, [*map(sp.Integer, tap), *akps], strict=True))
        try:
            out = sp.N(expr.xreplace(point), 20)
        except (TypeError, ValueError, ZeroDivisionError, OverflowError, ArithmeticError):
            found.append(None)
            continue
        if out.atoms(sp.Function) or out.free_symbols:
            return None  # a function SymPy cannot evaluate
        try:
            found.append(complex(out))
        except (TypeError, ValueError):
            found.append(None)
    return found


def _atan2(y: Any, x: Any) -> Any:
    import mpmath

    return mpmath.nan if x == 0 and y == 0 else mpmath.atan2(y, x)  # as the compiled code


def _evaluator(expr: sp.Expr, family: KernelFamily
               ) -> Callable[[tuple[int, ...], dict[str, float]], complex | None]:
    """``(tap, AKPs) -> value`` of ``expr``: mpmath through lambdify (from the validated SymPy
    tree, never from text), or SymPy's own evaluation where mpmath lacks a function."""
    coords, params = list(family.coords), [p.symbol for p in family.params]
    # plain names (an AKP may be called lambda): lambdify's own renaming costs ten times more
    plain = [sp.Symbol(f"v{i}") for i in range(len(coords) + len(params))]
    try:
        fn = sp.lambdify(plain, expr.xreplace(dict(zip([*coords, *params], plain, strict=True))),
                         modules=[{"atan2": _atan2}, "mpmath"])
    except Exception:  # a function mpmath does not know: SymPy evaluates it
        fn = None

    def evaluate(tap: tuple[int, ...], values: dict[str, float]) -> complex | None:
        args = [*tap, *(values[p.name] for p in family.params)]
        try:
            if fn is not None:
                out = fn(*args)
            else:
                point = {s: sp.Float(v) for s, v in zip([*coords, *params], args, strict=True)}
                out = sp.N(expr.xreplace(point), 20)
            return complex(out)
        except (TypeError, ValueError, ZeroDivisionError, OverflowError, NameError):
            return None

    return evaluate


def check_function(row: TorchFunction) -> None:
    """Evaluate the row's implementation once on its domain and differentiate it there.

    Functions with constant arguments (e.g. an order) are not evaluated: which constants are
    valid is up to the function.

    Raises:
        PluginError: naming the function and what is wrong (not a tensor, wrong shape, not
            finite, no gradient: pass ``grad=``).
    """
    if row.constant_args:
        return
    import torch  # the plugin's implementation is a torch function: torch is loaded already

    lo, hi = row.domain
    n = min(row.arity)
    points = torch.tensor([lo + (hi - lo) * i / 6 for i in range(7)], dtype=torch.float64)
    label = f"function {row.name!r}"
    plain = [points.roll(i) for i in range(n)]
    before = [a.clone() for a in plain]
    out = _call(row, plain, label)  # plain tensors first: an in-place write shows as such
    if any(not torch.equal(a, b) for a, b in zip(plain, before, strict=True)):
        raise PluginError(
            f"{label} writes into its argument (an in-place operation such as t.clamp_()); "
            "aclcore passes tensors other kernels share: use the out-of-place form (t.clamp())"
        )
    if not isinstance(out, torch.Tensor) or out.shape != plain[0].shape:
        raise PluginError(
            f"{label} must return an element-wise tensor of the arguments' shape "
            f"{tuple(plain[0].shape)}, got {type(out).__name__} "
            f"{tuple(getattr(out, 'shape', ()))}"
        )
    if out.dtype != plain[0].dtype:
        raise PluginError(
            f"{label} returns {out.dtype} for {plain[0].dtype} arguments; an element-wise "
            "function must keep the dtype of its arguments (do not cast inside it)"
        )
    if not bool(torch.isfinite(out).all()):
        raise PluginError(f"{label} is not finite on its domain {row.domain}: {out.tolist()}")
    if not row.differentiable:
        return
    args = [a.clone().requires_grad_(True) for a in plain]
    out = _call(row, args, label)
    if not isinstance(out, torch.Tensor) or not out.requires_grad:
        raise PluginError(
            f"{label}: torch cannot differentiate its implementation; pass "
            "grad=lambda *args: (d/darg1, ...) to register(...)"
        )
    grads = [g for g in torch.autograd.grad(out.sum(), args, allow_unused=True) if g is not None]
    if not grads or not all(bool(torch.isfinite(g).all()) for g in grads):
        raise PluginError(f"{label}: its gradient is missing or not finite on {row.domain}")


def _call(row: TorchFunction, args: list[torch.Tensor], label: str) -> object:
    try:
        return row.implementation(*args)
    except Exception as err:
        raise PluginError(
            f"{label} raised {type(err).__name__}: {err} when called with {len(args)} "
            f"float64 tensor(s) in its domain {row.domain}"
        ) from err
