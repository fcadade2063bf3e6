"""``acl train``: options, the run directory with every artefact, resume, errors (exit 2)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from aclcore.cli import main
from aclcore.cli.train import layer_specs
from aclcore.errors import ConfigError
from aclcore.export.checkpoint import load_checkpoint
from aclcore.models import PLAIN, ConvSpec, analytic_preset

pytestmark = pytest.mark.real_registry


@pytest.fixture(autouse=True)
def _keep_threads() -> Iterator[None]:
    """acl train sets torch's thread count (--threads auto): restore it for later tests."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


# conv1 analytic, conv2 plain: a quick model whose formula card stays small
QUICK = ["--data", "digits", "--subset", "128", "--batch-size", "32", "--families",
         "conv2=cnn", "--no-progress"]


def test_layer_specs_start_from_the_preset() -> None:
    assert layer_specs("lenet", [], None, []) == analytic_preset("lenet")
    specs = layer_specs("lenet", ["gaussian_d2"], None, [])
    assert specs["conv1"] == ConvSpec("gaussian_d2")
    assert specs["conv2"] == ConvSpec("gaussian_d2", share_akps=True, gain_rank=4)
    specs = layer_specs("lenet", ["conv2=gabor:0.5,free:0.5", "conv1=cnn"], "none",
                        ["conv2=none"])
    assert specs == {"conv1": PLAIN, "conv2": ConvSpec({"gabor": 0.5, "free": 0.5})}
    specs = layer_specs("lenet", [], "conv1", ["2"])
    assert specs["conv1"] == ConvSpec("gabor", share_akps=True, gain_rank=2)
    assert specs["conv2"] == ConvSpec({"gabor": 0.5, "gaussian_d2": 0.5}, share_akps=False,
                                      gain_rank=2)


@pytest.mark.parametrize(("args", "message"), [
    (["--families", "conv9=gabor"], "model 'lenet' has no convolution 'conv9'"),
    (["--share-akps", "conv1,fc1"], "has no convolution 'fc1'"),
    (["--gain-rank", "x"], "'x' is not a rank"),
    (["--gain-rank", "conv2=-1"], "the rank must be positive"),
    (["--families", "gabor:0.5,free"], "must be name:share"),
])
def test_layer_spec_errors(args: list[str], message: str) -> None:
    families = [a for i, a in enumerate(args) if i and args[i - 1] == "--families"]
    share = next((a for i, a in enumerate(args) if i and args[i - 1] == "--share-akps"), None)
    ranks = [a for i, a in enumerate(args) if i and args[i - 1] == "--gain-rank"]
    with pytest.raises(ConfigError, match=message):
        layer_specs("lenet", families, share, ranks)


def test_a_run_writes_every_artefact(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                     ) -> None:
    run = tmp_path / "run"
    assert main(["train", *QUICK, "--epochs", "2", "--seed", "3", "-o", str(run),
                 "--robustness"]) == 0
    out = capsys.readouterr().out
    assert "model" in out and "conv params" in out and "analytic" in out and "cnn" in out
    for name in ("run.json", "metrics.json", "summary.md", "checkpoint.pt", "curves.png",
                 "kernels.png", "robustness.png", "formulas.tex", "card/card.md",
                 "analytic/state.pt", "cnn/state.pt"):
        assert (run / name).is_file(), name
    metrics = json.loads((run / "metrics.json").read_text())
    analytic, cnn = metrics["models"]["analytic"], metrics["models"]["cnn"]
    assert [h["epoch"] for h in analytic["history"]] == [1, 2]
    assert cnn["parameters"]["conv"] == 52_096
    assert analytic["parameters"]["conv"] == 6 * 32 + 32 + 32 * 64 * 25 + 64
    assert metrics["config"]["train"]["seed"] == 3
    assert metrics["config"]["train"]["akp_lr"] == pytest.approx(1e-2)  # 5 x the default lr
    assert [c["kind"] for c in analytic["robustness"]] == ["noise", "rotation"]
    state = torch.load(run / "cnn" / "state.pt", weights_only=True)
    assert state["epoch"] == 2
    checkpoint = load_checkpoint(run)
    assert checkpoint.metadata["epochs"] == 2
    assert "\\begin{document}" in (run / "formulas.tex").read_text()
    assert main(["export", str(run), "--format", "latex"]) == 0
    assert "gabor" in capsys.readouterr().out


def test_json_summary_and_resume(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    assert main(["train", *QUICK, "--epochs", "1", "--no-card", "--no-baseline", "-o",
                 str(run), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert list(summary["models"]) == ["analytic"]
    assert summary["data"]["name"] == "digits" and summary["data"]["sizes"]["train"] == 128
    assert main(["train", "--resume", str(run), "--epochs", "2", "--json",
                 "--no-progress"]) == 0
    resumed = json.loads(capsys.readouterr().out)["models"]["analytic"]
    assert resumed["resumed_from_epoch"] == 1
    assert [h["epoch"] for h in resumed["history"]] == [1, 2]


@pytest.mark.parametrize(("args", "message"), [
    (["--subset", "0"], "--subset must be a positive number"),
    (["--data", "cifar10"], "--data cifar10 --data-dir DIR"),
    (["--families", "cnn"], "no analytic convolution"),
    (["--families", "conv9=gabor"], "has no convolution 'conv9'"),
    (["--batch-size", "4096"], "larger than the 128 training examples"),
    (["--lr", "0"], "lr must be a number"),
    (["--device", "tpu"], "unknown device 'tpu': use cpu, cuda or cuda:N"),
    (["--resume", "/nonexistent/run"], "no run.json there"),
])
def test_errors_exit_2_with_a_message(args: list[str], message: str, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", *QUICK, "--epochs", "1", "-o", str(tmp_path / "r"), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("acl: error: ") and message in err, err


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present")
def test_cuda_without_a_gpu_is_a_clear_error(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", *QUICK, "--device", "cuda", "-o", str(tmp_path / "r")]) == 2
    assert "no CUDA GPU is available here" in capsys.readouterr().err


def test_an_existing_run_is_not_overwritten(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "run.json").write_text("{}")
    assert main(["train", *QUICK, "-o", str(tmp_path)]) == 2
    assert "already holds a run" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "--model", "vgg"])


def test_resnet_on_cifar10_binary_batches(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    from helpers.data import write_cifar10

    write_cifar10(tmp_path / "cifar", per_batch=8, n_test=8)
    run = tmp_path / "run"
    assert main(["train", "--model", "resnet", "--data", "cifar10", "--data-dir",
                 str(tmp_path / "cifar"), "--epochs", "1", "--batch-size", "8", "--no-card",
                 "--no-progress", "--json", "-o", str(run)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["data"]["image_shape"] == [3, 32, 32]
    analytic = summary["models"]["analytic"]["parameters"]
    cnn = summary["models"]["cnn"]["parameters"]
    assert analytic["kernels"] == 16 * 32 + 32 * 64  # only the 1x1 shortcuts stay plain
    assert cnn["total"] - cnn["conv"] == analytic["total"] - analytic["conv"]
