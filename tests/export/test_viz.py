"""Kernel pictures: PNG grids for 1-D, 2-D and 3-D kernels, and text previews."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from helpers.images import assert_shows_line_plots, assert_shows_signed_kernels

from aclcore.errors import AclError, ConfigError
from aclcore.export.viz import save_kernel_grid, text_preview
from aclcore.nn.grid import kernel_grid


@pytest.mark.parametrize(
    ("shape", "ndim"),
    [((3, 9), None), ((5, 7, 7), None), ((2, 3, 5, 5), None), ((2, 1, 3, 5, 5), None),
     ((4, 3, 5, 5), 3), ((2, 2, 9), 1)],
    ids=["1d", "2d", "2d-grid", "3d-grid", "3d", "1d-grid"],
)
def test_save_kernel_grid_writes_pngs(tmp_path: Path, shape: tuple[int, ...],
                                      ndim: int | None) -> None:
    torch.manual_seed(0)
    path = save_kernel_grid(torch.randn(shape), tmp_path / "k.png", ndim=ndim, title="t")
    if (ndim or len(shape) - 1) == 1:
        assert_shows_line_plots(path)
    else:
        assert_shows_signed_kernels(path)


def test_titles_must_match_the_kernels(tmp_path: Path) -> None:
    save_kernel_grid(torch.randn(2, 3, 3), tmp_path / "ok.png", ["a", "b"])
    with pytest.raises(ConfigError, match="2 titles for 3 kernels"):
        save_kernel_grid(torch.randn(3, 3, 3), tmp_path / "bad.png", ["a", "b"])


def test_unsupported_shapes_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="pass ndim="):
        save_kernel_grid(torch.randn(5), tmp_path / "bad.png")
    with pytest.raises(ConfigError, match="must be a tensor"):
        save_kernel_grid([[1.0]], tmp_path / "bad.png")  # type: ignore[arg-type]


def test_the_path_written_is_returned_and_bad_paths_are_refused(tmp_path: Path) -> None:
    kernels = torch.tensor([[[1.0, -1.0, 0.5]] * 3, [[-0.5, 1.0, -1.0]] * 3])
    assert save_kernel_grid(kernels, tmp_path / "plain") == tmp_path / "plain.png"
    assert_shows_signed_kernels(tmp_path / "plain.png")
    assert save_kernel_grid(kernels, tmp_path / "k.svg").read_text().find("<svg") >= 0
    with pytest.raises(ConfigError, match=r"is a directory: give the picture's file name"):
        save_kernel_grid(kernels, tmp_path)
    with pytest.raises(ConfigError, match=r"k.txt: matplotlib cannot write '.txt' files"):
        save_kernel_grid(kernels, tmp_path / "k.txt")
    with pytest.raises(AclError, match=r"cannot write the kernel picture .*nodir/k.png"):
        save_kernel_grid(kernels, tmp_path / "nodir" / "k.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k.svg", "plain.png"]


def test_text_preview_follows_the_grid_convention() -> None:
    x, y = kernel_grid((3, 3), dtype=torch.float64)
    kernel = (y + 0 * x)  # positive at the top (y up), negative at the bottom
    lines = text_preview(kernel).splitlines()
    assert lines[0] == "@@@@@@" and lines[1] == "      " and lines[2] == "######"
    assert lines[4].split() == ["+1.0000"] * 3
    assert text_preview(torch.tensor([0.0, 0.5, -1.0]), numbers=False) == "  ++##"


def test_text_preview_shows_the_central_slice_of_3d_kernels() -> None:
    kernel = torch.zeros(3, 3, 3)
    kernel[1, 1, 1] = 1.0
    kernel[0] = -5.0  # not the central slice
    assert text_preview(kernel, numbers=False).splitlines()[1] == "  @@  "
    with pytest.raises(ConfigError):
        text_preview(torch.zeros(2, 2, 2, 2))
