"""A restricted unpickler for pickles that hold only numpy arrays (and tuples of them).

The classic MNIST pickle (a Python 2 pickle of ``((x, y), (x, y), (x, y))``) needs exactly
three globals: ``numpy.core.multiarray._reconstruct``, ``numpy.ndarray`` and ``numpy.dtype``.
:func:`load_array_pickle` resolves only those, each to a checking wrapper: arrays of the
plain ``numpy.ndarray`` class only and dtypes of booleans, integers and floats only (no
object arrays, whose elements would be built by the pickle). Any other global (``os.system``,
``builtins.eval``, a class ...) is refused with a :class:`~aclcore.errors.DataError` before it
is looked up, so nothing named by the file is ever imported or called.
"""

from __future__ import annotations

import io
import pickle
from typing import Any

import numpy as np

from aclcore.errors import DataError

__all__ = ["ALLOWED_GLOBALS", "load_array_pickle"]

#: The only globals a pickle may name, as ``(module, name)``.
ALLOWED_GLOBALS = (
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
)
_PLAIN_KINDS = "biuf"


def _dtype(spec: object, align: object = False, copy: object = False) -> np.dtype[Any]:
    """``numpy.dtype`` for plain numeric dtypes only."""
    if not isinstance(spec, str) or len(spec) > 8:
        raise DataError(f"refused dtype {spec!r}: only plain numeric dtypes may be unpickled")
    dtype = np.dtype(spec)
    if dtype.kind not in _PLAIN_KINDS or dtype.hasobject or dtype.fields is not None:
        raise DataError(f"refused dtype {spec!r}: only bool, int and float arrays may be "
                        "unpickled")
    return dtype


def _reconstruct(cls: object, shape: object, typecode: object) -> np.ndarray[Any, Any]:
    """numpy's array reconstructor, for the plain ``numpy.ndarray`` class only."""
    if cls is not np.ndarray:
        raise DataError(f"refused array class {cls!r}: only numpy.ndarray may be unpickled")
    if not isinstance(shape, tuple) or not isinstance(typecode, (bytes, str)):
        raise DataError("refused malformed array reconstruction arguments")
    array: np.ndarray[Any, Any] = np.ndarray.__new__(np.ndarray, shape, np.uint8)
    return array


class _ArrayUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in ALLOWED_GLOBALS:
            raise DataError(
                f"refused to unpickle the global {module}.{name}: this file may only hold "
                "numpy arrays (a pickle naming other code could run it); the file is not "
                "the expected data set"
            )
        if name == "_reconstruct":
            return _reconstruct
        return np.ndarray if name == "ndarray" else _dtype

    def persistent_load(self, pid: Any) -> Any:
        raise DataError("refused a pickle with persistent ids: only numpy arrays are allowed")


def _check(value: Any, depth: int = 0) -> None:
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in _PLAIN_KINDS or value.dtype.hasobject:
            raise DataError(f"refused an array of dtype {value.dtype}: only numbers allowed")
        return
    if isinstance(value, (tuple, list)) and depth < 4:
        for item in value:
            _check(item, depth + 1)
        return
    raise DataError(f"refused a pickled {type(value).__name__}: only (nested tuples of) numpy "
                    "arrays are allowed")


def load_array_pickle(data: bytes, what: str) -> Any:
    """Unpickle ``data`` (numpy arrays in nested tuples only); ``what`` names it in errors.

    Python 2 pickles are read with ``encoding="latin1"`` (their array bytes are ``str``).

    Raises:
        DataError: the pickle names a global other than :data:`ALLOWED_GLOBALS`, holds
            anything but numeric arrays in tuples/lists, or is malformed.
    """
    try:
        value = _ArrayUnpickler(io.BytesIO(data), encoding="latin1").load()
    except DataError as err:
        raise DataError(f"{what}: {err}") from None
    except Exception as err:  # malformed pickles raise many types; nothing unsafe ran
        raise DataError(f"{what}: not a readable array pickle ({type(err).__name__}: "
                        f"{str(err)[:200]})") from None
    try:
        _check(value)
    except DataError as err:
        raise DataError(f"{what}: {err}") from None
    return value
