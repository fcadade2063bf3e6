"""The ``acl`` command: plugins, families, show (text, JSON, PNG) and error handling."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import sympy as sp
from helpers.images import assert_shows_positive_kernel
from helpers.plugins import ep, family, loaded, plugin

import aclcore
from aclcore import KernelFamily, Param, cli

x, y, s, t = sp.symbols("x y s t", real=True)
BLOB = KernelFamily(
    "blob", sp.exp(-(x**2 + y**2) / (2 * s**2)) * sp.cos(t * x), ("x", "y"),
    [Param(s, init=(1.0, 2.0), constraint="positive", description="width"),
     Param(t, init=0.0, constraint=(-1.0, 1.0))],
    description="A test blob.", normalize="sum",
)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    code, out, _ = run(capsys, *argv, "--json")
    assert code in (0, 1)
    return json.loads(out)


def test_plugins_lists_plugins_families_and_failures(capsys: pytest.CaptureFixture[str]
                                                     ) -> None:
    good = plugin("good", families=[family("alpha"), family("beta")])
    broken = ep("broken", error=ImportError("cannot import broken_dep"), dist="acl-broken",
                version="0.9")
    with loaded(ep("good", good, dist="acl-good", version="1.0"), broken), \
            pytest.warns(aclcore.plugins.AclPluginWarning):
        aclcore.families()
        code, out, _ = run(capsys, "plugins")
        data = run_json(capsys, "plugins")
    assert code == 1
    assert "good  [ok]  acl-good 1.0" in out and "families (2): alpha, beta" in out
    assert "broken  [failed]  acl-broken 0.9" in out and "broken_dep" in out
    good_json, broken_json = data["plugins"]
    assert good_json["families"] == ["alpha", "beta"] and good_json["version"] == "1.0"
    assert broken_json["failures"][0]["stage"] == "import"
    assert data["settings"] == {"only": None, "strict": False, "unmatched": []}


def test_plugins_without_failures_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    with loaded(ep("good", plugin("good", families=[family("alpha")]))):
        code, out, _ = run(capsys, "plugins")
    assert code == 0 and "no failures" in out


def test_families_json_describes_each_family(capsys: pytest.CaptureFixture[str]) -> None:
    aclcore.register_family(BLOB)
    (info,) = run_json(capsys, "families")
    assert info["name"] == "blob" and info["coordinates"] == ["x", "y"]
    assert info["parameters"] == [
        {"name": "s", "constraint": "positive", "init": [1.0, 2.0], "description": "width"},
        {"name": "t", "constraint": [-1.0, 1.0], "init": 0.0, "description": ""},
    ]
    assert info["provider"] == "<in-process>" and info["normalize"] == "sum"
    assert aclcore.parse_formula(info["formula"]) == BLOB.sympy_expr
    assert info["latex"] == sp.latex(BLOB.sympy_expr)


def test_families_text_names_the_providing_plugin(capsys: pytest.CaptureFixture[str]) -> None:
    with loaded(ep("good", plugin("good", families=[family("alpha")]), dist="acl-good")):
        code, out, _ = run(capsys, "families")
    assert code == 0
    assert "alpha  (x; normalize none; from good (acl-good 1.0))" in out
    assert "formula: exp(" in out and "init [0.5, 2]" in out


def test_show_prints_formula_and_a_preview(capsys: pytest.CaptureFixture[str]) -> None:
    aclcore.register_family(BLOB)
    code, out, _ = run(capsys, "show", "blob", "--size", "5", "--param", "s=1")
    assert code == 0
    assert "formula: " in out and "AKPs:    s=1, t=0" in out
    assert "kernel 5x5 (normalize sum)" in out
    assert "@@" in out  # the peak in the preview
    data = run_json(capsys, "show", "blob", "--size", "3")
    kernel = data["kernel"]
    assert len(kernel) == 3 and abs(sum(map(sum, kernel)) - 1.0) < 1e-12  # normalised
    assert data["akps"] == {"s": 1.5, "t": 0.0}


def test_show_writes_a_png(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    aclcore.register_family(BLOB)
    path = tmp_path / "blob.png"
    code, out, _ = run(capsys, "show", "blob", "--png", str(path))
    assert code == 0 and f"wrote {path}" in out
    assert_shows_positive_kernel(path)  # the blob is a positive Gaussian


def test_show_names_the_png_it_wrote_and_refuses_bad_paths(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    aclcore.register_family(BLOB)
    code, out, _ = run(capsys, "show", "blob", "--png", str(tmp_path / "blob"))
    assert code == 0 and out.endswith(f"wrote {tmp_path / 'blob.png'}\n")
    assert run_json(capsys, "show", "blob", "--png", str(tmp_path / "b"))["png"] == str(
        tmp_path / "b.png")
    for png, message in [(tmp_path, "is a directory: give the picture's file name"),
                         (tmp_path / "blob.txt", "matplotlib cannot write '.txt' files"),
                         (tmp_path / "nodir" / "b.png", "cannot write the kernel picture")]:
        code, out, err = run(capsys, "show", "blob", "--png", str(png))
        assert code == 2 and out == "" and err.count("\n") == 1
        assert err.startswith("acl: error: ") and message in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.png", "blob.png"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["show", "blbo"], "Did you mean 'blob'"),
        (["show", "blob", "--param", "q=1"], "NAME one of s, t"),
        (["show", "blob", "--param", "s=big"], "is not a number"),
        (["show", "blob", "--param", "t=5"], "outside its constraint"),
        (["show", "blob", "--size", "0"], "--size must be a positive int"),
        (["show", "blob", "--size", "1025"], "at most 1024 for a 2-D family"),
    ],
)
def test_errors_print_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    aclcore.register_family(BLOB)
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.startswith("acl: error: ") and message in err
    assert err.count("\n") == 1


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["frobnicate"])
    assert info.value.code == 2


def _help(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as info:
        cli.main([*argv, "--help"])
    assert info.value.code == 0
    return capsys.readouterr().out


def test_every_subcommand_has_help_and_a_json_flag(capsys: pytest.CaptureFixture[str]) -> None:
    top = _help(capsys)
    names = re.findall(r"^    ([a-z][a-z-]*)\s", top, re.MULTILINE)
    assert set(names) >= {"plugins", "families", "show", "export"}
    for name in names:
        text = _help(capsys, name)
        assert f"usage: acl {name}" in text and "--json" in text, name


def test_python_m_aclcore_runs_the_cli() -> None:
    out = subprocess.run([sys.executable, "-m", "aclcore", "--version"], capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == f"aclcore {aclcore.__version__}"
