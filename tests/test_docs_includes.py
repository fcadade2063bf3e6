"""``<!-- include:PATH -->`` in the docs: the plugin tutorial shows the real plugin code."""

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


def test_writing_a_plugin_is_built_on_the_example_plugin() -> None:
    page = (ROOT / "docs" / "writing-a-plugin.md").read_text()
    rendered = docs_hooks().on_page_markdown(page)
    assert "<!-- include:" not in rendered
    for path in ("plugins/acl-example/pyproject.toml",
                 "plugins/acl-example/src/acl_example/__init__.py",
                 "plugins/acl-example/tests/test_acl_example.py"):
        assert (ROOT / path).read_text().rstrip() in rendered, f"{path} not shown verbatim"
    assert '```toml\n[build-system]' in rendered
    assert "```python\n" in rendered


def test_include_refuses_files_outside_the_repository() -> None:
    hooks = docs_hooks()
    with pytest.raises(FileNotFoundError):
        hooks.include("../../etc/passwd")
    with pytest.raises(FileNotFoundError):
        hooks.include("plugins/acl-example/no_such_file.py")
