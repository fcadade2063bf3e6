"""An opt-in check that names the first non-finite AKP gradient: layer, family, AKP, tap.

Values are checked on every sampling (``NonFiniteKernelError``), gradients are not: a NaN
gradient would quietly turn AKPs into NaN at the next optimiser step. :func:`watch_gradients`
hooks every AKP and gain of a model's analytic layers; the first gradient that is not finite
raises :class:`~aclcore.errors.NonFiniteGradientError` from ``backward()``, after finding
where it came from: the kernel (output and input channel) and the tap of the kernel grid whose
derivative is not finite, or the normalisation when every tap's own derivative is.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from aclcore.errors import NonFiniteGradientError
from aclcore.nn.blocks import AnalyticBlock
from aclcore.nn.functional import sample_kernels
from aclcore.nn.grid import kernel_grid
from aclcore.nn.layers import AnalyticConvNd

__all__ = ["GradientWatch", "watch_gradients"]


class GradientWatch:
    """The hooks of :func:`watch_gradients`; :meth:`remove` (or leaving the ``with``) ends it."""

    def __init__(self, handles: list[Any]) -> None:
        self._handles = handles

    def remove(self) -> None:
        """Remove every hook."""
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def __enter__(self) -> GradientWatch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


def watch_gradients(model: nn.Module) -> GradientWatch:
    """Check every AKP and gain gradient of ``model``'s analytic layers as it is computed.

    Use it while looking for the cause of NaN AKPs (each check costs a pass over the
    gradient)::

        with aclcore.nn.watch_gradients(model):
            loss.backward()   # NonFiniteGradientError: layer 'features.0', family ...

    Returns:
        A :class:`GradientWatch`; call ``remove()`` or use it as a context manager.
    """
    handles: list[Any] = []
    for path, layer in model.named_modules():
        if not isinstance(layer, AnalyticConvNd):
            continue
        for block in layer.analytic:
            start = next(b.start for b in layer.mosaic if b.name == block.family.name)
            for name in block.akp_names:
                handles.append(block.raw(name).register_hook(  # type: ignore[no-untyped-call]
                    _hook(path, layer, block, start, name)))
            if block.gain is not None:
                hook = _hook(path, layer, block, start, None)
                handles.append(block.gain.register_hook(hook))  # type: ignore[no-untyped-call]
    return GradientWatch(handles)


def _hook(path: str, layer: AnalyticConvNd, block: AnalyticBlock, start: int,
          akp: str | None) -> Any:
    def check(grad: torch.Tensor) -> None:
        if bool(torch.isfinite(grad).all()):
            return
        row, col = (int(i) for i in (~torch.isfinite(grad)).nonzero()[0])
        what = f"AKP {akp!r}" if akp is not None else "the gain"
        where = _tap(layer, block, akp, row, col) if akp is not None else ""
        raise NonFiniteGradientError(
            f"layer {path or type(layer).__name__!r}, family {block.family.name!r}: the "
            f"gradient of {what} is {float(grad[row, col])} for the kernel (out {start + row}, "
            f"in {col if grad.shape[1] > 1 else 'all'}){where}. Keep the AKPs away from where "
            "the formula's derivative is infinite (constraints), or rewrite the formula"
        )
    return check


def _tap(layer: AnalyticConvNd, block: AnalyticBlock, akp: str, row: int, col: int) -> str:
    """Where the derivative of one kernel with respect to ``akp`` is not finite."""
    with torch.enable_grad():
        values = {n: v.detach()[row:row + 1, col:col + 1].clone()
                  for n, v in block.values().items()}
        values[akp].requires_grad_(True)
        shown = ", ".join(f"{n}={float(v.detach()):.6g}" for n, v in values.items())
        for mode in ("none", layer.normalize_modes[block.family.name]):
            kernel = sample_kernels(
                block.compiled, values, layer.kernel_size, layer.dilation,
                discretization=layer.discretization, quadrature=layer.quadrature,
                normalize=mode, check_finite=False).flatten()
            for tap in range(kernel.numel()):
                (g,) = torch.autograd.grad(kernel[tap], values[akp], retain_graph=True,
                                           allow_unused=True)
                if g is not None and not bool(torch.isfinite(g).all()):
                    grid = kernel_grid(layer.kernel_size, layer.dilation, dtype=torch.float64)
                    index = torch.unravel_index(torch.tensor(tap), tuple(layer.kernel_size))
                    coords = ", ".join(
                        f"{c}={float(torch.broadcast_to(t, layer.kernel_size)[index]):g}"
                        for c, t in zip(block.family.coord_names, grid, strict=True))
                    stage = "" if mode == "none" else f" after the {mode!r} normalisation"
                    return f", at tap ({coords}){stage}, AKPs ({shown})"
    return f" (every tap's own derivative is finite), AKPs ({shown})"
