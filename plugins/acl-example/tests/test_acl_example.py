"""Tests of acl-example: the aclcore contract, the maths, and the installed entry point."""

from __future__ import annotations

import importlib.metadata
import math

import acl_example
import pytest
import sympy as sp
import torch

from aclcore.nn.grid import kernel_grid
from aclcore.testing import assert_family_ok, plugin_registry


def test_plugin_loads_cleanly_and_passes_the_contract() -> None:
    with plugin_registry(acl_example) as registry:
        assert set(registry.families()) == {"gaussian_ring"}
        assert set(registry.functions()) == {"i0e"}
        assert_family_ok(registry.get_family("gaussian_ring"))


@pytest.mark.parametrize("t", [0.0, 0.3, -1.7, 4.0, 25.0])
def test_i0e_torch_matches_sympy(t: float) -> None:
    reference = float(acl_example.i0e(sp.Float(t)).evalf(30))
    value = float(torch.special.i0e(torch.tensor(t, dtype=torch.float64)))
    assert value == pytest.approx(reference, rel=1e-12)
    assert acl_example.i0e(0) == 1


def test_i0e_derivative_matches_torch_autograd() -> None:
    t = sp.Symbol("t", real=True)
    derivative = sp.diff(acl_example.i0e(t), t)
    point = torch.tensor(1.3, dtype=torch.float64, requires_grad=True)
    torch.special.i0e(point).backward()
    assert point.grad is not None
    assert float(point.grad) == pytest.approx(float(derivative.subs(t, 1.3).evalf(30)),
                                              rel=1e-10)


def _ring(rho: float, sigma: float, size: int = 15) -> torch.Tensor:
    with plugin_registry(acl_example) as registry:
        from aclcore import compile_family

        compiled = compile_family(registry.get_family("gaussian_ring"))
        coords = kernel_grid((size, size), dtype=torch.float64)
        return compiled(coords, {"rho": torch.tensor(rho, dtype=torch.float64),
                                 "sigma": torch.tensor(sigma, dtype=torch.float64)})


def test_ring_is_a_gaussian_blurred_circle() -> None:
    rho, sigma = 3.0, 0.8
    kernel = _ring(rho, sigma)
    x, y = kernel_grid((15, 15), dtype=torch.float64)
    phi = torch.linspace(0, 2 * math.pi, 2049, dtype=torch.float64)[:-1]
    qx, qy = rho * torch.cos(phi), rho * torch.sin(phi)
    blurred = torch.exp(-((x[..., None] - qx) ** 2 + (y[..., None] - qy) ** 2)
                        / (2 * sigma**2)).mean(-1)
    assert torch.allclose(kernel, blurred, rtol=1e-10, atol=1e-14)


def test_ring_peaks_near_its_radius() -> None:
    kernel = _ring(4.0, 0.6)
    assert float(kernel[7, 11]) > 10 * float(kernel[7, 7])  # 4 px right of the centre
    assert float(kernel[3, 7]) == pytest.approx(float(kernel[7, 11]))  # 4 px up


def test_installed_entry_point_is_found() -> None:
    try:
        importlib.metadata.distribution("acl-example")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("acl-example is not installed (pip install -e plugins/acl-example)")
    names = {ep.name: ep.value for ep in importlib.metadata.entry_points(group="aclcore")}
    assert names.get("example") == "acl_example"
    with plugin_registry(installed=True) as registry:
        assert registry.records()["gaussian_ring"].distribution == "acl-example"
