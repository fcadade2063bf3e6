"""Python export: a standalone module (torch, numpy, math only) that regenerates kernel banks.

Private helper of :mod:`aclcore.export`. The module holds, per family, the compiler's own
generated kernel function (:attr:`aclcore.compile.CompiledFamily.source`) with the helpers it
calls inlined from aclcore's source (``_anchor``, ``broadcast_shape``, ``_finish``, ``_guard``,
the linear forms' ``linear_features`` and ``linear_form``,
the special functions of the function table), the grid and quadrature of :mod:`aclcore.nn.grid`,
the normalisations of :mod:`aclcore.nn.functional`, and each layer's learned values as literals:
the *constrained* AKPs exactly as the formulas see them (so no constraint code is needed), the
gains, the free kernels and the bias. Its ``kernel_bank(name)`` repeats the layer's computation
step by step and so reproduces ``layer.weight`` to the last bit on the same machine and dtype."""

from __future__ import annotations

import importlib
import inspect
import re
import textwrap
from collections.abc import Callable
from typing import Any

import torch

from aclcore.compile import codegen, compiler, gridops, safe
from aclcore.compile.compiler import compile_family
from aclcore.errors import ExportError
from aclcore.export.collect import analytic_layers
from aclcore.nn.functional import NORM_EPS
from aclcore.nn.layers import AnalyticConvNd
from aclcore.symbolic import functions as table_rows
from aclcore.symbolic import special as _special
from aclcore.version import __version__

__all__ = ["to_python"]

_TORCH_MODULES = ("torch", "torch.special", "torch.nn.functional", "torch.linalg", "torch.fft")
_BESSEL_PRELUDE = f"""\
_TRAPEZOID_LIMIT = {_special._TRAPEZOID_LIMIT!r}
_TRAPEZOID_HALF = {_special._TRAPEZOID_HALF!r}
MAX_BESSEL_ORDER = {_special.MAX_BESSEL_ORDER!r}
_j0_big = torch.special.bessel_j0  # values only: the exported module does not differentiate
_j1_big = torch.special.bessel_j1
"""
_SINC_PRELUDE = f"""\
SINC_SERIES_BELOW = {_special.SINC_SERIES_BELOW!r}
_DSINC = {_special._DSINC!r}
"""
_SINC_SOURCES = (_special._sinc_pi_derivative, _special._SincPi, _special.sinc_pi,
                 _special.sinc)
#: aclcore implementations that can be inlined: function -> (prelude, sources, its name);
#: functions that share their sources share one copy of them.
_INLINE: dict[Any, tuple[str, tuple[Callable[..., Any], ...], str]] = {
    _special.sinc: (_SINC_PRELUDE, _SINC_SOURCES, "sinc"),
    _special.sinc_pi: (_SINC_PRELUDE, _SINC_SOURCES, "sinc_pi"),
    _special.atan2: ("", (_special.atan2,), "atan2"),
    _special.heaviside: ("", (_special.heaviside,), "heaviside"),
    _special.besselj: (_BESSEL_PRELUDE, (_special._jn_trapezoid, _special._jn_recurrence,
                                         _special.besselj), "besselj"),
    safe.safe_sqrt: ("", (safe.safe_sqrt,), "safe_sqrt"),
    safe.safe_pow: ("", (safe.safe_pow,), "safe_pow"),
    table_rows._cot: ("", (table_rows._cot,), "_cot"),
    table_rows._sec: ("", (table_rows._sec,), "_sec"),
    table_rows._csc: ("", (table_rows._csc,), "_csc"),
}

