"""The opt-in gradient check names the layer, family, AKP, kernel and tap of the first
non-finite AKP gradient (values alone looked fine)."""

from __future__ import annotations

import pytest
import sympy as sp
import torch
from torch import nn

from aclcore import AnalyticConv1d, KernelFamily, NonFiniteGradientError, Param
from aclcore.nn import watch_gradients

x, a, s = sp.symbols("x a s", real=True)


def _model() -> nn.Module:
    # acos(a*x/2) is finite for a = 2 on the taps -1, 0, 1, but its derivative in a is
    # infinite where a*x/2 = +-1
    edge = KernelFamily("edge", sp.acos(a * x / 2), ("x",), [Param(a, 2.0, (0.0, 3.0))])
    smooth = KernelFamily("smooth", sp.exp(-(x**2) / s), ("x",), [Param(s, 1.0, "positive")])
    torch.manual_seed(0)
    return nn.Sequential(AnalyticConv1d(1, 2, 3, families={smooth: 1, "free": 1}),
                         AnalyticConv1d(2, 3, 3, families={"free": 1, edge: 2}))


def test_the_first_non_finite_gradient_is_named_with_its_tap() -> None:
    model = _model()
    inp = torch.randn(2, 1, 9)
    assert bool(torch.isfinite(model(inp)).all())  # values are fine
    with watch_gradients(model), pytest.raises(NonFiniteGradientError) as info:
        model(inp).sum().backward()
    text = str(info.value)
    assert "layer '1', family 'edge'" in text and "AKP 'a'" in text
    assert "kernel (out 1, in 0)" in text and "at tap (x=-1)" in text and "a=2" in text


def test_without_the_watch_the_gradient_just_goes_non_finite_and_the_watch_is_removable(
) -> None:
    model = _model()
    watch = watch_gradients(model)
    watch.remove()
    model(torch.randn(2, 1, 9)).sum().backward()
    grad = model[1].analytic["edge"].raw("a").grad
    assert grad is not None and not bool(torch.isfinite(grad).all())
    smooth = model[0].analytic["smooth"].raw("s").grad
    assert smooth is not None and bool(torch.isfinite(smooth).all())


def test_a_healthy_model_trains_under_the_watch() -> None:
    smooth = KernelFamily("smooth2", sp.exp(-(x**2) / s), ("x",), [Param(s, 1.0, "positive")])
    model = AnalyticConv1d(2, 4, 5, families={smooth: 3, "free": 1})
    with watch_gradients(model):
        for _ in range(3):
            model(torch.randn(2, 2, 9)).square().mean().backward()
