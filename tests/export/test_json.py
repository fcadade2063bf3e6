"""JSON export: format, exact round trips (model -> JSON -> model, formula -> parser -> srepr),
rebuilding without the plugin, warnings for changed definitions, load_json_into."""

from __future__ import annotations

import json
import warnings
from typing import Any

import pytest
import sympy as sp
import torch
from helpers.export import perturb
from helpers.families import dog, gabor, gauss, gauss1d, gauss3d, ramp, sinc_r
from torch import nn

from aclcore import AnalyticConv1d, AnalyticConv2d, AnalyticConv3d, KernelFamily, Param
from aclcore.errors import ConfigError, ExportError
from aclcore.export import (
    FORMAT,
    VERSION,
    LayerDict,
    formulas,
    from_json,
    load_json_into,
    to_json,
)
from aclcore.nn import AnalyticConvNd
from aclcore.plugins.registry import Registry
from aclcore.symbolic.parse import formula_to_string, parse_formula

FALLBACK = [gabor(), gauss(normalize="sum"), dog(), sinc_r(), gauss1d(), gauss3d(), ramp()]
_CLASSES: dict[int, type[AnalyticConvNd]] = {1: AnalyticConv1d, 2: AnalyticConv2d,
                                             3: AnalyticConv3d}


def _families() -> list[KernelFamily]:
    try:
        import acl_classic
    except ImportError:
        return FALLBACK
    return FALLBACK + list(acl_classic.FAMILIES)


def _layer(family: KernelFamily, **kwargs: Any) -> AnalyticConvNd:
    nd = family.ndim
    torch.manual_seed(3)
    kwargs.setdefault("padding", 1)
    layer = _CLASSES[nd](3, 4, {1: 5, 2: 3, 3: 3}[nd], families={family: 3, "free": 1},
                         **kwargs)
    perturb(layer)
    return layer


def _input(layer: AnalyticConvNd) -> torch.Tensor:
    nd = len(layer.kernel_size)
    return torch.randn(2, layer.in_channels, *([7] * nd), dtype=layer.weight.dtype)


def _same(a: AnalyticConvNd, b: AnalyticConvNd) -> None:
    inp = _input(a)
    assert torch.equal(a.weight, b.weight)
    assert torch.equal(a(inp), b(inp))
    assert a.extra_repr() == b.extra_repr()
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for key, value in sa.items():
        if isinstance(value, torch.Tensor):
            assert torch.equal(value, sb[key]) and value.dtype == sb[key].dtype, key


def test_every_family_round_trips_to_identical_outputs() -> None:
    for family in _families():
        layer = _layer(family)
        back = from_json(to_json(layer))
        assert isinstance(back, type(layer))
        _same(layer, back)


@pytest.mark.parametrize("kwargs", [
    {"discretization": "integrate", "quadrature": 3},
    {"dtype": torch.float64, "normalize": "l2", "bias": False},
    {"share_akps": True, "padding_mode": "circular", "stride": 2},
    {"gain": False, "dilation": 2, "padding": "same"},
], ids=["integrate", "f64-l2-nobias", "shared-circular", "nogain-dilated-same"])
def test_layer_options_round_trip(kwargs: dict[str, Any]) -> None:
    layer = _layer(gabor(), **kwargs)
    _same(layer, from_json(to_json(layer)))  # type: ignore[arg-type]


def test_groups_and_free_only_layers_round_trip() -> None:
    torch.manual_seed(0)
    grouped = AnalyticConv2d(4, 6, 3, groups=2, families={"free": 2, dog(): 4})
    _same(grouped, from_json(to_json(grouped)))  # type: ignore[arg-type]
    free = AnalyticConv2d(2, 2, 3, families="free")
    _same(free, from_json(to_json(free)))  # type: ignore[arg-type]


def test_a_model_round_trips_as_a_layer_dict_and_into_the_architecture() -> None:
    def model() -> nn.Sequential:
        return nn.Sequential(
            AnalyticConv2d(1, 4, 3, padding=1, families={gabor(): 3, "free": 1}), nn.ReLU(),
            nn.Sequential(AnalyticConv2d(4, 2, 3, families={dog(): 1, sinc_r(): 1})),
            nn.Flatten(), nn.LazyLinear(3))

    torch.manual_seed(0)
    original = model()
    inp = torch.randn(2, 1, 8, 8)
    expected = original(inp)
    text = to_json(original)
    back = from_json(text)
    assert isinstance(back, LayerDict)
    assert list(back) == ["0", "2.0"] and len(back) == 2 and "2.0" in back
    assert [k for k, _ in back.items()] == back.keys()
    assert back["2.0"] is back.get_submodule("2.0")
    _same(original[0], back["0"])
    # the layer dict's state dict keys are the original model's
    own = {k for k in original.state_dict() if k.startswith(("0.", "2."))}
    assert set(back.state_dict()) == own
    with pytest.raises(KeyError, match="no layer 'nope'"):
        back["nope"]
    with pytest.raises(ExportError, match=r"cannot be called; call a layer \(layers\['0'\]"):
        back(inp)
    # load into a fresh copy of the architecture: the analytic layers' outputs match
    torch.manual_seed(1)
    fresh = model()
    fresh(inp)  # materialise the lazy head
    fresh[4].load_state_dict(original[4].state_dict())
    assert not torch.equal(fresh(inp), expected)
    assert load_json_into(fresh, text) is fresh
    assert torch.equal(fresh(inp), expected)


