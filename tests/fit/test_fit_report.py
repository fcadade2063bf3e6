"""The fit report, the kernel-bank sources and the ``acl fit`` command."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
import torch
from helpers.families import gabor, gauss, gauss1d
from helpers.fitting import QUICK, synthesize

from aclcore import ConfigError, cli, register_family
from aclcore.fit import fit_kernels
from aclcore.fit.report import write_report
from aclcore.fit.sources import load_bank

pytest.importorskip("matplotlib")


@pytest.fixture
def bank() -> torch.Tensor:
    g, _, _ = synthesize(gabor(), 3, 3, (7, 7), share=True, seed=0, noise=0.05)
    b, _, _ = synthesize(gauss(), 2, 3, (7, 7), share=True, seed=1)
    return torch.cat([g, b])


def _png(path: Path) -> None:
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", path


def test_report_tables_panels_and_formulas(bank: torch.Tensor, tmp_path: Path) -> None:
    result = fit_kernels(bank, [gabor(), gauss()], share_akps=True, **QUICK)
    out = write_report(result, tmp_path / "sub" / "fit.md", tol=0.1, source="bank.npy",
                       command="acl fit bank.npy")
    text = out.read_text()
    assert out == tmp_path / "sub" / "fit.md"
    for png in re.findall(r"\]\(([^)]+\.png)\)", text):
        _png(out.parent / png)
    assert (out.parent / "fit_front.png").is_file() and (out.parent / "fit_kernels_0.png").is_file()
    assert "| `gabor` | sigma, lambda, theta, psi | 7 | 21.0x |" in text
    assert "| `gauss` | sigma | 4 | 36.8x |" in text
    assert "5 of 5 kernels analytic, 0 free" in text
    assert "## Error / compression front" in text and "## Ranking per kernel" in text
    # every formula line evaluates to the fitted kernel on the grid (x right, y up)
    x, y = sp.symbols("x y", real=True)
    formulas = re.findall(r"- kernel (\d+): `(\w+)`.*?\n((?:  - channel \d+: `[^`]+`\n)+)", text)
    assert len(formulas) == 5
    for kernel, family, block in formulas:
        fit = result.fits[family]
        for channel, formula in re.findall(r"channel (\d+): `([^`]+)`", block):
            expr = sp.sympify(formula, locals={"x": x, "y": y, "lambda": sp.Symbol("lambda")})
            for row, col in ((0, 0), (3, 3), (1, 5)):
                value = float(expr.subs({x: col - 3, y: 3 - row}))
                ref = float(fit.kernels[int(kernel), int(channel), row, col])
                assert value == pytest.approx(ref, rel=2e-3, abs=2e-4 * float(
                    fit.kernels[int(kernel)].abs().max()))


def test_report_of_one_channel_and_1d_kernels(tmp_path: Path) -> None:
    b, _, _ = synthesize(gauss1d(), 20, 1, (9,), share=False, seed=2, noise=0.3)
    result = fit_kernels(b, [gauss1d()], **QUICK)
    out = write_report(result, tmp_path / "one.md")
    text = out.read_text()
    assert "each kernel's best-ranked family" in text
    assert (tmp_path / "one_kernels_1.png").is_file()  # 20 kernels: two panel images
    with pytest.raises(ConfigError, match="is a directory"):
        write_report(result, tmp_path)


def test_load_bank_sources(tmp_path: Path) -> None:
    w = torch.randn(4, 3, 5, 5)
    np.save(tmp_path / "bank.npy", w.numpy())
    assert torch.equal(load_bank(tmp_path / "bank.npy"), w)
    np.savez(tmp_path / "banks.npz", conv1=w.numpy(), conv2=w[:2].numpy())
    assert torch.equal(load_bank(tmp_path / "banks.npz", "conv2"), w[:2])
    with pytest.raises(ConfigError, match="arrays: conv1, conv2"):
        load_bank(tmp_path / "banks.npz")
    torch.save(w, tmp_path / "bank.pt")
    assert torch.equal(load_bank(tmp_path / "bank.pt"), w)
    state = {"format": "x", "model": {"conv1.weight": w, "conv1.bias": torch.zeros(4),
                                      "fc.weight": torch.zeros(2, 3)}}
    run = tmp_path / "run"
    run.mkdir()
    torch.save(state, run / "checkpoint.pt")
    assert torch.equal(load_bank(run, "conv1"), w)
    assert torch.equal(load_bank(run), w)  # the only convolution weight
    torch.save({"a.weight": w, "b.weight": w}, tmp_path / "two.pt")
    with pytest.raises(ConfigError, match=r"--layer NAME.*a, b"):
        load_bank(tmp_path / "two.pt")
    with pytest.raises(ConfigError, match="no convolution weight for layer 'c'"):
        load_bank(tmp_path / "two.pt", "c")
    with pytest.raises(ConfigError, match="no such"):
        load_bank(tmp_path / "missing.npy")
    with pytest.raises(ConfigError, match="no such"):
        load_bank(tmp_path / "missing.pt")
    np.save(tmp_path / "flat.npy", np.zeros((3, 4)))
    with pytest.raises(ConfigError, match=r"shape \(3, 4\)"):
        load_bank(tmp_path / "flat.npy")
    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    with pytest.raises(ConfigError, match="not a weights-only torch file"):
        load_bank(tmp_path / "junk.pt")


class Evil:
    def __reduce__(self) -> tuple[object, ...]:
        return (print, ("executed",))


def test_load_bank_never_unpickles_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                        ) -> None:
    torch.save({"conv.weight": torch.zeros(1, 1, 3, 3), "x": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(ConfigError, match="weights-only"):
        load_bank(tmp_path / "evil.pt")
    assert "executed" not in capsys.readouterr().out


def test_acl_fit_command(bank: torch.Tensor, tmp_path: Path,
                         capsys: pytest.CaptureFixture[str]) -> None:
    register_family(gabor())
    register_family(gauss())
    np.save(tmp_path / "bank.npy", bank.numpy())
    code = cli.main(["fit", str(tmp_path / "bank.npy"), "--families", "gabor,gauss",
                     "--share-akps", "--tol", "0.1", "--starts", "4",
                     "-o", str(tmp_path / "r" / "fit.md")])
    out = capsys.readouterr().out
    assert code == 0
    assert re.search(r"gabor\s+7\s+21\.0x", out)
    assert "5 of 5 kernels analytic" in out and "wrote" in out
    assert (tmp_path / "r" / "fit.md").is_file()
    code = cli.main(["fit", str(tmp_path / "bank.npy"), "--families", "gauss", "--starts", "2",
                     "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["shape"] == [5, 3, 7, 7]
    assert data["families"][0]["family"] == "gauss"
    assert data["families"][0]["n_params"] == 6  # separate AKPs: 3 x (1 + 1)
    assert len(data["selection"]["choice"]) == 5 and data["report"] is None
    # default: every installed family of the bank's dimension
    code = cli.main(["fit", str(tmp_path / "bank.npy"), "--starts", "2", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert [f["family"] for f in data["families"]] == ["gabor", "gauss"]


def test_acl_fit_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    np.save(tmp_path / "bank.npy", np.full((2, 1, 3, 3), np.nan))
    register_family(gauss())
    assert cli.main(["fit", str(tmp_path / "bank.npy"), "--families", "gauss"]) == 2
    assert "acl: error: target kernel 0 has NaN" in capsys.readouterr().err
    np.save(tmp_path / "ok.npy", np.ones((2, 1, 3, 3)))
    assert cli.main(["fit", str(tmp_path / "ok.npy"), "--families", "nope"]) == 2
    assert "unknown kernel family 'nope'" in capsys.readouterr().err
    assert cli.main(["fit", str(tmp_path / "missing.npy")]) == 2
    assert "no such file" in capsys.readouterr().err
