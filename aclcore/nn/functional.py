"""Pure functions behind the analytic layers: sample a kernel bank, convolve with it.

* :func:`sample_kernels` evaluates a family on the tap grid of :mod:`aclcore.nn.grid` (or
  averages it over each tap's cell), then normalises each kernel.
* :func:`normalization` gives the per-kernel ``scale`` and ``offset`` of a normalisation, so
  that the normalised kernel is ``scale * (kernel + offset)`` (exports substitute them).
* :func:`conv` is ``F.conv{1,2,3}d`` with ``nn.ConvNd``'s padding semantics (every padding
  mode, ``"same"`` and ``"valid"``); :func:`analytic_conv` samples and convolves in one call.

Nothing here holds state; :mod:`aclcore.nn` builds the modules on top.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar, cast

import torch
import torch.nn.functional as F

from aclcore.compile.compiler import CompiledFamily, broadcast_shape, compile_family
from aclcore.errors import ConfigError
from aclcore.nn.grid import cell_quadrature, kernel_grid, normalize_size
from aclcore.symbolic.family import KernelFamily, normalize_problem

_T = TypeVar("_T")

__all__ = [
    "DISCRETIZATIONS",
    "NORM_EPS",
    "PADDING_MODES",
    "analytic_conv",
    "conv",
    "input_covers",
    "norm_floor",
    "normalization",
    "reversed_padding",
    "sample_kernels",
]

#: How a kernel is discretised: the value at the tap centre, or the mean over the tap's cell.
DISCRETIZATIONS = ("sample", "integrate")
#: Padding modes of ``nn.ConvNd``.
PADDING_MODES = ("zeros", "reflect", "replicate", "circular")
#: Floor of the denominators of the ``"sum"`` and ``"l2"`` normalisations (see
#: :func:`normalization`).
NORM_EPS = 1e-12


def norm_floor(dtype: torch.dtype) -> float:
    """The floor of the ``"sum"`` and ``"l2"`` denominators in ``dtype``: :data:`NORM_EPS`, or
    the smallest normal number where that is larger (float16: 1e-12 would round to 0)."""
    return max(NORM_EPS, torch.finfo(dtype).tiny)

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


def _compiled(family: KernelFamily | CompiledFamily) -> CompiledFamily:
    if isinstance(family, CompiledFamily):
        return family
    if isinstance(family, KernelFamily):
        return compile_family(family)
    raise ConfigError(
        f"expected a KernelFamily or a CompiledFamily, got {type(family).__name__}; look a "
        "family up by name with aclcore.get_family(name)"
    )


def normalization(
    kernels: torch.Tensor, mode: str, ndim: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-kernel ``(scale, offset)`` so that the normalised kernel is ``scale*(k + offset)``.

    The reduction runs over the last ``ndim`` (spatial) dimensions; both results keep them
    with size 1, so they broadcast against ``kernels``.

    * ``"none"``: scale 1, offset 0.
    * ``"sum"``: scale ``1 / sum``; a sum with ``|sum| < eps`` is replaced by ``eps`` with
      the sum's sign (``+`` at exactly 0), so the result stays finite. Use it for kernels
      with a clearly non-zero mass (low-pass kernels). ``eps`` is ``NORM_EPS``, or the
      smallest normal number of the dtype where that is larger (float16).
    * ``"zero_mean"``: offset ``-mean``.
    * ``"l2"``: scale ``1 / max(||k||_2, eps)`` (like ``F.normalize``): an all-zero
      kernel stays zero instead of becoming NaN.
    """
    if (problem := normalize_problem(mode)) is not None:
        raise ConfigError(problem)
    dims = tuple(range(kernels.dim() - ndim, kernels.dim()))
    kept = (*kernels.shape[: kernels.dim() - ndim], *([1] * ndim))
    if mode == "zero_mean":
        one = torch.ones((), dtype=kernels.dtype, device=kernels.device)
        return one.expand(kept), -kernels.mean(dim=dims, keepdim=True)
    zero = torch.zeros((), dtype=kernels.dtype, device=kernels.device)
    if mode == "none":
        return torch.ones_like(zero).expand(kept), zero.expand(kept)
    eps = norm_floor(kernels.dtype)
    if mode == "sum":
        total = kernels.sum(dim=dims, keepdim=True)
        # |total| floored at eps, the sign kept (+ at 0): three small operations per bank
        floored = torch.copysign(total.abs().clamp_min(eps), total + 0.0)
        return floored.reciprocal(), zero.expand(kept)
    norm = torch.linalg.vector_norm(kernels, dim=dims, keepdim=True)
    return norm.clamp_min(eps).reciprocal(), zero.expand(kept)


