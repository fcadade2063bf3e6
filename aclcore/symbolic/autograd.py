"""Custom gradients for torch functions that torch cannot differentiate.

:func:`with_grad` turns a torch function plus its partial derivatives into a differentiable
function: the plugin functions registered with ``grad=``, and aclcore's own Bessel functions.
It works under ``torch.func`` (``grad``, ``vmap``, ``jacrev``) as well as plain autograd, and to
higher orders where the partials are differentiable.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

__all__ = ["Partials", "unbroadcast", "with_grad"]

#: ``partials(*args)``: the partial derivative with respect to each argument (None: none).
Partials = Callable[..., Sequence[torch.Tensor | float | None]]


def unbroadcast(grad: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """Sum ``grad`` over the dimensions that broadcasting added to a tensor of ``shape``."""
    if grad.shape == shape:
        return grad
    extra = grad.dim() - len(shape)
    if extra > 0:
        grad = grad.sum(dim=tuple(range(extra)))
    dims = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if dims:
        grad = grad.sum(dim=dims, keepdim=True)
    return grad


def with_grad(fn: Callable[..., torch.Tensor], partials: Partials) -> Callable[..., Any]:
    """Wrap ``fn`` so that autograd uses ``partials(*args)`` (one entry per argument).

    ``partials`` returns the partial derivative of ``fn`` with respect to each argument
    (``None`` for arguments that are not differentiated, e.g. an integer order). If the
    partials are written with differentiable torch operations, higher derivatives work too.
    """

    class _Fn(torch.autograd.Function):
        generate_vmap_rule = True  # torch.func.vmap derives the batching from forward/backward

        @staticmethod
        def forward(*args: Any) -> torch.Tensor:
            out = fn(*args)
            # an implementation that returns an argument itself must hand back a view of it
            return out.view_as(out) if any(out is a for a in args) else out

        @staticmethod
        def setup_context(ctx: Any, inputs: tuple[Any, ...], output: torch.Tensor) -> None:
            ctx.constants = [None if isinstance(a, torch.Tensor) else a for a in inputs]
            ctx.save_for_backward(*[a for a in inputs if isinstance(a, torch.Tensor)])

        @staticmethod
        def backward(ctx: Any, grad: torch.Tensor) -> Any:
            saved = iter(ctx.saved_tensors)
            args = [next(saved) if c is None else c for c in ctx.constants]
            parts = partials(*args)
            out: list[torch.Tensor | None] = []
            for arg, part, need in zip(args, parts, ctx.needs_input_grad, strict=True):
                if not need or part is None or not isinstance(arg, torch.Tensor):
                    out.append(None)
                else:
                    out.append(unbroadcast(grad * part, arg.shape))
            return tuple(out)

    _Fn.__name__ = f"{getattr(fn, '__name__', 'fn')}_with_grad"
    _Fn.__qualname__ = _Fn.__name__

    def apply(*args: Any) -> torch.Tensor:
        out: torch.Tensor = _Fn.apply(*args)  # type: ignore[no-untyped-call]
        return out

    apply.__name__ = getattr(fn, "__name__", "fn")
    apply.__doc__ = getattr(fn, "__doc__", None)
    return apply
