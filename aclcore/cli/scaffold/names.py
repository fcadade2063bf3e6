"""The names of a new plugin, derived from its distribution name and checked once.

``acl new-plugin acl-mykernels`` makes the distribution ``acl-mykernels``, the import package
``acl_mykernels``, the entry-point (plugin) name ``mykernels`` (the distribution name without
a leading ``acl-``, ``-`` as ``_``) and families named ``mykernels_<family>``.
:func:`plugin_names` checks the spelling; :func:`check_available` that nothing installed
already uses the names.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass

from aclcore.errors import ConfigError

__all__ = ["DISTRIBUTION_NAME", "FAMILY_SUFFIXES", "MAX_LENGTH", "PluginNames",
           "check_available", "plugin_names"]

#: A new plugin's distribution name: lowercase letters and digits in words joined by single
#: hyphens, starting with a letter (PyPI's normalised form, also a valid entry-point name).
DISTRIBUTION_NAME = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")
#: The longest distribution name accepted (family names ``<plugin>_<suffix>`` stay within the
#: 64 characters a family name may have).
MAX_LENGTH = 40
#: The families of the template, as suffixes of the plugin name.
FAMILY_SUFFIXES = ("lorentzian", "ring_wave")
_EXAMPLE = "acl-mykernels"


@dataclass(frozen=True)
class PluginNames:
    """The names of a new plugin.

    Attributes:
        distribution: the distribution (``pip install``) name, e.g. ``acl-mykernels``.
        package: the import package, e.g. ``acl_mykernels``.
        plugin: the entry-point name that ``acl plugins`` shows and ``ACL_LOAD_PLUGINS``
            selects, e.g. ``mykernels``.
    """

    distribution: str
    package: str
    plugin: str

    @property
    def families(self) -> tuple[str, ...]:
        """The names of the template's families (``<plugin>_lorentzian``, ...)."""
        return tuple(f"{self.plugin}_{suffix}" for suffix in FAMILY_SUFFIXES)


def plugin_names(name: str) -> PluginNames:
    """The names of the plugin whose distribution is ``name``; ConfigError when misspelt.

    Raises:
        ConfigError: ``name`` is not a lowercase distribution name (letters, digits, single
            hyphens, starting with a letter, at most :data:`MAX_LENGTH` characters), or its
            package name is a Python keyword.
    """
    if not isinstance(name, str) or not DISTRIBUTION_NAME.match(name) or len(name) > MAX_LENGTH:
        shown = name if isinstance(name, str) else type(name).__name__
        raise ConfigError(
            f"plugin name {shown!r} is invalid: use a lowercase distribution name such as "
            f"{_EXAMPLE!r}: letters and digits in words joined by single hyphens, starting "
            f"with a letter, at most {MAX_LENGTH} characters"
        )
    package = name.replace("-", "_")
    plugin = name.removeprefix("acl-").replace("-", "_")
    if not plugin[0].isalpha():
        raise ConfigError(f"plugin name {name!r} is invalid: the plugin (entry-point) name "
                          f"{plugin!r}, the distribution name without 'acl-', must start with "
                          f"a letter, since it prefixes the family names; e.g. {_EXAMPLE!r}")
    if keyword.iskeyword(package):
        raise ConfigError(f"plugin name {name!r} is invalid: {package!r} is a Python keyword "
                          f"and cannot be imported; choose another name, e.g. {_EXAMPLE!r}")
    return PluginNames(name, package, plugin)


def _normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def check_available(names: PluginNames, families: frozenset[str] | None = None) -> None:
    """Refuse names already taken on this installation.

    Taken are: an installed distribution of the same (normalised) name, an importable module
    or package of the package name (e.g. ``torch``), an entry point of the ``aclcore`` group
    with the plugin name, and a registered family with one of the template's family names
    (``families``: the names registered now; ``None`` skips that check).

    Raises:
        ConfigError: naming what takes the name and asking for another one.
    """
    import importlib.metadata
    import importlib.util

    wanted = _normalised(names.distribution)
    for dist in importlib.metadata.distributions():
        dist_name = dist.metadata["Name"] or ""
        if _normalised(dist_name) == wanted:
            raise ConfigError(f"plugin name {names.distribution!r} is taken: the distribution "
                              f"{dist_name} {dist.version} is installed; choose another name")
    try:
        spec = importlib.util.find_spec(names.package)
    except (ImportError, ValueError):
        spec = None
    if spec is not None:
        where = spec.origin or ", ".join(spec.submodule_search_locations or []) or "?"
        raise ConfigError(f"plugin name {names.distribution!r} is taken: the package "
                          f"{names.package!r} is already importable (from {where}); choose "
                          "another name")
    for ep in importlib.metadata.entry_points(group="aclcore"):
        if ep.name == names.plugin:
            owner_dist = getattr(ep, "dist", None)
            owner = f" of {owner_dist.metadata['Name']}" if owner_dist is not None else ""
            raise ConfigError(f"plugin name {names.distribution!r} is taken: the aclcore "
                              f"plugin {names.plugin!r}{owner} ({ep.value}) is installed; "
                              "choose another name")
    clash = sorted(set(names.families) & (families or frozenset()))
    if clash:
        raise ConfigError(f"plugin name {names.distribution!r} is taken: the families "
                          f"{', '.join(clash)} are already registered; choose another name")
