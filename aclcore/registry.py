"""Compatibility path: the registry lives in :mod:`aclcore.plugins.registry`.

``from aclcore.registry import Registry, use_registry, get_family`` keeps working for plugins
and notebooks written against it; aclcore's own code imports :mod:`aclcore.plugins`.
"""

from __future__ import annotations

from aclcore.plugins.registry import *  # noqa: F403
from aclcore.plugins.registry import __all__ as __all__
