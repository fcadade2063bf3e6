"""Compile a :class:`~aclcore.symbolic.KernelFamily` to a fast, differentiable torch function.

``compile_family(family)`` returns a :class:`CompiledFamily`, called as
``compiled(coords, params)``: coordinate tensors in the family's coordinate order and
parameter tensors keyed by name, all broadcast together. The generated Python source is kept
(``compiled.source``) and registered with :mod:`linecache`, so tracebacks show it. Results are
cached by the canonical expression and the options.

Numerical safety, all decided at compile time so that the function stays branch-free (and
runs under ``torch.compile(fullgraph=True)``):

* Piecewise branches and removable-singularity branches are guarded so that unused branches
  cannot leak NaN/Inf into values or gradients;
* a removable singularity where coordinates vanish (e.g. ``sin(r)/r`` on the centre tap) is
  replaced by its limit, computed by SymPy once (both orders of the iterated limit must agree);
* parameters that only enter conditions are linked into the graph with a zero gradient.

In eager mode every call checks the result and raises
:class:`~aclcore.errors.NonFiniteKernelError` naming the family, the tap and the AKP values
where it is NaN or infinite.
"""

from __future__ import annotations

import hashlib
import linecache
import math
import re
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sympy as sp
import torch

from aclcore.compile.codegen import Emitter
from aclcore.compile.gridcache import GridCache
from aclcore.compile.gridops import broadcast_shape as broadcast_shape
from aclcore.compile.singular import clear_resolved, resolve_singularities
from aclcore.errors import CompileError, ConfigError, NonFiniteKernelError
from aclcore.symbolic.family import KernelFamily
from aclcore.symbolic.functions import FunctionTable, active_table, complete_table

__all__ = ["CompiledFamily", "clear_cache", "compile_expr", "compile_family"]

_CACHE_SIZE = 512


@dataclass(frozen=True)
class _Core:
    """The shareable part of a compilation: generated function and its source."""

    function: Any
    source: str
    filename: str
    singular_sets: tuple[tuple[str, ...], ...]
    limits: tuple[sp.Expr, ...]
    explicit: sp.Expr
    grid_cache: GridCache | None


_cache: OrderedDict[Any, _Core] = OrderedDict()
_cache_lock = threading.Lock()


def clear_cache() -> None:
    """Forget every cached compilation and limit search (the next compile regenerates)."""
    with _cache_lock:
        _cache.clear()
    clear_resolved()


def _differentiable_symbols(expr: sp.Basic, table: FunctionTable) -> set[sp.Symbol]:
    """Symbols that reach the result through differentiable operations."""
    found: set[sp.Symbol] = set()
    stack = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, sp.Symbol):
            found.add(node)
        elif isinstance(node, sp.Piecewise):
            stack.extend(value for value, _ in node.args)
        elif isinstance(node, (sp.core.relational.Relational, sp.logic.boolalg.Boolean)):
            continue
        elif isinstance(node, sp.Function) and not isinstance(node, (sp.Max, sp.Min)):
            row = table.lookup(node.func)
            if row is None or row.differentiable:
                stack.extend(node.args)
        else:
            stack.extend(node.args)
    return found


