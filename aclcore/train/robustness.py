"""The reliability claim of the ACL paper, measured: accuracy under additive Gaussian noise
and under rotations of the test images.

Both perturbations act on the raw pixels (``[0, 1]``) before the normalisation the model
expects: ``noise`` adds ``N(0, sigma^2)`` per pixel (not clipped), drawn from a generator
with a fixed seed so that every model sees the same noisy images; ``rotation`` turns each
image by an angle (degrees, counter-clockwise) about its centre with bilinear interpolation,
filling uncovered pixels with 0 (the background of digits).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from aclcore.data.splits import DataSplits, Split

__all__ = ["NOISE_LEVELS", "ROTATIONS", "RobustnessCurve", "add_noise", "noise_curve",
           "rotate", "rotation_curve"]

#: Standard deviations of the additive noise, in raw pixel units.
NOISE_LEVELS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)
#: Rotation angles in degrees.
ROTATIONS = (0.0, 10.0, 20.0, 30.0, 45.0, 60.0)


@dataclass(frozen=True)
class RobustnessCurve:
    """Accuracy (fraction) at each level of one perturbation (``"noise"`` or ``"rotation"``)."""

    kind: str
    levels: list[float]
    accuracy: list[float]

    def as_dict(self) -> dict[str, object]:
        """Plain values."""
        return asdict(self)


def add_noise(raw: torch.Tensor, sigma: float, seed: int = 0) -> torch.Tensor:
    """``raw + N(0, sigma^2)`` with a generator seeded by ``seed``."""
    gen = torch.Generator().manual_seed(seed)
    return raw + sigma * torch.randn(raw.shape, generator=gen, dtype=raw.dtype)


def rotate(raw: torch.Tensor, degrees: float) -> torch.Tensor:
    """Images ``(n, c, h, w)`` rotated counter-clockwise by ``degrees`` (zero fill)."""
    if degrees == 0:
        return raw
    a = math.radians(degrees)
    # affine_grid maps output to input coordinates (x right, y down): a counter-clockwise
    # rotation on screen samples the input at the clockwise-rotated position.
    theta = torch.tensor([[math.cos(a), -math.sin(a), 0.0], [math.sin(a), math.cos(a), 0.0]],
                         dtype=raw.dtype)
    grid = F.affine_grid(theta.expand(raw.shape[0], 2, 3), list(raw.shape), align_corners=False)
    return F.grid_sample(raw, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def _accuracy(model: nn.Module, data: DataSplits, raw: torch.Tensor, labels: torch.Tensor,
              device: torch.device, batch_size: int) -> float:
    correct = 0
    with torch.no_grad():
        for start in range(0, raw.shape[0], batch_size):
            x = data.normalize(raw[start:start + batch_size]).to(device)
            pred = model(x).argmax(dim=1).cpu()
            correct += int((pred == labels[start:start + batch_size]).sum())
    return correct / max(1, raw.shape[0])


def noise_curve(model: nn.Module, data: DataSplits, split: Split | None = None, *,
                levels: Sequence[float] = NOISE_LEVELS, device: torch.device | None = None,
                batch_size: int = 1000, seed: int = 0) -> RobustnessCurve:
    """Accuracy on ``split`` (default: the test split) at each noise level."""
    s = split or data.test
    dev = device or torch.device("cpu")
    was = model.training
    model.eval()
    raw = data.denormalize(s.images)
    acc = [_accuracy(model, data, add_noise(raw, sigma, seed), s.labels, dev, batch_size)
           for sigma in levels]
    model.train(was)
    return RobustnessCurve("noise", [float(v) for v in levels], acc)


def rotation_curve(model: nn.Module, data: DataSplits, split: Split | None = None, *,
                   angles: Sequence[float] = ROTATIONS, device: torch.device | None = None,
                   batch_size: int = 1000) -> RobustnessCurve:
    """Accuracy on ``split`` (default: the test split) at each rotation angle."""
    s = split or data.test
    dev = device or torch.device("cpu")
    was = model.training
    model.eval()
    raw = data.denormalize(s.images)
    acc = [_accuracy(model, data, rotate(raw, angle), s.labels, dev, batch_size)
           for angle in angles]
    model.train(was)
    return RobustnessCurve("rotation", [float(v) for v in angles], acc)
