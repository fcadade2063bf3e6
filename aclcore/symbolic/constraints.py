"""Constraints on analytic kernel parameters (AKPs) as reparameterisations.

The optimiser only ever sees an unconstrained *raw* tensor; a :class:`Constraint` maps it to
the constrained value the kernel formula uses (:meth:`Constraint.forward`) and back
(:meth:`Constraint.inverse`).

=============  ==========================================  =====================================
constraint     raw -> value                                 notes
=============  ==========================================  =====================================
``"real"``     ``v = r``                                    identity
``"positive"`` ``v = softplus(r) + 1e-6``                   strictly positive, gradient
                                                            ``sigmoid(r)`` (no ``exp`` blow-up);
                                                            values must exceed the ``1e-6`` floor
``"angle"``    ``v = r``                                    identity while training; exports wrap
                                                            angles into ``[0, 2 pi)``
``(lo, hi)``   ``v = lo + (hi - lo) * sigmoid(r)``          strictly inside ``(lo, hi)``: the
                                                            result is clamped to the nearest
                                                            representable values inside
=============  ==========================================  =====================================
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Union

from aclcore.errors import FamilyError

if TYPE_CHECKING:  # torch is imported by the methods that compute: declaring needs no torch
    import torch

__all__ = [
    "POSITIVE_FLOOR",
    "Angle",
    "Constraint",
    "ConstraintSpec",
    "Interval",
    "Positive",
    "Real",
    "as_constraint",
]

#: Smallest value the ``"positive"`` constraint produces (``softplus(raw) + POSITIVE_FLOOR``).
POSITIVE_FLOOR = 1e-6

ConstraintSpec = Union[str, tuple[float, float], "Constraint"]


class Constraint:
    """A bijection between an unconstrained raw tensor and a constrained value."""

    #: The map from raw to value, as shown in the docs.
    formula: ClassVar[str] = "v = r"

    @property
    def spec(self) -> str | tuple[float, float]:
        """The spelling used in family declarations, JSON and the CLI."""
        raise NotImplementedError

    def forward(self, raw: torch.Tensor) -> torch.Tensor:
        """Map an unconstrained raw tensor to the constrained value."""
        raise NotImplementedError

    def inverse(self, value: torch.Tensor) -> torch.Tensor:
        """Map a constrained value back to a raw tensor (``forward(inverse(v)) == v``)."""
        raise NotImplementedError

    def contains(self, value: float) -> bool:
        """Whether ``value`` lies in the constraint's domain (strictly, for open sets)."""
        return math.isfinite(value)

    def describe(self) -> str:
        """A short human description of the domain, used in error messages."""
        return "any finite real number"

    @property
    def positive(self) -> bool:
        """Whether every constrained value is > 0 (the compiler's limits may assume it)."""
        return False

    def to_json(self) -> str | list[float]:
        """The JSON spelling (a string, or ``[lo, hi]`` for an interval)."""
        spec = self.spec
        return [float(spec[0]), float(spec[1])] if isinstance(spec, tuple) else spec

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Constraint) and self.spec == other.spec

    def __hash__(self) -> int:
        return hash(self.spec)


class Real(Constraint):
    """No constraint: the raw tensor is the value."""

    @property
    def spec(self) -> str:
        return "real"

    def forward(self, raw: torch.Tensor) -> torch.Tensor:
        return raw

    def inverse(self, value: torch.Tensor) -> torch.Tensor:
        return value


class Angle(Real):
    """An angle in radians: the identity while training (no wrap-around discontinuity).

    Exports report angles wrapped into ``[0, 2 pi)`` (see :meth:`Angle.wrap`).
    """

    formula: ClassVar[str] = "v = r (identity while training; exports wrap into [0, 2 pi))"

    @property
    def spec(self) -> str:
        return "angle"

    def describe(self) -> str:
        return "an angle in radians (any finite real number)"

    @staticmethod
    def wrap(value: float) -> float:
        """Wrap an angle into ``[0, 2 pi)``."""
        wrapped = math.fmod(value, 2 * math.pi)
        if wrapped < 0:
            wrapped += 2 * math.pi
        return 0.0 if wrapped >= 2 * math.pi else wrapped