_RUNTIME = '''
_NORM_EPS = {norm_eps!r}


def _grid(kernel_size, dilation, dtype):
    nd = len(kernel_size)
    axes = [((torch.arange(k, dtype=torch.float64) - (k - 1) / 2) * d).to(dtype)
            for k, d in zip(kernel_size, dilation)]

    def shaped(t, dim):
        shape = [1] * nd
        shape[dim] = -1
        return t.reshape(shape)

    coords = [shaped(axes[-1], nd - 1)]
    if nd >= 2:
        coords.append(shaped(torch.flip(axes[-2], (0,)), nd - 2))
    if nd == 3:
        coords.append(shaped(axes[0], 0))
    return tuple(coords)


def _cells(kernel_size, dilation, points, dtype):
    nd = len(kernel_size)
    taps = _grid(kernel_size, dilation, torch.float64)
    nodes_np, weights_np = np.polynomial.legendre.leggauss(points)
    nodes = torch.as_tensor(nodes_np / 2.0, dtype=torch.float64)
    w1 = torch.as_tensor(weights_np / 2.0, dtype=torch.float64)
    coords = []
    for j, tap in enumerate(taps):
        shape = [1] * (2 * nd)
        shape[2 * nd - 1 - j] = points
        tap = tap.reshape(*tap.shape, *([1] * nd))
        coords.append((tap + nodes.reshape(shape)).to(dtype))
    weights = w1
    for _ in range(nd - 1):
        weights = weights[..., None] * w1
    return tuple(coords), weights.to(dtype)


def _normalize(kernels, mode, nd):
    if mode == "none":
        return kernels
    dims = tuple(range(kernels.dim() - nd, kernels.dim()))
    if mode == "zero_mean":
        return (kernels + (-kernels.mean(dim=dims, keepdim=True))) * 1.0
    eps = max(_NORM_EPS, torch.finfo(kernels.dtype).tiny)
    if mode == "sum":
        total = kernels.sum(dim=dims, keepdim=True)
        floor = torch.where(total < 0, -eps, eps).to(kernels.dtype)
        total = torch.where(total.abs() < eps, floor, total)
        return (kernels + 0.0) * (1.0 / total)
    norm = torch.linalg.vector_norm(kernels, dim=dims, keepdim=True)
    return (kernels + 0.0) * (1.0 / norm.clamp_min(eps))


def _block(layer, block):
    size, nd, out_dtype = layer["kernel_size"], len(layer["kernel_size"]), layer["dtype"]
    dtype = torch.promote_types(out_dtype, torch.float32)  # half precision: float32 inside
    values = {{n: v.to(dtype) for n, v in block["akps"].items()}}
    if layer["discretization"] == "sample":
        coords = _grid(size, layer["dilation"], dtype)
        params = {{n: v.reshape(*v.shape, *([1] * nd)) for n, v in values.items()}}
        kernels = block["kernel"](coords, params)
    else:
        coords, weights = _cells(size, layer["dilation"], layer["quadrature"], dtype)
        params = {{n: v.reshape(*v.shape, *([1] * (2 * nd))) for n, v in values.items()}}
        kernels = (block["kernel"](coords, params) * weights).sum(dim=tuple(range(-nd, 0)))
    lead = torch.broadcast_shapes((1, 1), *(v.shape for v in values.values()))
    if kernels.shape != (*lead, *size):
        kernels = kernels.expand(*lead, *size)
    kernels = _normalize(kernels, block["normalize"], nd).to(out_dtype)
    if block["gain"] is not None:
        kernels = kernels * block["gain"].reshape(*block["gain"].shape, *([1] * nd))
    shape = (block["count"], layer["in_per_group"], *size)
    return kernels if kernels.shape == shape else kernels.expand(shape)


def _layer(name_or_index):
    if isinstance(name_or_index, int):
        return LAYERS[list(LAYERS)[name_or_index]]
    return LAYERS[name_or_index]


def kernel_bank(name_or_index=0):
    """The kernel bank (out_channels, in_channels // groups, *kernel_size) of one layer,
    by module path or position; equal to the exported layer's ``weight``."""
    layer = _layer(name_or_index)
    with torch.no_grad():
        parts = [_block(layer, b) if b["kind"] == "analytic" else b["weight"]
                 for b in layer["blocks"]]
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=0)


def kernel_banks():
    """Every layer's kernel bank, by module path."""
    return {{name: kernel_bank(name) for name in LAYERS}}


def bias(name_or_index=0):
    """The layer's bias (or None)."""
    return _layer(name_or_index)["bias"]


def conv_options(name_or_index=0):
    """stride, padding, dilation, groups and padding_mode of the layer (as nn.ConvNd)."""
    return dict(_layer(name_or_index)["conv"])
'''


def _source(fn: Callable[..., Any]) -> str:
    return textwrap.dedent(inspect.getsource(fn))


def _torch_path(fn: Any) -> str | None:
    for module_name in _TORCH_MODULES:
        module = importlib.import_module(module_name)
        for attr in dir(module):
            if not attr.startswith("_") and getattr(module, attr, None) is fn:
                return f"{module_name}.{attr}"
    return None


class _Writer:
    def __init__(self) -> None:
        self.helpers: list[str] = []
        self.defined: set[str] = set()
        self.inlined: set[tuple[Callable[..., Any], ...]] = set()
        self.kernels: dict[str, str] = {}  # fingerprint-ish key -> function name
        self.bodies: list[str] = []

    def helper(self, fn: Any, alias: str, family: str) -> None:
        if alias in self.defined:
            return
        self.defined.add(alias)
        if fn in _INLINE:
            prelude, sources, name = _INLINE[fn]
            if sources not in self.inlined:
                self.inlined.add(sources)
                self.defined.update(s.__name__ for s in sources)
                self.helpers.append(prelude + "\n\n".join(_source(s) for s in sources))
            if alias != name:
                self.helpers.append(f"{alias} = {name}")
            return
        path = _torch_path(fn)
        if path is None:
            rows = table_rows.active_table().rows.values()
            row = next((r for r in rows if r.loaded and r.implementation is fn), None)
            who = f"function {row.name!r} from {row.provider}" if row else f"{fn!r}"
            raise ExportError(
                f"family {family!r} uses the {who}, whose implementation is not a torch "
                "function and cannot be inlined into a standalone module; export JSON instead "
                "(to_json), or keep aclcore and the plugin installed")
        self.helpers.append(f"{alias} = {path}")

    def kernel(self, family: Any) -> str:
        compiled = compile_family(family)
        key = compiled.source
        if key in self.kernels:
            return self.kernels[key]
        name = f"_kernel_{len(self.kernels)}_{family.name}"
        source = re.sub(r"^def kernel_\w+\(", f"def {name}(", compiled.source, count=1)
        called = set(re.findall(r"\b_f_\w+\b", source))
        called |= {h for h in codegen.HELPERS if re.search(rf"\b{h}\b", source)}
        for var in sorted(called):
            self.helper(compiled.function.__globals__[var], var, family.name)
        self.kernels[key] = name
        self.bodies.append(source)
        return name


