"""fit_kernels: recovery of known AKPs, ranking, determinism, options and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from helpers.families import gabor, gauss, gauss1d, gauss3d
from helpers.fitting import QUICK, akp_distance, synthesize

from aclcore import ConfigError, UnknownFamilyError, register_family
from aclcore.fit import fit_kernels, shifted
from aclcore.fit.scoring import parameter_count

classic = pytest.importorskip("acl_classic")
CLASSIC = {f.name: f for f in classic.FAMILIES}
#: Kernel sizes at which each classic family is identifiable from its taps.
SIZES = {1: (15,), 2: (9, 9), 3: (5, 5, 5)}
SINC_SIZE = (41,)


def _size(name: str) -> tuple[int, ...]:
    return SINC_SIZE if name == "sinc_bandpass" else SIZES[CLASSIC[name].ndim]


@pytest.mark.parametrize("name", sorted(CLASSIC))
def test_recovers_the_akps_of_every_classic_family(name: str) -> None:
    family = CLASSIC[name]
    bank, akps, gains = synthesize(family, 5, 2, _size(name), share=True, seed=1)
    result = fit_kernels(bank, [family], share_akps=True, **QUICK)
    fit = result.fits[name]
    assert float(fit.errors.max()) < 1e-5, fit.errors
    for akp, dist in akp_distance(name, dict(fit.akps), akps).items():
        assert dist < 1e-3, (akp, dist, fit.akps[akp].flatten(), akps[akp].flatten())
    # the gains are recovered up to the sign a symmetry moves into them
    assert torch.allclose(fit.gains.abs(), gains.abs(), rtol=1e-3)


@pytest.mark.parametrize("name", ["gaussian", "gaussian_d1", "gabor", "dog", "gabor_1d"])
def test_recovers_akps_under_noise(name: str) -> None:
    family = CLASSIC[name]
    bank, akps, _ = synthesize(family, 6, 1, _size(name), share=False, seed=2, noise=0.02)
    result = fit_kernels(bank, [family], **QUICK)
    fit = result.fits[name]
    # the residual is the noise (less what the family's few AKPs absorb of it)
    assert float(fit.errors.max()) < 0.021
    assert float(fit.errors.min()) > 0.015
    tolerance = {"dog": 0.15}.get(name, 0.05)  # the DoG ratio k is weakly determined
    for akp, dist in akp_distance(name, dict(fit.akps), akps).items():
        assert dist < tolerance, (akp, dist)


def test_separate_akps_recover_each_channel() -> None:
    family = CLASSIC["gaussian_d1"]
    bank, akps, _ = synthesize(family, 4, 3, (7, 7), share=False, seed=3)
    result = fit_kernels(bank, [family], share_akps=False, **QUICK)
    fit = result.fits["gaussian_d1"]
    assert fit.akps["sigma"].shape == (4, 3) and fit.gains.shape == (4, 3)
    assert float(fit.errors.max()) < 1e-5
    assert akp_distance("gaussian_d1", dict(fit.akps), akps)["sigma"] < 1e-3
    assert fit.n_params == parameter_count(2, 3, share_akps=False) == 9


def test_fitted_kernels_are_the_layer_sampling_of_the_akps() -> None:
    from aclcore.nn.functional import sample_kernels

    family = CLASSIC["log"]  # normalize="zero_mean": the fit goes through the normalisation
    bank, _, _ = synthesize(family, 3, 2, (7, 7), share=True, seed=4, noise=0.1)
    fit = fit_kernels(bank, [family], share_akps=True, **QUICK).fits["log"]
    resampled = sample_kernels(family, dict(fit.akps), 7) * fit.gains[:, :, None, None]
    assert torch.allclose(resampled, fit.kernels, atol=1e-12)
    err = (bank - fit.kernels).flatten(1).norm(dim=1) / bank.flatten(1).norm(dim=1)
    assert torch.allclose(err, fit.errors)
    # the gains are the least-squares ones for the fitted shape (an independent solve)
    for n in range(3):
        for c in range(2):
            basis = sample_kernels(family, {"sigma": fit.akps["sigma"][n:n + 1]}, 7).reshape(-1, 1)
            ref = torch.linalg.lstsq(basis, bank[n, c].reshape(-1, 1)).solution
            assert math.isclose(float(ref), float(fit.gains[n, c]), rel_tol=1e-9)


def test_ranking_puts_the_generating_family_first() -> None:
    names = ["gaussian", "gaussian_d1", "gaussian_d2", "gabor", "sinusoid", "log"]
    parts, truth = [], []
    for i, name in enumerate(names):
        bank, _, _ = synthesize(CLASSIC[name], 3, 1, (9, 9), share=False, seed=10 + i,
                                noise=0.01)
        parts.append(bank)
        truth += [name] * 3
    result = fit_kernels(torch.cat(parts), [CLASSIC[n] for n in names], **QUICK)
    assert result.best() == truth
    for n, name in enumerate(truth):
        ranking = result.ranking(n)
        assert ranking[0].family == name
        assert [c.score for c in ranking] == sorted(c.score for c in ranking)


def test_exact_fits_tie_and_the_fewest_parameters_win() -> None:
    # an isotropic Gaussian is also an anisotropic one with equal scales: both fit exactly
    bank, _, _ = synthesize(CLASSIC["gaussian"], 4, 1, (9, 9), share=False, seed=5)
    result = fit_kernels(bank, [CLASSIC["anisotropic_gaussian"], CLASSIC["gaussian"]], **QUICK)
    assert float(result.fits["anisotropic_gaussian"].errors.max()) < 1e-4
    assert result.best() == ["gaussian"] * 4


def test_determinism_and_independence_from_other_families() -> None:
    bank, _, _ = synthesize(gabor(), 4, 2, (7, 7), share=True, seed=6, noise=0.2)
    one = fit_kernels(bank, [gabor(), gauss()], share_akps=True, seed=3, **QUICK)
    two = fit_kernels(bank, [gabor(), gauss()], share_akps=True, seed=3, **QUICK)
    alone = fit_kernels(bank, [gabor()], share_akps=True, seed=3, **QUICK)
    for name in ("gabor", "gauss"):
        a, b = one.fits[name], two.fits[name]
        assert torch.equal(a.kernels, b.kernels) and torch.equal(a.errors, b.errors)
        for akp in a.raw:
            assert torch.equal(a.raw[akp], b.raw[akp])
    assert torch.equal(alone.fits["gabor"].kernels, one.fits["gabor"].kernels)
    assert torch.equal(one.order, two.order)


def test_threads_are_restored_and_numpy_targets_accepted() -> None:
    before = torch.get_num_threads()
    bank, _, _ = synthesize(gauss(), 2, 1, (5, 5), share=False, seed=7)
    result = fit_kernels(bank.numpy(), [gauss()], threads=1, **QUICK)
    assert torch.get_num_threads() == before
    assert result.target.dtype == torch.float64
    assert float(result.fits["gauss"].errors.max()) < 1e-6


@pytest.mark.parametrize("method", ["adam", "lbfgs", "adam+lbfgs"])
def test_every_method_fits(method: str) -> None:
    bank, _, _ = synthesize(gauss(), 3, 1, (7, 7), share=False, seed=8)
    result = fit_kernels(bank, [gauss()], method=method, starts=4, adam_steps=200,
                         lbfgs_steps=60)
    assert float(result.fits["gauss"].errors.max()) < 1e-3


def test_one_and_three_dimensional_kernels() -> None:
    bank, _, _ = synthesize(gauss1d(), 3, 2, (9,), share=False, seed=9)
    assert float(fit_kernels(bank, [gauss1d()], **QUICK).fits["gauss1d"].errors.max()) < 1e-5
    bank, _, _ = synthesize(gauss3d(), 2, 1, (5, 5, 5), share=False, seed=9)
    assert float(fit_kernels(bank, [gauss3d()], **QUICK).fits["gauss3d"].errors.max()) < 1e-5


def test_dilation_is_the_layer_grid() -> None:
    from aclcore.nn.functional import sample_kernels

    fam = gauss()
    truth = {"sigma": torch.tensor([[1.7]], dtype=torch.float64)}
    bank = sample_kernels(fam, truth, 5, 2)
    fit = fit_kernels(bank, [fam], dilation=2, **QUICK).fits["gauss"]
    assert math.isclose(float(fit.akps["sigma"]), 1.7, rel_tol=1e-6)
    plain = fit_kernels(bank, [fam], dilation=1, **QUICK).fits["gauss"]
    assert math.isclose(float(plain.akps["sigma"]), 0.85, rel_tol=1e-6)


def test_a_shifted_family_finds_an_off_centre_kernel() -> None:
    from aclcore.nn.functional import sample_kernels

    moved = shifted(gauss(), 3.0)
    truth = {"sigma": torch.tensor([[1.2]]), "x0": torch.tensor([[1.5]]),
             "y0": torch.tensor([[-2.0]])}
    bank = sample_kernels(moved, {k: v.double() for k, v in truth.items()}, 9)
    result = fit_kernels(bank, [gauss(), moved], **QUICK)
    fit = result.fits["gauss_shifted"]
    assert float(fit.errors[0]) < 1e-6
    assert math.isclose(float(fit.akps["x0"]), 1.5, rel_tol=1e-5)
    assert math.isclose(float(fit.akps["y0"]), -2.0, rel_tol=1e-5)
    assert result.best() == ["gauss_shifted"]
    assert float(result.fits["gauss"].errors[0]) > 0.3


def test_zero_kernels_are_fitted_exactly() -> None:
    bank = torch.zeros(2, 1, 5, 5, dtype=torch.float64)
    bank[1, 0, 2, 2] = 1.0
    result = fit_kernels(bank, [gauss()], **QUICK)
    assert float(result.fits["gauss"].errors[0]) == 0.0
    assert float(result.fits["gauss"].gains[0, 0]) == 0.0


def test_registered_names_and_spellings() -> None:
    register_family(gauss())
    bank, _, _ = synthesize(shifted(gauss(), 2.0), 2, 1, (7, 7), share=False, seed=11)
    result = fit_kernels(bank, ["gauss", "shifted(gauss)"], **QUICK)
    assert result.names == ("gauss", "gauss_shifted")
    assert result.best() == ["gauss_shifted"] * 2


# -- bad input ---------------------------------------------------------------------------

def test_target_shape_errors() -> None:
    with pytest.raises(ConfigError, match=r"\(N, C, \*kernel_size\).*target\[:, None\]"):
        fit_kernels(torch.zeros(4, 5), [gauss()])
    with pytest.raises(ConfigError, match=r"\(N, C, \*kernel_size\)"):
        fit_kernels(torch.zeros(1, 1, 2, 2, 2, 2), [gauss()])
    # (4, 5, 5) is a bank of 1-D kernels: a 2-D family is refused as such
    with pytest.raises(ConfigError, match="1 spatial dimension"):
        fit_kernels(torch.zeros(4, 5, 5), [gauss()])
    with pytest.raises(ConfigError, match="tensor or a NumPy array"):
        fit_kernels([[1.0]], [gauss()])
    with pytest.raises(ConfigError, match="empty"):
        fit_kernels(torch.zeros(0, 1, 3, 3), [gauss()])
    with pytest.raises(ConfigError, match="real numbers"):
        fit_kernels(np.zeros((1, 1, 3, 3), dtype=complex), [gauss()])


def test_a_family_of_the_wrong_dimension_is_named() -> None:
    with pytest.raises(ConfigError, match=r"family 'gauss1d' has 1 coordinate.*2 spatial"):
        fit_kernels(torch.zeros(2, 1, 5, 5), [gauss(), gauss1d()])


def test_nan_in_the_target_names_the_kernel() -> None:
    bank = torch.ones(4, 2, 5, 5)
    bank[2, 1, 0, 3] = math.nan
    with pytest.raises(ConfigError, match=r"target kernel 2 has NaN"):
        fit_kernels(bank, [gauss()])
    bank[2, 1, 0, 3] = math.inf
    with pytest.raises(ConfigError, match="kernel 2"):
        fit_kernels(bank, [gauss()])


def test_unknown_family_and_bad_family_lists() -> None:
    bank = torch.ones(1, 1, 5, 5)
    register_family(gauss())
    with pytest.raises(UnknownFamilyError, match="gaus"):
        fit_kernels(bank, ["gaus"])
    with pytest.raises(ConfigError, match="at least one family"):
        fit_kernels(bank, [])
    with pytest.raises(ConfigError, match="'free' is not a family to fit"):
        fit_kernels(bank, ["gauss", "free"])
    with pytest.raises(ConfigError, match="given twice"):
        fit_kernels(bank, ["gauss", gauss()])
    with pytest.raises(ConfigError, match="names or KernelFamily"):
        fit_kernels(bank, [3])
    with pytest.raises(ConfigError, match="spelling"):
        fit_kernels(bank, ["shifted(gauss"])


@pytest.mark.parametrize(("option", "value", "match"), [
    ("method", "sgd", "method='sgd' is unknown"),
    ("starts", 0, "starts must be an int >= 1"),
    ("lr", -1.0, "lr must be"),
    ("discretization", "area", "discretization='area'"),
    ("normalize", "max", "normalize='max' is unknown"),
    ("dilation", 0, "dilation"),
    ("parsimony", -0.1, "parsimony"),
    ("error_floor", 0.0, "error_floor"),
    ("threads", 0, "threads must be"),
])
def test_invalid_options(option: str, value: object, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        fit_kernels(torch.ones(1, 1, 5, 5), [gauss()], **{option: value})
