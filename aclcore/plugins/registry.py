"""The registry: kernel families and plugin functions by name.

The process has one *current* :class:`Registry`. It fills itself from the plugins the first
time it is asked for something (lazily, once, thread-safely; never at ``import aclcore``).
Tests and notebooks can swap in a fresh one with :func:`use_registry`.

The current registry installs its function table into :mod:`aclcore.symbolic.functions`
(built-ins plus the functions plugins registered so far, and whether loading is finished),
with :meth:`Registry.ensure_loaded` as the callback that completes it. The symbolic core thus
sees plugin functions without ever looking plugins up.
"""

from __future__ import annotations

import contextlib
import difflib
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from aclcore.errors import PluginError, UnknownFamilyError
from aclcore.plugins.loader import ENV_LOAD, Loader, load_plugins
from aclcore.plugins.provenance import IN_PROCESS, provider_text
from aclcore.plugins.report import PluginReport
from aclcore.symbolic.family import KernelFamily
from aclcore.symbolic.functions import (
    BUILTIN_TABLE,
    FunctionTable,
    TorchFunction,
    install_table,
    make_function,
)
from aclcore.symbolic.implementations import module_installed

__all__ = [
    "IN_PROCESS",
    "DuplicateError",
    "FamilyRecord",
    "Registry",
    "current_registry",
    "families",
    "formula_functions",
    "get_family",
    "plugin_report",
    "register_family",
    "register_function",
    "use_registry",
]


class DuplicateError(PluginError):
    """A family or function name is registered twice; the message names both providers."""


@dataclass(frozen=True)
class FamilyRecord:
    """A registered family and where it came from."""

    family: KernelFamily
    provider: str = IN_PROCESS
    distribution: str | None = None
    version: str | None = None

    def source(self) -> str:
        """``plugin 'name' (distribution version)`` (or ``<in-process>``) for messages."""
        return provider_text(self.provider, self.distribution, self.version)


