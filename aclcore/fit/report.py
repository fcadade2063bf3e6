"""The Markdown report of a fit: tables, the error/compression front, panels, formulas.

:func:`write_report` writes ``report.md`` (any name) and, next to it, PNG files named after
it: ``<stem>_kernels_<i>.png`` (target, fitted kernel and residual side by side, kernels in
rows) and ``<stem>_front.png`` (bank error against compression). The report holds

* the options of the fit and the bank's shape;
* one row per family (:func:`aclcore.fit.selection.summarize`): parameters, compression,
  bank error, median kernel error, kernels it ranks first on (and fits within ``tol``);
* the selection (with ``tol``): analytic kernels per family, free kernels, bank error and
  compression of the analytic version;
* the error/compression front (:func:`aclcore.fit.selection.pareto_front`) at round
  compressions and as a plot;
* per kernel its best-ranked families, and the formula of every analytic kernel of the
  selection (``gain * scale * (f + offset)`` with the AKPs substituted, as
  :meth:`aclcore.nn.layers.AnalyticConvNd.formulas` gives them).

Pictures follow the grid convention (row 0 at the top, ``x`` to the right); a 3-channel
kernel is shown as an RGB image (channels in the bank's order, 0 mid-grey, each kernel
scaled by its target's largest magnitude), other kernels channel by channel on a diverging
colour map. matplotlib is needed (``pip install matplotlib``; from a checkout of the aclcore
repository, ``pip install -c constraints.txt './[viz]'``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import sympy as sp
import torch

from aclcore.errors import AclError, ConfigError
from aclcore.fit.assemble import assemble
from aclcore.fit.result import FitResult
from aclcore.fit.selection import best_within, pareto_front, select, summarize
from aclcore.nn.layers import AnalyticConvNd

__all__ = ["COMPRESSIONS", "write_report"]

#: Compressions at which the report tabulates the front.
COMPRESSIONS = (2, 3, 5, 10, 20, 30, 40, 45, 50, 60)
_PER_IMAGE = 16
_SHARING = {True: "shared geometry across channels (share_akps)",
            False: "separate AKPs per channel"}


def _figure() -> Any:
    try:
        from matplotlib.figure import Figure
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise AclError("the fit report draws PNG panels with matplotlib: "
                       "pip install matplotlib (from a checkout of the aclcore repository: "
                       "pip install -c constraints.txt './[viz]')") from err
    return Figure


def _image(kernel: torch.Tensor, scale: float) -> tuple[Any, bool]:
    """A 2-D picture of one kernel ``(C, *k)``: RGB for 3 channels, else channels tiled."""
    k = kernel
    if k.dim() == 4:  # 3-D: the central depth slice
        k = k[:, k.shape[1] // 2]
    if k.dim() == 2:  # 1-D: one row per channel
        k = k[:, None, :]
    if k.shape[0] == 3:
        return (0.5 + k.permute(1, 2, 0) / (2 * scale)).clamp(0, 1).numpy(), True
    gap = torch.full((k.shape[1], 1), math.nan, dtype=k.dtype)
    parts: list[torch.Tensor] = []
    for c in range(k.shape[0]):
        parts += [k[c], gap] if c < k.shape[0] - 1 else [k[c]]
    return torch.cat(parts, dim=1).numpy(), False


def _panels(result: FitResult, fitted: torch.Tensor, labels: Sequence[str], out: Path,
            kernels: Sequence[int]) -> Path:
    """Target, fit and residual of ``kernels``, four kernels (twelve panels) per row."""
    figure = _figure()
    per_row = min(4, len(kernels))
    rows = math.ceil(len(kernels) / per_row)
    fig = figure(figsize=(3.6 * per_row, 1.6 * rows + 0.2), dpi=90, layout="constrained")
    axes = fig.subplots(rows, 3 * per_row, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i, n in enumerate(kernels):
        target, fit = result.target[n], fitted[n]
        scale = float(target.abs().max()) or 1.0
        for col, (what, k) in enumerate((("target", target), ("fit", fit),
                                         ("residual", target - fit))):
            ax = axes[i // per_row][3 * (i % per_row) + col]
            image, rgb = _image(k, scale)
            if rgb:
                ax.imshow(image, interpolation="nearest")
            else:
                ax.imshow(image, cmap="RdBu_r", vmin=-scale, vmax=scale,
                          interpolation="nearest")
            ax.set_title(f"#{n} {what}" if col != 1 else f"{labels[n]}", fontsize=6)
    fig.savefig(out, format="png")
    return out


def _front_plot(result: FitResult, front: Sequence[Any], out: Path) -> Path:
    figure = _figure()
    fig = figure(figsize=(6.0, 4.0), dpi=100, layout="constrained")
    ax = fig.subplots()
    ax.plot([p.compression for p in front], [p.error for p in front], "-", color="k",
            label="per-kernel choice (front)")
    for row in summarize(result):
        ax.plot([row.compression], [row.bank_error], "o", label=f"all {row.family}")
    ax.set_xscale("log")
    ax.set_xlabel("compression (weights / parameters)")
    ax.set_ylabel("relative L2 error of the bank")
    ax.set_ylim(bottom=0)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.savefig(out, format="png")
    return out


def _rounded(expr: sp.Expr, digits: int) -> str:
    floats = {f: sp.Float(f, digits) for f in expr.atoms(sp.Float)}
    return str(sp.sstr(expr.xreplace(floats)))


def _fmt(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f}" if math.isfinite(value) else str(value)


def write_report(
    result: FitResult,
    path: str | Path,
    *,
    tol: float | None = None,
    title: str = "Kernel fit",
    source: str | None = None,
    command: str | None = None,
    digits: int = 4,
    compressions: Sequence[float] = (),
) -> Path:
    """Write the Markdown report of ``result`` to ``path`` and its PNG files next to it.

    Args:
        result: the fit.
        path: the Markdown file (its directory is created).
        tol: the selection's tolerance; without it each kernel keeps its best-ranked
            family in the panels and formulas.
        title: the report's heading.
        source: where the kernels came from (shown in the report).
        command: the command that made the report (shown in the report).
        digits: significant digits of the formulas.
        compressions: compressions tabulated on the front besides :data:`COMPRESSIONS`.

    Returns:
        The path of the Markdown file.

    Raises:
        ConfigError: ``path`` is a directory, or ``tol`` is invalid.
        AclError: matplotlib is missing, or a file cannot be written.
    """
    out = Path(path)
    if out.is_dir():
        raise ConfigError(f"{out} is a directory: give the report's file name, e.g. "
                          f"{out / 'report.md'}")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise AclError(f"cannot create the report directory {out.parent}: {err}") from None
    stem = out.stem
    choice: list[str | None] = select(result, tol) if tol is not None else list(result.best())
    front = pareto_front(result)
    opts = result.options
    n = result.kernel_count
    lines = [f"# {title}", ""]
    if source:
        lines.append(f"Source: `{source}`  ")
    if command:
        lines.append(f"Command: `{command}`  ")
    lines += [
        f"Kernels: {n} of shape {tuple(result.target.shape[1:])} "
        f"({result.target[0].numel()} weights each); families fitted: "
        f"{', '.join(f'`{name}`' for name in result.names)}; "
        f"{_SHARING[opts.share_akps]}; "
        f"dilation {opts.dilation}, discretization `{opts.discretization}`, seed {opts.seed}; "
        f"parsimony {result.parsimony:.4g} per parameter.",
        "",
        "## Families",
        "",
        "Every family fitted to every kernel. Bank error: relative L2 error of the whole bank "
        "when every kernel uses the family; compression: weights per kernel / parameters "
        "per kernel (AKPs and gains).",
        "",
        "| family | AKPs | params / kernel | compression | bank error | median kernel error "
        "| ranked first |" + (" within tol |" if tol is not None else ""),
        "|---|---|---|---|---|---|---|" + ("---|" if tol is not None else ""),
    ]
    for row in summarize(result, tol):
        lines.append(
            f"| `{row.family}` | {', '.join(row.akps)} | {row.n_params} | "
            f"{row.compression:.1f}x | {row.bank_error:.3f} | {row.median_error:.3f} | "
            f"{row.ranked_first} |" + (f" {row.within_tol} |" if tol is not None else ""))
    params = sum(result.fits[c].n_params if c is not None else int(result.target[0].numel())
                 for c in choice)
    analytic = [c for c in choice if c is not None]
    what = f"tol = {tol:g}" if tol is not None else "each kernel's best-ranked family"
    lines += [
        "",
        f"## Selection ({what})",
        "",
        f"{len(analytic)} of {n} kernels analytic, {n - len(analytic)} free; bank error "
        f"{result.bank_error(choice):.3f}; compression "
        f"{result.target.numel() / max(params, 1):.1f}x ({params} parameters for "
        f"{result.target.numel()} weights).",
        "",
        "| family | kernels |",
        "|---|---|",
    ]
    for name in (*result.names, None):
        count = sum(1 for c in choice if c == name)
        if count:
            lines.append(f"| {'free' if name is None else f'`{name}`'} | {count} |")
    front_png = _front_plot(result, front, out.with_name(f"{stem}_front.png"))
    lines += [
        "",
        "## Error / compression front",
        "",
        "Each kernel takes one family or stays free (exact, "
        f"{result.target[0].numel()} parameters); the front is the lower convex hull of the "
        "bank error against the parameter count (aclcore.fit.pareto_front); the last row is "
        "the most compressed choice.",
        "",
        "| compression at least | bank error | parameters | analytic kernels | families used "
        "| bank error, no free kernel |",
        "|---|---|---|---|---|---|",
    ]
    analytic_front = pareto_front(result, free=False)
    most = max(front, key=lambda p: p.compression)
    wanted = sorted({*(float(c) for c in (*COMPRESSIONS, *compressions)
                       if c < most.compression), most.compression})
    for c in wanted:
        p = best_within(front, c)
        assert p is not None
        q = best_within(analytic_front, c)
        used = sorted({x for x in p.choice if x is not None})
        lines.append(f"| {c:.4g}x | {p.error:.3f} | {p.n_params} ({p.compression:.2f}x) | "
                     f"{sum(x is not None for x in p.choice)} | "
                     f"{', '.join(f'`{u}`' for u in used)} | "
                     f"{_fmt(q.error if q is not None else None)} |")
    lines += ["", f"![error against compression]({front_png.name})", "", "## Kernels", "",
              "Target, best-ranked fit and residual of every kernel (one colour scale per "
              "kernel); \"(free)\" marks kernels that stay free at the selection's tol.", ""]
    best = result.best()
    shown = result.kernels(best)  # the best-ranked fit, also of kernels that stay free
    labels = [b.replace("_plus_", " +\n") + f"\ne={float(result.fits[b].errors[i]):.2f}"
              + (" (free)" if c is None else "")
              for i, (b, c) in enumerate(zip(best, choice, strict=True))]
    for start in range(0, n, _PER_IMAGE):
        idx = list(range(start, min(n, start + _PER_IMAGE)))
        file = out.with_name(f"{stem}_kernels_{start // _PER_IMAGE}.png")
        png = _panels(result, shown, labels, file, idx)
        lines += [f"![kernels {idx[0]}-{idx[-1]}]({png.name})", ""]
    lines += ["## Ranking per kernel", "",
              "| kernel | 1st (error, params) | 2nd | 3rd |", "|---|---|---|---|"]
    for k in range(n):
        cells = [f"`{c.family}` ({c.error:.3f}, {c.n_params})" for c in result.ranking(k)[:3]]
        lines.append(f"| {k} | " + " | ".join(cells + [""] * (3 - len(cells))) + " |")
    lines += ["", "## Formulas", "",
              "The analytic kernels of the selection, per output channel and input channel "
              f"(`w = gain * scale * (f + offset)`, {digits} significant digits); the "
              "coordinates follow the grid convention (x right, y up, centred taps).", ""]
    fc = assemble(result, choice, dtype=torch.float64)
    layer = fc.layer
    assert isinstance(layer, AnalyticConvNd)
    order = fc.order.tolist()
    by_channel: dict[int, list[str]] = {}
    for record in layer.analytic_kernels():
        original = order[record.out_channel]
        by_channel.setdefault(original, []).append(
            f"  - channel {record.in_channel}: `{_rounded(record.formula(), digits)}`")
    for k in sorted(by_channel):
        name = choice[k]
        assert name is not None
        fit = result.fits[name]
        akps = "AKPs per channel"
        if opts.share_akps:
            akps = ", ".join(f"{a}={float(v[k, 0]):.{digits}g}" for a, v in fit.akps.items())
        lines.append(f"- kernel {k}: `{name}` (error {float(fit.errors[k]):.3f}; {akps})")
        lines += by_channel[k]
    text = "\n".join(lines) + "\n"
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as err:
        raise AclError(f"cannot write the report {out}: {err.strerror or err}") from None
    return out
