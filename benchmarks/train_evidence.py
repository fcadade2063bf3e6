"""The evidence of ``docs/results.md``: every run is an ``acl train`` command, over 3 seeds.

``run`` executes the commands of the named groups (a run whose ``metrics.json`` exists is
skipped, so an interrupted campaign continues); ``table`` prints the Markdown tables of
``docs/results.md`` from the run directories: means and sample standard deviations over
the seeds. Model choices were made on the validation split; test accuracy is only reported.

Groups:
  main      the default AnaNN (the LeNet preset) and the CNN baseline, full MNIST, 3 epochs,
            with robustness (noise, rotations)
  mosaic    share of analytic kernels in both convolutions (0/25/50/75/100% Gabor), one
            AKP set and one gain per kernel, 1 epoch
  params    AKP sharing and gain factorisation in conv2 (Gabor), 1 epoch
  families  which families learn best, in the preset's structure, 1 epoch
  akp_lr    the preset with a 5x larger AKP learning rate, 1 epoch

Usage::

    python benchmarks/train_evidence.py run main mosaic params families akp_lr \
        [--seeds 0 1 2] [--root runs/evidence] [--threads 1]
    python benchmarks/train_evidence.py table [--root runs/evidence]
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

#: config name -> (group, what it is, acl train arguments)
CONFIGS: dict[str, tuple[str, str, list[str]]] = {
    "main": ("main", "preset AnaNN and CNN, 3 epochs", ["--epochs", "3", "--robustness"]),
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
    "share": ("params", "conv2: one AKP set per output channel, one gain per kernel",
              [*ABLATION, "--share-akps", "conv2", "--gain-rank", "none"]),
    "share-r8": ("params", "conv2: shared AKPs, gains of rank 8 (the preset)", ABLATION),
    "share-r6": ("params", "conv2: shared AKPs, gains of rank 6",
                 [*ABLATION, "--gain-rank", "conv2=6"]),
    "share-r4": ("params", "conv2: shared AKPs, gains of rank 4",
                 [*ABLATION, "--gain-rank", "conv2=4"]),
    "share-r2": ("params", "conv2: shared AKPs, gains of rank 2",
                 [*ABLATION, "--gain-rank", "conv2=2"]),
    "gaussian_d1": ("families", "Gaussian first derivative (edges) in both layers",
                    [*ABLATION, "--families", "gaussian_d1"]),
    "gaussian_d2": ("families", "Gaussian second derivative (bars) in both layers",
                    [*ABLATION, "--families", "gaussian_d2"]),
    "log": ("families", "Laplacian of Gaussian (blobs) in both layers",
            [*ABLATION, "--families", "log"]),
    "mix": ("families", "mosaic: conv1 Gabor + Gaussian-d1, conv2 Gabor + Gaussian-d2",
            [*ABLATION, "--families", "conv1=gabor:0.5,gaussian_d1:0.5",
             "--families", "conv2=gabor:0.5,gaussian_d2:0.5"]),
    "akp-lr-5x": ("akp_lr", "the preset with --akp-lr 1e-2 (5x)",
                  [*ABLATION, "--akp-lr", "1e-2"]),
}
#: Configurations whose table row also stands in another group.
ALSO = {"params": ["mosaic-100"], "families": ["share-r8"], "akp_lr": ["share-r8"]}
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
    for group in ("mosaic", "params", "families", "akp_lr"):
        names = [n for n, (g, _, _) in CONFIGS.items() if g == group] + ALSO.get(group, [])
        rows = [_row(f"`{n}`: {CONFIGS[n][1]}", _load(root, n), "analytic")
                for n in names if _load(root, n)]
        if rows:
            out += [f"### {group}", "", HEAD, *rows, ""]
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``run GROUP...`` or ``table``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="action", required=True)
    r = sub.add_parser("run")
    r.add_argument("groups", nargs="+", choices=sorted({g for g, _, _ in CONFIGS.values()}))
    r.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    r.add_argument("--threads", default="1")
    t = sub.add_parser("table")
    for p in (r, t):
        p.add_argument("--root", type=Path, default=Path("runs/evidence"))
    args = parser.parse_args(argv)
    if args.action == "run":
        run(args.groups, args.seeds, args.root, args.threads)
    else:
        print(table(args.root))
    return 0


if __name__ == "__main__":
    sys.exit(main())
