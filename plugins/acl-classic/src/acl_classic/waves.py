r"""Oscillating families: Gabor, plane sinusoid, 1-D Gabor and SincNet's band-pass sinc.

With :math:`u = x\cos\theta + y\sin\theta` and :math:`v = -x\sin\theta + y\cos\theta` (see
:mod:`acl_classic.gaussians`; ``theta`` counter-clockwise from ``+x``, ``y`` upwards):

``gabor`` (x, y): the real Gabor function
    :math:`\exp\!\left(-\frac{u^2 + \gamma^2 v^2}{2\sigma^2}\right)
    \cos\!\left(\frac{2\pi u}{\lambda} + \psi\right)`
    with envelope scale :math:`\sigma`, aspect ratio :math:`\gamma` (the envelope is
    :math:`\sigma/\gamma` wide across the stripes), wavelength :math:`\lambda`, orientation
    :math:`\theta` (the direction the carrier varies along) and phase :math:`\psi`
    (:math:`0`: even, centre-on; :math:`\pm\pi/2`: odd, edge-like). The wavelength is
    constrained to :math:`(2, 64)` pixels: below 2 the carrier aliases on the tap grid.
    No normalisation (the standard definition; the layer's gain sets the amplitude).

``sinusoid`` (x, y): a plane wave
    :math:`\cos\!\left(\frac{2\pi u}{\lambda} + \psi\right)`, no envelope (the kernel
    support is the window); same :math:`\lambda`, :math:`\theta`, :math:`\psi` as ``gabor``.
    No normalisation.

``gabor_1d`` (x)
    :math:`\exp\!\left(-\frac{x^2}{2\sigma^2}\right)\cos\!\left(\frac{2\pi x}{\lambda}
    + \psi\right)`. No normalisation.

``sinc_bandpass`` (x): SincNet's band-pass filter (Ravanelli and Bengio, 2018)
    :math:`2 f_2\,\mathrm{sinc}(2\pi f_2 x) - 2 f_1\,\mathrm{sinc}(2\pi f_1 x)` with
    SymPy's un-normalised :math:`\mathrm{sinc}(t) = \sin(t)/t`, the difference of two ideal
    low-pass filters: unit gain between the cut-offs :math:`f_1 < f_2`, in cycles per tap
    (Nyquist is 1/2). As in SincNet the filter learns the low cut-off :math:`f_1` and a
    positive band width :math:`b`, and :math:`f_2 = \min(f_1 + b, 1/2)` is clipped at
    Nyquist, so :math:`f_1 < f_2` always holds. Both are constrained to :math:`(0, 1/2)`.
    Unlike SincNet no Hamming window is applied (its length would be the kernel size, which
    a formula does not know): the kernel support truncates the ideal filter. No
    normalisation: the pass band already has unit gain. Even in ``x``.
"""

from __future__ import annotations

import math

import sympy as sp

from acl_classic.gaussians import sigma_param, theta_param, u, v, x, y
from aclcore import KernelFamily, Param

__all__ = ["GABOR", "GABOR_1D", "SINC_BANDPASS", "SINUSOID"]

sigma, gamma, lam, psi = sp.symbols("sigma gamma lambda psi", real=True)
f1, band = sp.symbols("f1 band", real=True)


def wavelength_param() -> Param:
    """A wavelength in pixels, above the Nyquist limit of 2."""
    return Param(lam, init=(2.5, 8.0), constraint=(2.0, 64.0),
                 description="wavelength of the carrier in pixels (> 2, Nyquist)")


def phase_param() -> Param:
    """A carrier phase, initialised uniformly over a full turn."""
    return Param(psi, init=(-math.pi, math.pi), constraint="angle",
                 description="phase of the carrier (0: even, pi/2: odd)")


carrier = sp.cos(2 * sp.pi * u / lam + psi)

GABOR = KernelFamily(
    name="gabor",
    expr=sp.exp(-(u**2 + gamma**2 * v**2) / (2 * sigma**2)) * carrier,
    coords=(x, y),
    params=[
        sigma_param((1.0, 3.0), description="envelope scale along the carrier (pixels)"),
        Param(gamma, init=(0.5, 1.0), constraint=(0.1, 10.0),
              description="aspect ratio: envelope length along / across the stripes"),
        wavelength_param(),
        theta_param(),
        phase_param(),
    ],
    description="Real Gabor: Gaussian envelope times an oriented cosine carrier.",
)

SINUSOID = KernelFamily(
    name="sinusoid",
    expr=carrier,
    coords=(x, y),
    params=[wavelength_param(), theta_param(), phase_param()],
    description="Plane sinusoid (oriented cosine wave), no envelope.",
)

GABOR_1D = KernelFamily(
    name="gabor_1d",
    expr=sp.exp(-(x**2) / (2 * sigma**2)) * sp.cos(2 * sp.pi * x / lam + psi),
    coords=(x,),
    params=[sigma_param((1.0, 4.0), description="envelope scale in taps"),
            wavelength_param(), phase_param()],
    description="1-D Gabor: Gaussian envelope times a cosine carrier.",
)

f2 = sp.Min(f1 + band, sp.Rational(1, 2))

SINC_BANDPASS = KernelFamily(
    name="sinc_bandpass",
    expr=2 * f2 * sp.sinc(2 * sp.pi * f2 * x) - 2 * f1 * sp.sinc(2 * sp.pi * f1 * x),
    coords=(x,),
    params=[
        Param(f1, init=(0.005, 0.3), constraint=(0.0, 0.5),
              description="low cut-off frequency, cycles per tap"),
        Param(band, init=(0.02, 0.15), constraint=(0.0, 0.5),
              description="band width f2 - f1, cycles per tap (f2 is clipped at 1/2)"),
    ],
    description="SincNet band-pass: difference of two ideal low-pass sinc filters.",
    symmetries=("even:x",),
)