class Positive(Constraint):
    """Strictly positive: ``softplus(raw) + POSITIVE_FLOOR``.

    Softplus keeps the gradient bounded by 1 (unlike ``exp``) and the floor keeps the value
    strictly positive even when ``softplus`` underflows in float32.
    """

    formula: ClassVar[str] = f"v = softplus(r) + {POSITIVE_FLOOR:g}"

    @property
    def spec(self) -> str:
        return "positive"

    def forward(self, raw: torch.Tensor) -> torch.Tensor:
        import torch.nn.functional as F

        return F.softplus(raw) + POSITIVE_FLOOR

    def inverse(self, value: torch.Tensor) -> torch.Tensor:
        y = value - POSITIVE_FLOOR
        # softplus^-1(y) = log(expm1(y)) = y + log(-expm1(-y)), stable for large and small y
        return y + (-(-y).expm1()).log()

    def contains(self, value: float) -> bool:
        return math.isfinite(value) and value > POSITIVE_FLOOR

    def describe(self) -> str:
        return f"a finite number > {POSITIVE_FLOOR:g} (strictly positive)"

    @property
    def positive(self) -> bool:
        return True


@dataclass(frozen=True, eq=False)
class Interval(Constraint):
    """Strictly inside ``(lo, hi)``: ``lo + (hi - lo) * sigmoid(raw)``."""

    lo: float = 0.0
    hi: float = 1.0
    formula: ClassVar[str] = "v = lo + (hi - lo) * sigmoid(r), clamped strictly inside (lo, hi)"

    def __post_init__(self) -> None:
        if not (math.isfinite(self.lo) and math.isfinite(self.hi) and self.lo < self.hi):
            raise FamilyError(
                f"interval constraint ({self.lo!r}, {self.hi!r}) is invalid: "
                "expected finite lo < hi, e.g. constraint=(0.0, 1.0)"
            )

    @property
    def spec(self) -> tuple[float, float]:
        return (float(self.lo), float(self.hi))

    def forward(self, raw: torch.Tensor) -> torch.Tensor:
        value = self.lo + (self.hi - self.lo) * raw.sigmoid()
        lo_in, hi_in = self._inner_bounds(value.dtype)
        return value.clamp(lo_in, hi_in)

    def _inner_bounds(self, dtype: torch.dtype) -> tuple[float, float]:
        # the representable values next to the bounds, inside; plain Python/NumPy so that
        # torch.compile sees constants (no tensor -> .item() graph break)
        import numpy as np
        import torch

        np_dtype = {torch.float16: np.float16, torch.float32: np.float32}.get(dtype, np.float64)
        lo, hi = np_dtype(self.lo), np_dtype(self.hi)
        return float(np.nextafter(lo, hi)), float(np.nextafter(hi, lo))

    def inverse(self, value: torch.Tensor) -> torch.Tensor:
        unit = (value - self.lo) / (self.hi - self.lo)
        return unit.logit()

    def contains(self, value: float) -> bool:
        return math.isfinite(value) and self.lo < value < self.hi

    def describe(self) -> str:
        return f"a number strictly inside ({self.lo:g}, {self.hi:g})"

    @property
    def positive(self) -> bool:
        return self.lo >= 0

    def __repr__(self) -> str:
        return f"Interval({self.lo!r}, {self.hi!r})"


_NAMED: dict[str, Constraint] = {"real": Real(), "positive": Positive(), "angle": Angle()}


def as_constraint(spec: object) -> Constraint:
    """Turn a constraint spelling into a :class:`Constraint`.

    Accepts ``"real"``, ``"positive"``, ``"angle"``, a pair ``(lo, hi)`` (tuple or list, as
    read from JSON) or a :class:`Constraint` instance. Anything else raises
    :class:`~aclcore.errors.FamilyError` naming the accepted spellings.
    """
    if isinstance(spec, Constraint):
        return spec
    if isinstance(spec, str):
        try:
            return _NAMED[spec]
        except KeyError:
            raise FamilyError(
                f"unknown constraint {spec!r}: use 'real', 'positive', 'angle' or a pair (lo, hi)"
            ) from None
    if isinstance(spec, (tuple, list)) and len(spec) == 2:
        lo, hi = spec
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (lo, hi)):
            return Interval(float(lo), float(hi))
    raise FamilyError(
        f"invalid constraint {spec!r}: use 'real', 'positive', 'angle' or a pair (lo, hi) "
        "of finite numbers with lo < hi"
    )
