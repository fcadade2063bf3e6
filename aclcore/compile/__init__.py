"""Stage 2 of the pipeline: a :class:`~aclcore.symbolic.KernelFamily` -> a torch function.

:func:`compile_family` lowers a family's SymPy expression through the function table
(:mod:`aclcore.symbolic.functions`) to the source of a torch function (:mod:`.codegen`),
substitutes the limits of removable singularities (:mod:`.singular`), guards gradients
(:mod:`.safe`) and caches the result by the canonical expression (:mod:`.compiler`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aclcore.compile.compiler import (
        CompiledFamily,
        clear_cache,
        compile_expr,
        compile_family,
    )

__all__ = ["CompiledFamily", "clear_cache", "compile_expr", "compile_family"]


def __getattr__(name: str) -> object:
    """The compiler's names, imported on first use (torch comes with them; the SymPy-only
    :mod:`.singular` can be used without it)."""
    if name in __all__:
        from aclcore.compile import compiler

        value = getattr(compiler, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'aclcore.compile' has no attribute {name!r}")
