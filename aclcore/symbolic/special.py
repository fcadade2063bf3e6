"""Torch implementations behind the translation table where ``torch`` itself falls short.

Each function here matches SymPy's semantics exactly and has a correct, finite gradient:

* :func:`sinc` is SymPy's un-normalised ``sin(x)/x`` (``torch.sinc`` is ``sin(pi x)/(pi x)``),
  with exact derivatives of every order at 0 (``torch.sinc``'s second derivative is NaN there);
* :func:`atan2` is ``torch.atan2`` but undefined (NaN) at ``(0, 0)``, as SymPy's is, so that
  the finite check refuses that tap instead of a silent 0 the exported formula cannot give;
* :func:`heaviside` is ``H(x)`` with ``H(0) = h0`` (SymPy's default ``1/2``);
* :func:`besselj` is the Bessel function of the first kind of integer order with gradients
  (``torch.special.bessel_j0/j1`` have none);
and the Bessel functions get their gradients from :func:`aclcore.symbolic.autograd.with_grad`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from aclcore.symbolic.autograd import with_grad
from aclcore.symbolic.functions import MAX_BESSEL_ORDER

__all__ = ["MAX_BESSEL_ORDER", "atan2", "besselj", "heaviside", "sinc"]

#: Below this magnitude :func:`sinc` uses its Taylor series (error below 3e-18 there).
SINC_SERIES_BELOW = 0.1


def sinc(x: torch.Tensor) -> torch.Tensor:
    """SymPy's ``sinc(x) = sin(x)/x`` with ``sinc(0) = 1``, exact derivatives of every order.

    Near 0 the Taylor series ``1 - x**2/6 + x**4/120 - x**6/5040 + x**8/362880`` (the next
    term is below 3e-18 for ``|x| < 0.1``), elsewhere ``sin(x)/x``; each branch is evaluated
    on inputs safe for it, so neither leaks NaN into the other's values or gradients.
    """
    small = x.abs() < SINC_SERIES_BELOW
    xs = torch.where(small, x, 0.0)
    xb = torch.where(small, 1.0, x)
    x2 = xs * xs
    # Horner in x**2 with fused multiply-adds: one pass over the tensor per term (forward)
    # and two (backward), where the nested 1 - x2/k * (...) took three and six
    t = torch.add(-1.0 / 5040, x2, alpha=1.0 / 362880)
    for c in (1.0 / 120, -1.0 / 6, 1.0):
        t = torch.addcmul(torch.full((), c, dtype=x2.dtype, device=x2.device), x2, t)
    return torch.where(small, t, torch.sin(xb) / xb)


def atan2(y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``atan2(y, x)`` in ``(-pi, pi]``, NaN at ``y = x = 0`` where it has no value.

    SymPy's ``atan2(0, 0)`` is ``nan`` and the angle has no limit at the origin, so a formula
    that evaluates it there is singular like ``1/x`` at 0: the finite check names the tap (or
    the compiler substitutes a limit where the formula has one, e.g. ``r**2 *
    cos(2*atan2(y, x))``). ``torch.atan2`` would give 0 there silently. Gradients are finite
    elsewhere (the origin is masked out of the computation).
    """
    origin = (x == 0) & (y == 0)
    value = torch.atan2(torch.where(origin, 1.0, y), torch.where(origin, 1.0, x))
    return torch.where(origin, float("nan"), value)


def heaviside(x: torch.Tensor, h0: float | torch.Tensor = 0.5) -> torch.Tensor:
    """SymPy's ``Heaviside(x, h0)``: 0 for x < 0, ``h0`` at 0, 1 for x > 0; zero gradient."""
    one = torch.ones_like(x)
    zero = torch.zeros_like(x)
    at_zero = one * h0
    return torch.where(x > 0, one, torch.where(x < 0, zero, at_zero))


_TRAPEZOID_LIMIT = 25.0
_TRAPEZOID_HALF = 32  # 64-point rule on the full period; aliasing error ~ J_64(25) ~ 1e-17


def _j0_large(x: torch.Tensor) -> torch.Tensor:
    out: torch.Tensor = torch.special.bessel_j0(x)
    return out


