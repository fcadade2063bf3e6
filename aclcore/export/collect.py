"""What an export describes: the analytic layers of a model and the formula of every kernel.

Private helper of :mod:`aclcore.export`. :func:`collect` walks a layer, a model, the result of
:func:`aclcore.export.from_json` or a :class:`~aclcore.export.containers.Checkpoint`, and
returns one :class:`LayerFormulas` per analytic layer: the layer's constructor configuration, each
family's symbolic form with its provenance, and one :class:`KernelFormula` per analytic
kernel.

A kernel's formula is ``gain * scale * (f + offset)`` with the learned (constrained) AKPs
substituted (see :mod:`aclcore.nn.introspect`). Where the compiler substitutes the limit of a
removable singularity (e.g. ``sin(a r)/r`` at the centre tap), the exported formula states it
explicitly as ``Piecewise((limit, Eq(x, 0) & Eq(y, 0)), (f, True))``, so that evaluating the
formula anywhere (SymPy, mpmath) gives the layer's value.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import sympy as sp
from torch import nn

from aclcore.compile.compiler import compile_family
from aclcore.errors import AclError, ExportError, ParseError
from aclcore.export.containers import Checkpoint
from aclcore.nn.grid import gauss_legendre
from aclcore.nn.introspect import AnalyticKernel
from aclcore.nn.layers import AnalyticConvNd
from aclcore.nn.state import family_fingerprint, provenance
from aclcore.symbolic.constraints import Angle
from aclcore.symbolic.family import KernelFamily
from aclcore.symbolic.functions import complete_table
from aclcore.symbolic.parse import DEFAULT_FUNCTIONS, formula_to_string

__all__ = [
    "FamilyInfo",
    "KernelFormula",
    "LayerFormulas",
    "collect",
    "formula_text",
    "functions_for",
    "layer_config",
]

Singularity = tuple[tuple[str, ...], sp.Expr]


def functions_for(expr: sp.Basic) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """The parser's function names for ``expr`` and the plugin functions it uses.

    The names are the built-ins plus exactly the plugin functions ``expr`` calls, so that a
    document lists what a reader must have installed.
    """
    rows = complete_table().plugin_rows(expr)
    table: dict[str, Any] = dict(DEFAULT_FUNCTIONS)
    table.update({row.name: row.sympy for row in rows})
    return table, [{"name": row.name, "provider": row.provider} for row in rows]


def formula_text(expr: sp.Basic, where: str) -> str:
    """``formula_to_string(expr)`` with the plugin functions it uses; ExportError otherwise."""
    table, _ = functions_for(expr)
    try:
        return formula_to_string(expr, functions=table)
    except ParseError as err:
        raise ExportError(f"{where}: the formula cannot be written in the formula grammar: "
                          f"{err}") from err


def singularities(family: KernelFamily) -> tuple[Singularity, ...]:
    """(coordinates, limit) where the compiler substitutes a removable singularity's limit."""
    compiled = compile_family(family)
    return tuple(zip(compiled.singular_sets, compiled.singular_limits, strict=True))


def explicit_expr(family: KernelFamily) -> sp.Expr:
    """The family's formula with its removable singularities written as Piecewise branches."""
    return compile_family(family).explicit_expr


@dataclass(frozen=True)
class FamilyInfo:
    """A family as used by one layer.

    Attributes:
        family: the :class:`~aclcore.symbolic.family.KernelFamily` (its symbolic form is
            ``family.sympy_expr``).
        start, count: the layer's output channels ``[start, start + count)`` using it.
        normalize: the normalisation the layer applies to its kernels.
        provenance: ``provider``, ``distribution`` and ``version`` (``None`` when unknown).
        fingerprint: a hash of the formula, coordinates and AKPs (names and constraints).
        singularities: ``(coordinates, limit)`` pairs where the limit is substituted.
    """

    family: KernelFamily
    start: int
    count: int
    normalize: str
    provenance: dict[str, str | None]
    fingerprint: str
    singularities: tuple[Singularity, ...] = ()

    @property
    def name(self) -> str:
        """The family's name."""
        return self.family.name

    @property
    def explicit_expr(self) -> sp.Expr:
        """The formula with removable singularities as explicit Piecewise branches."""
        return explicit_expr(self.family)


@dataclass(frozen=True)
class KernelFormula:
    """One analytic kernel: learned values and its formula.

    Attributes:
        out_channel, in_channel: the kernel's index in ``layer.weight``.
        family: the family name.
        akps: constrained AKP values as learned (the formula uses these).
        wrapped: the angle AKPs wrapped into ``[0, 2 pi)`` (reported in tables).
        gain, scale, offset: ``w = gain * scale * (f + offset)``.
        formula: the kernel as a SymPy expression of the coordinates only (computed on
            first access: substituting numbers into SymPy takes milliseconds per kernel).
    """

    out_channel: int
    in_channel: int
    family: str
    akps: dict[str, float]
    wrapped: dict[str, float]
    gain: float
    scale: float
    offset: float
    _record: AnalyticKernel = field(repr=False, compare=False)

    @functools.cached_property
    def formula(self) -> sp.Expr:
        """``gain * scale * (f + offset)`` with the AKPs substituted (see the class doc)."""
        return self._record.formula()


