"""Compatibility path: checkpoint saving and loading lives in :mod:`aclcore.export.checkpoint`.

``import aclcore.checkpoint`` keeps working for plugins, notebooks and docs written against it;
aclcore's own code imports :mod:`aclcore.export.checkpoint`.
"""

from __future__ import annotations

from aclcore.export.checkpoint import *  # noqa: F403
from aclcore.export.checkpoint import __all__ as __all__
