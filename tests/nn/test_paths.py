"""The separable and FFT convolution paths against the direct path, and the cost model."""

from __future__ import annotations

import copy
import itertools
import json
import pickle
from typing import Any

import pytest
import sympy as sp
import torch
from helpers.compiled import assert_compiled_matches_eager
from helpers.families import gabor, gauss, gauss1d, gauss3d

from aclcore import ConfigError, KernelFamily, NonFiniteKernelError, Param
from aclcore.export import to_json
from aclcore.nn import AnalyticConv1d, AnalyticConv2d, AnalyticConv3d, AnalyticConvNd
from aclcore.nn import paths as paths_module
from aclcore.nn.fftconv import fft_block, fft_conv, smooth_size
from aclcore.nn.functional import conv
from aclcore.nn.paths import (
    MIN_SECONDS,
    BlockShape,
    ConvShape,
    Plan,
    choose_plan,
    direct_cost,
    extra_bytes,
)
from aclcore.nn.rows import RowLayout

x, y, z = sp.symbols("x y z", real=True)
sx, sy, sz, c = sp.symbols("sigma_x sigma_y sigma_z c", real=True)
CLS: dict[int, type[AnalyticConvNd]] = {1: AnalyticConv1d, 2: AnalyticConv2d, 3: AnalyticConv3d}


def axis_gauss(normalize: str = "sum") -> KernelFamily:
    """Axis-aligned anisotropic Gaussian (separable)."""
    return KernelFamily("axis_gauss", sp.exp(-x**2 / (2 * sx**2) - y**2 / (2 * sy**2)),
                        (x, y), [Param(sx, (0.8, 2.0), "positive"),
                                 Param(sy, (0.8, 2.0), "positive")], normalize=normalize)


def d_dx(normalize: str = "l2") -> KernelFamily:
    """First derivative along x of a shifted Gaussian (separable, odd in x)."""
    return KernelFamily("d_dx", -(x - c) * sp.exp(-((x - c)**2 + y**2) / (2 * sx**2)) / sx,
                        (x, y), [Param(sx, (0.8, 2.0), "positive"), Param(c, (-0.3, 0.3))],
                        normalize=normalize)


def gauss3(normalize: str = "none") -> KernelFamily:
    """Anisotropic 3-D Gaussian with a ramp along z (separable)."""
    return KernelFamily(
        "gauss3", (1 + c * z) * sp.exp(-x**2 / (2 * sx**2) - y**2 / (2 * sy**2)
                                       - z**2 / (2 * sz**2)), (x, y, z),
        [Param(sx, (0.8, 1.6), "positive"), Param(sy, (0.8, 1.6), "positive"),
         Param(sz, (0.8, 1.6), "positive"), Param(c, (0.1, 0.5))], normalize=normalize)


def _grads(layer: AnalyticConvNd, inp: torch.Tensor, path: str,
           seed: int = 0) -> tuple[torch.Tensor, list[torch.Tensor]]:
    layer.path = path
    out = layer(inp)
    torch.manual_seed(seed)
    weights = torch.randn_like(out)
    params = [inp, *layer.parameters()]
    grads = torch.autograd.grad((out * weights).sum(), params, allow_unused=True)
    return out.detach(), [torch.zeros_like(p) if g is None else g
                          for p, g in zip(params, grads, strict=True)]


def _assert_paths_agree(layer: AnalyticConvNd, inp: torch.Tensor, path: str | Plan) -> None:
    """``path`` (a path option, or a plan run directly) against the direct path."""
    tol: dict[str, float] = ({"rtol": 1e-9, "atol": 1e-10} if inp.dtype == torch.float64
                             else {"rtol": 2e-4, "atol": 2e-4})
    ref, ref_grads = _grads(layer, inp, "direct")
    if isinstance(path, Plan):
        plan = path
        layer.path = "auto"
        original = layer.plan
        layer.plan = lambda _: plan  # type: ignore[method-assign]
        try:
            out, grads = _grads(layer, inp, "auto")
        finally:
            layer.plan = original  # type: ignore[method-assign]
    else:
        out, grads = _grads(layer, inp, path)
        assert layer.plan(inp).describe() != "direct"
    torch.testing.assert_close(out, ref, **tol)
    for got, want in zip(grads, ref_grads, strict=True):
        scale = max(1.0, float(want.abs().max()))
        torch.testing.assert_close(got / scale, want / scale, **tol)


