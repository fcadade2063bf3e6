"""The evidence of ``docs/results.md``: every run is an ``acl train`` command, over 3 seeds.

``run`` executes the commands of the named groups (a run whose ``metrics.json`` exists is
skipped, so an interrupted campaign continues); ``table`` prints the Markdown tables of
``docs/results.md`` from the run directories: means and sample standard deviations over
the seeds. Model choices were made on the validation split; test accuracy is only reported.

Groups:
  main      the default AnaNN (the LeNet preset) and the CNN baseline, full MNIST, 3 epochs,
            with robustness (noise, rotations)
  preset    the preset alone, 1 epoch (the reference of the ablations)
  mosaic    share of analytic kernels in both convolutions (0/25/50/75/100% Gabor), one
            AKP set and one gain per kernel, 1 epoch
  params    AKP sharing and gain factorisation in conv2 (Gabor), 1 epoch
  families  which families learn best (conv2: shared AKPs, gains of rank 4), 1 epoch
  akp_lr    the preset with the AKP learning rate equal to the others', 1 epoch

Usage::

    python benchmarks/train_evidence.py run main preset mosaic params families akp_lr \
        [--seeds 0 1 2] [--root runs/evidence] [--threads 1]
    python benchmarks/train_evidence.py table [--root runs/evidence]
    python benchmarks/train_evidence.py figures [--root runs/evidence] [--out docs/img]

``figures`` draws the robustness curves (mean and spread over the seeds of ``main``), copies
the learned kernels of seed 0's AnaNN and prints a few of its exact formulas.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ABLATION = ["--epochs", "1", "--no-baseline", "--no-card"]
PER_KERNEL = ["--share-akps", "none", "--gain-rank", "none"]
GABOR_SHARED = [*ABLATION, "--families", "gabor", "--share-akps", "conv2"]

#: config name -> (group, what it is, acl train arguments). Every run uses the defaults of
#: acl train otherwise: batch 64, AdamW lr 2e-3 and AKP lr 1e-2, cosine schedule.
CONFIGS: dict[str, tuple[str, str, list[str]]] = {
    "main": ("main", "preset AnaNN and CNN, 3 epochs", ["--epochs", "3", "--robustness"]),
    "preset": ("preset", "the preset: conv1 Gabor; conv2 Gabor + Gaussian-d2, shared AKPs, "
               "gains of rank 4", ABLATION),
    "mosaic-0": ("mosaic", "0% analytic (free kernels only)",
                 [*ABLATION, "--families", "free", *PER_KERNEL]),
    "mosaic-25": ("mosaic", "25% Gabor", [*ABLATION, "--families", "gabor:0.25,free:0.75",
                                         *PER_KERNEL]),
    "mosaic-50": ("mosaic", "50% Gabor", [*ABLATION, "--families", "gabor:0.5,free:0.5",
                                         *PER_KERNEL]),
    "mosaic-75": ("mosaic", "75% Gabor", [*ABLATION, "--families", "gabor:0.75,free:0.25",
                                         *PER_KERNEL]),
    "mosaic-100": ("mosaic", "100% Gabor (AKPs and gain per kernel)",
                   [*ABLATION, "--families", "gabor", *PER_KERNEL]),
    "share": ("params", "Gabor; conv2: one AKP set per output channel, one gain per kernel",
              [*GABOR_SHARED, "--gain-rank", "none"]),
    "share-r8": ("params", "Gabor; conv2: shared AKPs, gains of rank 8",
                 [*GABOR_SHARED, "--gain-rank", "conv2=8"]),
    "share-r4": ("params", "Gabor; conv2: shared AKPs, gains of rank 4",
                 [*GABOR_SHARED, "--gain-rank", "conv2=4"]),
    "share-r2": ("params", "Gabor; conv2: shared AKPs, gains of rank 2",
                 [*GABOR_SHARED, "--gain-rank", "conv2=2"]),
    "gaussian_d1": ("families", "Gaussian first derivative (edges) in both layers",
                    [*ABLATION, "--families", "gaussian_d1"]),
    "gaussian_d2": ("families", "Gaussian second derivative (bars) in both layers",
                    [*ABLATION, "--families", "gaussian_d2"]),
    "log": ("families", "Laplacian of Gaussian (blobs) in both layers",
            [*ABLATION, "--families", "log"]),
    "akp-lr-1x": ("akp_lr", "the preset with --akp-lr 2e-3 (= lr)",
                  [*ABLATION, "--akp-lr", "2e-3"]),
}
#: Configurations whose table row also stands in another group.
ALSO = {"params": ["mosaic-100"], "families": ["share-r4", "preset"], "akp_lr": ["preset"]}
CNN_CONV = 52_096


def command(name: str, seed: int, root: Path, threads: str) -> list[str]:
    """The ``acl train`` command of configuration ``name`` and ``seed``."""
    out = root / name / f"seed{seed}"
    return ["acl", "train", "--data", "mnist", *CONFIGS[name][2], "--seed", str(seed),
            "--threads", threads, "--no-progress", "-o", str(out)]


def run(groups: Sequence[str], seeds: Sequence[int], root: Path, threads: str) -> None:
    """Execute the commands of ``groups`` (skipping finished runs)."""
    for name, (group, _, _) in CONFIGS.items():
        if group not in groups:
            continue
        for seed in seeds:
            if (root / name / f"seed{seed}" / "metrics.json").is_file():
                continue
            cmd = command(name, seed, root, threads)
            print("$", " ".join(cmd), flush=True)
            subprocess.run(cmd, check=True)


def _load(root: Path, name: str) -> list[dict[str, Any]]:
    runs = []
    for path in sorted((root / name).glob("seed*/metrics.json")):
        runs.append(json.loads(path.read_text()))
    return runs


def _ms(values: Sequence[float], scale: float = 100.0, digits: int = 2) -> str:
    if not values:
        return "-"
    mean = statistics.fmean(values) * scale
    if len(values) == 1:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {statistics.stdev(values) * scale:.{digits}f}"


def _row(label: str, runs: list[dict[str, Any]], model: str) -> str:
    ms = [r["models"][model] for r in runs]
    conv = ms[0]["parameters"]["conv"]
    total = ms[0]["parameters"]["total"]
    return (f"| {label} | {len(ms)} | {_ms([m['test_acc'] for m in ms])} | "
            f"{_ms([m['val_acc'] for m in ms])} | {conv:,} | {CNN_CONV / conv:.1f}x | "
            f"{total:,} | {_ms([m['seconds_per_epoch'] for m in ms], 1.0, 0)} |")


HEAD = ("| configuration | seeds | test acc (%) | val acc (%) | conv params | fewer than CNN | "
        "total params | s / epoch |\n|---|---:|---:|---:|---:|---:|---:|---:|")


def table(root: Path) -> str:
    """The Markdown tables of every group with runs under ``root``."""
    out = []
    main = _load(root, "main")
    if main:
        out += ["### main", "", HEAD, _row("CNN baseline", main, "cnn"),
                _row("AnaNN (preset)", main, "analytic"), ""]
        for kind in ("noise", "rotation"):
            levels = next(c["levels"] for c in main[0]["models"]["cnn"]["robustness"]
                          if c["kind"] == kind)
            out += [f"#### {kind}", "", "| model | " + " | ".join(f"{v:g}" for v in levels)
                    + " |", "|---|" + "---:|" * len(levels)]
            for model, label in (("cnn", "CNN"), ("analytic", "AnaNN")):
                curves = [next(c for c in r["models"][model]["robustness"] if c["kind"] == kind)
                          for r in main]
                cells = [_ms([c["accuracy"][i] for c in curves]) for i in range(len(levels))]
                out.append(f"| {label} | " + " | ".join(cells) + " |")
            out.append("")
    for group in ("preset", "mosaic", "params", "families", "akp_lr"):
        names = [n for n, (g, _, _) in CONFIGS.items() if g == group] + ALSO.get(group, [])
        rows = [_row(f"`{n}`: {CONFIGS[n][1]}", _load(root, n), "analytic")
                for n in names if _load(root, n)]
        if rows:
            out += [f"### {group}", "", HEAD, *rows, ""]
    return "\n".join(out)


def figures(root: Path, out: Path) -> None:
    """Robustness plot over seeds, the kernels picture and a few formulas of seed 0."""
    import shutil

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import sympy as sp

    from aclcore.export.checkpoint import load_checkpoint

    main = _load(root, "main")
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    names = {"noise": "Gaussian noise sigma (pixels in [0, 1])", "rotation": "rotation (deg)"}
    for ax, kind in zip(axes, ("noise", "rotation"), strict=True):
        for model, label in (("cnn", "CNN"), ("analytic", "AnaNN")):
            curves = [next(c for c in r["models"][model]["robustness"] if c["kind"] == kind)
                      for r in main]
            levels = curves[0]["levels"]
            acc = [[100 * c["accuracy"][i] for c in curves] for i in range(len(levels))]
            mean = [statistics.fmean(a) for a in acc]
            spread = [statistics.stdev(a) if len(a) > 1 else 0.0 for a in acc]
            ax.errorbar(levels, mean, yerr=spread, marker="o", capsize=3, label=label)
        ax.set(xlabel=names[kind], ylabel="test accuracy (%)", title=kind)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(f"MNIST test accuracy, mean and standard deviation over {len(main)} seeds")
    fig.tight_layout()
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / "results_robustness.png", dpi=110)
    shutil.copy(root / "main" / "seed0" / "kernels.png", out / "results_kernels.png")
    model = load_checkpoint(root / "main" / "seed0").module
    x, y = sp.symbols("x y", real=True)
    for path, picks in (("conv1", [(0, 0)]), ("conv2", [(0, 0), (32, 0)])):
        layer = model[path]
        table = layer.formulas()
        for o, i in picks:
            formula = table[o][i]
            shown = formula.xreplace({f: sp.Float(f, 4) for f in formula.atoms(sp.Float)})
            print(f"{path}[{o}][{i}] = {sp.sstr(shown)}")
            print(f"  LaTeX: {sp.latex(shown)}")
            value = float(table[o][i].subs({x: -2, y: 2}))
            print(f"  at the top-left tap: {value:.6g}; layer.weight: "
                  f"{layer.weight[o, i, 0, 0].item():.6g}")


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``run GROUP...`` or ``table``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="action", required=True)
    r = sub.add_parser("run")
    r.add_argument("groups", nargs="+", choices=sorted({g for g, _, _ in CONFIGS.values()}))
    r.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    r.add_argument("--threads", default="1")
    t = sub.add_parser("table")
    f = sub.add_parser("figures")
    f.add_argument("--out", type=Path, default=Path("docs/img"))
    for p in (r, t, f):
        p.add_argument("--root", type=Path, default=Path("runs/evidence"))
    args = parser.parse_args(argv)
    if args.action == "run":
        run(args.groups, args.seeds, args.root, args.threads)
    elif args.action == "table":
        print(table(args.root))
    else:
        figures(args.root, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
