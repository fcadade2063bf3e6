"""The results table of a run (terminal text and Markdown) and the ``--json`` summary."""

from __future__ import annotations

from collections.abc import Sequence

from aclcore.train.loop import TrainResult

__all__ = ["COLUMNS", "markdown_table", "table_rows", "text_table"]

#: The columns of the results table.
COLUMNS = ("model", "test acc (%)", "val acc (%)", "params", "conv params",
           "conv vs CNN", "s / epoch")


def table_rows(results: Sequence[TrainResult]) -> list[list[str]]:
    """One row of :data:`COLUMNS` per model; the ratio column divides the CNN's convolution
    parameters (the model named ``cnn``) by each model's."""
    cnn = next((r for r in results if r.name == "cnn"), None)
    rows = []
    for r in results:
        ratio = (f"{cnn.counts.conv / r.counts.conv:.1f}x fewer" if cnn is not None
                 and r is not cnn and r.counts.conv else "-")
        val = r.history[-1].val_acc if r.history else float("nan")
        rows.append([r.name, f"{100 * r.test_acc:.2f}", f"{100 * val:.2f}",
                     f"{r.counts.total:,}", f"{r.counts.conv:,}", ratio,
                     f"{r.seconds_per_epoch:.1f}"])
    return rows


def text_table(results: Sequence[TrainResult]) -> str:
    """The table aligned for a terminal."""
    rows = [list(COLUMNS), *table_rows(results)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                       for i, (cell, w) in enumerate(zip(row, widths, strict=True)))
             for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_table(results: Sequence[TrainResult]) -> str:
    """The table in Markdown."""
    rows = table_rows(results)
    head = "| " + " | ".join(COLUMNS) + " |"
    rule = "|" + "|".join("---" if i == 0 else "---:" for i in range(len(COLUMNS))) + "|"
    return "\n".join([head, rule, *("| " + " | ".join(r) + " |" for r in rows)])
