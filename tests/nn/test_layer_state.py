"""AnalyticConvNd state: state_dict, extra state, eval cache, copies, compile, freeze, ONNX."""

from __future__ import annotations

import copy
import io
import pickle
from typing import Any

import numpy as np
import pytest
import torch
from helpers.compiled import assert_compiled_matches_eager
from helpers.families import dog, gabor, gauss, sinc_r
from torch import nn

from aclcore import ConfigError
from aclcore.nn import AnalyticConv2d, AnalyticConvNd, freeze, param_groups
from aclcore.nn.functional import conv
from aclcore.plugins.registry import Registry


def _layer(**kwargs: Any) -> AnalyticConv2d:
    torch.manual_seed(0)
    options: dict[str, Any] = {"families": {gabor(): 4, "free": 2, dog(): 2}, "padding": 1}
    options.update(kwargs)
    return AnalyticConv2d(3, 8, 3, **options)


def _plain(value: object) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    return value is None or isinstance(value, (str, int, float, bool))


def fresh_bank(layer: AnalyticConvNd) -> torch.Tensor:
    """The bank computed from the parameters now: with gradients on, the layer never serves
    it from its cache (the documented contract of ``layer.weight``)."""
    with torch.enable_grad():
        return layer.weight.detach()


# -- state_dict ---------------------------------------------------------------------------
def test_state_dict_keys_identical_in_train_and_eval() -> None:
    layer = _layer()
    inp = torch.randn(1, 3, 6, 6)
    keys_train = list(layer.state_dict())
    layer.eval()
    with torch.no_grad():
        layer(inp)
        layer(inp)
        assert layer.weight is layer.weight  # the bank is cached ...
    assert list(layer.state_dict()) == keys_train  # ... and the cache is no part of the state
    assert not list(layer.buffers())
    assert keys_train == [
        "free_weight", "bias", "_extra_state", "analytic.gabor.raw_sigma",
        "analytic.gabor.raw_lambda", "analytic.gabor.raw_theta", "analytic.gabor.raw_psi",
        "analytic.gabor.gain", "analytic.dog.raw_sigma", "analytic.dog.raw_theta",
        "analytic.dog.gain",
    ]


def test_extra_state_is_plain_and_names_the_provider(registry: Registry) -> None:
    registry.add_family(gauss(), "acl-test", distribution="acl-test-dist", version="1.2")
    layer = AnalyticConv2d(2, 4, 3, families={"gauss": 3, "free": 1})
    state = layer.state_dict()["_extra_state"]
    assert _plain(state)
    entry = state["families"][0]
    assert entry["name"] == "gauss" and entry["count"] == 3 and entry["akps"] == ["sigma"]
    assert (entry["provider"], entry["distribution"], entry["version"]) == (
        "acl-test", "acl-test-dist", "1.2")
    assert state["families"][1] == {"name": "free", "count": 1}
    assert state["aclcore_format"] == 1 and isinstance(state["aclcore_version"], str)


def test_save_and_load_with_weights_only(registry: Registry) -> None:
    registry.add_family(gabor())
    layer = _layer(families={"gabor": 6, "free": 2})
    buf = io.BytesIO()
    torch.save(layer.state_dict(), buf)
    buf.seek(0)
    state = torch.load(buf, weights_only=True)
    torch.manual_seed(123)
    other = AnalyticConv2d(3, 8, 3, padding=1, families={"gabor": 6, "free": 2})
    inp = torch.randn(2, 3, 7, 7)
    assert not torch.allclose(other(inp), layer(inp))
    other.load_state_dict(state)
    torch.testing.assert_close(other(inp), layer(inp), atol=0, rtol=0)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"families": {gabor(): 5, "free": 1, dog(): 2}}, r"family 'gabor' has 4 channels in the "
     r"checkpoint but 5 here; build the layer with families=\{'gabor': 4, 'free': 2, 'dog'"),
    ({"families": {gabor(): 4, "free": 2, gauss(): 2}}, r"family 'gauss' .* not in the"),
    ({"families": {gabor(): 6, dog(): 2}}, r"family 'gabor' has 4 channels"),
    ({"discretization": "integrate"}, r"saved with discretization='sample'"),
    ({"normalize": {"dog": "l2"}}, r"family 'dog' has normalize='none' in the checkpoint"),
    ({"dilation": 2}, r"dilation=\[1, 1\]"),
])
def test_loading_a_different_configuration_names_the_offender(kwargs: dict[str, Any],
                                                              match: str) -> None:
    state = _layer().state_dict()
    with pytest.raises(ConfigError, match=match):
        _layer(**kwargs).load_state_dict(state)


