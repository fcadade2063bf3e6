"""``--threads``: a number, or auto (OMP_NUM_THREADS, else the CPUs not busy)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch

from aclcore.errors import ConfigError
from aclcore.train import threads


@pytest.fixture(autouse=True)
def _restore() -> Iterator[None]:
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_a_number_is_applied() -> None:
    assert threads.set_threads("1") == 1 == torch.get_num_threads()


def test_auto_follows_omp_num_threads_then_the_load(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert threads.set_threads("auto") == 1
    monkeypatch.delenv("OMP_NUM_THREADS")
    monkeypatch.setattr(threads, "_cpus", lambda: 8)
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (2.6, 0.0, 0.0))
    assert threads.auto_threads() == 5
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (30.0, 0.0, 0.0))
    assert threads.auto_threads() == 1


@pytest.mark.parametrize("bad", ["0", "many", -2])
def test_bad_values(bad: object) -> None:
    with pytest.raises(ConfigError, match="--threads must be a positive int or auto"):
        threads.set_threads(bad)  # type: ignore[arg-type]
