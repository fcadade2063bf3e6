"""``acl new-plugin``: names checked, the template rendered, the generated plugin usable.

The generated plugin's own test suite, run against a fresh installation, is in
``test_new_plugin_install.py`` (slow).
"""

from __future__ import annotations

import ast
import importlib
import json
import sys
from pathlib import Path

import pytest
import torch

from aclcore import cli, compile_family
from aclcore.cli import scaffold
from aclcore.cli.scaffold import check_available, plugin_names, render_plugin, write_plugin
from aclcore.errors import ConfigError
from aclcore.nn.grid import kernel_grid
from aclcore.testing import plugin_registry

FILES = [".github/workflows/tests.yml", ".gitignore", "README.md", "pyproject.toml",
         "src/acl_zq/__init__.py", "src/acl_zq/families.py", "src/acl_zq/py.typed",
         "tests/test_families.py"]


def _new(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(["new-plugin", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(("name", "package", "plugin"), [
    ("acl-mykernels", "acl_mykernels", "mykernels"),
    ("acl-my-kernels2", "acl_my_kernels2", "my_kernels2"),
    ("ripples", "ripples", "ripples"),
    ("acl", "acl", "acl"),
])
def test_names_follow_from_the_distribution_name(name: str, package: str, plugin: str) -> None:
    names = plugin_names(name)
    assert (names.distribution, names.package, names.plugin) == (name, package, plugin)
    assert names.families == (f"{plugin}_lorentzian", f"{plugin}_ring_wave")


@pytest.mark.parametrize(("name", "message"), [
    ("Acl-Big", "plugin name 'Acl-Big' is invalid: use a lowercase distribution name"),
    ("acl_under", "plugin name 'acl_under' is invalid"),
    ("acl--double", "plugin name 'acl--double' is invalid"),
    ("acl-", "plugin name 'acl-' is invalid"),
    ("9lives", "plugin name '9lives' is invalid"),
    ("a" * 41, "at most 40 characters"),
    ("acl-2d", "the plugin (entry-point) name '2d', the distribution name without 'acl-', "
               "must start with a letter"),
    ("class", "'class' is a Python keyword"),
])
def test_bad_names_are_refused_with_the_rule(name: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        plugin_names(name)


def _fake_distribution(root: Path, name: str, entry_points: dict[str, str]) -> None:
    info = root / f"{name.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    lines = "\n".join(f"{k} = {v}" for k, v in entry_points.items())
    (info / "entry_points.txt").write_text(f"[aclcore]\n{lines}\n")


def test_taken_names_are_refused_naming_the_owner(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_distribution(tmp_path, "acl-zqtaken", {"zqplug": "zq_plug_module"})
    (tmp_path / "acl_zqmod.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    with pytest.raises(ConfigError, match=r"'acl-zqtaken' is taken: the distribution "
                                          r"acl-zqtaken 1.0 is installed; choose another"):
        check_available(plugin_names("acl-zqtaken"))
    with pytest.raises(ConfigError, match=r"'acl-zqplug' is taken: the aclcore plugin 'zqplug' "
                                          r"of acl-zqtaken \(zq_plug_module\) is installed"):
        check_available(plugin_names("acl-zqplug"))
    with pytest.raises(ConfigError, match=r"'acl-zqmod' is taken: the package 'acl_zqmod' is "
                                          r"already importable \(from .*acl_zqmod.py\)"):
        check_available(plugin_names("acl-zqmod"))
    with pytest.raises(ConfigError, match=r"the families zqfam_ring_wave are already "
                                          r"registered"):
        check_available(plugin_names("acl-zqfam"), frozenset({"zqfam_ring_wave", "gabor"}))
    with pytest.raises(ConfigError, match=r"the distribution torch .* is installed"):
        check_available(plugin_names("torch"))
    check_available(plugin_names("acl-zqfree"), frozenset({"gabor"}))


def test_the_template_renders_every_placeholder() -> None:
    files = render_plugin(plugin_names("acl-zq"))
    assert list(files) == FILES
    for path, text in files.items():
        leftover = [line for line in text.splitlines() if "{{" in line and "${{" not in line]
        assert not leftover, (path, leftover)
        if path.endswith(".py"):
            ast.parse(text, path)
    tomllib = pytest.importorskip("tomllib", reason="tomllib is in Python 3.11+")
    project = tomllib.loads(files["pyproject.toml"])
    assert project["project"]["name"] == "acl-zq"
    assert project["project"]["entry-points"]["aclcore"] == {"zq": "acl_zq"}
    # aclcore only: torch comes with it, in the build the user chose
    from aclcore.version import __version__
    assert project["project"]["dependencies"] == [f"aclcore>={__version__}"]
    assert project["project"]["optional-dependencies"]["test"][0].startswith("pytest")
    assert project["tool"]["setuptools"]["package-data"] == {"acl_zq": ["py.typed"]}
    readme = files["README.md"]
    assert "pip install -e '.[test]'" in readme and "python -m pytest" in readme
    assert "zq_lorentzian" in readme and "zq_ring_wave" in readme
    tests = files["tests/test_families.py"]
    for check in ("assert_family_ok", "check_every_akp_gets_gradient", "check_symmetries"):
        assert f"{check}(" in tests
    workflow = files[".github/workflows/tests.yml"]
    assert "${{ matrix.python-version }}" in workflow and "acl plugins" in workflow


def test_an_unknown_placeholder_is_an_error_of_the_template(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "x.txt.tmpl").write_text("a {{nme}} b")
    monkeypatch.setattr(scaffold.render, "TEMPLATE", tmp_path)
    with pytest.raises(ConfigError, match=r"x.txt.tmpl uses the unknown placeholder \{\{nme\}\}"):
        render_plugin(plugin_names("acl-zq"))
    (tmp_path / "x.txt.tmpl").unlink()
    with pytest.raises(ConfigError, match="the plugin template is missing"):
        render_plugin(plugin_names("acl-zq"))


def test_acl_new_plugin_writes_a_plugin_that_loads_and_computes(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "zq"
    code, out, err = _new(["acl-zq", "--dir", str(target), "--json"], capsys)
    assert code == 0 and err == ""
    report = json.loads(out)
    assert report["plugin"] == "zq" and report["package"] == "acl_zq"
    assert report["families"] == ["zq_lorentzian", "zq_ring_wave"]
    assert [Path(f).relative_to(target).as_posix() for f in report["files"]] == FILES
    # the package imports from its source tree and registers both families cleanly
    monkeypatch.syspath_prepend(str(target / "src"))
    plugin = importlib.import_module("acl_zq")
    try:
        families_module = sys.modules["acl_zq.families"]
        assert "\\frac{1}{1 + (x^2 + y^2)/\\gamma^2}" in (families_module.__doc__ or "")
        with plugin_registry(plugin) as registry:
            assert sorted(registry.families()) == ["zq_lorentzian", "zq_ring_wave"]
            lorentzian = registry.get_family("zq_lorentzian")
            ring = registry.get_family("zq_ring_wave")
        assert str(ring.sympy_expr) == ("exp((-x**2 - y**2)/(2*sigma**2))*"
                                        "cos(2*pi*sqrt(x**2 + y**2)/wavelength)")
        grid = kernel_grid((5, 5), dtype=torch.float64)
        bank = compile_family(lorentzian)(grid, {"gamma": torch.tensor(2.0, dtype=torch.float64)})
        assert float(bank[2, 2]) == 1.0 and float(bank[2, 4]) == pytest.approx(0.5)
    finally:
        for name in ("acl_zq", "acl_zq.families"):
            sys.modules.pop(name, None)


def test_the_text_report_and_a_default_directory(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, _ = _new(["acl-zq"], capsys)
    assert code == 0
    assert out.startswith("wrote the plugin acl-zq into acl-zq/:\n  .github/workflows/tests.yml\n")
    assert "  acl plugins                  # zq  [ok]  acl-zq 0.1.0" in out
    assert sorted(p.relative_to(tmp_path / "acl-zq").as_posix()
                  for p in (tmp_path / "acl-zq").rglob("*") if p.is_file()) == FILES


def test_an_occupied_directory_is_refused_and_left_alone(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "mine.txt").write_text("keep")
    code, out, err = _new(["acl-zq", "--dir", str(tmp_path / "full")], capsys)
    assert code == 2 and out == ""
    assert err == (f"acl: error: --dir {tmp_path / 'full'}: a directory that is not empty is "
                   "already there; give a new or empty directory (--dir DIR)\n")
    assert [p.name for p in (tmp_path / "full").iterdir()] == ["mine.txt"]
    (tmp_path / "afile").write_text("keep")
    with pytest.raises(ConfigError, match="a file is already there"):
        write_plugin(plugin_names("acl-zq"), tmp_path / "afile")
    (tmp_path / "empty").mkdir()
    assert len(write_plugin(plugin_names("acl-zq"), tmp_path / "empty")) == len(FILES)


def test_a_bad_name_exits_2_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _new(["Bad_Name"], capsys)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err.startswith("acl: error: plugin name 'Bad_Name' is invalid")


def test_cli_modules_keep_their_module_level_imports_light() -> None:
    root = Path(cli.__file__).parent
    allowed = {"__future__", "argparse", "pathlib", "typing", "json", "os", "re", "keyword",
               "dataclasses", "collections.abc", "aclcore.errors", "aclcore.cli.common",
               "aclcore.cli.scaffold.names", "aclcore.cli.scaffold.render"}
    for path in [root / "new_plugin.py", root / "show_source.py", root / "families.py",
                 root / "export.py", *sorted((root / "scaffold").glob("*.py"))]:
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            assert set(names) <= allowed, (path.name, names)
