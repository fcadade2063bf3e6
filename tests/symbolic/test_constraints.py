"""Constraints are reparameterisations: raw <-> value round trips, domains, conditioning."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from aclcore.errors import AclError, FamilyError
from aclcore.symbolic.constraints import (
    POSITIVE_FLOOR,
    Angle,
    Interval,
    Positive,
    Real,
    as_constraint,
)

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=2 * POSITIVE_FLOOR, max_value=1e6))
def test_positive_round_trip(value: float) -> None:
    c = Positive()
    v = torch.tensor(value, dtype=torch.float64)
    back = c.forward(c.inverse(v))
    assert back.item() == pytest.approx(value, rel=1e-9, abs=1e-12)


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=-1e4, max_value=1e4))
def test_positive_stays_strictly_positive_with_bounded_gradient(raw: float) -> None:
    for dtype in (torch.float32, torch.float64):
        r = torch.tensor(raw, dtype=dtype, requires_grad=True)
        v = Positive().forward(r)
        (g,) = torch.autograd.grad(v, r)
        assert v.item() > 0
        assert 0.0 <= g.item() <= 1.0


@settings(max_examples=200, deadline=None)
@given(
    st.floats(min_value=-50, max_value=50),
    st.floats(min_value=0.01, max_value=100),
    st.floats(min_value=-1e4, max_value=1e4),
)
def test_interval_strictly_inside(lo: float, width: float, raw: float) -> None:
    hi = lo + width
    c = Interval(lo, hi)
    for dtype in (torch.float32, torch.float64):
        v = c.forward(torch.tensor(raw, dtype=dtype)).item()
        assert lo < v < hi


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=0.001, max_value=0.999))
def test_interval_round_trip(unit: float) -> None:
    c = Interval(-2.0, 6.0)
    value = -2.0 + 8.0 * unit
    back = c.forward(c.inverse(torch.tensor(value, dtype=torch.float64)))
    assert back.item() == pytest.approx(value, rel=1e-12, abs=1e-12)


@given(finite)
def test_real_and_angle_are_identity(value: float) -> None:
    t = torch.tensor(value, dtype=torch.float64)
    for c in (Real(), Angle()):
        assert c.forward(t).item() == value
        assert c.inverse(t).item() == value


@pytest.mark.parametrize(
    ("angle", "wrapped"),
    [(0.0, 0.0), (-math.pi / 2, 1.5 * math.pi), (7 * math.pi, math.pi), (2 * math.pi, 0.0)],
)
def test_angle_wrap(angle: float, wrapped: float) -> None:
    w = Angle.wrap(angle)
    assert 0.0 <= w < 2 * math.pi
    assert w == pytest.approx(wrapped, abs=1e-12)


def test_as_constraint_spellings() -> None:
    assert isinstance(as_constraint("positive"), Positive)
    assert isinstance(as_constraint("angle"), Angle)
    assert as_constraint((0, 1)) == Interval(0.0, 1.0)
    assert as_constraint([0.0, 2.0]).to_json() == [0.0, 2.0]
    assert as_constraint("real").to_json() == "real"


@pytest.mark.parametrize("spec", ["positiv", (1.0, 0.0), (0.0, math.inf), (0, 1, 2), 3, None])
def test_invalid_constraints_raise_family_error(spec: object) -> None:
    with pytest.raises(FamilyError) as info:
        as_constraint(spec)
    assert isinstance(info.value, AclError)
    assert "constraint" in str(info.value)


def test_contains_matches_domain() -> None:
    assert not Positive().contains(0.0)
    assert Positive().contains(1e-3)
    assert not Interval(0, 1).contains(1.0)
    assert Interval(0, 1).contains(0.5)
    assert not Real().contains(math.nan)
