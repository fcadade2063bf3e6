"""Model-level helpers for analytic layers: freezing and optimiser parameter groups.

Re-exported as :func:`aclcore.nn.freeze` and :func:`aclcore.nn.param_groups`.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from aclcore.nn.layers import AnalyticConvNd

__all__ = ["freeze", "param_groups"]


def freeze(model: nn.Module) -> nn.Module:
    """Replace every analytic layer in ``model`` by its :meth:`~AnalyticConvNd.to_conv`.

    Returns the model (changed in place), or the plain conv when ``model`` itself is an
    analytic layer. The result has no aclcore module left (it exports to ONNX, TorchScript).
    """
    if isinstance(model, AnalyticConvNd):
        return model.to_conv()
    frozen: dict[int, nn.Module] = {}  # a layer used twice stays one (tied) module

    def walk(module: nn.Module) -> None:
        for name, child in list(module._modules.items()):  # duplicates too (tied layers)
            if child is None:
                continue
            if isinstance(child, AnalyticConvNd):
                if id(child) not in frozen:
                    frozen[id(child)] = child.to_conv()
                setattr(module, name, frozen[id(child)])
            else:
                walk(child)

    walk(model)
    return model


def param_groups(
    model: nn.Module,
    akp_lr: float | None = None,
    *,
    akp_weight_decay: float | None = 0.0,
    **defaults: Any,
) -> list[dict[str, Any]]:
    """Optimiser parameter groups: ``"akp"`` (AKPs and gains) and ``"other"`` (the rest).

    Args:
        model: any module containing analytic layers.
        akp_lr: learning rate of the AKP group (``None``: the optimiser's / ``defaults``').
        akp_weight_decay: weight decay of the AKP group (default 0: decaying raw AKPs pulls
            them to arbitrary values such as ``softplus(0)``); ``None`` keeps ``defaults``'.
        **defaults: options of both groups (e.g. ``lr``, ``weight_decay``, ``momentum``).

    Returns:
        A list for ``torch.optim.*(groups, ...)``; each group has a ``"name"`` key; empty
        groups are left out.
    """
    akps: list[nn.Parameter] = []
    seen: set[int] = set()
    for module in model.modules():
        if isinstance(module, AnalyticConvNd):
            for p in module.akp_parameters():
                if id(p) not in seen:
                    seen.add(id(p))
                    akps.append(p)
    other = [p for p in model.parameters() if id(p) not in seen]
    groups: list[dict[str, Any]] = []
    if other:
        groups.append({"params": other, "name": "other", **defaults})
    if akps:
        group: dict[str, Any] = {"params": akps, "name": "akp", **defaults}
        if akp_lr is not None:
            group["lr"] = akp_lr
        if akp_weight_decay is not None:
            group["weight_decay"] = akp_weight_decay
        groups.append(group)
    return groups
