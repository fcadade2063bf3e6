"""Contract checks for kernel families: run them in your plugin's own pytest suite.

Every family a plugin registers should pass :func:`assert_family_ok`, which runs:

* :func:`check_finite_over_domain`: values and AKP gradients are finite (float64 and float32)
  for AKPs drawn by hypothesis from each AKP's test domain (:func:`akp_domain`), on grids of
  odd and even sizes, with dilation;
* :func:`check_every_akp_gets_gradient`: every AKP receives a gradient that is never ``None``
  and is non-zero for some kernel (GaborNet's AKPs silently never learned);
* :func:`check_compile_pickle_and_torch_compile`: compiles, pickles (family and compiled
  function), and runs under ``torch.compile(fullgraph=True)`` with the eager values and
  gradients;
* :func:`check_formula_round_trip`: the formula survives ``formula_to_string`` ->
  ``parse_formula`` exactly (identical ``srepr``);
* :func:`check_symmetries`: each declared symmetry holds on the kernel grid.

Families that use a function your plugin registers must be checked while that function is
registered: do it inside ``with plugin_registry(my_plugin):``. Failures raise
``AssertionError`` naming the family and the offending values; :func:`assert_family_ok` lists
every failing check at once. Importing this module needs only aclcore itself; the
property-based :func:`check_finite_over_domain` needs ``hypothesis`` and says so when it is
missing (``pip install hypothesis``).
"""

from __future__ import annotations

import math
import pickle
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import sympy as sp
import torch

from aclcore.compile.compiler import compile_family
from aclcore.errors import AclError
from aclcore.nn.grid import kernel_grid
from aclcore.plugins import (
    AclPluginWarning,
    Registry,
    discover_entry_points,
    formula_functions,
    plugin_loader,
    plugin_report,
    use_registry,
)
from aclcore.plugins.checks import typical_values
from aclcore.symbolic.constraints import POSITIVE_FLOOR, Interval, Positive
from aclcore.symbolic.family import KernelFamily, Param

__all__ = [
    "akp_domain",
    "assert_family_ok",
    "check_compile_pickle_and_torch_compile",
    "check_every_akp_gets_gradient",
    "check_finite_over_domain",
    "check_formula_round_trip",
    "check_symmetries",
    "installed_families",
    "plugin_registry",
]

#: Kernel sizes per axis drawn by :func:`check_finite_over_domain`, per number of dimensions.
SIZES: Mapping[int, tuple[int, ...]] = {1: (1, 2, 3, 4, 5, 8, 9, 16), 2: (1, 2, 3, 4, 5, 7, 9),
                                        3: (1, 2, 3, 4, 5)}
#: The largest value of a ``"positive"`` AKP, and the largest magnitude of a ``"real"`` one,
#: that :func:`akp_domain` includes with ``declared=True`` (their domains are unbounded).
DECLARED_MAX = {"positive": 1e4, "real": 1e3}


def akp_domain(param: Param, widen: float = 2.0, *, declared: bool = False
               ) -> tuple[float, float]:
    """The range an AKP is tested over (open for an interval constraint, closed otherwise).

    * an interval constraint ``(lo, hi)``: the whole open interval (the optimiser can reach
      any of it);
    * ``"angle"``: ``[-2 pi, 2 pi]``;
    * ``"positive"``: the init range (or value) stretched by ``widen`` in ratio,
      ``[lo / widen, hi * widen]``; with ``declared`` the whole declared domain, from the
      constraint's floor (``1e-6``) to ``DECLARED_MAX["positive"]``;
    * ``"real"``: the init range (or value) extended by ``widen`` times its half-width
      (at least ``widen``) on both sides; with ``declared``
      ``[-DECLARED_MAX["real"], DECLARED_MAX["real"]]``.
    """
    constraint = param.constraint_obj
    if isinstance(constraint, Interval):
        return constraint.lo, constraint.hi
    if constraint.spec == "angle":
        return -2 * math.pi, 2 * math.pi
    if declared:
        if isinstance(constraint, Positive):
            return POSITIVE_FLOOR, DECLARED_MAX["positive"]
        return -DECLARED_MAX["real"], DECLARED_MAX["real"]
    init = param.init
    lo, hi = init if isinstance(init, tuple) else (float(init), float(init))  # type: ignore[arg-type]
    if isinstance(constraint, Positive):
        return lo / widen, hi * widen
    half = max((hi - lo) / 2, 1.0) * widen
    return lo - half, hi + half


