"""The fitting objective of one family: least squares with the gains projected out.

A *unit* is what one set of AKPs must explain: a kernel of ``C`` channels with shared
geometry (one AKP set, one gain per channel), or a single channel (its own AKPs and gain).
For AKPs ``p`` the family gives the sampled, normalised kernel ``b(p)`` (exactly what
:func:`aclcore.nn.functional.sample_kernels` gives an analytic layer) and the best gains are
the least-squares projections ``g_c = <t_c, b> / <b, b>`` (variable projection): only the
AKPs are optimised, the gains follow in closed form. The loss of a unit is its relative
squared residual ``sum_c ||t_c - g_c b||^2 / ||t||^2``.

The optimiser sees the AKPs as *raw* unconstrained values (each Param's constraint is the
reparameterisation, as in a layer); the gains are detached, which leaves the gradient exact
at the projected optimum (``d loss / d g = 0`` there).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from aclcore.compile.compiler import CompiledFamily, compile_family
from aclcore.nn.functional import sample_kernels
from aclcore.symbolic.family import KernelFamily

__all__ = ["TINY", "Evaluation", "LossOf", "Objective"]

#: Floor of squared norms in denominators (an all-zero target or basis stays finite).
TINY = 1e-30


@dataclass(frozen=True)
class Evaluation:
    """The objective at a batch of raw AKPs.

    Attributes:
        loss: relative squared residual of every problem, ``(B,)`` (NaN where the family is
            not finite).
        residual: absolute squared residual ``sum ||t - g b||^2``, ``(B,)``.
        gains: the projected gains, ``(B, C)``.
        kernels: the fitted kernels ``g_c * b``, ``(B, C, *kernel_size)``.
    """

    loss: torch.Tensor
    residual: torch.Tensor
    gains: torch.Tensor
    kernels: torch.Tensor


class Objective:
    """Variable-projection least squares of one family against a stack of units.

    Args:
        family: the family whose AKPs are fitted.
        units: the targets, ``(U, C, *kernel_size)``.
        dilation: tap spacing (as the layer's ``dilation``).
        discretization, quadrature, normalize: as for
            :func:`~aclcore.nn.functional.sample_kernels` (``normalize=None``: the
            family's own).
    """

    def __init__(
        self,
        family: KernelFamily,
        units: torch.Tensor,
        *,
        dilation: Sequence[int],
        discretization: str = "sample",
        quadrature: int = 4,
        normalize: str | None = None,
    ) -> None:
        self.family = family
        self.compiled: CompiledFamily = compile_family(family)
        self.units = units
        self.kernel_size = tuple(units.shape[2:])
        self.dilation = tuple(dilation)
        self.discretization = discretization
        self.quadrature = quadrature
        self.normalize = normalize
        self.flat = units.reshape(units.shape[0], units.shape[1], -1)
        self.norm2 = (self.flat * self.flat).sum(dim=(1, 2))
        self.constraints = tuple(p.constraint_obj for p in family.params)

    @property
    def dim(self) -> int:
        """Number of AKPs (unknowns per problem)."""
        return len(self.constraints)

    def values(self, raw: torch.Tensor) -> dict[str, torch.Tensor]:
        """Constrained AKPs ``(B, 1)`` by name from raw values ``(B, P)``."""
        return {
            name: c.forward(raw[:, i : i + 1])
            for i, (name, c) in enumerate(zip(self.family.param_names, self.constraints,
                                                strict=True))
        }

    def basis(self, raw: torch.Tensor) -> torch.Tensor:
        """The sampled, normalised family kernels ``(B, 1, *kernel_size)`` at raw AKPs."""
        return sample_kernels(
            self.compiled, self.values(raw), self.kernel_size, self.dilation,
            discretization=self.discretization, quadrature=self.quadrature,
            normalize=self.normalize, check_finite=False, dtype=raw.dtype, device=raw.device,
        ).expand(raw.shape[0], 1, *self.kernel_size)

    def evaluate(self, raw: torch.Tensor, unit: torch.Tensor) -> Evaluation:
        """The objective of problems ``raw`` ``(B, P)`` fitting units ``unit`` ``(B,)``."""
        basis = self.basis(raw)
        b = basis.reshape(basis.shape[0], 1, -1)
        t = self.flat[unit]
        bb = (b * b).sum(-1)
        gains = ((t * b).sum(-1) / bb.clamp_min(TINY)).detach()
        r = t - gains.unsqueeze(-1) * b
        residual = (r * r).sum(dim=(1, 2))
        loss = residual / self.norm2[unit].clamp_min(TINY)
        kernels = (gains.unsqueeze(-1) * b).reshape(b.shape[0], t.shape[1], *self.kernel_size)
        return Evaluation(loss, residual, gains, kernels)

    def loss(self, unit: torch.Tensor) -> LossOf:
        """``raw -> loss`` for problems fitting the units ``unit`` (for the minimisers)."""
        return LossOf(self, unit)


class LossOf:
    """The loss function of a fixed assignment of problems to units (a picklable callable)."""

    def __init__(self, objective: Objective, unit: torch.Tensor) -> None:
        self.objective = objective
        self.unit = unit

    def __call__(self, raw: torch.Tensor) -> torch.Tensor:
        """Relative squared residual of every problem, ``(B,)``."""
        return self.objective.evaluate(raw, self.unit).loss
