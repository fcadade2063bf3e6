"""to_python: a standalone module (torch, numpy, math only) that reproduces layer.weight."""

from __future__ import annotations

import ast
import runpy
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import sympy as sp
import torch
from helpers.export import perturb
from helpers.families import dog, gabor, gauss, gauss1d, gauss3d, sinc_r, x, y
from torch import nn

from aclcore import AnalyticConv1d, AnalyticConv2d, AnalyticConv3d, KernelFamily, Param
from aclcore.compile import gridops
from aclcore.errors import ExportError
from aclcore.export import to_python
from aclcore.nn import AnalyticConvNd
from aclcore.plugins.registry import Registry, register_function

a = sp.Symbol("a", real=True)


def _module(source: str, tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / "banks.py"
    path.write_text(source)
    return runpy.run_path(str(path))


def _check(layer: AnalyticConvNd, tmp_path: Path, name: str | int = 0) -> None:
    ns = _module(to_python(layer), tmp_path)
    bank = ns["kernel_bank"](name)
    with torch.no_grad():
        weight = layer.weight
    tol = 1e-12 if weight.dtype == torch.float64 else 1e-6
    assert bank.dtype == weight.dtype and bank.shape == weight.shape
    torch.testing.assert_close(bank, weight, atol=tol, rtol=0)
    assert torch.equal(bank, weight)  # in fact bit-identical: the same operations


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("discretization", ["sample", "integrate"])
def test_the_module_reproduces_the_weights(tmp_path: Path, dtype: torch.dtype,
                                           discretization: str) -> None:
    torch.manual_seed(0)
    layer = AnalyticConv2d(3, 8, 5, families={gabor(): 3, sinc_r(): 2, "free": 1,
                                              gauss(normalize="sum"): 2},
                           normalize={"gabor": "zero_mean"}, dtype=dtype,
                           discretization=discretization, quadrature=3)
    perturb(layer)
    _check(layer, tmp_path)


def test_1d_3d_shared_dilated_and_grouped_layers(tmp_path: Path) -> None:
    torch.manual_seed(0)
    layers = [
        AnalyticConv1d(2, 3, 7, families={gauss1d(): 2, "free": 1}, normalize="l2"),
        AnalyticConv3d(1, 2, 3, families=gauss3d()),
        AnalyticConv2d(4, 4, 3, groups=2, dilation=2, share_akps=True, families=dog()),
        AnalyticConv2d(2, 2, 3, gain=False, bias=False, families=gabor()),
    ]
    for i, layer in enumerate(layers):
        perturb(layer)
        sub = tmp_path / str(i)
        sub.mkdir()
        _check(layer, sub)


@pytest.mark.parametrize("wide", [False, True], ids=["small-bank-body", "large-bank-body"])
def test_special_functions_are_inlined(tmp_path: Path, wide: bool,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    if wide:  # the body for large banks (sinc as sinc_pi(a/pi), linear forms) on this layer
        monkeypatch.setattr(gridops, "WIDE_BANK", 0)
    fam = KernelFamily(
        "specials",
        sp.besselj(1, a * sp.sqrt(x**2 + y**2 + 1)) + sp.sinc(a * x) + sp.Heaviside(y)
        + sp.cot(a + 2) + sp.sec(a * y / 10) + sp.csc(a + 1) + sp.Max(x, a * y)
        + sp.sqrt(x**2 + (a * y) ** 2) + (x**2 + a * y**2) ** sp.Rational(1, 3),
        (x, y), [Param(a, (0.5, 1.0), (0.1, 1.5))])
    torch.manual_seed(0)
    layer = AnalyticConv2d(1, 2, 5, families=fam, dtype=torch.float64)
    source = to_python(layer)
    assert "def besselj(" in source and "def sinc(" in source and "def heaviside(" in source
    assert "def safe_sqrt(" in source and "def safe_pow(" in source
    _check(layer, tmp_path)


def test_a_model_exports_every_layer_by_path(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = nn.Sequential(AnalyticConv2d(1, 3, 3, padding=1, families={gabor(): 2, "free": 1}),
                          nn.ReLU(), AnalyticConv2d(3, 2, 3, stride=2, families=gabor()))
    ns = _module(to_python(model), tmp_path)
    banks = ns["kernel_banks"]()
    assert list(banks) == ["0", "2"]
    assert torch.equal(banks["2"], model[2].weight) and torch.equal(ns["kernel_bank"](1),
                                                                    model[2].weight)
    assert torch.equal(ns["bias"]("0"), model[0].bias)
    assert ns["conv_options"]("2") == {"stride": (2, 2), "padding": (0, 0), "dilation": (1, 1),
                                       "groups": 1, "padding_mode": "zeros"}
    # the families' kernel functions are shared, not repeated
    assert ns["LAYERS"]["0"]["blocks"][0]["kernel"] is ns["LAYERS"]["2"]["blocks"][0]["kernel"]


def test_the_module_imports_only_torch_numpy_math(tmp_path: Path) -> None:
    torch.manual_seed(0)
    layer = AnalyticConv2d(1, 2, 3, families={sinc_r(): 1, "free": 1})
    source = to_python(layer)
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    assert imported <= {"__future__", "math", "numpy", "torch", "collections", "typing"}
    path = tmp_path / "banks.py"
    path.write_text(source)
    torch.save(layer.weight.detach(), tmp_path / "weight.pt")
    script = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('aclcore', 'acl_classic', 'acl_example'):\n"
        "            raise ImportError('blocked: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        f"sys.path.insert(0, {str(tmp_path)!r})\n"
        "import torch, banks\n"
        f"w = torch.load({str(tmp_path / 'weight.pt')!r}, weights_only=True)\n"
        "assert torch.equal(banks.kernel_bank(), w)\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_plugin_functions_from_torch_are_referenced_others_refused(
        registry: Registry, tmp_path: Path) -> None:
    acl_example = pytest.importorskip("acl_example")
    register_function(acl_example.i0e, torch.special.i0e)
    torch.manual_seed(0)
    ring = AnalyticConv2d(1, 2, 5, families=acl_example.gaussian_ring())
    source = to_python(ring)
    assert "_f_i0e = torch.special.i0e" in source
    _check(ring, tmp_path)

    wobble = sp.Function("wobble")
    register_function(wobble, lambda t: torch.sin(t) * 2, name="wobble")
    fam = KernelFamily("wobbly", wobble(a * x) + y, (x, y), [Param(a, 1.0)])
    layer = AnalyticConv2d(1, 1, 3, families=fam)
    with pytest.raises(ExportError, match=r"family 'wobbly' uses the function 'wobble' from "
                                          r"<in-process>.*cannot be inlined"):
        to_python(layer)
