"""Render the plugin template shipped inside aclcore into a new distribution directory.

The template is package data: ``aclcore/cli/scaffold/template/``, one ``.tmpl`` file per file
of the new distribution. A path component ``dot-NAME`` becomes ``.NAME`` (so that the hidden
files ship like the others) and ``{{package}}`` in a path becomes the package name; in the
files, ``{{distribution}}``, ``{{package}}``, ``{{plugin}}`` and ``{{aclcore_version}}`` are
replaced. Any other ``{{word}}`` is an error of the template (GitHub's ``${{ expr }}``, which
is not a single word, passes through). Nothing is fetched: the template works offline.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from aclcore.cli.scaffold.names import PluginNames
from aclcore.errors import ConfigError

__all__ = ["SUFFIX", "TEMPLATE", "render_plugin", "write_plugin"]

#: The directory holding the template (package data of aclcore).
TEMPLATE = Path(__file__).resolve().parent / "template"
#: Every template file ends in this suffix (so that the tools never take them for modules).
SUFFIX = ".tmpl"
_PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")


def _values(names: PluginNames) -> dict[str, str]:
    from aclcore.version import __version__

    return {"distribution": names.distribution, "package": names.package,
            "plugin": names.plugin, "aclcore_version": __version__}


def _fill(text: str, values: dict[str, str], where: str) -> str:
    def replace(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in values:
            raise ConfigError(f"the plugin template {where} uses the unknown placeholder "
                              f"{{{{{key}}}}}; known: {', '.join(sorted(values))}")
        return values[key]

    return _PLACEHOLDER.sub(replace, text)


def _target(relative: Path, values: dict[str, str]) -> str:
    parts = []
    for part in relative.parts:
        part = _fill(part, values, str(relative))
        parts.append("." + part.removeprefix("dot-") if part.startswith("dot-") else part)
    return "/".join(parts).removesuffix(SUFFIX)


def render_plugin(names: PluginNames) -> dict[str, str]:
    """The files of the new plugin: relative POSIX path -> text, sorted by path."""
    values = _values(names)
    files: dict[str, str] = {}
    for source in sorted(TEMPLATE.rglob(f"*{SUFFIX}")):
        relative = source.relative_to(TEMPLATE)
        files[_target(relative, values)] = _fill(source.read_text(encoding="utf-8"), values,
                                                 relative.as_posix())
    files = dict(sorted(files.items()))
    if not files:
        raise ConfigError(f"the plugin template is missing from this installation of aclcore "
                          f"({TEMPLATE}); reinstall aclcore")
    return files


def write_plugin(names: PluginNames, target: str | os.PathLike[str]) -> list[Path]:
    """Write the new plugin into the directory ``target``; returns the files written.

    Raises:
        ConfigError: ``target`` exists and is a file or a directory that is not empty, or
            the files cannot be written (naming the path and the cause).
    """
    root = Path(target)
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        what = "a directory that is not empty" if root.is_dir() else "a file"
        raise ConfigError(f"--dir {root}: {what} is already there; give a new or empty "
                          "directory (--dir DIR)")
    files = render_plugin(names)
    written = []
    try:
        for relative, text in files.items():
            path = root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            written.append(path)
    except OSError as err:
        raise ConfigError(f"--dir {root}: cannot write the plugin there: "
                          f"{err.strerror or err} ({err.filename or root})") from None
    return written
