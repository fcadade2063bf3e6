"""Markdown formula card: per layer its families, formulas, AKP tables and kernel pictures.

Private helper of :mod:`aclcore.export`. The kernel pictures are the panels of
:mod:`aclcore.export.panels` (drawn by :func:`aclcore.export.viz.save_kernel_grid`: diverging
colour map centred on 0, each panel titled with its family and ``[out, in]`` index);
comparison panels show, per kernel, the layer's kernel, a given target and their difference.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import sympy as sp
import torch

from aclcore.errors import ConfigError, ExportError
from aclcore.export.collect import FamilyInfo, LayerFormulas, collect
from aclcore.export.latex import rounded
from aclcore.export.panels import layer_panel, panel_name
from aclcore.export.schema import make_directory
from aclcore.export.viz import save_kernel_grid

__all__ = ["to_markdown"]

CARD = "card.md"


def _num(value: float, precision: int) -> str:
    return f"{value:.{precision}g}"


def _compare_picture(lf: LayerFormulas, target: torch.Tensor, out_dir: Path,
                     max_out: int, names: tuple[str, str]) -> tuple[str, float]:
    layer = lf.layer
    with torch.no_grad():
        bank = layer.weight.detach().to("cpu", torch.float64)
    target = torch.as_tensor(target).detach().to("cpu", torch.float64)
    if target.shape != bank.shape:
        raise ConfigError(f"compare[{lf.path!r}] has shape {tuple(target.shape)}, the layer's "
                          f"weight {tuple(bank.shape)}")
    n = min(bank.shape[0], max_out)
    fitted, goal = bank[:n, 0], target[:n, 0]
    panels = torch.stack([fitted, goal, fitted - goal])
    titles = [f"{kind} [{o},0]" for kind in (*names, "difference") for o in range(n)]
    name = panel_name(lf.path, "compare")
    save_kernel_grid(panels, out_dir / name, titles, ndim=len(layer.kernel_size),
                     title=f"{lf.path or 'layer'}: {names[0]} vs {names[1]} (input channel 0)")
    return name, float((bank - target).abs().max())


def _family_section(info: FamilyInfo, lf: LayerFormulas, precision: int,
                    formulas: int) -> list[str]:
    fam = info.family
    prov = info.provenance
    source = "an unknown source (registered in-process or given as a KernelFamily object)"
    if prov.get("provider"):
        source = f"plugin `{prov['provider']}`"
        if prov.get("distribution"):
            source += f" ({prov['distribution']} {prov.get('version') or '?'})"
    coords = ", ".join(fam.coord_names)
    lines = [f"### Family `{fam.name}`", "",
             f"Output channels {info.start}-{info.start + info.count - 1}; from {source}; "
             f"normalisation `{info.normalize}`; fingerprint `{info.fingerprint}`.", ""]
    if fam.description:
        lines += [fam.description, ""]
    lines += ["$$", f"f({coords}) = {sp.latex(info.explicit_expr)}", "$$", ""]
    angles = {p.name for p in fam.params if p.constraint_obj.spec == "angle"}
    header = ["kernel"] + [f"{p.name}{' (mod 2π)' if p.name in angles else ''}"
                           for p in fam.params] + ["gain"]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    kernels = [k for k in lf.kernels if k.family == fam.name]
    for k in kernels:
        cells = [f"[{k.out_channel},{k.in_channel}]"]
        cells += [_num(k.wrapped.get(p.name, k.akps[p.name]), precision) for p in fam.params]
        cells.append(_num(k.gain, precision))
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    for k in kernels[:formulas]:
        lines += [f"Kernel [{k.out_channel},{k.in_channel}]:", "", "$$",
                  f"w({coords}) = {sp.latex(rounded(k.formula, precision))}", "$$", ""]
    return lines


def to_markdown(obj: object, out_dir: str | os.PathLike[str], *, precision: int = 4,
                title: str | None = None, compare: Mapping[str, torch.Tensor] | None = None,
                compare_names: tuple[str, str] = ("layer", "target"), formulas: int = 1,
                max_out: int = 16, max_in: int = 4) -> Path:
    """Write a formula card (see :func:`aclcore.export.to_markdown`); returns its path."""
    for name, value, lo in (("precision", precision, 1), ("formulas", formulas, 0),
                            ("max_out", max_out, 1), ("max_in", max_in, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < lo:
            raise ExportError(f"{name} must be an int >= {lo}, got {value!r}")
    from aclcore.version import __version__

    _, layers = collect(obj)
    compare = dict(compare or {})
    unknown = sorted(set(compare) - {lf.path for lf in layers})
    if unknown:
        raise ConfigError(f"compare names layers {unknown} that are not analytic layers of the "
                          f"model ({', '.join(repr(lf.path) for lf in layers)})")
    out = Path(out_dir)
    make_directory(out, "the formula card (card.md and PNG files)")
    heading = title or f"Formula card: {type(getattr(obj, 'module', obj)).__name__}"
    total = sum(len(lf.kernels) for lf in layers)
    lines = [f"# {heading}", "",
             f"Exported by aclcore {__version__}: {len(layers)} analytic layer(s), {total} "
             "analytic kernel(s). Each analytic kernel is its family's formula with the AKPs "
             "of its row substituted, times its gain (and the normalisation); angle AKPs are "
             "shown wrapped into [0, 2π), while the exported formulas keep the learned value. "
             "Pictures: x to the right, y upwards, red positive, blue negative, each panel "
             "scaled to its own largest magnitude.", ""]
    for lf in layers:
        c = lf.config
        size = "x".join(str(k) for k in c["kernel_size"])
        mosaic = ", ".join(f"{m['family']}: {m['count']}" for m in c["mosaic"])
        lines += [f"## Layer `{lf.path or 'layer'}` ({lf.class_name})", "",
                  f"{c['in_channels']} -> {c['out_channels']} channels, kernel {size}, "
                  f"stride {tuple(c['stride'])}, dilation {tuple(c['dilation'])}, groups "
                  f"{c['groups']}, discretisation `{c['discretization']}`; mosaic {mosaic}.",
                  "", f"How the formulas give the weights: {lf.statement}", ""]
        picture = panel_name(lf.path)
        _, shown = layer_panel(lf, out / picture, max_out=max_out, max_in=max_in)
        lines += [f"![kernels of {lf.path or 'layer'}]({picture})", "",
                  f"*Kernels ({shown}).*", ""]
        if lf.path in compare:
            name, err = _compare_picture(lf, compare[lf.path], out, max_out, compare_names)
            lines += [f"![comparison for {lf.path or 'layer'}]({name})", "",
                      f"*Rows: {compare_names[0]}, {compare_names[1]} and their difference "
                      f"(input channel 0); largest absolute difference over the whole bank: "
                      f"{err:.3g}.*", ""]
        for info in lf.families:
            lines += _family_section(info, lf, precision, formulas)
        free = c["out_channels"] - sum(info.count for info in lf.families)
        if free:
            lines += ["### Free kernels", "",
                      f"{free} output channel(s) hold ordinary learned kernels (no formula).", ""]
    path = out / CARD
    try:
        path.write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8")
    except OSError as err:
        raise ExportError(f"{path}: cannot write the formula card: {err.strerror or err}; "
                          "choose another directory") from None
    return path

