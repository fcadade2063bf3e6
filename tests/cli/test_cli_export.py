"""`acl export` on a real small trained model (docs/make_card.py's orientation classifier)."""

from __future__ import annotations

import importlib.util
import json
import runpy
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch
from helpers.images import assert_shows_signed_kernels
from torch import nn

from aclcore import KernelFamily, cli
from aclcore.errors import ExportError
from aclcore.export import from_json, to_markdown
from aclcore.export.checkpoint import RUN_CHECKPOINT, save_checkpoint
from aclcore.plugins.registry import Registry, use_registry

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _make_card() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_card", DOCS / "make_card.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _gabor() -> KernelFamily:
    try:
        from acl_classic.waves import GABOR
    except ImportError:
        from acl_families import gabor

        return gabor()
    return GABOR  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A trained model, its run directory (aclcore checkpoint) and a plain state-dict file."""
    make_card = _make_card()
    registry = Registry(loader=None)
    registry.add_family(_gabor(), "classic", distribution="acl-classic", version="0.1.0")
    with use_registry(registry):
        torch.manual_seed(0)
        model = make_card.build_model()  # {"gabor": 4, "free": 2} by name
        accuracy = make_card.train(model, steps=40)
        root = tmp_path_factory.mktemp("cli")
        run = root / "run"
        save_checkpoint(model, run / RUN_CHECKPOINT, accuracy=accuracy)
        torch.save(model.state_dict(), root / "plain.pt")
    yield {"model": model, "accuracy": accuracy, "run": run, "plain": root / "plain.pt",
           "make_card": make_card}


def _export(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(["export", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_model_learned_its_task(trained: dict[str, Any]) -> None:
    assert trained["accuracy"] >= 0.9


def test_json_to_stdout_and_file_loads_back_to_identical_outputs(
        trained: dict[str, Any], capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    model: nn.Sequential = trained["model"]
    code, out, _ = _export([str(trained["run"]), "--format", "json"], capsys)
    assert code == 0
    layers = from_json(out)  # no registry entry needed: the formulas are embedded
    conv = layers["0"]  # type: ignore[index]
    inp = torch.randn(3, 1, 12, 12)
    assert torch.equal(conv(inp), model[0](inp))
    model2 = trained["make_card"].build_model({_gabor(): 4, "free": 2})
    model2.load_state_dict(model.state_dict())
    assert torch.equal(model2(inp), model(inp))
    code, out, _ = _export([str(trained["run"]), "-o", str(tmp_path / "m.json")], capsys)
    assert code == 0 and out.strip() == f"wrote {tmp_path / 'm.json'}"
    assert json.loads((tmp_path / "m.json").read_text())["layers"][0]["families"][0][
        "provenance"] == {"provider": "classic", "distribution": "acl-classic",
                          "version": "0.1.0"}
    # a JSON export is itself a SOURCE
    code, out, _ = _export([str(tmp_path / "m.json"), "--format", "latex"], capsys)
    assert code == 0 and "\\begin{longtable}" in out


def test_latex_has_the_family_table(trained: dict[str, Any],
                                    capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _export([str(trained["run"] / RUN_CHECKPOINT), "--format", "latex",
                            "--precision", "3"], capsys)
    assert code == 0
    assert out.startswith("\\documentclass{article}") and "\\end{document}" in out
    assert "\\paragraph{gabor} output channels 0--3" in out and "$\\theta$ (mod $2\\pi$)" in out
    rows = [line for line in out.splitlines() if " & gabor & " in line]
    assert len(rows) == 4


def test_markdown_card_needs_a_directory_and_writes_pictures(
        trained: dict[str, Any], capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = _export([str(trained["run"]), "--format", "md"], capsys)
    assert code == 2 and "acl: error: --format md writes card.md" in err
    code, out, _ = _export([str(trained["run"]), "--format", "md", "-o",
                            str(tmp_path / "card"), "--json"], capsys)
    assert code == 0
    report = json.loads(out)
    assert report["layers"] == ["0"] and report["text"] is None
    assert sorted(Path(f).name for f in report["files"]) == ["0_kernels.png", "card.md"]
    card = (tmp_path / "card" / "card.md").read_text()
    assert "### Family `gabor`" in card and "plugin `classic` (acl-classic 0.1.0)" in card
    assert_shows_signed_kernels(tmp_path / "card" / "0_kernels.png")


def test_python_module_reproduces_the_weights(
        trained: dict[str, Any], capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    target = tmp_path / "banks.py"
    code, _, _ = _export([str(trained["run"]), "--format", "py", "-o", str(target)], capsys)
    assert code == 0
    ns = runpy.run_path(str(target))
    assert torch.equal(ns["kernel_bank"]("0"), trained["model"][0].weight)


def test_a_plain_state_dict_needs_the_family_installed(
        trained: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _export([str(trained["plain"]), "--format", "json"], capsys)
    assert code == 2
    assert "family 'gabor', which is not installed" in err and "acl-classic" in err
    registry = Registry(loader=None)
    registry.add_family(_gabor(), "classic", distribution="acl-classic", version="0.1.0")
    with use_registry(registry):
        code, out, _ = _export([str(trained["plain"]), "--json"], capsys)
    assert code == 0
    report = json.loads(out)
    assert report["layers"] == ["0"] and json.loads(report["text"])["format"] == "aclcore.export"


def test_missing_and_hostile_sources_fail_cleanly(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _export([str(tmp_path / "nope.pt")], capsys)
    assert code == 2 and "no such checkpoint file or run directory" in err
    (tmp_path / "bad.json").write_text('{"format": "aclcore.export", "version": 9}')
    code, _, err = _export([str(tmp_path / "bad.json")], capsys)
    assert code == 2 and "unsupported format version 9" in err
    code, _, err = _export([str(tmp_path / "bad.json"), "--precision", "0"], capsys)
    assert code == 2 and "--precision" in err


@pytest.mark.parametrize("fmt", ["json", "latex", "py"])
def test_an_output_directory_is_refused_for_one_file(
        trained: dict[str, Any], capsys: pytest.CaptureFixture[str], tmp_path: Path,
        fmt: str) -> None:
    code, out, err = _export([str(trained["run"]), "--format", fmt, "-o", str(tmp_path)], capsys)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert f"acl: error: -o {tmp_path} is a directory; --format {fmt} writes one file" in err


def test_an_existing_file_where_a_directory_is_needed_is_refused(
        trained: dict[str, Any], capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    blocker = tmp_path / "afile"
    blocker.write_text("keep me")
    message = f"{blocker} exists and is not a directory"
    for args in (["--format", "md", "-o", str(blocker)],
                 ["--format", "md", "-o", str(blocker / "card")],
                 ["-o", str(blocker / "x.json")]):
        code, out, err = _export([str(trained["run"]), *args], capsys)
        assert code == 2 and out == "" and err.count("\n") == 1
        assert err.startswith("acl: error: ") and args[-1] in err and message in err
    with pytest.raises(ExportError, match=f"{blocker}: cannot write the formula card"):
        to_markdown(trained["model"], blocker)
    assert blocker.read_text() == "keep me"


def test_a_json_export_is_recognised_by_its_content(
        trained: dict[str, Any], capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, _ = _export([str(trained["run"]), "-o", str(tmp_path / "m.txt")], capsys)
    assert code == 0
    code, out, err = _export([str(tmp_path / "m.txt"), "--format", "latex"], capsys)
    assert code == 0 and err == "" and "\\begin{longtable}" in out
    (tmp_path / "m.txt").write_text(" {not json")
    code, _, err = _export([str(tmp_path / "m.txt")], capsys)
    assert code == 2 and "unpickle" not in err and "JSON" in err


def test_the_docs_card_script_runs(trained: dict[str, Any], tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    make_card = trained["make_card"]
    registry = Registry(loader=None)
    registry.add_family(_gabor(), "classic", distribution="acl-classic", version="0.1.0")
    monkeypatch.setattr(make_card, "train", lambda model, steps=60, seed=0: 1.0)
    with use_registry(registry):
        card = make_card.main(tmp_path / "card")
    text = card.read_text()
    assert "Formula card: a tiny orientation classifier" in text
    assert "Rows: trained, initial and their difference" in text
    for name in ("0_kernels.png", "0_compare.png"):
        assert_shows_signed_kernels(tmp_path / "card" / name)


def test_the_checked_in_card_is_complete() -> None:
    card = DOCS / "card" / "card.md"
    text = card.read_text()
    assert "### Family `gabor`" in text and "$$" in text
    for name in ("0_kernels.png", "0_compare.png"):
        assert f"]({name})" in text
        assert_shows_signed_kernels(DOCS / "card" / name)
    assert "make_card.py" in (DOCS / "export.md").read_text()