def _check_params(
    compiled: CompiledFamily, params: Mapping[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    fam = compiled.family
    fam.check_param_names(params)
    out = {}
    for name in fam.param_names:
        value = params[name]
        if not isinstance(value, torch.Tensor) or value.dim() != 2:
            shape = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value)
            raise ConfigError(
                f"family {fam.name!r}: AKP {name!r} must be a 2-D tensor shaped "
                f"(count, in_per_group) or (count, 1), got {shape}"
            )
        out[name] = value if value.is_floating_point() else value.to(torch.get_default_dtype())
    return out


_GRIDS: dict[tuple[Any, ...], tuple[Any, tuple[int, ...]]] = {}


def _cached(make: Callable[..., _T], *args: Any, dtype: torch.dtype,
            device: torch.device | str | None, ndim: int) -> _T:
    """``make(*args, ...)`` (tap grids: a dozen small ops), reused for equal arguments.

    Not while ``torch.compile`` traces (it needs its own fake tensors), nor for an unresolved
    device; built outside inference mode so that a grid made under ``inference_mode`` can
    later enter autograd graphs. aclcore never writes into a grid, and plugin functions get
    copies of their arguments; should anything still write into one (its version counter
    moves), the grid is rebuilt instead of served, so no other layer sees the damage.
    """
    if device is None or torch.compiler.is_compiling():
        return make(*args, ndim=ndim, dtype=dtype, device=device)
    key = (make, args, ndim, dtype, torch.device(device))
    entry = _GRIDS.get(key)
    if entry is not None and _versions(entry[0]) == entry[1]:
        return cast(_T, entry[0])
    with torch.inference_mode(False):
        hit = make(*args, ndim=ndim, dtype=dtype, device=device)
    if len(_GRIDS) >= 256:
        _GRIDS.clear()
    _GRIDS[key] = (hit, _versions(hit))
    return hit


def _versions(grid: Any) -> tuple[int, ...]:
    """The version counters of the tensors of a cached grid (they move on in-place writes)."""
    if isinstance(grid, torch.Tensor):
        return (grid._version,)
    return tuple(v for item in grid for v in _versions(item))


def sample_kernels(
    family: KernelFamily | CompiledFamily,
    params: Mapping[str, torch.Tensor],
    kernel_size: int | Sequence[int],
    dilation: int | Sequence[int] = 1,
    *,
    discretization: str = "sample",
    quadrature: int = 4,
    normalize: str | None = None,
    check_finite: bool = True,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Sample a bank of kernels of one family on the tap grid.

    Args:
        family: the family (compiled on first use, cached) or an already compiled family.
        params: the *constrained* AKP values by name, each shaped ``(count, in_per_group)``
            or ``(count, 1)`` (broadcast together).
        kernel_size: spatial size in torch order (``(kW,)``, ``(kH, kW)``, ``(kD, kH, kW)``)
            or one int for every axis.
        dilation: spacing of the taps in pixels (the grid offsets are multiplied by it).
        discretization: ``"sample"``: the formula's value at each tap centre;
            ``"integrate"``: its mean over the tap's cell (1 pixel wide along every axis,
            centred on the tap, independent of the dilation), by a tensor-product
            Gauss-Legendre rule with ``quadrature`` points per axis.
        quadrature: points per axis of the ``"integrate"`` rule (default 4; an even count
            never samples the cell centre).
        normalize: ``"none"``, ``"sum"``, ``"zero_mean"``, ``"l2"`` (see
            :func:`normalization`), or ``None`` for the family's own ``normalize``.
        check_finite: raise :class:`~aclcore.errors.NonFiniteKernelError` (naming the
            family, the tap and the AKPs) where the formula is NaN or infinite.
        dtype, device: of the result when the family has no AKPs (otherwise the AKPs').

    Returns:
        Tensor ``(count, n, *kernel_size)`` where ``(count, n)`` is the broadcast shape of the
        AKPs (``(1, 1)`` for a family without AKPs), in the AKPs' dtype and device, inside the
        autograd graph of the AKPs. Half-precision AKPs (float16, bfloat16) are evaluated,
        normalised and differentiated in float32; only the result is rounded.
    """
    compiled = _compiled(family)
    fam = compiled.family
    size = normalize_size(kernel_size, fam.ndim)
    dil = normalize_size(dilation, fam.ndim, "dilation")
    mode = fam.normalize if normalize is None else normalize
    if discretization not in DISCRETIZATIONS:
        raise ConfigError(
            f"discretization={discretization!r} is unknown: use 'sample' or 'integrate'"
        )
    values = _check_params(compiled, params)
    ref = next(iter(values.values()), None)
    if ref is not None:
        dtype, device = ref.dtype, ref.device
    out_dtype = dtype or torch.get_default_dtype()
    # half precision is evaluated in float32 (cheap next to the convolution): 1/sigma**2 of a
    # small scale overflows float16, and exp(-inf) = 0 has the gradient 0 * inf = NaN
    dtype = torch.promote_types(out_dtype, torch.float32)
    if dtype != out_dtype:
        values = {n: v.to(dtype) for n, v in values.items()}
    lead = broadcast_shape((1, 1), *(v.shape for v in values.values()))
    if lead is None:
        shapes = ", ".join(f"{n}={tuple(v.shape)}" for n, v in values.items())
        raise ConfigError(
            f"family {fam.name!r}: the AKP shapes {shapes} do not broadcast; give each AKP "
            "the shape (count, in_per_group) or (count, 1)"
        )
    nd = fam.ndim
    # a normalised bank is checked on the normalisation's per-kernel reduction (non-finite
    # wherever the bank is) instead of a pass over the bank
    check_now = check_finite and mode == "none"
    if discretization == "sample":
        coords = _cached(kernel_grid, size, dil, ndim=nd, dtype=dtype, device=device)
        ps = {n: v.reshape(*v.shape, *([1] * nd)) for n, v in values.items()}
        kernels = compiled.evaluate(coords, ps, check_finite=check_now)
    else:
        coords, weights = _cached(cell_quadrature, size, dil, quadrature, ndim=nd, dtype=dtype,
                                          device=device)
        ps = {n: v.reshape(*v.shape, *([1] * (2 * nd))) for n, v in values.items()}
        dense = compiled.evaluate(coords, ps, check_finite=check_finite)  # before the mean
        kernels = (dense * weights).sum(dim=tuple(range(-nd, 0)))
    kernels = kernels.expand(*lead, *size) if kernels.shape != (*lead, *size) else kernels
    if mode != "none":
        check = check_finite and discretization == "sample"
        fast = _normalized(kernels, mode, nd) if check and not torch.compiler.is_compiling() \
            else None
        if fast is not None:
            kernels = fast
        else:
            scale, offset = normalization(kernels, mode, nd)
            if check:
                # 1/scale is the (floored) sum or norm: inf or NaN where the kernel is
                reduced = offset if mode == "zero_mean" else scale.reciprocal()
                compiled.check_finite(kernels, coords, ps, reduced=reduced)
            # the same values as (kernels + offset) * scale, without a pass over the bank
            # for the unit scale of "zero_mean" or the zero offset of "sum" and "l2"
            kernels = kernels + offset if mode == "zero_mean" else kernels * scale
    return kernels if kernels.dtype == out_dtype else kernels.to(out_dtype)


def _normalized(kernels: torch.Tensor, mode: str, ndim: int) -> torch.Tensor | None:
    """:func:`normalization` applied, in fewer operations, where its reduction is finite and
    (``"sum"``, ``"l2"``) at least ``eps`` in magnitude for every kernel, which one look at
    the reduction's extremes tells: the floor is then inactive and the result is bitwise the
    same. ``None`` otherwise (a non-finite kernel, a floored one): the caller takes the
    general path, which checks and floors."""
    dims = tuple(range(kernels.dim() - ndim, kernels.dim()))
    try:
        if mode == "zero_mean":
            mean = kernels.mean(dim=dims, keepdim=True)
            return kernels - mean if math.isfinite(float(mean.detach().sum())) else None
        if mode == "sum":
            total = kernels.sum(dim=dims, keepdim=True)
        else:
            total = torch.linalg.vector_norm(kernels, dim=dims, keepdim=True)
        low, high = torch.aminmax(total.detach().abs())
        eps = norm_floor(kernels.dtype)
        if not (float(low) >= eps and math.isfinite(float(high))):
            return None
    except RuntimeError:  # a transform that cannot read values (vmap): the general path
        return None  # raises the error that says what to do
    return kernels * total.reciprocal()


def input_covers(spatial: Sequence[int], spans: Sequence[int]) -> bool:
    """Whether a padded input of size ``spatial`` is at least the dilated kernel extent
    ``spans`` along every axis (what ``F.conv`` needs to give an output at all)."""
    return all(n >= s for n, s in zip(spatial, spans, strict=True))


def reversed_padding(
    padding: str | Sequence[int], kernel_size: Sequence[int], dilation: Sequence[int]
) -> list[int]:
    """``F.pad`` amounts (last dimension first) equivalent to a conv padding, as nn.ConvNd.

    ``"same"`` puts the extra pixel of an odd total on the right/bottom/back, like torch.
    """
    pads: list[int] = []
    for i in reversed(range(len(kernel_size))):
        if padding == "valid":
            pads += [0, 0]
        elif padding == "same":
            total = dilation[i] * (kernel_size[i] - 1)
            pads += [total // 2, total - total // 2]
        else:
            assert not isinstance(padding, str)
            pads += [int(padding[i]), int(padding[i])]
    return pads


def conv(
    input: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: int | Sequence[int] = 1,
    padding: str | int | Sequence[int] = 0,
    dilation: int | Sequence[int] = 1,
    groups: int = 1,
    padding_mode: str = "zeros",
) -> torch.Tensor:
    """Cross-correlate like ``nn.Conv{1,2,3}d`` (dimension taken from ``weight``).

    ``padding_mode`` other than ``"zeros"`` pads explicitly with ``F.pad`` and convolves
    without padding, exactly as ``nn.ConvNd._conv_forward`` does.
    """
    nd = weight.dim() - 2
    if nd not in _CONV:
        raise ConfigError(f"weight must have 3, 4 or 5 dimensions, got {tuple(weight.shape)}")
    if padding_mode not in PADDING_MODES:
        raise ConfigError(
            f"padding_mode={padding_mode!r} is unknown: use one of {', '.join(PADDING_MODES)}"
        )
    fn = _CONV[nd]
    stride_t = normalize_size(stride, nd, "stride")
    dil = normalize_size(dilation, nd, "dilation")
    pad: str | tuple[int, ...]
    if isinstance(padding, str):
        pad = padding
    else:
        pad = (padding,) * nd if isinstance(padding, int) else tuple(padding)
    if padding_mode == "zeros":
        return fn(input, weight, bias, stride_t, pad, dil, groups)
    amounts = reversed_padding(pad, tuple(weight.shape[2:]), dil)
    padded = F.pad(input, amounts, mode=padding_mode)
    return fn(padded, weight, bias, stride_t, (0,) * nd, dil, groups)


def analytic_conv(
    input: torch.Tensor,
    family: KernelFamily | CompiledFamily,
    params: Mapping[str, torch.Tensor],
    kernel_size: int | Sequence[int],
    *,
    gain: torch.Tensor | None = None,
    bias: torch.Tensor | None = None,
    stride: int | Sequence[int] = 1,
    padding: str | int | Sequence[int] = 0,
    dilation: int | Sequence[int] = 1,
    groups: int = 1,
    padding_mode: str = "zeros",
    discretization: str = "sample",
    quadrature: int = 4,
    normalize: str | None = None,
) -> torch.Tensor:
    """Convolve ``input`` with a bank of kernels of one family (all output channels).

    The bank is :func:`sample_kernels` of ``params`` (constrained AKPs shaped
    ``(out_channels, in_channels // groups)`` or ``(out_channels, 1)``), broadcast to
    ``(out_channels, in_channels // groups, *kernel_size)`` and multiplied by ``gain``
    (same shapes as the AKPs) when given. The remaining arguments are those of
    ``F.conv{1,2,3}d`` plus ``padding_mode`` as in ``nn.ConvNd``.
    """
    compiled = _compiled(family)
    nd = compiled.family.ndim
    if input.dim() not in (nd + 1, nd + 2):
        raise ConfigError(
            f"family {compiled.family.name!r} is {nd}-D: input must be "
            f"(N, C, {nd} spatial dims), got shape {tuple(input.shape)}"
        )
    if input.shape[-nd - 1] % groups:
        raise ConfigError(f"input channels {input.shape[-nd - 1]} not divisible by groups")
    bank = sample_kernels(compiled, params, kernel_size, dilation,
                          discretization=discretization, quadrature=quadrature,
                          normalize=normalize)
    if gain is not None:
        bank = bank * gain.reshape(*gain.shape, *([1] * nd))
    count = bank.shape[0]
    bank = bank.expand(count, input.shape[-nd - 1] // groups, *bank.shape[2:])
    return conv(input, bank.contiguous(), bias, stride, padding, dilation, groups, padding_mode)