def test_load_json_into_checks_the_architecture() -> None:
    torch.manual_seed(0)
    layer = AnalyticConv2d(2, 3, 3, families={gabor(): 2, "free": 1})
    text = to_json(layer)
    with pytest.raises(ConfigError, match="family 'gabor' has 2 channels in the checkpoint "
                                          "but 1 here"):
        load_json_into(AnalyticConv2d(2, 3, 3, families={gabor(): 1, "free": 2}), text)
    with pytest.raises(ConfigError, match="stride"):
        load_json_into(AnalyticConv2d(2, 3, 3, stride=2, families={gabor(): 2, "free": 1}),
                       text)
    with pytest.raises(ConfigError, match="bias=True in the document"):
        load_json_into(AnalyticConv2d(2, 3, 3, bias=False, families={gabor(): 2, "free": 1}),
                       text)
    with pytest.raises(ConfigError, match="holds a AnalyticConv2d"):
        load_json_into(AnalyticConv1d(2, 3, 3, families="free"), text)
    model_text = to_json(nn.Sequential(layer, nn.ReLU(), AnalyticConv2d(3, 1, 1,
                                                                        families="free")))
    target = nn.Sequential(AnalyticConv2d(2, 3, 3, families={gabor(): 2, "free": 1}))
    with pytest.raises(ConfigError, match="no submodule '2'"):
        load_json_into(target, model_text)
    extra = nn.Sequential(AnalyticConv2d(2, 3, 3, families={gabor(): 2, "free": 1}),
                          nn.ReLU(), AnalyticConv2d(3, 1, 1, families="free"),
                          AnalyticConv2d(1, 1, 1, families="free"))
    with pytest.raises(ConfigError, match=r"no layer for the model's analytic layers \['3'\]"):
        load_json_into(extra, model_text)
    load_json_into(extra, model_text, strict=False)
    assert torch.equal(extra[0].weight, layer.weight)


def test_the_document_layout() -> None:
    layer = _layer(sinc_r())
    doc = json.loads(to_json(layer))
    assert (doc["format"], doc["version"], doc["root"]) == (FORMAT, VERSION, "layer")
    (entry,) = doc["layers"]
    assert entry["path"] == "" and entry["class"] == "AnalyticConv2d"
    assert entry["config"]["mosaic"] == [{"family": "sinc_r", "count": 3},
                                         {"family": "free", "count": 1}]
    fam = entry["families"][0]
    assert fam["params"] == [{"name": "a", "constraint": [0.1, 3.0], "init": [0.5, 2.0],
                              "description": ""}]
    assert fam["singularities"] == [{"at": ["x", "y"], "limit": "a"}]
    raw = entry["tensors"]["analytic.sinc_r.raw_a"]
    assert raw["dtype"] == "float32" and raw["shape"] == [3, 3]
    assert torch.equal(torch.tensor(raw["data"], dtype=torch.float32),
                       layer.analytic["sinc_r"].raw("a").detach())
    kernel = entry["kernels"][0]
    assert (kernel["out"], kernel["in"], kernel["family"]) == (0, 0, "sinc_r")
    assert "Piecewise" in kernel["formula"] and "wrapped" not in kernel
    assert "kernels" not in json.loads(to_json(layer, kernels=False))["layers"][0]
    assert json.loads(to_json(layer, indent=None)) == doc


def test_family_definitions_round_trip_completely() -> None:
    sigma = sp.Symbol("sigma", real=True)
    x, y = sp.symbols("x y", real=True)
    profile = KernelFamily(
        "profile", sp.exp(-x**2 / (2 * sigma**2)), (x, y),
        [Param(sigma, init=1.5, constraint=(0.5, 4.0), description="width in pixels")],
        description="A 1-D profile, constant along y.", normalize="l2",
        constant_along=("y",), symmetries=("even:x", "even:y"))
    torch.manual_seed(0)
    layer = AnalyticConv2d(1, 2, 3, families=profile)
    back = from_json(to_json(layer).encode())  # bytes are read as UTF-8
    assert isinstance(back, AnalyticConv2d)
    assert back.kernel_families["profile"] == profile
    _same(layer, back)