def _j1_large(x: torch.Tensor) -> torch.Tensor:
    out: torch.Tensor = torch.special.bessel_j1(x)
    return out


# torch.special's J0/J1 are accurate to ~1e-16 for |x| >= 25 (but only ~4e-7 below) and have no
# gradient: add the analytic one (J0' = -J1, J1' = J0 - J1/x; only used away from 0).
_j0_big: Callable[..., torch.Tensor] = with_grad(_j0_large, lambda x: (-_j1_big(x),))
_j1_big: Callable[..., torch.Tensor] = with_grad(
    _j1_large, lambda x: (_j0_big(x) - _j1_big(x) / x,)
)


def _jn_trapezoid(n: int, x: torch.Tensor) -> torch.Tensor:
    # J_n(x) = 1/pi int_0^pi cos(n t - x sin t) dt; by the symmetry t -> pi - t only one half
    # of the integrand survives: cos(n t) cos(x sin t) for even n, sin(n t) sin(x sin t) for
    # odd n. The trapezoid rule on this periodic analytic integrand (33 nodes, the 64-point
    # rule on the full period) converges exponentially. Written so that J_n(0) is exactly
    # 0 (n >= 1) or 1 (n = 0) and J_n(-x) = (-1)^n J_n(x) exactly: for even n,
    # cos(x sin t) = 1 - 2 sin(x sin t / 2)**2, and the 1 integrates to 0 (n >= 2) or 1
    # (n = 0) exactly on the nodes; the endpoints contribute 0. Differentiable through sin.
    m = _TRAPEZOID_HALF + n  # keeps the aliasing term J_{2m-n}(25) below 1e-17
    total = torch.zeros_like(x)
    for k in range(1, m):
        t = math.pi * k / m
        if n % 2:
            total = total + math.sin(n * t) * torch.sin(x * math.sin(t))
        else:
            half = torch.sin(x * (0.5 * math.sin(t)))
            total = total + (-2.0 * math.cos(n * t)) * (half * half)
    value = total / m
    return value + 1.0 if n == 0 else value


def _jn_recurrence(n: int, x: torch.Tensor) -> torch.Tensor:
    # upward recurrence J_{k+1} = (2k/x) J_k - J_{k-1}, stable for |x| >= 25 > n
    prev, cur = _j0_big(x), _j1_big(x)
    if n == 0:
        return prev
    for k in range(1, n):
        prev, cur = cur, (2 * k / x) * cur - prev
    return cur


def besselj(order: int | float, x: torch.Tensor) -> torch.Tensor:
    """Bessel function of the first kind ``J_order(x)`` for integer ``|order| <= 20``.

    Accurate to ~1e-15 in float64 everywhere, with exact gradients: for ``|x| < 25`` the
    64-point trapezoid rule on Bessel's integral ``(1/pi) int_0^pi cos(n t - x sin t) dt``
    (exponentially convergent; differentiable through ``cos``), beyond that ``torch.special``
    values (accurate there) with analytic gradients and the upward recurrence.
    ``J_{-n} = (-1)^n J_n``. (``torch.special.bessel_j0`` alone is only ~4e-7 accurate for
    small ``x`` and has no gradient.)
    """
    n = int(order)
    if n != order or abs(n) > MAX_BESSEL_ORDER:
        raise ValueError(
            f"besselj order must be an integer with |order| <= {MAX_BESSEL_ORDER}, got {order!r}"
        )
    sign = -1.0 if (n < 0 and n % 2) else 1.0
    n = abs(n)
    small = x.abs() < _TRAPEZOID_LIMIT
    # each branch is evaluated on inputs that are safe for it, so that the discarded
    # branch cannot leak NaN/Inf into values or gradients
    x_small = torch.where(small, x, torch.zeros_like(x))
    x_big = torch.where(small, torch.full_like(x, _TRAPEZOID_LIMIT), x)
    value = torch.where(small, _jn_trapezoid(n, x_small), _jn_recurrence(n, x_big))
    return value if sign > 0 else -value
