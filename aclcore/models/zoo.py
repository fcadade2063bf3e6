"""The reference models by name, and the analytic presets ``acl train`` uses by default.

``build_model(name, convs, image_shape, num_classes, seed)`` builds :class:`~.lenet.LeNet`
(``"lenet"``) or :class:`~.resnet.ResNet` (``"resnet"``, ResNet-8) under a fixed seed, so
that a model and its resumed copy, or every rank of a distributed run, start identical.
:func:`analytic_preset` gives the per-layer specs of the default AnaNN of each model.
"""

from __future__ import annotations

import torch
from torch import nn

from aclcore.errors import ConfigError
from aclcore.models.lenet import LeNet
from aclcore.models.resnet import ResNet, resnet_conv_names
from aclcore.models.spec import ConvSpec, LayerSpecs

__all__ = ["MODELS", "analytic_preset", "build_model", "conv_names"]

#: The model names.
MODELS = ("lenet", "resnet")


def conv_names(name: str) -> tuple[str, ...]:
    """The names of a model's configurable convolutions, in order."""
    if name == "lenet":
        return LeNet.conv_names
    if name == "resnet":
        return resnet_conv_names(1)
    raise ConfigError(f"unknown model {name!r}: use one of {', '.join(MODELS)}")


def analytic_preset(name: str) -> dict[str, ConvSpec]:
    """The default AnaNN of ``acl train --model NAME``: per convolution, its spec.

    LeNet: Gabor kernels in ``conv1``; ``conv2`` a mosaic of Gabor and Gaussian second-derivative
    kernels (half each), one AKP set per output channel (``share_akps``) and gains factorised
    with rank 4 per family (``gain_rank``): 1,024 convolution parameters, 50.9x fewer than
    the CNN's 52,096, chosen on the validation split (``docs/results.md``). ResNet (not
    measured here: no CIFAR-10 on this machine): Gabor kernels in the stem, Gabor kernels with
    shared AKPs and rank-8 gains in every other 3x3 convolution.
    """
    if name == "lenet":
        return {"conv1": ConvSpec("gabor"),
                "conv2": ConvSpec({"gabor": 0.5, "gaussian_d2": 0.5}, share_akps=True,
                                  gain_rank=4)}
    names = conv_names(name)
    return {n: ConvSpec("gabor", share_akps=n != "stem", gain_rank=None if n == "stem" else 8)
            for n in names}


def build_model(name: str, convs: LayerSpecs, *, image_shape: tuple[int, int, int],
                num_classes: int, seed: int) -> nn.Module:
    """Build model ``name`` with ``convs`` for images ``(c, h, w)``, initialised under ``seed``.

    Raises:
        ConfigError: an unknown model, or images too small for it.
    """
    channels, height, width = image_shape
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if name == "lenet":
            if height < 4 or width < 4:
                raise ConfigError(f"LeNet needs images of at least 4x4, got {height}x{width}")
            return LeNet(convs, in_channels=channels, num_classes=num_classes,
                         image_size=(height, width))
        if name == "resnet":
            return ResNet(convs, in_channels=channels, num_classes=num_classes)
    raise ConfigError(f"unknown model {name!r}: use one of {', '.join(MODELS)}")
