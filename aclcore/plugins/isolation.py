"""The machinery behind :func:`aclcore.plugins.load_plugins` (one isolated load).

:class:`Loading` owns a fresh :class:`pluggy.PluginManager`, loads each candidate plugin,
then calls every plugin's ``acl_register_functions`` and every plugin's
``acl_register_families``, recording each failure against its plugin only.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pluggy

from aclcore import hookspecs
from aclcore.errors import PluginError
from aclcore.plugins.provenance import provider_text
from aclcore.plugins.report import PluginFailure, PluginRecord, PluginReport

if TYPE_CHECKING:
    from aclcore.plugins.registry import Registry
    from aclcore.symbolic.functions import TorchFunction

__all__ = ["HOOKS", "Loading", "Plugin", "from_entry_point", "from_object", "select"]

#: The hooks, in the order they are called.
HOOKS = ("acl_register_functions", "acl_register_families")


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _distribution(ep: Any) -> tuple[str | None, str | None]:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return None, None
    name = getattr(dist, "name", None)
    if name is None:
        metadata = getattr(dist, "metadata", None)
        name = metadata["Name"] if metadata is not None else None
    version = getattr(dist, "version", None)
    return (str(name) if name else None), (str(version) if version else None)


class Plugin:
    """A plugin about to be loaded: its record and how to get the plugin object."""

    def __init__(self, record: PluginRecord, load: Callable[[], object], *,
                 given: bool = False) -> None:
        self.record = record
        self.load = load
        self.given = given  # passed directly (``plugins=``), not found by an entry point
        self.obj: object = None


def from_entry_point(ep: Any) -> Plugin:
    """A plugin loaded by ``ep.load()``, named and attributed from the entry point."""
    dist, version = _distribution(ep)
    record = PluginRecord(str(ep.name), dist, version, str(getattr(ep, "value", "")))
    return Plugin(record, ep.load)


def from_object(item: object) -> Plugin:
    """A plugin object given directly, or a ``(name, object)`` pair."""
    if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
        name, obj = item
    else:
        obj = item
        name = str(getattr(obj, "__name__", type(obj).__name__))
    return Plugin(PluginRecord(name, source=repr(obj)[:200]), lambda: obj, given=True)


def select(eps: list[Any], only: list[str] | None, report: PluginReport) -> list[Plugin]:
    """The entry points to load: those ``only`` names (all if ``None``), one per name.

    Deselected entry points and second plugins of an already used name go into ``report``
    (``disabled``, or a failure naming both); names in ``only`` that match nothing go into
    ``report.unmatched``.
    """
    selected: list[Plugin] = []
    seen: dict[str, Plugin] = {}
    wanted = None if only is None else {_normalize(n): n for n in only}
    matched: set[str] = set()
    for ep in eps:
        plugin = from_entry_point(ep)
        rec = plugin.record
        keys = {_normalize(rec.name)}
        if rec.distribution:
            keys.add(_normalize(rec.distribution))
        if wanted is not None and not keys & set(wanted):
            rec.status = "disabled"
            report.plugins.append(rec)
            continue
        matched |= keys
        previous = seen.get(rec.name)
        if previous is not None:
            if (previous.record.distribution, previous.record.source) == (
                rec.distribution, rec.source
            ):
                continue  # the same distribution found twice on sys.path
            rec.failures.append(PluginFailure.from_exception(rec, "import", PluginError(
                f"plugin name {rec.name!r} is provided twice: by {_source(previous.record)} "
                f"and by {_source(rec)}; uninstall one of them"
            )))
            report.plugins.append(rec)
            continue
        seen[rec.name] = plugin
        selected.append(plugin)
    if wanted is not None:
        report.unmatched = [n for key, n in wanted.items() if key not in matched]
    return selected


def _source(rec: PluginRecord) -> str:
    return provider_text(rec.name, rec.distribution, rec.version)


def _what(obj: object) -> str:
    """``module 'acl_example'``: a plugin object, briefly."""
    if obj is None:
        return "not loaded"
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    return f"{type(obj).__name__} {name!r}" if isinstance(name, str) else f"{obj!r:.60}"


class Loading:
    """One run of the loader: a fresh plugin manager, two isolated phases."""

    def __init__(self, registry: Registry, candidates: list[Plugin]) -> None:
        self.registry = registry
        self.candidates = candidates
        self.pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)
        self.seen: list[Plugin] = []  # candidates handled so far, in order
        self.merged: list[Plugin] = []  # given objects an entry point already loaded

    def run(self) -> None:
        """Load every candidate, then run each hook phase over the loaded plugins.

        A plugin object passed directly that an entry point already loaded is the same
        plugin: it is dropped from :attr:`candidates` and runs once, under its entry-point name.
        """
        loaded = [p for p in self.candidates if self._load(p)]
        self.candidates = [p for p in self.candidates if p not in self.merged]
        for hook_name in HOOKS:
            for plugin in loaded:
                self._call(plugin, hook_name)

    def fail(self, plugin: Plugin, stage: str, error: BaseException, item: str | None = None,
             where: tuple[str, int] | None = None) -> None:
        """Record a failure of ``plugin`` (the loader turns them into warnings or an error).

        ``where``: the plugin's code the failure belongs to, where the error's traceback does
        not reach it (a rejected registration, an invalid hook).
        """
        plugin.record.failures.append(PluginFailure.from_exception(
            plugin.record, stage, error, item, where or _location(plugin.obj)))

    def _load(self, plugin: Plugin) -> bool:
        earlier = list(self.seen)
        self.seen.append(plugin)
        try:
            plugin.obj = plugin.load()
        except Exception as err:
            self.fail(plugin, "import", err)
            return False
        name = plugin.record.name
        same = next((p for p in earlier if p.obj is plugin.obj and p.obj is not None), None)
        if same is not None and plugin.given and not same.given:
            self.merged.append(plugin)  # e.g. plugin_registry(my_plugin, installed=True)
            return False
        if same is not None:
            self.fail(plugin, "hooks", PluginError(
                f"{_source(plugin.record)} is {_what(plugin.obj)}, which is already loaded as "
                f"{_source(same.record)}; load each plugin object once"
            ))
            return False
        taken = next((p for p in earlier if p.record.name == name), None)
        if taken is not None:
            self.fail(plugin, "hooks", PluginError(
                f"plugin name {name!r} ({_what(plugin.obj)}) is already used by "
                f"{_source(taken.record)} ({_what(taken.obj)}); give one of them another "
                "name, e.g. plugins=[('other_name', obj)]"
            ))
            return False
        try:
            self.pm.register(plugin.obj, name=name)
        except Exception as err:
            self.fail(plugin, "hooks", err)
            if self.pm.is_registered(plugin.obj):  # only this plugin: duplicates are caught above
                self.pm.unregister(plugin=plugin.obj)  # drop hooks registered before the error
            return False
        self._check_hooks(plugin)
        return True

    def _check_hooks(self, plugin: Plugin) -> None:
        obj = plugin.obj
        implemented = set()
        for caller in self.pm.get_hookcallers(obj) or ():
            if caller.has_spec():
                implemented.add(caller.name)
                continue
            close = difflib.get_close_matches(caller.name, HOOKS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            self.fail(plugin, "hooks", PluginError(
                f"implements unknown hook {caller.name!r}{hint}; aclcore's hooks are "
                f"{', '.join(HOOKS)}"
            ))
        for attr in dir(obj):
            if attr in HOOKS and attr not in implemented:
                self.fail(plugin, "hooks", PluginError(
                    f"{attr} is not marked with @aclcore.hookimpl, so it is never called; "
                    "decorate it with @hookimpl (from aclcore import hookimpl)"
                ), where=_location(getattr(obj, attr, None)))
                implemented.add(attr)
        if not implemented:
            self.fail(plugin, "hooks", PluginError(
                f"implements no aclcore hook ({' or '.join(HOOKS)} marked with "
                "@aclcore.hookimpl)"
            ))

    def _call(self, plugin: Plugin, hook_name: str) -> None:
        caller = getattr(self.pm.hook, hook_name)
        impls = [i for i in caller.get_hookimpls() if i.plugin is plugin.obj]
        register = (_FunctionRegister if hook_name == HOOKS[0] else _FamilyRegister)(self, plugin)
        arguments = {"register": register}
        for impl in impls:
            if impl.hookwrapper or impl.wrapper:
                self.fail(plugin, hook_name, PluginError(
                    f"{hook_name} is a hook wrapper; aclcore hooks are plain functions"
                ))
                continue
            try:
                result = impl.function(*[arguments[a] for a in impl.argnames])
            except Exception as err:
                self.fail(plugin, hook_name, err)
                continue
            if result is not None:  # a generator function, an async function, a return value
                self.fail(plugin, "hooks", PluginError(_returned(hook_name, result)),
                          where=_location(impl.function))
        register.closed = True


def _location(obj: object) -> tuple[str, int] | None:
    """Where ``obj`` (a plugin module, class, function) is defined, if it is a file."""
    code = getattr(obj, "__code__", None)
    if code is not None:
        return code.co_filename, code.co_firstlineno
    filename = getattr(obj, "__file__", None)
    return (filename, 1) if isinstance(filename, str) else None


def _caller() -> tuple[str, int] | None:
    """The plugin's line that called ``register(...)`` (two frames up from here)."""
    frame = inspect.currentframe()
    caller = frame.f_back.f_back if frame is not None and frame.f_back is not None else None
    return (caller.f_code.co_filename, caller.f_lineno) if caller is not None else None


