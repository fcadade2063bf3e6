"""Stage 4 of the pipeline: kernel banks sampled on the grid, and the analytic layers.

* :mod:`.grid` -- THE grid convention (tap coordinates) and the cell quadrature;
* :mod:`.functional` -- pure functions: sample a bank, normalise it, convolve;
* :mod:`.layers` -- :class:`AnalyticConv1d`, :class:`AnalyticConv2d`, :class:`AnalyticConv3d`,
  built from :mod:`.config` (validated options, the recorded schema), :mod:`.mosaic`
  (channel blocks), :mod:`.blocks` (AKP parameters), :mod:`.bankcache` (eval cache),
  :mod:`.state` (extra state) and :mod:`.introspect` (per-kernel records and formulas);
* :mod:`.tools` -- :func:`freeze` and :func:`param_groups` for whole models;
* :mod:`.anomaly` -- :func:`watch_gradients`, the opt-in check naming a non-finite gradient.
"""

from __future__ import annotations

from aclcore.nn.anomaly import GradientWatch, watch_gradients
from aclcore.nn.introspect import AnalyticKernel
from aclcore.nn.layers import AnalyticConv1d, AnalyticConv2d, AnalyticConv3d, AnalyticConvNd
from aclcore.nn.mosaic import MosaicBlock
from aclcore.nn.tools import freeze, param_groups

__all__ = [
    "AnalyticConv1d",
    "AnalyticConv2d",
    "AnalyticConv3d",
    "AnalyticConvNd",
    "AnalyticKernel",
    "GradientWatch",
    "MosaicBlock",
    "freeze",
    "param_groups",
    "watch_gradients",
]
