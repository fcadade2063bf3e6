"""The training loop: AdamW with AKP / free-weight groups, a per-step schedule, evaluation on
the validation split every epoch, a state file every epoch, resume, DDP and AMP.

:func:`train_model` trains one model on a :class:`~aclcore.data.DataSplits` and reports the
history, the final test accuracy (measured once, after the last epoch; the test split is never
used to choose anything) and the parameter counts. Everything is deterministic for a given
seed and number of threads: the model is initialised by the caller, the batches follow
:mod:`aclcore.train.batches`, and a resumed run continues exactly where it stopped.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from aclcore.data.splits import DataSplits, Split
from aclcore.errors import ConfigError
from aclcore.models.count import ParameterCounts, count_parameters
from aclcore.train.batches import eval_batches, steps_per_epoch, train_batches
from aclcore.train.config import TrainConfig
from aclcore.train.distributed import DistContext
from aclcore.train.optim import make_optimizer, make_schedule
from aclcore.train.progress import EpochProgress
from aclcore.train.state import STATE_FILE, load_state, save_state

__all__ = ["EpochRecord", "TrainResult", "evaluate", "train_model"]

#: Options that must not change when a run is resumed (``epochs`` may grow).
_FIXED_ON_RESUME = ("batch_size", "lr", "akp_lr", "weight_decay", "schedule", "warmup_steps",
                    "seed")


@dataclass(frozen=True)
class EpochRecord:
    """Metrics of one epoch (1-based ``epoch``); accuracies are fractions in ``[0, 1]``.

    ``seconds`` is the training time of the epoch (without evaluation), ``images_per_second``
    the training throughput over all ranks.
    """

    epoch: int
    train_loss: float
    train_acc: float
    val_loss: float
    val_acc: float
    lr: float
    seconds: float
    eval_seconds: float
    images_per_second: float

    def as_dict(self) -> dict[str, Any]:
        """Plain values."""
        return asdict(self)


@dataclass(frozen=True)
class TrainResult:
    """What :func:`train_model` reports."""

    name: str
    history: list[EpochRecord]
    test_loss: float
    test_acc: float
    counts: ParameterCounts
    resumed_from: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def seconds_per_epoch(self) -> float:
        """Mean training seconds per epoch (of the epochs run by any session)."""
        return sum(r.seconds for r in self.history) / max(1, len(self.history))

    def as_dict(self) -> dict[str, Any]:
        """Plain values (the ``metrics.json`` entry of a model)."""
        return {
            "name": self.name, "test_loss": self.test_loss, "test_acc": self.test_acc,
            "val_acc": self.history[-1].val_acc if self.history else None,
            "seconds_per_epoch": self.seconds_per_epoch, "parameters": self.counts.as_dict(),
            "resumed_from_epoch": self.resumed_from,
            "history": [r.as_dict() for r in self.history], **self.extra,
        }


def _autocast(device: torch.device, enabled: bool) -> Any:
    dtype = torch.float16 if device.type == "cuda" else torch.bfloat16
    return torch.autocast(device.type, dtype=dtype, enabled=enabled)


def evaluate(model: nn.Module, split: Split, *, batch_size: int = 1000,
             context: DistContext | None = None, amp: bool = False) -> tuple[float, float]:
    """``(mean cross-entropy, accuracy)`` of ``model`` on ``split`` (sharded over ranks)."""
    ctx = context or DistContext(0, 1, 0, torch.device("cpu"))
    was_training = model.training
    model.eval()
    totals = torch.zeros(3, dtype=torch.float64)
    with torch.no_grad():
        for x, y in eval_batches(split, batch_size, ctx.rank, ctx.world_size):
            x, y = x.to(ctx.device), y.to(ctx.device)
            with _autocast(ctx.device, amp):
                logits = model(x)
            totals[0] += F.cross_entropy(logits.float(), y, reduction="sum").item()
            totals[1] += (logits.argmax(dim=1) == y).sum().item()
            totals[2] += y.numel()
    model.train(was_training)
    totals = ctx.all_reduce_sum(totals)
    n = max(1.0, float(totals[2]))
    return float(totals[0]) / n, float(totals[1]) / n


def _resume(path: Path, name: str, config: TrainConfig, model: nn.Module,
            optimizer: torch.optim.Optimizer, schedule: Any) -> tuple[int, list[EpochRecord]]:
    state = load_state(path)
    saved = state["config"]
    for key in _FIXED_ON_RESUME:
        if saved.get(key) != getattr(config, key):
            raise ConfigError(f"{path}: the run was started with {key}={saved.get(key)!r}, "
                              f"not {getattr(config, key)!r}; resume with the same options "
                              "(only --epochs may grow)")
    if state["name"] != name:
        raise ConfigError(f"{path}: the state is of model {state['name']!r}, not {name!r}")
    try:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
    except (RuntimeError, ValueError, KeyError) as err:
        raise ConfigError(f"{path}: the saved model does not match this one ({err}); resume "
                          "with the model options the run was started with") from None
    history = [EpochRecord(**h) for h in state["history"]]
    return int(state["epoch"]), history


def train_model(
    model: nn.Module,
    data: DataSplits,
    config: TrainConfig,
    *,
    name: str = "model",
    context: DistContext | None = None,
    run_dir: Path | None = None,
    resume: bool = False,
    progress: bool = True,
    on_epoch: Callable[[nn.Module, EpochRecord], None] | None = None,
) -> TrainResult:
    """Train ``model`` (already initialised, e.g. under ``torch.manual_seed(config.seed)``).

    Args:
        model: the network; moved to the context's device.
        data: the splits (``train`` for steps, ``val`` every epoch, ``test`` at the end).
        config: the options.
        name: the model's name in progress bars, records and the state file.
        context: the distributed context (default: one process on ``config.device``).
        run_dir: where ``state.pt`` is written after every epoch (rank 0); ``None``: nowhere.
        resume: continue from ``run_dir/state.pt`` when it exists.
        progress: draw a progress bar (rank 0).
        on_epoch: called on rank 0 after each epoch with the (unwrapped) model and record.

    Raises:
        ConfigError: inconsistent sizes, or a state to resume that does not match.
    """
    ctx = context or DistContext(0, 1, 0, torch.device(config.device))
    model.to(ctx.device)
    run: nn.Module = model
    if ctx.distributed:
        ids = [ctx.device.index] if ctx.device.type == "cuda" else None
        run = nn.parallel.DistributedDataParallel(model, device_ids=ids)
    steps = steps_per_epoch(len(data.train), config.batch_size, ctx.world_size)
    optimizer = make_optimizer(model, config)
    schedule = make_schedule(optimizer, steps * config.epochs, config)
    scaler = torch.amp.GradScaler("cuda") if config.amp and ctx.device.type == "cuda" else None
    state_path = run_dir / STATE_FILE if run_dir is not None else None
    start, history = 0, list[EpochRecord]()
    if resume and state_path is not None and state_path.is_file():
        start, history = _resume(state_path, name, config, model, optimizer, schedule)
    for epoch in range(start, config.epochs):
        model.train()
        totals = torch.zeros(3, dtype=torch.float64)
        seconds = 0.0
        desc = f"{name} {epoch + 1}/{config.epochs}"
        with EpochProgress(steps, desc, progress and ctx.is_main) as bar:
            for x, y in train_batches(data.train, config.batch_size, config.seed, epoch,
                                      ctx.rank, ctx.world_size):
                begin = time.perf_counter()
                x, y = x.to(ctx.device, non_blocking=True), y.to(ctx.device, non_blocking=True)
                with _autocast(ctx.device, config.amp):
                    logits = run(x)
                loss = F.cross_entropy(logits.float(), y)
                optimizer.zero_grad(set_to_none=True)
                if scaler is not None:
                    scaler.scale(loss).backward()  # type: ignore[no-untyped-call]
                    scaler.step(optimizer)
                    scaler.update()
                else:
                    loss.backward()  # type: ignore[no-untyped-call]
                    optimizer.step()
                schedule.step()
                value = float(loss.detach())
                correct = int((logits.detach().argmax(dim=1) == y).sum())
                seconds += time.perf_counter() - begin
                totals += torch.tensor([value * y.numel(), correct, y.numel()],
                                       dtype=torch.float64)
                bar.update(value, correct * ctx.world_size, y.numel() * ctx.world_size,
                           time.perf_counter() - begin)
            begin = time.perf_counter()
            val_loss, val_acc = evaluate(model, data.val, batch_size=config.eval_batch_size,
                                         context=ctx, amp=config.amp)
            eval_seconds = time.perf_counter() - begin
            bar.note(f"val_acc={100 * val_acc:.2f}%")
        totals = ctx.all_reduce_sum(totals)
        seconds = float(ctx.all_reduce_sum(torch.tensor([seconds], dtype=torch.float64))[0]
                        ) / ctx.world_size
        record = EpochRecord(
            epoch=epoch + 1, train_loss=float(totals[0] / totals[2]),
            train_acc=float(totals[1] / totals[2]), val_loss=val_loss, val_acc=val_acc,
            lr=float(optimizer.param_groups[0]["lr"]), seconds=seconds,
            eval_seconds=eval_seconds, images_per_second=float(totals[2]) / max(seconds, 1e-9),
        )
        history.append(record)
        if ctx.is_main and state_path is not None:
            save_state(state_path, name=name, epoch=epoch + 1, config=config.to_dict(),
                       model=model.state_dict(), optimizer=optimizer.state_dict(),
                       schedule=schedule.state_dict(), history=[r.as_dict() for r in history])
        if ctx.is_main and on_epoch is not None:
            on_epoch(model, record)
        ctx.barrier()
    test_loss, test_acc = evaluate(model, data.test, batch_size=config.eval_batch_size,
                                   context=ctx, amp=config.amp)
    return TrainResult(name=name, history=history, test_loss=test_loss, test_acc=test_acc,
                       counts=count_parameters(model), resumed_from=start)

