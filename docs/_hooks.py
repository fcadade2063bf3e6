"""mkdocs hooks: generate reference tables from the code so the docs cannot drift.

A page containing ``<!-- generated:NAME -->`` gets that marker replaced by the output of
``aclcore._docgen.NAME()``.
"""

from __future__ import annotations

import re
from typing import Any

_MARKER = re.compile(r"<!-- generated:([a-z_]+) -->")


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    from aclcore import _docgen

    def replace(match: re.Match[str]) -> str:
        return str(getattr(_docgen, match.group(1))())

    return _MARKER.sub(replace, markdown)
