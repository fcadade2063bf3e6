"""Reference models: plain / analytic / mosaic switches, identical shapes, honest counts."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from aclcore.errors import ConfigError
from aclcore.models import (
    PLAIN,
    ConvSpec,
    LeNet,
    ResNet,
    analytic_preset,
    build_model,
    conv_names,
    count_parameters,
    parse_families,
)
from aclcore.models.spec import families_text, resolve_specs, spec_from_dict
from aclcore.nn import AnalyticConv2d

pytestmark = pytest.mark.real_registry  # the classic families come from acl-classic

# LeNet: conv1 1->32 5x5, conv2 32->64 5x5, fc 3136->128, fc 128->10
LENET_CONV = 32 * 25 + 32 + 64 * 32 * 25 + 64
LENET_FC = 3136 * 128 + 128 + 128 * 10 + 10


def test_lenet_cnn_counts() -> None:
    counts = count_parameters(LeNet())
    assert counts.conv == LENET_CONV == 52_096
    assert counts.total == LENET_CONV + LENET_FC
    assert (counts.akps, counts.gains, counts.kernels, counts.bias) == (0, 0, 52_000, 96)


def test_lenet_switches_keep_the_shape() -> None:
    torch.manual_seed(0)
    x = torch.randn(2, 1, 28, 28)
    plain = LeNet()
    analytic = LeNet(ConvSpec("gabor"))
    mosaic = LeNet({"conv2": ConvSpec({"gabor": 0.5, "free": 0.5})})
    assert type(plain.conv1) is nn.Conv2d and type(plain.conv2) is nn.Conv2d
    assert isinstance(analytic.conv1, AnalyticConv2d) and isinstance(analytic.conv2,
                                                                       AnalyticConv2d)
    assert type(mosaic.conv1) is nn.Conv2d and isinstance(mosaic.conv2, AnalyticConv2d)
    assert [(b.name, b.count) for b in mosaic.conv2.mosaic] == [("gabor", 32), ("free", 32)]
    for model in (plain, analytic, mosaic):
        assert model(x).shape == (2, 10)
        # same non-convolution parameters, name for name
        fc = {k: v.shape for k, v in model.named_parameters() if k.startswith("fc")}
        assert fc == {k: v.shape for k, v in plain.named_parameters() if k.startswith("fc")}


def test_analytic_counts_are_akps_gains_free_and_bias() -> None:
    gabor_akps = 5  # sigma, gamma, lambda, theta, psi
    full = count_parameters(LeNet(ConvSpec("gabor")))
    assert full.akps == gabor_akps * (32 * 1 + 64 * 32)
    assert full.gains == 32 + 64 * 32 and full.kernels == 0 and full.bias == 96
    shared = count_parameters(LeNet({"conv1": ConvSpec("gabor"),
                                     "conv2": ConvSpec("gabor", share_akps=True)}))
    assert shared.conv == 2_656  # the calibration's 19.6x
    preset = count_parameters(build_model("lenet", analytic_preset("lenet"),
                                          image_shape=(1, 28, 28), num_classes=10, seed=0))
    rank, d2_akps = 4, 2  # conv2: 32 Gabor + 32 Gaussian-d2 channels, gains of rank 4 each
    conv2 = gabor_akps * 32 + d2_akps * 32 + 2 * rank * (32 + 32) + 64
    conv1 = (gabor_akps + 1) * 32 + 32
    assert preset.conv == conv1 + conv2 == 1_024
    assert preset.total == preset.conv + LENET_FC
    mosaic = count_parameters(LeNet({"conv2": ConvSpec({"gabor": 48, "free": 16})}))
    assert mosaic.kernels == 32 * 25 + 16 * 32 * 25
    assert mosaic.akps == gabor_akps * 48 * 32 and mosaic.gains == 48 * 32


def test_a_shared_layer_counts_once() -> None:
    conv = nn.Conv2d(3, 3, 3)
    assert count_parameters(nn.Sequential(conv, conv)).conv == 3 * 3 * 9 + 3


def test_resnet_switches_and_counts() -> None:
    names = conv_names("resnet")
    assert names[0] == "stem" and len(names) == 7
    plain = ResNet()
    analytic = ResNet(ConvSpec("gaussian_d2", share_akps=True))
    x = torch.randn(2, 3, 32, 32)
    assert plain(x).shape == analytic(x).shape == (2, 10)
    shortcut = plain.layer2[0].shortcut[0]
    assert type(shortcut) is nn.Conv2d and type(analytic.layer2[0].shortcut[0]) is nn.Conv2d
    p, a = count_parameters(plain), count_parameters(analytic)
    convs3x3 = 3 * 16 * 9 + 16 * 16 * 9 * 2 + (16 * 32 + 32 * 32) * 9 + (32 * 64 + 64 * 64) * 9
    shortcuts = 16 * 32 + 32 * 64
    assert p.conv == convs3x3 + shortcuts and p.bias == 0
    assert a.kernels == shortcuts  # every 3x3 convolution is analytic
    assert p.total - p.conv == a.total - a.conv  # batch norms and classifier alike
    assert isinstance(ResNet({"stem": ConvSpec("gabor")}).stem, AnalyticConv2d)


def test_build_model_is_seeded_and_leaves_the_global_rng_alone() -> None:
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    a = build_model("lenet", ConvSpec("gabor"), image_shape=(1, 8, 8), num_classes=10, seed=3)
    b = build_model("lenet", ConvSpec("gabor"), image_shape=(1, 8, 8), num_classes=10, seed=3)
    assert torch.equal(torch.random.get_rng_state(), before)
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert ka == kb
        assert not torch.is_tensor(va) or torch.equal(va, vb)
    with pytest.raises(ConfigError, match="unknown model 'vgg'"):
        build_model("vgg", PLAIN, image_shape=(1, 8, 8), num_classes=10, seed=0)
    with pytest.raises(ConfigError, match="at least 4x4"):
        build_model("lenet", PLAIN, image_shape=(1, 3, 3), num_classes=10, seed=0)


@pytest.mark.parametrize(("text", "expected"), [
    ("cnn", None), ("plain", None), ("gabor", "gabor"),
    ("gabor:0.75,free:0.25", {"gabor": 0.75, "free": 0.25}),
    ("gabor:24, log:8", {"gabor": 24, "log": 8}),
])
def test_parse_families(text: str, expected: object) -> None:
    assert parse_families(text) == expected
    if expected is not None:
        assert parse_families(families_text(expected)) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(("text", "message"), [
    ("", "an empty families spec"),
    ("gabor:0.5,gabor:0.5", "names 'gabor' twice"),
    ("gabor:24,free:0.5", "mixes channel counts and fractions"),
    ("gabor:x", "'x' is not a count or a fraction"),
    ("gabor:1.5", r"a fraction must be in \(0, 1\]"),
    ("gabor,free", "must be name:share"),
])
def test_parse_families_errors(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_families(text)


def test_specs_resolve_and_round_trip() -> None:
    names = ("conv1", "conv2")
    assert resolve_specs({"conv2": ConvSpec("log")}, names, "M") == {
        "conv1": PLAIN, "conv2": ConvSpec("log")}
    with pytest.raises(ConfigError, match="no convolution named 'conv3'"):
        resolve_specs({"conv3": PLAIN}, names, "M")
    with pytest.raises(ConfigError, match="one ConvSpec per convolution"):
        resolve_specs([PLAIN], names, "M")
    spec = ConvSpec({"gabor": 0.5, "free": 0.5}, share_akps=True, gain_rank=4,
                    options={"normalize": "l2"})
    assert spec_from_dict(spec.describe()) == spec
    assert spec_from_dict(PLAIN.describe()) == PLAIN
