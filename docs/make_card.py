"""Train a tiny analytic CNN and write its formula card to ``docs/card/`` (checked in).

Run ``python docs/make_card.py [OUT_DIR]`` from the repository root (needs acl-classic, for
the ``gabor`` family, and matplotlib; ``--help`` lists the options). It

1. trains ``AnalyticConv2d(1, 6, 7, families={"gabor": 4, "free": 2})`` + ReLU + average
   pooling + a linear head for 60 Adam steps (about a second on a CPU) to tell the orientation
   of noisy gratings (0, 45, 90 or 135 degrees): a deterministic synthetic task, no download;
2. saves an aclcore checkpoint, loads it back (as ``acl export`` would), and
3. writes the formula card with :func:`aclcore.export.to_markdown`, comparing the trained
   kernels with their initialisation.

The test suite imports this module to train the same model for the CLI tests.
"""

from __future__ import annotations

import argparse
import math
import tempfile
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from aclcore import AnalyticConv2d, KernelFamily
from aclcore.export import to_markdown
from aclcore.export.checkpoint import load_checkpoint, save_checkpoint
from aclcore.nn import param_groups

OUT = Path(__file__).parent / "card"
ANGLES = (0.0, 45.0, 90.0, 135.0)
Families = Mapping[str | KernelFamily, int]


def make_data(count: int, seed: int, size: int = 12) -> tuple[torch.Tensor, torch.Tensor]:
    """Noisy gratings ``(count, 1, size, size)`` and their orientation class (0 to 3)."""
    gen = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, len(ANGLES), (count,), generator=gen)
    coords = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
    yy, xx = torch.meshgrid(-coords, coords, indexing="ij")  # y upwards, like the kernels
    theta = torch.tensor(ANGLES)[labels].mul(math.pi / 180)[:, None, None]
    wavelength = 3.0 + 2.0 * torch.rand(count, 1, 1, generator=gen)
    phase = 2 * math.pi * torch.rand(count, 1, 1, generator=gen)
    u = xx * torch.cos(theta) + yy * torch.sin(theta)
    images = torch.cos(2 * math.pi * u / wavelength + phase)
    images = images + 0.5 * torch.randn(images.shape, generator=gen)
    return images[:, None], labels


def build_model(families: Families | None = None) -> nn.Sequential:
    """The analytic CNN (``families`` defaults to 4 registered ``gabor`` and 2 free kernels)."""
    spec = families if families is not None else {"gabor": 4, "free": 2}
    return nn.Sequential(
        AnalyticConv2d(1, 6, 7, padding=3, families=spec), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, len(ANGLES)),
    )


def train(model: nn.Sequential, steps: int = 60, seed: int = 0) -> float:
    """Train on 512 synthetic images; return the accuracy on 256 held-out ones."""
    images, labels = make_data(512, seed)
    optimizer = torch.optim.Adam(param_groups(model, akp_lr=0.05, lr=0.02))
    for step in range(steps):
        batch = slice((step * 32) % 512, (step * 32) % 512 + 32)
        loss = nn.functional.cross_entropy(model(images[batch]), labels[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    test_images, test_labels = make_data(256, seed + 1)
    with torch.no_grad():
        accuracy = (model(test_images).argmax(1) == test_labels).float().mean()
    return float(accuracy)


def main(out: Path = OUT) -> Path:
    """Train, checkpoint, reload and write the card; returns the card's path."""
    torch.manual_seed(0)
    model = build_model()
    initial = model[0].weight.detach().clone()
    accuracy = train(model)
    with tempfile.TemporaryDirectory() as tmp:
        path = save_checkpoint(model, Path(tmp) / "checkpoint.pt", accuracy=accuracy)
        checkpoint = load_checkpoint(path)
    card = to_markdown(
        checkpoint, out, title="Formula card: a tiny orientation classifier",
        compare={"0": initial}, compare_names=("trained", "initial"), formulas=1,
    )
    print(f"test accuracy {accuracy:.2f}; wrote {card}")
    return card


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line: the output directory (default ``docs/card``)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path, default=OUT, metavar="OUT_DIR",
                        help=f"directory for card.md and its PNGs (default {OUT})")
    return parser.parse_args(argv)


if __name__ == "__main__":
    main(parse_args().out)
