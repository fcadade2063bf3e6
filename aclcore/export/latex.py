"""LaTeX export: per layer, each family's formula and one table of the learned AKPs.

Private helper of :mod:`aclcore.export`. Tables use plain ``tabular`` (``longtable`` in a
standalone document, so long tables break across pages); numbers are printed with
``precision`` significant digits. Angle AKPs are shown wrapped into ``[0, 2\\pi)``.
"""

from __future__ import annotations

import sympy as sp

from aclcore.export.collect import LayerFormulas, collect

__all__ = ["latex_text", "to_latex"]

_ESCAPES = {"\\": r"\textbackslash{}", "_": r"\_", "%": r"\%", "&": r"\&", "#": r"\#",
            "$": r"\$", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
            "^": r"\textasciicircum{}"}


def latex_text(text: str) -> str:
    """``text`` with LaTeX's special characters escaped (for names, paths, descriptions)."""
    return "".join(_ESCAPES.get(ch, ch) for ch in text)


def rounded(expr: sp.Expr, precision: int) -> sp.Expr:
    """``expr`` with every Float shown with ``precision`` significant digits (for display)."""
    floats = expr.atoms(sp.Float)
    return expr.xreplace({f: sp.Float(f, precision) for f in floats}) if floats else expr


def _number(value: float, precision: int) -> str:
    text = f"{value:.{precision}g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        return f"${mantissa} \\times 10^{{{int(exponent)}}}$"
    return f"${text}$" if text.startswith("-") else text


def _config_line(lf: LayerFormulas) -> str:
    c = lf.config
    parts = [f"in {c['in_channels']}", f"out {c['out_channels']}",
             "kernel " + r"$\times$".join(str(k) for k in c["kernel_size"])]
    if any(s != 1 for s in c["stride"]):
        parts.append(f"stride {tuple(c['stride'])}")
    if any(d != 1 for d in c["dilation"]):
        parts.append(f"dilation {tuple(c['dilation'])}")
    if c["groups"] != 1:
        parts.append(f"groups {c['groups']}")
    parts.append(f"discretization {c['discretization']}"
                 + (f" ({c['quadrature']}-point Gauss--Legendre)"
                    if c["discretization"] == "integrate" else ""))
    mosaic = ", ".join(f"{latex_text(m['family'])}: {m['count']}" for m in c["mosaic"])
    return "; ".join(parts) + f"; mosaic {mosaic}."


def _layer(lf: LayerFormulas, precision: int, env: str, kernels: int) -> list[str]:
    title = lf.path or "layer"
    lines = [f"\\subsection*{{{latex_text(title)} ({lf.class_name})}}", _config_line(lf), ""]
    columns: list[tuple[str, sp.Symbol, bool]] = []  # (name, symbol, is angle)
    for info in lf.families:
        fam = info.family
        coords = ", ".join(sp.latex(c) for c in fam.coords)
        prov = info.provenance
        source = ""
        if prov.get("provider"):
            dist = f", {prov['distribution']} {prov.get('version') or ''}".rstrip() \
                if prov.get("distribution") else ""
            source = f" (from {latex_text(str(prov['provider']) + dist)})"
        first, last = info.start, info.start + info.count - 1
        lines += [
            f"\\paragraph{{{latex_text(fam.name)}}} output channels {first}--{last}, "
            f"normalisation {latex_text(info.normalize)}{source}."
            + (f" {latex_text(fam.description)}" if fam.description else ""),
            "\\begin{equation*}",
            f"  f({coords}) = {sp.latex(info.explicit_expr)}",
            "\\end{equation*}",
            "",
        ]
        for p in fam.params:
            if all(p.name != name for name, _, _ in columns):
                columns.append((p.name, p.symbol, p.constraint_obj.spec == "angle"))
    if not lf.kernels:
        return [*lines, "No analytic kernels (every kernel is free).", ""]
    header = ["out", "in", "family"]
    for _, symbol, angle in columns:
        header.append(f"${sp.latex(symbol)}$" + (r" (mod $2\pi$)" if angle else ""))
    header += ["gain"]
    lines += [f"\\begin{{{env}}}{{rrl{'r' * (len(columns) + 1)}}}", "\\hline",
              " & ".join(header) + r" \\", "\\hline"]
    for k in lf.kernels:
        row = [str(k.out_channel), str(k.in_channel), latex_text(k.family)]
        for name, _, _ in columns:
            value = k.wrapped.get(name, k.akps.get(name))
            row.append("" if value is None else _number(value, precision))
        row.append(_number(k.gain, precision))
        lines.append(" & ".join(row) + r" \\")
    lines += ["\\hline", f"\\end{{{env}}}", ""]
    if kernels:
        lines.append(latex_text(lf.statement))
        for k in lf.kernels[:kernels]:
            formula = sp.latex(rounded(k.formula, precision))
            lines += ["\\begin{equation*}",
                      f"  w_{{{k.out_channel},{k.in_channel}}} = {formula}",
                      "\\end{equation*}"]
        lines.append("")
    return lines


def to_latex(obj: object, *, precision: int = 4, document: bool = False,
             kernels: int = 0) -> str:
    """LaTeX of every analytic layer (see :func:`aclcore.export.to_latex`)."""
    if isinstance(precision, bool) or not isinstance(precision, int) or not 1 <= precision <= 17:
        from aclcore.errors import ExportError

        raise ExportError(f"precision must be an int from 1 to 17, got {precision!r}")
    _, layers = collect(obj)
    env = "longtable" if document else "tabular"
    lines: list[str] = []
    if document:
        lines += ["\\documentclass{article}", "\\usepackage{amsmath}",
                  "\\usepackage{longtable}", "\\begin{document}", ""]
    lines += ["% exported by aclcore: learned analytic kernels (angles wrapped into [0, 2pi)"
              " in the tables; the formulas are exact)", ""]
    for lf in layers:
        lines += _layer(lf, precision, env, kernels)
    if document:
        lines.append("\\end{document}")
    return "\n".join(lines) + "\n"
