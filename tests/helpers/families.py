"""Kernel families used by the layer tests (SymPy objects: no parser, no registry needed).

Imported by the test modules (and by the DDP worker processes) as ``acl_families``.
"""

from __future__ import annotations

import sympy as sp

from aclcore import KernelFamily, Param

x, y, z = sp.symbols("x y z", real=True)
sigma, lam, theta, psi, a = sp.symbols("sigma lambda theta psi a", real=True)
_u = x * sp.cos(theta) + y * sp.sin(theta)
_r2 = x**2 + y**2


def gabor(name: str = "gabor") -> KernelFamily:
    """Gaussian envelope times an oriented cosine carrier (theta counter-clockwise)."""
    return KernelFamily(
        name,
        sp.exp(-_r2 / (2 * sigma**2)) * sp.cos(2 * sp.pi * _u / lam + psi),
        (x, y),
        [
            Param(sigma, (0.8, 2.5), "positive"),
            Param(lam, (2.0, 8.0), "positive"),
            Param(theta, (0.0, 3.14159), "angle"),
            Param(psi, (-3.14159, 3.14159)),
        ],
    )


def gauss(name: str = "gauss", normalize: str = "none") -> KernelFamily:
    """Isotropic Gaussian."""
    return KernelFamily(
        name, sp.exp(-_r2 / (2 * sigma**2)), (x, y),
        [Param(sigma, (0.6, 2.0), "positive")], normalize=normalize,
    )


def dog(name: str = "dog") -> KernelFamily:
    """Oriented first derivative of a Gaussian along u = x cos(theta) + y sin(theta)."""
    return KernelFamily(
        name, -_u / sigma**2 * sp.exp(-_r2 / (2 * sigma**2)), (x, y),
        [Param(sigma, (0.8, 2.0), "positive"), Param(theta, (0.0, 6.28), "angle")],
    )


def sinc_r(name: str = "sinc_r") -> KernelFamily:
    """sin(a r) / r: a removable singularity at the centre tap (limit a)."""
    r = sp.sqrt(_r2)
    return KernelFamily(name, sp.sin(a * r) / r, (x, y), [Param(a, (0.5, 2.0), (0.1, 3.0))])


def gauss1d(name: str = "gauss1d") -> KernelFamily:
    """1-D Gaussian with a learnable centre (tests orientation of x)."""
    return KernelFamily(
        name, sp.exp(-((x - psi) ** 2) / (2 * sigma**2)), (x,),
        [Param(sigma, (0.6, 2.0), "positive"), Param(psi, (-0.5, 0.5))],
    )


def gauss3d(name: str = "gauss3d") -> KernelFamily:
    """Anisotropic 3-D Gaussian times a ramp along z."""
    return KernelFamily(
        name, (1 + a * z) * sp.exp(-(x**2 + y**2 + z**2) / (2 * sigma**2)), (x, y, z),
        [Param(sigma, (0.8, 1.6), "positive"), Param(a, (0.1, 0.5))],
    )


def ramp(name: str = "ramp") -> KernelFamily:
    """a*x + b*y (no singularity, exact for checks of orientation)."""
    b = sp.Symbol("b", real=True)
    return KernelFamily(name, a * x + b * y, (x, y), [Param(a, 1.0), Param(b, 0.0)])