def _generate(
    expr: sp.Expr,
    coords: Sequence[sp.Symbol],
    params: Sequence[sp.Symbol],
    label: str,
    singularities: bool,
    table: FunctionTable,
    positive: Sequence[sp.Symbol],
) -> _Core:
    symbol_vars = {c: f"c_{c.name}" for c in coords}
    symbol_vars.update({p: f"p_{p.name}" for p in params})
    em = Emitter(symbol_vars, set(coords), table)
    explicit, special = (resolve_singularities(expr, coords, positive) if singularities
                         else (expr, []))
    # the body for large banks (linear forms and the other rewrites: fewer passes over the
    # bank), then, if that used any, the body as written for small ones (fewer operations)
    wide = em.tensor(em.emit(explicit))
    variants = [(em.lines, wide)]
    if em.rewritten:
        em.restart(rewrites=False)
        variants.append((em.lines, em.tensor(em.emit(explicit))))
    linked = _differentiable_symbols(explicit, table)
    zero_links = [f"p_{p.name}" for p in params if p not in linked]
    if em.unsupported:
        raise CompileError(
            f"cannot compile {label}: unsupported "
            + "; ".join(em.unsupported)
            + ". Rewrite these parts, or register the function with the "
            "acl_register_functions hook.",
            em.unsupported,
        )
    if len(variants) == 1:
        lines = [*variants[0][0], f"_out = {variants[0][1]}"]
    else:
        (wide_lines, wide_out), (narrow_lines, narrow_out) = variants
        lines = ["if is_wide(_coords, _params):",
                 *[f"    {line}" for line in [*wide_lines, f"_out = {wide_out}"]],
                 "else:",
                 *[f"    {line}" for line in [*narrow_lines, f"_out = {narrow_out}"]]]
    lines += [f"_out = _out + 0.0 * {v}.sum()  # zero-gradient link" for v in zero_links]
    read = set(re.findall(r"\b_\w+\b", "\n".join(lines)))
    grid_vars = [v for v in em.grid_vars if v in read]
    grid_read = set(re.findall(r"\b_\w+\b", "\n".join(em.grid_lines)))
    grid_block: list[str] = []
    if grid_vars:  # coordinate-only values: computed here unless handed over (GridCache)
        grid_block = [
            "if _grid is None:",
            *(["    _zg = _anchor(_coords, {})"] if "_zg" in grid_read else []),
            *[f"    {line}" for line in em.grid_lines],
            f"    _grid = ({', '.join(grid_vars)},)",
            "    if _params is None:",
            "        return _grid",
            f"{', '.join(grid_vars)}, = _grid",
        ]
    body = [
        f"def kernel_{_ident(label)}(_coords, _params, _grid=None):",
        *([f"    {', '.join(symbol_vars[c] for c in coords)}, = _coords"] if coords else []),
        *[f"    {line}" for line in grid_block],
        *[f"    {symbol_vars[p]} = _params[{str(p.name)!r}]" for p in params],
        *(["    _z = _anchor(_coords, _params)"] if "_z" in read else []),
        *[f"    {line}" for line in lines],
        "    return _finish(_out, _coords, _params)",
    ]
    source = "\n".join(body) + "\n"
    digest = hashlib.sha1(source.encode()).hexdigest()[:10]
    filename = f"<aclcore kernel {label} {digest}>"
    namespace = dict(em.namespace, _anchor=_anchor, _finish=_finish)
    code = compile(source, filename, "exec")
    exec(code, namespace)  # generated from a validated SymPy tree, never from user text
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    fn = namespace[f"kernel_{_ident(label)}"]
    subsets = tuple(tuple(str(c.name) for c in s) for s, _ in special)
    return _Core(fn, source, filename, subsets, tuple(limit for _, limit in special), explicit,
                 GridCache(fn) if grid_vars else None)


def _ident(label: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in label)


def _anchor(coords: Sequence[torch.Tensor], params: Mapping[str, torch.Tensor]) -> torch.Tensor:
    tensors = [*coords, *params.values()]
    dtype = tensors[0].dtype
    for t in tensors[1:]:
        dtype = torch.promote_types(dtype, t.dtype)
    return torch.zeros((), dtype=dtype, device=tensors[0].device)


def _finish(
    out: torch.Tensor, coords: Sequence[torch.Tensor], params: Mapping[str, torch.Tensor]
) -> torch.Tensor:
    shapes = [*(t.shape for t in coords), *(t.shape for t in params.values())]
    shape = broadcast_shape(*shapes)
    if shape is None:  # torch's error names the shapes
        shape = torch.broadcast_shapes(*shapes)  # type: ignore[no-untyped-call]
    return out if out.shape == shape else out.expand(shape)


