"""Stage 7 of the pipeline: fit analytic families to given kernels; convert models.

* :func:`fit_kernels` (:mod:`.kernels`) fits every candidate family to every kernel of a
  bank in one batched optimisation per family (:mod:`.objective`: least squares with the
  gains projected out; :mod:`.optimize`: batched Adam and L-BFGS) and ranks the families per
  kernel (:mod:`.scoring`); it returns a :class:`FitResult` (:mod:`.result`).
* :mod:`.compose` builds candidate families: :func:`shifted`, :func:`summed`.
* :mod:`.selection`: :func:`select` (within a tolerance), :func:`pareto_front` (the bank's
  error/compression trade-off), :func:`summarize` (one row per family).
* :func:`fit_conv` (:mod:`.conv`) and :func:`convert` (:mod:`.convert`) turn convolutions
  and models into analytic (mosaic) layers, built by :func:`assemble` (:mod:`.assemble`).
* :mod:`.report` writes the Markdown report, :mod:`.sources` reads kernel banks from files
  (both behind ``acl fit``).

Nothing here imports :mod:`aclcore.train` (a sibling stage).
"""

from __future__ import annotations

from aclcore.fit.assemble import FittedConv, assemble
from aclcore.fit.compose import shifted, summed
from aclcore.fit.conv import fit_conv
from aclcore.fit.convert import Conversion, LayerConversion, convert
from aclcore.fit.kernels import fit_kernels
from aclcore.fit.result import Candidate, FamilyFit, FitOptions, FitResult
from aclcore.fit.selection import (
    FamilySummary,
    ParetoPoint,
    best_within,
    pareto_front,
    select,
    summarize,
)

__all__ = ["Candidate", "Conversion", "FamilyFit", "FamilySummary", "FitOptions", "FitResult",
           "FittedConv", "LayerConversion", "ParetoPoint", "assemble", "best_within",
           "convert", "fit_conv", "fit_kernels", "pareto_front", "select", "shifted",
           "summarize", "summed"]