def _literal(t: torch.Tensor) -> str:
    t = t.detach().to("cpu")
    if not bool(torch.isfinite(t).all()):
        raise ExportError("a tensor holds NaN or infinite values; fix the model before exporting")
    dtype = str(t.dtype).removeprefix("torch.")
    values = t.double().flatten().tolist()
    lines = [", ".join(repr(v) for v in values[i:i + 6]) for i in range(0, len(values), 6)]
    body = ",\n    ".join(lines)
    return f"_t(torch.{dtype}, {list(t.shape)!r}, [\n    {body}])"


def _layer_entry(w: _Writer, layer: AnalyticConvNd) -> list[str]:
    dtype = str(layer._like().dtype).removeprefix("torch.")
    padding = layer.padding if isinstance(layer.padding, str) else tuple(layer.padding)
    lines = ["{", f"    'class': {type(layer).__name__!r},",
             f"    'kernel_size': {tuple(layer.kernel_size)!r},",
             f"    'dilation': {tuple(layer.dilation)!r},",
             f"    'discretization': {layer.discretization!r},",
             f"    'quadrature': {layer.quadrature!r},", f"    'dtype': torch.{dtype},",
             f"    'in_per_group': {layer.in_per_group!r},",
             f"    'conv': {{'stride': {tuple(layer.stride)!r}, 'padding': {padding!r}, "
             f"'dilation': {tuple(layer.dilation)!r}, 'groups': {layer.groups!r}, "
             f"'padding_mode': {layer.padding_mode!r}}},",
             "    'blocks': ["]
    free_start = 0
    for b in layer.mosaic:
        if b.family is None:
            assert layer.free_weight is not None
            weight = layer.free_weight[free_start:free_start + b.count]
            free_start += b.count
            lines.append(f"        {{'kind': 'free', 'weight': {_literal(weight)}}},")
            continue
        block = layer.analytic[b.name]
        with torch.no_grad():
            values = block.values()
            gains = block.gains()
        akps = ", ".join(f"{n!r}: {_literal(values[n])}" for n in b.family.param_names)
        gain = "None" if gains is None else _literal(gains)
        lines += [f"        {{'kind': 'analytic', 'family': {b.name!r}, "
                  f"'kernel': {w.kernel(b.family)}, 'count': {b.count!r},",
                  f"         'normalize': {layer.normalize_modes[b.name]!r},",
                  f"         'akps': {{{akps}}},", f"         'gain': {gain}}},"]
    bias = "None" if layer.bias is None else _literal(layer.bias)
    lines += ["    ],", f"    'bias': {bias},", "}"]
    return lines


def to_python(obj: object) -> str:
    """Source of a standalone module regenerating the kernel banks (see ``aclcore.export``)."""
    root, layers = analytic_layers(obj)
    w = _Writer()
    for alias, fn in (("_anchor", compiler._anchor), ("broadcast_shape", gridops.broadcast_shape),
                      ("_finish", compiler._finish), ("linear_features", gridops.linear_features),
                      ("_exact_matmul", gridops._exact_matmul),
                      ("_lead_weights", gridops._lead_weights),
                      ("linear_form", gridops.linear_form), ("is_wide", gridops.is_wide)):
        w.helpers.append(_source(fn))
        w.defined.add(alias)
    w.helpers.append(f"WIDE_BANK = {gridops.WIDE_BANK!r}")
    w.helpers.append(_source(safe.safe_guard) + "\n_guard = safe_guard")
    entries = []
    for path, layer in layers:
        entry = _layer_entry(w, layer)
        entries.append(f"LAYERS[{path!r}] = " + "\n".join(entry))
    names = ", ".join(repr(p) for p, _ in layers)
    header = f'''"""Kernel banks of {len(layers)} analytic layer(s) ({names}), exported by aclcore \
{__version__}.

Standalone: needs only torch, numpy and math. ``kernel_bank(name_or_index)`` returns the bank
``(out_channels, in_channels // groups, *kernel_size)`` of a layer (equal to its ``weight``),
``kernel_banks()`` all of them, ``bias(...)`` and ``conv_options(...)`` the rest of what
``F.conv{{1,2,3}}d`` needs. AKP values are stored constrained (as the formulas use them).
Generated code: do not edit.
"""
# ruff: noqa
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch


def _t(dtype, shape, values):
    return torch.tensor(values, dtype=torch.float64).to(dtype).reshape(shape)
'''
    runtime = _RUNTIME.format(norm_eps=NORM_EPS)
    parts = [header, *w.helpers, *w.bodies, runtime, "LAYERS = {}", *entries]
    if root == "layer":
        parts.append("# exported from a single layer: its module path is ''")
    return "\n\n".join(p.rstrip() + "\n" for p in parts)
