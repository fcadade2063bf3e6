"""``acl new-plugin``'s library: a ready plugin distribution from a template shipped inside aclcore.

:func:`plugin_names` and :func:`check_available` (:mod:`.names`) derive and check the names
of the new plugin; :func:`render_plugin` and :func:`write_plugin` (:mod:`.render`) fill the
template (``template/``, package data) and write the files. The result is what plugin
authors of llm, datasette or pytest start from: ``pyproject.toml`` with the ``aclcore`` entry
point, a package declaring one family with SymPy objects and one from a formula string (the
maths in docstrings), tests built on :mod:`aclcore.testing`, a README and a CI workflow.
"""

from __future__ import annotations

from aclcore.cli.scaffold.names import PluginNames, check_available, plugin_names
from aclcore.cli.scaffold.render import render_plugin, write_plugin

__all__ = ["PluginNames", "check_available", "plugin_names", "render_plugin", "write_plugin"]
