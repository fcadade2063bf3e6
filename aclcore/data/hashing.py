"""Bounded reads with a pinned SHA-256: a corrupt or tampered file is refused before use."""

from __future__ import annotations

import gzip
import hashlib
import io
from typing import BinaryIO

from aclcore.errors import DataError

__all__ = ["check_sha256", "gunzip", "read_bounded"]


def read_bounded(stream: BinaryIO, limit: int, what: str) -> bytes:
    """All of ``stream``, refusing more than ``limit`` bytes (a DataError names ``what``)."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise DataError(f"{what}: larger than the {limit} bytes expected; the file is not the "
                        "expected data set")
    return data


def check_sha256(data: bytes, expected: str, what: str, fix: str) -> None:
    """Raise a DataError unless ``sha256(data)`` is ``expected`` (hex); ``fix`` says what to do."""
    digest = hashlib.sha256(data).hexdigest()
    if digest != expected:
        raise DataError(
            f"{what}: SHA-256 {digest} does not match the pinned {expected}: the file is "
            f"corrupt or was tampered with, so it is not read; {fix}"
        )


def gunzip(data: bytes, limit: int, what: str) -> bytes:
    """Decompress gzip ``data``, refusing an output over ``limit`` bytes (zip bombs)."""
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
            return read_bounded(stream, limit, what)  # type: ignore[arg-type]
    except (OSError, EOFError) as err:
        raise DataError(f"{what}: not a readable gzip file ({err})") from None
