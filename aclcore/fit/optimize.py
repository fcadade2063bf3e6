"""Batched minimisers: many small independent problems solved in one vectorised optimisation.

A problem batch is a tensor ``x`` of shape ``(B, d)`` (``B`` independent problems of ``d``
unknowns each) and a function ``loss(x) -> (B,)`` whose entry ``b`` depends on row ``b``
only. Both minimisers treat the rows as separate problems, so one slow or diverging problem
never holds back or perturbs another:

* :func:`adam`: Adam on the summed loss (Adam is element-wise, so this is exactly ``B``
  independent Adam runs), keeping each row's best point seen so far; rows whose loss turns
  NaN/inf are sent back to their best point.
* :func:`lbfgs`: limited-memory BFGS with a per-row history (two-loop recursion over
  ``(B, m, d)`` tensors) and a per-row backtracking Armijo line search; a row stops once its
  loss stops improving.

Both return the best point of every row and its loss. Nothing here is random: the same
start gives the same result.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

__all__ = ["LossFn", "Minimum", "adam", "lbfgs", "loss_and_grad"]

#: ``loss(x)`` for a batch ``x`` of shape ``(B, d)``: one loss per row, shape ``(B,)``.
LossFn = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Minimum:
    """The best point found for every row of a batch.

    Attributes:
        x: the points, ``(B, d)``.
        loss: their losses, ``(B,)`` (``inf`` where every evaluation was non-finite).
    """

    x: torch.Tensor
    loss: torch.Tensor


def loss_and_grad(fn: LossFn, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(loss, gradient)`` of every row at ``x``; non-finite losses become ``inf`` with a
    zero gradient, non-finite gradient entries become 0."""
    with torch.enable_grad():
        xg = x.detach().requires_grad_(True)
        loss = fn(xg)
        finite = torch.isfinite(loss)
        total = torch.where(finite, loss, torch.zeros_like(loss)).sum()
        (grad,) = torch.autograd.grad(total, xg, allow_unused=True) if xg.shape[1] else (None,)
    grad = torch.zeros_like(x) if grad is None else torch.nan_to_num(grad, 0.0, 0.0, 0.0)
    loss = torch.where(finite, loss.detach(), torch.full_like(loss, torch.inf))
    return loss, grad


