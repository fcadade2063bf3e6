r"""Gaussian low-pass families: isotropic and oriented 2-D, 1-D and 3-D.

Conventions (aclcore's grid): coordinates in pixels, centred on the kernel; ``x`` to the
right, ``y`` upwards, ``z`` with depth; the angle ``theta`` is counter-clockwise from ``+x``.
The rotated coordinates used throughout the plugin are

.. math::  u = x\cos\theta + y\sin\theta, \qquad v = -x\sin\theta + y\cos\theta .

``gaussian`` (x, y)
    :math:`G(x, y) = \exp\!\big(-(x^2 + y^2) / (2\sigma^2)\big)`.
    Blur with scale :math:`\sigma`. Normalisation ``"sum"`` (unit DC gain: a low-pass filter
    that keeps the mean), so the :math:`1/(2\pi\sigma^2)` factor is left out.
    Symmetric in ``x``, in ``y`` and under 90-degree rotation.

``anisotropic_gaussian`` (x, y)
    :math:`\exp\!\big(-u^2/(2\sigma_u^2) - v^2/(2\sigma_v^2)\big)`: an elliptical Gaussian
    with scale :math:`\sigma_u` along the direction :math:`\theta` and :math:`\sigma_v`
    across it. Normalisation ``"sum"``. Orientation has period :math:`\pi`.

``gaussian_1d`` (x)
    :math:`\exp\!\big(-x^2/(2\sigma^2)\big)`, normalisation ``"sum"``, even in ``x``.

``gaussian_3d`` (x, y, z)
    :math:`\exp\!\big(-(x^2 + y^2 + z^2)/(2\sigma^2)\big)`, normalisation ``"sum"``, even in
    every coordinate and symmetric under 90-degree rotation about ``z``.

Init ranges: :math:`\sigma \in [0.8, 2.5]` pixels (a 3x3 to 9x9 kernel holds it),
constraint ``"positive"``.
"""

from __future__ import annotations

import math

import sympy as sp

from aclcore import KernelFamily, Param

__all__ = ["ANISOTROPIC_GAUSSIAN", "GAUSSIAN", "GAUSSIAN_1D", "GAUSSIAN_3D"]

x, y, z = sp.symbols("x y z", real=True)
sigma, sigma_u, sigma_v, theta = sp.symbols("sigma sigma_u sigma_v theta", real=True)
u = x * sp.cos(theta) + y * sp.sin(theta)
v = -x * sp.sin(theta) + y * sp.cos(theta)


def sigma_param(init: tuple[float, float] = (0.8, 2.5), name: sp.Symbol = sigma,
                description: str = "scale (standard deviation) in pixels") -> Param:
    """A positive Gaussian scale with the plugin's usual init range."""
    return Param(name, init=init, constraint="positive", description=description)


def theta_param(period: float = math.pi) -> Param:
    """An orientation, counter-clockwise from +x, initialised uniformly over one period."""
    return Param(theta, init=(0.0, period), constraint="angle",
                 description="orientation, counter-clockwise from +x (radians)")


GAUSSIAN = KernelFamily(
    name="gaussian",
    expr=sp.exp(-(x**2 + y**2) / (2 * sigma**2)),
    coords=(x, y),
    params=[sigma_param()],
    description="Isotropic 2-D Gaussian (blur), unit DC gain.",
    normalize="sum",
    symmetries=("even:x", "even:y", "rot90"),
)

ANISOTROPIC_GAUSSIAN = KernelFamily(
    name="anisotropic_gaussian",
    expr=sp.exp(-(u**2) / (2 * sigma_u**2) - v**2 / (2 * sigma_v**2)),
    coords=(x, y),
    params=[
        sigma_param((1.0, 3.0), sigma_u, "scale along the orientation (pixels)"),
        sigma_param((0.5, 1.5), sigma_v, "scale across the orientation (pixels)"),
        theta_param(),
    ],
    description="Oriented elliptical 2-D Gaussian, unit DC gain.",
    normalize="sum",
)

GAUSSIAN_1D = KernelFamily(
    name="gaussian_1d",
    expr=sp.exp(-(x**2) / (2 * sigma**2)),
    coords=(x,),
    params=[sigma_param((0.8, 3.0))],
    description="1-D Gaussian (blur), unit DC gain.",
    normalize="sum",
    symmetries=("even:x",),
)

GAUSSIAN_3D = KernelFamily(
    name="gaussian_3d",
    expr=sp.exp(-(x**2 + y**2 + z**2) / (2 * sigma**2)),
    coords=(x, y, z),
    params=[sigma_param((0.8, 2.0))],
    description="Isotropic 3-D Gaussian (blur of volumes or video), unit DC gain.",
    normalize="sum",
    symmetries=("even:x", "even:y", "even:z", "rot90"),
)
