"""Numerically safe building blocks of the generated kernel code.

The code generator (:mod:`aclcore.compile.codegen`) calls these where the plain torch
operation would be exact in value but leak ``NaN`` into gradients: roots of expressions that
reach 0 on a tap (:func:`safe_sqrt`, :func:`safe_pow`) and the inputs of Piecewise branches
that are not selected (:func:`safe_guard`). The standalone Python export copies their source.
"""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["safe_guard", "safe_pow", "safe_sqrt"]


def safe_sqrt(base: torch.Tensor) -> torch.Tensor:
    """``sqrt(base)`` whose gradient is 0, not NaN, where ``base`` is exactly 0.

    Used for square roots of expressions of coordinates *and* parameters (e.g.
    ``sqrt(x**2/a**2 + y**2/b**2)``): at a tap where the base reaches its minimum 0 the chain
    rule multiplies the infinite derivative of the root by the zero derivative of the base
    (``inf * 0 = NaN``). The one-sided derivative there is 0 (a subgradient of the cone).
    """
    zero = base == 0
    return torch.where(zero, base.detach(), torch.sqrt(torch.where(zero, 1.0, base)))


def safe_pow(base: torch.Tensor, exponent: float | torch.Tensor) -> torch.Tensor:
    """``base ** exponent`` whose gradient reaching ``base`` is 0, not NaN, where it is 0.

    As :func:`safe_sqrt`, for fractional exponents. Where the base is 0 the value is the
    power of the detached base, so the exponent keeps the gradient torch defines for it.
    """
    zero = base == 0
    safe = torch.where(zero, 1.0, base)
    return torch.where(zero, torch.pow(base.detach(), exponent), torch.pow(safe, exponent))


def safe_guard(mask: torch.Tensor, value: Any) -> Any:
    """Let gradients reach ``value`` only where ``mask`` is true.

    Used around every input of a Piecewise branch (and of a removable-singularity branch):
    where the branch is not selected its backward pass may produce ``0 * inf = NaN``;
    routing those positions to a detached copy keeps the NaN away from the parameters.
    """
    if (
        isinstance(value, torch.Tensor)
        and value.requires_grad
        and torch.is_grad_enabled()
    ):
        return torch.where(mask, value, value.detach())
    return value
