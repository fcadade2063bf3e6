"""The checks the plugin loader runs on everything a plugin registers (cheap, once).

A function is evaluated and differentiated once on its declared domain; a family is
compiled. Deeper checks (hypothesis over the
whole domain, gradients of every AKP, pickling, ``torch.compile``) live in
:mod:`aclcore.testing`, which plugin authors run in their own test suites.
"""

from __future__ import annotations

import torch

from aclcore.errors import PluginError
from aclcore.symbolic.family import KernelFamily
from aclcore.symbolic.functions import TorchFunction

__all__ = ["check_family", "check_function", "typical_values"]


def typical_values(family: KernelFamily) -> dict[str, float]:
    """A typical value of each AKP: the init value, or the midpoint of an init range."""
    values = {}
    for p in family.params:
        init = p.init
        values[p.name] = (init[0] + init[1]) / 2 if isinstance(init, tuple) else float(init)  # type: ignore[arg-type]
    return values


def check_family(family: object, plugin: str) -> KernelFamily:
    """Check that ``family`` is a :class:`KernelFamily` and compiles (the result is cached).

    Evaluation is left to first use and to :mod:`aclcore.testing`: the first evaluation of
    any kernel in a process costs a one-off torch import that plugin discovery should not pay.

    Raises:
        PluginError: ``family`` is not a :class:`KernelFamily`.
        CompileError: as raised by :func:`~aclcore.compile.compiler.compile_family`.
    """
    from aclcore.compile.compiler import compile_family  # the compiler is heavier than this module

    if not isinstance(family, KernelFamily):
        raise PluginError(
            f"plugin {plugin!r} registered {family!r:.80} (a {type(family).__name__}), "
            "which is not an aclcore.KernelFamily"
        )
    compile_family(family)
    return family


def check_function(row: TorchFunction) -> None:
    """Evaluate ``row.torch`` once on its domain and, if differentiable, differentiate it.

    Functions with constant arguments (e.g. an order) are not evaluated: which constants are
    valid is up to the function.

    Raises:
        PluginError: naming the function and what is wrong (not a tensor, wrong shape, not
            finite, no gradient: pass ``grad=``).
    """
    if row.constant_args:
        return
    lo, hi = row.domain
    n = min(row.arity)
    points = torch.tensor([lo + (hi - lo) * i / 6 for i in range(7)], dtype=torch.float64)
    args = [points.roll(i).requires_grad_(row.differentiable) for i in range(n)]
    label = f"function {row.name!r}"
    try:
        out = row.torch(*args)
    except Exception as err:
        raise PluginError(
            f"{label} raised {type(err).__name__}: {err} when called with {n} float64 "
            f"tensor(s) in its domain {row.domain}"
        ) from err
    if not isinstance(out, torch.Tensor) or out.shape != args[0].shape:
        raise PluginError(
            f"{label} must return an element-wise tensor of the arguments' shape "
            f"{tuple(args[0].shape)}, got {type(out).__name__} "
            f"{tuple(getattr(out, 'shape', ()))}"
        )
    if not bool(torch.isfinite(out).all()):
        raise PluginError(f"{label} is not finite on its domain {row.domain}: {out.tolist()}")
    if not row.differentiable:
        return
    if not out.requires_grad:
        raise PluginError(
            f"{label}: torch cannot differentiate its implementation; pass "
            "grad=lambda *args: (d/darg1, ...) to register(...)"
        )
    grads = [g for g in torch.autograd.grad(out.sum(), args, allow_unused=True) if g is not None]
    if not grads or not all(bool(torch.isfinite(g).all()) for g in grads):
        raise PluginError(f"{label}: its gradient is missing or not finite on {row.domain}")
