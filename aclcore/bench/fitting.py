"""Fitting throughput: :func:`aclcore.fit.fit_kernels` on a bank of known families.

The bank: kernels of ``3 x 11 x 11`` (AlexNet's first-layer shape) drawn from the classic 2-D
families with random AKPs and gains, 10 % noise added; every family is fitted to every kernel
with the default schedule and shared geometry across the channels. The figures: the total
time against the issue's 60 s, and one batched fit of a few kernels against a Python loop of
single-kernel fits (what the batching across kernels saves), in the same run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import torch

from aclcore.fit import fit_kernels
from aclcore.nn.functional import sample_kernels
from aclcore.plugins.registry import families

__all__ = ["FIT_FAMILIES", "QUICK_OPTIONS", "TARGET_SECONDS", "FitResult", "fit_bank",
           "measure_fit"]

#: The classic 2-D families (acl-classic): every family a 2-D bank can be fitted with.
FIT_FAMILIES = ("gabor", "sinusoid", "gaussian", "anisotropic_gaussian", "gaussian_d1",
                "gaussian_d2", "log", "dog")
#: Target of issue 12: 64 kernels x every classic family on 2 cores.
TARGET_SECONDS = 60.0
#: A smoke run's schedule: few starts and steps.
QUICK_OPTIONS: dict[str, Any] = {"starts": 2, "screen": 2, "keep": 1, "adam_steps": 10,
                                 "lbfgs_steps": 3}


def fit_bank(count: int = 64, names: tuple[str, ...] = FIT_FAMILIES, seed: int = 0
             ) -> tuple[torch.Tensor, list[str]]:
    """``count`` kernels ``(count, 3, 11, 11)`` spread over ``names`` (10 % noise), and the
    family each was drawn from."""
    gen = torch.Generator().manual_seed(seed)
    share, extra = divmod(count, len(names))
    parts, truth = [], []
    for i, name in enumerate(names):
        n = share + (1 if i < extra else 0)
        if n == 0:
            continue
        family = families()[name]
        akps = {p.name: p.sample((n, 1), generator=gen, dtype=torch.float64)
                for p in family.params}
        gains = torch.randn(n, 3, 1, 1, generator=gen, dtype=torch.float64)
        parts.append(sample_kernels(family, akps, 11) * gains)
        truth += [name] * n
    clean = torch.cat(parts)
    noise = torch.randn(clean.shape, generator=gen, dtype=torch.float64)
    norm = torch.linalg.vector_norm
    dims = (1, 2, 3)
    noise = noise / norm(noise, dim=dims, keepdim=True) * norm(clean, dim=dims, keepdim=True)
    return clean + 0.1 * noise, truth


@dataclass
class FitResult:
    """Seconds per family, in all, and of the batched fit against the loop of single fits."""

    count: int
    seconds: dict[str, float] = field(default_factory=dict)
    hits: int = 0
    batched: float = 0.0
    looped: float = 0.0

    @property
    def total(self) -> float:
        """Seconds for every family."""
        return sum(self.seconds.values())


def measure_fit(*, count: int = 64, names: tuple[str, ...] = FIT_FAMILIES, quick: bool = False,
                batch: int = 8) -> FitResult:
    """Fit ``count`` kernels with every family of ``names`` (see the module docstring)."""
    options = QUICK_OPTIONS if quick else {}
    target, truth = fit_bank(count, names)
    result = FitResult(count)
    for name in names:
        start = time.perf_counter()
        fit_kernels(target, [name], share_akps=True, **options)
        result.seconds[name] = time.perf_counter() - start
    ranked = fit_kernels(target, list(names), share_akps=True, **options)
    result.hits = sum(a == b for a, b in zip(ranked.best(), truth, strict=True))
    few = target[:batch]
    start = time.perf_counter()
    fit_kernels(few, ["gabor"], share_akps=True, **options)
    result.batched = time.perf_counter() - start
    start = time.perf_counter()
    for n in range(len(few)):
        fit_kernels(few[n:n + 1], ["gabor"], share_akps=True, **options)
    result.looped = time.perf_counter() - start
    return result
