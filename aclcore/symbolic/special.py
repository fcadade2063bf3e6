"""Torch implementations behind the translation table where ``torch`` itself falls short.

Each function here matches SymPy's semantics exactly and has a correct, finite gradient:

* :func:`sinc` is SymPy's un-normalised ``sin(x)/x`` (``torch.sinc`` is ``sin(pi x)/(pi x)``),
  and :func:`sinc_pi` the normalised one, both with exact derivatives of every order at and
  near 0 (``torch.sinc``'s first derivative cancels near 0, its second is wrong at 0);
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
from typing import Any

import torch

from aclcore.symbolic.autograd import with_grad
from aclcore.symbolic.functions import MAX_BESSEL_ORDER

__all__ = ["MAX_BESSEL_ORDER", "atan2", "besselj", "heaviside", "sinc", "sinc_pi"]

#: Below this magnitude of ``pi * u`` the derivative of :func:`sinc_pi` uses its Taylor series
#: (its first omitted term is below 3e-18 there); above it, ``(cos(pi u) - sinc_pi(u)) / u``.
SINC_SERIES_BELOW = 0.1

_PI2 = math.pi**2
# d/du of sin(pi u)/(pi u) = u * (c1 + c2 u**2 + c3 u**4 + c4 u**6 + ...), the Taylor series
# of (cos(pi u) - sinc(pi u)) / u
_DSINC = (-_PI2 / 3, _PI2**2 / 30, -(_PI2**3) / 840, _PI2**4 / 45360)


def _sinc_pi_derivative(u: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
    """d/du of ``sin(pi u)/(pi u)`` given its ``value``, exact at and near 0.

    Each branch is computed on inputs safe for it, so neither leaks NaN into the other's
    values or gradients. When autograd records (a higher derivative was asked for) it is
    written with differentiable operations, and higher derivatives follow through autograd and
    through :class:`_SincPi` again for ``value``; otherwise the same formula runs in place
    (fewer passes and allocations, one cosine: less than ``torch.sinc``'s backward, which
    takes a sine and a cosine).
    """
    edge = SINC_SERIES_BELOW / math.pi
    small = u.abs() < edge
    us = torch.clamp(u, -edge, edge)  # the series stays finite (and is not used) beyond it
    ub = torch.where(small, 1.0, u)
    u2 = us * us
    t = torch.add(_DSINC[2], u2, alpha=_DSINC[3])
    if not torch.is_grad_enabled():
        t.mul_(u2).add_(_DSINC[1]).mul_(u2).add_(_DSINC[0]).mul_(us)
        return torch.where(small, t, torch.cos(ub * math.pi).sub_(value).div_(ub))
    # Horner in u**2 with fused multiply-adds: one pass per term
    for c in (_DSINC[1], _DSINC[0]):
        t = torch.addcmul(torch.full((), c, dtype=u2.dtype, device=u2.device), u2, t)
    return torch.where(small, t * us, (torch.cos(ub * math.pi) - value) / ub)


class _SincPi(torch.autograd.Function):
    """``torch.sinc``'s values (through the vectorised ``sin``) with a backward that is exact
    at and near 0."""

    generate_vmap_rule = True  # torch.func.vmap derives the batching from forward/backward

    @staticmethod
    def forward(u: torch.Tensor) -> torch.Tensor:
        # torch.sinc's value, sin(pi u) / (pi u), through the vectorised sin (torch.sinc's own
        # kernel is 2-3 times slower on the CPU). sinc is even: |pi u| floored at the
        # smallest normal number gives sin(a)/a = 1 at 0 without a mask; NaN stays NaN
        a = torch.mul(u, math.pi).abs_().clamp_min_(torch.finfo(u.dtype).tiny)
        return torch.sin(a).div_(a)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: torch.Tensor) -> None:
        ctx.save_for_backward(inputs[0], output)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        u, value = ctx.saved_tensors
        return grad * _sinc_pi_derivative(u, value)


def sinc_pi(u: torch.Tensor) -> torch.Tensor:
    """The normalised ``sin(pi u)/(pi u)`` (``torch.sinc``'s values, computed about twice as
    fast on the CPU), 1 at 0, with exact derivatives of every order: ``torch.sinc``'s own
    first derivative cancels near 0 and its second is wrong at 0. The code generator computes
    SymPy's ``sinc(a)`` as ``sinc_pi(a/pi)``, where the ``1/pi`` folds into the argument's
    constant (``sinc(2*pi*f*x)`` is ``sinc_pi(2*f*x)``)."""
    out: torch.Tensor = _SincPi.apply(u)  # type: ignore[no-untyped-call]
    return out


def sinc(x: torch.Tensor) -> torch.Tensor:
    """SymPy's ``sinc(x) = sin(x)/x`` with ``sinc(0) = 1``, exact derivatives of every order.

    ``sinc_pi(x / pi)``: ``torch.sinc``'s values (no cancellation near 0), derivatives from
    their Taylor series below ``|x| = 0.1`` and from ``(cos(x) - sinc(x)) / x`` above.
    """
    return sinc_pi(x * (1 / math.pi))


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
