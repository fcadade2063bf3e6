"""Checks of what the fitting functions are given: the target bank and the candidate families.

Every problem is a typed :class:`~aclcore.errors.AclError` naming the offender and the fix:
a target of the wrong shape or with NaN/inf values, families of the wrong dimension, unknown
names (:class:`~aclcore.errors.UnknownFamilyError`, from the registry), duplicates.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeAlias

import numpy as np
import torch

from aclcore.errors import ConfigError
from aclcore.fit.compose import parse_candidate
from aclcore.plugins.registry import get_family
from aclcore.symbolic.family import KernelFamily

__all__ = ["FamilySpecs", "check_target", "resolve_families"]

#: What ``families=`` accepts: one name/spelling/family, or a sequence of them.
FamilySpecs: TypeAlias = str | KernelFamily | Sequence[str | KernelFamily]


def check_target(target: object, *, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """The target bank as a ``(N, C, *k)`` tensor of ``dtype`` (1 to 3 spatial dimensions).

    Accepts a tensor or a NumPy array. Raises :class:`~aclcore.errors.ConfigError` for any
    other type, a wrong number of dimensions, an empty bank or non-finite values (naming
    the first kernel that has one).
    """
    if isinstance(target, np.ndarray):
        if not np.issubdtype(target.dtype, np.number) or np.iscomplexobj(target):
            raise ConfigError(f"target must hold real numbers, got a {target.dtype} array")
        target = torch.from_numpy(np.ascontiguousarray(target))
    if not isinstance(target, torch.Tensor):
        raise ConfigError(
            f"target must be a tensor or a NumPy array shaped (N, C, *kernel_size), got "
            f"{type(target).__name__}"
        )
    if target.is_complex() or target.dtype == torch.bool:
        raise ConfigError(f"target must hold real numbers, got {target.dtype}")
    if target.dim() not in (3, 4, 5):
        raise ConfigError(
            f"target must be shaped (N, C, *kernel_size) with 1 to 3 spatial dimensions "
            f"(like nn.ConvNd.weight), got shape {tuple(target.shape)}; add the channel "
            "dimension with target[:, None] for single-channel kernels"
        )
    if target.numel() == 0:
        raise ConfigError(f"target is empty (shape {tuple(target.shape)})")
    out = target.detach().to("cpu", dtype)
    finite = torch.isfinite(out).flatten(1).all(dim=1)
    if not bool(finite.all()):
        first = int((~finite).nonzero()[0, 0])
        raise ConfigError(
            f"target kernel {first} has NaN or infinite values ({int((~finite).sum())} "
            "kernel(s) in all); replace or drop them before fitting"
        )
    return out


def resolve_families(families: FamilySpecs, ndim: int, *, extent: float = 2.0
                     ) -> list[KernelFamily]:
    """The candidate families, each checked to have ``ndim`` coordinates.

    Strings are family names or spellings of :func:`aclcore.fit.compose.parse_candidate`
    (``"shifted(gabor)"``, ``"gabor+log"``); :class:`KernelFamily` objects are used as given.

    Raises:
        UnknownFamilyError: a name that is not registered (lists close names and plugins).
        ConfigError: no family, ``"free"``, a duplicate name, a family of the wrong
            dimension, or an item that is neither a string nor a family.
    """
    items = [families] if isinstance(families, (str, KernelFamily)) else families
    if not isinstance(items, Sequence) or not items:
        raise ConfigError(
            "families must name at least one family, e.g. ['gabor', 'gaussian'] (names, "
            f"KernelFamily objects or spellings such as 'shifted(gabor)'), got {families!r}"
        )
    out: list[KernelFamily] = []
    for item in items:
        if isinstance(item, KernelFamily):
            family = item
        elif isinstance(item, str):
            if item.strip() == "free":
                raise ConfigError(
                    "'free' is not a family to fit: kernels that no family explains within "
                    "tol stay free in fit_conv/convert; list analytic families only"
                )
            family = parse_candidate(item, get_family, extent)
        else:
            raise ConfigError(
                f"families entries must be names or KernelFamily objects, got {item!r}"
            )
        if family.ndim != ndim:
            raise ConfigError(
                f"family {family.name!r} has {family.ndim} coordinate(s) "
                f"{family.coord_names} but the target kernels have {ndim} spatial "
                f"dimension(s); use {ndim}-D families"
            )
        if any(f.name == family.name for f in out):
            raise ConfigError(f"family {family.name!r} is given twice; list each family once")
        out.append(family)
    return out
