"""How an analytic layer convolves: the paths, their cost model and the plan it chooses.

A layer computes the same cross-correlation along one of these *paths*:

* ``"direct"``: sample the whole kernel bank, one ``F.conv{1,2,3}d`` (the reference);
* ``"separable"``: blocks of a separable family (:mod:`aclcore.compile.separable`) with a
  normalisation that factors are convolved with their 1-D factors
  (:func:`aclcore.nn.separable.separable_conv`), the other output channels directly;
* ``"fft"``: the whole bank through :func:`aclcore.nn.fftconv.fft_conv`.

With ``path="auto"`` (the default) :func:`choose_plan` estimates the forward time of each
candidate plan from the shapes alone (:class:`CostModel`: multiply-adds, transform sizes
``n log2 n``, copied elements and operator calls, each times a constant measured on the
reference machine) and takes the cheapest, but leaves the direct path only for a clear win:
the estimate must be at most :data:`MARGIN` times the direct one, the direct one at least
:data:`MIN_SECONDS`, and the plan's intermediates at most :data:`MAX_EXTRA_BYTES`. Half
precision and autocast always take the direct path in ``"auto"``. The decision depends on
shapes only, so it is deterministic; layers cache it per input shape.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from aclcore.nn.config import PATHS
from aclcore.nn.fftconv import CHUNK_BYTES, fft_block
from aclcore.nn.functional import input_covers
from aclcore.nn.separable import toeplitz_tiles

__all__ = [
    "CALIBRATION",
    "MARGIN",
    "MAX_EXTRA_BYTES",
    "MIN_SECONDS",
    "PATHS",
    "BlockShape",
    "ConvShape",
    "CostModel",
    "Plan",
    "choose_plan",
    "direct_cost",
    "extra_bytes",
    "fft_blocks",
    "fft_plan_cost",
    "separable_cost",
]

#: A special path is chosen only when its estimate is at most this fraction of the direct one.
MARGIN = 0.75
#: ... and only when the direct path is estimated to take at least this long (seconds): below,
#: operator overheads, which the model only roughly knows, decide.
MIN_SECONDS = 2e-3
#: ... and only when its intermediates (spectra, the ``out * in`` planes of the separable path
#: with one AKP set per kernel) take at most this many bytes beyond the direct path's, or
#: twice the bytes of the convolution's input and output where that is more.
MAX_EXTRA_BYTES = 1 << 30


@dataclass(frozen=True)
class CostModel:
    """Seconds per unit of work of each primitive (one CPU thread).

    Measured with ``benchmarks/calibrate_paths.py`` on the reference machine (2-core CPU VM,
    torch 2.13.0+cpu, 1 thread, thread CPU time; medians over several shapes each, rounded;
    the machine is shared, so single measurements wander by about 30 %). ``conv1d``,
    ``fft_nd``, ``ifft_nd`` and ``element`` are set above their primitives' medians (2.5e-11,
    1.1e-10, 2.6e-10, 1.5e-9) so that the estimates follow the timings of the whole paths
    (``calibrate_paths.py --check``: the copies around them, cold caches).
    """

    conv: float = 2.0e-11
    """Per multiply-add of a dense 2-D or 3-D ``F.conv`` (oneDNN)."""
    conv1d: float = 3.5e-11
    """Per multiply-add of a dense 1-D ``F.conv`` (torch runs these through its own
    im2col + GEMM kernel: 2.3e-11 to 6.6e-11 measured)."""
    depthwise: float = 8.4e-11
    """Per multiply-add of a depthwise 1-D ``F.conv`` pass."""
    gemm: float = 2.4e-11
    """Per multiply-add of a batched matrix product (``einsum``/``bmm``)."""
    fft: float = 1.2e-10
    """Per ``n log2 n`` of a 1-D real FFT or its inverse (``n`` the points of one
    transform)."""
    fft_nd: float = 2.3e-10
    """Per ``n log2 n`` of a 2-D or 3-D real FFT, with the copy of the blocks it reads."""
    ifft_nd: float = 5.0e-10
    """Per ``n log2 n`` of a 2-D or 3-D inverse real FFT (which copies its spectrum)."""
    complex: float = 1.3e-9
    """Per complex multiply-add of two spectra (and the allocation of the result)."""
    copy: float = 1.5e-9
    """Per element copied (padding, tiles, permutations)."""
    element: float = 2.0e-9
    """Per output element written by a convolution (dense, 1x1 or depthwise): these passes
    are memory-bound where they do few multiply-adds per output."""
    call: float = 8.6e-6
    """Per operator call."""


#: The constants :func:`choose_plan` uses (see :class:`CostModel`).
CALIBRATION = CostModel()


@dataclass(frozen=True)
class BlockShape:
    """What the cost model knows about one mosaic block."""

    name: str
    start: int
    count: int
    separable: bool
    """Whether the block may take the separable path (separable family, factoring
    normalisation, 2-D or 3-D)."""
    shared: bool
    """One factor set per output channel (``share_akps``) rather than per kernel."""


@dataclass(frozen=True)
class ConvShape:
    """The shapes of one convolution of a layer."""

    batch: int
    in_channels: int
    out_channels: int
    groups: int
    kernel_size: tuple[int, ...]
    stride: tuple[int, ...]
    dilation: tuple[int, ...]
    padded: tuple[int, ...]
    """Spatial size of the input after padding."""
    itemsize: int = 4
    """Bytes per element of the input."""

    @property
    def in_per_group(self) -> int:
        """Input channels per group."""
        return self.in_channels // self.groups

    @property
    def spans(self) -> tuple[int, ...]:
        """Dilated kernel extent per axis."""
        return tuple(d * (k - 1) + 1 for d, k in zip(self.dilation, self.kernel_size,
                                                       strict=True))

    @property
    def output(self) -> tuple[int, ...]:
        """Output spatial size."""
        return tuple((p - s) // st + 1 for p, s, st in zip(self.padded, self.spans,
                                                           self.stride, strict=True))


@dataclass(frozen=True)
class Plan:
    """Which output channels take which path.

    Attributes:
        separable: names of the blocks convolved through their 1-D factors.
        bank: ``"direct"`` or ``"fft"`` for every other output channel (the sampled bank),
            ``None`` when there is none.
        fft_blocks: the overlap-save block size per axis when ``bank`` is ``"fft"``.
        estimates: estimated forward seconds of the candidate plans considered, by label
            (empty for a path forced by the ``path`` option).
        extra_bytes: estimated memory of the plan's largest intermediates beyond the direct
            path's (0 for a forced path).
    """

    separable: tuple[str, ...] = ()
    bank: str | None = "direct"
    fft_blocks: tuple[int, ...] | None = None
    estimates: dict[str, float] = field(default_factory=dict, compare=False)
    extra_bytes: int = field(default=0, compare=False)

    @property
    def is_direct(self) -> bool:
        """Whether this is the plain direct path (one convolution with the whole bank)."""
        return not self.separable and self.bank == "direct"

    def describe(self) -> str:
        """A short label: ``direct``, ``fft``, ``separable[gauss]+direct``..."""
        parts = [f"separable[{','.join(self.separable)}]"] if self.separable else []
        if self.bank is not None:
            parts.append(self.bank)
        return "+".join(parts)


def _width(rows: Sequence[int], out_per_group: int) -> int:
    """Rows of the grouped arrangement of ``rows`` (see :class:`aclcore.nn.rows.RowLayout`)."""
    counts: dict[int, int] = {}
    for row in rows:
        counts[row // out_per_group] = counts.get(row // out_per_group, 0) + 1
    return len(counts) * max(counts.values())


def _touched(rows: Sequence[int], out_per_group: int) -> int:
    return len({row // out_per_group for row in rows})


def direct_cost(shape: ConvShape, width: int, model: CostModel = CALIBRATION) -> float:
    """Estimated seconds of a direct convolution producing ``width`` output channels."""
    macs = (shape.batch * width * shape.in_per_group * math.prod(shape.kernel_size)
            * math.prod(shape.output))
    rate = model.conv1d if len(shape.kernel_size) == 1 else model.conv
    return (rate * macs + model.element * shape.batch * width * math.prod(shape.output)
            + model.call)


def fft_blocks(shape: ConvShape, width: int, touched: int,
               model: CostModel = CALIBRATION) -> tuple[int, ...]:
    """The overlap-save block size per axis of the FFT path (:func:`fft_block`)."""
    n, ipg = shape.batch, shape.in_per_group
    signals = n * touched * ipg + n * width
    return tuple(
        fft_block(length, span, signals, width * ipg, n * width * ipg,
                  model.complex / (model.fft if len(shape.spans) == 1 else model.fft_nd))
        for length, span in zip(shape.padded, shape.spans, strict=True))


def fft_plan_cost(shape: ConvShape, width: int, touched: int,
                  model: CostModel = CALIBRATION) -> float:
    """Estimated seconds of the FFT path for ``width`` output channels of ``touched`` groups."""
    n, ipg = shape.batch, shape.in_per_group
    blocks = fft_blocks(shape, width, touched, model)
    points = math.prod(blocks)
    spectrum = points // blocks[-1] * (blocks[-1] // 2 + 1)
    tiles = math.prod(-(-(length - span + 1) // (block - span + 1)) for length, span, block
                      in zip(shape.padded, shape.spans, blocks, strict=True))
    inputs, outputs = n * touched * ipg, n * width
    log = math.log2(max(points, 2))
    if len(blocks) == 1:
        forward, inverse = model.fft, model.fft
    else:
        forward, inverse = model.fft_nd, model.ifft_nd
    transforms = (forward * (inputs * tiles + width * ipg) * points * log
                  + inverse * outputs * tiles * points * log)
    return (transforms + model.complex * n * width * ipg * tiles * spectrum
            + model.copy * (inputs + outputs) * tiles * points + 10 * model.call)


def separable_cost(shape: ConvShape, width: int, touched: int, shared: bool,
                   model: CostModel = CALIBRATION) -> float:
    """Estimated seconds of the separable path for one block of ``width`` arranged rows."""
    n, ipg, nd = shape.batch, shape.in_per_group, len(shape.kernel_size)
    current = list(shape.padded)
    # sampling the 1-D factors, and the explicit padding of the input
    total = model.call * (6 * nd + 6) + model.copy * n * touched * ipg * math.prod(current)
    if shared or ipg == 1:
        planes = n * width * math.prod(current)
        total += (model.conv * planes * ipg + model.element * planes + model.call if ipg > 1
                  else model.copy * planes)
        for axis in range(nd):
            current[axis] = shape.output[axis]
            planes = n * width * math.prod(current)
            total += (model.depthwise * planes * shape.kernel_size[axis]
                      + model.element * planes + model.call)
        return total
    pairs = width * ipg
    for axis in range(nd):
        tile, tiles, window = toeplitz_tiles(shape.output[axis], shape.spans[axis],
                                             shape.stride[axis])
        others = math.prod(current) // current[axis]
        copied = n * pairs * tiles * window * others if axis else n * touched * ipg * tiles \
            * window * others
        current[axis] = shape.output[axis]
        produced = n * (pairs if axis < nd - 1 else width) * math.prod(current)
        # einsum copies its operands into matrix-product layout and its result back
        total += (model.gemm * n * pairs * tiles * tile * window * others
                  + 2 * model.copy * (copied + produced) + 6 * model.call)
    return total


def extra_bytes(plan: Plan, shape: ConvShape, blocks: Sequence[BlockShape],
                model: CostModel = CALIBRATION) -> int:
    """Estimated bytes of ``plan``'s intermediates beyond the direct path's (the largest
    live at once: the separable blocks' planes, or the FFT spectra and blocks)."""
    n, ipg, opg = shape.batch, shape.in_per_group, shape.out_channels // shape.groups
    most = 0
    for b in blocks:
        if b.name not in plan.separable:
            continue
        rows = range(b.start, b.start + b.count)
        width, touched = _width(rows, opg), _touched(rows, opg)
        planes = n * width * math.prod(shape.padded)
        if not (b.shared or ipg == 1):  # (out, in) pairs after the first axis, its input tiles
            first = list(shape.padded)
            first[0] = shape.output[0]
            _, tiles, window = toeplitz_tiles(shape.output[0], shape.spans[0],
                                              shape.stride[0])
            planes = n * width * ipg * math.prod(first) + n * touched * ipg * tiles * window \
                * (math.prod(shape.padded) // shape.padded[0])
        most = max(most, planes)
    if plan.bank == "fft" and plan.fft_blocks is not None:
        others = [r for b in blocks if b.name not in plan.separable
                  for r in range(b.start, b.start + b.count)]
        width, touched = _width(others, opg), _touched(others, opg)
        points = math.prod(plan.fft_blocks)
        spectrum = points // plan.fft_blocks[-1] * (plan.fft_blocks[-1] // 2 + 1)
        tiles = math.prod(-(-(length - span + 1) // (block - span + 1)) for length, span, block
                          in zip(shape.padded, shape.spans, plan.fft_blocks, strict=True))
        spectra = 2 * (n * touched * ipg * tiles + width * ipg) * spectrum
        chunk = min(n * width * tiles * (2 * spectrum + points), CHUNK_BYTES // 4)
        most = max(most, spectra + chunk)
    return most * shape.itemsize


def choose_plan(
    path: str,
    shape: ConvShape,
    blocks: Sequence[BlockShape],
    *,
    half: bool = False,
    model: CostModel = CALIBRATION,
) -> Plan:
    """The plan for one input shape.

    Args:
        path: the layer option: ``"direct"``, ``"fft"`` and ``"separable"`` force that path
            (``"separable"``: every block marked separable, the others direct); ``"auto"``
            compares the estimates (see the module docstring).
        shape: the convolution's shapes.
        blocks: the mosaic blocks in order (free blocks are not separable).
        half: half precision or autocast: ``"auto"`` then keeps the direct path.
        model: the cost constants.
    """
    opg = shape.out_channels // shape.groups
    if path == "direct" or not input_covers(shape.padded, shape.spans):
        return Plan()  # an input shorter than the kernel: F.conv's own error, as nn.ConvNd's
    if path == "fft":
        return Plan((), "fft", fft_blocks(shape, shape.out_channels, shape.groups, model))
    eligible = [b for b in blocks if b.separable]
    if path == "separable":
        rest = any(not b.separable for b in blocks)
        return Plan(tuple(b.name for b in eligible), "direct" if rest else None)
    direct = direct_cost(shape, shape.out_channels, model)
    estimates = {"direct": direct}
    if half or direct < MIN_SECONDS:
        return Plan(estimates=estimates)
    sep_cost = {}
    for b in eligible:
        rows = range(b.start, b.start + b.count)
        sep_cost[b.name] = separable_cost(shape, _width(rows, opg), _touched(rows, opg),
                                          b.shared, model)
    every = range(shape.out_channels)
    candidates = [(Plan((), "fft", _blocks_for("fft", shape, every, opg, model)),
                   _bank_cost("fft", shape, every, opg, model))]
    for bank in ("direct", "fft"):
        # each separable block takes the cheaper of its two ways; the rest share one bank conv
        chosen = [b.name for b in eligible if sep_cost[b.name] < _bank_cost(
            bank, shape, range(b.start, b.start + b.count), opg, model) - model.call]
        if not chosen:
            continue  # the plain direct or FFT plan
        others = [r for b in blocks if b.name not in chosen
                  for r in range(b.start, b.start + b.count)]
        cost = sum(sep_cost[name] for name in chosen)
        cost += _bank_cost(bank, shape, others, opg, model) if others else 0.0
        candidates.append((Plan(tuple(chosen), bank if others else None,
                                _blocks_for(bank, shape, others, opg, model)), cost))
    activations = shape.batch * (shape.in_channels * math.prod(shape.padded)
                                 + shape.out_channels * math.prod(shape.output))
    allowed = max(MAX_EXTRA_BYTES, 2 * activations * shape.itemsize)
    best, best_cost, best_bytes = Plan(), direct, 0
    for plan, cost in candidates:
        estimates[plan.describe()] = cost
        memory = extra_bytes(plan, shape, blocks, model)
        if cost < best_cost and cost <= MARGIN * direct and memory <= allowed:
            best, best_cost, best_bytes = plan, cost, memory
    return Plan(best.separable, best.bank, best.fft_blocks, estimates, best_bytes)


def _blocks_for(bank: str, shape: ConvShape, rows: Sequence[int], opg: int,
                model: CostModel) -> tuple[int, ...] | None:
    if bank != "fft" or not rows:
        return None
    return fft_blocks(shape, _width(rows, opg), _touched(rows, opg), model)


def _bank_cost(bank: str, shape: ConvShape, rows: Sequence[int], opg: int,
               model: CostModel) -> float:
    width, touched = _width(rows, opg), _touched(rows, opg)
    if bank == "direct":
        return direct_cost(shape, width, model)
    return fft_plan_cost(shape, width, touched, model)
