"""Rebuilding an analytic layer from a validated configuration, the same way for every source.

Private helper of :mod:`aclcore.export`: the JSON reader (:mod:`.json_read`) and the state-dict
reader (:mod:`.state_dict`) both read the recorded options with :func:`read_options` (driven
by the one schema :data:`aclcore.nn.config.CONFIG_FIELDS`), bound the work with
:func:`check_sizes`, and construct the layer with :func:`build_layer`: on the ``meta`` device
first (nothing allocated, no random numbers drawn), then allocated and filled once the
document's tensors match the layer's parameters.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import torch

from aclcore.errors import AclError, ExportError, NonFiniteKernelError
from aclcore.export.schema import DTYPES, Reader
from aclcore.nn.config import CONFIG_FIELDS, OPTIONAL_FIELDS
from aclcore.nn.grid import MAX_QUADRATURE
from aclcore.nn.layers import AnalyticConv1d, AnalyticConv2d, AnalyticConv3d, AnalyticConvNd
from aclcore.symbolic.budget import Overtime, WorkBudget
from aclcore.symbolic.family import KernelFamily

__all__ = ["CLASSES", "bounded", "build_layer", "check_sizes", "read_options"]

CLASSES: dict[str, type[AnalyticConvNd]] = {
    "AnalyticConv1d": AnalyticConv1d, "AnalyticConv2d": AnalyticConv2d,
    "AnalyticConv3d": AnalyticConv3d,
}


def read_options(r: Reader, record: Mapping[str, Any], path: str, ndim: int,
                 defaults: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The :data:`~aclcore.nn.config.CONFIG_FIELDS` of ``record``, each checked for its kind
    and the reader's limits; a field missing from ``record`` takes its value in ``defaults``
    or :data:`~aclcore.nn.config.OPTIONAL_FIELDS` (older layer states and documents) or is
    an error naming it."""
    lim = r.limits
    out: dict[str, Any] = {}
    known = {**OPTIONAL_FIELDS, **(defaults or {})}
    for name, kind in CONFIG_FIELDS:
        where = f"{path}.{name}"
        if name not in record and name in known:
            value = known[name]
        elif name not in record:
            r.fail(path, f"missing key {name!r}")
        else:
            value = record[name]
        if kind == "count":
            out[name] = r.integer(value, where, 1, lim.max_channels)
        elif kind == "sizes":
            out[name] = tuple(r.ints(value, where, ndim, 1, lim.max_kernel_size))
        elif kind == "padding":
            out[name] = (r.string(value, where, choices=("same", "valid"))
                         if isinstance(value, str) else
                         tuple(r.ints(value, where, ndim, 0, lim.max_kernel_size)))
        elif kind == "quadrature":
            out[name] = r.integer(value, where, 1, MAX_QUADRATURE)
        elif kind == "bool":
            out[name] = r.boolean(value, where)
        elif kind == "rank":
            out[name] = None if value is None else r.integer(value, where, 1, lim.max_channels)
        else:
            out[name] = r.string(value, where, choices=kind)
    return out


def check_sizes(r: Reader, cfg: Mapping[str, Any], path: str) -> None:
    """Reject configurations whose kernel bank would exceed the limits (before allocating),
    alone or together with the layers of the same document read before it."""
    lim = r.limits
    ipg = max(1, cfg["in_channels"] // cfg["groups"])
    taps = math.prod(cfg["kernel_size"])
    bank = cfg["out_channels"] * ipg * taps
    if bank > lim.max_bank_elements:
        r.fail(path, f"the kernel bank would have {bank} elements (the limit is "
                     f"{lim.max_bank_elements})")
    r.bank_elements += bank
    if r.bank_elements > lim.max_total_bank_elements:
        r.fail(path, f"the kernel banks of the layers so far would have {r.bank_elements} "
                     f"elements together (the limit is {lim.max_total_bank_elements})")
    nodes = cfg["quadrature"] ** len(cfg["kernel_size"])
    samples = bank * (nodes if cfg["discretization"] == "integrate" else 1)
    if samples > lim.max_samples:
        r.fail(path, f"sampling the bank takes {samples} formula evaluations (the limit is "
                     f"{lim.max_samples})")


def build_layer(cls: type[AnalyticConvNd], cfg: Mapping[str, Any],
                families: Mapping[str, KernelFamily], tensors: Mapping[str, torch.Tensor],
                path: str) -> AnalyticConvNd:
    """Construct on ``meta``, check the tensors' names and shapes, then allocate and fill."""
    spec: dict[str | KernelFamily, int] = {}
    for name, count in cfg["mosaic"]:
        spec[families[name] if name != "free" else "free"] = count
    try:
        layer = cls(
            cfg["in_channels"], cfg["out_channels"], cfg["kernel_size"], stride=cfg["stride"],
            padding=cfg["padding"], dilation=cfg["dilation"], groups=cfg["groups"],
            bias=cfg["bias"], padding_mode=cfg["padding_mode"], device="meta",
            dtype=DTYPES[cfg["dtype"]], families=spec, discretization=cfg["discretization"],
            quadrature=cfg["quadrature"], normalize=dict(cfg["normalize"]) or None,
            share_akps=cfg["share_akps"], gain=cfg["gain"], gain_rank=cfg["gain_rank"],
            check_finite=cfg["check_finite"],
        )
    except AclError as err:
        raise ExportError(f"{path}: {err}") from err
    expected = {k: v for k, v in layer.state_dict().items() if isinstance(v, torch.Tensor)}
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    if missing or extra:
        raise ExportError(f"{path}: tensors do not match the configuration: missing "
                          f"{missing}, unexpected {extra}")
    for name, t in tensors.items():
        if tuple(t.shape) != tuple(expected[name].shape) or t.dtype != expected[name].dtype:
            raise ExportError(
                f"{path}.{name}: shape {tuple(t.shape)} {t.dtype} does not match the "
                f"configuration ({tuple(expected[name].shape)} {expected[name].dtype})")
    layer = layer.to_empty(device="cpu")
    with torch.no_grad():
        for name, target in layer.state_dict(keep_vars=True).items():
            if isinstance(target, torch.Tensor):
                target.copy_(tensors[name])
    layer.clear_cache()
    try:
        with torch.no_grad():  # computed once: non-finite kernels fail here, not later
            finite = bool(torch.isfinite(layer.weight).all())
    except NonFiniteKernelError as err:
        raise ExportError(f"{path}: the stored AKPs give a non-finite kernel: {err}") from err
    if not finite:
        raise ExportError(f"{path}: the kernel bank is not finite (gains or weights overflow "
                          f"{cfg['dtype']})")
    return layer


@contextmanager
def bounded(r: Reader, what: str) -> Iterator[None]:
    """Run the reading of a whole document (``what``) within ``r.limits.max_work``.

    Raises:
        ExportError: the document needs more work than that (naming the limit), however its
            families split it among themselves.
    """
    budget = WorkBudget(r.limits.max_work)
    try:
        with budget:
            yield
    except Overtime:
        if not budget.exhausted:  # an enclosing budget is used up: not ours to report
            raise
        raise ExportError(
            f"{what} needs more than {r.limits.max_work} calls of SymPy work (parsing its "
            "formulas, finding the limits of its families' removable singularities); it is "
            "refused: simplify its families, or raise ExportLimits(max_work=...) for a "
            "document you trust"
        ) from None
