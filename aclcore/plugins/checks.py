"""The checks the plugin loader runs on everything a plugin registers (cheap, once).

A function is evaluated and differentiated once on its declared domain (refused when it
writes into its arguments, changes their dtype, is not finite or has no gradient); a family
is compiled and evaluated at its typical AKPs on a small grid. Deeper checks (hypothesis over
the whole domain, gradients of every AKP, pickling, ``torch.compile``) live in
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


#: Taps per axis of the grid a registered family is evaluated on (odd: it has a centre tap).
CHECK_SIZE = 5


def check_family(family: object, plugin: str) -> KernelFamily:
    """Check that ``family`` is a :class:`KernelFamily`, compiles, and is finite at its
    typical AKPs (:func:`typical_values`) on a 5-tap grid along each axis, in float64.

    A family that is singular where a layer would sample it (``s/x`` on the centre tap) is
    refused here, listed by ``acl plugins``, instead of failing when a layer is built.

    Raises:
        PluginError: ``family`` is not a :class:`KernelFamily`.
        CompileError: as raised by :func:`~aclcore.compile.compile_family`.
        NonFiniteKernelError: naming the tap and the AKP values.
    """
    from aclcore.compile import compile_family  # the compiler is heavier than this module

    if not isinstance(family, KernelFamily):
        raise PluginError(
            f"plugin {plugin!r} registered {family!r:.80} (a {type(family).__name__}), "
            "which is not an aclcore.KernelFamily"
        )
    compiled = compile_family(family)
    # the taps -2..2 along each axis, broadcast like a kernel grid (the grid convention's
    # orientation does not matter for finiteness)
    axis = torch.arange(CHECK_SIZE, dtype=torch.float64) - (CHECK_SIZE - 1) / 2
    grid = tuple(axis.reshape([-1 if d == family.ndim - 1 - i else 1
                               for d in range(family.ndim)]) for i in range(family.ndim))
    values = {n: torch.tensor(v, dtype=torch.float64) for n, v in typical_values(family).items()}
    compiled(grid, values)  # NonFiniteKernelError names the tap and the AKPs
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
    label = f"function {row.name!r}"
    plain = [points.roll(i) for i in range(n)]
    before = [a.clone() for a in plain]
    out = _call(row, plain, label)  # plain tensors first: an in-place write shows as such
    if any(not torch.equal(a, b) for a, b in zip(plain, before, strict=True)):
        raise PluginError(
            f"{label} writes into its argument (an in-place operation such as t.clamp_()); "
            "aclcore passes tensors other kernels share: use the out-of-place form (t.clamp())"
        )
    if not isinstance(out, torch.Tensor) or out.shape != plain[0].shape:
        raise PluginError(
            f"{label} must return an element-wise tensor of the arguments' shape "
            f"{tuple(plain[0].shape)}, got {type(out).__name__} "
            f"{tuple(getattr(out, 'shape', ()))}"
        )
    if out.dtype != plain[0].dtype:
        raise PluginError(
            f"{label} returns {out.dtype} for {plain[0].dtype} arguments; an element-wise "
            "function must keep the dtype of its arguments (do not cast inside it)"
        )
    if not bool(torch.isfinite(out).all()):
        raise PluginError(f"{label} is not finite on its domain {row.domain}: {out.tolist()}")
    if not row.differentiable:
        return
    args = [a.clone().requires_grad_(True) for a in plain]
    out = _call(row, args, label)
    if not isinstance(out, torch.Tensor) or not out.requires_grad:
        raise PluginError(
            f"{label}: torch cannot differentiate its implementation; pass "
            "grad=lambda *args: (d/darg1, ...) to register(...)"
        )
    grads = [g for g in torch.autograd.grad(out.sum(), args, allow_unused=True) if g is not None]
    if not grads or not all(bool(torch.isfinite(g).all()) for g in grads):
        raise PluginError(f"{label}: its gradient is missing or not finite on {row.domain}")


def _call(row: TorchFunction, args: list[torch.Tensor], label: str) -> object:
    try:
        return row.torch(*args)
    except Exception as err:
        raise PluginError(
            f"{label} raised {type(err).__name__}: {err} when called with {len(args)} "
            f"float64 tensor(s) in its domain {row.domain}"
        ) from err