def test_loading_a_changed_formula_warns() -> None:
    state = _layer().state_dict()
    changed = gabor()
    changed = type(changed)("gabor", changed.sympy_expr * 2, changed.coords, changed.params)
    layer = _layer(families={changed: 4, "free": 2, dog(): 2})
    with pytest.warns(UserWarning, match="family 'gabor' .* different formula"):
        layer.load_state_dict(state)


def test_loading_a_newer_format_raises() -> None:
    state = _layer().state_dict()
    state["_extra_state"] = dict(state["_extra_state"], aclcore_format=99)
    with pytest.raises(ConfigError, match="upgrade aclcore"):
        _layer().load_state_dict(state)
    state["_extra_state"] = "nonsense"
    with pytest.raises(ConfigError, match="not an aclcore layer state"):
        _layer().load_state_dict(state)


def test_deepcopy_and_pickle() -> None:
    layer = _layer().eval()
    inp = torch.randn(2, 3, 6, 6)
    with torch.no_grad():
        expected = layer(inp)
    for clone in (copy.deepcopy(layer), pickle.loads(pickle.dumps(layer))):
        assert isinstance(clone, AnalyticConv2d)
        with torch.no_grad():
            torch.testing.assert_close(clone(inp), expected, atol=0, rtol=0)
            next(clone.parameters()).add_(1.0)  # independent parameters, no stale bank
            assert not torch.equal(clone(inp), expected)
            torch.testing.assert_close(layer(inp), expected, atol=0, rtol=0)


# -- the eval cache -----------------------------------------------------------------------
def test_cache_is_reused_while_parameters_are_unchanged() -> None:
    layer = _layer().eval()
    with torch.no_grad():
        first = layer.weight
        assert layer.weight is first  # served from the cache, not recomputed
        assert not first.requires_grad


def test_cache_invalidation_by_optimizer_step_and_in_place_updates() -> None:
    layer = _layer()
    opt = torch.optim.SGD(layer.parameters(), lr=0.5)
    inp = torch.randn(2, 3, 6, 6)
    layer.eval()
    with torch.no_grad():
        before = layer.weight.clone()
    layer.train()
    layer(inp).square().mean().backward()
    opt.step()
    layer.eval()
    with torch.no_grad():
        after = layer.weight
        fresh = fresh_bank(layer)
    assert not torch.equal(before, after)
    torch.testing.assert_close(after, fresh, atol=0, rtol=0)
    with torch.no_grad():
        layer.analytic["gabor"].raw("sigma").mul_(0.5)
        torch.testing.assert_close(layer.weight, fresh_bank(layer), atol=0, rtol=0)
        gain = layer.analytic["dog"].gain
        assert gain is not None
        gain.data = gain.data * 3  # a swapped storage is noticed too
        torch.testing.assert_close(layer.weight, fresh_bank(layer), atol=0, rtol=0)


def test_cache_notices_writes_through_data_which_bump_no_version() -> None:
    # EMA code and manual edits often write through p.data: its version counter is not the
    # parameter's, so the cache verifies AKPs, gains and free kernels by content too
    layer = _layer().eval()
    free = layer.free_weight
    gabor_block = layer.analytic["gabor"]
    assert free is not None and gabor_block.gain is not None
    edits = [
        lambda: free.data.zero_(),
        lambda: gabor_block.raw("sigma").data.add_(0.25),
        lambda: gabor_block.gain.data.mul_(2.0),  # type: ignore[union-attr]
        lambda: free.data.copy_(torch.randn_like(free)),
    ]
    with torch.no_grad():
        for edit in edits:
            layer.weight  # noqa: B018  (fills the cache)
            edit()
            torch.testing.assert_close(layer.weight, fresh_bank(layer), atol=0, rtol=0)
        assert torch.equal(layer.weight[4:6], free)


