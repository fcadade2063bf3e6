"""aclcore.functional: sampling against independent references, normalisation, conv."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
import torch
import torch.nn.functional as F
from helpers.families import a, dog, gabor, gauss, gauss1d, gauss3d, ramp, sinc_r, x, y
from torch import nn

from aclcore import ConfigError, KernelFamily, NonFiniteKernelError, Param, compile_family
from aclcore.nn.functional import (
    NORM_EPS,
    analytic_conv,
    conv,
    normalization,
    reversed_padding,
    sample_kernels,
)


def _numpy_grid(size: int, dilation: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Independent grid: columns are x (right), rows are y (up), centred, dilated."""
    offs = (np.arange(size) - (size - 1) / 2) * dilation
    return offs[None, :], offs[::-1][:, None]


def _reference(fam: KernelFamily, values: dict[str, float], size: int, dil: int = 1
               ) -> np.ndarray:
    fn = sp.lambdify((x, y), fam.substitute(values), "numpy")
    gx, gy = _numpy_grid(size, dil)
    return np.broadcast_to(np.asarray(fn(gx, gy), dtype=np.float64), (size, size))


def _params(values: dict[str, float], shape: tuple[int, int] = (1, 1),
            dtype: torch.dtype = torch.float64) -> dict[str, torch.Tensor]:
    return {k: torch.full(shape, v, dtype=dtype) for k, v in values.items()}


GABOR_VALUES = {"sigma": 1.4, "lambda": 3.3, "theta": 0.7, "psi": 0.3}


@pytest.mark.parametrize("size", [3, 4, 5])
@pytest.mark.parametrize("dilation", [1, 2])
def test_sample_matches_sympy(size: int, dilation: int, dtype: torch.dtype) -> None:
    fam = gabor()
    bank = sample_kernels(fam, _params(GABOR_VALUES, (2, 3), dtype), size, dilation)
    assert bank.shape == (2, 3, size, size) and bank.dtype == dtype
    ref = torch.from_numpy(_reference(fam, GABOR_VALUES, size, dilation).copy())
    tol = 1e-12 if dtype == torch.float64 else 1e-6
    for k in bank.reshape(6, size, size):
        torch.testing.assert_close(k.double(), ref, atol=tol, rtol=tol)


def test_params_broadcast_per_kernel() -> None:
    sig = torch.tensor([[0.7, 1.0, 1.5], [2.0, 0.9, 1.1]], dtype=torch.float64)
    bank = sample_kernels(gauss(), {"sigma": sig}, (3, 3))
    for o in range(2):
        for i in range(3):
            ref = _reference(gauss(), {"sigma": float(sig[o, i])}, 3)
            np.testing.assert_allclose(bank[o, i].numpy(), ref, atol=1e-14)
    shared = sample_kernels(gauss(), {"sigma": sig[:, :1]}, (3, 3))
    assert shared.shape == (2, 1, 3, 3)


def test_theta_zero_is_aligned_with_x_and_rotation_is_counter_clockwise() -> None:
    fam = dog()
    k0 = sample_kernels(fam, _params({"sigma": 1.0, "theta": 0.0}), 5)[0, 0]
    k90 = sample_kernels(fam, _params({"sigma": 1.0, "theta": float(np.pi / 2)}), 5)[0, 0]
    # theta = 0: -x * g: odd along columns (x), even along rows, positive on the left
    torch.testing.assert_close(k0, -torch.flip(k0, (1,)))
    torch.testing.assert_close(k0, torch.flip(k0, (0,)))
    assert (k0[:, 0] > 0).all() and (k0[:, -1] < 0).all() and (k0[:, 2] == 0).all()
    # theta = pi/2 is the theta = 0 kernel rotated counter-clockwise as displayed
    torch.testing.assert_close(k90, torch.rot90(k0, 1, (0, 1)), atol=1e-15, rtol=0)
    assert (k90[-1, :] > 0).all()  # -y * g is positive at the bottom (y < 0)
    # an even (cosine) Gabor rotated by 90 degrees is the transposed kernel
    even = {"sigma": 1.2, "lambda": 3.0, "psi": 0.0}
    g0 = sample_kernels(gabor(), _params({**even, "theta": 0.0}), 5)[0, 0]
    g90 = sample_kernels(gabor(), _params({**even, "theta": float(np.pi / 2)}), 5)[0, 0]
    torch.testing.assert_close(g90, g0.T, atol=1e-15, rtol=0)


