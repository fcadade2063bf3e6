"""Per-kernel records of an analytic layer, and the SymPy formula of each kernel.

A kernel of an analytic block is ``w = gain * scale * (f(coords; akps) + offset)`` where
``f`` is the family's formula with the kernel's constrained AKPs, ``scale``/``offset`` come
from the normalisation (:func:`aclcore.nn.functional.normalization`) and ``gain`` is the
kernel's learned gain (1 without gains). With ``discretization="sample"`` the weight at a
tap is ``w`` at the tap's coordinates; with ``"integrate"`` it is the mean of ``w`` over the
tap's cell (the Gauss-Legendre rule with ``quadrature`` points per axis).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sympy as sp
import torch

from aclcore.compile.compiler import compile_family
from aclcore.nn.blocks import AnalyticBlock
from aclcore.nn.functional import normalization, sample_kernels
from aclcore.nn.mosaic import MosaicBlock
from aclcore.symbolic.family import KernelFamily, canonical_symbol

__all__ = ["AnalyticKernel", "kernel_records"]


@dataclass(frozen=True)
class AnalyticKernel:
    """One analytic kernel of a layer, with its learned values as plain floats.

    Attributes:
        out_channel: index along dimension 0 of ``layer.weight``.
        in_channel: index along dimension 1 of ``layer.weight`` (the input channel within
            the output channel's group: input ``group * in_per_group + in_channel``).
        family: the kernel's family.
        akps: constrained AKP values by name (angles as learned, not wrapped).
        gain: the kernel's gain (1.0 when the layer has no gains).
        scale, offset: the normalisation, ``w = gain * scale * (f + offset)``.
        discretization: ``"sample"`` or ``"integrate"``.
        normalize: the normalisation that produced ``scale`` and ``offset``.
        quadrature: points per axis of the ``"integrate"`` rule.
    """

    out_channel: int
    in_channel: int
    family: KernelFamily
    akps: dict[str, float]
    gain: float
    scale: float
    offset: float
    discretization: str
    normalize: str
    quadrature: int

    def formula(self) -> sp.Expr:
        """``gain * scale * (f + offset)`` in the family's coordinates only.

        ``f`` is the family's formula as the compiler evaluates it: where it substitutes the
        limit of a removable singularity (e.g. ``sin(r)/r`` at ``r = 0``), ``f`` is a
        Piecewise with that limit, so evaluating the formula on any tap gives the weight.
        """
        subs = {canonical_symbol(k): sp.Float(v) for k, v in self.akps.items()}
        expr = compile_family(self.family).explicit_expr.xreplace(subs)
        if self.offset != 0.0:
            expr = expr + sp.Float(self.offset)
        coeff = self.gain * self.scale
        return expr if coeff == 1.0 else sp.Float(coeff) * expr


def kernel_records(
    blocks: Sequence[tuple[MosaicBlock, AnalyticBlock, str]],
    *,
    kernel_size: tuple[int, ...],
    dilation: tuple[int, ...],
    discretization: str,
    quadrature: int,
    in_per_group: int,
    like: torch.Tensor,
) -> list[AnalyticKernel]:
    """Records of every kernel of ``(mosaic block, analytic block, normalize)`` triples.

    ``scale`` and ``offset`` are computed from the unnormalised sampled kernels exactly as
    :func:`~aclcore.nn.functional.sample_kernels` does, so ``formula()`` reproduces the bank.
    """
    records: list[AnalyticKernel] = []
    ipg = in_per_group
    with torch.no_grad():
        for b, block, mode in blocks:
            assert b.family is not None
            values = block.values()
            work = torch.promote_types(like.dtype, torch.float32)  # as sample_kernels works
            raw = sample_kernels(
                block.compiled, {n: v.to(work) for n, v in values.items()}, kernel_size,
                dilation, discretization=discretization, quadrature=quadrature,
                normalize="none", check_finite=False, dtype=work, device=like.device,
            )
            scale, offset = normalization(raw, mode, len(kernel_size))

            def table(t: torch.Tensor, count: int = b.count) -> list[list[float]]:
                t = t.reshape(t.shape[0], t.shape[1]).expand(count, ipg)
                return t.double().tolist()

            akps = {n: table(v) for n, v in values.items()}
            gain = block.gains()
            gains = table(gain) if gain is not None else [[1.0] * ipg] * b.count
            scales, offsets = table(scale), table(offset)
            for o in range(b.count):
                for i in range(ipg):
                    records.append(AnalyticKernel(
                        out_channel=b.start + o, in_channel=i, family=b.family,
                        akps={n: v[o][i] for n, v in akps.items()}, gain=gains[o][i],
                        scale=scales[o][i], offset=offsets[o][i],
                        discretization=discretization, normalize=mode, quadrature=quadrature,
                    ))
    return records
