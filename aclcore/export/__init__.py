"""Stage 5 of the pipeline: trained layers back to exact formulas, files and pictures.

The public functions are in :mod:`.api` (re-exported here): :func:`formulas`, :func:`to_json`
/ :func:`from_json` / :func:`load_json_into`, :func:`to_latex`, :func:`to_markdown`,
:func:`to_python`, :func:`to_png`. Behind them: :mod:`.collect` (what an export describes),
:mod:`.json_write` and :mod:`.json_read` (the JSON format), :mod:`.schema` (strict reading of
untrusted documents), :mod:`.rebuild` (layers from a validated configuration), :mod:`.latex`,
:mod:`.markdown`, :mod:`.python`, :mod:`.viz` (pictures), :mod:`.panels` (a layer's kernel
picture), :mod:`.checkpoint` and :mod:`.state_dict` (torch files), :mod:`.containers` (what
reading returns).
"""

from __future__ import annotations

from aclcore.export.api import (
    FORMAT,
    VERSION,
    ExportLimits,
    FamilyInfo,
    KernelFormula,
    LayerDict,
    LayerFormulas,
    formulas,
    from_json,
    load_json_into,
    to_json,
    to_latex,
    to_markdown,
    to_png,
    to_python,
)

__all__ = [
    "FORMAT",
    "VERSION",
    "ExportLimits",
    "FamilyInfo",
    "KernelFormula",
    "LayerDict",
    "LayerFormulas",
    "formulas",
    "from_json",
    "load_json_into",
    "to_json",
    "to_latex",
    "to_markdown",
    "to_png",
    "to_python",
]
