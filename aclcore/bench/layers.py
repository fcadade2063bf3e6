"""Analytic layers against ``nn.ConvNd`` of the same shape, measured in the same run.

Per case three ratios ACL / ``nn.ConvNd``:

* ``train``: one training step (zero_grad, forward, mean-square loss, backward, SGD step);
* ``eval``: one forward under ``torch.no_grad`` (the ACL serves its bank from its eval cache);
* ``memory``: the peak memory allocated by one training step (torch profiler memory timeline).

The cases (:data:`LAYER_CASES`): the first layer of an image network (3 -> 64, 7x7 and 11x11),
a middle layer (64 -> 64, 3x3), SincNet's first layer (1-D, 80 band-pass filters of 251
taps), a 3-D layer, and a large-kernel layer (31x31, path ``"auto"``: see docs/performance.md,
"Large kernels").
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from aclcore.bench.harness import Comparison, compare
from aclcore.nn.layers import AnalyticConv1d, AnalyticConv2d, AnalyticConv3d

__all__ = ["LAYER_CASES", "LayerCase", "LayerResult", "build_pair", "eval_step", "measure_layer",
           "peak_memory", "train_step"]

_ACL: dict[int, Any] = {1: AnalyticConv1d, 2: AnalyticConv2d, 3: AnalyticConv3d}
_CONV: dict[int, Any] = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}


@dataclass(frozen=True)
class LayerCase:
    """One layer shape: channels, kernel size, families, input size (spatial) and batch."""

    name: str
    cin: int
    cout: int
    kernel: int
    families: str
    size: tuple[int, ...]
    batch: int
    quick_batch: int = 2

    @property
    def ndim(self) -> int:
        """Spatial dimensions."""
        return len(self.size)


#: The layer shapes of the suite.
LAYER_CASES: tuple[LayerCase, ...] = (
    LayerCase("first layer 3->64 7x7", 3, 64, 7, "gabor", (32, 32), 64),
    LayerCase("first layer 3->64 11x11", 3, 64, 11, "gabor", (32, 32), 64),
    LayerCase("middle layer 64->64 3x3", 64, 64, 3, "gabor", (32, 32), 64),
    LayerCase("SincNet 1->80 x251 (1-D)", 1, 80, 251, "sinc_bandpass", (3200,), 32),
    LayerCase("3-D 3->16 5x5x5", 3, 16, 5, "gaussian_3d", (16, 32, 32), 4, 1),
    LayerCase("large kernel 3->16 31x31", 3, 16, 31, "gaussian", (64, 64), 8, 1),
)


@dataclass
class LayerResult:
    """The timings of one case (baseline ``conv``) and the peak memory of each layer."""

    case: LayerCase
    train: Comparison
    eval: Comparison
    memory: dict[str, float]


def train_step(layer: nn.Module, inp: torch.Tensor, *, loss: bool = True
               ) -> Callable[[], None]:
    """One SGD training step of ``layer`` on ``inp``, as a callable.

    ``loss=True``: backward of the mean-square loss of the output (the loss's passes over the
    output are timed too). ``loss=False``: backward of a fixed random output gradient, as the
    rest of a network would send it (the layer's own forward, backward and step only).
    """
    opt = torch.optim.SGD(layer.parameters(), lr=1e-3)
    upstream = None
    if not loss:
        with torch.no_grad():
            upstream = torch.randn_like(layer(inp))

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        out = layer(inp)
        if upstream is None:
            out.square().mean().backward()
        else:
            out.backward(upstream)
        opt.step()

    return step


def eval_step(layer: nn.Module, inp: torch.Tensor) -> Callable[[], None]:
    """One forward of ``layer`` on ``inp`` under ``torch.no_grad``, as a callable."""

    def step() -> None:
        with torch.no_grad():
            layer(inp)

    return step


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Silence the profiler's C++ log lines (written straight to file descriptor 2)."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no file descriptor 2 (embedded interpreters)
        yield
        return
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def peak_memory(step: Callable[[], None]) -> float:
    """Peak bytes allocated during one call of ``step`` (torch profiler memory timeline)."""
    from torch.profiler import ProfilerActivity, profile
    from torch.profiler._memory_profiler import MemoryProfileTimeline

    step()
    with warnings.catch_warnings(), _quiet_stderr():
        warnings.simplefilter("ignore")
        with profile(activities=[ProfilerActivity.CPU], profile_memory=True,
                     record_shapes=True, with_stack=True) as prof:
            step()
        timeline = MemoryProfileTimeline(prof._memory_profile())
        _, sizes = timeline._coalesce_timeline(torch.device("cpu"))  # type: ignore[no-untyped-call]
    return float(max(sum(s) for s in sizes))


def build_pair(case: LayerCase, *, quick: bool = False, seed: int = 0
               ) -> tuple[nn.Module, nn.Module, torch.Tensor]:
    """``(nn.ConvNd, the ACL, an input)`` of ``case`` (``quick``: the small batch)."""
    torch.manual_seed(seed)
    batch = case.quick_batch if quick else case.batch
    inp = torch.randn(batch, case.cin, *case.size)
    pad = case.kernel // 2
    conv = _CONV[case.ndim](case.cin, case.cout, case.kernel, padding=pad)
    acl = _ACL[case.ndim](case.cin, case.cout, case.kernel, padding=pad, families=case.families)
    return conv, acl, inp


def measure_layer(case: LayerCase, *, rounds: int = 11, repeats: int = 3, quick: bool = False,
                  memory: bool = True, seed: int = 0) -> LayerResult:
    """Time and profile ``case`` (ACL vs ``nn.ConvNd``); ``quick``: the small batch."""
    conv, acl, inp = build_pair(case, quick=quick, seed=seed)
    train = compare({"conv": train_step(conv, inp), "acl": train_step(acl, inp)},
                    baseline="conv", rounds=rounds, repeats=repeats)
    conv.eval()
    acl.eval()
    evals = compare({"conv": eval_step(conv, inp), "acl": eval_step(acl, inp)},
                    baseline="conv", rounds=rounds, repeats=repeats)
    conv.train()
    acl.train()
    peaks = ({name: peak_memory(train_step(m, inp)) for name, m in (("conv", conv), ("acl", acl))}
             if memory else {})
    return LayerResult(case, train, evals, peaks)
