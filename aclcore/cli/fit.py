"""``acl fit SOURCE [--layer NAME] [--families A,B] [--tol T] [-o report.md]``.

The CLI face of :mod:`aclcore.fit`: fits families to a kernel bank (a ``.npy``/``.npz`` array,
a torch file holding a tensor or a state dict, or a training run directory; see
:func:`aclcore.fit.sources.load_bank`), prints one line per family and the selection at
``--tol``, and with ``-o`` writes the Markdown report with its PNG panels
(:func:`aclcore.fit.report.write_report`). ``--json`` prints the same as JSON.

Module-level imports are light (``acl --help`` must stay fast); the work is imported lazily.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from typing import Any

__all__ = ["add_fit_command", "cmd_fit"]


def add_fit_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Declare ``acl fit`` on the subcommand parser ``sub``."""
    p = sub.add_parser(
        "fit",
        help="fit analytic families to a kernel bank; rank them; write a report",
        description="Fit every family to every kernel of SOURCE (a .npy/.npz array, a torch "
        "file holding a tensor or a state dict, or a training run directory) and rank the "
        "families per kernel by error and parameter count. Kernels fitted within --tol "
        "become analytic, the rest stay free. Family spellings: a name, shifted(NAME) (a "
        "learnable centre), A+B (a sum of two families).",
    )
    p.add_argument("source", metavar="SOURCE", help="kernel bank file, checkpoint or run "
                   "directory")
    p.add_argument("--layer", metavar="NAME", help="the layer whose weight to fit (a state dict "
                   "key without '.weight', or an .npz array name)")
    p.add_argument("--families", metavar="LIST", help="comma-separated families (default: "
                   "every installed family of the bank's dimension)")
    p.add_argument("--tol", type=float, default=0.1, help="largest relative L2 error of an "
                   "analytic kernel (default 0.1)")
    p.add_argument("-o", "--output", metavar="REPORT.md", help="write the Markdown report "
                   "(and PNG panels next to it)")
    p.add_argument("--share-akps", action="store_true", help="one AKP set per kernel shared "
                   "by its channels, a gain per channel (default: separate AKPs per channel)")
    p.add_argument("--dilation", type=int, default=1, help="the layer's dilation (default 1)")
    p.add_argument("--starts", type=int, default=16, help="starts per kernel (default 16)")
    p.add_argument("--seed", type=int, default=0, help="seed of the starts (default 0)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    p.add_argument("--compression", type=float, action="append", default=[], metavar="X",
                   help="also report the best bank error at compression >= X on the "
                   "error/compression front (repeatable)")
    p.add_argument("--json", action="store_true", help="print a JSON summary")
    p.set_defaults(run=cmd_fit)


def _families(spec: str | None, ndim: int) -> list[str]:
    from aclcore.errors import ConfigError
    from aclcore.plugins.registry import families

    if spec:
        names = [s.strip() for s in spec.split(",") if s.strip()]
        if not names:
            raise ConfigError("--families is empty; list family names separated by commas")
        return names
    found = [name for name, fam in families().items() if fam.ndim == ndim]
    if not found:
        raise ConfigError(f"no installed family has {ndim} coordinate(s); give --families")
    return found


def cmd_fit(args: argparse.Namespace) -> int:
    """``acl fit SOURCE [options]``: fit, print the summary, write the report."""
    from aclcore.fit import best_within, fit_kernels, pareto_front, select, summarize
    from aclcore.fit.report import write_report
    from aclcore.fit.sources import load_bank

    bank = load_bank(args.source, args.layer)
    names = _families(args.families, bank.dim() - 2)
    result = fit_kernels(bank, names, share_akps=args.share_akps, dilation=args.dilation,
                         starts=args.starts, seed=args.seed, threads=args.threads)
    choice = select(result, args.tol)
    rows = summarize(result, args.tol)
    params = sum(result.fits[c].n_params if c is not None else int(bank[0].numel())
                 for c in choice)
    summary: dict[str, Any] = {
        "source": args.source, "layer": args.layer, "shape": list(bank.shape),
        "tol": args.tol,
        "families": [{"family": r.family, "n_params": r.n_params, "compression": r.compression,
                      "bank_error": r.bank_error, "median_error": r.median_error,
                      "ranked_first": r.ranked_first, "within_tol": r.within_tol}
                     for r in rows],
        "selection": {"choice": choice, "analytic": sum(c is not None for c in choice),
                      "bank_error": result.bank_error(choice),
                      "compression": bank.numel() / max(params, 1)},
        "front": [],
        "report": None,
    }
    front = pareto_front(result)
    for wanted in args.compression:
        point = best_within(front, wanted)
        summary["front"].append({
            "at_least": wanted, "bank_error": None if point is None else point.error,
            "compression": None if point is None else point.compression,
            "choice": None if point is None else list(point.choice)})
    if args.output:
        command = "acl fit " + " ".join(shlex.quote(a) for a in sys.argv[2:])
        summary["report"] = str(write_report(
            result, args.output, tol=args.tol, source=args.source, command=command,
            title=f"Kernel fit of {args.source}" + (f" ({args.layer})" if args.layer else ""),
            compressions=args.compression,
        ))
    if args.json:
        from aclcore.cli.common import print_json

        print_json(summary)
        return 0
    print(f"{bank.shape[0]} kernels of shape {tuple(bank.shape[1:])}")
    print(f"{'family':32} {'params':>6} {'compr.':>7} {'bank err':>8} {'median':>7} "
          f"{'first':>5} {'<=tol':>5}")
    for r in rows:
        print(f"{r.family:32} {r.n_params:6d} {r.compression:6.1f}x {r.bank_error:8.3f} "
              f"{r.median_error:7.3f} {r.ranked_first:5d} {r.within_tol:5d}")
    sel = summary["selection"]
    print(f"tol {args.tol:g}: {sel['analytic']} of {bank.shape[0]} kernels analytic, bank "
          f"error {sel['bank_error']:.3f}, compression {sel['compression']:.1f}x")
    for row in summary["front"]:
        if row["bank_error"] is None:
            print(f"front: compression >= {row['at_least']:g} is not reachable")
        else:
            print(f"front: compression >= {row['at_least']:g}: bank error "
                  f"{row['bank_error']:.3f} at {row['compression']:.2f}x")
    if summary["report"]:
        print(f"wrote {summary['report']}")
    return 0
