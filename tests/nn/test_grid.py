"""The grid convention (DESIGN section 4): centring, orientation, dilation, quadrature."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from aclcore import ConfigError
from aclcore.nn.grid import axis_offsets, cell_quadrature, gauss_legendre, kernel_grid


@pytest.mark.parametrize(
    ("size", "expected"),
    [(1, [0.0]), (2, [-0.5, 0.5]), (3, [-1.0, 0.0, 1.0]), (4, [-1.5, -0.5, 0.5, 1.5])],
)
def test_axis_offsets_are_centred(size: int, expected: list[float]) -> None:
    offs = axis_offsets(size, dtype=torch.float64)
    assert offs.tolist() == expected
    assert float(offs.sum()) == 0.0  # symmetric about the centre (GaborNet's bug)


def test_dilation_scales_offsets() -> None:
    assert axis_offsets(3, 2, dtype=torch.float64).tolist() == [-2.0, 0.0, 2.0]
    assert axis_offsets(4, 3, dtype=torch.float64).tolist() == [-4.5, -1.5, 1.5, 4.5]


def test_2d_x_right_y_up() -> None:
    gx, gy = kernel_grid((3, 4), dtype=torch.float64)
    assert gx.shape == (1, 4) and gy.shape == (3, 1)
    assert gx[0].tolist() == [-1.5, -0.5, 0.5, 1.5]  # grows with the column
    assert gy[:, 0].tolist() == [1.0, 0.0, -1.0]  # row 0 is the top: y grows upwards


def test_3d_z_grows_with_depth() -> None:
    gx, gy, gz = kernel_grid((2, 3, 3), dilation=(2, 1, 1), dtype=torch.float64)
    assert gz.shape == (2, 1, 1) and gy.shape == (1, 3, 1) and gx.shape == (1, 1, 3)
    assert gz.flatten().tolist() == [-1.0, 1.0]
    assert gy.flatten().tolist() == [1.0, 0.0, -1.0]


def test_1d_uses_x_only() -> None:
    (gx,) = kernel_grid(5, dtype=torch.float64)
    assert gx.tolist() == [-2.0, -1.0, 0.0, 1.0, 2.0]


@pytest.mark.parametrize("bad", [0, -1, (3,), (3, 0), 2.5])
def test_bad_sizes_raise(bad: object) -> None:
    with pytest.raises(ConfigError, match="kernel_size"):
        kernel_grid(bad, ndim=2)  # type: ignore[arg-type]


def test_gauss_legendre_rule() -> None:
    nodes, weights = gauss_legendre(4)
    assert math.isclose(weights.sum(), 1.0)
    assert np.all(np.abs(nodes) < 0.5) and np.all(nodes != 0.0)  # never the cell centre
    # exact for polynomials of degree <= 7 on [-1/2, 1/2]: mean of t^6 is (1/2)^6 / 7
    assert math.isclose(float((weights * nodes**6).sum()), 0.5**6 / 7, rel_tol=1e-12)
    with pytest.raises(ConfigError):
        gauss_legendre(0)


def test_cell_quadrature_layout_and_exactness() -> None:
    (qx, qy), w = cell_quadrature((3, 4), dilation=(1, 2), points=3, dtype=torch.float64)
    assert w.shape == (3, 3) and math.isclose(float(w.sum()), 1.0)
    full = torch.broadcast_shapes(qx.shape, qy.shape)
    assert full == (3, 4, 3, 3)
    # the mean of x over a cell is the tap's x; of x^2 it adds 1/12 (cells are 1 pixel wide,
    # whatever the dilation), and y keeps the upward orientation
    mean_x = (qx.expand(full) * w).sum((-2, -1))
    mean_x2 = (qx.expand(full) ** 2 * w).sum((-2, -1))
    mean_y = (qy.expand(full) * w).sum((-2, -1))
    gx, gy = kernel_grid((3, 4), (1, 2), dtype=torch.float64)
    torch.testing.assert_close(mean_x, gx.expand(3, 4))
    torch.testing.assert_close(mean_x2, gx.expand(3, 4) ** 2 + 1 / 12)
    torch.testing.assert_close(mean_y, gy.expand(3, 4))
    assert gx[0].tolist() == [-3.0, -1.0, 1.0, 3.0]


def test_cell_quadrature_3d_shapes() -> None:
    coords, w = cell_quadrature((2, 3, 3), points=2, dtype=torch.float32)
    assert torch.broadcast_shapes(*(c.shape for c in coords)) == (2, 3, 3, 2, 2, 2)
    assert w.shape == (2, 2, 2) and w.dtype == torch.float32
