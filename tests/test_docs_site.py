"""The documentation site: its structure, offline build settings, API reference, and pages
that must cover every error type and tell installs that work from this repository.

The README's test command builds the site (``mkdocs build --strict``); these tests pin what
the build itself does not check.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

import aclcore.errors

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
yaml = pytest.importorskip("yaml", reason="PyYAML comes with mkdocs (the dev extra)")


def _config() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "mkdocs.yml").read_text())  # type: ignore[no-any-return]


def _pages(nav: Any) -> list[str]:
    """Every page path in a (nested) mkdocs nav."""
    if isinstance(nav, str):
        return [nav]
    if isinstance(nav, list):
        return [p for item in nav for p in _pages(item)]
    if isinstance(nav, dict):
        return [p for value in nav.values() for p in _pages(value)]
    return []


def _section(name: str) -> list[str]:
    (section,) = [item[name] for item in _config()["nav"] if name in item]
    return _pages(section)


def test_the_nav_has_four_sections_holding_every_page() -> None:
    nav = _config()["nav"]
    assert [next(iter(item)) for item in nav] == ["Getting started", "Guides", "Reference",
                                                  "Project"]
    pages = _pages(nav)
    assert len(pages) == len(set(pages))
    on_disk = {p.relative_to(DOCS).as_posix()
               for p in [*DOCS.glob("*.md"), *DOCS.glob("api/*.md")]} | {"card/card.md"}
    assert set(pages) == on_disk
    assert _section("Getting started")[:3] == ["index.md", "installation.md", "tutorial.md"]
    guides = set(_section("Guides"))
    assert {"export.md", "writing-a-plugin.md", "troubleshooting.md"} <= guides
    if (DOCS / "training.md").exists():  # the training guide, once it is there
        assert "training.md" in guides
    assert {"api/index.md", "cli.md", "hooks.md"} <= set(_section("Reference"))
    assert "compatibility.md" in _section("Project")


def test_the_site_builds_offline() -> None:
    config = _config()
    assert config["theme"]["name"] == "material"
    assert config["theme"]["font"] is False  # no web fonts fetched by the pages
    assert config["strict"] is True
    for key in ("extra_javascript", "extra_css"):
        assert not any("//" in str(item) for item in config.get(key, [])), key
    for text in [p.read_text() for p in DOCS.rglob("*.md")]:
        assert "<script" not in text


def test_the_api_reference_is_generated_from_the_code() -> None:
    config = _config()
    (mkdocstrings,) = [p["mkdocstrings"] for p in config["plugins"]
                       if isinstance(p, dict) and "mkdocstrings" in p]
    assert mkdocstrings["handlers"]["python"]["options"]["docstring_style"] == "google"
    modules = [m for page in sorted(DOCS.glob("api/*.md"))
               for m in re.findall(r"^::: ([\w.]+)$", page.read_text(), re.M)]
    import importlib

    for module in modules:
        importlib.import_module(module)
    for package in ("aclcore.symbolic.family", "aclcore.compile.compiler", "aclcore.hookspecs",
                    "aclcore.plugins.registry", "aclcore.nn.layers", "aclcore.export.api",
                    "aclcore.testing", "aclcore.errors", "aclcore.train", "aclcore.fit"):
        assert package in modules, package


def test_troubleshooting_explains_every_error_type() -> None:
    page = (DOCS / "troubleshooting.md").read_text()
    sections = re.split(r"^## ", page, flags=re.M)
    for name in aclcore.errors.__all__:
        (section,) = [s for s in sections if s.startswith(f"`{name}`")]
        assert "**Fix:**" in section or name == "AclError", name
        assert "```python" in section or name == "AclError", name  # an executed example


_BY_NAME = re.compile(r"pip install[^\n`]*?(?<![\w./-])(aclcore|acl-classic|acl-example)\b")
#: lines that quote such a command to say that it fails
_SAYS_IT_FAILS = ("finds nothing", "no matching distribution")


def test_install_instructions_work_from_this_repository() -> None:
    """No page tells to install aclcore or its plugins by name from an index that does not
    serve them: local paths (``./``, ``'./[viz]'``) or a wheelhouse (``--find-links``)."""
    files = [ROOT / "README.md", *DOCS.rglob("*.md"), *ROOT.glob("plugins/*/README.md")]
    for file in files:
        for line in file.read_text().splitlines():
            if "--find-links" in line or any(p in line for p in _SAYS_IT_FAILS):
                continue
            command = re.split(r"\s#\s", line)[0]  # not the shell comment
            assert not _BY_NAME.search(command), f"{file.relative_to(ROOT)}: {line.strip()}"
            assert "'aclcore[" not in line and '"aclcore[' not in line, line
    install = (DOCS / "installation.md").read_text()
    for needed in ("pip install -c constraints.txt ./ ./plugins/acl-classic",
                   "'./[viz]'", "--no-index --find-links wheelhouse", "CUDA"):
        assert needed in install, needed


def test_the_docs_tools_are_in_the_dev_extra() -> None:
    tomllib = pytest.importorskip("tomllib", reason="tomllib is in Python 3.11+")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    dev = " ".join(project["optional-dependencies"]["dev"])
    for package in ("mkdocs", "mkdocs-material", "mkdocstrings-python"):
        assert f"{package}>=" in dev, package
