"""Where a function-table row's torch implementation comes from: an import path, imported once.

The built-in rows of :mod:`aclcore.symbolic.functions` name their implementations
(``"torch.exp"``, ``"aclcore.symbolic.special:sinc"``) so that the table, the parser and
``import aclcore`` need no torch; :func:`resolve` imports one. A plugin may name its own the
same way (``register(i0e, "torch.special:i0e")``): such a row is *lazy*, imported, wrapped
with its ``grad`` and checked once, on first use (:func:`load_once`, :func:`load_implementation`),
so that listing families imports neither torch nor the plugin's module.
:func:`module_installed` tells, without importing anything, whether the package a path names
is there at all.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import re
import threading
from collections.abc import Callable, MutableMapping
from typing import Any, Protocol, cast

from aclcore.errors import PluginError

__all__ = ["IMPORT_PATH", "LazyRow", "load_implementation", "load_once", "module_installed",
           "resolve"]

#: An implementation named by import path: ``"package.module:function"`` (the function may be
#: an attribute path, ``"package.module:Class.method"``) or a dotted ``"torch.special.i0e"``.
IMPORT_PATH = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*(?::[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)?")

_LOCK = threading.RLock()


class LazyRow(Protocol):
    """What loading needs of a :class:`~aclcore.symbolic.functions.TorchFunction`."""

    @property
    def name(self) -> str:
        """The function's name in formulas."""

    @property
    def provider(self) -> str:
        """Who registered it."""

    @property
    def torch(self) -> Callable[..., Any] | str:
        """The import path (a lazy row's implementation is a string)."""

    @property
    def grad(self) -> Callable[..., Any] | None:
        """The partial derivatives to wrap the implementation with, if any."""


@functools.cache
def resolve(path: str) -> Callable[..., Any]:
    """``"torch.exp"`` or ``"package.module:function"`` -> the callable."""
    module, sep, attr = path.partition(":")
    if not sep:
        module, _, attr = path.rpartition(".")
    value: Any = importlib.import_module(module)
    for part in attr.split("."):
        value = getattr(value, part)
    return cast("Callable[..., Any]", value)


def module_installed(path: str) -> bool:
    """Whether the top-level package of an import path is installed, found without
    importing anything (``"torch.special:i0e"``: is there a ``torch``)."""
    top = path.partition(":")[0].partition(".")[0]
    try:
        return importlib.util.find_spec(top) is not None
    except (ImportError, ValueError):
        return False


def load_implementation(row: LazyRow) -> Callable[..., Any]:
    """Import a lazy row's implementation and wrap it with its ``grad``: what
    :attr:`TorchFunction.implementation <aclcore.symbolic.functions.TorchFunction>` does on
    first use without a loader of its own.

    Raises:
        PluginError: the path cannot be imported or does not name a callable, saying which
            function, which provider and what to fix.
    """
    path = str(row.torch)
    try:
        fn = resolve(path)
    except Exception as err:  # ImportError, AttributeError, or whatever the module raises
        raise PluginError(
            f"function {row.name!r} (registered by {row.provider}) is implemented by "
            f"{path!r}, which cannot be imported: {type(err).__name__}: {err}; install the "
            "module it names or correct the path given to register(...)"
        ) from err
    if not callable(fn):
        raise PluginError(
            f"function {row.name!r} (registered by {row.provider}): {path!r} is a "
            f"{type(fn).__name__}, not a callable torch implementation"
        )
    if row.grad is None:
        return fn
    from aclcore.symbolic.autograd import with_grad  # torch: the implementation is loaded

    return with_grad(fn, row.grad)


def load_once(row: LazyRow, memo: MutableMapping[str, Any],
              loader: Callable[[Any], Callable[..., Any]]) -> Callable[..., Any]:
    """``loader(row)``, run once per ``memo`` (the row's own), thread-safely; a failure is
    remembered and raised again on every later call."""
    if "value" not in memo:
        with _LOCK:
            if "error" in memo:
                raise memo["error"].with_traceback(None)
            if "value" not in memo:
                try:
                    memo["value"] = loader(row)
                except Exception as err:
                    memo["error"] = err
                    raise
    return cast("Callable[..., Any]", memo["value"])
