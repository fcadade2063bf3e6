"""Strict reading of untrusted export documents: bounded JSON parsing and typed field checks.

Private helper of :mod:`aclcore.export`. Nothing here evaluates anything: the text is parsed by
:func:`json.loads` after its size is checked, with hooks that reject ``NaN``/``Infinity``,
non-finite floats, over-long integer literals and duplicate keys; the nesting depth is bounded
(the C decoder's recursion guard, then an iterative walk). Every field is then checked for its
type and range, and every problem raises :class:`~aclcore.errors.ExportError` naming the JSON
path of the offending field, e.g. ``layers[0].families[1].params[2].constraint``.
:func:`make_directory` creates the output directories of the writers.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import torch

from aclcore.errors import ExportError

__all__ = ["DTYPES", "FORMAT", "VERSION", "ExportLimits", "Reader", "load_json", "make_directory",
           "plain_value"]

#: The ``format`` field of an export document.
FORMAT = "aclcore.export"
#: The current (and only) version of the export format.
VERSION = 1

#: dtype names a document may use for tensors (name -> torch dtype).
DTYPES: dict[str, torch.dtype] = {
    "float16": torch.float16, "bfloat16": torch.bfloat16,
    "float32": torch.float32, "float64": torch.float64,
}
_MAX_TENSOR_DIMS = 8


@dataclass(frozen=True)
class ExportLimits:
    """Limits applied to exported documents and checkpoints before anything is allocated.

    Attributes:
        max_chars: longest JSON text (characters, or bytes for ``bytes`` input).
        max_depth: deepest nesting of JSON arrays/objects.
        max_layers: layers in one document.
        max_families: mosaic entries of one layer.
        max_params: AKPs of one family.
        max_channels: ``in_channels``/``out_channels``/``groups`` of a layer.
        max_kernel_size: kernel size, stride and dilation along one axis; padding bound.
        max_bank_elements: elements of a layer's kernel bank (``out * in/groups * taps``).
        max_total_bank_elements: elements of all the layers' kernel banks together (a small
            document may describe large analytic banks: their AKPs are few numbers).
        max_samples: formula evaluations to sample a bank (taps times quadrature nodes).
        max_work: Python-level calls of SymPy work the whole document may cost (parsing its
            formulas, finding the limits of removable singularities while compiling its
            families): a count, not a clock, so that a document is accepted or refused alike
            on every machine (about 20 s of SymPy work here; each family on its own is also
            bounded by the compiler's own limits).
        max_formula_chars: longest formula string (given to the safe parser).
        max_text_chars: longest other string (descriptions, names, notes).
        max_int_digits: longest integer literal.
        max_file_bytes: largest checkpoint file.
    """

    max_chars: int = 256 * 2**20
    max_depth: int = 32
    max_layers: int = 4096
    max_families: int = 256
    max_params: int = 64
    max_channels: int = 2**20
    max_kernel_size: int = 4096
    max_bank_elements: int = 2**26
    max_total_bank_elements: int = 2**27
    max_samples: int = 2**30
    max_work: int = 20_000_000
    max_formula_chars: int = 20_000
    max_text_chars: int = 100_000
    max_int_digits: int = 40
    max_file_bytes: int = 2**36


def _fail(path: str, message: str) -> NoReturn:
    raise ExportError(f"{path or 'document'}: {message}")


def _kind(value: object) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
             int: "an integer", float: "a number", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def load_json(text: object, limits: ExportLimits) -> Any:
    """Parse ``text`` (str or UTF-8 bytes) within ``limits``; ExportError on any problem."""
    if isinstance(text, (bytes, bytearray)):
        if len(text) > limits.max_chars:
            _fail("", f"too large: {len(text)} bytes (the limit is "
                      f"{limits.max_chars})")
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as err:
            raise ExportError(f"document is not UTF-8 text: {err}") from None
    if not isinstance(text, str):
        raise ExportError(f"an export document is a JSON string, not {type(text).__name__}")
    if len(text) > limits.max_chars:
        _fail("", f"too large: {len(text)} characters (the limit is "
                  f"{limits.max_chars})")

    def constant(name: str) -> NoReturn:
        raise ExportError(f"document: {name} is not allowed (numbers must be finite)")

    def integer(literal: str) -> int:
        if len(literal.lstrip("-")) > limits.max_int_digits:
            raise ExportError(f"document: integer literal with {len(literal)} digits (the "
                              f"limit is {limits.max_int_digits})")
        return int(literal)

    def number(literal: str) -> float:
        if len(literal) > 64:
            raise ExportError(f"document: number literal of {len(literal)} characters")
        value = float(literal)
        if not math.isfinite(value):
            raise ExportError(f"document: number {literal} is out of range (not finite)")
        return value

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in items:
            if key in out:
                raise ExportError(f"document: duplicate key {key[:80]!r} in an object")
            out[key] = value
        return out

    try:
        data = json.loads(text, parse_constant=constant, parse_int=integer,
                          parse_float=number, object_pairs_hook=pairs)
    except RecursionError:
        raise ExportError(f"document: nested too deeply (the limit is {limits.max_depth} "
                          "levels)") from None
    except json.JSONDecodeError as err:
        raise ExportError(f"document is not valid JSON: {err}") from None
    _check_depth(data, limits.max_depth)
    return data


def _check_depth(data: Any, limit: int) -> None:
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > limit:
            _fail("", f"nested too deeply (more than {limit} levels)")
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values() if isinstance(v, (dict, list)))
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value if isinstance(v, (dict, list)))


_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class Reader:
    """Typed accessors that fail with the JSON path of the offending field."""

    def __init__(self, limits: ExportLimits) -> None:
        self.limits = limits
        #: Kernel-bank elements the layers read so far ask for (see ``max_total_bank_elements``).
        self.bank_elements = 0

    fail = staticmethod(_fail)

    def header(self, data: Mapping[str, Any], prefix: str, fmt: str, version: int, *,
               what: str, version_name: str) -> None:
        """Check a document's ``format`` tag (``what`` names the kind) and ``version``."""
        if data.get("format") != fmt:
            _fail(f"{prefix}format", f"{str(data.get('format'))[:80]!r} is not an aclcore "
                                     f"{what} (expected {fmt!r})")
        found = data.get("version")
        if type(found) is not int or found != version:
            _fail(f"{prefix}version", f"unsupported {version_name} {repr(found)[:40]}: this "
                                      f"aclcore reads version "
                                      f"{version}; upgrade aclcore for newer documents")

    def obj(self, value: object, path: str, required: Iterable[str],
            optional: Iterable[str] = ()) -> dict[str, Any]:
        """An object with exactly the ``required`` keys plus any of the ``optional`` ones."""
        if not isinstance(value, dict):
            _fail(path, f"expected an object, got {_kind(value)}")
        required = tuple(required)
        for key in required:
            if key not in value:
                _fail(path, f"missing key {key!r}")
        allowed = set(required) | set(optional)
        unknown = sorted(k for k in value if k not in allowed)
        if unknown:
            _fail(path, f"unknown key {unknown[0][:80]!r} (allowed: {', '.join(sorted(allowed))})")
        return value

    def string(self, value: object, path: str, *, max_len: int | None = None,
               pattern: re.Pattern[str] | None = None,
               choices: Sequence[str] | None = None) -> str:
        """A string, at most ``max_len`` long, matching ``pattern`` or one of ``choices``."""
        if not isinstance(value, str):
            _fail(path, f"expected a string, got {_kind(value)}")
        limit = self.limits.max_text_chars if max_len is None else max_len
        if len(value) > limit:
            _fail(path, f"string of {len(value)} characters (the limit is {limit})")
        if choices is not None and value not in choices:
            _fail(path, f"{value[:80]!r} is not one of {', '.join(map(repr, choices))}")
        if pattern is not None and not pattern.match(value):
            _fail(path, f"{value[:80]!r} is not a valid name")
        return value

    def ident(self, value: object, path: str) -> str:
        """An identifier-like name (letters, digits, underscores; at most 64 characters)."""
        return self.string(value, path, max_len=64, pattern=_IDENT)

    def opt_string(self, value: object, path: str) -> str | None:
        """A string or null."""
        return None if value is None else self.string(value, path, max_len=1000)

    def integer(self, value: object, path: str, lo: int, hi: int) -> int:
        """An integer in ``[lo, hi]`` (booleans and floats are rejected)."""
        if type(value) is not int:
            _fail(path, f"expected an integer, got {_kind(value)}")
        if not lo <= value <= hi:
            _fail(path, f"{value} is out of range (expected {lo} to {hi})")
        return value

    def number(self, value: object, path: str) -> float:
        """A finite number (an integer or a float, not a boolean)."""
        if type(value) not in (int, float):
            _fail(path, f"expected a number, got {_kind(value)}")
        result = float(value)  # type: ignore[arg-type]
        if not math.isfinite(result):
            _fail(path, "number is not finite")
        return result

    def boolean(self, value: object, path: str) -> bool:
        """``true`` or ``false``."""
        if not isinstance(value, bool):
            _fail(path, f"expected true or false, got {_kind(value)}")
        return value

    def array(self, value: object, path: str, *, max_len: int, min_len: int = 0) -> list[Any]:
        """An array of ``min_len`` to ``max_len`` items."""
        if not isinstance(value, list):
            _fail(path, f"expected an array, got {_kind(value)}")
        if not min_len <= len(value) <= max_len:
            _fail(path, f"array of {len(value)} items (expected {min_len} to {max_len})")
        return value

    def ints(self, value: object, path: str, count: int, lo: int, hi: int) -> list[int]:
        """An array of exactly ``count`` integers in ``[lo, hi]``."""
        items = self.array(value, path, max_len=count, min_len=count)
        return [self.integer(v, f"{path}[{i}]", lo, hi) for i, v in enumerate(items)]

    def strings(self, value: object, path: str, *, max_len: int) -> list[str]:
        """An array of at most ``max_len`` identifier-like names."""
        items = self.array(value, path, max_len=max_len)
        return [self.ident(v, f"{path}[{i}]") for i, v in enumerate(items)]

    def tensor(self, value: object, path: str) -> torch.Tensor:
        """``{"dtype", "shape", "data"}`` -> a CPU tensor, after checking shape and values."""
        spec = self.obj(value, path, ("dtype", "shape", "data"))
        dtype = DTYPES[self.string(spec["dtype"], f"{path}.dtype", choices=tuple(DTYPES))]
        dims = self.array(spec["shape"], f"{path}.shape", max_len=_MAX_TENSOR_DIMS)
        shape = [self.integer(d, f"{path}.shape[{i}]", 0, self.limits.max_bank_elements)
                 for i, d in enumerate(dims)]
        if math.prod(shape) > self.limits.max_bank_elements:
            _fail(f"{path}.shape", f"{math.prod(shape)} elements (the limit is "
                                   f"{self.limits.max_bank_elements})")
        flat: list[float] = []
        self._flatten(spec["data"], shape, f"{path}.data", flat)
        data = torch.tensor(flat, dtype=torch.float64).reshape(shape).to(dtype)
        if not bool(torch.isfinite(data).all()):
            _fail(path, f"a value overflows {spec['dtype']}")
        return data

    def _flatten(self, data: object, shape: Sequence[int], path: str, out: list[float]) -> None:
        if not shape:
            out.append(self.number(data, path))
            return
        items = self.array(data, path, max_len=shape[0], min_len=shape[0])
        if len(shape) == 1:
            for i, v in enumerate(items):
                if type(v) not in (int, float):
                    _fail(f"{path}[{i}]", f"expected a number, got {_kind(v)}")
            out.extend(float(v) for v in items)
            return
        for i, item in enumerate(items):
            self._flatten(item, shape[1:], f"{path}[{i}]", out)


def plain_value(value: object, path: str, depth: int = 0, *, max_depth: int = 32) -> Any:
    """Check that ``value`` is plain JSON-like data (metadata); tuples become lists."""
    stack: list[tuple[object, str, int]] = [(value, path, depth)]
    while stack:
        item, where, level = stack.pop()
        if level > max_depth:
            _fail(where, f"nested too deeply (more than {max_depth} levels)")
        if item is None or isinstance(item, (bool, int, str)):
            continue
        if isinstance(item, float):
            continue
        if isinstance(item, dict):
            for k, v in item.items():
                if not isinstance(k, str):
                    _fail(where, f"keys must be strings, got {type(k).__name__}")
                stack.append((v, f"{where}.{k}", level + 1))
        elif isinstance(item, (list, tuple)):
            stack.extend((v, f"{where}[{i}]", level + 1) for i, v in enumerate(item))
        else:
            _fail(where, f"{type(item).__name__} is not plain data (use str, int, float, "
                         "bool, None, lists and dicts)")
    return _listify(value)


def _listify(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _listify(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_listify(v) for v in value]
    return value


def make_directory(path: Path, what: str, target: object = None) -> None:
    """Create the directory ``path`` (and its parents) to write ``what`` (to ``target``) into.

    Raises:
        ExportError: ``path`` or one of its parents exists and is not a directory, or the
            directory cannot be created (naming ``target``, default ``path``, and the cause).
    """
    target = path if target is None else target
    for part in (path, *path.parents):
        if part.exists() and not part.is_dir():
            raise ExportError(f"{target}: cannot write {what} there: {part} exists and is not "
                              "a directory; choose another path or move the file away")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ExportError(f"{target}: cannot create the directory {path} for {what}: "
                          f"{err.strerror or err}") from None