@pytest.mark.parametrize("size", [2, 4, 6])
def test_even_sizes_are_symmetric_without_centre_tap(size: int) -> None:
    k = sample_kernels(gauss(), _params({"sigma": 1.1}), size)[0, 0]
    torch.testing.assert_close(k, torch.flip(k, (0,)))
    torch.testing.assert_close(k, torch.flip(k, (1,)))
    torch.testing.assert_close(k, k.T)
    # the four central taps sit at (+-1/2, +-1/2)
    c = size // 2
    assert torch.allclose(k[c - 1:c + 1, c - 1:c + 1], torch.tensor(np.exp(-0.25 / 1.21)))


def test_dilation_scales_coordinates() -> None:
    wide = sample_kernels(gauss(), _params({"sigma": 2.0}), 5, dilation=2)
    narrow = sample_kernels(gauss(), _params({"sigma": 1.0}), 5, dilation=1)
    torch.testing.assert_close(wide, narrow)
    aniso = sample_kernels(ramp(), _params({"a": 1.0, "b": 1.0}), (3, 3), dilation=(3, 1))
    assert aniso[0, 0, 0].tolist() == [2.0, 3.0, 4.0]  # x*1 + y*3 with y = 1 on the top row


def test_1d_and_3d() -> None:
    k1 = sample_kernels(gauss1d(), _params({"sigma": 1.0, "psi": 0.5}), 4)[0, 0]
    ref = np.exp(-((np.arange(4) - 1.5 - 0.5) ** 2) / 2)
    np.testing.assert_allclose(k1.numpy(), ref, atol=1e-14)
    k3 = sample_kernels(gauss3d(), _params({"sigma": 1.0, "a": 0.5}), (3, 3, 3))[0, 0]
    zz = np.arange(3)[:, None, None] - 1.0
    yy = 1.0 - np.arange(3)[None, :, None]
    xx = np.arange(3)[None, None, :] - 1.0
    ref3 = (1 + 0.5 * zz) * np.exp(-(xx**2 + yy**2 + zz**2) / 2)
    np.testing.assert_allclose(k3.numpy(), ref3, atol=1e-14)


def test_removable_singularity_at_the_centre_tap() -> None:
    fam = sinc_r()
    a = torch.full((1, 1), 1.3, dtype=torch.float64, requires_grad=True)
    k = sample_kernels(fam, {"a": a}, 3)[0, 0]
    assert torch.isfinite(k).all() and float(k[1, 1].detach()) == pytest.approx(1.3)
    assert float(k[0, 1].detach()) == pytest.approx(np.sin(1.3))
    k.sum().backward()
    assert a.grad is not None and torch.isfinite(a.grad).all()
    # an odd quadrature rule has a node on the centre too: the limit is used there
    cell = sample_kernels(fam, {"a": a}, 3, discretization="integrate", quadrature=3)
    assert torch.isfinite(cell).all() and 0.9 < float(cell[0, 0, 1, 1].detach()) < 1.3


def test_integrate_matches_a_fine_midpoint_rule() -> None:
    fam = gabor()
    bank = sample_kernels(fam, _params(GABOR_VALUES), 3, discretization="integrate",
                          quadrature=6)[0, 0]
    fn = sp.lambdify((x, y), fam.substitute(GABOR_VALUES), "numpy")
    n = 400
    t = (np.arange(n) + 0.5) / n - 0.5  # midpoints of a fine sub-grid of one cell
    gx, gy = _numpy_grid(3)
    ref = np.empty((3, 3))
    for r in range(3):
        for c in range(3):
            ref[r, c] = fn(gx[0, c] + t[None, :], gy[r, 0] + t[:, None]).mean()
    np.testing.assert_allclose(bank.numpy(), ref, atol=2e-6)


def test_integrate_with_one_point_is_sampling_and_ignores_dilation_for_the_cell() -> None:
    p = _params(GABOR_VALUES)
    one = sample_kernels(gabor(), p, 4, 2, discretization="integrate", quadrature=1)
    torch.testing.assert_close(one, sample_kernels(gabor(), p, 4, 2))
    # x^2 integrates to offset^2 + 1/12 for every dilation (the cell is 1 pixel wide)
    sq = KernelFamily("sq", x**2 + a, (x, y), [Param(a, 0.0)], constant_along=("y",))
    k = sample_kernels(sq, _params({"a": 0.0}), 3, 3, discretization="integrate")[0, 0]
    np.testing.assert_allclose(k[0].numpy(), np.array([9, 0, 9]) + 1 / 12, atol=1e-12)


