"""fit_conv and convert: analytic equivalents of convolutions and whole models."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from helpers.families import dog, gabor, gauss, gauss1d, gauss3d
from helpers.fitting import QUICK, synthesize
from torch import nn

from aclcore import ConfigError
from aclcore.export import to_json
from aclcore.fit import FittedConv, convert, fit_conv, fit_kernels, select
from aclcore.nn import AnalyticConv2d, freeze


def _conv_with_analytic_kernels(seed: int = 0) -> nn.Conv2d:
    """A 3 -> 8 conv, kernels 0, 3, 5 a Gabor, 1, 6 a Gaussian, the rest random."""
    torch.manual_seed(seed)
    conv = nn.Conv2d(3, 8, 5, padding=2)
    with torch.no_grad():
        g, _, _ = synthesize(gabor(), 3, 3, (5, 5), share=True, seed=seed)
        b, _, _ = synthesize(gauss(), 2, 3, (5, 5), share=True, seed=seed + 1)
        conv.weight[[0, 3, 5]] = (0.3 * g).float()
        conv.weight[[1, 6]] = (0.3 * b).float()
    return conv


def test_kernels_within_tol_become_analytic_and_the_output_is_kept() -> None:
    conv = _conv_with_analytic_kernels()
    fitted = fit_conv(conv, [gabor(), gauss()], tol=1e-3, share_akps=True, **QUICK)
    layer = fitted.layer
    assert isinstance(layer, AnalyticConv2d)
    assert {b.name: b.count for b in layer.mosaic} == {"gabor": 3, "gauss": 2, "free": 3}
    assert fitted.order.tolist() == [0, 3, 5, 1, 6, 2, 4, 7]
    # same hyper-parameters as the convolution
    assert (layer.kernel_size, layer.padding, layer.stride) == ((5, 5), (2, 2), (1, 1))
    assert layer.share_akps
    x = torch.randn(2, 3, 12, 12)
    assert torch.allclose(fitted(x), conv(x), atol=1e-5)
    assert torch.allclose(fitted.weight, conv.weight, atol=1e-6)
    assert fitted.bias is not None and torch.equal(fitted.bias, conv.bias)


def test_the_output_is_the_convolution_with_the_mosaic_bank() -> None:
    # float64: a fit to noise may pair a nearly vanishing basis with a huge gain, which
    # float32 sampling reproduces only to its rounding times the gain
    conv = _conv_with_analytic_kernels(1).double()
    with torch.no_grad():
        conv.weight.add_(0.05 * torch.randn_like(conv.weight))  # nothing fits exactly now
    result = fit_kernels(conv.weight.detach(), [gabor(), gauss()], **QUICK)
    for tol in (0.0, 0.2, math.inf):
        fitted = fit_conv(conv, [gabor(), gauss()], tol, result=result)
        choice = select(result, tol)
        bank = result.kernels(choice)
        x = torch.randn(1, 3, 9, 9, dtype=torch.float64)
        assert torch.allclose(fitted(x), F.conv2d(x, bank, conv.bias, padding=2), atol=1e-10)
        analytic = sum(c is not None for c in choice)
        assert analytic == {0.0: 0, math.inf: 8}.get(tol, analytic)
    exact = fit_conv(conv, [gabor()], 0.0, result=result)
    assert torch.equal(exact(x), conv(x))  # every kernel free: an exact copy


def test_hyper_parameters_dtype_and_dimensions() -> None:
    conv = nn.Conv2d(4, 6, 3, stride=2, padding=1, dilation=2, groups=2, bias=False,
                     padding_mode="reflect", dtype=torch.float64)
    fitted = fit_conv(conv, [gauss()], tol=math.inf, **QUICK)
    layer = fitted.layer
    assert isinstance(layer, AnalyticConv2d)
    assert (layer.stride, layer.dilation, layer.groups, layer.padding_mode) == (
        (2, 2), (2, 2), 2, "reflect")
    assert layer.bias is None and fitted.bias is None
    assert next(layer.parameters()).dtype == torch.float64
    x = torch.randn(1, 4, 11, 11, dtype=torch.float64)
    assert torch.allclose(fitted(x), F.conv2d(F.pad(x, (1, 1, 1, 1), mode="reflect"),
                                              fitted.weight, None, 2, 0, 2, 2))
    c1 = nn.Conv1d(2, 3, 9)
    with torch.no_grad():
        bank, _, _ = synthesize(gauss1d(), 3, 2, (9,), share=False, seed=4)
        c1.weight.copy_(bank.float())
    f1 = fit_conv(c1, [gauss1d()], 1e-4, **QUICK)
    x1 = torch.randn(2, 2, 20)
    assert torch.allclose(f1(x1), c1(x1), atol=1e-5)
    assert torch.allclose(f1(x1[0]), c1(x1[0]), atol=1e-5)  # unbatched input too
    c3 = nn.Conv3d(1, 2, 5)
    with torch.no_grad():
        bank, _, _ = synthesize(gauss3d(), 2, 1, (5, 5, 5), share=False, seed=5)
        c3.weight.copy_(bank.float())
    f3 = fit_conv(c3, [gauss3d()], 1e-4, **QUICK)
    x3 = torch.randn(1, 1, 7, 7, 7)
    assert torch.allclose(f3(x3), c3(x3), atol=1e-5)


def test_building_draws_no_random_numbers_and_the_result_trains() -> None:
    conv = _conv_with_analytic_kernels(2)
    result = fit_kernels(conv.weight.detach(), [gabor(), dog()], **QUICK)
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    fitted = fit_conv(conv, [gabor(), dog()], 0.5, result=result)
    assert torch.equal(torch.rand(3), expected)
    loss = fitted(torch.randn(1, 3, 8, 8)).square().mean()
    loss.backward()
    layer = fitted.layer
    assert isinstance(layer, AnalyticConv2d)
    assert all(p.grad is not None for p in layer.akp_parameters())


def test_fit_conv_errors() -> None:
    with pytest.raises(ConfigError, match=r"nn.Conv1d, nn.Conv2d or nn.Conv3d"):
        fit_conv(nn.Linear(3, 3), [gauss()])
    with pytest.raises(ConfigError, match="not transposed"):
        fit_conv(nn.ConvTranspose2d(2, 2, 3), [gauss()])
    with pytest.raises(ConfigError, match="lazy"):
        fit_conv(nn.LazyConv2d(2, 3), [gauss()])
    conv = nn.Conv2d(1, 2, 3)
    with pytest.raises(ConfigError, match="dilation from the convolution"):
        fit_conv(conv, [gauss()], dilation=2)
    with pytest.raises(ConfigError, match="tol"):
        fit_conv(conv, [gauss()], -0.1, **QUICK)
    other = fit_kernels(torch.ones(3, 1, 3, 3), [gauss()], **QUICK)
    with pytest.raises(ConfigError, match="shape"):
        fit_conv(conv, [gauss()], result=other)


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(_conv_with_analytic_kernels(3), nn.ReLU(),
                                      nn.Conv2d(8, 4, 3, padding=1))
        self.head = nn.Linear(4 * 6 * 6, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).flatten(1))


def test_convert_a_model() -> None:
    torch.manual_seed(0)
    model = Net()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.randn(16, 3, 6, 6)
    labels = model(x).argmax(1)
    loader = [(x[:8], labels[:8]), (x[8:], labels[8:])]
    conv = convert(model, [gabor(), gauss()], tol=1e-3, layers=["features.0"], inputs=x,
                   loader=loader, share_akps=True, **QUICK)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
    assert isinstance(conv.model.features[0], FittedConv)
    assert isinstance(conv.model.features[2], nn.Conv2d)
    (rec,) = conv.layers
    assert (rec.path, rec.kernels, rec.analytic, rec.families) == (
        "features.0", 8, 5, {"gabor": 3, "gauss": 2})
    # 3 Gabors (4 AKPs + 3 gains), 2 Gaussians (1 + 3), 3 free kernels of 75 weights
    assert rec.params_before == 600 and rec.params_after == 3 * 7 + 2 * 4 + 3 * 75
    assert rec.compression == pytest.approx(600 / 254)
    assert rec.bank_error < 1e-5
    assert conv.output_deviation is not None and conv.output_deviation < 1e-5
    assert conv.max_abs_deviation is not None and conv.max_abs_deviation < 1e-5
    assert conv.accuracy_before == 1.0 and conv.accuracy_after == 1.0
    assert conv.model_params_before - conv.model_params_after == 600 - 254
    assert conv.compression == pytest.approx(rec.compression)
    assert '"features.0.layer"' in to_json(conv.model)  # exports like any analytic model
    again = convert(model, ["unused"], tol=1e-3, layers="features.0",
                    results={"features.0": rec.result})  # no second fit: same model
    assert torch.equal(again.model(x), conv.model(x))
    frozen = freeze(conv.model)
    assert torch.allclose(frozen(x), model(x), atol=1e-4)


def test_convert_every_convolution_by_default_and_errors() -> None:
    model = Net()
    conv = convert(model, [gauss()], tol=math.inf, **QUICK)
    assert [r.path for r in conv.layers] == ["features.0", "features.2"]
    assert conv.output_deviation is None and conv.accuracy_before is None
    with pytest.raises(ConfigError, match=r"no module 'features.9'.*features.0, features.2"):
        convert(model, [gauss()], layers=["features.9"])
    with pytest.raises(ConfigError, match="module 'head'"):
        convert(model, [gauss()], layers="head")
    with pytest.raises(ConfigError, match="twice"):
        convert(model, [gauss()], layers=["features.0", "features.0"])
    with pytest.raises(ConfigError, match=r"no nn\.Conv"):
        convert(nn.Linear(2, 2), [gauss()])
    with pytest.raises(ConfigError, match=r"\(input, label\)"):
        convert(model, [gauss()], layers="features.2", loader=[torch.zeros(1)], **QUICK)
