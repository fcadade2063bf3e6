"""DistributedDataParallel through the training loop: 2 gloo processes on the CPU, started the
way torchrun starts them (environment variables), end with the parameters of one process
trained on the same global batches."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from aclcore.data import load_dataset
from aclcore.models import ConvSpec, build_model
from aclcore.train import TrainConfig, train_model
from aclcore.train.distributed import setup_distributed, teardown_distributed

WORLD = 2
CONFIG = TrainConfig(epochs=2, batch_size=16, lr=5e-3, warmup_steps=1, seed=0)


def _setup() -> tuple[torch.nn.Module, object]:
    torch.set_num_threads(1)
    data = load_dataset("digits", subset=64)
    specs = {"conv1": ConvSpec({"gabor": 0.5, "free": 0.5}),
             "conv2": ConvSpec("gaussian_d1", share_akps=True, gain_rank=2)}
    model = build_model("lenet", specs, image_shape=(1, 8, 8), num_classes=10, seed=0)
    return model, data


def _worker(rank: int, port: int, out_dir: str) -> None:
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(WORLD),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    context = setup_distributed("cpu")
    try:
        assert context.world_size == WORLD and context.rank == rank
        model, data = _setup()
        result = train_model(model, data, CONFIG, name="m", context=context, progress=False)
        torch.save({"state": model.state_dict(), "val_acc": result.history[-1].val_acc,
                    "test_acc": result.test_acc}, Path(out_dir) / f"rank{rank}.pt")
    finally:
        teardown_distributed(context)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.real_registry
@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed is not available")
def test_two_processes_match_one_process_on_the_same_global_batch(tmp_path: Path) -> None:
    mp.spawn(_worker, args=(_free_port(), str(tmp_path)), nprocs=WORLD, join=True)
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(WORLD)]
    torch.set_num_threads(1)
    model, data = _setup()
    before = {k: v.clone() for k, v in model.state_dict().items() if torch.is_tensor(v)}
    single = train_model(model, data, CONFIG, name="m", progress=False)
    expected = model.state_dict()
    assert list(ranks[0]["state"]) == list(expected)
    for key, value in expected.items():
        if not torch.is_tensor(value):
            continue
        assert torch.equal(ranks[0]["state"][key], ranks[1]["state"][key]), key
        torch.testing.assert_close(ranks[0]["state"][key], value, atol=1e-5, rtol=1e-4,
                                   msg=key)
        assert not torch.equal(value, before[key]), f"{key} did not train"
    # evaluation is sharded over the ranks and summed: the same accuracies
    assert ranks[0]["val_acc"] == ranks[1]["val_acc"] == pytest.approx(single.history[-1].val_acc)
    assert ranks[0]["test_acc"] == pytest.approx(single.test_acc)
