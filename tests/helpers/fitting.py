"""Helpers of the fitting tests: synthetic kernel banks and AKPs compared up to symmetries.

A bank is synthesised through the layer's own sampling (:func:`sample_kernels`) from AKPs
drawn in each Param's init range, times random gains; :func:`same_akps` compares recovered
AKPs with the true ones where the family makes them identifiable (angles modulo their
period, the sign of a kernel being the gain's).
"""

from __future__ import annotations

import math

import torch

from aclcore import KernelFamily
from aclcore.nn.functional import sample_kernels

#: Fast settings for tests (still multi-start Adam + L-BFGS).
QUICK = {"starts": 8, "keep": 2, "adam_steps": 80, "lbfgs_steps": 40}


def synthesize(family: KernelFamily, count: int, channels: int, size: tuple[int, ...], *,
               share: bool, seed: int = 0, noise: float = 0.0,
               ) -> tuple[torch.Tensor, dict[str, torch.Tensor], torch.Tensor]:
    """``(bank, akps, gains)``: ``count`` kernels of ``channels`` channels of the family.

    AKPs ``(count, 1)`` with ``share`` else ``(count, channels)``, uniform in each Param's init
    range; gains ``(count, channels)`` of magnitude 0.5..1.5 with random signs; ``noise``
    adds Gaussian noise of that relative L2 norm to each kernel.
    """
    gen = torch.Generator().manual_seed(seed)
    cols = 1 if share else channels
    akps = {p.name: p.sample((count, cols), generator=gen, dtype=torch.float64)
            for p in family.params}
    gains = (0.5 + torch.rand(count, channels, generator=gen, dtype=torch.float64))
    gains = gains * torch.where(torch.rand(count, channels, generator=gen) < 0.5, -1.0, 1.0)
    bank = sample_kernels(family, akps, size) * gains.reshape(count, channels,
                                                              *([1] * len(size)))
    bank = bank.expand(count, channels, *size).clone()
    if noise:
        eps = torch.randn(bank.shape, generator=gen, dtype=torch.float64)
        dims = tuple(range(1, bank.dim()))
        norm = torch.linalg.vector_norm
        eps = eps / norm(eps, dim=dims, keepdim=True) * norm(bank, dim=dims, keepdim=True)
        bank = bank + noise * eps
    return bank, akps, gains


def _circ(a: torch.Tensor, b: torch.Tensor, period: float) -> torch.Tensor:
    d = torch.remainder(a - b, period)
    return torch.minimum(d, period - d)


def _wrap(a: torch.Tensor, period: float) -> torch.Tensor:
    return torch.remainder(a, period)


def canonical(family: str, akps: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """AKPs mapped to one representative of their symmetry class (see the module doc).

    Angles are left as values modulo the period returned by :func:`periods`.
    """
    out = {k: v.clone() for k, v in akps.items()}
    if family in ("gabor", "sinusoid"):
        # (theta + pi, -psi) is the same kernel; psi + pi is the kernel negated (the gain)
        turns = torch.floor(out["theta"] / math.pi)
        odd = torch.remainder(turns, 2) == 1
        out["theta"] = out["theta"] - turns * math.pi
        out["psi"] = torch.where(odd, -out["psi"], out["psi"])
    if family == "anisotropic_gaussian":
        swap = out["sigma_u"] < out["sigma_v"]
        su, sv = out["sigma_u"].clone(), out["sigma_v"].clone()
        out["sigma_u"] = torch.where(swap, sv, su)
        out["sigma_v"] = torch.where(swap, su, sv)
        out["theta"] = torch.where(swap, out["theta"] + math.pi / 2, out["theta"])
    return out


def periods(family: str) -> dict[str, float]:
    """Period of every angle-like AKP of a family (up to the gain's sign)."""
    table = {
        "gabor": {"theta": math.pi, "psi": math.pi},
        "sinusoid": {"theta": math.pi, "psi": math.pi},
        "gabor_1d": {"psi": math.pi},
        "anisotropic_gaussian": {"theta": math.pi},
        "gaussian_d1": {"theta": math.pi},
        "gaussian_d2": {"theta": math.pi},
    }
    return table.get(family, {})


def akp_distance(family: str, found: dict[str, torch.Tensor],
                 truth: dict[str, torch.Tensor]) -> dict[str, float]:
    """Largest relative (angles: absolute, modulo the period) AKP difference by name."""
    f, t = canonical(family, found), canonical(family, truth)
    per = periods(family)
    out = {}
    for name in t:
        if name in per:
            out[name] = float(_circ(f[name], t[name], per[name]).max())
        else:
            out[name] = float(((f[name] - t[name]).abs() / t[name].abs().clamp_min(1e-3)).max())
    return out
