"""The restricted unpickler: numpy arrays in tuples load; anything else is refused unexecuted."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
from helpers.data import Hostile

from aclcore.data.safe_pickle import load_array_pickle
from aclcore.errors import DataError


@pytest.mark.parametrize("protocol", [2, 3, 4])
def test_numeric_arrays_in_tuples_load(protocol: int) -> None:
    value = ((np.arange(6, dtype=np.float32).reshape(2, 3), np.array([1, 2], dtype=np.int64)),
             np.zeros(3, dtype=np.uint8))
    if protocol == 2:  # Python 3 writes protocol-2 bytes via _codecs.encode: refused
        with pytest.raises(DataError, match=r"_codecs\.encode"):
            load_array_pickle(pickle.dumps(value, protocol=protocol), "f")
        return
    loaded = load_array_pickle(pickle.dumps(value, protocol=protocol), "f")
    np.testing.assert_array_equal(loaded[0][0], value[0][0])
    assert loaded[0][1].dtype == np.int64 and loaded[1].dtype == np.uint8


def test_a_hostile_pickle_is_refused_and_nothing_runs(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    payload = pickle.dumps((np.zeros(2), Hostile(marker)), protocol=4)
    pickle.loads(payload)  # the plain unpickler runs it: the marker proves the payload works
    assert marker.exists()
    marker.unlink()
    with pytest.raises(DataError, match=r"hostile\.pkl: refused to unpickle the global "
                                        r"(builtins|io)\.open"):
        load_array_pickle(payload, "hostile.pkl")
    assert not marker.exists()


def test_object_arrays_are_refused() -> None:
    payload = pickle.dumps(np.array([1, "a"], dtype=object), protocol=4)
    with pytest.raises(DataError, match="refused dtype 'O8'"):
        load_array_pickle(payload, "objects")


def test_structured_dtypes_and_other_values_are_refused() -> None:
    structured = np.zeros(2, dtype=[("a", "f4"), ("b", "i4")])
    with pytest.raises(DataError, match="refused dtype"):
        load_array_pickle(pickle.dumps(structured, protocol=4), "structured")
    with pytest.raises(DataError, match="refused a pickled dict"):
        load_array_pickle(pickle.dumps({"x": np.zeros(1)}, protocol=4), "a dict")


def test_persistent_ids_and_garbage_are_refused() -> None:
    class Writer(pickle.Pickler):
        def persistent_id(self, obj: object) -> str | None:
            return "ref" if isinstance(obj, str) else None

    import io

    buffer = io.BytesIO()
    Writer(buffer, protocol=4).dump(("text",))
    with pytest.raises(DataError, match="persistent ids"):
        load_array_pickle(buffer.getvalue(), "pid")
    with pytest.raises(DataError, match="garbage: not a readable array pickle"):
        load_array_pickle(b"\x80\x04not a pickle", "garbage")
