"""Draw the figures of ``docs/layer.md`` from the library's own grid code.

Run ``python docs/make_figures.py`` after changing the grid convention; it rewrites
``docs/img/grid_convention.png`` (checked in), or the file ``--out`` names.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import sympy as sp
import torch

from aclcore import KernelFamily, Param
from aclcore.nn.functional import sample_kernels
from aclcore.nn.grid import cell_quadrature, kernel_grid

OUT = Path(__file__).parent / "img" / "grid_convention.png"


def _taps(ax: plt.Axes) -> None:
    gx, gy = kernel_grid((4, 5), dtype=torch.float64)
    for row in range(4):
        for col in range(5):
            px, py = float(gx[0, col]), float(gy[row, 0])
            ax.plot(px, py, "o", color="tab:blue")
            ax.annotate(f"[{row},{col}]\n({px:g}, {py:g})", (px, py), textcoords="offset points",
                        xytext=(0, 7), ha="center", fontsize=6.5)
    ax.annotate("", xy=(2.9, -2.3), xytext=(-2.6, -2.3),
                arrowprops={"arrowstyle": "->", "color": "k"})
    ax.text(2.95, -2.3, "x", va="center")
    ax.annotate("", xy=(-2.6, 2.3), xytext=(-2.6, -2.3),
                arrowprops={"arrowstyle": "->", "color": "k"})
    ax.text(-2.6, 2.4, "y", ha="center")
    ax.set_xlim(-3.2, 3.4)
    ax.set_ylim(-2.6, 2.8)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title("kernel_size=(4, 5): weight[row, col] sits at (x, y)", fontsize=9)


def _oriented(ax: plt.Axes) -> None:
    x, y = sp.symbols("x y", real=True)
    sigma, theta = sp.symbols("sigma theta", real=True)
    u = x * sp.cos(theta) + y * sp.sin(theta)
    fam = KernelFamily("dog", u * sp.exp(-(x**2 + y**2) / (2 * sigma**2)), (x, y),
                       [Param(sigma, 1.5, "positive"), Param(theta, 0.0, "angle")])
    angle = math.pi / 6
    params = {"sigma": torch.full((1, 1), 1.5, dtype=torch.float64),
              "theta": torch.full((1, 1), angle, dtype=torch.float64)}
    k = sample_kernels(fam, params, 7)[0, 0]
    ax.imshow(k.numpy(), cmap="RdBu_r", extent=(-3.5, 3.5, -3.5, 3.5))  # row 0 on top
    ax.annotate("", xy=(2.6 * math.cos(angle), 2.6 * math.sin(angle)), xytext=(0, 0),
                arrowprops={"arrowstyle": "->", "color": "k", "lw": 1.5})
    ax.annotate("", xy=(2.6, 0), xytext=(0, 0),
                arrowprops={"arrowstyle": "->", "color": "0.4", "ls": "--"})
    ax.text(1.2, 0.25, "θ", fontsize=11)
    ax.set_xticks(range(-3, 4))
    ax.set_yticks(range(-3, 4))
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title("u·exp(-r²/2σ²), u = x cos θ + y sin θ, θ = 30°\n"
                 "(as displayed: θ is counter-clockwise)", fontsize=9)


def _cells(ax: plt.Axes) -> None:
    (qx, qy), _ = cell_quadrature((3, 3), dilation=2, points=4, dtype=torch.float64)
    full = torch.broadcast_shapes(qx.shape, qy.shape)
    gx, gy = kernel_grid((3, 3), 2, dtype=torch.float64)
    for row in range(3):
        for col in range(3):
            cx, cy = float(gx[0, col]), float(gy[row, 0])
            ax.add_patch(plt.Rectangle((cx - 0.5, cy - 0.5), 1, 1, fill=False, color="0.5"))
            ax.plot(cx, cy, "o", color="tab:blue")
            ax.plot(qx.expand(full)[row, col].flatten().numpy(),
                    qy.expand(full)[row, col].flatten().numpy(), ".", color="tab:orange",
                    markersize=3)
    ax.set_xlim(-3, 3)
    ax.set_ylim(-3, 3)
    ax.set_aspect("equal")
    ax.set_xticks(range(-2, 3, 2))
    ax.set_yticks(range(-2, 3, 2))
    ax.set_title("dilation=2: taps (blue) 2 px apart;\n"
                 "'integrate' averages each 1-px cell (4x4 nodes)", fontsize=9)


def main(out: Path = OUT) -> None:
    """Write the figure to ``out``."""
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.3))
    _taps(axes[0])
    _oriented(axes[1])
    _cells(axes[2])
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT,
                        help=f"the PNG file to write (default {OUT})")
    main(parser.parse_args().out)
