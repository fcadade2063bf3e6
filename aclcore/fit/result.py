"""What :func:`aclcore.fit.fit_kernels` returns: every family's fit and the ranking.

* :class:`FamilyFit`: one family fitted to every kernel of a bank: its best AKPs (raw and
  constrained, shaped like an analytic layer's), gains, fitted kernels and errors.
* :class:`Candidate`: one family's record on one kernel (error, parameters, score).
* :class:`FitResult`: all of them, with the per-kernel ranking.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import torch

from aclcore.errors import ConfigError
from aclcore.symbolic.family import KernelFamily

__all__ = ["Candidate", "FamilyFit", "FitOptions", "FitResult"]


@dataclass(frozen=True)
class FitOptions:
    """How the kernels were sampled and fitted (what a layer must use to reproduce them).

    Attributes:
        share_akps: one AKP set per kernel shared by its channels (with a gain per channel)
            instead of one per channel.
        dilation: tap spacing, as the layer's ``dilation``.
        discretization: ``"sample"`` or ``"integrate"``.
        quadrature: points per axis of ``"integrate"``.
        normalize: the normalisation used for every family, ``None`` for each family's own.
        seed: the seed of the multi-start draws.
    """

    share_akps: bool
    dilation: tuple[int, ...]
    discretization: str
    quadrature: int
    normalize: str | None
    seed: int


@dataclass(frozen=True)
class FamilyFit:
    """One family fitted to every kernel of a bank of ``N`` kernels of ``C`` channels.

    Attributes:
        family: the family.
        akps: constrained AKPs by name, ``(N, C)`` (separate per channel) or ``(N, 1)``
            (shared geometry): the shapes of an analytic layer's ``values()``.
        raw: the unconstrained AKPs by name (the layer's ``raw_<akp>`` parameters).
        gains: the per-channel gains, ``(N, C)``.
        kernels: the fitted kernels, ``(N, C, *kernel_size)``.
        errors: relative L2 error ``||t - fit|| / ||t||`` of every kernel, ``(N,)`` (0 for an
            all-zero kernel).
        residuals: the squared residual ``||t - fit||^2`` of every kernel, ``(N,)``.
        n_params: parameters per kernel (AKPs and gains, see :mod:`aclcore.fit.scoring`).
    """

    family: KernelFamily
    akps: Mapping[str, torch.Tensor]
    raw: Mapping[str, torch.Tensor]
    gains: torch.Tensor
    kernels: torch.Tensor
    errors: torch.Tensor
    residuals: torch.Tensor
    n_params: int

    @property
    def name(self) -> str:
        """The family's name."""
        return self.family.name


@dataclass(frozen=True)
class Candidate:
    """One family on one kernel: the rows of a ranking.

    Attributes:
        family: the family's name.
        error: relative L2 error of its best fit.
        n_params: parameters it needs for the kernel.
        score: the ranking score (lower is better, see :mod:`aclcore.fit.scoring`).
    """

    family: str
    error: float
    n_params: int
    score: float


@dataclass(frozen=True)
class FitResult:
    """Every family fitted to every kernel of ``target``, ranked per kernel.

    Attributes:
        target: the kernels that were fitted, ``(N, C, *kernel_size)`` (float64).
        fits: the :class:`FamilyFit` of every family, by name, in the order given.
        scores: ranking scores ``(N, F)`` (families in the order of ``fits``).
        order: family indices of every kernel from best to worst, ``(N, F)``.
        parsimony: the parsimony used by the scores.
        options: how the kernels were sampled and fitted.
    """

    target: torch.Tensor
    fits: Mapping[str, FamilyFit]
    scores: torch.Tensor
    order: torch.Tensor
    parsimony: float
    options: FitOptions
    _names: tuple[str, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_names", tuple(self.fits))

    @property
    def names(self) -> tuple[str, ...]:
        """The family names, in the order given."""
        return self._names

    @property
    def kernel_count(self) -> int:
        """Number of kernels ``N``."""
        return int(self.target.shape[0])

    @property
    def errors(self) -> torch.Tensor:
        """Relative errors ``(N, F)``, families in the order of :attr:`names`."""
        return torch.stack([f.errors for f in self.fits.values()], dim=1)

    @property
    def n_params(self) -> torch.Tensor:
        """Parameters per kernel of every family, ``(F,)``."""
        return torch.tensor([f.n_params for f in self.fits.values()])

    def ranking(self, kernel: int) -> list[Candidate]:
        """The families on kernel ``kernel``, best first."""
        if not 0 <= kernel < self.kernel_count:
            raise IndexError(f"kernel {kernel} is out of range 0..{self.kernel_count - 1}")
        rows = []
        for j in self.order[kernel].tolist():
            fit = self.fits[self._names[j]]
            rows.append(Candidate(fit.name, float(fit.errors[kernel]), fit.n_params,
                                  float(self.scores[kernel, j])))
        return rows

    def best(self) -> list[str]:
        """The best-ranked family of every kernel."""
        return [self._names[j] for j in self.order[:, 0].tolist()]

    def best_errors(self) -> torch.Tensor:
        """The relative error of every kernel's best-ranked family, ``(N,)``."""
        return torch.gather(self.errors, 1, self.order[:, :1])[:, 0]

    def check_choice(self, choice: Sequence[str | None]) -> None:
        """ConfigError unless ``choice`` has one fitted family name or ``None`` per kernel."""
        if len(choice) != self.kernel_count:
            raise ConfigError(f"choice has {len(choice)} entries for {self.kernel_count} "
                              "kernels; give one family name (or None: free) per kernel")
        unknown = sorted({c for c in choice if c is not None and c not in self.fits})
        if unknown:
            raise ConfigError(f"choice names families that were not fitted: {unknown}; "
                              f"fitted: {list(self.names)}")

    def kernels(self, choice: Sequence[str | None]) -> torch.Tensor:
        """The bank with kernel ``n`` from family ``choice[n]`` (the target where ``None``)."""
        self.check_choice(choice)
        out = self.target.clone()
        for n, name in enumerate(choice):
            if name is not None:
                out[n] = self.fits[name].kernels[n]
        return out

    def bank_error(self, choice: Sequence[str | None]) -> float:
        """Relative L2 error of the whole bank with kernel ``n`` from ``choice[n]``."""
        self.check_choice(choice)
        total = float((self.target * self.target).sum())
        res = sum(float(self.fits[name].residuals[n])
                  for n, name in enumerate(choice) if name is not None)
        return math.sqrt(res / total) if total > 0 else 0.0
