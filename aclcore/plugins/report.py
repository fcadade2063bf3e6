"""Records of what the plugin loader did: one :class:`PluginRecord` per plugin, failures.

Kept apart from :mod:`aclcore.plugins` so that the CLI and the docs can read a report without
the loading machinery. Everything here is plain data with a ``to_json()``.
"""

from __future__ import annotations

import os
import traceback
from dataclasses import dataclass, field
from typing import Any

import pluggy

from aclcore.plugins.provenance import provider_text

__all__ = ["AclPluginWarning", "PluginFailure", "PluginRecord", "PluginReport", "plugin_frame"]


class AclPluginWarning(UserWarning):
    """A plugin failed to load or registered something invalid; the others keep working.

    Set ``ACL_STRICT_PLUGINS=1`` to turn these into :class:`~aclcore.errors.PluginError`.
    """


#: Stages at which a plugin can fail, in the order the loader runs them.
STAGES = (
    "import",  # loading the entry point (importing the module)
    "hooks",  # invalid hook implementations: rejected by pluggy, unknown, unmarked, a name or
    # object already loaded, a generator/async function, a return value other than None
    "acl_register_functions",  # the hook raised
    "function",  # a registered function was rejected
    "acl_register_families",  # the hook raised
    "family",  # a registered family was rejected (not a family, compile, duplicate)
)


_OWN = (os.path.dirname(os.path.dirname(os.path.abspath(__file__))), os.path.dirname(
    os.path.abspath(pluggy.__file__)), "<frozen ")


def plugin_frame(error: BaseException) -> tuple[str, int] | None:
    """The innermost frame of ``error``'s traceback in code that is not aclcore's, pluggy's or
    the import machinery's: where the plugin's own code failed (a SyntaxError: its line)."""
    if isinstance(error, SyntaxError) and error.filename and error.lineno:
        return error.filename, error.lineno
    found = None
    for frame in traceback.extract_tb(error.__traceback__):
        if frame.filename and not frame.filename.startswith(_OWN) \
                and "importlib" not in frame.filename:
            found = (frame.filename, frame.lineno or 0)
    return found


@dataclass(frozen=True)
class PluginFailure:
    """One failure of one plugin.

    Attributes:
        plugin: the plugin (entry-point) name.
        distribution: the distribution that installed it, if known.
        version: that distribution's version, if known.
        stage: where it failed: ``import``, ``hooks``, ``acl_register_functions``,
            ``function``, ``acl_register_families`` or ``family``.
        error_type: the exception's class name (``ModuleNotFoundError``, ``CompileError``...).
        message: the exception's message.
        item: the family or function concerned, if any.
        traceback: the formatted traceback (empty when there was no exception).
        filename, lineno: where in the plugin's own code it happened (the innermost frame of
            the plugin's code in the traceback, or the plugin's ``register(...)`` call), if
            known; warnings are attributed there.
    """

    plugin: str
    distribution: str | None
    version: str | None
    stage: str
    error_type: str
    message: str
    item: str | None = None
    traceback: str = field(default="", repr=False, compare=False)
    filename: str | None = None
    lineno: int | None = None

    @classmethod
    def from_exception(
        cls,
        plugin: PluginRecord,
        stage: str,
        error: BaseException,
        item: str | None = None,
        where: tuple[str, int] | None = None,
    ) -> PluginFailure:
        """A failure of ``plugin`` at ``stage`` caused by ``error``.

        ``where`` is the plugin's own code location when the caller knows it (a
        ``register(...)`` call); otherwise it is taken from ``error``'s traceback.
        """
        location = plugin_frame(error) or where
        return cls(
            plugin=plugin.name,
            distribution=plugin.distribution,
            version=plugin.version,
            stage=stage,
            error_type=type(error).__name__,
            message=str(error),
            item=item,
            traceback="".join(traceback.format_exception(error)),
            filename=location[0] if location else None,
            lineno=location[1] if location else None,
        )

    def source(self) -> str:
        """``plugin 'name' (distribution version)``."""
        return provider_text(self.plugin, self.distribution, self.version)

    def __str__(self) -> str:
        what = {
            "import": "failed to import",
            "hooks": "has invalid hooks",
            "acl_register_functions": "raised in acl_register_functions",
            "acl_register_families": "raised in acl_register_families",
            "function": "registered a rejected function"
                        + (f" {self.item!r}" if self.item is not None else ""),
            "family": "registered a rejected family"
                      + (f" {self.item!r}" if self.item is not None else ""),
        }.get(self.stage, self.stage)
        at = f" (at {self.filename}:{self.lineno})" if self.filename else ""
        message = " ".join(self.message.split())  # one failure, one line
        return f"{self.source()} {what}{at}: {self.error_type}: {message}"

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (all fields)."""
        return {
            "plugin": self.plugin,
            "distribution": self.distribution,
            "version": self.version,
            "stage": self.stage,
            "error_type": self.error_type,
            "message": self.message,
            "item": self.item,
            "traceback": self.traceback,
            "filename": self.filename,
            "lineno": self.lineno,
        }


@dataclass
class PluginRecord:
    """What one plugin is and what it registered.

    Attributes:
        name: the entry-point name (``ACL_LOAD_PLUGINS`` selects by it).
        distribution, version: the installing distribution, if known.
        source: where the plugin object came from (``module:attr`` of the entry point, or
            the repr of an object passed directly).
        status: ``ok``, ``partial`` (some failures, some registrations), ``failed`` (nothing
            registered) or ``disabled`` (not selected by ``ACL_LOAD_PLUGINS``).
        families, functions: names registered by this plugin.
        failures: this plugin's failures.
    """

    name: str
    distribution: str | None = None
    version: str | None = None
    source: str = ""
    status: str = "ok"
    families: list[str] = field(default_factory=list)
    functions: list[str] = field(default_factory=list)
    failures: list[PluginFailure] = field(default_factory=list)

    def finish(self) -> None:
        """Derive :attr:`status` from the registrations and failures."""
        if self.status == "disabled" or not self.failures:
            return
        self.status = "partial" if (self.families or self.functions) else "failed"

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "source": self.source,
            "status": self.status,
            "families": list(self.families),
            "functions": list(self.functions),
            "failures": [f.to_json() for f in self.failures],
        }


@dataclass
class PluginReport:
    """Everything ``acl plugins`` shows: plugins, failures, in-process families, settings.

    Attributes:
        plugins: one record per discovered plugin, in load order (disabled ones included).
        in_process: families registered with :func:`aclcore.register_family`.
        only: the ``ACL_LOAD_PLUGINS`` selection (``None``: every plugin).
        strict: whether ``ACL_STRICT_PLUGINS`` was on.
        unmatched: names in ``ACL_LOAD_PLUGINS`` that matched no installed plugin.
    """

    plugins: list[PluginRecord] = field(default_factory=list)
    in_process: list[str] = field(default_factory=list)
    only: list[str] | None = None
    strict: bool = False
    unmatched: list[str] = field(default_factory=list)

    @property
    def failures(self) -> list[PluginFailure]:
        """Every failure of every plugin, in load order."""
        return [f for p in self.plugins for f in p.failures]

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (the output of ``acl plugins --json``)."""
        return {
            "plugins": [p.to_json() for p in self.plugins],
            "failures": [f.to_json() for f in self.failures],
            "in_process": list(self.in_process),
            "settings": {"only": self.only, "strict": self.strict, "unmatched": self.unmatched},
        }
