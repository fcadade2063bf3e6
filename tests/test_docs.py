"""Docs are executable: every ```python block of every page runs, in order, per page.

A line ``print(...)  # text`` also asserts that ``text`` appears in what the block printed
(``...`` separates fragments that must all appear). Generated-table markers must resolve.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

from aclcore.plugins.registry import Registry, use_registry
from aclcore.symbolic import reference as _docgen

DOCS = Path(__file__).resolve().parents[1] / "docs"
PAGES = sorted(DOCS.glob("*.md"))
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
_CLAIM = re.compile(r"^print\(.*\)\s+# (.*)$", re.M)


def run_page(page: Path) -> None:
    """Execute the python blocks of ``page`` in one namespace, checking print claims."""
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem}"}
    for i, block in enumerate(_BLOCK.findall(page.read_text())):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(block, f"{page.name}[block {i}]", "exec"), namespace)
        printed = out.getvalue()
        for claim in _CLAIM.findall(block):
            for part in (p.strip() for p in claim.split("...")):
                assert part in printed, f"{page.name} block {i}: {part!r} not in {printed!r}"


@pytest.mark.real_registry
@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_page_examples_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    # a fresh registry that loads the installed plugins, so examples cannot leak registrations
    with use_registry(Registry()):
        run_page(page)


def test_generated_markers_resolve() -> None:
    for page in PAGES:
        for name in re.findall(r"<!-- generated:([a-z_]+) -->", page.read_text()):
            assert callable(getattr(_docgen, name, None)), f"{page.name}: unknown table {name}"
            assert getattr(_docgen, name)().strip()


def test_every_page_is_in_the_nav() -> None:
    nav = (DOCS.parent / "mkdocs.yml").read_text()
    for page in PAGES:
        assert page.name in nav, f"{page.name} is not in mkdocs.yml nav"