class CompiledFamily:
    """A family compiled to torch: ``compiled(coords, params) -> Tensor``.

    Attributes:
        family: the :class:`~aclcore.symbolic.family.KernelFamily` it was built from.
        source: the generated Python source (also shown in tracebacks).
        singular_limits: the limit substituted on each of ``singular_sets``.
        singular_sets: coordinate subsets (e.g. ``("x", "y")``: the origin) where the limit of
            a removable singularity is substituted.
    """

    def __init__(self, family: KernelFamily, core: _Core, singularities: bool) -> None:
        self.family = family
        self._core = core
        self._singularities = singularities
        self.source: str = core.source
        self.filename: str = core.filename
        self.singular_sets = core.singular_sets
        self.singular_limits = core.limits
        self.function = core.function

    @property
    def explicit_expr(self) -> sp.Expr:
        """The formula exactly as computed: removable singularities as Piecewise branches.

        ``Piecewise((limit, Eq(x, 0) & Eq(y, 0)), ..., (expr, True))`` where the compiler
        substitutes limits (inside a Piecewise, in the branch whose limit it is); the plain
        expression otherwise. Evaluating it with any evaluator (SymPy, mpmath) reproduces the
        compiled values, also on the singular taps.
        """
        return self._core.explicit

    def __repr__(self) -> str:
        return f"<CompiledFamily {self.family.name!r} {self.family.coord_names}>"

    def __reduce__(self) -> tuple[Any, ...]:
        return (compile_family, (self.family,), {"_singularities": self._singularities})

    def __setstate__(self, state: Mapping[str, Any]) -> None:
        if state.get("_singularities") is False:
            self.__dict__.update(compile_family(self.family, singularities=False).__dict__)

    def __call__(
        self,
        coords: Sequence[torch.Tensor | float],
        params: Mapping[str, torch.Tensor | float],
        *,
        check_finite: bool = True,
    ) -> torch.Tensor:
        """Evaluate the kernel; inputs broadcast together.

        Args:
            coords: one tensor (or number) per coordinate, in the family's order.
            params: one tensor (or number) per parameter, keyed by name.
            check_finite: in eager mode, raise :class:`NonFiniteKernelError` where the result
                is NaN or infinite (skipped while ``torch.compile`` traces).
        """
        fam = self.family
        if len(coords) != fam.ndim:
            raise ConfigError(
                f"family {fam.name!r} takes {fam.ndim} coordinate tensor(s) "
                f"{fam.coord_names}, got {len(coords)}"
            )
        fam.check_param_names(params)
        cs = tuple(_as_float_tensor(c) for c in coords)
        ps = {n: _as_float_tensor(params[n]) for n in fam.param_names}
        return self.evaluate(cs, ps, check_finite=check_finite)

    def evaluate(
        self,
        coords: Sequence[torch.Tensor],
        params: Mapping[str, torch.Tensor],
        *,
        check_finite: bool = True,
    ) -> torch.Tensor:
        """:meth:`__call__` for inputs already checked: floating tensors, one per coordinate
        and exactly the family's AKPs (what :func:`aclcore.nn.functional.sample_kernels`
        hands over after its own checks, so nothing is checked twice per sampling)."""
        cs, ps = coords, params
        cache = self._core.grid_cache
        grid = cache.lookup(cs) if cache is not None else None
        out: torch.Tensor = self.function(cs, ps, grid)
        if check_finite:
            self.check_finite(out, cs, ps)
        return out

    def check_finite(
        self,
        out: torch.Tensor,
        coords: Sequence[torch.Tensor],
        params: Mapping[str, torch.Tensor],
        *,
        reduced: torch.Tensor | None = None,
    ) -> None:
        """Raise :class:`NonFiniteKernelError` where ``out`` (this family's values at
        ``coords``, ``params``) is NaN or infinite; nothing while ``torch.compile`` traces.

        ``reduced``: a reduction of ``out`` the caller has computed anyway that is non-finite
        wherever ``out`` is (e.g. per-kernel sums), tested instead of a pass over ``out``.
        """
        if torch.compiler.is_compiling():
            return
        fam = self.family
        try:
            # one reduction instead of a full isfinite pass: NaN/inf anywhere make the sum
            # non-finite; only then (or on overflow of the sum) is the full check done
            probe = out.detach().sum() if reduced is None else reduced.detach().sum()
            bad = not math.isfinite(probe.item()) and not bool(torch.isfinite(out).all())
        except RuntimeError as err:  # e.g. torch.func.vmap: no data-dependent control
            raise ConfigError(
                f"family {fam.name!r}: the finite check reads values, which this "
                "transform (e.g. torch.func.vmap) does not allow; pass check_finite=False "
                "(a layer: AnalyticConv2d(..., check_finite=False))"
            ) from err
        if bad:
            raise NonFiniteKernelError(_describe_non_finite(fam, out, coords, params))


