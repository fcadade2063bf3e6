"""Plugin loading: entry points of the ``aclcore`` group, each loaded and called in isolation.

:func:`load_plugins` is the default loader of a :class:`~aclcore.plugins.registry.Registry`; it runs
once, lazily, on the first family look-up (never at ``import aclcore``):

1. discover the entry points of the group ``aclcore`` (or take the ones given), keep those
   selected by ``ACL_LOAD_PLUGINS``;
2. load each one and register it with a fresh :class:`pluggy.PluginManager`;
3. call every plugin's ``acl_register_functions``, then every plugin's
   ``acl_register_families``, each plugin on its own;
4. check each registered function (evaluated and differentiated once on its domain; one
   registered by import path on its first use) and family (evaluated on a small grid; name
   not taken).

Any problem (import error, raising hook, invalid registration, compile error, duplicate name)
is recorded as a :class:`PluginFailure` of that plugin only and warned about with
:class:`AclPluginWarning`; every other plugin keeps working. ``ACL_STRICT_PLUGINS=1`` makes
the first look-up raise :class:`~aclcore.errors.PluginError` listing every failure instead.
"""

from __future__ import annotations

import difflib
import functools
import importlib.metadata
import inspect
import os
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from aclcore import hookspecs
from aclcore.errors import ConfigError, PluginError
from aclcore.plugins.isolation import Loading, from_object, select
from aclcore.plugins.report import AclPluginWarning, PluginFailure, PluginRecord, PluginReport

if TYPE_CHECKING:
    from aclcore.plugins.registry import Registry

#: What fills a registry: called once with the registry, on its first look-up.
Loader = Callable[["Registry"], object]

__all__ = [
    "ENTRY_POINT_GROUP",
    "ENV_LOAD",
    "ENV_STRICT",
    "AclPluginWarning",
    "PluginFailure",
    "PluginRecord",
    "PluginReport",
    "discover_entry_points",
    "load_plugins",
    "plugin_loader",
    "selected_names",
    "strict_mode",
]

#: The entry-point group plugins declare: ``[project.entry-points.aclcore]``.
ENTRY_POINT_GROUP = hookspecs.PROJECT_NAME
#: ``ACL_LOAD_PLUGINS=a,b`` loads only the plugins named a and b (empty: none).
ENV_LOAD = "ACL_LOAD_PLUGINS"
#: ``ACL_STRICT_PLUGINS=1`` turns plugin failures into errors.
ENV_STRICT = "ACL_STRICT_PLUGINS"

_PACKAGE_DIR = os.path.dirname(os.path.abspath(hookspecs.__file__))
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"", "0", "false", "no", "off"})
_UNSET: Any = object()


def _user_stacklevel() -> int:
    """``stacklevel`` for a warning issued here that points at the first caller outside aclcore
    (the user's look-up that triggered plugin loading)."""
    frame = inspect.currentframe()
    frame = frame.f_back if frame is not None else None  # the function that warns
    level = 1
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back
        level += 1
    return level


