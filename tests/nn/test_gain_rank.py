"""The ``gain_rank`` layer option: gains factorised as (out x r) @ (r x in)."""

from __future__ import annotations

import math

import pytest
import sympy as sp
import torch
from helpers.export import independent_bank
from helpers.families import dog, gabor, x, y
from torch import nn

from aclcore.errors import ConfigError
from aclcore.nn import AnalyticConv2d, freeze, param_groups


def _layer(**kwargs: object) -> AnalyticConv2d:
    torch.manual_seed(0)
    options: dict[str, object] = {"families": {gabor(): 6, dog(): 4, "free": 2},
                                  "gain_rank": 3, "share_akps": True}
    options.update(kwargs)
    return AnalyticConv2d(8, 12, 5, padding=2, **options)  # type: ignore[arg-type]


def test_parameters_and_state_keys() -> None:
    layer = _layer()
    state = layer.state_dict()
    assert state["analytic.gabor.gain_out"].shape == (6, 3)
    assert state["analytic.gabor.gain_in"].shape == (3, 8)
    assert "analytic.gabor.gain" not in state
    assert state["_extra_state"]["gain_rank"] == 3
    assert layer.config.options()["gain_rank"] == 3
    block = layer.analytic["gabor"]
    assert block.has_gain and block.gain is None
    expected = block.gain_out @ block.gain_in  # type: ignore[operator]
    assert torch.equal(block.gains(), expected)  # type: ignore[arg-type]
    groups = {g["name"]: g["params"] for g in param_groups(layer)}
    akp_ids = {id(p) for p in groups["akp"]}
    assert id(block.gain_out) in akp_ids and id(block.gain_in) in akp_ids
    assert "gain_rank=3" in repr(layer)


def test_the_bank_is_the_unit_kernels_times_the_factorised_gains() -> None:
    layer = _layer()
    block = layer.analytic["dog"]
    unit = layer._block_kernels(block, with_gain=False)
    gains = block.gains()
    assert gains is not None
    torch.testing.assert_close(layer.weight[6:10], unit * gains[:, :, None, None])


def test_formulas_reproduce_the_weights() -> None:
    layer = _layer(share_akps=False)
    got, want = independent_bank(layer, layer.formulas(), (x, y))
    torch.testing.assert_close(got, want, atol=1e-6, rtol=1e-5)
    assert layer.formulas()[10][0] is None  # free


def test_every_akp_and_both_factors_get_a_gradient() -> None:
    layer = _layer()
    layer(torch.randn(2, 8, 9, 9)).square().sum().backward()
    for name, p in layer.named_parameters():
        assert p.grad is not None and bool(p.grad.abs().sum() > 0), name


def test_initial_kernels_have_the_conv_norm_on_average() -> None:
    torch.manual_seed(0)
    layer = AnalyticConv2d(32, 64, 5, families=gabor(), share_akps=True, gain_rank=4)
    norms = torch.linalg.vector_norm(layer.weight, dim=(2, 3))
    target = math.sqrt(1 / (3 * 32))  # the expected norm of an nn.Conv2d kernel
    rms = norms.square().mean(dim=1).sqrt()  # per output channel, over its inputs
    torch.testing.assert_close(rms, torch.full_like(rms, target))
    gains = layer.analytic["gabor"].gains()
    assert gains is not None and bool((gains > 0).any()) and bool((gains < 0).any())


@pytest.mark.parametrize(("rank", "gain", "message"), [
    (0, True, "gain_rank must be None .* or a positive int"),
    ("2", True, "gain_rank must be None"),
    (True, True, "gain_rank must be None"),
    (2, False, "gain=False turns them off"),
])
def test_bad_ranks(rank: object, gain: bool, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        AnalyticConv2d(2, 2, 3, families=gabor(), gain_rank=rank, gain=gain)  # type: ignore[arg-type]


def test_free_only_layers_record_no_rank() -> None:
    assert AnalyticConv2d(2, 2, 3, families="free", gain_rank=2).gain_rank is None


def test_state_loading_checks_the_rank_and_accepts_older_states() -> None:
    layer = _layer()
    with pytest.raises(ConfigError, match="saved with gain_rank=3, this layer has "
                                          "gain_rank=None"):
        _layer(gain_rank=None).load_state_dict(layer.state_dict())
    plain = _layer(gain_rank=None)
    old = plain.state_dict()
    del old["_extra_state"]["gain_rank"]  # written before the option existed
    clone = _layer(gain_rank=None)
    clone.load_state_dict(old)
    assert torch.equal(clone.weight, plain.weight)


def test_to_conv_and_freeze_keep_the_outputs() -> None:
    layer = _layer()
    inp = torch.randn(1, 8, 7, 7)
    expected = layer(inp)
    assert torch.equal(layer.to_conv()(inp), expected)
    model = nn.Sequential(layer)
    freeze(model)
    assert type(model[0]) is nn.Conv2d and torch.equal(model(inp), expected)


def test_formula_gain_is_the_product() -> None:
    layer = _layer()
    record = layer.analytic_kernels()[6 * 8 + 7]  # a dog kernel (after 6 x 8 gabor ones)
    assert record.family.name == "dog"
    gains = layer.analytic["dog"].gains()
    assert gains is not None
    assert record.gain == pytest.approx(gains[record.out_channel - 6, record.in_channel].item())
    assert isinstance(record.formula(), sp.Expr)
