"""Runtime of the generated kernel code's linear forms (see :mod:`aclcore.compile.linear`).

A linear form ``sum_i c_i * m_i`` has coefficients ``c_i`` of the parameters only (shaped
like the kernel bank's leading dimensions, with size 1 along the kernel axes) and features
``m_i`` of the coordinates only (shaped like the tap grid). :func:`linear_features` stacks
the features once per tap grid (the generated code computes it with the other grid-only
values, which :mod:`aclcore.compile.gridcache` keeps); :func:`linear_form` then evaluates the
whole form as one matrix product ``(bank, T) @ (T, taps)``: one pass over the bank instead
of a multiply and an add per term, and a backward pass that is one more matrix product.
Inputs that do not have that layout (parameters that vary along the kernel axes, scalar
coordinates) get the plain sum of products, with the same value.

The exported Python module (:mod:`aclcore.export.python`) inlines these functions, so they
use torch and the builtins only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

__all__ = ["WIDE_BANK", "broadcast_shape", "is_wide", "linear_features", "linear_form"]

#: Bank size (elements, taps times kernels) from which the generated code takes its body for
#: large banks (linear forms: fewer passes over the bank) rather than the one as written
#: (fewer, smaller operations). Measured on the classic families (2-core CPU, torch 2.13):
#: the two cost the same between ~10 000 and ~25 000 elements.
WIDE_BANK = 16384


def broadcast_shape(*shapes: Sequence[int]) -> tuple[int, ...] | None:
    """The broadcast of ``shapes``, or None where they do not broadcast.

    Plain Python: ``torch.broadcast_shapes`` costs ~30 us per call, on every kernel sampling.
    """
    ndim = 0
    for shape in shapes:  # plain loops: torch.compile traces this function too
        ndim = max(ndim, len(shape))
    out = [1] * ndim
    for shape in shapes:
        offset = ndim - len(shape)
        for i, size in enumerate(shape):
            if size != 1:
                if out[offset + i] == 1:
                    out[offset + i] = size
                elif out[offset + i] != size:
                    return None
    return tuple(out)


def is_wide(coords: Sequence[torch.Tensor], params: Mapping[str, torch.Tensor]) -> bool:
    """Whether the bank of these inputs (their broadcast) has at least :data:`WIDE_BANK`
    elements."""
    shape = broadcast_shape(*(t.shape for t in coords), *(t.shape for t in params.values()))
    size = 1
    for n in shape or ():
        size *= n
    return size >= WIDE_BANK


def linear_features(
    *features: torch.Tensor | None,
) -> tuple[torch.Tensor, tuple[int, ...]]:
    """Stack grid features (``None``: the constant 1) into a ``(T, taps)`` matrix.

    Returns the matrix and the broadcast shape of the features (the grid shape the form
    varies over), which :func:`linear_form` restores.
    """
    tensors = [f for f in features if f is not None]
    shape = broadcast_shape(*(t.shape for t in tensors))
    if shape is None:  # torch's error names the shapes
        shape = tuple(torch.broadcast_shapes(*(t.shape for t in tensors)))  # type: ignore[no-untyped-call]
    dtype = tensors[0].dtype
    for t in tensors[1:]:
        dtype = torch.promote_types(dtype, t.dtype)
    device = tensors[0].device
    rows = [
        torch.ones(shape, dtype=dtype, device=device) if f is None else f.to(dtype).expand(shape)
        for f in features
    ]
    return torch.stack(rows).reshape(len(rows), -1), shape


def _exact_matmul(matrix: torch.Tensor) -> bool:
    """Whether a float32 matrix product runs in float32 (not TF32 or bfloat16, which
    ``torch.set_float32_matmul_precision("high")`` allows): only then is it the sum of
    products it stands for, to rounding."""
    if matrix.dtype != torch.float32:
        return True
    if torch.get_float32_matmul_precision() != "highest":
        return False
    return not (matrix.is_cuda and torch.backends.cuda.matmul.allow_tf32)


def _lead_weights(coefficients: Sequence[torch.Tensor], nf: int
                  ) -> tuple[tuple[int, ...] | None, torch.Tensor]:
    """Coefficients of different shapes broadcast and stacked along a last axis: ``(lead,
    weights)``; ``lead`` None where one varies along the grid or they do not broadcast."""
    leads: list[tuple[int, ...]] = []
    for c in coefficients:
        kept = max(c.dim() - nf, 0)
        if c.shape[kept:].numel() != 1:
            return None, coefficients[0]
        leads.append(tuple(c.shape[:kept]))
    lead = broadcast_shape(*leads)
    if lead is None:
        return None, coefficients[0]
    dtype = coefficients[0].dtype
    for c in coefficients[1:]:
        dtype = torch.promote_types(dtype, c.dtype)
    rows = [c.reshape(s).expand(lead).to(dtype)
            for c, s in zip(coefficients, leads, strict=True)]
    return lead, torch.stack(rows, dim=-1)


def linear_form(
    coefficients: Sequence[torch.Tensor],
    features: Sequence[torch.Tensor | None],
    stacked: tuple[torch.Tensor, tuple[int, ...]],
) -> torch.Tensor:
    """``sum(c * m for c, m in zip(coefficients, features))`` (``m`` None: the constant 1).

    ``stacked`` is :func:`linear_features` of ``features``. When every coefficient has size
    1 along the grid's dimensions the sum is one matrix product; otherwise (and where float32
    matrix products may round to TF32 or bfloat16) the terms are multiplied and added one by
    one.
    """
    matrix, shape = stacked
    nf = len(shape)
    if matrix.shape[1] > 1 and _exact_matmul(matrix):  # several taps: one matrix product
        first = coefficients[0]
        kept = max(first.dim() - nf, 0)
        if all(c.shape == first.shape for c in coefficients) and first.shape[kept:].numel() == 1:
            # the common case: coefficients of one shape, size 1 along the grid
            lead: tuple[int, ...] | None = tuple(first.shape[:kept])
            # one coefficient needs no stack (a copy and an autograd node fewer)
            weights = first if len(coefficients) == 1 else torch.stack(list(coefficients), -1)
        else:
            lead, weights = _lead_weights(coefficients, nf)
        if lead is not None:
            if weights.dtype != matrix.dtype:
                dtype = torch.promote_types(weights.dtype, matrix.dtype)
                weights, matrix = weights.to(dtype), matrix.to(dtype)
            # a 2-D product: ``@`` of a batch of matrices adds two reshapes and their nodes
            flat = torch.mm(weights.reshape(-1, len(coefficients)), matrix)
            return flat.reshape(*lead, *shape)
    total: torch.Tensor | None = None
    for c, m in zip(coefficients, features, strict=True):
        term = c if m is None else c * m
        total = term if total is None else total + term
    assert total is not None
    return total
