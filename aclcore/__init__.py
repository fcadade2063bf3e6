"""aclcore: Analytic Convolutional Layers.

Declare analytic convolution kernel (ACK) families as SymPy formulas with learnable analytic
kernel parameters (AKPs), compile them to fast differentiable torch functions, and use them
in convolution layers that are a mosaic of analytic and free kernels.

Importing aclcore loads no plugin; plugins load lazily on the first family look-up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aclcore.compile import CompiledFamily, compile_family
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
from aclcore.plugins import (
    AclPluginWarning,
    families,
    get_family,
    register_family,
    register_function,
)
from aclcore.symbolic import KernelFamily, Param
from aclcore.version import __version__

if TYPE_CHECKING:
    from aclcore import checkpoint as checkpoint
    from aclcore import export as export
    from aclcore.nn import AnalyticConv1d, AnalyticConv2d, AnalyticConv3d
    from aclcore.symbolic.parse import parse_formula

# Imported on first access, so that ``import aclcore`` + plugin discovery stay cheap.
_LAZY_MODULES = ("checkpoint", "export")
_LAZY_NAMES = {
    "AnalyticConv1d": "aclcore.nn",
    "AnalyticConv2d": "aclcore.nn",
    "AnalyticConv3d": "aclcore.nn",
    "parse_formula": "aclcore.symbolic.parse",
}


def __getattr__(name: str) -> object:
    """The layers, the parser, ``aclcore.export`` and ``aclcore.checkpoint``, on first use."""
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
