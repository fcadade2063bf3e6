"""``acl export SOURCE --format json|latex|md|py|png [-o PATH]``: the CLI of :mod:`aclcore.export`.

SOURCE is an aclcore checkpoint (:func:`aclcore.export.checkpoint.save_checkpoint`), a plain
``torch.save(model.state_dict())`` file, a training run directory (holding
``checkpoint.pt``) or a JSON export (``*.json``, or any file that starts with ``{``).
Everything is read without running code from it. JSON, LaTeX and Python go to stdout unless
``-o`` names a file (an existing directory is refused); the Markdown card and the PNG kernel
panels need ``-o`` as a directory (``card.md`` and PNGs, or one ``<layer>_kernels.png`` per
analytic layer). ``--json`` prints a report (source,
format, layer paths, files written, and the text itself when there is no ``-o``).

Module-level imports are light (``acl --help`` must stay fast); the work is imported lazily.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

__all__ = ["add_export_command", "cmd_export", "load_source"]

FORMATS = ("json", "latex", "md", "py", "png")
_SUFFIXES = {"json": "json", "latex": "tex", "py": "py"}


def add_export_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Declare ``acl export`` on the subcommand parser ``sub``."""
    p = sub.add_parser(
        "export",
        help="export a trained model's analytic kernels (JSON, LaTeX, Markdown card, Python, "
        "PNG)",
        description="Export the analytic layers of SOURCE (an aclcore checkpoint, a plain "
        "state_dict file, a training run directory holding checkpoint.pt, or a JSON export) "
        "as exact formulas: json (self-contained, reloadable), latex (AKP tables), md (a "
        "formula card with PNG kernel grids; needs -o DIR), py (a standalone module "
        "regenerating the kernel banks) or png (one kernel panel per layer; needs -o DIR). "
        "Nothing from SOURCE is executed.",
    )
    p.add_argument("source", metavar="SOURCE", help="checkpoint file, run directory or JSON "
                   "export")
    p.add_argument("--format", choices=FORMATS, default="json", help="output format "
                   "(default json)")
    p.add_argument("-o", "--output", metavar="PATH",
                   help="output file (json, latex, py; default stdout) or directory (md, "
                   "png)")
    p.add_argument("--precision", type=int, default=4,
                   help="significant digits in LaTeX and Markdown tables (default 4)")
    p.add_argument("--json", action="store_true",
                   help="print a JSON report (source, layers, files written; the exported "
                   "text itself under 'text' when there is no -o)")
    p.set_defaults(run=cmd_export)


def load_source(source: str) -> Any:
    """The analytic layers in ``source`` (a Checkpoint, or what ``from_json`` returns).

    A file is read as a JSON export when its name ends in ``.json`` or its first non-blank
    character is ``{`` (torch files never start so); otherwise as a checkpoint.
    """
    from aclcore.errors import ExportError
    from aclcore.export import ExportLimits, from_json
    from aclcore.export.checkpoint import load_checkpoint, looks_like_json, resolve_source

    path = Path(source)
    if path.is_file() and (path.suffix.lower() == ".json" or looks_like_json(path)):
        limit = ExportLimits().max_chars
        try:
            if path.stat().st_size > limit:
                raise ExportError(f"{source}: the JSON export is larger than the limit "
                                  f"({limit} bytes)")
            text = path.read_bytes()
        except OSError as err:
            raise ExportError(f"{source}: cannot read: {err}") from None
        return from_json(text)
    return load_checkpoint(resolve_source(path))


def _write(output: str, text: str, fmt: str) -> Path:
    """Write ``text`` to the file ``output`` (creating its directory); ExportError otherwise."""
    from aclcore.errors import ExportError
    from aclcore.export.schema import make_directory

    out = Path(output)
    if out.is_dir():
        raise ExportError(f"-o {output} is a directory; --format {fmt} writes one file: give "
                          f"its name, e.g. -o {out / ('model.' + _SUFFIXES[fmt])}")
    make_directory(out.parent, f"the {fmt} export", f"-o {output}")
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as err:
        raise ExportError(f"-o {output}: cannot write the file: {err.strerror or err}") from None
    return out


def cmd_export(args: argparse.Namespace) -> int:
    """``acl export SOURCE [--format FORMAT] [-o PATH] [--precision N] [--json]``."""
    from aclcore import export
    from aclcore.errors import ConfigError
    from aclcore.export.collect import analytic_layers

    if not 1 <= args.precision <= 17:
        raise ConfigError(f"--precision must be from 1 to 17, got {args.precision}")
    model = load_source(args.source)
    report: dict[str, Any] = {
        "source": args.source, "format": args.format,
        "layers": [path for path, _ in analytic_layers(model)[1]], "files": [],
    }
    text: str | None = None
    if args.format == "md":
        if not args.output:
            raise ConfigError("--format md writes card.md and PNG files: give the output "
                              "directory with -o DIR")
        card = export.to_markdown(model, args.output, precision=args.precision)
        report["files"] = sorted(str(p) for p in card.parent.iterdir()
                                 if p.name == card.name or p.suffix == ".png")
    elif args.format == "png":
        if not args.output:
            raise ConfigError("--format png writes one PNG file per analytic layer: give the "
                              "output directory with -o DIR")
        report["files"] = [str(p) for p in export.to_png(model, args.output)]
    else:
        if args.format == "json":
            text = export.to_json(model)
        elif args.format == "latex":
            text = export.to_latex(model, precision=args.precision, document=True)
        else:
            text = export.to_python(model)
        if args.output:
            report["files"] = [str(_write(args.output, text, args.format))]
            text = None
    if args.json:
        print(json.dumps({**report, "text": text}, indent=2))
    elif text is not None:
        print(text, end="" if text.endswith("\n") else "\n")
    else:
        print("\n".join(f"wrote {f}" for f in report["files"]))
    return 0
