"""Helpers shared by the ``acl`` subcommands (output only; no library logic)."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["print_json"]


def print_json(data: Any) -> None:
    """Print ``data`` as indented JSON (the ``--json`` output of every subcommand)."""
    print(json.dumps(data, indent=2, sort_keys=False))
