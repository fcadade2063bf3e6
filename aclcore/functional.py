"""Compatibility path: the functional core of the layers lives in :mod:`aclcore.nn.functional`.

``import aclcore.functional`` keeps working for plugins, notebooks and docs written against it;
aclcore's own code imports :mod:`aclcore.nn.functional`.
"""

from __future__ import annotations

from aclcore.nn.functional import *  # noqa: F403
from aclcore.nn.functional import __all__ as __all__
