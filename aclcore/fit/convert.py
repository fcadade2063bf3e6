"""A whole model to analytic layers: :func:`convert` and its :class:`Conversion` report.

Every selected convolution of a copy of the model is replaced by its
:func:`~aclcore.fit.conv.fit_conv` equivalent; the report gives, per layer and for the
model, the parameter compression, the kernel bank's relative error, the deviation of the
model's output on sample inputs and, with a data loader, the accuracy of both models. The
model may be any ``nn.Module``; the original is left untouched.
"""

from __future__ import annotations

import copy
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from aclcore.errors import ConfigError
from aclcore.fit.assemble import FittedConv
from aclcore.fit.conv import check_conv, fit_conv
from aclcore.fit.inputs import FamilySpecs
from aclcore.fit.kernels import fit_kernels
from aclcore.fit.result import FitResult
from aclcore.nn.layers import AnalyticConvNd

__all__ = ["Conversion", "LayerConversion", "accuracy", "convert"]


@dataclass(frozen=True)
class LayerConversion:
    """One converted convolution.

    Attributes:
        path: its module path in the model (``"features.0"``).
        kernels: output channels (kernels).
        analytic: kernels that became analytic.
        families: analytic kernels per family name.
        params_before: the convolution's weights (bias left out: it is kept).
        params_after: the analytic layer's AKPs, gains and free kernels.
        bank_error: relative L2 error of the layer's kernel bank.
        result: the fit of its kernels.
    """

    path: str
    kernels: int
    analytic: int
    families: dict[str, int]
    params_before: int
    params_after: int
    bank_error: float
    result: FitResult

    @property
    def compression(self) -> float:
        """``params_before / params_after``."""
        return self.params_before / max(self.params_after, 1)


@dataclass(frozen=True)
class Conversion:
    """The converted model and how far it is from the original.

    Attributes:
        model: the converted copy.
        layers: one :class:`LayerConversion` per converted convolution.
        model_params_before, model_params_after: every parameter of the models.
        output_deviation: ``||f'(x) - f(x)|| / ||f(x)||`` on the sample inputs (``None``
            without inputs).
        max_abs_deviation: the largest absolute output difference (``None`` without inputs).
        accuracy_before, accuracy_after: top-1 accuracy of both models on the loader
            (``None`` without a loader).
    """

    model: nn.Module
    layers: list[LayerConversion]
    model_params_before: int
    model_params_after: int
    output_deviation: float | None
    max_abs_deviation: float | None
    accuracy_before: float | None
    accuracy_after: float | None

    @property
    def compression(self) -> float:
        """Compression of the converted layers' weights (sum before / sum after)."""
        before = sum(r.params_before for r in self.layers)
        after = sum(r.params_after for r in self.layers)
        return before / max(after, 1)


def _count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _targets(model: nn.Module, layers: Sequence[str] | None) -> list[str]:
    convs = [name for name, m in model.named_modules()
             if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d)) and not m.transposed]
    if layers is None:
        if not convs:
            raise ConfigError(f"{type(model).__name__} has no nn.Conv1d/2d/3d to convert")
        return convs
    if isinstance(layers, str):
        layers = [layers]
    modules = dict(model.named_modules())
    for name in layers:
        if name not in modules:
            raise ConfigError(f"the model has no module {name!r}; its convolutions: "
                              f"{', '.join(convs) or 'none'}")
        check_conv(modules[name], f"module {name!r}")
    if len(set(layers)) != len(layers):
        raise ConfigError(f"layers lists a module twice: {list(layers)}")
    return list(layers)


def _replace(model: nn.Module, path: str, new: nn.Module) -> None:
    parent_path, _, name = path.rpartition(".")
    parent = model.get_submodule(parent_path) if parent_path else model
    setattr(parent, name, new)


