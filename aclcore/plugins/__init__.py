"""Stage 3 of the pipeline: families and functions collected from plugins.

* :mod:`.registry` -- the :class:`Registry` of families and functions by name, the current
  registry and the look-ups (:func:`get_family`, :func:`families`, :func:`register_family`);
* :mod:`.loader` -- discovery of the ``aclcore`` entry points and :func:`load_plugins`;
* :mod:`.isolation` -- one plugin loaded and called in isolation, failures recorded;
* :mod:`.checks` -- the cheap checks of everything a plugin registers;
* :mod:`.report` -- what the loader did (``acl plugins``); :mod:`.provenance` -- how a
  source is named in every message.
"""

from __future__ import annotations

from aclcore.plugins.loader import (
    ENTRY_POINT_GROUP,
    ENV_LOAD,
    ENV_STRICT,
    discover_entry_points,
    load_plugins,
    plugin_loader,
    selected_names,
    strict_mode,
)
from aclcore.plugins.provenance import IN_PROCESS, provider_text
from aclcore.plugins.registry import (
    DuplicateError,
    FamilyRecord,
    Registry,
    current_registry,
    families,
    formula_functions,
    get_family,
    plugin_report,
    register_family,
    register_function,
    use_registry,
)
from aclcore.plugins.report import AclPluginWarning, PluginFailure, PluginRecord, PluginReport

__all__ = [
    "ENTRY_POINT_GROUP",
    "ENV_LOAD",
    "ENV_STRICT",
    "IN_PROCESS",
    "AclPluginWarning",
    "DuplicateError",
    "FamilyRecord",
    "PluginFailure",
    "PluginRecord",
    "PluginReport",
    "Registry",
    "current_registry",
    "discover_entry_points",
    "families",
    "formula_functions",
    "get_family",
    "load_plugins",
    "plugin_loader",
    "plugin_report",
    "provider_text",
    "register_family",
    "register_function",
    "selected_names",
    "strict_mode",
    "use_registry",
]
