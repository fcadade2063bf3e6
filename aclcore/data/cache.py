"""Where downloaded data files are kept: ``$ACL_DATA_DIR``, else ``~/.cache/aclcore/data``.

``$XDG_CACHE_HOME`` replaces ``~/.cache`` when set. Nothing is downloaded unless the user
asks for it (``acl train --fetch``); reading never touches the network.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["data_cache_dir"]


def data_cache_dir() -> Path:
    """The data cache directory (not created here)."""
    explicit = os.environ.get("ACL_DATA_DIR")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "aclcore" / "data"
