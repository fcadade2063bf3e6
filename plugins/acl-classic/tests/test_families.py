"""acl-classic: every family passes aclcore's contract, and the maths is what the docs say."""

from __future__ import annotations

import importlib
import importlib.metadata
import math

import acl_classic
import pytest
import sympy as sp
import torch

from aclcore import KernelFamily, compile_family
from aclcore.nn.grid import kernel_grid
from aclcore.testing import assert_family_ok, plugin_registry

FAMILIES = {f.name: f for f in acl_classic.FAMILIES}
x, y, sigma, theta, k = sp.symbols("x y sigma theta k", real=True)
G = sp.exp(-(x**2 + y**2) / (2 * sigma**2))


def d_u(expr: sp.Expr) -> sp.Expr:
    """Directional derivative along theta (counter-clockwise from +x)."""
    return sp.cos(theta) * sp.diff(expr, x) + sp.sin(theta) * sp.diff(expr, y)


def kernel(name: str, size: int | tuple[int, ...], **akps: float) -> torch.Tensor:
    fam = FAMILIES[name]
    shape = (size,) * fam.ndim if isinstance(size, int) else size
    params = {n: torch.tensor(v, dtype=torch.float64) for n, v in akps.items()}
    return compile_family(fam)(kernel_grid(shape, dtype=torch.float64), params)


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_family_passes_the_aclcore_contract(name: str) -> None:
    assert_family_ok(FAMILIES[name], max_examples=25)


def test_plugin_registers_every_family_through_its_hook() -> None:
    with plugin_registry(acl_classic) as registry:
        assert set(registry.families()) == set(FAMILIES)
    assert len(FAMILIES) == len(acl_classic.FAMILIES) == 12


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_family_is_documented(name: str) -> None:
    fam = FAMILIES[name]
    modules = [importlib.import_module(f"acl_classic.{m}")
               for m in ("gaussians", "derivatives", "waves")]
    assert any(f"``{name}``" in (m.__doc__ or "") for m in modules), "maths not documented"
    assert fam.description and all(p.description for p in fam.params)
    assert f"``{name}``" in (acl_classic.__doc__ or "")


def test_derivative_families_are_the_stated_derivatives() -> None:
    assert sp.simplify(FAMILIES["gaussian_d1"].sympy_expr - sigma * d_u(G)) == 0
    assert sp.simplify(FAMILIES["gaussian_d2"].sympy_expr - sigma**2 * d_u(d_u(G))) == 0
    laplacian = sp.diff(G, x, 2) + sp.diff(G, y, 2)
    assert sp.simplify(FAMILIES["log"].sympy_expr + sigma**2 / 2 * laplacian) == 0


def test_dog_has_zero_integral_and_vanishes_as_the_ratio_goes_to_one() -> None:
    big = kernel("dog", 61, sigma=1.5, k=1.6)
    assert abs(float(big.sum())) < 1e-6 * float(big.abs().sum())
    assert float(kernel("dog", 7, sigma=1.5, k=1.0 + 1e-9).abs().max()) < 1e-8
    assert float(big[30, 30]) > 0  # positive centre


def test_orientation_is_counter_clockwise_with_y_up() -> None:
    # gaussian_d1 = sigma * d/du G: negative where u > 0
    right = kernel("gaussian_d1", 5, sigma=1.0, theta=0.0)
    assert float(right[2, 4]) < 0 < float(right[2, 0])  # theta = 0 points to +x (columns)
    up = kernel("gaussian_d1", 5, sigma=1.0, theta=math.pi / 2)
    assert float(up[0, 2]) < 0 < float(up[4, 2])  # theta = pi/2 points up (row 0 is the top)
    wave = kernel("sinusoid", 5, **{"lambda": 4.0, "theta": math.pi / 2, "psi": 0.3})
    assert torch.allclose(wave, wave[:, :1].expand(5, 5))  # varies along y only


def test_gabor_with_zero_phase_is_even_and_rotates_with_theta() -> None:
    akps = {"sigma": 2.0, "gamma": 0.7, "lambda": 5.0, "psi": 0.0}
    even = kernel("gabor", 9, theta=0.3, **akps)
    assert torch.allclose(even, torch.flip(even, (0, 1)))
    turned = kernel("gabor", 9, theta=0.3 + math.pi / 2, **akps)
    assert torch.allclose(turned, torch.rot90(even, 1, dims=(0, 1)), atol=1e-12)


def test_sinc_bandpass_has_unit_gain_in_its_pass_band() -> None:
    taps = kernel("sinc_bandpass", 2001, f1=0.1, band=0.15)
    response = torch.fft.rfft(torch.fft.ifftshift(taps)).real
    freqs = torch.fft.rfftfreq(2001, dtype=torch.float64)
    inside = (freqs > 0.12) & (freqs < 0.23)
    outside = (freqs < 0.08) | (freqs > 0.27)
    assert float((response[inside] - 1).abs().max()) < 0.05
    assert float(response[outside].abs().max()) < 0.05


def test_sinc_bandpass_clips_the_high_cut_off_at_nyquist() -> None:
    clipped = kernel("sinc_bandpass", 9, f1=0.3, band=0.45)
    exact = kernel("sinc_bandpass", 9, f1=0.3, band=0.2)  # f2 = 0.5 in both
    assert torch.allclose(clipped, exact)


@pytest.mark.parametrize(
    ("name", "constraint"),
    [("dog", (1.0, 10.0)), ("sinc_bandpass", (0.0, 0.5)), ("gabor", (2.0, 64.0))],
)
def test_constraints_that_keep_families_meaningful(name: str, constraint: tuple[float, float]
                                                   ) -> None:
    fam: KernelFamily = FAMILIES[name]
    specs = [p.constraint_obj.to_json() for p in fam.params]
    assert list(constraint) in specs


def test_installed_distribution_exposes_the_entry_point() -> None:
    try:
        importlib.metadata.distribution("acl-classic")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("acl-classic is not installed (pip install -e plugins/acl-classic)")
    eps = {ep.name: ep.value for ep in importlib.metadata.entry_points(group="aclcore")}
    assert eps.get("classic") == "acl_classic"