# -- the separable path ---------------------------------------------------------------------
MODES = ["zeros", "reflect", "replicate", "circular"]
# every padding mode meets every kernel, stride and dilation at least once (modes cycle)
SEPARABLE_CASES = [
    (*case, MODES[(i + i // 4) % 4]) for i, case in enumerate(itertools.product(
        [(5, 5), (4, 6), (3, 2)],  # odd, even, mixed kernels
        [1, 2],  # stride
        [1, 2],  # dilation
    ))]


@pytest.mark.parametrize(("kernel", "stride", "dilation", "mode"), SEPARABLE_CASES)
def test_separable_path_matches_direct_2d(kernel: tuple[int, int], stride: int,
                                          dilation: int, mode: str) -> None:
    torch.manual_seed(0)
    layer = AnalyticConv2d(4, 6, kernel, stride=stride, padding=2, dilation=dilation,
                           padding_mode=mode, families={axis_gauss(): 3, d_dx(): 3},
                           dtype=torch.float64)
    inp = torch.randn(2, 4, 11, 10, dtype=torch.float64, requires_grad=True)
    _assert_paths_agree(layer, inp, "separable")


@pytest.mark.parametrize("share", [False, True])
@pytest.mark.parametrize("groups", [1, 2, 4])
@pytest.mark.parametrize("bank", ["direct", "fft"])
@pytest.mark.parametrize("padding", ["same", "valid", 1])
def test_mosaic_mixing_separable_non_separable_and_free_blocks(
        share: bool, groups: int, bank: str, padding: Any) -> None:
    torch.manual_seed(1)
    layer = AnalyticConv2d(
        8, 12, 5, padding=padding, groups=groups, share_akps=share,
        families={"free": 2, axis_gauss(): 3, gabor(): 2, d_dx(): 3, gauss(): 2},
        dtype=torch.float64)
    inp = torch.randn(2, 8, 9, 9, dtype=torch.float64, requires_grad=True)
    with pytest.raises(ConfigError, match="family 'gabor' is not separable"):
        layer.path = "separable"
    # blocks straddling groups, a non-separable family and free kernels between them
    _assert_paths_agree(layer, inp, Plan(("axis_gauss", "d_dx", "gauss"), bank))
    _assert_paths_agree(layer, inp, Plan(("d_dx",), bank))


@pytest.mark.parametrize("option", [
    {"gain": False}, {"gain_rank": 2}, {"gain_rank": 1, "share_akps": True},
    {"discretization": "integrate", "quadrature": 3}, {"normalize": "none"},
    {"normalize": "l2"}, {"bias": False},
])
def test_separable_path_with_layer_options(option: dict[str, Any]) -> None:
    torch.manual_seed(2)
    layer = AnalyticConv2d(3, 4, (5, 4), padding=1, families={axis_gauss(): 2, d_dx(): 2},
                           dtype=torch.float64, **option)
    inp = torch.randn(2, 3, 8, 9, dtype=torch.float64, requires_grad=True)
    _assert_paths_agree(layer, inp, "separable")


def test_separable_path_in_float32_and_unbatched() -> None:
    torch.manual_seed(3)
    layer = AnalyticConv2d(3, 4, 7, padding=3, families={axis_gauss(): 2, "free": 2})
    inp = torch.randn(3, 12, 12, requires_grad=True)
    _assert_paths_agree(layer, inp, "separable")


@pytest.mark.parametrize("share", [False, True])
@pytest.mark.parametrize(("kernel", "stride", "mode"), [
    ((3, 3, 3), 1, "zeros"), ((2, 3, 4), 2, "reflect"), ((3, 2, 3), 1, "circular")])
def test_separable_path_matches_direct_3d(share: bool, kernel: tuple[int, ...], stride: int,
                                          mode: str) -> None:
    torch.manual_seed(4)
    layer = AnalyticConv3d(2, 4, kernel, stride=stride, padding=1, padding_mode=mode,
                           share_akps=share, families={gauss3(): 2, gauss3d(): 1, "free": 1},
                           dtype=torch.float64)
    inp = torch.randn(2, 2, 6, 7, 5, dtype=torch.float64, requires_grad=True)
    _assert_paths_agree(layer, inp, "separable")


def test_separable_path_gives_every_akp_a_gradient() -> None:
    torch.manual_seed(5)
    layer = AnalyticConv2d(2, 2, 5, families=d_dx(), path="separable")
    layer(torch.randn(1, 2, 8, 8)).square().sum().backward()
    for name, p in layer.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


# -- the FFT path ---------------------------------------------------------------------------
FFT_CASES = [
    (nd, k, stride, dilation, MODES[(i + i // 4) % 4], groups)
    for i, (nd, k, stride, dilation, groups) in enumerate(itertools.product(
        [1, 2, 3],  # dimension
        [3, 4],  # odd, even kernels
        [1, 2],  # stride
        [1, 2],  # dilation
        [1, 2],  # groups
    ))]


@pytest.mark.parametrize(("nd", "k", "stride", "dilation", "mode", "groups"), FFT_CASES)
def test_fft_path_matches_direct(nd: int, k: int, stride: int, dilation: int, mode: str,
                                 groups: int) -> None:
    torch.manual_seed(6)
    families: dict[Any, int] = {
        1: {gauss1d(): 2, "free": 2}, 2: {gabor(): 2, axis_gauss(): 1, "free": 1},
        3: {gauss3d(): 2, "free": 2}}[nd]
    layer = CLS[nd](4, 4, k, stride=stride, padding=1, dilation=dilation, padding_mode=mode,
                    groups=groups, families=families, dtype=torch.float64)
    size = (13, 9, 7)[:nd]
    inp = torch.randn(2, 4, *size, dtype=torch.float64, requires_grad=True)
    _assert_paths_agree(layer, inp, "fft")


@pytest.mark.parametrize("padding", ["same", "valid"])
def test_fft_path_in_float32_with_shared_akps(padding: str) -> None:
    torch.manual_seed(7)
    layer = AnalyticConv2d(3, 6, (6, 5), padding=padding, share_akps=True, gain_rank=2,
                           families={gabor(): 3, gauss(): 3})
    inp = torch.randn(2, 3, 16, 15, requires_grad=True)
    _assert_paths_agree(layer, inp, "fft")


@pytest.mark.parametrize("blocks", [(4,), (7,), (16,), (64,)])
def test_overlap_save_blocks_of_any_size_agree(blocks: tuple[int]) -> None:
    torch.manual_seed(8)
    inp = torch.randn(2, 3, 40, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(4, 3, 4, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(4, dtype=torch.float64, requires_grad=True)
    ref = conv(inp, weight, bias, 1, 3)
    out = fft_conv(inp, weight, bias, 1, 3, blocks=blocks)
    torch.testing.assert_close(out, ref)
    small = (inp[:1, :2, :13].detach().requires_grad_(),
             weight[:3, :2].detach().requires_grad_(), bias[:3].detach().requires_grad_())
    assert torch.autograd.gradcheck(
        lambda i, w, b: fft_conv(i, w, b, 1, 3, blocks=blocks), small)


@pytest.mark.parametrize(("needs", "chunk_bytes"), [
    ((False, False, True), 1 << 25), ((False, True, True), 1 << 25),
    ((True, False, True), 64), ((False, True, True), 64)])
def test_fft_bias_gradient_alone_or_from_the_spectra_of_chunks(
        needs: tuple[bool, bool, bool], chunk_bytes: int,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # the bias gradient is read off the gradient's block spectra where they are computed
    # (one chunk, or several: CHUNK_BYTES of 64 gives one output channel per chunk), and
    # summed directly where no other gradient needs them
    monkeypatch.setattr("aclcore.nn.fftconv.CHUNK_BYTES", chunk_bytes)
    torch.manual_seed(11)
    inp, weight, bias = (torch.randn(2, 4, 23, 9, dtype=torch.float64),
                         torch.randn(6, 2, 3, 4, dtype=torch.float64),
                         torch.randn(6, dtype=torch.float64))
    for t, need in zip((inp, weight, bias), needs, strict=True):
        t.requires_grad_(need)
    upstream = torch.randn(2, 6, 23, 8, dtype=torch.float64)
    leaves = [t for t in (inp, weight, bias) if t.requires_grad]
    ref = torch.autograd.grad(conv(inp, weight, bias, 1, (1, 1), 1, 2), leaves, upstream)
    got = torch.autograd.grad(fft_conv(inp, weight, bias, 1, (1, 1), 1, 2, blocks=(8, 8)),
                              leaves, upstream)
    for g, r in zip(got, ref, strict=True):
        torch.testing.assert_close(g, r)


@pytest.mark.parametrize("path", ["fft", "separable"])
def test_special_paths_take_an_empty_batch_like_the_direct_one(path: str) -> None:
    torch.manual_seed(12)
    layer = AnalyticConv2d(3, 4, 5, padding=1, families=axis_gauss(), path=path)
    inp = torch.randn(0, 3, 9, 8, requires_grad=True)
    out = layer(inp)
    assert out.shape == (0, 4, 7, 6)
    out.sum().backward()  # gradients exist and are zero, as nn.Conv2d gives them
    for name, p in layer.named_parameters():
        assert p.grad is not None and not p.grad.any(), name


@pytest.mark.parametrize("path", ["auto", "fft", "separable"])
def test_an_input_shorter_than_the_kernel_fails_as_in_nn_conv(path: str) -> None:
    layer = AnalyticConv2d(3, 4, 5, padding=1, dilation=(1, 2), families=axis_gauss(),
                           path=path)
    assert layer(torch.randn(1, 3, 3, 8)).shape == (1, 4, 1, 2)  # padded 5 x 10: fits
    short = torch.randn(1, 3, 2, 8)  # padded 4 x 10 against the dilated 5 x 9
    with pytest.raises(RuntimeError, match="Kernel size can't be greater") as ours:
        layer(short)
    with pytest.raises(RuntimeError) as theirs:
        layer.to_conv()(short)
    assert str(ours.value) == str(theirs.value)
    # the special paths called directly say it in aclcore's words
    weight = torch.randn(4, 3, 5, 5)
    with pytest.raises(ConfigError, match=r"spatial size \(4, 10\) \(after padding\) is "
                                          r"smaller than the dilated kernel extent \(5, 9\): "
                                          r"pad the input more"):
        fft_conv(short, weight, None, 1, 1, (1, 2))


@pytest.mark.parametrize(("nd", "kernel", "dilation", "groups"), [
    (1, (4,), 1, 1), (2, (3, 2), 2, 2), (3, (2, 2, 3), 1, 1)])
def test_fft_conv_second_derivatives(nd: int, kernel: tuple[int, ...], dilation: int,
                                     groups: int) -> None:
    # a backward pass that records a graph (gradient penalties, Hessian-vector products)
    # gets gradients connected to the input, the weight and the bias
    torch.manual_seed(13)
    # few elements: gradgradcheck's cost grows with the square of their number
    size = (7, 6, 5)[:nd] if nd < 3 else (4, 3, 4)
    inp = torch.randn(1, 2, *size, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(2, 2 // groups, *kernel, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradgradcheck(
        lambda i, w, b: fft_conv(i, w, b, 1, 1, dilation, groups, blocks=(8,) * nd),
        (inp, weight, bias))


def test_gradient_penalty_through_the_fft_path_matches_direct() -> None:
    torch.manual_seed(14)
    layers = [AnalyticConv1d(2, 3, 9, padding=4, families=gauss1d(), path=path,
                             dtype=torch.float64) for path in ("fft", "direct")]
    layers[1].load_state_dict(layers[0].state_dict())
    inp = torch.randn(2, 2, 40, dtype=torch.float64, requires_grad=True)
    for layer in layers:
        (g,) = torch.autograd.grad(layer(inp).square().sum(), inp, create_graph=True)
        g.square().sum().backward()
    for (name, p), q in zip(layers[0].named_parameters(), layers[1].parameters(), strict=True):
        assert p.grad is not None and q.grad is not None
        torch.testing.assert_close(p.grad, q.grad, msg=name)


def test_fft_path_takes_an_unbatched_input() -> None:
    torch.manual_seed(15)
    layer = AnalyticConv1d(2, 3, 9, padding=4, families=gauss1d(), path="fft",
                           dtype=torch.float64)
    inp = torch.randn(2, 40, dtype=torch.float64)
    torch.testing.assert_close(layer(inp), layer(inp[None])[0])
    torch.testing.assert_close(layer(inp), layer.to_conv()(inp))


def test_fft_block_sizes() -> None:
    assert [smooth_size(n) for n in (1, 5, 7, 94, 100, 16250)] == [1, 6, 8, 96, 128, 16384]
    assert fft_block(94, 31) == 96  # one block: the whole padded image
    assert fft_block(16250, 251, 160, 80, 80) in (1024, 1536, 2048, 3072, 4096)
    with pytest.raises(ConfigError, match="at least the dilated kernel"):
        fft_conv(torch.randn(1, 1, 20), torch.randn(1, 1, 5), blocks=(4,))


# -- mosaics, eval, copies, export ----------------------------------------------------------
def test_mixed_plan_in_eval_uses_the_cached_bank() -> None:
    torch.manual_seed(9)
    layer = AnalyticConv2d(4, 8, 5, padding=2, families={axis_gauss(): 4, gabor(): 2,
                                                         "free": 2}).eval()
    inp = torch.randn(2, 4, 10, 10)
    with torch.no_grad():
        ref = layer(inp)
        for plan in (Plan(("axis_gauss",), "direct"), Plan(("axis_gauss",), "fft"),
                     Plan((), "fft")):
            for _ in range(2):
                hits = layer._cache.hits
                torch.testing.assert_close(layer._forward_plan(inp, plan), ref, rtol=1e-4,
                                           atol=1e-5)
                assert layer._cache.hits == hits + 1  # the rows came from the cached bank


def test_path_is_not_recorded_but_shown() -> None:
    torch.manual_seed(10)
    a = AnalyticConv2d(2, 2, 3, families=axis_gauss(), path="separable")
    b = copy.deepcopy(a)
    b.path = "direct"
    assert "path='separable'" in repr(a) and "path=" not in repr(copy.deepcopy(a).__class__)
    assert "path=" not in repr(AnalyticConv2d(2, 2, 3, families=axis_gauss()))
    assert a.get_extra_state() == b.get_extra_state()
    assert json.loads(to_json(a)) == json.loads(to_json(b))
    assert a.config.options() == b.config.options()


def test_copies_and_pickles_keep_the_path_and_find_the_factors_again() -> None:
    torch.manual_seed(11)
    layer = AnalyticConv2d(2, 3, 5, padding=2, families=axis_gauss(), path="separable")
    inp = torch.randn(1, 2, 8, 8)
    expected = layer(inp)
    for clone in (copy.deepcopy(layer), pickle.loads(pickle.dumps(layer))):
        assert clone.path == "separable"
        torch.testing.assert_close(clone(inp), expected)


def test_to_conv_still_gives_the_plain_layer() -> None:
    torch.manual_seed(12)
    layer = AnalyticConv2d(3, 4, 5, padding=2, families={axis_gauss(): 2, "free": 2},
                           path="separable")
    inp = torch.randn(2, 3, 9, 9)
    plain = layer.to_conv()
    assert type(plain) is torch.nn.Conv2d
    torch.testing.assert_close(plain(inp), layer(inp), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(plain.weight, layer.weight)


def test_non_finite_factor_is_reported() -> None:
    fam = KernelFamily("pole_x", sp.exp(-y**2) / (x - c), (x, y), [Param(c, 0.25)])
    layer = AnalyticConv2d(1, 1, 3, families=fam, path="separable")
    with torch.no_grad():
        layer.analytic["pole_x"].raw("c").fill_(0.0)
    with pytest.raises(NonFiniteKernelError, match="1-D factor along 'x'"):
        layer(torch.randn(1, 1, 5, 5))


# -- options and errors ---------------------------------------------------------------------
def test_unknown_path_is_a_config_error_naming_the_option() -> None:
    with pytest.raises(ConfigError, match="path='winograd' is unknown"):
        AnalyticConv2d(2, 2, 3, families=axis_gauss(), path="winograd")
    layer = AnalyticConv2d(2, 2, 3, families=axis_gauss())
    with pytest.raises(ConfigError, match="path=3"):
        layer.path = 3  # type: ignore[assignment]
    assert layer.path == "auto"


def test_separable_on_a_non_separable_family_names_it() -> None:
    with pytest.raises(ConfigError, match="family 'gabor' is not separable"):
        AnalyticConv2d(2, 2, 3, families={gabor(): 1, axis_gauss(): 1}, path="separable")
    with pytest.raises(ConfigError, match="family 'axis_gauss' has normalize='zero_mean'"):
        AnalyticConv2d(2, 2, 3, families=axis_gauss("zero_mean"), path="separable")
    with pytest.raises(ConfigError, match="a 1-D layer"):
        AnalyticConv1d(2, 2, 3, families=gauss1d(), path="separable")
    with pytest.raises(ConfigError, match="no analytic family"):
        AnalyticConv2d(2, 2, 3, families="free", path="separable")


# -- the cost model -------------------------------------------------------------------------
def _shape(batch: int, cin: int, cout: int, k: tuple[int, ...], size: tuple[int, ...],
           groups: int = 1, stride: int = 1) -> ConvShape:
    nd = len(k)
    return ConvShape(batch, cin, cout, groups, k, (stride,) * nd, (1,) * nd,
                     tuple(s + kk - 1 for s, kk in zip(size, k, strict=True)))


def test_cost_model_on_the_target_shapes() -> None:
    sincnet = _shape(1, 1, 80, (251,), (16000,))
    plan = choose_plan("auto", sincnet, [BlockShape("sinc", 0, 80, False, False)])
    assert plan.bank == "fft" and plan.fft_blocks is not None
    scale_space = _shape(8, 16, 16, (31, 31), (64, 64))
    per_kernel = choose_plan("auto", scale_space, [BlockShape("g", 0, 16, True, False)])
    assert not per_kernel.is_direct
    shared = choose_plan("auto", scale_space, [BlockShape("g", 0, 16, True, True)])
    assert shared == Plan(("g",), None)
    assert shared.estimates["separable[g]"] < 0.2 * shared.estimates["direct"]


def test_cost_model_keeps_small_and_half_precision_layers_direct() -> None:
    small = _shape(8, 16, 16, (3, 3), (16, 16))
    assert direct_cost(small, 16) < MIN_SECONDS
    assert choose_plan("auto", small, [BlockShape("g", 0, 16, True, True)]).is_direct
    big = _shape(8, 16, 16, (31, 31), (64, 64))
    assert choose_plan("auto", big, [BlockShape("g", 0, 16, True, True)], half=True).is_direct
    not_separable = choose_plan("auto", _shape(8, 64, 64, (3, 3), (32, 32)),
                                [BlockShape("gabor", 0, 64, False, False)])
    assert not_separable.is_direct  # 3x3: FFT does not pay


def test_cost_model_counts_the_extra_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    big = _shape(64, 64, 64, (31, 31), (224, 224))
    blocks = [BlockShape("g", 0, 64, True, False)]
    pairs = extra_bytes(Plan(("g",), None), big, blocks)
    assert pairs > 50 * 2**30  # 64 x 64 planes of 224 x 254 floats per image
    chosen = choose_plan("auto", big, blocks)
    assert chosen.bank == "fft" and 0 < chosen.extra_bytes < 4 * 2**30
    # a cheaper plan is refused when its intermediates exceed the allowance
    monkeypatch.setattr(paths_module, "extra_bytes", lambda *args: 2**50)
    assert choose_plan("auto", big, blocks).is_direct


def test_forced_paths_ignore_the_estimates() -> None:
    shape = _shape(1, 2, 4, (3, 3), (8, 8))
    blocks = [BlockShape("g", 0, 2, True, False), BlockShape("free", 2, 2, False, False)]
    assert choose_plan("direct", shape, blocks).is_direct
    assert choose_plan("fft", shape, blocks).bank == "fft"
    assert choose_plan("separable", shape, blocks) == Plan(("g",), "direct")


def test_the_layer_follows_the_cost_model() -> None:
    torch.manual_seed(13)
    layer = AnalyticConv2d(16, 16, 31, padding=15, families=axis_gauss(), share_akps=True)
    inp = torch.zeros(2, 16, 64, 64)
    assert layer.plan(inp).separable == ("axis_gauss",)
    assert layer.plan(inp.to(torch.bfloat16)).is_direct
    assert layer.plan(torch.zeros(1, 16, 8, 8)).is_direct  # too small to pay


def test_row_layout_of_a_block_across_groups() -> None:
    layout = RowLayout.build(range(2, 7), out_per_group=4, in_per_group=3)
    # group 0 holds rows 2, 3 and group 1 rows 4, 5, 6: three slots per group
    assert layout.groups == (0, 1) and layout.per_group == 3
    assert layout.slots == (0, 1, 3, 4, 5) and not layout.dense
    spread = layout.spread(torch.arange(5.0))
    assert spread.tolist() == [0.0, 1.0, 0.0, 2.0, 3.0, 4.0]
    assert layout.gather(spread[None]).tolist() == [[0.0, 1.0, 2.0, 3.0, 4.0]]
    inp = torch.arange(12.0).reshape(1, 12)
    assert layout.inputs(inp).tolist() == [list(range(6))]


# -- torch.compile --------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["separable", "fft"])
def test_torch_compile_on_the_new_paths(path: str) -> None:
    torch.manual_seed(14)
    layer = AnalyticConv2d(3, 4, 5, padding=2, families={axis_gauss(): 2, "free": 2},
                           path=path)
    inp = torch.randn(2, 3, 9, 9)
    assert_compiled_matches_eager(layer, inp)


def test_torch_func_transforms_take_the_direct_path() -> None:
    torch.manual_seed(15)
    layer = AnalyticConv1d(1, 4, 9, padding=4, families=gauss1d(), path="fft",
                           check_finite=False)
    inp = torch.randn(3, 1, 1, 20)
    params = dict(layer.named_parameters())
    out = torch.func.vmap(lambda xi: torch.func.functional_call(layer, params, (xi,)))(inp)
    torch.testing.assert_close(out, torch.stack([layer(xi) for xi in inp]))
