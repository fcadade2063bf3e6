"""``acl train`` as a library call: an AnaNN and its CNN baseline trained alike, with a run
directory.

:func:`run_experiment` loads the data, builds the analytic model (per-layer
:class:`~aclcore.models.ConvSpec`, by default the model's preset) and the plain CNN of the
same shape, trains both with the same :class:`~aclcore.train.config.TrainConfig` (same seed,
same batches), and writes (rank 0) the run directory::

    RUN/run.json             the experiment's options (what --resume reads back)
    RUN/metrics.json         per model: history, test accuracy, parameter counts, s/epoch
    RUN/summary.md           the results table
    RUN/<model>/state.pt     training state after the last epoch (weights_only=True)
    RUN/checkpoint.pt        the analytic model as an aclcore checkpoint (acl export RUN)
    RUN/curves.png           learning curves; RUN/kernels.png the learned kernels
    RUN/card/card.md         the formula card (Markdown + PNGs); RUN/formulas.tex (LaTeX)
    RUN/robustness.png       accuracy under noise and rotations (with robustness=True)
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from torch import nn

from aclcore import export
from aclcore.data import DataSplits, load_dataset
from aclcore.errors import ConfigError
from aclcore.export.checkpoint import RUN_CHECKPOINT, save_checkpoint
from aclcore.models import PLAIN, ConvSpec, analytic_preset, build_model, conv_names
from aclcore.models.spec import spec_from_dict
from aclcore.train.batches import steps_per_epoch
from aclcore.train.config import TrainConfig
from aclcore.train.distributed import DistContext, setup_distributed, teardown_distributed
from aclcore.train.loop import TrainResult, train_model
from aclcore.train.plots import (
    have_matplotlib,
    plot_kernels,
    plot_learning_curves,
    plot_robustness,
)
from aclcore.train.report import markdown_table
from aclcore.train.robustness import RobustnessCurve, noise_curve, rotation_curve

__all__ = ["RUN_FILE", "ExperimentConfig", "ExperimentResult", "read_run_config",
           "run_experiment", "with_epochs"]

RUN_FILE = "run.json"
ANALYTIC, CNN = "analytic", "cnn"


@dataclass(frozen=True)
class ExperimentConfig:
    """What to train.

    Attributes:
        data: a name of :data:`aclcore.data.DATASETS`; ``data_dir`` where its files are.
        subset: keep this many training examples (a quarter as many for evaluation).
        model: ``"lenet"`` or ``"resnet"``.
        analytic: the AnaNN's spec per convolution (missing names stay plain); ``None``: the
            model's preset (:func:`aclcore.models.analytic_preset`).
        baseline: also train the plain CNN of the same shape.
        train: the training options (shared by both models).
        robustness: measure accuracy under noise and rotations after training.
        card: write the formula card and LaTeX of the analytic model.
    """

    data: str = "auto"
    data_dir: str | None = None
    subset: int | None = None
    model: str = "lenet"
    analytic: Mapping[str, ConvSpec] | None = None
    baseline: bool = True
    train: TrainConfig = field(default_factory=TrainConfig)
    robustness: bool = False
    card: bool = True

    def specs(self) -> dict[str, ConvSpec]:
        """The AnaNN's spec for every convolution of the model."""
        names = conv_names(self.model)
        given = analytic_preset(self.model) if self.analytic is None else dict(self.analytic)
        unknown = [n for n in given if n not in names]
        if unknown:
            raise ConfigError(f"model {self.model!r} has no convolution {unknown[0]!r}; its "
                              f"convolutions are {', '.join(names)}")
        return {n: given.get(n, PLAIN) for n in names}

    def to_dict(self) -> dict[str, Any]:
        """Plain values (``run.json``)."""
        return {"data": self.data, "data_dir": self.data_dir, "subset": self.subset,
                "model": self.model,
                "analytic": {n: s.describe() for n, s in self.specs().items()},
                "baseline": self.baseline, "train": self.train.to_dict(),
                "robustness": self.robustness, "card": self.card}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExperimentConfig:
        """The inverse of :meth:`to_dict` (ConfigError on malformed values)."""
        try:
            return cls(data=data["data"], data_dir=data["data_dir"], subset=data["subset"],
                       model=data["model"],
                       analytic={n: spec_from_dict(s) for n, s in data["analytic"].items()},
                       baseline=bool(data["baseline"]),
                       train=TrainConfig.from_dict(dict(data["train"])),
                       robustness=bool(data["robustness"]), card=bool(data["card"]))
        except (KeyError, TypeError, AttributeError) as err:
            raise ConfigError(f"malformed run configuration ({type(err).__name__}: {err})"
                              ) from None


