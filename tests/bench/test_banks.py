"""The hand-written baselines of the bank benchmark reproduce aclcore's banks (every family)."""

from __future__ import annotations

import pytest
import torch

import aclcore
from aclcore.bench.banks import GENERATORS, HAND_WRITTEN, measure_bank, measure_issue_gabor
from aclcore.nn.functional import sample_kernels
from aclcore.nn.grid import kernel_grid

pytestmark = pytest.mark.real_registry


@pytest.mark.parametrize("name", sorted(HAND_WRITTEN))
def test_hand_written_bank_equals_aclcore(name: str) -> None:
    family = aclcore.families()[name]
    size = (9,) * family.ndim
    gen = torch.Generator().manual_seed(1)
    akps = {p.name: p.sample((3, 2), generator=gen, dtype=torch.float64) for p in family.params}
    torch.testing.assert_close(HAND_WRITTEN[name](kernel_grid(size, dtype=torch.float64), akps),
                               sample_kernels(family, akps, size), rtol=1e-10, atol=1e-12)


def test_every_classic_family_has_a_hand_written_baseline() -> None:
    acl_classic = pytest.importorskip("acl_classic")
    assert {f.name for f in acl_classic.FAMILIES} == set(HAND_WRITTEN)


def test_measure_bank_reports_every_generator_timed_or_skipped() -> None:
    result = measure_bank("sinc_bandpass", count=(2, 2), size=9, rounds=1, repeats=1)
    assert result.comparison is not None
    reported = set(result.comparison.times) | set(result.skipped)
    assert {"aclcore", "hand-written", "lambdify", "sympytorch"} <= reported
    assert "lambdify" in result.skipped  # SymPy's torch printer has no sinc
    assert reported <= set(GENERATORS)


def test_the_issue_gabor_is_measured_against_lambdify() -> None:
    c = measure_issue_gabor(count=(2, 2), rounds=1, repeats=1)
    assert c.baseline == "lambdify" and set(c.times) == {"aclcore", "hand-written", "lambdify"}
