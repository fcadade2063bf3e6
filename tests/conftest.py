"""Shared fixtures: a fresh registry per test, dtype/device parametrisation; test profiles.

Property tests are derandomized by default (the ``ci`` hypothesis profile), so the README's
test command gives the same answer on every run and machine. ``ACL_HYPOTHESIS_PROFILE=explore``
draws fresh random examples, more of them, for local bug hunting; what it finds is pinned as
explicit ``@example`` cases.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import torch
from hypothesis import settings

from aclcore.plugins import Registry, use_registry

settings.register_profile("ci", derandomize=True, database=None, deadline=None,
                          print_blob=True)
settings.register_profile("explore", derandomize=False, max_examples=1000, deadline=None)
settings.load_profile(os.environ.get("ACL_HYPOTHESIS_PROFILE", "ci"))


DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "real_registry: use the process registry (installed plugins) instead of a "
        "fresh empty one"
    )


@pytest.fixture(autouse=True)
def _fresh_registry(request: pytest.FixtureRequest) -> Iterator[Registry | None]:
    """Every test gets a fresh, empty registry unless marked ``real_registry``."""
    if request.node.get_closest_marker("real_registry"):
        yield None
        return
    with use_registry(Registry(loader=None)) as reg:
        yield reg


@pytest.fixture
def registry(_fresh_registry: Registry | None) -> Registry:
    """The fresh registry of this test (empty, no plugin loading)."""
    assert _fresh_registry is not None, "registry fixture used in a real_registry test"
    return _fresh_registry


@pytest.fixture(params=[torch.float32, torch.float64], ids=["f32", "f64"])
def dtype(request: pytest.FixtureRequest) -> torch.dtype:
    """Both floating dtypes a kernel is computed in."""
    return request.param  # type: ignore[no-any-return]


@pytest.fixture(params=DEVICES)
def device(request: pytest.FixtureRequest) -> torch.device:
    """CPU, plus CUDA where available (GPU tests skip when there is none)."""
    return torch.device(request.param)
