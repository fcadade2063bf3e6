"""Stage 7 of the pipeline: fit analytic families to given kernels; convert models."""

from __future__ import annotations

from aclcore.fit.assemble import FittedConv, assemble
from aclcore.fit.compose import shifted, summed
from aclcore.fit.conv import fit_conv
from aclcore.fit.convert import Conversion, LayerConversion, convert
from aclcore.fit.kernels import fit_kernels
from aclcore.fit.result import Candidate, FamilyFit, FitResult
from aclcore.fit.selection import ParetoPoint, best_within, pareto_front, select, summarize

__all__ = ["Candidate", "Conversion", "FamilyFit", "FitResult", "FittedConv",
           "LayerConversion", "ParetoPoint", "assemble", "best_within", "convert",
           "fit_conv", "fit_kernels", "pareto_front", "select", "shifted", "summarize",
           "summed"]