def _returned(hook_name: str, result: object) -> str:
    """Why a hook that returned ``result`` (not ``None``) is a failure, and the fix."""
    if hook_name == HOOKS[0]:
        fix = "call register(sympy_function, torch_function) inside the hook for each function"
    else:
        fix = "call register(family) inside the hook for each family"
    if inspect.isgenerator(result) or inspect.iscoroutine(result):
        result.close()  # never started: nothing in the hook's body ran
    if inspect.isgenerator(result) or inspect.isasyncgen(result) or inspect.iscoroutine(result):
        kind = "an async function" if inspect.iscoroutine(result) else (
            "a generator function (it contains yield)")
        return (f"{hook_name} is {kind}, so calling it ran none of its body and registered "
                f"nothing; make it a plain function and {fix} (do not yield or return them)")
    return (f"{hook_name} returned a {type(result).__name__} instead of None; aclcore ignores "
            f"what hooks return: {fix} (what it registered before returning is kept)")


class _Register:
    """The ``register`` callable handed to one plugin's hook; closed when the hook returns."""

    what = "item"

    def __init__(self, loading: Loading, plugin: Plugin) -> None:
        self.loading = loading
        self.plugin = plugin
        self.closed = False

    def _check_open(self) -> None:
        if self.closed:
            raise PluginError(
                f"plugin {self.plugin.record.name!r} called register() for a {self.what} "
                "after its hook returned; register everything inside the hook"
            )


