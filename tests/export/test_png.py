"""PNG kernel panels as an export format: ``export.to_png`` and ``acl export --format png``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from helpers.families import gabor, gauss, gauss1d
from helpers.images import (
    assert_shows_line_plots,
    assert_shows_positive_kernel,
    assert_shows_signed_kernels,
)
from torch import nn

from aclcore import AnalyticConv1d, AnalyticConv2d, cli
from aclcore.errors import ExportError
from aclcore.export import from_json, to_json, to_png
from aclcore.export.checkpoint import save_checkpoint


def _model() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        AnalyticConv2d(1, 6, 7, padding=3, families={gabor(): 4, "free": 2}), nn.ReLU(),
        AnalyticConv2d(6, 2, 5, families={gauss(normalize="sum"): 2}),
    )


def test_one_panel_per_layer_named_after_its_path(tmp_path: Path) -> None:
    model = _model()
    files = to_png(model, tmp_path / "pictures")
    assert [f.name for f in files] == ["0_kernels.png", "2_kernels.png"]
    assert sorted(p.name for p in (tmp_path / "pictures").iterdir()) == [
        "0_kernels.png", "2_kernels.png"]
    # Gabor and free kernels take both signs; sum-normalised Gaussians with positive gains
    # are positive everywhere (blue only in the colour bar)
    assert_shows_signed_kernels(files[0])
    assert bool((model[2].weight > 0).all())
    assert_shows_positive_kernel(files[1])


def test_a_layer_on_its_own_and_a_1d_layer(tmp_path: Path) -> None:
    layer = AnalyticConv1d(2, 3, 9, families=gauss1d())
    (path,) = to_png(layer, tmp_path)
    assert path == tmp_path / "layer_kernels.png"
    assert_shows_line_plots(path)


def test_what_from_json_returns_draws_the_same_layers(tmp_path: Path) -> None:
    model = _model()
    files = to_png(from_json(to_json(model)), tmp_path)
    assert [f.name for f in files] == ["0_kernels.png", "2_kernels.png"]
    assert_shows_signed_kernels(files[0])


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    blocker = tmp_path / "afile"
    blocker.write_text("keep")
    with pytest.raises(ExportError, match="exists and is not a directory"):
        to_png(_model(), blocker)
    with pytest.raises(ExportError, match="max_out must be an int >= 1, got 0"):
        to_png(_model(), tmp_path / "x", max_out=0)
    with pytest.raises(ExportError, match="has no analytic layer"):
        to_png(nn.Conv2d(1, 1, 3), tmp_path / "y")
    assert blocker.read_text() == "keep" and not (tmp_path / "y").exists()


def test_acl_export_format_png(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    save_checkpoint(_model(), run / "checkpoint.pt")
    code = cli.main(["export", str(run), "--format", "png", "-o", str(tmp_path / "png"),
                     "--json"])
    out, _ = capsys.readouterr()
    assert code == 0
    report = json.loads(out)
    assert report["format"] == "png" and report["layers"] == ["0", "2"]
    assert report["files"] == [str(tmp_path / "png" / "0_kernels.png"),
                               str(tmp_path / "png" / "2_kernels.png")]
    assert_shows_signed_kernels(Path(report["files"][0]))
    code = cli.main(["export", str(run), "--format", "png"])
    _, err = capsys.readouterr()
    assert code == 2
    assert err == ("acl: error: --format png writes one PNG file per analytic layer: give the "
                   "output directory with -o DIR\n")