def strict_mode() -> bool:
    """Whether ``ACL_STRICT_PLUGINS`` asks for strict loading (``1``/``true``/``yes``/``on``)."""
    value = os.environ.get(ENV_STRICT, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{ENV_STRICT}={value!r} is not understood: use 1 (strict) or 0")


def selected_names() -> list[str] | None:
    """The ``ACL_LOAD_PLUGINS`` selection: ``None`` when unset (load all), else the names."""
    value = os.environ.get(ENV_LOAD)
    if value is None:
        return None
    return [n.strip() for n in value.split(",") if n.strip()]


def discover_entry_points() -> list[Any]:
    """The installed entry points of the ``aclcore`` group, sorted by name (nothing imported).

    The order is the load order: where two plugins register the same family name, the first
    one wins and the second records the failure.
    """
    eps = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
    return sorted(eps, key=lambda ep: (ep.name, getattr(ep.dist, "name", None) or ""))


def load_plugins(
    registry: Registry,
    *,
    entry_points: Iterable[Any] | None = None,
    plugins: Sequence[object] = (),
    only: Sequence[str] | None = _UNSET,
    strict: bool | None = None,
) -> PluginReport:
    """Load plugins into ``registry``, each in isolation; the default registry loader.

    Call it through a registry (``Registry(loader=plugin_loader(...)).families()``) rather
    than directly, so that it runs once, under the registry's lock, with the registry current
    (families declared while plugins load then see the functions registered so far).

    Args:
        registry: the registry to fill.
        entry_points: entry-point-like objects (``name``, ``value``, ``load()``, optional
            ``dist``) to use instead of the installed ones (tests).
        plugins: plugin objects (modules, classes, instances) or ``(name, object)`` pairs to
            load as well, e.g. a plugin under test; not filtered by ``ACL_LOAD_PLUGINS``.
            An object that a loaded entry point already provides (the plugin under test is
            also installed) is loaded once, under its entry-point name. Giving one object
            twice, or a name already used, is a failure of the second, naming the first.
        only: names of the entry points (or their distributions) to load; default: the
            ``ACL_LOAD_PLUGINS`` selection.
        strict: raise instead of warning; default: ``ACL_STRICT_PLUGINS``.

    Returns:
        The :class:`PluginReport` (also kept in ``registry.info``).

    Raises:
        PluginError: in strict mode, listing every failure.
    """
    strict = strict_mode() if strict is None else strict
    only = selected_names() if only is _UNSET else (None if only is None else list(only))
    eps = discover_entry_points() if entry_points is None else list(entry_points)
    report = PluginReport(only=only, strict=strict)
    candidates = select(eps, only, report)
    candidates += [from_object(item) for item in plugins]
    loading = Loading(registry, candidates)
    loading.run()
    report.plugins = [c.record for c in loading.candidates] + report.plugins
    for record in report.plugins:
        record.finish()
    registry.info["report"] = report
    registry.info["plugins"] = report.plugins
    registry.info["failures"] = report.failures
    if report.unmatched:
        known = sorted({p.name for p in report.plugins})
        near = sorted({m for n in report.unmatched
                       for m in difflib.get_close_matches(n, known, n=2, cutoff=0.6)})
        warnings.warn_explicit(  # attributed to the variable, not to the caller's code
            f"{ENV_LOAD} names {', '.join(map(repr, report.unmatched))}, which no installed "
            f"plugin provides (installed: {', '.join(known) or 'none'}"
            + (f"; did you mean {', '.join(map(repr, near))}?)" if near else ")"),
            AclPluginWarning, ENV_LOAD, 0, module="aclcore.plugins")
    failures = report.failures
    if strict and failures:
        lines = "\n".join(f"  - {f}" for f in failures)
        error = PluginError(
            f"{len(failures)} plugin failure(s) with {ENV_STRICT}=1:\n{lines}\n"
            f"Fix or uninstall the plugin, or deselect it with {ENV_LOAD}."
        )
        error.failures = [str(f) for f in failures]
        raise error
    for failure in failures:
        message = (f"{failure} (the other plugins keep working; `acl plugins` lists failures, "
                   f"{ENV_STRICT}=1 makes them errors)")
        if failure.filename:  # attributed to the plugin's own code, not to aclcore's caller
            warnings.warn_explicit(message, AclPluginWarning, failure.filename,
                                   failure.lineno or 1, module=failure.plugin)
        else:
            warnings.warn(message, AclPluginWarning, stacklevel=_user_stacklevel())
    return report


def plugin_loader(
    *,
    entry_points: Iterable[Any] | None = None,
    plugins: Sequence[object] = (),
    only: Sequence[str] | None = _UNSET,
    strict: bool | None = None,
) -> Loader:
    """A registry loader running :func:`load_plugins` with these arguments.

    Example: ``Registry(loader=plugin_loader(plugins=[my_plugin], entry_points=[]))`` is a
    registry that loads only ``my_plugin``.
    """
    load = functools.partial(
        load_plugins, entry_points=entry_points, plugins=plugins, only=only, strict=strict
    )

    def loader(registry: Registry) -> None:
        load(registry)

    return loader
