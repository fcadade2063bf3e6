"""aclcore: Analytic Convolutional Layers.

Declare analytic convolution kernel (ACK) families as SymPy formulas with learnable analytic
kernel parameters (AKPs), compile them to fast differentiable torch functions, and use them
in convolution layers that are a mosaic of analytic and free kernels.

Importing aclcore loads no plugin; plugins load lazily on the first family look-up.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from aclcore._plugin_report import AclPluginWarning
from aclcore.compiler import CompiledFamily, compile_family
from aclcore.errors import (
    AclError,
    CompileError,
    ConfigError,
    ExportError,
    FamilyError,
    NonFiniteKernelError,
    ParseError,
    PluginError,
    UnknownFamilyError,
)
from aclcore.family import KernelFamily, Param
from aclcore.hookspecs import hookimpl
from aclcore.nn import AnalyticConv1d, AnalyticConv2d, AnalyticConv3d
from aclcore.parse import parse_formula
from aclcore.registry import families, get_family, register_family, register_function

try:
    __version__ = version("aclcore")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

_LAZY_MODULES = ("checkpoint", "export")


def __getattr__(name: str) -> object:
    """``aclcore.export`` and ``aclcore.checkpoint``, imported on first use."""
    if name in _LAZY_MODULES:
        import importlib

        return importlib.import_module(f"aclcore.{name}")
    raise AttributeError(f"module 'aclcore' has no attribute {name!r}")

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
