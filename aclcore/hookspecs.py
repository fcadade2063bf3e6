"""The hooks a plugin can implement, and the markers to implement them with.

A plugin is a module (or any object) with functions marked by :data:`hookimpl`, made visible
to aclcore by an entry point in the ``aclcore`` group::

    [project.entry-points.aclcore]
    my_plugin = "my_package"

Hooks only ever gain arguments, so a plugin written today keeps working: an implementation
may accept any subset of a hook's arguments. Every hook is called once per process (per
registry), lazily, the first time a family or a plugin function is needed, never at
``import aclcore``. Each plugin's hooks run in isolation: an exception is recorded as a
failure of that plugin only (see :mod:`aclcore.plugins`).

The ``register`` callables handed to the hooks are described by the protocols
:class:`RegisterFamily` and :class:`RegisterFunction`. A hook calls ``register`` for each
item and returns ``None``: a hook written as a generator (``yield``) or ``async`` function,
or one that returns a value, is recorded as a failure of its plugin.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import pluggy

if TYPE_CHECKING:
    import torch

    from aclcore.symbolic.family import KernelFamily

__all__ = [
    "PROJECT_NAME",
    "RegisterFamily",
    "RegisterFunction",
    "acl_register_families",
    "acl_register_functions",
    "hookimpl",
    "hookspec",
]

#: The pluggy project name; also the entry-point group plugins are discovered from.
PROJECT_NAME = "aclcore"

#: Marks the hook specifications below (used by aclcore only).
hookspec = pluggy.HookspecMarker(PROJECT_NAME)

#: Marks a plugin's hook implementations: ``@aclcore.hookimpl def acl_register_families(...)``.
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


class RegisterFamily(Protocol):
    """The ``register`` argument of :func:`acl_register_families`."""

    def __call__(self, family: KernelFamily) -> None:
        """Register one :class:`~aclcore.KernelFamily` under its name.

        The family is compiled before it is accepted; a problem (not a KernelFamily, fails
        to compile, name already taken) is recorded as a failure of the plugin and the
        family is skipped; the plugin's other families are still registered.
        """


class RegisterFunction(Protocol):
    """The ``register`` argument of :func:`acl_register_functions`."""

    def __call__(
        self,
        sympy_function: Any,
        torch_function: Callable[..., torch.Tensor] | str,
        *,
        grad: Callable[..., Sequence[torch.Tensor | float | None]] | None = None,
        name: str | None = None,
        doc: str = "",
        domain: tuple[float, float] = (-3.0, 3.0),
        constant_args: tuple[int, ...] = (),
    ) -> None:
        """Add a SymPy function and its torch implementation to the translation table.

        Args:
            sympy_function: a ``sympy.Function`` subclass (or ``sympy.Function("name")``).
            torch_function: its element-wise, broadcasting torch implementation, or the
                import path of it (``"torch.special:i0e"``, ``"my_plugin.ops:f"``): then
                neither torch nor that module is imported until a formula using the function
                is compiled (or ``acl plugins --check`` checks it), so listing families
                stays fast.
            grad: only where torch cannot differentiate ``torch_function``: a callable taking
                the same arguments and returning the partial derivative with respect to each
                argument (``None`` for constant arguments).
            name: the name in formula strings (default: the SymPy function's name).
            doc: the lowering as shown in the translation-table docs.
            domain: an interval where every argument may be sampled; the function is
                evaluated (and differentiated) there once before it is accepted (one given
                by import path: when it is imported).
            constant_args: positions of arguments that must be numeric constants.
        """


@hookspec
def acl_register_functions(register: RegisterFunction) -> None:
    """Add special functions to the SymPy -> torch translation table.

    What:
        Teach aclcore a function the core translation table lacks, so that families (yours
        or anyone's) can use it in their formulas.
    When:
        Once per process, on the first family look-up, before any plugin's
        :func:`acl_register_families`, so every family can use every plugin's functions.
    Arguments:
        register: ``register(sympy_function, torch_function, *, grad=None, name=None,
            doc="", domain=(-3, 3), constant_args=())`` (:class:`RegisterFunction`); call it
            once per function.
    What to register:
        Element-wise functions with a torch implementation that broadcasts; pass ``grad``
        where torch has no derivative. A name that is built in or already registered by
        another plugin is a failure naming both providers.
    """


@hookspec
def acl_register_families(register: RegisterFamily) -> None:
    """Add kernel families to the registry.

    What:
        Provide analytic kernel families by name, for layers (``families="gabor"``), the
        CLI and JSON import.
    When:
        Once per process, on the first family look-up (``aclcore.get_family``,
        ``aclcore.families``, a layer, ``acl families``), after every plugin's
        :func:`acl_register_functions`.
    Arguments:
        register: ``register(family)`` (:class:`RegisterFamily`); call it once per family.
    What to register:
        :class:`~aclcore.KernelFamily` values with lowercase names, maths in the docstring
        of the declaring module, init ranges, constraints, normalisation and symmetries.
        Each should pass :func:`aclcore.testing.assert_family_ok`.
    """