@pytest.mark.parametrize("indent", [1, 4])
def test_strings_that_look_like_arrays_are_written_exactly(indent: int) -> None:
    sigma = sp.Symbol("sigma", real=True)
    x, y = sp.symbols("x y", real=True)
    texts = ["values [0,  1,2] pixels", "in [1,2]", '[ "a" ,  true,null ]', "[3]\n[ 4 ,5 ]"]
    family = KernelFamily(
        "bracketed", sp.exp(-(x**2 + y**2) / (2 * sigma**2)), (x, y),
        [Param(sigma, init=1.5, constraint="positive", description=texts[1])],
        description=" | ".join(texts))
    torch.manual_seed(0)
    text = to_json(AnalyticConv2d(1, 2, 3, families=family), indent=indent)
    assert '"kernel_size": [3, 3],' in text  # short arrays are still written on one line
    block = json.loads(text)["layers"][0]["families"][0]
    assert block["description"] == family.description
    assert block["params"][0]["description"] == texts[1]
    back = from_json(text)
    assert isinstance(back, AnalyticConv2d)
    assert back.kernel_families["bracketed"].description == family.description
    assert back.kernel_families["bracketed"].params[0].description == texts[1]


def test_formulas_round_trip_through_the_parser_exactly() -> None:
    for family in _families():
        layer = _layer(family)
        doc = json.loads(to_json(layer))
        block = doc["layers"][0]["families"][0]
        assert sp.srepr(parse_formula(block["expr"])) == sp.srepr(family.sympy_expr)
        (lf,) = formulas(layer)
        for kernel, entry in zip(lf.kernels, doc["layers"][0]["kernels"], strict=True):
            assert sp.srepr(parse_formula(entry["formula"])) == sp.srepr(kernel.formula)
            assert entry["formula"] == formula_to_string(kernel.formula)


def test_angles_are_reported_wrapped_but_tensors_stay_raw() -> None:
    layer = _layer(gabor())
    entry = json.loads(to_json(layer))["layers"][0]
    kernel = entry["kernels"][0]
    assert kernel["akps"]["theta"] > 6.3 and 0 <= kernel["wrapped"]["theta"] < 6.3


def test_rebuilt_without_the_plugin_and_warned_when_the_installed_one_differs(
        registry: Registry) -> None:
    registry.add_family(gabor(), "acl-test", distribution="acl-test-dist", version="1.0")
    torch.manual_seed(0)
    layer = AnalyticConv2d(2, 3, 3, families={"gabor": 2, "free": 1})
    perturb(layer)
    text = to_json(layer)
    prov = json.loads(text)["layers"][0]["families"][0]["provenance"]
    assert prov == {"provider": "acl-test", "distribution": "acl-test-dist", "version": "1.0"}
    registry.remove_family("gabor")  # "uninstalled": the embedded definition is used
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        back = from_json(text)
    _same(layer, back)  # type: ignore[arg-type]
    assert back.get_extra_state()["families"][0]["distribution"] == "acl-test-dist"
    changed = gabor()
    registry.add_family(KernelFamily("gabor", changed.sympy_expr * 2, changed.coords,
                                     changed.params), "other", distribution="other-dist")
    with pytest.warns(UserWarning, match=r"family 'gabor' in the document \(from plugin "
                                         r"'acl-test' \(acl-test-dist 1.0\).*differs from the "
                                         r"installed one \(from plugin 'other'"):
        again = from_json(text)
    _same(layer, again)  # type: ignore[arg-type]


def test_an_edited_fingerprint_warns() -> None:
    doc = json.loads(to_json(_layer(gauss())))
    doc["layers"][0]["families"][0]["fingerprint"] = "0" * 16
    with pytest.warns(UserWarning, match="does not match the family's formula"):
        from_json(json.dumps(doc))


def test_loading_does_not_touch_the_global_rng() -> None:
    text = to_json(_layer(gabor()))
    state = torch.get_rng_state()
    from_json(text)
    assert torch.equal(state, torch.get_rng_state())


def test_plugin_functions_are_listed_and_required(registry: Registry) -> None:
    acl_example = pytest.importorskip("acl_example")
    from aclcore.plugins.registry import register_function

    register_function(acl_example.i0e, torch.special.i0e)
    layer = _layer(acl_example.gaussian_ring())
    text = to_json(layer)
    fam = json.loads(text)["layers"][0]["families"][0]
    assert fam["functions"] == [{"name": "i0e", "provider": "<in-process>"}]
    _same(layer, from_json(text))  # type: ignore[arg-type]
    with use_empty_registry(), pytest.raises(
            ExportError, match=r"families\[0\].functions\[0\]: the formula uses the function "
                               r"'i0e'.*not installed"):
        from_json(text)


def use_empty_registry() -> Any:
    from aclcore.plugins.registry import use_registry

    return use_registry(Registry(loader=None))


def test_non_finite_tensors_cannot_be_exported() -> None:
    layer = _layer(gauss())
    with torch.no_grad():
        layer.bias.fill_(float("nan"))  # type: ignore[union-attr]
    with pytest.raises(ExportError, match="tensor 'bias' contains NaN"):
        to_json(layer)