def adam(fn: LossFn, x0: torch.Tensor, *, steps: int, lr: float = 0.05,
         betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> Minimum:
    """Minimise every row of ``x0`` with ``steps`` Adam steps of learning rate ``lr``.

    Returns each row's best point over the run (Adam does not decrease the loss
    monotonically).
    """
    x = x0.detach().clone()
    best_x = x.clone()
    best = torch.full(x.shape[:1], torch.inf, dtype=x.dtype, device=x.device)
    if x.shape[1] == 0 or steps <= 0:
        loss, _ = loss_and_grad(fn, x)
        return Minimum(x, loss)
    m = torch.zeros_like(x)
    v = torch.zeros_like(x)
    b1, b2 = betas
    for step in range(1, steps + 1):
        loss, grad = loss_and_grad(fn, x)
        improved = loss < best
        best = torch.where(improved, loss, best)
        best_x = torch.where(improved[:, None], x, best_x)
        bad = ~torch.isfinite(loss)
        if bool(bad.any()):  # back to the best point, forget the moments of that row
            x = torch.where(bad[:, None], best_x, x)
            m = torch.where(bad[:, None], torch.zeros_like(m), m)
            v = torch.where(bad[:, None], torch.zeros_like(v), v)
            grad = torch.where(bad[:, None], torch.zeros_like(grad), grad)
        m = b1 * m + (1 - b1) * grad
        v = b2 * v + (1 - b2) * grad * grad
        m_hat = m / (1 - b1**step)
        v_hat = v / (1 - b2**step)
        x = x - lr * m_hat / (v_hat.sqrt() + eps)
    loss, _ = loss_and_grad(fn, x)
    improved = loss < best
    return Minimum(torch.where(improved[:, None], x, best_x), torch.where(improved, loss, best))


def _direction(grad: torch.Tensor, s: torch.Tensor, y: torch.Tensor, rho: torch.Tensor,
               newest: torch.Tensor) -> torch.Tensor:
    """The L-BFGS direction ``-H grad`` of every row (two-loop recursion, ring buffers).

    ``s``, ``y``: ``(B, m, d)`` histories; ``rho``: ``(B, m)``, 0 for empty slots;
    ``newest``: ``(B,)`` index of each row's newest slot (-1 when empty).
    """
    batch, mem, _ = s.shape
    q = grad.clone()
    alphas = torch.zeros(batch, mem, dtype=grad.dtype, device=grad.device)
    rows = torch.arange(batch, device=grad.device)
    order = [(newest - i) % mem for i in range(mem)]  # newest first
    for idx in order:
        si, yi, ri = s[rows, idx], y[rows, idx], rho[rows, idx]
        a = ri * (si * q).sum(-1)
        alphas[rows, idx] = a
        q = q - a[:, None] * yi
    has = newest >= 0
    last = newest.clamp_min(0)
    s_new, y_new = s[rows, last], y[rows, last]
    yy = (y_new * y_new).sum(-1)
    gamma = torch.where(has & (yy > 0), (s_new * y_new).sum(-1) / yy.clamp_min(1e-300),
                        torch.ones_like(yy))
    r = gamma[:, None] * q
    for idx in reversed(order):
        si, yi, ri = s[rows, idx], y[rows, idx], rho[rows, idx]
        b = ri * (yi * r).sum(-1)
        r = r + si * (alphas[rows, idx] - b)[:, None]
    return -r


def lbfgs(fn: LossFn, x0: torch.Tensor, *, steps: int, memory: int = 8,
          line_search: int = 12, c1: float = 1e-4, ftol: float = 1e-12) -> Minimum:
    """Minimise every row of ``x0`` with up to ``steps`` L-BFGS iterations.

    Each row keeps its own ``memory`` curvature pairs and line search (backtracking from the
    unit step, Armijo constant ``c1``, at most ``line_search`` halvings; the first step of a
    row is scaled to length at most 1). A row stops when its line search fails or its loss
    improves by less than ``ftol`` (relative). Pairs with non-positive curvature are skipped.
    """
    x = x0.detach().clone()
    loss, grad = loss_and_grad(fn, x)
    batch, dim = x.shape
    if dim == 0 or steps <= 0:
        return Minimum(x, loss)
    s = torch.zeros(batch, memory, dim, dtype=x.dtype, device=x.device)
    y = torch.zeros_like(s)
    rho = torch.zeros(batch, memory, dtype=x.dtype, device=x.device)
    newest = torch.full((batch,), -1, dtype=torch.long, device=x.device)
    active = torch.isfinite(loss)
    rows = torch.arange(batch, device=x.device)
    for _ in range(steps):
        if not bool(active.any()):
            break
        direction = _direction(grad, s, y, rho, newest)
        slope = (direction * grad).sum(-1)
        fresh = newest < 0
        gnorm = grad.norm(dim=-1)
        steepest = -grad / gnorm.clamp_min(1.0)[:, None]  # first step: length <= 1
        uphill = ~(slope < 0) | fresh
        direction = torch.where(uphill[:, None], steepest, direction)
        slope = torch.where(uphill, (steepest * grad).sum(-1), slope)
        active = active & (slope < 0)
        t = torch.ones(batch, dtype=x.dtype, device=x.device)
        accepted = torch.zeros(batch, dtype=torch.bool, device=x.device)
        new_x, new_loss, new_grad = x.clone(), loss.clone(), grad.clone()
        for _ls in range(line_search):
            trying = active & ~accepted
            if not bool(trying.any()):
                break
            cand = x + t[:, None] * direction
            f, g = loss_and_grad(fn, cand)
            ok = trying & torch.isfinite(f) & (f <= loss + c1 * t * slope)
            new_x = torch.where(ok[:, None], cand, new_x)
            new_loss = torch.where(ok, f, new_loss)
            new_grad = torch.where(ok[:, None], g, new_grad)
            accepted = accepted | ok
            t = torch.where(trying & ~ok, t * 0.5, t)
        step_s = new_x - x
        step_y = new_grad - grad
        sy = (step_s * step_y).sum(-1)
        store = accepted & (sy > 1e-12 * (step_y * step_y).sum(-1).clamp_min(1e-300))
        slot = torch.where(store, (newest + 1) % memory, newest.clamp_min(0))
        s[rows, slot] = torch.where(store[:, None], step_s, s[rows, slot])
        y[rows, slot] = torch.where(store[:, None], step_y, y[rows, slot])
        rho[rows, slot] = torch.where(store, 1.0 / sy.clamp_min(1e-300), rho[rows, slot])
        newest = torch.where(store, slot, newest)
        gain = loss - new_loss
        x, loss, grad = new_x, new_loss, new_grad
        active = active & accepted & (gain > ftol * loss.abs().clamp_min(1e-30))
    return Minimum(x, loss)