def test_writing_into_the_returned_bank_does_not_change_later_banks() -> None:
    # layer.weight is computed from the parameters (as it is with gradients on): a write into
    # a returned bank must not survive into the next call, with or without free kernels
    for families in ({gabor(): 8}, {gabor(): 4, "free": 2, dog(): 2}):
        layer = _layer(families=families).eval()
        with torch.no_grad():
            expected = fresh_bank(layer)
            torch.nn.init.zeros_(layer.weight)
            torch.testing.assert_close(layer.weight, expected, atol=0, rtol=0)


def test_cache_invalidation_by_load_state_dict_and_to() -> None:
    layer = _layer().eval()
    other = _layer(padding=1)
    torch.manual_seed(5)
    other.reset_parameters()
    inp = torch.randn(1, 3, 5, 5)
    with torch.no_grad():
        layer(inp)
        layer.load_state_dict(other.state_dict())
        torch.testing.assert_close(layer(inp), other(inp), atol=0, rtol=0)
        layer.to(torch.float64)
        out = layer(inp.double())
    assert out.dtype == torch.float64 and layer.weight.dtype == torch.float64


def test_no_stale_or_detached_bank_when_gradients_are_needed() -> None:
    layer = _layer().eval()
    inp = torch.randn(1, 3, 5, 5, requires_grad=True)
    with torch.no_grad():
        layer(inp)  # fills the cache
    out = layer(inp)  # eval mode, but gradients are enabled: the bank must be in the graph
    out.sum().backward()
    assert layer.analytic["gabor"].raw("sigma").grad is not None
    assert inp.grad is not None
    layer.train()
    with torch.no_grad():  # training mode without gradients may use the cache
        torch.testing.assert_close(layer(inp), conv(
            inp, fresh_bank(layer), layer.bias, layer.stride, layer.padding, layer.dilation,
            layer.groups, layer.padding_mode))


def test_inference_mode_and_frozen_parameters() -> None:
    layer = _layer().eval().requires_grad_(False)
    inp = torch.randn(1, 3, 5, 5)
    with torch.inference_mode():
        expected = layer(inp).clone()
    x = inp.clone().requires_grad_()
    out = layer(x)  # frozen: the cached bank (a normal tensor) is used with autograd on
    with torch.no_grad():
        assert layer.weight is layer.weight
    out.sum().backward()
    assert x.grad is not None
    torch.testing.assert_close(out.detach(), expected)


def test_torch_func_transforms_bypass_the_cache() -> None:
    # vmap cannot run the eager finite check (data-dependent control flow): turn it off
    layer = _layer(check_finite=False).eval()
    params = {k: v.detach() for k, v in layer.named_parameters()}
    inp = torch.randn(1, 3, 5, 5)

    def f(p: dict[str, torch.Tensor]) -> torch.Tensor:
        return torch.func.functional_call(layer, p, (inp,))

    with torch.no_grad():
        expected = layer(inp)
        batched = torch.func.vmap(f)({k: torch.stack([v, 2 * v]) for k, v in params.items()})
    torch.testing.assert_close(batched[0], expected)
    assert not torch.allclose(batched[1], expected)
    grads = torch.func.grad(lambda p: f(p).square().sum())(params)
    assert float(grads["analytic.gabor.raw_sigma"].abs().sum()) > 0


# -- compile, freeze, export, optimiser groups ----------------------------------------------
def test_torch_compile_fullgraph() -> None:
    layer = _layer(families={gabor(): 3, sinc_r(): 3, "free": 2})
    inp = torch.randn(2, 3, 6, 6)
    compiled = assert_compiled_matches_eager(layer, inp)
    layer.eval()
    with torch.no_grad():
        torch.testing.assert_close(compiled(inp), layer(inp))


