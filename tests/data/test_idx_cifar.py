"""IDX and CIFAR-10 binary readers, on small generated files."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers.data import cifar_records, idx_bytes, write_cifar10, write_mnist_idx

from aclcore.data.cifar import load_cifar10, read_batch
from aclcore.data.idx import load_mnist_idx, parse_idx, read_idx
from aclcore.errors import DataError


@pytest.mark.parametrize("type_byte", [0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E])
def test_parse_idx_round_trips_every_type(type_byte: int) -> None:
    array = (np.arange(24) % 100).reshape(2, 3, 4)
    out = parse_idx(idx_bytes(array, type_byte), "f")
    assert out.shape == (2, 3, 4)
    np.testing.assert_array_equal(out, array)


def test_parse_idx_refuses_bad_magic_and_truncation() -> None:
    with pytest.raises(DataError, match="bad magic number 01000801"):
        parse_idx(b"\x01\x00\x08\x01" + b"\x00" * 8, "f")
    good = idx_bytes(np.zeros((4, 2, 2), dtype=np.uint8))
    with pytest.raises(DataError, match="truncated or corrupt"):
        parse_idx(good[:-1], "f")
    with pytest.raises(DataError, match="truncated or corrupt"):
        parse_idx(good + b"\x00", "f")


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_idx_directory(tmp_path: Path, gz: bool) -> None:
    arrays = write_mnist_idx(tmp_path, n_train=30, n_test=12, gz=gz)
    data = load_mnist_idx(tmp_path)
    assert (len(data.train), len(data.val), len(data.test)) == (25, 5, 12)
    assert data.image_shape == (1, 28, 28) and data.num_classes == 10
    # the validation split is the last 5 training images (in a fixed shuffled order)
    raw = data.denormalize(data.val.images)
    expected = torch.from_numpy(arrays["train-images-idx3-ubyte"][25:]).float() / 255
    got = sorted(raw[:, 0].reshape(5, -1).sum(1).round(decimals=3).tolist())
    assert got == sorted(expected.reshape(5, -1).sum(1).round(decimals=3).tolist())
    assert torch.allclose(data.train.images.mean(), torch.tensor(0.0), atol=1e-4)


def test_mnist_idx_missing_and_mismatched_files(tmp_path: Path) -> None:
    write_mnist_idx(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DataError, match=r"no t10k-labels-idx1-ubyte .*download them"):
        load_mnist_idx(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(3, dtype=np.uint8)))
    with pytest.raises(DataError, match=r"test images \(12, 28, 28\) and labels \(3,\) do not "
                                        "match"):
        load_mnist_idx(tmp_path)


def test_read_idx_refuses_a_broken_gzip(tmp_path: Path) -> None:
    path = tmp_path / "x-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros(5, dtype=np.uint8)))[:-6])
    with pytest.raises(DataError, match="not a readable gzip file"):
        read_idx(path)


def test_cifar_batch_layout(tmp_path: Path) -> None:
    data, images, labels = cifar_records(3, seed=1)
    (tmp_path / "b.bin").write_bytes(data)
    x, y = read_batch(tmp_path / "b.bin")
    assert x.shape == (3, 3, 32, 32) and x.dtype == np.uint8
    np.testing.assert_array_equal(x, images)
    np.testing.assert_array_equal(y, labels)
    # record layout: label byte, then the red plane row by row
    assert x[1, 0, 0, 1] == data[3073 + 1 + 1]


def test_cifar_batch_refuses_bad_sizes_and_labels(tmp_path: Path) -> None:
    data, _, _ = cifar_records(2, seed=0)
    (tmp_path / "short.bin").write_bytes(data[:-1])
    with pytest.raises(DataError, match="not a whole number of CIFAR-10 records"):
        read_batch(tmp_path / "short.bin")
    bad = bytearray(data)
    bad[0] = 17
    (tmp_path / "label.bin").write_bytes(bytes(bad))
    with pytest.raises(DataError, match="label 17 is out of range"):
        read_batch(tmp_path / "label.bin")


def test_cifar10_directory(tmp_path: Path) -> None:
    write_cifar10(tmp_path / "cifar-10-batches-bin", per_batch=4, n_test=6)
    data = load_cifar10(tmp_path)  # the unpacked archive's subdirectory is found
    assert (len(data.train), len(data.val), len(data.test)) == (18, 2, 6)
    assert data.image_shape == (3, 32, 32) and len(data.mean) == 3
    (tmp_path / "cifar-10-batches-bin" / "data_batch_3.bin").unlink()
    with pytest.raises(DataError, match=r"no data_batch_3\.bin.*cifar\.html"):
        load_cifar10(tmp_path)
