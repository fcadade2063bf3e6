"""mkdocs hooks: generate reference tables from the code, and keep copied code in step with it.

* ``<!-- generated:NAME -->`` is replaced by the output of ``aclcore.symbolic.reference.NAME()``.
* ``<!-- include:PATH -->`` is replaced by the file at ``PATH`` (relative to the repository
  root) as a fenced code block. A missing file fails the build.
* ``<!-- verbatim:PATH -->`` followed by a fenced code block: the block is a copy of the file
  at ``PATH``, written out in the Markdown so that the page reads the same raw and built. The
  build fails when the copy differs from the file; ``python docs/_hooks.py --sync`` rewrites
  the copies. ``<!-- new-plugin:NAME/PATH -->`` is the same for the file ``PATH`` that
  ``acl new-plugin NAME`` writes (the template shipped inside aclcore).
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

_MARKER = re.compile(r"<!-- generated:([a-z_]+) -->")
_INCLUDE = re.compile(r"<!-- include:([\w./-]+) -->")
#: a copy: the marker, then a fenced block (``` + language + optional title): its lines (none
#: of which starts with ```) and the closing fence
VERBATIM = re.compile(r"<!-- (verbatim|new-plugin):([\w./-]+) -->\n(```[^\n]*\n)"
                      r"((?:(?!```)[^\n]*\n)*)```[ \t]*$", re.M)
_ROOT = Path(__file__).resolve().parent.parent
_LANGUAGES = {".py": "python", ".toml": "toml", ".md": "markdown", ".yml": "yaml"}


def include(path: str) -> str:
    """The file at ``path`` (repository-relative) as a fenced code block titled by its path."""
    file = (_ROOT / path).resolve()
    if _ROOT not in file.parents or not file.is_file():
        raise FileNotFoundError(f"docs include: {path} is not a file in the repository")
    language = _LANGUAGES.get(file.suffix, "text")
    return f"`{path}`:\n\n```{language}\n{file.read_text().rstrip()}\n```"


def source_text(kind: str, path: str) -> str:
    """The text a ``verbatim`` (repository file) or ``new-plugin`` (scaffold file) copy must
    equal, without its final newline."""
    if kind == "verbatim":
        file = (_ROOT / path).resolve()
        if _ROOT not in file.parents or not file.is_file():
            raise FileNotFoundError(f"docs verbatim copy: {path} is not a file in the "
                                    "repository")
        return file.read_text().rstrip("\n")
    from aclcore.cli.scaffold import plugin_names, render_plugin

    name, _, relative = path.partition("/")
    files = render_plugin(plugin_names(name))
    if relative not in files:
        raise FileNotFoundError(f"docs new-plugin copy: acl new-plugin {name} writes no "
                                f"{relative} (it writes {', '.join(files)})")
    return files[relative].rstrip("\n")


def stale_copies(markdown: str) -> list[str]:
    """The ``verbatim``/``new-plugin`` copies in ``markdown`` that differ from their source."""
    stale = []
    for match in VERBATIM.finditer(markdown):
        kind, path, body = match.group(1), match.group(2), match.group(4)
        if body.rstrip("\n") != source_text(kind, path):
            stale.append(f"{kind}:{path}")
    return stale


def sync_copies(markdown: str) -> str:
    """``markdown`` with every ``verbatim``/``new-plugin`` copy rewritten from its source."""
    def replace(match: re.Match[str]) -> str:
        kind, path, fence = match.group(1), match.group(2), match.group(3)
        return f"<!-- {kind}:{path} -->\n{fence}{source_text(kind, path)}\n```"

    return VERBATIM.sub(replace, markdown)


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    """mkdocs hook: check the copies, then fill in includes and generated tables."""
    from aclcore.symbolic import reference as _docgen

    stale = stale_copies(markdown)
    if stale:
        raise ValueError(f"stale code copies: {', '.join(stale)}; run python docs/_hooks.py "
                         "--sync")

    def replace(match: re.Match[str]) -> str:
        return str(getattr(_docgen, match.group(1))())

    markdown = _INCLUDE.sub(lambda m: include(m.group(1)), markdown)
    return _MARKER.sub(replace, markdown)


def main(argv: list[str] | None = None) -> int:
    """``python docs/_hooks.py [--sync] [PAGE ...]``: list (or rewrite) stale code copies."""
    parser = argparse.ArgumentParser(description="List the code copies in the docs that "
                                     "differ from their source files; --sync rewrites them.")
    parser.add_argument("pages", nargs="*", type=Path, metavar="PAGE",
                        help="Markdown pages (default: every docs/*.md)")
    parser.add_argument("--sync", action="store_true", help="rewrite the stale copies")
    args = parser.parse_args(argv)
    pages = args.pages or sorted((_ROOT / "docs").glob("*.md"))
    stale_pages = 0
    for page in pages:
        text = page.read_text()
        stale = stale_copies(text)
        if not stale:
            continue
        stale_pages += 1
        if args.sync:
            page.write_text(sync_copies(text))
            print(f"{page}: rewrote {', '.join(stale)}")
        else:
            print(f"{page}: stale {', '.join(stale)}")
    return 0 if args.sync or not stale_pages else 1


if __name__ == "__main__":
    raise SystemExit(main())
