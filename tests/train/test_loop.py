"""The training loop: deterministic batches, the schedule, loss falling, resume = no break."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import torch

from aclcore.data import load_dataset
from aclcore.errors import ConfigError
from aclcore.models import ConvSpec, build_model
from aclcore.train import TrainConfig, evaluate, train_model
from aclcore.train.batches import epoch_order, eval_batches, steps_per_epoch, train_batches
from aclcore.train.optim import lr_factor, make_optimizer
from aclcore.train.state import load_state

pytestmark = pytest.mark.real_registry


@pytest.fixture(scope="module")
def digits():  # type: ignore[no-untyped-def]
    return load_dataset("digits", subset=256)


def _model(seed: int = 0) -> torch.nn.Module:
    specs = {"conv1": ConvSpec("gabor"), "conv2": ConvSpec("gabor", share_akps=True,
                                                           gain_rank=4)}
    return build_model("lenet", specs, image_shape=(1, 8, 8), num_classes=10, seed=seed)


def test_batches_are_deterministic_and_split_across_ranks(digits) -> None:  # type: ignore[no-untyped-def]
    assert torch.equal(epoch_order(50, 1, 2), epoch_order(50, 1, 2))
    assert not torch.equal(epoch_order(50, 1, 2), epoch_order(50, 1, 3))
    whole = list(train_batches(digits.train, 32, seed=0, epoch=0))
    halves = [list(train_batches(digits.train, 32, seed=0, epoch=0, rank=r, world_size=2))
              for r in range(2)]
    assert len(whole) == 8 == steps_per_epoch(256, 32)
    for step, (x, y) in enumerate(whole):
        assert torch.equal(torch.cat([halves[0][step][0], halves[1][step][0]]), x)
        assert torch.equal(torch.cat([halves[0][step][1], halves[1][step][1]]), y)
    shards = [torch.cat([y for _, y in eval_batches(digits.val, 10, r, 3)]) for r in range(3)]
    assert torch.equal(torch.cat(shards), digits.val.labels)
    with pytest.raises(ConfigError, match="not divisible by the 3 distributed processes"):
        steps_per_epoch(256, 32, 3)
    with pytest.raises(ConfigError, match="larger than the 256 training examples"):
        steps_per_epoch(256, 512)


def test_schedule_warms_up_then_decays_to_zero() -> None:
    factors = [lr_factor(s, 100, 10, "cosine") for s in range(100)]
    assert factors[0] == pytest.approx(1 / 11) and factors[9] == pytest.approx(10 / 11)
    assert factors[10] == 1.0 and factors[-1] < 0.001
    assert all(a >= b for a, b in itertools.pairwise(factors[10:]))
    assert lr_factor(50, 100, 0, "constant") == 1.0


def test_akps_get_their_own_learning_rate_and_no_weight_decay() -> None:
    opt = make_optimizer(_model(), TrainConfig(lr=1e-3, akp_lr=1e-2, weight_decay=0.1))
    groups = {g["name"]: g for g in opt.param_groups}
    assert (groups["akp"]["lr"], groups["akp"]["weight_decay"]) == (1e-2, 0.0)
    assert (groups["other"]["lr"], groups["other"]["weight_decay"]) == (1e-3, 0.1)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"epochs": 0}, "epochs must be a positive int"),
    ({"lr": -1.0}, r"lr must be a number in \(0, 10\)"),
    ({"schedule": "step"}, "schedule 'step' is unknown"),
    ({"weight_decay": 2.0}, "weight_decay must be in"),
])
def test_bad_training_options(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        TrainConfig(**kwargs)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="unknown training options"):
        TrainConfig.from_dict({"epoch": 3})


def test_training_lowers_the_loss_and_writes_a_weights_only_state(
        digits, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = TrainConfig(epochs=3, batch_size=32, lr=5e-3, warmup_steps=2, seed=0)
    model = _model()
    before_loss, _ = evaluate(model, digits.val)
    result = train_model(model, digits, config, name="analytic", run_dir=tmp_path,
                         progress=False)
    losses = [r.train_loss for r in result.history]
    assert len(losses) == 3 and losses[2] < losses[0] and result.history[-1].val_loss < before_loss
    assert result.history[-1].val_acc > 0.3  # chance is 0.1
    assert result.counts.conv == 32 * 6 + 32 + 64 * 5 + 4 * (64 + 32) + 64
    state = torch.load(tmp_path / "state.pt", weights_only=True)
    assert state["epoch"] == 3 and state["name"] == "analytic"
    assert [h["epoch"] for h in state["history"]] == [1, 2, 3]


def test_resume_continues_exactly_where_it_stopped(digits, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = TrainConfig(epochs=2, batch_size=32, lr=5e-3, warmup_steps=2, seed=1)
    straight = _model(1)
    train_model(straight, digits, config, name="m", progress=False)

    class Stop(Exception):
        pass

    def stop_after_first(model: torch.nn.Module, record: object) -> None:
        raise Stop  # an interruption right after the first epoch's state was written

    with pytest.raises(Stop):
        train_model(_model(1), digits, config, name="m", run_dir=tmp_path, progress=False,
                    on_epoch=stop_after_first)
    assert load_state(tmp_path / "state.pt")["epoch"] == 1
    resumed = _model(99)  # any initialisation: model, optimiser and schedule come from the state
    result = train_model(resumed, digits, config, name="m", run_dir=tmp_path, resume=True,
                         progress=False)
    assert result.resumed_from == 1 and [r.epoch for r in result.history] == [1, 2]
    for (k, a), (_, b) in zip(straight.state_dict().items(), resumed.state_dict().items(),
                              strict=True):
        assert not torch.is_tensor(a) or torch.equal(a, b), k


def test_resume_refuses_other_options_and_other_files(digits, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = TrainConfig(epochs=1, batch_size=32, seed=0)
    train_model(_model(), digits, config, name="m", run_dir=tmp_path, progress=False)
    with pytest.raises(ConfigError, match="started with batch_size=32, not 64"):
        train_model(_model(), digits, TrainConfig(epochs=2, batch_size=64), name="m",
                    run_dir=tmp_path, resume=True, progress=False)
    with pytest.raises(ConfigError, match="state is of model 'm', not 'x'"):
        train_model(_model(), digits, TrainConfig(epochs=2, batch_size=32), name="x",
                    run_dir=tmp_path, resume=True, progress=False)
    (tmp_path / "state.pt").write_bytes(b"garbage")
    with pytest.raises(ConfigError, match="not a readable training state"):
        load_state(tmp_path / "state.pt")


def test_mixed_precision_trains_on_the_cpu(digits) -> None:  # type: ignore[no-untyped-def]
    config = TrainConfig(epochs=1, batch_size=64, amp=True, seed=0)
    result = train_model(_model(), digits, config, name="amp", progress=False)
    record = result.history[0]
    assert torch.isfinite(torch.tensor([record.train_loss, record.val_loss])).all()
    assert 0.0 <= result.test_acc <= 1.0