class _FunctionRegister(_Register):
    """``register(sympy_function, torch_function, **options)`` for acl_register_functions."""

    what = "function"

    def __call__(self, sympy_function: Any, torch_function: Callable[..., Any],
                 **options: Any) -> None:
        from aclcore.plugins.checks import check_function
        from aclcore.symbolic.functions import make_function

        self._check_open()
        record = self.plugin.record
        where = _caller()
        item = options.get("name") or getattr(sympy_function, "__name__", None)
        try:
            row = make_function(sympy_function, torch_function, provider=record.name, **options)
            item = row.name
            if row.lazy:  # named by import path: imported and checked on first use
                row = dataclasses.replace(row, loader=_checked_loader(self.loading, self.plugin,
                                                                      where))
            else:
                check_function(row)
            self.loading.registry.add_function(row)
        except Exception as err:
            self.loading.fail(self.plugin, "function", err, str(item) if item else None, where)
        else:
            record.functions.append(row.name)


def _checked_loader(loading: Loading, plugin: Plugin, where: tuple[str, int] | None
                    ) -> Callable[[TorchFunction], Callable[..., Any]]:
    """The loader of a plugin function named by import path: import it, check it as an
    eagerly registered one is checked, and record a failure against the plugin (``acl
    plugins`` lists it) besides raising it."""

    def load(row: TorchFunction) -> Callable[..., Any]:
        from aclcore.plugins.checks import check_function
        from aclcore.symbolic.implementations import load_implementation

        try:
            implementation = load_implementation(row)
            check_function(dataclasses.replace(row, torch=implementation, grad=None,
                                               loader=None))
        except Exception as err:
            loading.fail(plugin, "function", err, row.name, where)
            plugin.record.finish()
            raise PluginError(
                f"{_source(plugin.record)}: function {row.name!r} (implementation "
                f"{row.torch!r}, imported on first use) is unusable: {err}"
            ) from err
        return implementation

    return load


class _FamilyRegister(_Register):
    """``register(family)`` for acl_register_families."""

    what = "family"

    def __call__(self, family: Any) -> None:
        from aclcore.plugins.checks import check_family

        self._check_open()
        record = self.plugin.record
        where = _caller()
        item = getattr(family, "name", None)
        try:
            check_family(family, record.name)
            self.loading.registry.add_family(
                family, record.name, distribution=record.distribution, version=record.version
            )
        except Exception as err:
            self.loading.fail(self.plugin, "family", err, item if isinstance(item, str) else None,
                              where)
        else:
            record.families.append(family.name)
