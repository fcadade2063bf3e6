"""DistributedDataParallel: 2 gloo processes on CPU train an analytic model to the same end.

Both ranks must end with identical parameters, equal to single-process training on the same
global batch (DDP averages the gradients of the two half-batch mean losses, which is the
gradient of the global mean loss).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from helpers.families import dog, gabor, sinc_r
from torch import nn

from aclcore.nn import AnalyticConv2d

STEPS = 4
WORLD = 2
BATCH = 8


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        AnalyticConv2d(2, 6, 3, padding=1, families={gabor(): 3, "free": 1, sinc_r(): 2}),
        nn.Tanh(),
        AnalyticConv2d(6, 3, 3, padding=1, padding_mode="circular", families=dog()),
    )


def _data() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    return torch.randn(BATCH, 2, 8, 8, generator=gen), torch.randn(BATCH, 3, 8, 8, generator=gen)


def _train(model: nn.Module, run: nn.Module, inputs: torch.Tensor, targets: torch.Tensor
           ) -> None:
    opt = torch.optim.SGD(model.parameters(), lr=0.2, momentum=0.9)
    for _ in range(STEPS):
        opt.zero_grad()
        loss = (run(inputs) - targets).square().mean()
        loss.backward()
        opt.step()


def _worker(rank: int, init_file: str, out_dir: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank,
                            world_size=WORLD)
    try:
        model = _model()
        ddp = nn.parallel.DistributedDataParallel(model)
        inputs, targets = _data()
        part = slice(rank * BATCH // WORLD, (rank + 1) * BATCH // WORLD)
        _train(model, ddp, inputs[part], targets[part])
        torch.save(model.state_dict(), Path(out_dir) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed is not available")
def test_ddp_two_gloo_processes_match_single_process(tmp_path: Path) -> None:
    mp.spawn(_worker, args=(str(tmp_path / "init"), str(tmp_path)), nprocs=WORLD, join=True)
    states = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(WORLD)]
    single = _model()
    before = {k: v.clone() for k, v in single.state_dict().items() if torch.is_tensor(v)}
    inputs, targets = _data()
    _train(single, single, inputs, targets)
    expected = single.state_dict()
    assert list(states[0]) == list(expected)
    for key, value in expected.items():
        if not torch.is_tensor(value):
            assert states[0][key] == states[1][key] == value, key  # the extra state
            continue
        assert torch.equal(states[0][key], states[1][key]), key
        torch.testing.assert_close(states[0][key], value, atol=1e-6, rtol=1e-5, msg=key)
        assert not torch.equal(value, before[key]), f"{key} did not train"