@dataclass
class ExperimentResult:
    """What :func:`run_experiment` reports (``rank``: of the process that got it)."""

    out_dir: Path
    data: dict[str, Any]
    config: ExperimentConfig
    results: list[TrainResult]
    robustness: dict[str, list[RobustnessCurve]] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    environment: dict[str, Any] = field(default_factory=dict)
    rank: int = 0

    def as_dict(self) -> dict[str, Any]:
        """Plain values (``metrics.json`` and ``acl train --json``)."""
        models = {}
        for r in self.results:
            entry = r.as_dict()
            if r.name in self.robustness:
                entry["robustness"] = [c.as_dict() for c in self.robustness[r.name]]
            models[r.name] = entry
        return {"run_dir": str(self.out_dir), "data": self.data, "config": self.config.to_dict(),
                "environment": self.environment, "models": models, "files": self.files,
                "notes": self.notes, "seconds": self.seconds}


def read_run_config(run_dir: Path) -> ExperimentConfig:
    """The configuration recorded in ``run_dir/run.json`` (for ``--resume``)."""
    path = run_dir / RUN_FILE
    if not path.is_file():
        raise ConfigError(f"--resume {run_dir}: no {RUN_FILE} there; give the directory of a "
                          "run started by acl train")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ConfigError(f"{path}: not readable JSON ({err})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a JSON object")
    return ExperimentConfig.from_dict(data)


def _environment(ctx: DistContext) -> dict[str, Any]:
    import platform

    import torch

    from aclcore.version import __version__

    return {"aclcore": __version__, "torch": torch.__version__,
            "python": platform.python_version(), "device": str(ctx.device),
            "world_size": ctx.world_size, "threads": torch.get_num_threads(),
            "cpus": os.cpu_count()}


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


def _artefacts(result: ExperimentResult, models: dict[str, nn.Module],
               log: Callable[[str], None]) -> None:
    out = result.out_dir
    analytic = models.get(ANALYTIC)
    res = {r.name: r for r in result.results}
    if analytic is not None:
        meta = {"test_acc": res[ANALYTIC].test_acc, "epochs": len(res[ANALYTIC].history),
                "data": result.data["name"], "model": result.config.model}
        result.files.append(str(save_checkpoint(analytic, out / RUN_CHECKPOINT, **meta)))
        if result.config.card:
            log("writing the formula card and LaTeX")
            result.files.append(str(export.to_markdown(analytic, out / "card")))
            tex = out / "formulas.tex"
            tex.write_text(export.to_latex(analytic, document=True), encoding="utf-8")
            result.files.append(str(tex))
    if have_matplotlib():
        result.files.append(str(plot_learning_curves(result.results, out / "curves.png")))
        if analytic is not None:
            result.files.append(str(plot_kernels(analytic, out / "kernels.png")))
        if result.robustness:
            result.files.append(str(plot_robustness(result.robustness,
                                                    out / "robustness.png")))
    else:
        result.notes.append("matplotlib is not installed: no PNG figures (pip install "
                            "matplotlib; from a checkout of the aclcore repository: pip "
                            "install -c constraints.txt './[train]')")
    (out / "summary.md").write_text(markdown_table(result.results) + "\n", encoding="utf-8")
    result.files.append(str(out / "summary.md"))
    result.files.append(str(out / "metrics.json"))
    _write_json(out / "metrics.json", result.as_dict())


