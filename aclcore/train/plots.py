"""Figures of a run: learning curves, robustness curves, learned kernels (matplotlib, Agg).

matplotlib is imported inside each function (``pip install matplotlib``; from a checkout of
the aclcore repository ``pip install -c constraints.txt './[train]'``); without it
the figures are skipped with a note, never the training.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from aclcore.errors import ConfigError
from aclcore.export.viz import save_kernel_grid
from aclcore.nn import AnalyticConvNd
from aclcore.train.loop import TrainResult
from aclcore.train.robustness import RobustnessCurve

__all__ = ["have_matplotlib", "plot_kernels", "plot_learning_curves", "plot_robustness"]


def have_matplotlib() -> bool:
    """Whether matplotlib can be imported."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def plot_learning_curves(results: Sequence[TrainResult], path: Path) -> Path:
    """Training loss and validation accuracy per epoch, one line per model."""
    plt = _pyplot()
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(9, 3.5))
    for res in results:
        epochs = [r.epoch for r in res.history]
        ax_loss.plot(epochs, [r.train_loss for r in res.history], marker="o", label=res.name)
        ax_acc.plot(epochs, [100 * r.val_acc for r in res.history], marker="o",
                    label=f"{res.name} (test {100 * res.test_acc:.2f}%)")
    ax_loss.set(xlabel="epoch", ylabel="training loss", yscale="log", title="loss")
    ax_acc.set(xlabel="epoch", ylabel="validation accuracy (%)", title="accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_robustness(curves: Mapping[str, Sequence[RobustnessCurve]], path: Path) -> Path:
    """Test accuracy against noise level and rotation angle, one line per model."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    labels = {"noise": "Gaussian noise sigma (pixels in [0, 1])", "rotation": "rotation (deg)"}
    for name, model_curves in curves.items():
        for curve in model_curves:
            ax = axes[0 if curve.kind == "noise" else 1]
            ax.plot(curve.levels, [100 * a for a in curve.accuracy], marker="o", label=name)
            ax.set(xlabel=labels[curve.kind], ylabel="test accuracy (%)", title=curve.kind)
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_kernels(model: nn.Module, path: Path, *, max_inputs: int = 8) -> Path:
    """The learned kernels of the first analytic layer of ``model`` (its first inputs).

    Raises:
        ConfigError: the model has no analytic layer.
    """
    layer = next((m for m in model.modules() if isinstance(m, AnalyticConvNd)), None)
    if layer is None:
        raise ConfigError("the model has no analytic layer to draw")
    with torch.no_grad():
        bank = layer.weight.detach().cpu()
    if bank.shape[1] == 1:
        return save_kernel_grid(bank[:, 0], path, title="learned kernels (first analytic "
                                "layer)")
    return save_kernel_grid(bank[:, :max_inputs], path,
                            title=f"learned kernels (first analytic layer, inputs "
                                  f"0-{min(max_inputs, bank.shape[1]) - 1})")
