r"""Gaussian derivative (edge, bar and blob) families, all 2-D.

With :math:`r^2 = x^2 + y^2`, :math:`u = x\cos\theta + y\sin\theta` (see
:mod:`acl_classic.gaussians`) and :math:`G = \exp(-r^2/(2\sigma^2))`:

``gaussian_d1`` (x, y): oriented first derivative, an edge detector
    :math:`-\frac{u}{\sigma} G = \sigma\,\partial_u G`, the scale-normalised derivative
    along :math:`\theta` (steerable: any direction is
    :math:`\cos\theta\,\partial_x G + \sin\theta\,\partial_y G`). Its peak magnitude
    :math:`e^{-1/2}` does not depend on :math:`\sigma`. Negative on the side the direction
    :math:`\theta` points to (:math:`u > 0`), positive on the other, so :math:`\theta` is a
    full angle (init over :math:`[0, 2\pi)`). Odd under point reflection, so it sums to 0
    on the centred grid; normalisation ``"l2"`` (unit energy).

``gaussian_d2`` (x, y): oriented second derivative, a bar (ridge) detector
    :math:`\left(\frac{u^2}{\sigma^2} - 1\right) G = \sigma^2\,\partial_u^2 G`,
    scale-normalised. Orientation has period :math:`\pi`. Normalisation ``"zero_mean"``:
    the continuous kernel integrates to 0, the truncated sampled one is made to.

``log`` (x, y): Laplacian of Gaussian, the "Mexican hat" blob detector
    :math:`\left(1 - \frac{r^2}{2\sigma^2}\right) G = -\frac{\sigma^2}{2}\,\nabla^2 G`,
    positive centre, negative surround, zero crossing at :math:`r = \sqrt{2}\sigma`.
    Normalisation ``"zero_mean"``; symmetric in ``x``, ``y`` and under rotation.

``dog`` (x, y): difference of Gaussians, Marr and Hildreth's approximation of the LoG
    :math:`\frac{1}{\sigma^2} e^{-r^2/(2\sigma^2)} - \frac{1}{k^2\sigma^2}
    e^{-r^2/(2k^2\sigma^2)}`: a centre Gaussian minus a surround Gaussian :math:`k` times
    wider, each of unit integral (up to the common :math:`2\pi`), so the continuous kernel
    integrates to 0. The ratio is constrained to :math:`k \in (1, 10)` (:math:`k \to 1`
    degenerates to 0; 1.6 is the classic choice), init :math:`[1.4, 2.0]`.
    Normalisation ``"zero_mean"``; symmetric in ``x``, ``y`` and under rotation.

Scales: :math:`\sigma` constraint ``"positive"``, init :math:`[0.8, 2.0]` pixels.
"""

from __future__ import annotations

import math

import sympy as sp

from acl_classic.gaussians import sigma_param, theta_param, u, x, y
from aclcore import KernelFamily, Param

__all__ = ["DOG", "GAUSSIAN_D1", "GAUSSIAN_D2", "LOG"]

sigma, k = sp.symbols("sigma k", real=True)
r2 = x**2 + y**2
G = sp.exp(-r2 / (2 * sigma**2))
ROTATION_SYMMETRIC = ("even:x", "even:y", "rot90")

GAUSSIAN_D1 = KernelFamily(
    name="gaussian_d1",
    expr=-u * G / sigma,
    coords=(x, y),
    params=[sigma_param((0.8, 2.0)), theta_param(2 * math.pi)],
    description="Oriented first Gaussian derivative (edge detector), scale-normalised.",
    normalize="l2",
)

GAUSSIAN_D2 = KernelFamily(
    name="gaussian_d2",
    expr=(u**2 / sigma**2 - 1) * G,
    coords=(x, y),
    params=[sigma_param((0.8, 2.0)), theta_param()],
    description="Oriented second Gaussian derivative (bar detector), scale-normalised.",
    normalize="zero_mean",
)

LOG = KernelFamily(
    name="log",
    expr=(1 - r2 / (2 * sigma**2)) * G,
    coords=(x, y),
    params=[sigma_param((0.8, 2.0))],
    description="Laplacian of Gaussian, Mexican hat (blob detector), positive centre.",
    normalize="zero_mean",
    symmetries=ROTATION_SYMMETRIC,
)

DOG = KernelFamily(
    name="dog",
    expr=G / sigma**2 - sp.exp(-r2 / (2 * k**2 * sigma**2)) / (k**2 * sigma**2),
    coords=(x, y),
    params=[
        sigma_param((0.8, 2.0), description="centre scale in pixels"),
        Param(k, init=(1.4, 2.0), constraint=(1.0, 10.0),
              description="surround / centre scale ratio, > 1"),
    ],
    description="Difference of Gaussians (centre minus k-times-wider surround).",
    normalize="zero_mean",
    symmetries=ROTATION_SYMMETRIC,
)
