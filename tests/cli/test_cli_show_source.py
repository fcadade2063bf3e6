"""``acl show SOURCE``: a trained model's mosaic, learned AKPs, formulas and kernel PNGs."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import sympy as sp
import torch
from helpers.families import gabor, gauss, x, y
from helpers.images import assert_shows_positive_kernel, assert_shows_signed_kernels
from torch import nn

from aclcore import AnalyticConv2d, cli
from aclcore.cli.show_source import looks_like_source
from aclcore.export import formulas, to_json
from aclcore.export.checkpoint import RUN_CHECKPOINT, save_checkpoint
from aclcore.symbolic.parse import parse_formula


@pytest.fixture
def model() -> nn.Sequential:
    torch.manual_seed(0)
    net = nn.Sequential(
        AnalyticConv2d(1, 6, 7, padding=3, families={gabor(): 4, "free": 2}), nn.ReLU(),
        AnalyticConv2d(6, 2, 5, families={gauss(normalize="sum"): 2}),
    )
    with torch.no_grad():  # move the AKPs away from their init, as training would
        for p in net[0].akp_parameters():
            p.add_(0.1 * torch.randn(p.shape))
    return net


@pytest.fixture
def run(model: nn.Sequential, tmp_path: Path) -> Path:
    save_checkpoint(model, tmp_path / "run" / RUN_CHECKPOINT, accuracy=0.75, step=40)
    return tmp_path / "run"


def _show(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(["show", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_text_shows_mosaic_akps_and_formulas(
        model: nn.Sequential, run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _show([str(run)], capsys)
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0] == f"{run}: aclcore.checkpoint, 2 analytic layer(s) shown"
    assert lines[1] == "metadata: accuracy=0.75, step=40"
    assert ("layer 0: AnalyticConv2d, 1 -> 6 channels, kernel 7x7, stride (1, 1), dilation "
            "(1, 1), groups 1, discretization sample") in lines
    assert "  mosaic (output channels): gabor 0-3, free 4-5" in lines
    assert "  mosaic (output channels): gauss 0-1" in lines
    assert ("    f(x, y) = exp((-x**2 - y**2)/(2*sigma**2))*cos(psi + 2*pi*(x*cos(theta) + "
            "y*sin(theta))/lambda)") in lines
    # the AKP table holds the learned values, one row per kernel, angles wrapped
    learned = formulas(model)[0].kernels
    header = lines.index("    learned AKPs (4 kernel(s)):") + 1
    assert lines[header].split() == ["kernel", "sigma", "lambda", "theta", "(mod", "2pi)",
                                     "psi", "gain"]
    for kernel, line in zip(learned, lines[header + 1:header + 5], strict=True):
        cells = line.split()
        assert cells[0] == f"[{kernel.out_channel},{kernel.in_channel}]"
        shown = [float(c) for c in cells[1:]]
        expected = [kernel.akps["sigma"], kernel.akps["lambda"], kernel.wrapped["theta"],
                    kernel.akps["psi"], kernel.gain]
        assert shown == pytest.approx(expected, rel=1e-3)
    # the first kernel's formula, rounded to 4 digits, gives its weights to that precision
    formula_line = next(line for line in lines  # layer 0 comes first
                        if line.startswith("    kernel [0,0]: w(x, y) = "))
    formula = sp.sympify(formula_line.split(" = ", 1)[1], locals={"x": x, "y": y})
    value = float(formula.subs({x: -3, y: 3}))
    assert value == pytest.approx(model[0].weight[0, 0, 0, 0].item(), rel=2e-2, abs=2e-3)


def test_json_has_exact_formulas_that_reproduce_the_weights(
        model: nn.Sequential, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = tmp_path / "model.json"
    doc.write_text(to_json(model))
    code, out, _ = _show([str(doc), "--json", "--formulas", "4", "--max-rows", "0"], capsys)
    assert code == 0
    report: dict[str, Any] = json.loads(out)
    assert report["kind"] == "json" and report["metadata"] == {}
    assert [layer["path"] for layer in report["layers"]] == ["0", "2"]
    first = report["layers"][0]
    assert first["mosaic"] == [{"family": "gabor", "start": 0, "count": 4},
                               {"family": "free", "start": 4, "count": 2}]
    (fam,) = first["families"]
    assert fam["kernel_count"] == len(fam["kernels"]) == 4 and fam["angles"] == ["theta"]
    for row in fam["kernels"]:
        exact = parse_formula(row["formula"])
        o, i = row["out_channel"], row["in_channel"]
        value = float(exact.subs({sp.Symbol("x", real=True): 2, sp.Symbol("y", real=True): -1}))
        assert value == pytest.approx(model[0].weight[o, i, 4, 5].item(), rel=1e-5, abs=1e-7)
    second = report["layers"][1]["families"][0]
    assert second["kernel_count"] == 12 and len(second["kernels"]) == 12


def test_layer_selection_and_pngs(run: Path, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _show([str(run), "--layer", "2", "--png", str(tmp_path / "k")], capsys)
    assert code == 0
    assert "layer 0:" not in out and "layer 2: AnalyticConv2d" in out
    assert out.rstrip().endswith(f"wrote {tmp_path / 'k.png'}")
    assert_shows_positive_kernel(tmp_path / "k.png")
    code, out, _ = _show([str(run), "--png", str(tmp_path / "all.png"), "--json"], capsys)
    assert code == 0
    pngs = [layer["png"] for layer in json.loads(out)["layers"]]
    assert pngs == [str(tmp_path / "all_0.png"), str(tmp_path / "all_2.png")]
    assert_shows_signed_kernels(tmp_path / "all_0.png")


def test_long_tables_are_cut_and_say_how_to_see_all(
        run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _show([str(run), "--layer", "2", "--max-rows", "3", "--formulas", "0",
                          "--precision", "3"], capsys)
    assert code == 0
    rows = [line for line in out.splitlines() if re.match(r"^    \[\d,\d\]", line)]
    assert len(rows) == 3
    assert "    ... 9 more kernel(s) (--max-rows 0 shows all)" in out.splitlines()
    assert "w(x, y)" not in out


@pytest.mark.parametrize(("args", "message"), [
    (["--layer", "9"], "--layer '9' is not an analytic layer of {run}; its analytic layers "
                       "are '0', '2'"),
    (["--size", "5"], "--size and --param sample a family; {run} is read as a checkpoint"),
    (["--precision", "0"], "--precision must be from 1 to 17, got 0"),
    (["--max-rows", "-1"], "--max-rows must be 0 or more, got -1"),
])
def test_bad_options_for_a_source(run: Path, capsys: pytest.CaptureFixture[str],
                                  args: list[str], message: str) -> None:
    code, out, err = _show([str(run), *args], capsys)
    assert code == 2 and out == ""
    assert err.startswith(f"acl: error: {message.format(run=run)}") and err.count("\n") == 1


def test_source_options_are_refused_for_a_family_name(
        capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _show(["gabor", "--layer", "0", "--formulas", "2"], capsys)
    assert code == 2
    assert err == ("acl: error: --layer, --formulas: only for a checkpoint or JSON export, and "
                   "'gabor' is read as a family name (for a file of that name, write ./gabor)\n")


def test_missing_sources_and_what_counts_as_one(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    code, _, err = _show([str(tmp_path / "nope.pt")], capsys)
    assert code == 2 and "no such checkpoint file or run directory" in err
    monkeypatch.chdir(tmp_path)
    assert looks_like_source("model.pt") and looks_like_source("runs/x")
    assert not looks_like_source("gabor")
    (tmp_path / "gabor").mkdir()
    assert looks_like_source("gabor")  # an existing path wins
    code, _, err = _show(["gabor"], capsys)
    assert code == 2 and "gabor" in err and "checkpoint" in err
