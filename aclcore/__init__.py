"""aclcore: Analytic Convolutional Layers.

Declare analytic convolution kernel (ACK) families as SymPy formulas with learnable analytic
kernel parameters (AKPs), compile them to fast differentiable torch functions, and use them
in convolution layers that are a mosaic of analytic and free kernels.

Importing aclcore loads no plugin and imports neither SymPy nor torch: the public names are
imported on first use, plugins load on the first family look-up, and torch comes with the
first compiled kernel.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aclcore.errors import (
    AclError,
    CompileError,
    ConfigError,
    ExportError,
    FamilyError,
    NonFiniteGradientError,
    NonFiniteKernelError,
    ParseError,
    PluginError,
    UnknownFamilyError,
)
from aclcore.hookspecs import hookimpl
from aclcore.version import __version__

if TYPE_CHECKING:
    from aclcore import checkpoint as checkpoint
    from aclcore import export as export
    from aclcore.compile import CompiledFamily, compile_family
    from aclcore.nn import AnalyticConv1d, AnalyticConv2d, AnalyticConv3d
    from aclcore.plugins import (
        AclPluginWarning,
        families,
        get_family,
        register_family,
        register_function,
    )
    from aclcore.symbolic import KernelFamily, Param
    from aclcore.symbolic.parse import parse_formula

# Everything else is imported on first access, so that ``import aclcore`` is instant (no
# SymPy, no torch): ``acl --version`` and ``--help`` need nothing more, a plugin declaring
# families needs SymPy only, and torch comes with the first compiled kernel.
_LAZY_MODULES = ("checkpoint", "export")
_LAZY_NAMES = {
    "AclPluginWarning": "aclcore.plugins",
    "AnalyticConv1d": "aclcore.nn",
    "AnalyticConv2d": "aclcore.nn",
    "AnalyticConv3d": "aclcore.nn",
    "CompiledFamily": "aclcore.compile",
    "KernelFamily": "aclcore.symbolic",
    "Param": "aclcore.symbolic",
    "compile_family": "aclcore.compile",
    "families": "aclcore.plugins",
    "get_family": "aclcore.plugins",
    "parse_formula": "aclcore.symbolic.parse",
    "register_family": "aclcore.plugins",
    "register_function": "aclcore.plugins",
}


def __getattr__(name: str) -> object:
    """The public names of the stages (families, plugins, compiler, layers, parser) and
    ``aclcore.export`` / ``aclcore.checkpoint``, imported on first use."""
    import importlib

    if name in _LAZY_MODULES:
        return importlib.import_module(f"aclcore.{name}")
    if name in _LAZY_NAMES:
        value = getattr(importlib.import_module(_LAZY_NAMES[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'aclcore' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY_NAMES, *_LAZY_MODULES})


__all__ = [
    "AclError",
    "AclPluginWarning",
    "AnalyticConv1d",
    "AnalyticConv2d",
    "AnalyticConv3d",
    "CompileError",
    "CompiledFamily",
    "ConfigError",
    "ExportError",
    "FamilyError",
    "KernelFamily",
    "NonFiniteGradientError",
    "NonFiniteKernelError",
    "Param",
    "ParseError",
    "PluginError",
    "UnknownFamilyError",
    "__version__",
    "compile_family",
    "families",
    "get_family",
    "hookimpl",
    "parse_formula",
    "register_family",
    "register_function",
]