def _as_float_tensor(value: torch.Tensor | float) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value if value.is_floating_point() else value.to(torch.get_default_dtype())
    return torch.tensor(float(value), dtype=torch.get_default_dtype())


def _describe_non_finite(
    family: KernelFamily,
    out: torch.Tensor,
    coords: Sequence[torch.Tensor],
    params: Mapping[str, torch.Tensor],
) -> str:
    out = out.detach()
    bad = (~torch.isfinite(out)).nonzero()
    index = tuple(int(i) for i in bad[0])

    def at(t: torch.Tensor) -> float:
        return float(torch.broadcast_to(t.detach(), out.shape)[index])

    tap = ", ".join(f"{n}={at(c):g}" for n, c in zip(family.coord_names, coords, strict=True))
    akps = ", ".join(f"{n}={at(p):.6g}" for n, p in params.items())
    partial = any(pw.args[-1].cond != sp.true for pw in family.sympy_expr.atoms(sp.Piecewise))
    hint = (" A Piecewise without an otherwise branch (..., (value, True)) is undefined (NaN) "
            "where none of its conditions holds." if partial else "")
    return (
        f"family {family.name!r} is not finite ({float(out[index])}) at tap ({tap}) for AKPs "
        f"({akps}); {len(bad)} of {out.numel()} values are NaN/inf. The formula "
        f"{family.expr} is singular there: keep the AKPs in a domain where it is finite "
        "(constraints), or make a removable singularity explicit with Piecewise or sinc."
        + hint
    )


def _cache_key(expr: sp.Expr, coords: Sequence[sp.Symbol], params: Sequence[sp.Symbol],
               singularities: bool, table: FunctionTable, positive: Sequence[sp.Symbol]
               ) -> tuple[Any, ...]:
    # SymPy expressions hash and compare structurally (Float(2.0) != Integer(2), symbols by
    # name and assumptions), so the expression itself is the canonical key: no srepr needed
    plugin_fns = tuple(sorted((row.name, id(row.implementation))
                              for row in table.plugin_rows(expr)))
    return (expr, tuple(c.name for c in coords), tuple(p.name for p in params),
            singularities, plugin_fns, tuple(sorted(p.name for p in positive)))


def compile_expr(
    expr: sp.Expr,
    coords: Sequence[sp.Symbol],
    params: Sequence[sp.Symbol],
    *,
    label: str = "expr",
    singularities: bool = True,
    positive: Sequence[sp.Symbol] = (),
) -> Any:
    """Compile a bare expression to ``fn(coords_tuple, params_dict) -> Tensor`` (cached).

    Lower-level than :func:`compile_family`: no validation beyond the function table and
    no finite check. ``positive``: parameters known to be positive (for the limits of
    removable singularities). Used for exported formulas and fitted kernels.
    """
    return _compile_core(expr, coords, params, label, singularities, positive).function


def _compile_core(
    expr: sp.Expr,
    coords: Sequence[sp.Symbol],
    params: Sequence[sp.Symbol],
    label: str,
    singularities: bool,
    positive: Sequence[sp.Symbol] = (),
) -> _Core:
    table = active_table()
    if not table.complete and table.unknown_heads(expr):
        table = complete_table()  # a function a plugin may provide: load the plugins first
    key = _cache_key(expr, coords, params, singularities, table, positive)
    with _cache_lock:
        core = _cache.get(key)
        if core is not None:
            _cache.move_to_end(key)
            return core
    core = _generate(expr, coords, params, label, singularities, table, positive)
    with _cache_lock:
        _cache[key] = core
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return core


def compile_family(family: KernelFamily, *, singularities: bool = True) -> CompiledFamily:
    """Compile ``family`` to a :class:`CompiledFamily` (cached by canonical expression).

    Args:
        family: the family to compile.
        singularities: substitute limits at removable singularities where coordinates
            vanish (default). ``False`` compiles the formula as written.

    Raises:
        CompileError: listing every part the translation table cannot lower.
    """
    if not isinstance(family, KernelFamily):
        raise CompileError(f"compile_family expects a KernelFamily, got {type(family).__name__}")
    core = _compile_core(
        family.sympy_expr,
        family.coords,
        [p.symbol for p in family.params],
        family.name,
        singularities,
        [p.symbol for p in family.params if p.constraint_obj.positive],
    )
    return CompiledFamily(family, core, singularities)
