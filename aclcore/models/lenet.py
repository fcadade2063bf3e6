"""A LeNet-style network: two 5x5 convolutions (1 -> 32 -> 64), each followed by ReLU and 2x2
max pooling, then a hidden layer of 128 units and the classifier.

``LeNet(convs=PLAIN)`` is the CNN baseline; ``LeNet(convs=ConvSpec("gabor"))`` the all-analytic
AnaNN of identical shape; ``LeNet(convs={"conv2": ConvSpec({"gabor": 0.5, "free": 0.5})})`` a
mosaic in ``conv2`` only. Convolutions keep the spatial size (padding 2), so a 28x28 input
gives 64 x 7 x 7 features.
"""

from __future__ import annotations

import torch
from torch import nn

from aclcore.models.spec import PLAIN, LayerSpecs, resolve_specs

__all__ = ["LeNet"]


class LeNet(nn.Module):
    """conv1 -> ReLU -> pool -> conv2 -> ReLU -> pool -> fc(128) -> ReLU -> fc(classes).

    Args:
        convs: how to build ``conv1`` and ``conv2`` (see
            :func:`~aclcore.models.spec.resolve_specs`).
        in_channels: image channels.
        num_classes: classes.
        image_size: ``(height, width)`` of the inputs (sizes the first linear layer).
        widths: output channels of ``conv1`` and ``conv2``.
        kernel_size: of both convolutions (odd; the padding keeps the size).
        hidden: units of the hidden linear layer.
    """

    conv_names = ("conv1", "conv2")

    def __init__(
        self,
        convs: LayerSpecs = PLAIN,
        *,
        in_channels: int = 1,
        num_classes: int = 10,
        image_size: tuple[int, int] = (28, 28),
        widths: tuple[int, int] = (32, 64),
        kernel_size: int = 5,
        hidden: int = 128,
    ) -> None:
        super().__init__()
        specs = resolve_specs(convs, self.conv_names, "LeNet")
        pad = kernel_size // 2
        self.conv1 = specs["conv1"].build(in_channels, widths[0], kernel_size, padding=pad)
        self.conv2 = specs["conv2"].build(widths[0], widths[1], kernel_size, padding=pad)
        self.pool = nn.MaxPool2d(2)
        h, w = image_size[0] // 4, image_size[1] // 4
        self.fc1 = nn.Linear(widths[1] * h * w, hidden)
        self.fc2 = nn.Linear(hidden, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits ``(batch, num_classes)``."""
        x = self.pool(torch.relu(self.conv1(x)))
        x = self.pool(torch.relu(self.conv2(x)))
        logits: torch.Tensor = self.fc2(torch.relu(self.fc1(x.flatten(1))))
        return logits
