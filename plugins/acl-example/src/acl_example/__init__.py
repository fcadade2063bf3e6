r"""acl-example: a complete aclcore plugin, small enough to copy.

It adds one special function to aclcore's translation table and one kernel family that
uses it.

**The function** ``i0e(t) = exp(-|t|) I0(t)``, the exponentially scaled modified Bessel
function of the first kind of order 0. SymPy has no such function and aclcore's table has no
``I0``; torch has ``torch.special.i0e`` (with a gradient, so no ``grad=`` is needed).
The scaling keeps it finite where ``I0`` overflows (``I0(100) ~ 1e42``). It is registered
by its import path, ``"torch.special:i0e"``: this module never imports torch, so listing
families (``acl families``) does not either; aclcore imports and checks the function the
first time a formula using it is compiled (``acl plugins --check`` checks it at once).

**The family** ``gaussian_ring`` (x, y): a circle of radius :math:`\rho` blurred by an
isotropic Gaussian of scale :math:`\sigma`. Averaging the Gaussian
:math:`\exp(-|p - q|^2 / (2\sigma^2))` over the points :math:`q` of the circle gives exactly

.. math::

    \frac{1}{2\pi}\int_0^{2\pi} e^{-|p - \rho e^{i\varphi}|^2 / (2\sigma^2)} d\varphi
    = e^{-(r^2 + \rho^2)/(2\sigma^2)}\, I_0\!\left(\frac{r\rho}{\sigma^2}\right)
    = e^{-(r - \rho)^2/(2\sigma^2)}\, \mathrm{i0e}\!\left(\frac{r\rho}{\sigma^2}\right)

with :math:`r = \sqrt{x^2 + y^2}`; the last form never overflows. For :math:`\rho = 0` it
is the ``gaussian`` of acl-classic. Normalisation ``"sum"`` (a ring-shaped blur); symmetric
in ``x``, ``y`` and under rotation.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

import sympy as sp

from aclcore import KernelFamily, Param, hookimpl
from aclcore.hookspecs import RegisterFamily, RegisterFunction

try:
    __version__ = version("acl-example")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

__all__ = ["__version__", "acl_register_families", "acl_register_functions", "gaussian_ring",
           "i0e"]


class i0e(sp.Function):  # type: ignore[misc]  # SymPy is untyped
    """``exp(-|t|) * besseli(0, t)``: exponentially scaled modified Bessel function I0."""

    nargs = 1

    @classmethod
    def eval(cls, t: sp.Expr) -> sp.Expr | None:
        """``i0e(0) = 1``; other arguments stay unevaluated."""
        return sp.S.One if t.is_zero else None

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        """``d/dt i0e(t) = exp(-|t|) I1(t) - sign(t) i0e(t)``."""
        t = self.args[0]
        return sp.exp(-sp.Abs(t)) * sp.besseli(1, t) - sp.sign(t) * self

    def _eval_rewrite_as_besseli(self, t: sp.Expr, **kwargs: Any) -> sp.Expr:
        return sp.exp(-sp.Abs(t)) * sp.besseli(0, t)

    def _eval_evalf(self, prec: int) -> sp.Expr | None:
        if not self.args[0].is_number:
            return None
        return self.rewrite(sp.besseli)._eval_evalf(prec)

    def _eval_is_real(self) -> bool | None:
        return self.args[0].is_real  # type: ignore[no-any-return]


@hookimpl
def acl_register_functions(register: RegisterFunction) -> None:
    """Teach aclcore ``i0e`` (the families of every plugin may use it)."""
    register(i0e, "torch.special:i0e", doc="torch.special.i0e (exp(-|x|) I0(x))",
             domain=(-20.0, 20.0))


def gaussian_ring() -> KernelFamily:
    """The ``gaussian_ring`` family (built on call: it needs ``i0e`` to be registered)."""
    x, y = sp.symbols("x y", real=True)
    rho, sigma = sp.symbols("rho sigma", real=True)
    r = sp.sqrt(x**2 + y**2)
    return KernelFamily(
        name="gaussian_ring",
        expr=sp.exp(-((r - rho) ** 2) / (2 * sigma**2)) * i0e(r * rho / sigma**2),
        coords=(x, y),
        params=[
            Param(rho, init=(1.0, 3.0), constraint="positive",
                  description="ring radius in pixels"),
            Param(sigma, init=(0.5, 1.5), constraint="positive",
                  description="blur (ring thickness) in pixels"),
        ],
        description="A circle of radius rho blurred by a Gaussian of scale sigma.",
        normalize="sum",
        symmetries=("even:x", "even:y", "rot90"),
    )


@hookimpl
def acl_register_families(register: RegisterFamily) -> None:
    """Register ``gaussian_ring``."""
    register(gaussian_ring())