def test_freeze_replaces_every_layer_and_keeps_outputs() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(_layer(), nn.ReLU(),
                          nn.Sequential(AnalyticConv2d(8, 4, 3, families=gauss())))
    inp = torch.randn(2, 3, 8, 8)
    expected = model(inp)
    frozen = freeze(model)
    assert frozen is model
    assert not any(isinstance(m, AnalyticConvNd) for m in model.modules())
    assert isinstance(model[0], nn.Conv2d) and isinstance(model[2][0], nn.Conv2d)
    torch.testing.assert_close(model(inp), expected, atol=0, rtol=0)
    single = _layer()
    assert isinstance(freeze(single), nn.Conv2d)


def test_freeze_keeps_a_layer_used_twice_tied() -> None:
    shared = AnalyticConv2d(4, 4, 3, padding=1, families=gauss())
    model = nn.Sequential(shared, nn.ReLU(), shared)
    inp = torch.randn(1, 4, 6, 6)
    expected = model(inp)
    freeze(model)
    assert model[0] is model[2] and isinstance(model[0], nn.Conv2d)
    assert sum(p.numel() for p in model.parameters()) == 4 * 4 * 9 + 4
    torch.testing.assert_close(model(inp), expected, atol=0, rtol=0)


@pytest.mark.filterwarnings("ignore::FutureWarning")  # torch.export internals (LeafSpec)
def test_frozen_model_exports_to_onnx(tmp_path: Any) -> None:
    onnx = pytest.importorskip("onnx", reason="onnx is not installed (pip install onnx)")
    pytest.importorskip("onnxscript", reason="torch.onnx.export needs onnxscript")
    from onnx.reference import ReferenceEvaluator

    torch.manual_seed(0)
    model = freeze(nn.Sequential(_layer(), nn.ReLU())).eval()
    inp = torch.randn(1, 3, 8, 8)
    path = tmp_path / "model.onnx"
    torch.onnx.export(model, (inp,), str(path), dynamo=True, verbose=False)
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto)
    assert "Conv" in {node.op_type for node in proto.graph.node}
    (out,) = ReferenceEvaluator(proto).run(None, {proto.graph.input[0].name: inp.numpy()})
    with torch.no_grad():
        np.testing.assert_allclose(out, model(inp).numpy(), atol=1e-5)


def test_meta_device_then_to_empty_and_reset() -> None:
    layer = AnalyticConv2d(3, 8, 3, families={gabor(): 6, "free": 2}, device="meta")
    assert layer.weight.device.type == "meta"
    layer.to_empty(device="cpu")
    layer.reset_parameters()
    gain = layer.analytic["gabor"].gain
    assert gain is not None and torch.isfinite(gain).all() and (gain > 0).all()
    assert torch.isfinite(layer(torch.randn(1, 3, 5, 5))).all()


def test_akp_and_free_parameters_partition_the_layer() -> None:
    layer = _layer()
    akps = {id(p) for p in layer.akp_parameters()}
    free = {id(p) for p in layer.free_parameters()}
    assert len(akps) == 4 + 1 + 2 + 1 and len(free) == 2
    assert akps.isdisjoint(free) and akps | free == {id(p) for p in layer.parameters()}


def test_param_groups() -> None:
    model = nn.Sequential(_layer(), nn.BatchNorm2d(8), AnalyticConv2d(8, 2, 1, families=gauss()))
    groups = param_groups(model, akp_lr=0.1, lr=0.01, weight_decay=0.05)
    assert [g["name"] for g in groups] == ["other", "akp"]
    other, akp = groups
    assert akp["lr"] == 0.1 and akp["weight_decay"] == 0.0 and other["lr"] == 0.01
    assert other["weight_decay"] == 0.05
    n_akp = sum(1 for m in model if isinstance(m, AnalyticConvNd) for _ in m.akp_parameters())
    assert len(akp["params"]) == n_akp
    assert len(akp["params"]) + len(other["params"]) == len(list(model.parameters()))
    opt = torch.optim.AdamW(groups)
    assert [g["lr"] for g in opt.param_groups] == [0.01, 0.1]
    keep = param_groups(model, akp_weight_decay=None, weight_decay=0.05)
    assert keep[1]["weight_decay"] == 0.05 and "lr" not in keep[1]
    assert [g["name"] for g in param_groups(nn.Linear(2, 2))] == ["other"]
