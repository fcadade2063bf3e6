"""Factorised gains (``gain_rank``) through JSON, checkpoints, state dicts and Python export;
documents and states written before the option existed still load."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import pytest
import torch
from helpers.export import independent_bank, perturb
from helpers.families import dog, gabor, x, y
from torch import nn

from aclcore import AnalyticConv2d
from aclcore.errors import ExportError
from aclcore.export import formulas, from_json, load_json_into, to_json, to_latex, to_python
from aclcore.export.checkpoint import load_checkpoint, save_checkpoint
from aclcore.plugins.registry import Registry


def _model(rank: int | None = 2) -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        AnalyticConv2d(3, 4, 3, padding=1, families={"gabor": 3, "free": 1}, gain_rank=rank),
        nn.ReLU(),
        AnalyticConv2d(4, 2, 3, families={"dog": 2}, share_akps=True, gain_rank=rank),
    )


@pytest.fixture
def installed(registry: Registry) -> Registry:
    registry.add_family(gabor(), "acl-test", distribution="acl-test-dist", version="1.0")
    registry.add_family(dog(), "acl-test", distribution="acl-test-dist", version="1.0")
    return registry


@pytest.mark.usefixtures("installed")
def test_json_round_trip(tmp_path: Path) -> None:
    model = _model()
    perturb(model[0])
    text = to_json(model)
    doc = json.loads(text)
    assert [layer["config"]["gain_rank"] for layer in doc["layers"]] == [2, 2]
    assert "0.gain" not in str(doc["layers"][0]["tensors"])
    rebuilt = from_json(text)
    inp = torch.randn(2, 3, 8, 8)
    assert torch.equal(rebuilt["0"](inp), model[0](inp))
    fresh = _model()
    load_json_into(fresh, text)
    assert torch.equal(fresh(inp), model(inp))


@pytest.mark.usefixtures("installed")
def test_exported_formulas_and_python_reproduce_the_weights(tmp_path: Path) -> None:
    model = _model()
    perturb(model[2])
    for lf in formulas(model):
        got, want = independent_bank(lf.layer, lf.matrix(), (x, y))
        torch.testing.assert_close(got, want, atol=1e-6, rtol=1e-5)
    path = tmp_path / "bank.py"
    path.write_text(to_python(model))
    module = runpy.run_path(str(path))
    with torch.no_grad():
        for i, layer in enumerate((model[0], model[2])):
            torch.testing.assert_close(module["kernel_bank"](i), layer.weight)
    gains = model[2].analytic["dog"].gains()
    assert gains is not None
    assert f"{gains[0, 0].item():.4g}" in to_latex(model[2], precision=4)


@pytest.mark.usefixtures("installed")
def test_checkpoints_and_plain_state_dicts(tmp_path: Path) -> None:
    model = _model()
    inp = torch.randn(1, 3, 6, 6)
    save_checkpoint(model, tmp_path / "c.pt")
    assert torch.equal(load_checkpoint(tmp_path / "c.pt").module["2"](
        torch.relu(model[0](inp))), model(inp))
    torch.save(model.state_dict(), tmp_path / "s.pt")
    loaded = load_checkpoint(tmp_path / "s.pt").module
    assert torch.equal(loaded["0"](inp), model[0](inp))


@pytest.mark.usefixtures("installed")
def test_documents_and_states_without_the_option_still_load(tmp_path: Path) -> None:
    model = _model(rank=None)
    inp = torch.randn(1, 3, 6, 6)
    doc = json.loads(to_json(model))
    for layer in doc["layers"]:
        del layer["config"]["gain_rank"]
    assert torch.equal(from_json(json.dumps(doc))["0"](inp), model[0](inp))
    state = model.state_dict()
    for key in ("0._extra_state", "2._extra_state"):
        del state[key]["gain_rank"]
    torch.save(state, tmp_path / "old.pt")
    assert torch.equal(load_checkpoint(tmp_path / "old.pt").module["0"](inp), model[0](inp))


@pytest.mark.usefixtures("installed")
@pytest.mark.parametrize("bad", [0, "2", True, 2.5])
def test_a_bad_rank_in_a_document_is_refused(bad: object) -> None:
    doc = json.loads(to_json(_model()))
    doc["layers"][0]["config"]["gain_rank"] = bad
    with pytest.raises(ExportError, match=r"layers\[0\]\.config\.gain_rank"):
        from_json(json.dumps(doc))


@pytest.mark.usefixtures("installed")
def test_a_rank_that_does_not_match_the_tensors_is_refused() -> None:
    doc = json.loads(to_json(_model()))
    doc["layers"][0]["config"]["gain_rank"] = 3
    with pytest.raises(ExportError, match="shape"):
        from_json(json.dumps(doc))