@dataclass(frozen=True)
class LayerFormulas:
    """The export of one analytic layer.

    Attributes:
        path: the module path in the model (``""`` for a layer exported on its own).
        layer: the layer itself.
        config: its constructor configuration as plain values (see ``docs/export.md``).
        families: the families of its mosaic, in order.
        kernels: every analytic kernel, by output then input channel.
        statement: how the formulas give ``layer.weight`` (grid and discretisation).
    """

    path: str
    layer: AnalyticConvNd
    config: dict[str, Any]
    families: tuple[FamilyInfo, ...]
    kernels: tuple[KernelFormula, ...]
    statement: str
    quadrature_rule: tuple[list[float], list[float]] | None = field(default=None)

    @property
    def class_name(self) -> str:
        """``AnalyticConv1d``, ``AnalyticConv2d`` or ``AnalyticConv3d``."""
        return type(self.layer).__name__

    def matrix(self) -> list[list[sp.Expr | None]]:
        """Formulas indexed ``[out_channel][in_channel]``; ``None`` for free kernels."""
        table: list[list[sp.Expr | None]] = [
            [None] * self.layer.in_per_group for _ in range(self.layer.out_channels)
        ]
        for k in self.kernels:
            table[k.out_channel][k.in_channel] = k.formula
        return table


def dtype_name(layer: AnalyticConvNd) -> str:
    """The name of the layer's parameter dtype (``"float32"`` ...)."""
    return str(layer._like().dtype).removeprefix("torch.")


def layer_config(layer: AnalyticConvNd) -> dict[str, Any]:
    """The layer's constructor arguments as plain values (what the JSON format stores): the
    recorded options of :data:`aclcore.nn.config.CONFIG_FIELDS` plus bias, dtype, the finite
    check, the mosaic and the normalisations."""
    return {
        **layer.config.options(),
        "bias": layer.bias is not None,
        "dtype": dtype_name(layer),
        "check_finite": layer.check_finite,
        "mosaic": [{"family": b.name, "count": b.count} for b in layer.mosaic],
        "normalize": dict(layer.normalize_modes),
    }


def statement(layer: AnalyticConvNd) -> str:
    """How each weight follows from its kernel's formula (grid convention, discretisation)."""
    nd = len(layer.kernel_size)
    axes = ["x = (column - (kW - 1)/2) * dilation_W (to the right)",
            "y = ((kH - 1)/2 - row) * dilation_H (upwards)",
            "z = (depth - (kD - 1)/2) * dilation_D"][:nd]
    grid = "; ".join(axes)
    if layer.discretization == "sample":
        return (f"weight[out, in, tap] = w(tap): the formula sampled at the tap centre, {grid}.")
    names = "xyz"[:nd]
    shifted = ", ".join(f"{c}_tap + t_{c}" for c in names)
    return (
        f"weight[out, in, tap] = sum over the {layer.quadrature}-point Gauss-Legendre nodes "
        f"t_c (in [-1/2, 1/2], weights summing to 1) along each axis of "
        f"prod(weights) * w({shifted}): the rule's value of the mean of the formula over the "
        f"tap's 1-pixel cell, with tap centres {grid}."
    )


def _provenance(layer: AnalyticConvNd, family: KernelFamily) -> dict[str, str | None]:
    known = dict(layer._provenance.get(family.name, {}))
    if known.get("provider"):
        return {k: known.get(k) for k in ("provider", "distribution", "version")}
    try:
        return provenance(family, look_up=True)
    except AclError:  # a broken plugin setup must not prevent an export
        return {"provider": None, "distribution": None, "version": None}


def _kernel(record: AnalyticKernel, info: FamilyInfo) -> KernelFormula:
    wrapped = {p.name: Angle.wrap(record.akps[p.name]) for p in info.family.params
               if isinstance(p.constraint_obj, Angle)}
    return KernelFormula(record.out_channel, record.in_channel, info.name, dict(record.akps),
                         wrapped, record.gain, record.scale, record.offset, record)


def layer_formulas(path: str, layer: AnalyticConvNd) -> LayerFormulas:
    """The :class:`LayerFormulas` of one layer."""
    infos: dict[str, FamilyInfo] = {}
    for b in layer.mosaic:
        if b.family is None:
            continue
        infos[b.name] = FamilyInfo(
            b.family, b.start, b.count, layer.normalize_modes[b.name],
            _provenance(layer, b.family), family_fingerprint(b.family),
            singularities(b.family),
        )
    kernels = tuple(_kernel(r, infos[r.family.name]) for r in layer.analytic_kernels())
    rule = None
    if layer.discretization == "integrate":
        nodes, weights = gauss_legendre(layer.quadrature)
        rule = ([float(v) for v in nodes], [float(v) for v in weights])
    return LayerFormulas(path, layer, layer_config(layer), tuple(infos.values()), kernels,
                         statement(layer), rule)


def analytic_layers(obj: object) -> tuple[str, list[tuple[str, AnalyticConvNd]]]:
    """``("layer" | "model", [(path, layer), ...])`` for what the export functions accept."""
    if isinstance(obj, Checkpoint):
        obj = obj.module
    if isinstance(obj, AnalyticConvNd):
        return "layer", [("", obj)]
    if isinstance(obj, nn.Module):
        found: list[tuple[str, AnalyticConvNd]] = []
        for name, module in obj.named_modules():
            if isinstance(module, AnalyticConvNd):
                found.append((name, module))
        if not found:
            raise ExportError(
                f"{type(obj).__name__} has no analytic layer (AnalyticConv1d/2d/3d) to export"
            )
        return "model", found
    if isinstance(obj, Mapping) and obj and all(
            isinstance(k, str) and isinstance(v, AnalyticConvNd) for k, v in obj.items()):
        return "model", list(obj.items())
    raise ExportError(
        f"cannot export {type(obj).__name__}: pass an analytic layer, a model (nn.Module) "
        "containing analytic layers, the result of from_json, or a Checkpoint"
    )


def collect(obj: object) -> tuple[str, list[LayerFormulas]]:
    """``(root kind, one LayerFormulas per analytic layer)`` of a layer or model."""
    root, layers = analytic_layers(obj)
    return root, [layer_formulas(path, layer) for path, layer in layers]
