"""Compatibility path: kernel pictures lives in :mod:`aclcore.export.viz`.

``import aclcore.viz`` keeps working for plugins, notebooks and docs written against it;
aclcore's own code imports :mod:`aclcore.export.viz`.
"""

from __future__ import annotations

from aclcore.export.viz import *  # noqa: F403
from aclcore.export.viz import __all__ as __all__
