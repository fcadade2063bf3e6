"""mkdocs hooks: generate reference tables from the code so the docs cannot drift.

A page containing ``<!-- generated:NAME -->`` gets that marker replaced by the output of
``aclcore.symbolic.reference.NAME()``; ``<!-- include:PATH -->`` is replaced by the file at ``PATH``
(relative to the repository root) as a fenced code block, so tutorials show real code. A
missing file fails the build.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

_MARKER = re.compile(r"<!-- generated:([a-z_]+) -->")
_INCLUDE = re.compile(r"<!-- include:([\w./-]+) -->")
_ROOT = Path(__file__).resolve().parent.parent
_LANGUAGES = {".py": "python", ".toml": "toml", ".md": "markdown", ".yml": "yaml"}


def include(path: str) -> str:
    """The file at ``path`` (repository-relative) as a fenced code block titled by its path."""
    file = (_ROOT / path).resolve()
    if _ROOT not in file.parents or not file.is_file():
        raise FileNotFoundError(f"docs include: {path} is not a file in the repository")
    language = _LANGUAGES.get(file.suffix, "text")
    return f"`{path}`:\n\n```{language}\n{file.read_text().rstrip()}\n```"


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    from aclcore.symbolic import reference as _docgen

    def replace(match: re.Match[str]) -> str:
        return str(getattr(_docgen, match.group(1))())

    markdown = _INCLUDE.sub(lambda m: include(m.group(1)), markdown)
    return _MARKER.sub(replace, markdown)