def accuracy(model: nn.Module, loader: Iterable[Any]) -> float:
    """Top-1 accuracy of ``model`` (in eval mode, no gradients) over ``(input, label)`` batches.

    The prediction is the arg-max over dimension 1 of the output; inputs and labels move to
    the device of the model's first parameter.
    """
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    correct = total = 0
    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            for batch in loader:
                if not isinstance(batch, (tuple, list)) or len(batch) < 2:
                    raise ConfigError("the loader must yield (input, label) batches, got "
                                      f"{type(batch).__name__}")
                x, y = batch[0].to(device), batch[1].to(device)
                pred = model(x).argmax(dim=1)
                correct += int((pred == y).sum())
                total += int(y.numel())
    finally:
        model.train(was)
    if total == 0:
        raise ConfigError("the loader yielded no labelled example")
    return correct / total


def _outputs(model: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(inputs)
    finally:
        model.train(was)
    if not isinstance(out, torch.Tensor):
        raise ConfigError(f"the model returned {type(out).__name__}, not a tensor; the output "
                          "deviation needs a tensor output")
    return out


def convert(
    model: nn.Module,
    families: FamilySpecs,
    tol: float = 0.1,
    *,
    layers: Sequence[str] | str | None = None,
    inputs: torch.Tensor | None = None,
    loader: Iterable[Any] | None = None,
    results: Mapping[str, FitResult] | None = None,
    **fit_options: Any,
) -> Conversion:
    """Replace convolutions of a copy of ``model`` by analytic equivalents and measure it.

    Args:
        model: any ``nn.Module``; it is copied, never changed.
        families: the candidate families (as for :func:`~aclcore.fit.fit_kernels`).
        tol: the largest relative L2 error of a kernel that becomes analytic
            (:func:`~aclcore.fit.fit_conv`).
        layers: module paths of the convolutions to convert (default: every ``nn.Conv1d``,
            ``nn.Conv2d``, ``nn.Conv3d``).
        inputs: sample inputs for the output deviation.
        loader: ``(input, label)`` batches for the accuracy of both models.
        results: fits made before, by module path (e.g. the ``result`` of an earlier
            conversion's :class:`LayerConversion`): those layers are not fitted again, so
            trying several ``tol`` costs one fit.
        **fit_options: options of :func:`~aclcore.fit.fit_kernels`.

    Raises:
        ConfigError: a path that is not a convolution of the model, no convolution at all,
            or an invalid fit option.
    """
    paths = _targets(model, layers)
    converted = copy.deepcopy(model)
    records = []
    for path in paths:
        conv = check_conv(converted.get_submodule(path), f"module {path!r}")
        result = (results or {}).get(path)
        if result is None:
            result = fit_kernels(conv.weight.detach(), families, dilation=conv.dilation,
                                 **fit_options)
        fitted: FittedConv = fit_conv(conv, families, tol, result=result)
        _replace(converted, path, fitted)
        layer = fitted.layer
        assert isinstance(layer, AnalyticConvNd)
        kept = sum(p.numel() for n, p in layer.named_parameters() if n != "bias")
        with torch.no_grad():
            bank = fitted.weight.detach().to(torch.float64).cpu()
        target = result.target
        norm = float(target.norm())
        err = float((bank - target).norm()) / norm if norm > 0 else 0.0
        names = [b.name for b in layer.mosaic for _ in range(b.count) if not b.is_free]
        records.append(LayerConversion(
            path=path, kernels=result.kernel_count, analytic=len(names),
            families=dict(Counter(names)), params_before=conv.weight.numel(),
            params_after=kept, bank_error=err, result=result,
        ))
    deviation = max_abs = None
    if inputs is not None:
        before = _outputs(model, inputs)
        after = _outputs(converted, inputs)
        diff = (after - before).to(torch.float64)
        scale = float(before.to(torch.float64).norm())
        deviation = float(diff.norm()) / scale if scale > 0 else float(diff.norm())
        max_abs = float(diff.abs().max()) if diff.numel() else 0.0
        if not math.isfinite(deviation):
            raise ConfigError("the converted model's output is not finite on the inputs")
    acc_before = acc_after = None
    if loader is not None:
        acc_before = accuracy(model, loader)
        acc_after = accuracy(converted, loader)
    return Conversion(converted, records, _count(model), _count(converted), deviation,
                      max_abs, acc_before, acc_after)