def _hypothesis() -> Any:
    """The hypothesis module, or an AssertionError saying which extra to install."""
    try:
        import hypothesis
    except ModuleNotFoundError as err:
        raise AssertionError(
            "this check draws examples with hypothesis, which is not installed: "
            "pip install hypothesis (or the 'test' extra of aclcore)"
        ) from err
    return hypothesis


def _akp_values(param: Param, widen: float, declared: bool) -> Any:
    st = _hypothesis().strategies
    lo, hi = akp_domain(param, widen, declared=declared)
    open_lo = isinstance(param.constraint_obj, (Interval, Positive)) and (
        declared or isinstance(param.constraint_obj, Interval))
    open_hi = isinstance(param.constraint_obj, Interval)
    return st.floats(lo, hi, exclude_min=open_lo, exclude_max=open_hi, allow_nan=False,
                     allow_infinity=False)


def _fail(family: KernelFamily, check: str, detail: str) -> AssertionError:
    return AssertionError(f"family {family.name!r} fails {check}: {detail}")


def _weights(shape: Sequence[int], dtype: torch.dtype) -> torch.Tensor:
    n = math.prod(shape)
    return torch.cos(torch.arange(n, dtype=dtype) * 1.7 + 0.3).reshape(tuple(shape))


def _evaluate(
    family: KernelFamily, values: Mapping[str, float], size: Sequence[int], dilation: int,
    dtype: torch.dtype,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    compiled = compile_family(family)
    coords = kernel_grid(tuple(size), dilation, dtype=dtype)
    params = {n: torch.tensor(v, dtype=dtype, requires_grad=True) for n, v in values.items()}
    return compiled(coords, params), params


def check_finite_over_domain(
    family: KernelFamily, *, max_examples: int = 30, widen: float = 2.0,
    declared: bool = False, sizes: Sequence[int] | None = None,
) -> None:
    """Values and AKP gradients are finite for AKPs anywhere in their :func:`akp_domain`.

    Hypothesis draws the AKPs, a kernel size per axis (odd and even, from ``sizes``, default
    :data:`SIZES`) and a dilation (1 or 2); each draw is evaluated in float64 and float32.
    ``declared=True`` sweeps each AKP's whole declared domain, its constraint's edges included
    (needs ``hypothesis``: ``pip install hypothesis``).
    """
    hypothesis = _hypothesis()
    st = hypothesis.strategies
    akps = st.fixed_dictionaries({p.name: _akp_values(p, widen, declared)
                                  for p in family.params})
    choices = tuple(sizes) if sizes is not None else SIZES[family.ndim]
    size_st = st.tuples(*[st.sampled_from(choices)] * family.ndim)

    def run(values: dict[str, float], size: tuple[int, ...], dilation: int) -> None:
        for dtype in (torch.float64, torch.float32):
            where = f"AKPs {values}, size {size}, dilation {dilation}, {dtype}"
            try:
                out, params = _evaluate(family, values, size, dilation, dtype)
            except AclError as err:
                raise _fail(family, "finite values", f"{where}: {err}") from err
            if not params:
                continue
            grads = torch.autograd.grad((out * _weights(out.shape, dtype)).sum(),
                                        list(params.values()), allow_unused=True)
            for name, grad in zip(params, grads, strict=True):
                if grad is None or not bool(torch.isfinite(grad).all()):
                    raise _fail(family, "finite gradients",
                                f"d/d{name} is {grad} at {where}")

    settings = hypothesis.settings(max_examples=max_examples, deadline=None, database=None,
                                   report_multiple_bugs=False,
                                   suppress_health_check=list(hypothesis.HealthCheck))
    given = hypothesis.given(values=akps, size=size_st, dilation=st.sampled_from((1, 2)))
    settings(given(run))()


def check_every_akp_gets_gradient(
    family: KernelFamily, *, kernel_size: int | None = None, tries: int = 8, seed: int = 0
) -> None:
    """Every AKP gets a gradient that is never ``None`` and non-zero for some kernel.

    ``tries`` kernels with AKPs drawn from their init ranges are sampled at once; the loss is
    a fixed non-symmetric weighting of the taps.
    """
    if not family.params:
        return
    size = kernel_size or {1: 15, 2: 7, 3: 5}[family.ndim]
    gen = torch.Generator().manual_seed(seed)
    coords = kernel_grid((size,) * family.ndim, dtype=torch.float64)
    shape = (tries,) + (1,) * family.ndim
    params = {
        p.name: p.sample(shape, generator=gen, dtype=torch.float64).requires_grad_(True)
        for p in family.params
    }
    out = compile_family(family)(coords, params)
    loss = (out * _weights(out.shape, torch.float64)).sum()
    grads = torch.autograd.grad(loss, list(params.values()), allow_unused=True)
    for name, grad in zip(params, grads, strict=True):
        if grad is None:
            raise _fail(family, "gradients", f"AKP {name!r} gets no gradient (None)")
        if not bool(torch.isfinite(grad).all()):
            raise _fail(family, "gradients", f"AKP {name!r} has a non-finite gradient {grad}")
        if not bool((grad != 0).any()):
            raise _fail(family, "gradients",
                        f"AKP {name!r} gets a zero gradient for {tries} kernels drawn from its "
                        f"init {family.param(name).init}: it would never learn")


def _typical(family: KernelFamily, dtype: torch.dtype) -> dict[str, torch.Tensor]:
    return {
        name: torch.tensor(value, dtype=dtype, requires_grad=True)
        for name, value in typical_values(family).items()
    }


def check_compile_pickle_and_torch_compile(
    family: KernelFamily, *, backend: str | None = "aot_eager", kernel_size: int = 5
) -> None:
    """Compiles; the family and its compiled function pickle; ``torch.compile`` matches eager.

    ``backend`` is passed to :func:`torch.compile` (``"aot_eager"`` traces the full graph,
    forward and backward, without needing a C compiler; ``"inductor"`` generates code too);
    ``None`` skips the ``torch.compile`` part.
    """
    compiled = compile_family(family)
    coords = kernel_grid((kernel_size,) * family.ndim, dtype=torch.float64)
    params = _typical(family, torch.float64)
    expected = compiled(coords, params)
    if pickle.loads(pickle.dumps(family)) != family:
        raise _fail(family, "pickling", "the unpickled family differs from the original")
    again = pickle.loads(pickle.dumps(compiled))
    if not torch.equal(again(coords, params), expected):
        raise _fail(family, "pickling", "the unpickled compiled family gives other values")
    if backend is None:
        return
    torch.compiler.reset()

    def run(cs: tuple[torch.Tensor, ...], ps: dict[str, torch.Tensor]) -> torch.Tensor:
        return compiled(cs, ps)

    try:
        traced = torch.compile(run, fullgraph=True, backend=backend)(coords, params)
    except Exception as err:
        raise _fail(family, "torch.compile(fullgraph=True)",
                    f"{type(err).__name__}: {err}") from err
    finally:
        torch.compiler.reset()
    if not torch.allclose(traced, expected, rtol=1e-10, atol=1e-12):
        raise _fail(family, "torch.compile", "compiled values differ from eager ones")
    if params:
        eager_g = torch.autograd.grad(expected.sum(), list(params.values()), allow_unused=True)
        comp_g = torch.autograd.grad(traced.sum(), list(params.values()), allow_unused=True)
        for name, a, b in zip(params, eager_g, comp_g, strict=True):
            if (a is None) != (b is None) or (
                a is not None and b is not None and not torch.allclose(a, b, rtol=1e-8,
                                                                       atol=1e-12)):
                raise _fail(family, "torch.compile", f"gradients of {name!r} differ from eager")


def check_formula_round_trip(family: KernelFamily) -> None:
    """``parse_formula(formula_to_string(expr))`` reproduces the expression exactly.

    Plugin functions of the current registry are known to both (:func:`formula_functions`).
    """
    from aclcore.symbolic.parse import formula_to_string, parse_formula

    expr = family.sympy_expr
    functions = formula_functions()
    try:
        text = formula_to_string(expr, functions=functions)
        back = parse_formula(text, functions=functions)
    except AclError as err:
        raise _fail(family, "the formula round trip", str(err)) from err
    if sp.srepr(back) != sp.srepr(expr):
        raise _fail(family, "the formula round trip",
                    f"{text!r} parses to {back}, not to the original {expr}")


def _transforms(family: KernelFamily) -> list[tuple[str, Any, float]]:
    """(symmetry, tensor transform, sign) for each declared symmetry."""
    axis = {name: -1 - i for i, name in enumerate(family.coord_names)}  # x: -1, y: -2, z: -3
    out: list[tuple[str, Any, float]] = []
    for item in family.symmetries:
        kind, _, coord = item.partition(":")
        if kind == "rot90":
            out.append((item, lambda t: torch.rot90(t, 1, dims=(-2, -1)), 1.0))
        else:
            dim = axis[coord]
            out.append((item, lambda t, d=dim: torch.flip(t, (d,)), -1.0 if kind == "odd" else 1.0))
    return out


def check_symmetries(
    family: KernelFamily, *, sizes: Sequence[int] = (4, 5), tries: int = 4, seed: int = 0
) -> None:
    """Each declared symmetry (``even:<coord>``, ``odd:<coord>``, ``rot90``) holds on the grid.

    Kernels of odd and even sizes with AKPs drawn from their init ranges are compared with
    their mirrored (or rotated) copies, in float64.
    """
    checks = _transforms(family)
    if not checks:
        return
    gen = torch.Generator().manual_seed(seed)
    shape = (tries,) + (1,) * family.ndim
    params = {p.name: p.sample(shape, generator=gen, dtype=torch.float64) for p in family.params}
    compiled = compile_family(family)
    broken: dict[str, str] = {}
    for size in sizes:
        coords = kernel_grid((size,) * family.ndim, dtype=torch.float64)
        out = compiled(coords, params)
        scale = float(out.abs().max()) or 1.0
        for name, transform, sign in checks:
            diff = float((transform(out) - sign * out).abs().max())
            if diff > 1e-9 * scale and name not in broken:
                broken[name] = f"kernels of size {size} differ from their transform by {diff:.3g}"
    if broken:  # every broken symmetry at once
        raise AssertionError("\n".join(
            str(_fail(family, f"its declared symmetry {name!r}", detail))
            for name, detail in broken.items()))


def assert_family_ok(
    family: KernelFamily,
    *,
    max_examples: int = 30,
    backend: str | None = "aot_eager",
    round_trip: bool = True,
) -> None:
    """Run every contract check on ``family`` (see the module docstring).

    Args:
        family: the family to check.
        max_examples: hypothesis examples for :func:`check_finite_over_domain`.
        backend: ``torch.compile`` backend, or ``None`` to skip ``torch.compile``.
        round_trip: also check the formula round trip.

    Raises:
        AssertionError: listing every failed check at once, each naming the family, the
            check and the values (one check failing does not hide the others).
    """
    if not isinstance(family, KernelFamily):
        raise AssertionError(f"expected an aclcore.KernelFamily, got {family!r}")
    checks: list[tuple[Any, dict[str, Any]]] = [
        (check_compile_pickle_and_torch_compile, {"backend": backend}),
        (check_every_akp_gets_gradient, {}),
        (check_symmetries, {}),
        *([(check_formula_round_trip, {})] if round_trip else []),
        (check_finite_over_domain, {"max_examples": max_examples}),
    ]
    failures: list[str] = []
    for check, options in checks:
        try:
            check(family, **options)
        except AssertionError as err:
            failures.append(str(err))
    if failures:
        raise AssertionError(f"family {family.name!r} fails {len(failures)} check(s):\n"
                             + "\n".join(f"  - {f}" for f in failures))


@contextmanager
def plugin_registry(
    *plugins: object, installed: bool = False, entry_points: Sequence[Any] | None = None
) -> Iterator[Registry]:
    """A fresh registry loaded with ``plugins``, current inside the ``with`` block.

    Args:
        plugins: plugin objects (your plugin module) or ``(name, object)`` pairs. One that
            a loaded entry point also provides (your plugin, installed with ``pip install
            -e``, and ``installed=True``) is loaded once, under its entry-point name.
        installed: also load the installed entry points (honouring ``ACL_LOAD_PLUGINS``).
        entry_points: entry-point-like objects to load as well (tests of the loader).

    Raises:
        AssertionError: listing every plugin failure (a plugin under test must load
            cleanly), e.g. a name already used by another plugin or one object given twice.
    """
    eps = None if installed else list(entry_points or [])
    if installed and entry_points:
        eps = [*discover_entry_points(), *entry_points]
    registry = Registry(loader=plugin_loader(entry_points=eps, plugins=plugins, strict=False))
    with use_registry(registry):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AclPluginWarning)
            report = plugin_report(registry, check_functions=True)
        if report.failures:
            raise AssertionError(
                "plugin failures:\n" + "\n".join(f"  - {f}" for f in report.failures)
            )
        yield registry


def installed_families() -> dict[str, KernelFamily]:
    """Every family the installed plugins provide, by name (e.g. to parametrize a test).

    Check them inside ``with plugin_registry(installed=True):`` so that functions registered
    by plugins are available.
    """
    with plugin_registry(installed=True) as registry:
        return registry.families()
