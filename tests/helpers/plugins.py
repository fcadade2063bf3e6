"""Fake plugins and entry points for the plugin-system tests (no installation needed)."""

from __future__ import annotations

import types
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sympy as sp
import torch

from aclcore import KernelFamily, Param, hookimpl
from aclcore.plugins import plugin_loader
from aclcore.plugins.registry import Registry, use_registry

x = sp.Symbol("x", real=True)
s = sp.Symbol("s", real=True)


def family(name: str, expr: sp.Expr | None = None) -> KernelFamily:
    """A small valid 1-D family called ``name``."""
    return KernelFamily(
        name=name,
        expr=expr if expr is not None else sp.exp(-(x**2) / (2 * s**2)),
        coords=(x,),
        params=[Param(s, init=(0.5, 2.0), constraint="positive")],
    )


def plugin(
    name: str,
    *,
    families: Iterable[Any] | Callable[[], Iterable[Any]] = (),
    functions: Iterable[tuple[Any, ...]] = (),
    raise_in: str | None = None,
) -> types.ModuleType:
    """A plugin module implementing both hooks.

    ``families`` may be a callable, called inside the hook (families that use a function the
    plugin registers must be built there). ``functions`` are ``(sympy_fn, torch_fn, options)``
    triples. ``raise_in`` names a hook that raises ``RuntimeError`` after registering.
    """
    module = types.ModuleType(name)

    @hookimpl
    def acl_register_functions(register: Any) -> None:
        for sym, fn, options in functions:
            register(sym, fn, **options)
        if raise_in == "acl_register_functions":
            raise RuntimeError(f"{name} is broken in acl_register_functions")

    @hookimpl
    def acl_register_families(register: Any) -> None:
        for fam in families() if callable(families) else families:
            register(fam)
        if raise_in == "acl_register_families":
            raise RuntimeError(f"{name} is broken in acl_register_families")

    module.acl_register_functions = acl_register_functions  # type: ignore[attr-defined]
    module.acl_register_families = acl_register_families  # type: ignore[attr-defined]
    return module


@dataclass
class FakeDist:
    """The part of ``importlib.metadata.Distribution`` the loader reads."""

    name: str
    version: str


@dataclass
class FakeEntryPoint:
    """An entry point whose ``load()`` returns ``obj`` or raises ``error``."""

    name: str
    obj: object = None
    error: BaseException | None = None
    dist: FakeDist | None = None
    value: str = "fake_module"
    group: str = "aclcore"

    def load(self) -> object:
        if self.error is not None:
            raise self.error
        return self.obj


def ep(name: str, obj: object = None, *, dist: str | None = None, version: str = "1.0",
       error: BaseException | None = None) -> FakeEntryPoint:
    """A fake entry point, optionally from distribution ``dist`` at ``version``."""
    return FakeEntryPoint(name, obj, error, FakeDist(dist, version) if dist else None,
                          value=f"{name}_module")


@contextmanager
def loaded(*entry_points: Any, **options: Any) -> Iterator[Registry]:
    """A fresh registry (current inside the block) that loads ``entry_points`` on first need."""
    registry = Registry(loader=plugin_loader(entry_points=list(entry_points), **options))
    with use_registry(registry):
        yield registry


def no_grad_i0(t: torch.Tensor) -> torch.Tensor:
    """``I0`` from torch.special, which has no gradient in torch."""
    return torch.special.modified_bessel_i0(t)