def test_normalizations() -> None:
    p = _params({"sigma": 1.3}, (2, 2))
    total = sample_kernels(gauss(), p, 5, normalize="sum").sum((-2, -1))
    torch.testing.assert_close(total, torch.ones(2, 2, dtype=torch.float64))
    zm = sample_kernels(gauss(), p, 5, normalize="zero_mean")
    assert zm.mean((-2, -1)).abs().max() < 1e-15
    l2 = sample_kernels(gauss(), p, 5, normalize="l2")
    torch.testing.assert_close(torch.linalg.vector_norm(l2, dim=(-2, -1)), torch.ones(2, 2,
                               dtype=torch.float64))
    # the family's own normalisation is the default; an explicit mode overrides it
    own = sample_kernels(gauss(normalize="sum"), p, 5)
    torch.testing.assert_close(own.sum((-2, -1)), torch.ones(2, 2, dtype=torch.float64))
    raw = sample_kernels(gauss(normalize="sum"), p, 5, normalize="none")
    assert float(raw[0, 0, 2, 2]) == 1.0


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.bfloat16, torch.float16])
def test_normalization_of_zero_kernels_stays_finite_in_every_dtype(dtype: torch.dtype) -> None:
    zero = torch.zeros(1, 1, 3, 3, dtype=dtype)  # float16 cannot hold NORM_EPS = 1e-12
    for mode in ("sum", "l2", "zero_mean", "none"):
        scale, offset = normalization(zero, mode, 2)
        out = (zero + offset) * scale
        assert torch.isfinite(scale).all() and (out == 0).all(), mode


def test_normalization_floor_is_norm_eps_where_the_dtype_holds_it() -> None:
    zero = torch.zeros(1, 1, 3, 3)
    scale, _ = normalization(zero, "sum", 2)
    assert float(scale) == pytest.approx(1 / NORM_EPS)
    neg = -torch.full((1, 1, 2, 2), 1e-14, dtype=torch.float64)
    assert float(normalization(neg, "sum", 2)[0]) == pytest.approx(-1 / NORM_EPS)
    with pytest.raises(ConfigError, match="normalize"):
        normalization(zero, "max", 2)


