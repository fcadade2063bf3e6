"""Precision: float64/float32 layers, half-precision parameters (banks evaluated in float32)
and training under autocast (bfloat16 on the CPU; float16 on CUDA where present)."""

from __future__ import annotations

import pytest
import sympy as sp
import torch
from torch import nn

from aclcore import AnalyticConv2d, KernelFamily, Param

x, y, s, t = sp.symbols("x y s theta", real=True)
GAUSS_D1 = KernelFamily(
    "gauss_d1_prec", -(x * sp.cos(t) + y * sp.sin(t)) * sp.exp(-(x**2 + y**2) / (2 * s**2)),
    ("x", "y"), [Param(s, (0.8, 2.0), "positive"), Param(t, (0.0, 3.0), "angle")])
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def _model(dtype: torch.dtype = torch.float32, device: str = "cpu") -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        AnalyticConv2d(1, 6, 5, padding=2, families={GAUSS_D1: 4, "free": 2}),
        nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, 3),
    ).to(device=device, dtype=dtype)


def _train(model: nn.Module, device: str, autocast: torch.dtype | None, steps: int = 25
           ) -> list[float]:
    torch.manual_seed(1)
    data = torch.randn(16, 1, 12, 12, device=device)
    labels = (data[:, 0, :6].mean(dim=(1, 2)) > 0).long() + (data[:, 0, 6:].mean(
        dim=(1, 2)) > 0).long()
    optimiser = torch.optim.Adam(model.parameters(), lr=0.05)
    losses = []
    for _ in range(steps):
        optimiser.zero_grad()
        with torch.autocast(device, dtype=autocast, enabled=autocast is not None):
            loss = nn.functional.cross_entropy(model(data.to(next(model.parameters()).dtype)),
                                               labels)
        loss.backward()
        optimiser.step()
        losses.append(float(loss.detach()))
    return losses


@pytest.mark.parametrize("device", DEVICES)
def test_training_under_autocast_learns_with_finite_akps(device: str) -> None:
    half = torch.bfloat16 if device == "cpu" else torch.float16
    model = _model(device=device)
    losses = _train(model, device, half)
    assert losses[-1] < 0.8 * losses[0], losses
    for p in model.parameters():
        assert p.dtype == torch.float32 and bool(torch.isfinite(p).all())


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16]
                         + ([torch.float16] if torch.cuda.is_available() else []))
def test_half_and_double_parameters_train(dtype: torch.dtype) -> None:
    device = "cuda" if dtype == torch.float16 else "cpu"
    model = _model(dtype, device)
    losses = _train(model, device, None)
    assert losses[-1] < 0.8 * losses[0], losses
    layer = model[0]
    assert layer.weight.dtype == dtype
    for p in layer.akp_parameters():
        assert p.dtype == dtype and bool(torch.isfinite(p).all())
