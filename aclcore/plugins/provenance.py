"""Where a family or plugin came from, said one way everywhere.

Every message that names a source ("family 'gabor' from plugin 'classic' (acl-classic
0.1.0)") is written by :func:`provider_text`, so the registry, the loader's failure reports,
layer states, checkpoints, exports and the CLI agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["IN_PROCESS", "provider_text", "record_text"]

#: Provider name of families and functions registered in-process (``register_family``).
IN_PROCESS = "<in-process>"


def provider_text(provider: str | None, distribution: str | None = None,
                  version: str | None = None) -> str:
    """``plugin 'name' (distribution version)``, ``plugin 'name'``, ``<in-process>``, or
    ``an unknown source`` when the provider is not known."""
    if not provider:
        return "an unknown source"
    if provider == IN_PROCESS:
        return IN_PROCESS
    if distribution:
        return f"plugin {provider!r} ({distribution} {version or '?'})"
    return f"plugin {provider!r}"


def record_text(entry: Mapping[str, Any]) -> str:
    """:func:`provider_text` of a ``{"provider", "distribution", "version"}`` record (as kept
    in layer states, checkpoints and export documents)."""
    return provider_text(entry.get("provider"), entry.get("distribution"), entry.get("version"))
