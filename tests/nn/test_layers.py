"""AnalyticConv1d/2d/3d: mosaic, init, equivalence with nn.ConvNd and the functional API."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
import torch
import torch.nn.functional as F
from helpers.families import dog, gabor, gauss, gauss1d, gauss3d, sinc_r, x, y, z
from torch import nn

from aclcore import ConfigError, NonFiniteKernelError, Param, UnknownFamilyError
from aclcore.nn import AnalyticConv1d, AnalyticConv2d, AnalyticConv3d
from aclcore.nn.functional import analytic_conv, sample_kernels
from aclcore.nn.grid import gauss_legendre
from aclcore.plugins.registry import Registry
from aclcore.symbolic.family import KernelFamily

LAYERS = {1: AnalyticConv1d, 2: AnalyticConv2d, 3: AnalyticConv3d}
CONVS = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}


# -- mosaic -------------------------------------------------------------------------------
def test_blocks_follow_the_mapping_order(registry: Registry) -> None:
    registry.add_family(gabor())
    layer = AnalyticConv2d(3, 10, 3, families={"free": 4, "gabor": 6})
    assert [(b.name, b.start, b.count) for b in layer.mosaic] == [("free", 0, 4),
                                                                  ("gabor", 4, 6)]
    assert layer.free_weight is not None and layer.free_weight.shape == (4, 3, 3, 3)
    assert layer.analytic["gabor"].raw("sigma").shape == (6, 3)
    w = layer.weight
    torch.testing.assert_close(w[:4], layer.free_weight)
    block = layer.analytic["gabor"]
    assert block.gain is not None
    bank = sample_kernels(layer.kernel_families["gabor"], layer.akp_values()["gabor"], 3)
    torch.testing.assert_close(w[4:], bank * block.gain[..., None, None])


def test_fractions_use_largest_remainder_with_ties_to_the_earlier_entry() -> None:
    fams = {gauss(): 1 / 3, dog(): 1 / 3, "free": 1 / 3}
    layer = AnalyticConv2d(2, 10, 3, families=fams)
    assert [b.count for b in layer.mosaic] == [4, 3, 3]  # 3.33 each: the first gets the 1
    layer = AnalyticConv2d(2, 7, 3, families={gauss(): 0.25, dog(): 0.75})
    assert [b.count for b in layer.mosaic] == [2, 5]  # 1.75, 5.25
    layer = AnalyticConv2d(2, 2, 3, families={gauss(): 0.25, dog(): 0.25, "free": 0.5})
    assert [(b.name, b.count) for b in layer.mosaic] == [("gauss", 1), ("free", 1)]
    single = AnalyticConv2d(2, 5, 3, families=gauss())
    assert [(b.name, b.count) for b in single.mosaic] == [("gauss", 5)]


@pytest.mark.parametrize(("families", "match"), [
    ({"free": 3, "gauss": 3}, r"sum to 6, but out_channels is 8"),
    ({"free": 0.5, "gauss": 0.3}, r"sum to 0.8, not 1"),
    ({"free": 4, "gauss": 0.5}, r"mixes counts"),
    ({"free": -1, "gauss": 9}, r"finite number >= 0"),
    ({"free": True, "gauss": 7}, r"channel count"),
    ({}, r"empty"),
    (42, r"families must be"),
])
def test_bad_counts(registry: Registry, families: object, match: str) -> None:
    registry.add_family(gauss())
    with pytest.raises(ConfigError, match=match):
        AnalyticConv2d(2, 8, 3, families=families)  # type: ignore[arg-type]


def test_unknown_family_lists_close_names(registry: Registry) -> None:
    registry.add_family(gabor())
    with pytest.raises(UnknownFamilyError, match=r"'gabr'.*Did you mean 'gabor'"):
        AnalyticConv2d(2, 8, 3, families={"gabr": 8})


def test_family_of_the_wrong_dimension(registry: Registry) -> None:
    registry.add_family(gabor())
    with pytest.raises(ConfigError, match=r"family 'gabor' has 2 coordinate.*1-D layer"):
        AnalyticConv1d(2, 8, 3, families="gabor")
    with pytest.raises(ConfigError, match=r"'gauss1d'.*3-D layer"):
        AnalyticConv3d(2, 8, 3, families=gauss1d())


def test_family_names_may_clash_with_module_attributes() -> None:
    layer = AnalyticConv2d(2, 4, 3, families={gauss("train"): 2, gauss("eval"): 2})
    assert "analytic.train.raw_sigma" in layer.state_dict()
    assert layer.eval() is layer and not layer.training and layer.analytic["eval"].count == 2
    layer(torch.randn(1, 2, 5, 5)).sum().backward()
    assert layer.analytic["train"].raw("sigma").grad is not None


def test_duplicate_family(registry: Registry) -> None:
    registry.add_family(gauss())
    with pytest.raises(ConfigError, match="appears twice"):
        AnalyticConv2d(2, 8, 3, families={"gauss": 4, gauss(): 4})


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"in_channels": 3, "groups": 2}, r"in_channels=3 is not divisible by groups=2"),
    ({"out_channels": 7, "groups": 2}, r"out_channels=7 is not divisible"),
    ({"kernel_size": (3,)}, r"kernel_size must be"),
    ({"kernel_size": 0}, r"kernel_size must be"),
    ({"padding": "full"}, r"padding='full' is unknown"),
    ({"padding": "same", "stride": 2}, r"padding='same' is not supported with stride"),
    ({"padding": -1}, r"padding must be"),
    ({"padding_mode": "mirror"}, r"padding_mode='mirror'"),
    ({"discretization": "area"}, r"discretization='area'"),
    ({"quadrature": 0}, r"quadrature"),
    ({"normalize": "max"}, r"normalize='max'"),
    ({"normalize": {"dog": "sum"}}, r"normalize names 'dog'"),
    ({"share_akps": True, "gain": False}, r"share_akps=True .* needs gain=True"),
    ({"in_channels": 0}, r"in_channels must be a positive int"),
    ({"dtype": torch.int64}, r"dtype=torch.int64 is not a floating-point dtype"),
    # refused before anything is allocated (the OS would otherwise kill the process)
    ({"kernel_size": 10**9}, r"kernel bank of kernel_size=\(1000000000, 1000000000\).* GiB"),
    ({"kernel_size": 10**5}, r"needs at least .* GiB, more than this machine's"),
])
def test_bad_configuration(kwargs: dict[str, object], match: str) -> None:
    args: dict[str, object] = {"in_channels": 4, "out_channels": 8, "kernel_size": 3}
    args.update(kwargs)
    with pytest.raises(ConfigError, match=match):
        AnalyticConv2d(**args, families=gauss())  # type: ignore[arg-type]


def test_non_finite_at_init_names_family_and_values() -> None:
    r = sp.sqrt(x**2 + y**2)
    a = sp.Symbol("a", real=True)
    bad = KernelFamily("log_r", sp.log(r) * a, (x, y), [Param(a, (1.0, 2.0))])
    with pytest.raises(NonFiniteKernelError, match=r"AnalyticConv2d.*'log_r'.*a=1\.\d+.*init"):
        AnalyticConv2d(1, 2, 3, families=bad)
    AnalyticConv2d(1, 2, 4, families=bad)  # no tap at r = 0 on an even grid


# -- initialisation -----------------------------------------------------------------------
def test_free_layer_initialises_exactly_like_nn_conv() -> None:
    torch.manual_seed(3)
    ref = nn.Conv2d(6, 8, (3, 5), groups=2)
    torch.manual_seed(3)
    layer = AnalyticConv2d(6, 8, (3, 5), groups=2, families="free")
    torch.testing.assert_close(layer.weight, ref.weight, atol=0, rtol=0)
    torch.testing.assert_close(layer.bias, ref.bias, atol=0, rtol=0)


@pytest.mark.parametrize("fam", [gabor, gauss, dog, sinc_r])
def test_gains_match_the_norm_of_default_init_kernels(fam: object) -> None:
    torch.manual_seed(0)
    layer = AnalyticConv2d(64, 32, 5, padding=2, families=fam())  # type: ignore[operator]
    norms = torch.linalg.vector_norm(layer.weight, dim=(2, 3))
    torch.testing.assert_close(norms, torch.full_like(norms, math.sqrt(1 / (3 * 64))))
    ref = nn.Conv2d(64, 32, 5, padding=2)
    inp = torch.randn(8, 64, 16, 16)
    with torch.no_grad():
        ratio = layer(inp).std() / ref(inp).std()
    assert 0.8 < float(ratio) < 1.25


def test_gain_falls_back_to_one_for_zero_kernels() -> None:
    flat = gauss(normalize="zero_mean")
    layer = AnalyticConv2d(2, 2, 1, families=flat)  # a 1x1 zero-mean kernel is 0
    gain = layer.analytic["gauss"].gain
    assert gain is not None and (gain == 1).all()
    assert (layer.weight == 0).all()


def test_akps_start_inside_their_init_ranges() -> None:
    layer = AnalyticConv2d(3, 50, 5, families=gabor())
    with torch.no_grad():
        values = layer.akp_values()["gabor"]
    assert values["sigma"].shape == (50, 3)
    assert float(values["sigma"].min()) >= 0.8 and float(values["sigma"].max()) <= 2.5
    assert float(values["lambda"].min()) >= 2.0 and float(values["lambda"].max()) <= 8.0
    assert float(values["sigma"].std()) > 0.1  # drawn per kernel


# -- forward ------------------------------------------------------------------------------
def test_module_equals_functional() -> None:
    torch.manual_seed(0)
    layer = AnalyticConv2d(4, 6, 5, stride=2, padding=1, dilation=2, groups=2,
                           padding_mode="reflect", families=gabor(), normalize="l2")
    block = layer.analytic["gabor"]
    constraints = {p.name: p.constraint_obj for p in block.family.params}
    values = {n: constraints[n].forward(block.raw(n)) for n in block.akp_names}
    inp = torch.randn(2, 4, 17, 15)
    ref = analytic_conv(inp, gabor(), values, 5, gain=block.gain, bias=layer.bias, stride=2,
                        padding=1, dilation=2, groups=2, padding_mode="reflect",
                        normalize="l2")
    torch.testing.assert_close(layer(inp), ref, atol=0, rtol=0)


def test_every_akp_gets_a_gradient() -> None:
    torch.manual_seed(0)
    layer = AnalyticConv2d(3, 12, 5, padding=2,
                           families={gabor(): 4, sinc_r(): 2, dog(): 3, "free": 3})
    inp = torch.randn(2, 3, 9, 9)
    layer(inp).square().sum().backward()
    names = [n for n, _ in layer.named_parameters()]
    assert "analytic.sinc_r.raw_a" in names and "analytic.gabor.gain" in names
    for name, p in layer.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
        assert (p.grad.abs().sum(dim=tuple(range(1, p.dim()))) > 0).all(), name  # every row


def test_weight_is_in_the_graph() -> None:
    layer = AnalyticConv2d(2, 3, 3, families=gauss())
    w = layer.weight
    assert w.requires_grad and w.grad_fn is not None
    w.sum().backward()
    assert layer.analytic["gauss"].raw("sigma").grad is not None


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("padding_mode", ["zeros", "reflect", "replicate", "circular"])
@pytest.mark.parametrize(("kernel", "padding", "stride", "dilation", "groups"), [
    (3, 1, 1, 1, 1), (4, "same", 1, 2, 2), (2, "valid", 2, 1, 1), (3, 2, 2, 2, 2),
])
def test_to_conv_has_identical_outputs(nd: int, padding_mode: str, kernel: int,
                                       padding: object, stride: int, dilation: int,
                                       groups: int) -> None:
    fam = {1: gauss1d(), 2: gabor(), 3: gauss3d()}[nd]
    torch.manual_seed(nd)
    layer = LAYERS[nd](4, 6, kernel, stride, padding, dilation, groups,  # type: ignore[arg-type]
                       padding_mode=padding_mode, families={fam: 4, "free": 2})
    inp = torch.randn(2, 4, *([9] * nd))
    conv = layer.to_conv()
    assert type(conv) is CONVS[nd]
    torch.testing.assert_close(conv(inp), layer(inp), atol=0, rtol=0)
    ref = CONVS[nd](4, 6, kernel, stride, padding, dilation, groups,  # type: ignore[arg-type]
                    padding_mode=padding_mode)
    with torch.no_grad():
        ref.weight.copy_(layer.weight)
        ref.bias.copy_(layer.bias)
    torch.testing.assert_close(layer(inp), ref(inp), atol=0, rtol=0)


def test_to_conv_draws_no_random_numbers_and_keeps_mode_and_dtype() -> None:
    layer = AnalyticConv2d(2, 4, 3, families=gauss(), bias=False, dtype=torch.float64).eval()
    state = torch.get_rng_state()
    conv = layer.to_conv()
    assert torch.equal(state, torch.get_rng_state())
    assert conv.bias is None and conv.weight.dtype == torch.float64 and not conv.training


def test_1d_layer_orientation() -> None:
    layer = AnalyticConv1d(1, 1, 5, families=gauss1d(), bias=False)
    with torch.no_grad():
        layer.analytic["gauss1d"].raw("psi").fill_(1.0)  # centre at x = +1 (one tap right)
    k = layer.weight[0, 0]
    assert int(k.argmax()) == 3
    impulse = torch.zeros(1, 1, 9)
    impulse[0, 0, 4] = 1.0
    out = layer(impulse)[0, 0]
    assert int(out.argmax()) == 1  # cross-correlation: the response moves the other way


def test_3d_layer_matches_sampled_kernels() -> None:
    torch.manual_seed(0)
    layer = AnalyticConv3d(2, 3, (3, 2, 4), families=gauss3d(), padding=1)
    values = layer.akp_values()["gauss3d"]
    gain = layer.analytic["gauss3d"].gain
    assert gain is not None
    ref = sample_kernels(gauss3d(), values, (3, 2, 4)) * gain[..., None, None, None]
    torch.testing.assert_close(layer.weight, ref)
    inp = torch.randn(1, 2, 5, 5, 5)
    torch.testing.assert_close(layer(inp), F.conv3d(inp, ref, layer.bias, padding=1))


def test_share_akps_uses_one_set_per_output_channel() -> None:
    torch.manual_seed(0)
    layer = AnalyticConv2d(5, 4, 3, families=gabor(), share_akps=True)
    block = layer.analytic["gabor"]
    assert block.raw("sigma").shape == (4, 1) and block.gain is not None
    assert block.gain.shape == (4, 5)
    with torch.no_grad():
        block.gain.copy_(torch.rand(4, 5) + 0.5)
    w = layer.weight
    for i in range(1, 5):  # same kernel shape for every input, scaled by the input's gain
        torch.testing.assert_close(w[:, i] / block.gain[:, i, None, None],
                                   w[:, 0] / block.gain[:, 0, None, None])


def test_gain_off_and_normalize_override() -> None:
    layer = AnalyticConv2d(2, 3, 5, families={gauss(): 2, dog(): 1}, gain=False,
                           normalize={"gauss": "sum"})
    assert layer.analytic["gauss"].gain is None
    assert "analytic.gauss.gain" not in layer.state_dict()
    torch.testing.assert_close(layer.weight[:2].sum((-2, -1)), torch.ones(2, 2))
    raw = sample_kernels(dog(), layer.akp_values()["dog"], 5)
    torch.testing.assert_close(layer.weight[2:], raw)


def test_integrate_discretization() -> None:
    layer = AnalyticConv2d(1, 2, 3, families=gauss(), discretization="integrate",
                           quadrature=3, gain=False)
    values = layer.akp_values()["gauss"]
    ref = sample_kernels(gauss(), values, 3, discretization="integrate", quadrature=3)
    torch.testing.assert_close(layer.weight, ref)
    assert not torch.allclose(layer.weight, sample_kernels(gauss(), values, 3))


# -- formulas -----------------------------------------------------------------------------
def _evaluate(expr: sp.Expr, coords: tuple[sp.Symbol, ...], size: tuple[int, ...],
              dilation: tuple[int, ...], nodes: np.ndarray | None = None,
              weights: np.ndarray | None = None) -> np.ndarray:
    """Independent evaluation of a formula on the grid (y up), optionally cell-averaged."""
    fn = sp.lambdify(coords, expr, "numpy")
    axes = [(np.arange(k) - (k - 1) / 2) * d for k, d in zip(size, dilation, strict=True)]
    if len(size) >= 2:
        axes[-2] = axes[-2][::-1]  # rows: y grows upwards
    mesh = np.meshgrid(*axes, indexing="ij")  # torch order: (z,) y, x
    pos = list(reversed(mesh))  # family order: x, y, z
    if nodes is None or weights is None:
        return np.broadcast_to(np.asarray(fn(*pos), dtype=float), mesh[0].shape)
    out = np.zeros(mesh[0].shape)
    for idx in np.ndindex(*(len(nodes),) * len(size)):
        shifted = [p + nodes[i] for p, i in zip(pos, idx, strict=True)]
        out += np.prod([weights[i] for i in idx]) * fn(*shifted)
    return out


@pytest.mark.parametrize(("nd", "options"), [
    (2, {}),
    (2, {"normalize": "zero_mean", "dilation": 2}),
    (2, {"normalize": "l2", "share_akps": True}),
    (2, {"normalize": "sum", "discretization": "integrate"}),
    (1, {"gain": False}),
    (3, {"normalize": "l2"}),
])
def test_formulas_reproduce_the_weight(nd: int, options: dict[str, object]) -> None:
    torch.manual_seed(0)
    fam = {1: gauss1d(), 2: gabor(), 3: gauss3d()}[nd]
    coords = {1: (x,), 2: (x, y), 3: (x, y, z)}[nd]
    size = {1: (5,), 2: (3, 4), 3: (3, 2, 3)}[nd]
    layer = LAYERS[nd](4, 6, size, groups=2, families={"free": 2, fam: 4},
                       **options)  # type: ignore[arg-type]
    formulas = layer.formulas()
    assert len(formulas) == 6 and all(len(row) == 2 for row in formulas)
    assert formulas[0] == [None, None] and formulas[1] == [None, None]
    integrate = options.get("discretization") == "integrate"
    nodes, weights = gauss_legendre(4) if integrate else (None, None)
    w = layer.weight.detach().double().numpy()
    for o in range(2, 6):
        for i in range(2):
            expr = formulas[o][i]
            assert expr is not None and expr.free_symbols <= set(coords)
            ref = _evaluate(expr, coords, size, layer.dilation, nodes, weights)
            np.testing.assert_allclose(ref, w[o, i], atol=1e-6, rtol=0)


def test_analytic_kernels_records() -> None:
    torch.manual_seed(0)
    layer = AnalyticConv2d(2, 3, 3, families={"free": 1, gauss(): 2}, normalize="sum")
    records = layer.analytic_kernels()
    assert [(r.out_channel, r.in_channel) for r in records] == [(1, 0), (1, 1), (2, 0),
                                                                 (2, 1)]
    rec = records[3]
    sigma = layer.akp_values()["gauss"]["sigma"][1, 1].item()
    assert rec.family.name == "gauss" and rec.akps == {"sigma": pytest.approx(sigma)}
    assert rec.normalize == "sum" and rec.discretization == "sample" and rec.offset == 0.0
    total = float(np.exp(-(np.array([2, 1, 2, 1, 0, 1, 2, 1, 2])) / (2 * sigma**2)).sum())
    assert rec.scale == pytest.approx(1 / total, rel=1e-5)
    gain = layer.analytic["gauss"].gain
    assert gain is not None and rec.gain == pytest.approx(gain[1, 1].item())


def test_numpy_integers_are_accepted_like_nn_conv() -> None:
    layer = AnalyticConv2d(np.int64(3), np.int32(4), np.int64(3), padding=np.int64(1),
                           stride=(np.int64(1), 1), groups=np.int64(1), families=gauss())
    reference = nn.Conv2d(np.int64(3), np.int32(4), np.int64(3), padding=np.int64(1))
    assert layer.weight.shape == reference.weight.shape
    assert all(type(v) is int for v in (*layer.kernel_size, *layer.padding, layer.in_channels))


def test_repr_shows_every_non_default_option() -> None:
    layer = AnalyticConv2d(2, 4, 3, families={gauss(): 2, dog(): 2}, gain=False,
                           normalize={"dog": "l2"}, check_finite=False, padding_mode="reflect",
                           padding=1)
    text = repr(layer)
    for part in ("gain=False", "normalize={'gauss': 'none', 'dog': 'l2'}", "check_finite=False",
                 "padding_mode='reflect'", "families={'gauss': 2, 'dog': 2}"):
        assert part in text, part
    assert "normalize" not in repr(AnalyticConv2d(2, 4, 3, families=gauss()))


def test_formulas_reproduce_the_weight_on_a_removable_singularity(registry: object) -> None:
    """The centre tap of sin(a r)/r is the limit; formulas() must say so (no NaN)."""
    import sympy as sp

    from aclcore import AnalyticConv2d, KernelFamily, Param

    x, y, a = sp.symbols("x y a", real=True)
    r = sp.sqrt(x**2 + y**2)
    fam = KernelFamily("airy", (2 * sp.besselj(1, a * r) / (a * r)) ** 2, (x, y),
                       [Param(a, (0.5, 1.5), "positive")])
    layer = AnalyticConv2d(2, 3, 3, families={fam: 3})
    w = layer.weight.detach().double()
    for o, row in enumerate(layer.formulas()):
        for i, f in enumerate(row):
            for rr in range(3):
                for cc in range(3):
                    v = float(sp.N(f.subs({x: cc - 1, y: 1 - rr}), 20))
                    assert abs(v - w[o, i, rr, cc].item()) <= 1e-6
