"""torch.compile against eager execution, for the layer tests."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


def assert_compiled_matches_eager(layer: nn.Module, inp: torch.Tensor) -> Any:
    """Compile ``layer`` (fullgraph, ``aot_eager``) and assert that its output and every
    parameter's gradient of ``out.square().sum()`` equal eager execution's; returns the
    compiled module (its parameters' gradients are those of the eager pass)."""
    torch.compiler.reset()
    compiled = torch.compile(layer, fullgraph=True, backend="aot_eager")
    out = compiled(inp)
    out.square().sum().backward()
    grads = {n: p.grad.clone() for n, p in layer.named_parameters() if p.grad is not None}
    layer.zero_grad()
    ref = layer(inp)
    ref.square().sum().backward()
    torch.testing.assert_close(out, ref)
    for n, p in layer.named_parameters():
        assert p.grad is not None
        torch.testing.assert_close(grads[n], p.grad)
    return compiled
