"""A small CIFAR-style ResNet (He et al. 2016, section 4.2): a 3x3 stem, three stages of basic
blocks with 16, 32 and 64 channels (stride 2 between stages), global average pooling and a
linear classifier. ``blocks=1`` gives ResNet-8, ``blocks=3`` ResNet-20.

Every 3x3 convolution is named (``stem``, ``layer1.0.conv1``, ``layer1.0.conv2`` ...) and
built from its :class:`~aclcore.models.spec.ConvSpec`: plain, analytic or a mosaic. The 1x1
projection shortcuts are always plain (a 1x1 kernel has no shape to describe) and count as
convolution parameters.
"""

from __future__ import annotations

import torch
from torch import nn

from aclcore.models.spec import PLAIN, ConvSpec, LayerSpecs, resolve_specs

__all__ = ["BasicBlock", "ResNet", "resnet_conv_names"]

WIDTHS = (16, 32, 64)


def resnet_conv_names(blocks: int) -> tuple[str, ...]:
    """The names of the 3x3 convolutions of a :class:`ResNet` with ``blocks`` per stage."""
    names = ["stem"]
    for stage in range(1, len(WIDTHS) + 1):
        for b in range(blocks):
            names += [f"layer{stage}.{b}.conv1", f"layer{stage}.{b}.conv2"]
    return tuple(names)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with batch norm, and an identity or 1x1 projection shortcut."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, conv1: ConvSpec,
                 conv2: ConvSpec) -> None:
        super().__init__()
        self.conv1 = conv1.build(in_channels, out_channels, 3, stride=stride, padding=1,
                                 bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = conv2.build(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``relu(bn(conv(relu(bn(conv(x))))) + shortcut(x))``."""
        out = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class ResNet(nn.Module):
    """CIFAR-style ResNet with ``blocks`` basic blocks per stage.

    Args:
        convs: how to build each named 3x3 convolution (:func:`resnet_conv_names`).
        in_channels: image channels.
        num_classes: classes.
        blocks: basic blocks per stage (1: ResNet-8, 3: ResNet-20).
    """

    def __init__(self, convs: LayerSpecs = PLAIN, *, in_channels: int = 3,
                 num_classes: int = 10, blocks: int = 1) -> None:
        super().__init__()
        self.conv_names = resnet_conv_names(blocks)
        specs = resolve_specs(convs, self.conv_names, "ResNet")
        self.stem = specs["stem"].build(in_channels, WIDTHS[0], 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(WIDTHS[0])
        stages = []
        channels = WIDTHS[0]
        for s, width in enumerate(WIDTHS, start=1):
            layer = []
            for b in range(blocks):
                stride = 2 if s > 1 and b == 0 else 1
                layer.append(BasicBlock(channels, width, stride, specs[f"layer{s}.{b}.conv1"],
                                        specs[f"layer{s}.{b}.conv2"]))
                channels = width
            stages.append(nn.Sequential(*layer))
        self.layer1, self.layer2, self.layer3 = stages
        self.fc = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits ``(batch, num_classes)``."""
        x = torch.relu(self.bn(self.stem(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        logits: torch.Tensor = self.fc(x.mean(dim=(2, 3)))
        return logits
