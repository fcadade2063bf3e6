"""Compatibility path: the grid convention lives in :mod:`aclcore.nn.grid`.

``import aclcore.grid`` keeps working for plugins, notebooks and docs written against it;
aclcore's own code imports :mod:`aclcore.nn.grid`.
"""

from __future__ import annotations

from aclcore.nn.grid import *  # noqa: F403
from aclcore.nn.grid import __all__ as __all__
