"""Code shown in the docs is the real code: includes, and verbatim copies checked against it.

``<!-- verbatim:PATH -->`` and ``<!-- new-plugin:NAME/PATH -->`` copies are written out in the
Markdown (the plugin tutorial reads the same raw and built); the mkdocs hook fails the build
when one differs from its source, and ``python docs/_hooks.py --sync`` rewrites them.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted((ROOT / "docs").glob("*.md"))


def docs_hooks() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_hooks", ROOT / "docs" / "_hooks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_include_names_a_repository_file() -> None:
    for page in PAGES:
        for path in re.findall(r"<!-- include:([\w./-]+) -->", page.read_text()):
            assert (ROOT / path).is_file(), f"{page.name} includes missing {path}"


def test_every_code_copy_in_the_docs_is_current() -> None:
    hooks = docs_hooks()
    for page in PAGES:
        assert hooks.stale_copies(page.read_text()) == [], (
            f"{page.name}: run python docs/_hooks.py --sync")


def test_the_plugin_tutorial_shows_the_scaffold_and_the_example_plugin_raw() -> None:
    page = (ROOT / "docs" / "writing-a-plugin.md").read_text()
    copies = {f"{m.group(1)}:{m.group(2)}": m.group(4)
              for m in docs_hooks().VERBATIM.finditer(page)}
    assert set(copies) == {
        "new-plugin:acl-mykernels/pyproject.toml",
        "new-plugin:acl-mykernels/src/acl_mykernels/families.py",
        "new-plugin:acl-mykernels/src/acl_mykernels/__init__.py",
        "new-plugin:acl-mykernels/tests/test_families.py",
        "verbatim:plugins/acl-example/pyproject.toml",
        "verbatim:plugins/acl-example/src/acl_example/__init__.py",
        "verbatim:plugins/acl-example/tests/test_acl_example.py",
    }
    # readable in the raw Markdown: the code itself is in the page, not only a marker
    for path in ("plugins/acl-example/pyproject.toml",
                 "plugins/acl-example/src/acl_example/__init__.py",
                 "plugins/acl-example/tests/test_acl_example.py"):
        assert (ROOT / path).read_text().rstrip() in page, f"{path} not shown verbatim"
    assert 'expr="exp(-(x**2 + y**2)/(2*sigma**2)) * cos(2*pi*sqrt(' in page
    assert "<!-- include:" not in page
    # and the same in the built page (the hook leaves the copies as they are)
    assert docs_hooks().on_page_markdown(page) == page


def test_a_stale_copy_fails_the_build_and_sync_repairs_it(tmp_path: Path) -> None:
    hooks = docs_hooks()
    page = (ROOT / "docs" / "writing-a-plugin.md").read_text()
    stale = page.replace('example = "acl_example"', 'example = "acl_example_old"', 1)
    assert hooks.stale_copies(stale) == ["verbatim:plugins/acl-example/pyproject.toml"]
    message = ("stale code copies: verbatim:plugins/acl-example/pyproject.toml; run python "
               "docs/_hooks.py --sync")
    with pytest.raises(ValueError, match=re.escape(message)):
        hooks.on_page_markdown(stale)
    assert hooks.sync_copies(stale) == page
    copy = tmp_path / "page.md"
    copy.write_text(stale)
    assert hooks.main([str(copy)]) == 1  # lists it
    assert hooks.main([str(copy), "--sync"]) == 0
    assert copy.read_text() == page and hooks.main([str(copy)]) == 0


def test_copies_refuse_unknown_sources() -> None:
    hooks = docs_hooks()
    with pytest.raises(FileNotFoundError, match="not a file in the repository"):
        hooks.source_text("verbatim", "../../etc/passwd")
    with pytest.raises(FileNotFoundError,
                       match=re.escape("acl new-plugin acl-mykernels writes no setup.py")):
        hooks.source_text("new-plugin", "acl-mykernels/setup.py")


def test_include_refuses_files_outside_the_repository() -> None:
    hooks = docs_hooks()
    with pytest.raises(FileNotFoundError):
        hooks.include("../../etc/passwd")
    with pytest.raises(FileNotFoundError):
        hooks.include("plugins/acl-example/no_such_file.py")
