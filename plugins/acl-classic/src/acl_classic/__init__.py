"""acl-classic: the classic analytic kernel families for aclcore.

Installed, it registers these families through aclcore's ``aclcore`` entry point (the same
way as any third-party plugin); the maths of each is in the docstring of its module.

=======================  =====  ======================================================
family                   dims   module
=======================  =====  ======================================================
``gaussian``             2      :mod:`acl_classic.gaussians` (isotropic)
``anisotropic_gaussian`` 2      :mod:`acl_classic.gaussians` (oriented)
``gaussian_1d``          1      :mod:`acl_classic.gaussians`
``gaussian_3d``          3      :mod:`acl_classic.gaussians`
``gaussian_d1``          2      :mod:`acl_classic.derivatives` (oriented 1st derivative)
``gaussian_d2``          2      :mod:`acl_classic.derivatives` (oriented 2nd derivative)
``log``                  2      :mod:`acl_classic.derivatives` (Laplacian of Gaussian)
``dog``                  2      :mod:`acl_classic.derivatives` (difference of Gaussians)
``gabor``                2      :mod:`acl_classic.waves` (real Gabor)
``sinusoid``             2      :mod:`acl_classic.waves` (plane wave)
``gabor_1d``             1      :mod:`acl_classic.waves`
``sinc_bandpass``        1      :mod:`acl_classic.waves` (SincNet band-pass)
=======================  =====  ======================================================
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from acl_classic.derivatives import DOG, GAUSSIAN_D1, GAUSSIAN_D2, LOG
from acl_classic.gaussians import ANISOTROPIC_GAUSSIAN, GAUSSIAN, GAUSSIAN_1D, GAUSSIAN_3D
from acl_classic.waves import GABOR, GABOR_1D, SINC_BANDPASS, SINUSOID
from aclcore import KernelFamily, hookimpl
from aclcore.hookspecs import RegisterFamily

try:
    __version__ = version("acl-classic")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

__all__ = ["FAMILIES", "__version__", "acl_register_families"]

#: Every family of the plugin, in registration order.
FAMILIES: tuple[KernelFamily, ...] = (
    GAUSSIAN,
    ANISOTROPIC_GAUSSIAN,
    GAUSSIAN_1D,
    GAUSSIAN_3D,
    GAUSSIAN_D1,
    GAUSSIAN_D2,
    LOG,
    DOG,
    GABOR,
    SINUSOID,
    GABOR_1D,
    SINC_BANDPASS,
)


@hookimpl
def acl_register_families(register: RegisterFamily) -> None:
    """Register the classic families (see the table in the module docstring)."""
    for family in FAMILIES:
        register(family)
