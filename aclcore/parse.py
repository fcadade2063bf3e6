"""Compatibility path: the safe formula parser lives in :mod:`aclcore.symbolic.parse`.

``import aclcore.parse`` keeps working for plugins, notebooks and docs written against it;
aclcore's own code imports :mod:`aclcore.symbolic.parse`.
"""

from __future__ import annotations

from aclcore.symbolic.parse import *  # noqa: F403
from aclcore.symbolic.parse import __all__ as __all__
