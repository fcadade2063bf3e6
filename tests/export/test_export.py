"""aclcore.export: formulas, their faithfulness (independent mpmath evaluation), LaTeX, cards."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import mpmath
import pytest
import sympy as sp
import torch
from helpers.export import independent_bank, perturb
from helpers.families import dog, gabor, gauss, gauss1d, gauss3d, ramp, sinc_r, x, y
from helpers.images import assert_shows_signed_kernels
from torch import nn

from aclcore import AnalyticConv1d, AnalyticConv2d, AnalyticConv3d, KernelFamily, Param
from aclcore.errors import ConfigError, ExportError
from aclcore.export import formulas, to_latex, to_markdown
from aclcore.nn import AnalyticConvNd

_CLASSES: dict[int, type[AnalyticConvNd]] = {1: AnalyticConv1d, 2: AnalyticConv2d,
                                             3: AnalyticConv3d}


def _layer(family: KernelFamily, *, discretization: str = "sample", quadrature: int = 4,
           dtype: torch.dtype = torch.float64, normalize: str | None = None,
           **kwargs: Any) -> AnalyticConvNd:
    nd = family.ndim
    size = {1: 7, 2: 5, 3: 3}[nd]
    torch.manual_seed(1)
    layer = _CLASSES[nd](2, 3, size, families={family: 2, "free": 1}, dtype=dtype,
                         discretization=discretization, quadrature=quadrature,
                         normalize=normalize, **kwargs)
    perturb(layer)
    return layer


def _assert_faithful(layer: AnalyticConvNd, functions: dict[str, Any] | None = None) -> None:
    (lf,) = formulas(layer)
    coords = lf.families[0].family.coords
    got, want = independent_bank(layer, lf.matrix(), coords, functions)
    assert got.shape[0] == len(lf.kernels) > 0
    torch.testing.assert_close(got, want, atol=1e-6, rtol=0)


FALLBACK = [gabor(), gauss(normalize="sum"), dog(), sinc_r(), gauss1d(), gauss3d(), ramp()]


@pytest.mark.parametrize("family", FALLBACK, ids=[f.name for f in FALLBACK])
def test_formulas_reproduce_the_weights_fallback_families(family: KernelFamily) -> None:
    _assert_faithful(_layer(family))


@pytest.mark.parametrize("normalize", ["sum", "zero_mean", "l2"])
def test_formulas_include_the_normalisation(normalize: str) -> None:
    _assert_faithful(_layer(gabor(), normalize=normalize))


@pytest.mark.parametrize("family", [gabor(), sinc_r(), gauss1d(), gauss3d()],
                         ids=["gabor", "sinc_r", "1d", "3d"])
def test_formulas_reproduce_integrate_by_the_stated_rule(family: KernelFamily) -> None:
    # 3 points: the centre node hits sinc_r's removable singularity
    layer = _layer(family, discretization="integrate", quadrature=3)
    _assert_faithful(layer)
    (lf,) = formulas(layer)
    assert "3-point Gauss-Legendre" in lf.statement and "mean of the formula" in lf.statement
    assert lf.quadrature_rule is not None and math.isclose(sum(lf.quadrature_rule[1]), 1.0)


def test_float32_layers_are_reproduced_within_1e6() -> None:
    _assert_faithful(_layer(gabor(), dtype=torch.float32))
    _assert_faithful(_layer(dog(), dtype=torch.float32, discretization="integrate"))


def test_dilation_share_akps_and_groups_are_reproduced() -> None:
    torch.manual_seed(0)
    layer = AnalyticConv2d(4, 4, 3, dilation=2, groups=2, share_akps=True,
                           families={gabor(): 3, "free": 1}, dtype=torch.float64)
    perturb(layer)
    _assert_faithful(layer)


def _classic() -> list[KernelFamily]:
    acl_classic = pytest.importorskip("acl_classic")
    return list(acl_classic.FAMILIES)


def test_formulas_reproduce_the_weights_of_every_classic_family() -> None:
    for family in _classic():
        _assert_faithful(_layer(family))


def test_classic_families_with_integrate_are_reproduced() -> None:
    for family in _classic():
        if family.ndim < 3:  # the 3-D rule is exercised by the fallback test above
            _assert_faithful(_layer(family, discretization="integrate", quadrature=2))


def test_plugin_function_families_are_reproduced(registry: Any) -> None:
    acl_example = pytest.importorskip("acl_example")
    from aclcore.plugins.registry import register_function

    register_function(acl_example.i0e, torch.special.i0e)
    i0e = {"i0e": lambda t: mpmath.exp(-abs(t)) * mpmath.besseli(0, t)}
    _assert_faithful(_layer(acl_example.gaussian_ring()), i0e)


def test_singularities_are_explicit_piecewise_branches() -> None:
    layer = _layer(sinc_r())
    (lf,) = formulas(layer)
    info = lf.families[0]
    assert info.singularities and info.singularities[0][0] == ("x", "y")
    assert isinstance(info.explicit_expr, sp.Piecewise)
    formula = lf.matrix()[0][0]
    assert formula is not None
    value = float(formula.subs({x: 0, y: 0}))  # SymPy alone gives the centre tap
    assert abs(value - layer.weight[0, 0, 2, 2].item()) < 1e-9
    # without a singularity the formula is the layer's own formula
    plain = _layer(gabor())
    assert formulas(plain)[0].matrix()[0][0] == plain.formulas()[0][0]


def test_kernel_records_report_wrapped_angles_and_keep_learned_ones() -> None:
    layer = _layer(gabor())
    (lf,) = formulas(layer)
    k = lf.kernels[0]
    assert k.akps["theta"] > 2 * math.pi  # perturb() pushed it past a full turn
    assert 0 <= k.wrapped["theta"] < 2 * math.pi
    assert math.isclose(k.wrapped["theta"], math.fmod(k.akps["theta"], 2 * math.pi))
    assert set(k.wrapped) == {"theta"}
    assert k.formula == layer.formulas()[0][0]  # substituted as learned, not wrapped


def test_formulas_of_a_model_walk_named_modules() -> None:
    model = nn.Sequential(AnalyticConv2d(1, 2, 3, families=gauss()), nn.ReLU(),
                          nn.Sequential(AnalyticConv1d(2, 2, 3, families={gauss1d(): 1,
                                                                           "free": 1})))
    paths = [lf.path for lf in formulas(model)]
    assert paths == ["0", "2.0"]
    with pytest.raises(ExportError, match="has no analytic layer"):
        formulas(nn.Linear(2, 2))
    with pytest.raises(ExportError, match="cannot export int"):
        formulas(3)


def test_to_latex_has_a_table_per_layer_with_precision() -> None:
    model = nn.Sequential(_layer(gabor()), nn.ReLU(), _layer(sinc_r()))
    text = to_latex(model, precision=3)
    assert text.count("\\begin{tabular}") == 2
    assert "\\subsection*{0 (AnalyticConv2d)}" in text and "\\subsection*{2 (" in text
    assert "$\\sigma$" in text and "$\\theta$ (mod $2\\pi$)" in text and "gain" in text
    assert "\\begin{cases}" in text  # the singularity of sinc_r, explicit
    (lf,) = formulas(model[0])
    sigma = lf.kernels[0].akps["sigma"]
    assert f"{sigma:.3g}" in text and f"{sigma:.5g}" not in text
    theta = lf.kernels[0].wrapped["theta"]
    assert f"{theta:.3g}" in text
    doc = to_latex(model, document=True, kernels=1)
    assert doc.startswith("\\documentclass{article}") and doc.rstrip().endswith(
        "\\end{document}")
    assert "\\begin{longtable}" in doc and "w_{0,0} =" in doc
    with pytest.raises(ExportError, match="precision"):
        to_latex(model, precision=0)


def test_latex_of_a_free_only_layer() -> None:
    text = to_latex(AnalyticConv2d(1, 2, 3, families="free"))
    assert "No analytic kernels" in text and "tabular" not in text


def test_latex_escapes_names() -> None:
    fam = KernelFamily("my_blob", sp.exp(-x**2 - y**2) * sp.Symbol("a_1", real=True),
                       (x, y), [Param("a_1", 1.0)], description="100% & more")
    text = to_latex(AnalyticConv2d(1, 1, 3, families=fam))
    assert "my\\_blob" in text and "100\\% \\& more" in text


def test_to_markdown_writes_a_card_with_pictures(tmp_path: Path) -> None:
    layer = _layer(gabor())
    target = layer.weight.detach() + 0.01
    card = to_markdown(layer, tmp_path / "card", compare={"": target}, formulas=1)
    text = card.read_text()
    assert card.name == "card.md"
    assert "## Layer `layer` (AnalyticConv2d)" in text and "### Family `gabor`" in text
    assert "$$\nf(x, y) = " in text and "| kernel | sigma | lambda | theta (mod 2π) | psi |" \
        in text
    assert "### Free kernels" in text and "largest absolute difference" in text
    for name in ("layer_kernels.png", "layer_compare.png"):
        assert f"]({name})" in text
        assert_shows_signed_kernels(tmp_path / "card" / name)
    with pytest.raises(ConfigError, match="not analytic layers"):
        to_markdown(layer, tmp_path / "x", compare={"nope": target})
    with pytest.raises(ConfigError, match="shape"):
        to_markdown(layer, tmp_path / "x", compare={"": target[:1]})
    with pytest.raises(ExportError, match="max_out"):
        to_markdown(layer, tmp_path / "x", max_out=0)