@dataclass
class Registry:
    """Families and functions by name, filled from plugins on first need.

    Args:
        loader: called once, on first need, to fill the registry (default: load the
            ``aclcore`` entry points with :func:`~aclcore.plugins.load_plugins`); ``None``
            for an empty registry (tests, notebooks).
    """

    loader: Loader | None = load_plugins
    _families: dict[str, FamilyRecord] = field(default_factory=dict)
    _functions: dict[str, TorchFunction] = field(default_factory=dict)
    #: Free-form information the plugin loader records (plugins, failures).
    info: dict[str, Any] = field(default_factory=dict)
    _state: str = "new"  # new -> loading -> loaded
    _loading_thread: int | None = None
    _load_error: Exception | None = field(default=None, repr=False)
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    # -- the function table ---------------------------------------------------------------
    @property
    def table(self) -> FunctionTable:
        """The function table this registry stands for: built-ins plus its functions.

        Complete once the loader has run (an empty registry is complete from the start).
        """
        return BUILTIN_TABLE.with_rows(self._functions, complete=self._state == "loaded"
                                       or self.loader is None)

    def _install(self) -> None:
        """Install :attr:`table` into the symbolic core if this registry is current."""
        if _current.registry is self:
            install_table(self.table, self.ensure_loaded)

    # -- loading --------------------------------------------------------------------------
    def ensure_loaded(self) -> None:
        """Run the loader once. Re-entrant calls made while it runs return immediately.

        While the loader runs the registry is current. If the loader raised (strict plugin
        mode), every later call raises a :class:`~aclcore.errors.PluginError` chained to that
        error: a registry is either fully loaded or unusable, never silently half-loaded. An
        interrupt (``KeyboardInterrupt``, ``SystemExit``) leaves it unloaded, so the next
        look-up tries again, and propagates.
        """
        if self._state == "loaded" and self._load_error is None:
            return
        with self._lock:
            if self._state == "new":
                self._state = "loading"
                self._loading_thread = threading.get_ident()
                families, functions = dict(self._families), dict(self._functions)
                try:
                    current = nullcontext() if _current.registry is self else use_registry(self)
                    with current:
                        self._install()
                        if self.loader is not None:
                            self.loader(self)
                except Exception as err:
                    self._load_error = err
                    self._state = "loaded"
                    raise
                except BaseException:
                    self._families, self._functions = families, functions
                    self.info.clear()
                    self._state = "new"
                    raise
                else:
                    self._state = "loaded"
                finally:
                    self._loading_thread = None
                    self._install()
            elif self._state == "loaded" and self._load_error is not None:
                error = PluginError(f"loading plugins failed earlier: {self._load_error}")
                error.failures = list(getattr(self._load_error, "failures", []))
                raise error from self._load_error

    @property
    def loading_in_this_thread(self) -> bool:
        """Whether this thread is inside the loader right now."""
        return self._state == "loading" and self._loading_thread == threading.get_ident()

    @property
    def loaded(self) -> bool:
        """Whether the loader has run."""
        return self._state == "loaded"

    # -- families -------------------------------------------------------------------------
    def add_family(
        self,
        family: KernelFamily,
        provider: str = IN_PROCESS,
        *,
        distribution: str | None = None,
        version: str | None = None,
        replace: bool = False,
    ) -> FamilyRecord:
        """Register ``family``; a second family of the same name raises :class:`DuplicateError`.

        Registering the identical family again from the same provider is a no-op;
        ``replace=True`` swaps an existing definition (for notebooks iterating on a family).
        """
        if not isinstance(family, KernelFamily):
            raise PluginError(
                f"{provider} registered {family!r}, which is not an aclcore.KernelFamily"
            )
        record = FamilyRecord(family, provider, distribution, version)
        with self._lock:
            old = self._families.get(family.name)
            if old is not None and not replace:
                if old.family == family and old.provider == provider:
                    return old
                fix = (
                    "choose another name, or pass replace=True to register_family to shadow it"
                    if provider == IN_PROCESS
                    else "uninstall one, or disable one with ACL_LOAD_PLUGINS"
                )
                raise DuplicateError(
                    f"family {family.name!r} is provided twice: by {old.source()} and by "
                    f"{record.source()}; {fix}"
                )
            self._families[family.name] = record
        return record

    def remove_family(self, name: str) -> None:
        """Forget a family (no error if absent)."""
        with self._lock:
            self._families.pop(name, None)

    def records(self) -> Mapping[str, FamilyRecord]:
        """Registered families with their providers, by name (loads plugins first)."""
        self.ensure_loaded()
        return dict(self._families)

    def families(self) -> dict[str, KernelFamily]:
        """Registered families by name (loads plugins first)."""
        return {name: rec.family for name, rec in self.records().items()}

    def get_family(self, name: str) -> KernelFamily:
        """The family called ``name``.

        Raises:
            UnknownFamilyError: naming close matches and where families come from.
        """
        records = self.records()
        record = records.get(name)
        if record is not None:
            return record.family
        close = difflib.get_close_matches(str(name), list(records), n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise UnknownFamilyError(
            f"unknown kernel family {name!r}.{hint} " + self._explain_sources(records))

    def _explain_sources(self, records: Mapping[str, FamilyRecord]) -> str:
        """What is true on this install: known families and their sources, plugins installed
        but deselected by ACL_LOAD_PLUGINS (and close names for a misspelt selection), and
        what to do."""
        report = self.info.get("report")
        plugins = report.plugins if isinstance(report, PluginReport) else []
        loaded = sorted({rec.source() for rec in records.values() if rec.provider != IN_PROCESS})
        text = f"Known families: {', '.join(sorted(records)) or 'none'}"
        text += f" (from {'; '.join(loaded)})." if loaded else "."
        disabled = [p for p in plugins if p.status == "disabled"]
        if disabled:
            text += (f" Installed but not loaded, because {ENV_LOAD}="
                     f"{','.join(report.only or [])!r} does not select them: "  # type: ignore[union-attr]
                     + ", ".join(provider_text(p.name, p.distribution, p.version)
                                 for p in disabled) + ".")
        names = sorted({n for p in plugins for n in (p.name, p.distribution) if n})
        for wanted in (report.unmatched if isinstance(report, PluginReport) else []):
            near = difflib.get_close_matches(wanted, names, n=2, cutoff=0.6)
            text += (f" {ENV_LOAD} names {wanted!r}, which no installed plugin provides"
                     + (f" (did you mean {', '.join(map(repr, near))}?)." if near else "."))
        if not plugins:
            text += (" No plugin is installed: the classic families come with aclcore's "
                     "repository (pip install ./plugins/acl-classic).")
        return text + " Your own families: aclcore.register_family(family)."

    # -- functions ------------------------------------------------------------------------
    def add_function(self, function: TorchFunction) -> None:
        """Add a function-table row; a name the table already holds, or one that belongs to
        the formula grammar, raises :class:`DuplicateError` naming both providers."""
        with self._lock:
            problem = self.table.name_problem(function)
            if problem is not None:
                raise DuplicateError(problem)
            self._functions[function.name] = function
            self._install()

    def functions(self) -> Mapping[str, TorchFunction]:
        """Plugin-registered function-table rows by name (loads plugins first)."""
        self.ensure_loaded()
        return dict(self._functions)

    def report(self, *, check_functions: bool = False) -> PluginReport:
        """What the plugins did (loading them first); also lists in-process families.

        A function a plugin registered by import path is not imported to list it, unless
        the module the path names is not installed at all (found without importing it);
        ``check_functions=True`` imports and checks every such function (importing what
        it names, e.g. torch), as its first use would. Either way a failure is recorded
        against its plugin.
        """
        records = self.records()  # loads plugins
        for row in list(self._functions.values()):
            if not row.loaded and (check_functions or not module_installed(str(row.torch))):
                with contextlib.suppress(Exception):  # the loader records the failure
                    _ = row.implementation
        report = self.info.get("report")
        if not isinstance(report, PluginReport):
            report = PluginReport()
        report.in_process = sorted(n for n, r in records.items() if r.provider == IN_PROCESS)
        return report


@dataclass
class _Current:
    registry: Registry


_current = _Current(Registry())
_current_lock = threading.Lock()
install_table(_current.registry.table, _current.registry.ensure_loaded)


def current_registry() -> Registry:
    """The registry used by name look-ups (layers, CLI, JSON import)."""
    return _current.registry


@contextmanager
def use_registry(registry: Registry | None = None) -> Iterator[Registry]:
    """Make ``registry`` (default: a fresh, empty one) current inside a ``with`` block."""
    registry = registry if registry is not None else Registry(loader=None)
    with _current_lock:
        previous, _current.registry = _current.registry, registry
        install_table(registry.table, registry.ensure_loaded)
    try:
        yield registry
    finally:
        with _current_lock:
            _current.registry = previous
            install_table(previous.table, previous.ensure_loaded)


def register_family(family: KernelFamily, *, replace: bool = False) -> KernelFamily:
    """Register ``family`` in-process (notebooks, tests); returns it for chaining.

    Plugins are loaded first, so a name a plugin already provides always raises
    :class:`DuplicateError` here (whatever the order of calls); ``replace=True`` shadows it.
    """
    registry = current_registry()
    registry.ensure_loaded()
    registry.add_family(family, IN_PROCESS, replace=replace)
    return family


def register_function(
    sympy_function: Any, torch_function: Callable[..., Any], **options: Any
) -> None:
    """Add a SymPy function and its torch implementation in-process.

    Same arguments as :func:`aclcore.symbolic.functions.make_function` (``grad``, ``name``, ...).
    """
    registry = current_registry()
    registry.ensure_loaded()  # a plugin's function of the same name is reported here
    registry.add_function(
        make_function(sympy_function, torch_function, provider=IN_PROCESS, **options)
    )


def get_family(name: str) -> KernelFamily:
    """The registered family called ``name`` (see :meth:`Registry.get_family`)."""
    return current_registry().get_family(name)


def families() -> dict[str, KernelFamily]:
    """All registered families by name."""
    return current_registry().families()


def plugin_report(registry: Registry | None = None, *, check_functions: bool = False
                  ) -> PluginReport:
    """What the plugins of ``registry`` (default: the current one) did, loading them first
    (``check_functions``: see :meth:`Registry.report`)."""
    return (registry if registry is not None else current_registry()).report(
        check_functions=check_functions)


def formula_functions() -> dict[str, Any]:
    """The parser's function names: the built-ins plus the current registry's functions.

    Pass it as ``functions=`` to :func:`aclcore.parse.parse_formula` and
    :func:`aclcore.parse.formula_to_string` for formulas that use plugin functions.
    """
    registry = current_registry()
    registry.ensure_loaded()
    return dict(registry.table.names())