def run_experiment(
    config: ExperimentConfig,
    out_dir: str | Path,
    *,
    resume: bool = False,
    progress: bool = True,
    log: Callable[[str], None] = lambda text: None,
    context: DistContext | None = None,
    data: DataSplits | None = None,
) -> ExperimentResult:
    """Train the analytic model (and the CNN baseline) and write the run directory.

    Args:
        config: what to train.
        out_dir: the run directory (created; must not hold another run unless ``resume``).
        resume: continue the models' training from their ``state.pt`` files.
        progress: draw progress bars (rank 0).
        log: receives one-line status messages (rank 0).
        context: the distributed context (default: from torchrun's environment, or alone).
        data: the splits, when already loaded (else ``config.data`` is loaded).

    Raises:
        ConfigError, DataError: bad options, missing data, a directory holding another run.
    """
    begin = time.perf_counter()
    out = Path(out_dir)
    own_context = context is None
    ctx = context or setup_distributed(config.train.device)
    try:
        if out.exists() and not out.is_dir():
            raise ConfigError(f"output {out} exists and is not a directory")
        if (out / RUN_FILE).is_file() and not resume:
            raise ConfigError(f"{out} already holds a run ({RUN_FILE}); continue it with "
                              f"--resume {out}, or choose another --output")
        specs = config.specs()
        if not any(s.analytic for s in specs.values()):
            raise ConfigError("the analytic model has no analytic convolution: give "
                              "--families with at least one family")
        splits = data if data is not None else load_dataset(
            config.data, data_dir=config.data_dir, subset=config.subset)
        if data is not None and config.subset is not None:
            splits = splits.subset(config.subset)
        steps_per_epoch(len(splits.train), config.train.batch_size, ctx.world_size)
        if ctx.is_main:
            out.mkdir(parents=True, exist_ok=True)
            _write_json(out / RUN_FILE, config.to_dict())
            log(f"data: {splits.name} ({len(splits.train)} train / {len(splits.val)} val / "
                f"{len(splits.test)} test) from {splits.source}")
        result = ExperimentResult(out, splits.describe(), config, [],
                                  environment=_environment(ctx), rank=ctx.rank)
        if splits.note:
            result.notes.append(splits.note)
        ctx.barrier()
        plan: list[tuple[str, dict[str, ConvSpec]]] = [(ANALYTIC, specs)]
        if config.baseline:
            plan.append((CNN, dict.fromkeys(specs, PLAIN)))
        models: dict[str, nn.Module] = {}
        for name, convs in plan:
            model = build_model(config.model, convs, image_shape=splits.image_shape,
                                num_classes=splits.num_classes, seed=config.train.seed)
            res = train_model(model, splits, config.train, name=name, context=ctx,
                              run_dir=out / name, resume=resume, progress=progress)
            if ctx.is_main:
                log(f"{name}: test accuracy {100 * res.test_acc:.2f}% after "
                    f"{len(res.history)} epoch(s), {res.seconds_per_epoch:.1f} s/epoch")
            result.results.append(res)
            models[name] = model.cpu()
            if config.robustness and ctx.is_main:
                result.robustness[name] = [noise_curve(model, splits),
                                           rotation_curve(model, splits)]
        result.seconds = time.perf_counter() - begin
        if ctx.is_main:
            _artefacts(result, models, log)
        ctx.barrier()
        return result
    finally:
        if own_context:
            teardown_distributed(ctx)


def with_epochs(config: ExperimentConfig, epochs: int | None) -> ExperimentConfig:
    """``config`` with its training epochs replaced (``None``: unchanged)."""
    if epochs is None:
        return config
    return replace(config, train=replace(config.train, epochs=epochs))
