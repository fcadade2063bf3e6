"""Stage 8 of the pipeline: reference AnaNNs and their CNN baselines, as plain modules.

* :mod:`.spec` -- :class:`ConvSpec`: how each named convolution is built (plain,
  all-analytic or a mosaic), and the text form ``acl train --families`` reads;
* :mod:`.lenet` -- :class:`LeNet` (5x5 convolutions 1 -> 32 -> 64);
* :mod:`.resnet` -- :class:`ResNet`, a small CIFAR-style residual network;
* :mod:`.zoo` -- :func:`build_model` by name, and the analytic presets of ``acl train``;
* :mod:`.count` -- :func:`count_parameters`: total and convolution parameters, with AKPs,
  gains, free kernels and biases counted separately.
"""

from __future__ import annotations

from aclcore.models.count import ParameterCounts, count_parameters
from aclcore.models.lenet import LeNet
from aclcore.models.resnet import ResNet
from aclcore.models.spec import PLAIN, ConvSpec, parse_families
from aclcore.models.zoo import MODELS, analytic_preset, build_model, conv_names

__all__ = ["MODELS", "PLAIN", "ConvSpec", "LeNet", "ParameterCounts", "ResNet",
           "analytic_preset", "build_model", "conv_names", "count_parameters",
           "parse_families"]