@pytest.mark.parametrize("mode", ["sum", "zero_mean", "l2"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_checked_normalisation_is_bitwise_the_general_rule(mode: str, dtype: torch.dtype
                                                           ) -> None:
    # a checked sampling reads the reduction once and skips the floor where it is inactive;
    # check_finite=False always takes the general rule: the banks and gradients must agree
    # bitwise, also in a bank where some kernels are floored (sum ~ 0) and others are not
    fam = KernelFamily("scaled", a * sp.exp(-(x**2 + y**2) / 2), (x, y), [Param(a, 0.1)])
    size = 5
    values = torch.tensor([[0.3, 0.0], [1.5, -0.7]], dtype=dtype)  # a = 0: sum and norm 0
    for floored in (False, True):
        akps = values if floored else values[:1, :1]
        leaf_fast = akps.clone().requires_grad_()
        leaf_slow = akps.clone().requires_grad_()
        fast = sample_kernels(fam, {"a": leaf_fast}, size, normalize=mode)
        slow = sample_kernels(fam, {"a": leaf_slow}, size, normalize=mode, check_finite=False)
        assert torch.equal(fast, slow), (mode, floored)
        up = torch.randn(fast.shape, dtype=dtype, generator=torch.Generator().manual_seed(1))
        (g_fast,) = torch.autograd.grad(fast, leaf_fast, up)
        (g_slow,) = torch.autograd.grad(slow, leaf_slow, up)
        assert torch.equal(g_fast, g_slow), (mode, floored)


@pytest.mark.parametrize("discretization", ["sample", "integrate"])
@pytest.mark.parametrize("mode", ["none", "sum", "zero_mean", "l2"])
def test_gradcheck(discretization: str, mode: str) -> None:
    fam = gabor()
    gen = torch.Generator().manual_seed(0)
    base = {"sigma": 1.2, "lambda": 3.0, "theta": 0.4, "psi": 0.2}
    params = {
        k: (v + 0.1 * torch.rand(2, 2, generator=gen, dtype=torch.float64)).requires_grad_()
        for k, v in base.items()
    }
    names = list(params)

    def fn(*tensors: torch.Tensor) -> torch.Tensor:
        return sample_kernels(fam, dict(zip(names, tensors, strict=True)), 3,
                              discretization=discretization, quadrature=2, normalize=mode)

    assert torch.autograd.gradcheck(fn, tuple(params.values()))


def test_non_finite_names_family_and_values() -> None:
    fam = KernelFamily("recip", a / x, (x, y), [Param(a, 1.0)], constant_along=("y",))
    with pytest.raises(NonFiniteKernelError, match=r"recip.*a=2"):
        sample_kernels(fam, _params({"a": 2.0}), 3)
    assert torch.isfinite(sample_kernels(fam, _params({"a": 2.0}), 2)).all()


def test_bad_params_raise() -> None:
    with pytest.raises(ConfigError, match="missing"):
        sample_kernels(gabor(), _params({"sigma": 1.0}), 3)
    with pytest.raises(ConfigError, match="2-D tensor"):
        sample_kernels(gauss(), {"sigma": torch.ones(3)}, 3)
    with pytest.raises(ConfigError, match="discretization"):
        sample_kernels(gauss(), _params({"sigma": 1.0}), 3, discretization="area")
    with pytest.raises(ConfigError, match="KernelFamily"):
        sample_kernels("gauss", _params({"sigma": 1.0}), 3)  # type: ignore[arg-type]
    mismatched = {**_params({"theta": 0.0, "psi": 0.0}),
                  "lambda": torch.ones(2, 1, dtype=torch.float64),
                  "sigma": torch.ones(3, 1, dtype=torch.float64)}
    with pytest.raises(ConfigError, match=r"sigma=\(3, 1\), lambda=\(2, 1\).* do not broadcast"):
        sample_kernels(gabor(), mismatched, 3)


@pytest.mark.parametrize("discretization", ["sample", "integrate"])
def test_grids_first_built_in_inference_mode_still_train(discretization: str) -> None:
    # tap grids are reused between calls; one first made under inference_mode must not be an
    # inference tensor, or every later training step would fail to save it for backward
    size = 11 if discretization == "sample" else 13  # sizes no other test samples
    with torch.inference_mode():
        first = sample_kernels(gauss(), _params({"sigma": 1.3}), size,
                               discretization=discretization, device="cpu")
    sigma = _params({"sigma": 1.3})["sigma"].requires_grad_()
    again = sample_kernels(gauss(), {"sigma": sigma}, size, discretization=discretization,
                           device="cpu")
    (grad,) = torch.autograd.grad(again.sum(), sigma)
    assert torch.equal(first, again.detach()) and torch.isfinite(grad).all()


def test_accepts_a_compiled_family_and_families_without_akps() -> None:
    c = compile_family(gauss())
    torch.testing.assert_close(sample_kernels(c, _params({"sigma": 1.0}), 3),
                               sample_kernels(gauss(), _params({"sigma": 1.0}), 3))
    const = KernelFamily("bump", 1 - x**2 - y**2, (x, y), [])
    k = sample_kernels(const, {}, 3, dtype=torch.float64)
    assert k.shape == (1, 1, 3, 3) and k.dtype == torch.float64 and float(k[0, 0, 1, 1]) == 1


@pytest.mark.parametrize("padding_mode", ["zeros", "reflect", "replicate", "circular"])
@pytest.mark.parametrize(("padding", "kernel", "stride", "dilation"), [
    (1, 3, 1, 1), ("same", 4, 1, 2), ("valid", 3, 2, 1), ((2, 1), (3, 2), (2, 1), 1),
])
def test_conv_matches_nn_conv2d(padding_mode: str, padding: object, kernel: object,
                                stride: object, dilation: int) -> None:
    torch.manual_seed(0)
    ref = nn.Conv2d(4, 6, kernel, stride, padding, dilation, groups=2,  # type: ignore[arg-type]
                    padding_mode=padding_mode)
    inp = torch.randn(2, 4, 9, 8)
    out = conv(inp, ref.weight, ref.bias, stride, padding, dilation, 2,  # type: ignore[arg-type]
               padding_mode)
    torch.testing.assert_close(out, ref(inp), atol=0, rtol=0)


def test_reversed_padding_matches_torch() -> None:
    torch.manual_seed(0)
    ref = nn.Conv3d(1, 1, (2, 3, 4), padding="same", dilation=(1, 2, 3), padding_mode="reflect")
    inp = torch.randn(1, 1, 6, 7, 9)
    pads = reversed_padding("same", (2, 3, 4), (1, 2, 3))
    padded = torch.nn.functional.pad(inp, pads, mode="reflect")
    out = torch.nn.functional.conv3d(padded, ref.weight, ref.bias, dilation=(1, 2, 3))
    torch.testing.assert_close(out, ref(inp), atol=0, rtol=0)


def test_analytic_conv_is_conv_with_sampled_kernels() -> None:
    torch.manual_seed(1)
    fam = gabor()
    values = {k: torch.rand(6, 1) + 1.0 for k in ("sigma", "lambda", "theta", "psi")}
    gain = torch.randn(6, 2)
    bias = torch.randn(6)
    inp = torch.randn(2, 4, 10, 10)
    out = analytic_conv(inp, fam, values, 3, gain=gain, bias=bias, padding=1, groups=2,
                        padding_mode="circular")
    bank = sample_kernels(fam, values, 3) * gain[:, :, None, None]
    ref = F.conv2d(F.pad(inp, [1, 1, 1, 1], mode="circular"), bank, bias, groups=2)
    torch.testing.assert_close(out, ref)
    with pytest.raises(ConfigError, match="2-D"):
        analytic_conv(torch.randn(4, 10), fam, values, 3)
