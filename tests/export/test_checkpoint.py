"""Checkpoints: plain state dicts load with weights_only; aclcore checkpoints embed formulas;
a missing family is named with the distribution that provided it."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
import torch
from helpers.export import perturb
from helpers.families import dog, gabor, gauss
from torch import nn

from aclcore import AnalyticConv2d
from aclcore.errors import ConfigError, ExportError, UnknownFamilyError
from aclcore.export import LayerDict, to_json
from aclcore.export.checkpoint import RUN_CHECKPOINT, Checkpoint, load_checkpoint, save_checkpoint
from aclcore.plugins.registry import Registry


def _model() -> nn.Sequential:
    return nn.Sequential(AnalyticConv2d(1, 4, 3, padding=1, stride=2,
                                        families={"gabor": 3, "free": 1}),
                         nn.ReLU(), AnalyticConv2d(4, 2, 3, families={"dog": 2}),
                         nn.Flatten(), nn.Linear(2 * 2 * 2, 3))


def _plain(value: Any) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    return value is None or isinstance(value, (str, int, float, bool))


@pytest.fixture
def installed(registry: Registry) -> Registry:
    registry.add_family(gabor(), "acl-test", distribution="acl-test-dist", version="1.2")
    registry.add_family(dog(), "acl-test", distribution="acl-test-dist", version="1.2")
    return registry


def test_a_plain_state_dict_loads_with_weights_only(installed: Registry) -> None:
    torch.manual_seed(0)
    model = _model()
    perturb(model[0])
    inp = torch.randn(2, 1, 8, 8)
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    extra = state["0._extra_state"]
    assert _plain(extra)
    assert (extra["stride"], extra["padding"], extra["padding_mode"]) == ([2, 2], [1, 1],
                                                                         "zeros")
    clone = _model()
    clone.load_state_dict(state)
    assert torch.equal(clone(inp), model(inp))


def test_layers_are_rebuilt_from_a_plain_state_dict(installed: Registry,
                                                    tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = _model()
    perturb(model[0])
    torch.save(model.state_dict(), tmp_path / "plain.pt")
    ckpt = load_checkpoint(tmp_path / "plain.pt")
    assert ckpt.kind == "state_dict" and isinstance(ckpt.module, LayerDict)
    assert list(ckpt.layers) == ["0", "2"]
    inp = torch.randn(1, 1, 8, 8)
    rebuilt = ckpt.layers["0"]
    assert rebuilt.stride == (2, 2) and rebuilt.padding == (1, 1)
    assert torch.equal(rebuilt(inp), model[0](inp))
    assert set(ckpt.state_dict) == set(model.state_dict())
    with pytest.raises(ExportError, match=r"holds a model with layers \['0', '2'\]"):
        _ = ckpt.layer


def test_a_missing_family_names_its_distribution(installed: Registry, tmp_path: Path) -> None:
    torch.manual_seed(0)
    torch.save(_model().state_dict(), tmp_path / "plain.pt")
    installed.remove_family("dog")
    with pytest.raises(UnknownFamilyError, match=r"2: the checkpoint uses the kernel family "
                                                 r"'dog', which is not installed; it came from "
                                                 r"plugin 'acl-test' \(acl-test-dist 1.2\); "
                                                 r"install it \(pip install acl-test-dist\)"):
        load_checkpoint(tmp_path / "plain.pt")


def test_an_unknown_source_is_said_so(registry: Registry, tmp_path: Path) -> None:
    torch.manual_seed(0)
    layer = AnalyticConv2d(1, 2, 3, families=gauss())  # an object: no provenance
    torch.save(layer.state_dict(), tmp_path / "plain.pt")
    with pytest.raises(UnknownFamilyError, match="came from an unknown source"):
        load_checkpoint(tmp_path / "plain.pt")


def test_a_changed_installed_family_is_refused_or_warned(installed: Registry,
                                                         tmp_path: Path) -> None:
    torch.manual_seed(0)
    torch.save(AnalyticConv2d(1, 2, 3, families="dog").state_dict(), tmp_path / "p.pt")
    from aclcore import KernelFamily

    old = dog()
    installed.add_family(KernelFamily("dog", old.sympy_expr * 2, old.coords, old.params),
                         "acl-test", replace=True)
    with pytest.warns(UserWarning, match="family 'dog' .* different formula"):
        load_checkpoint(tmp_path / "p.pt")
    installed.add_family(gauss("dog"), "acl-test", replace=True)
    with pytest.raises(ConfigError, match=r"installed family 'dog' has AKPs \['sigma'\] but "
                                          r"the checkpoint's has \['sigma', 'theta'\]"):
        load_checkpoint(tmp_path / "p.pt")


def test_an_aclcore_checkpoint_needs_no_plugin(installed: Registry, tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = _model()
    perturb(model[2])
    run = tmp_path / "run"
    path = save_checkpoint(model, run / RUN_CHECKPOINT, step=40, accuracy=0.75,
                           classes=["a", "b"], notes={"data": "synthetic", "seed": None})
    assert path == run / RUN_CHECKPOINT
    raw = torch.load(path, weights_only=True)  # plain values and tensors only
    assert raw["format"] == "aclcore.checkpoint" and raw["version"] == 1
    installed.remove_family("gabor")
    installed.remove_family("dog")
    ckpt = load_checkpoint(run)  # a training run directory
    assert isinstance(ckpt, Checkpoint) and ckpt.kind == "aclcore.checkpoint"
    assert ckpt.metadata == {"step": 40, "accuracy": 0.75, "classes": ["a", "b"],
                             "notes": {"data": "synthetic", "seed": None}}
    inp = torch.randn(2, 1, 8, 8)
    fresh = nn.Sequential(*ckpt.layers.values())
    assert torch.equal(ckpt.layers["2"](model[1](model[0](inp))), model[2](model[1](model[0](
        inp))))
    assert len(fresh) == 2
    # the whole state dict is there for the parts that are not analytic
    head = nn.Linear(8, 3)
    head.load_state_dict({k[2:]: v for k, v in ckpt.state_dict.items() if k.startswith("4.")})
    assert torch.equal(head.weight, model[4].weight)


def test_a_single_layer_checkpoint(registry: Registry, tmp_path: Path) -> None:
    torch.manual_seed(0)
    layer = AnalyticConv2d(2, 3, 3, families={gabor(): 2, "free": 1})
    ckpt = load_checkpoint(save_checkpoint(layer, tmp_path / "l.pt"))
    assert torch.equal(ckpt.layer.weight, layer.weight) and list(ckpt.layers) == [""]
    assert ckpt.metadata == {}


def test_metadata_must_be_plain(registry: Registry, tmp_path: Path) -> None:
    layer = AnalyticConv2d(1, 1, 3, families="free")
    with pytest.raises(ExportError, match=r"metadata.model: Linear is not plain data"):
        save_checkpoint(layer, tmp_path / "x.pt", model=nn.Linear(1, 1))
    with pytest.raises(ExportError, match=r"metadata.table: keys must be strings"):
        save_checkpoint(layer, tmp_path / "x.pt", table={1: 2})
    path = save_checkpoint(layer, tmp_path / "x.pt", shape=(1, 2))
    assert load_checkpoint(path).metadata == {"shape": [1, 2]}


def test_a_json_export_is_recognised(registry: Registry, tmp_path: Path) -> None:
    torch.manual_seed(0)
    path = tmp_path / "model.txt"
    path.write_text("\n  " + to_json(AnalyticConv2d(1, 2, 3, families=gauss())))
    with pytest.raises(ExportError, match=r"model.txt: this is a JSON document, not a torch "
                                          r"checkpoint; read a JSON export with .*from_json"):
        load_checkpoint(path)
