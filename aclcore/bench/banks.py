"""Kernel-bank generation: aclcore against hand-written torch and other generators.

One unit of work is a bank of kernels of one family, forward and backward: the bank from AKP
tensors that require gradients, normalised as the family declares, and the gradients of every
AKP for a fixed random upstream gradient (what a convolution hands back). The generators:

* ``aclcore``: :func:`aclcore.nn.functional.sample_kernels` of the compiled family, what the
  layers call (finite check on);
* ``hand-written``: the family written directly in torch (:data:`HAND_WRITTEN`), as an
  engineer would, with the grid built once; the baseline of every ratio;
* ``lambdify``: :func:`sympy.lambdify` of the family's formula with ``modules="torch"``;
* ``sympytorch``: ``sympytorch.SymPyModule`` of the formula (optional; skipped when absent);
* ``kornia``: kornia's Gaussian kernels, for the Gaussian families (optional).

Every generator's bank and AKP gradients are checked against aclcore's before anything is
timed; a generator that cannot express the formula (SymPy's torch printer has no ``sinc``) or
gives other values is reported as skipped with the reason, never timed.
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import sympy as sp
import torch

from aclcore.bench.harness import Comparison, compare
from aclcore.compile.compiler import compile_family
from aclcore.nn.functional import sample_kernels
from aclcore.nn.grid import kernel_grid
from aclcore.plugins.registry import families
from aclcore.symbolic.family import KernelFamily, Param

__all__ = [
    "GENERATORS",
    "HAND_WRITTEN",
    "ISSUE_GABOR",
    "BankResult",
    "hand_normalize",
    "issue_gabor_hand",
    "measure_bank",
    "measure_issue_gabor",
]

#: ``bank(coords, akps)``: coordinates from :func:`~aclcore.nn.grid.kernel_grid`, AKPs shaped
#: ``(count, n)``; returns the normalised bank ``(count, n, *kernel_size)``.
Bank = Callable[[tuple[torch.Tensor, ...], Mapping[str, torch.Tensor]], torch.Tensor]

#: Generator names, in the order they are reported.
GENERATORS = ("aclcore", "hand-written", "lambdify", "sympytorch", "kornia")


def hand_normalize(kernels: torch.Tensor, mode: str, ndim: int) -> torch.Tensor:
    """The normalisations written directly (no floors: the benchmark's AKPs never need them)."""
    dims = tuple(range(-ndim, 0))
    if mode == "sum":
        return kernels / kernels.sum(dims, keepdim=True)
    if mode == "zero_mean":
        return kernels - kernels.mean(dims, keepdim=True)
    if mode == "l2":
        norm: torch.Tensor = torch.linalg.vector_norm(kernels, dim=dims, keepdim=True)
        return kernels / norm
    return kernels


def _akp(akps: Mapping[str, torch.Tensor], name: str, ndim: int) -> torch.Tensor:
    value = akps[name]
    return value.reshape(*value.shape, *([1] * ndim))


def _rotated(c: tuple[torch.Tensor, ...], theta: torch.Tensor
             ) -> tuple[torch.Tensor, torch.Tensor]:
    x, y = c
    ct, st = torch.cos(theta), torch.sin(theta)
    return x * ct + y * st, y * ct - x * st


def _gaussian(c: tuple[torch.Tensor, ...], a: Mapping[str, torch.Tensor]) -> torch.Tensor:
    x, y = c
    s = _akp(a, "sigma", 2)
    return hand_normalize(torch.exp(-(x * x + y * y) / (2 * s * s)), "sum", 2)


def _anisotropic_gaussian(c: tuple[torch.Tensor, ...], a: Mapping[str, torch.Tensor]
                          ) -> torch.Tensor:
    su, sv, th = (_akp(a, n, 2) for n in ("sigma_u", "sigma_v", "theta"))
    u, v = _rotated(c, th)
    return hand_normalize(torch.exp(-u * u / (2 * su * su) - v * v / (2 * sv * sv)), "sum", 2)


def _gaussian_1d(c: tuple[torch.Tensor, ...], a: Mapping[str, torch.Tensor]) -> torch.Tensor:
    (x,) = c
    s = _akp(a, "sigma", 1)
    return hand_normalize(torch.exp(-x * x / (2 * s * s)), "sum", 1)


def _gaussian_3d(c: tuple[torch.Tensor, ...], a: Mapping[str, torch.Tensor]) -> torch.Tensor:
    x, y, z = c
    s = _akp(a, "sigma", 3)
    return hand_normalize(torch.exp(-(x * x + y * y + z * z) / (2 * s * s)), "sum", 3)


def _gaussian_d1(c: tuple[torch.Tensor, ...], a: Mapping[str, torch.Tensor]) -> torch.Tensor:
    x, y = c
    s, th = _akp(a, "sigma", 2), _akp(a, "theta", 2)
    u, _ = _rotated(c, th)
    return hand_normalize(-u * torch.exp(-(x * x + y * y) / (2 * s * s)) / s, "l2", 2)


def _gaussian_d2(c: tuple[torch.Tensor, ...], a: Mapping[str, torch.Tensor]) -> torch.Tensor:
    x, y = c
    s, th = _akp(a, "sigma", 2), _akp(a, "theta", 2)
    u, _ = _rotated(c, th)
    s2 = s * s
    kernel = (u * u / s2 - 1) * torch.exp(-(x * x + y * y) / (2 * s2))
    return hand_normalize(kernel, "zero_mean", 2)


def _log(c: tuple[torch.Tensor, ...], a: Mapping[str, torch.Tensor]) -> torch.Tensor:
    x, y = c
    s = _akp(a, "sigma", 2)
    q = (x * x + y * y) / (2 * s * s)
    return hand_normalize((1 - q) * torch.exp(-q), "zero_mean", 2)


def _dog(c: tuple[torch.Tensor, ...], a: Mapping[str, torch.Tensor]) -> torch.Tensor:
    x, y = c
    s, k = _akp(a, "sigma", 2), _akp(a, "k", 2)
    r2 = x * x + y * y
    s2 = s * s
    k2 = k * k * s2
    kernel = torch.exp(-r2 / (2 * s2)) / s2 - torch.exp(-r2 / (2 * k2)) / k2
    return hand_normalize(kernel, "zero_mean", 2)


def _gabor(c: tuple[torch.Tensor, ...], a: Mapping[str, torch.Tensor]) -> torch.Tensor:
    s, g, lam, th, psi = (_akp(a, n, 2) for n in ("sigma", "gamma", "lambda", "theta", "psi"))
    u, v = _rotated(c, th)
    envelope = torch.exp(-(u * u + g * g * v * v) / (2 * s * s))
    return envelope * torch.cos(2 * math.pi * u / lam + psi)


def _sinusoid(c: tuple[torch.Tensor, ...], a: Mapping[str, torch.Tensor]) -> torch.Tensor:
    lam, th, psi = (_akp(a, n, 2) for n in ("lambda", "theta", "psi"))
    u, _ = _rotated(c, th)
    return torch.cos(2 * math.pi * u / lam + psi)


def _gabor_1d(c: tuple[torch.Tensor, ...], a: Mapping[str, torch.Tensor]) -> torch.Tensor:
    (x,) = c
    s, lam, psi = (_akp(a, n, 1) for n in ("sigma", "lambda", "psi"))
    return torch.exp(-x * x / (2 * s * s)) * torch.cos(2 * math.pi * x / lam + psi)


def _sinc_bandpass(c: tuple[torch.Tensor, ...], a: Mapping[str, torch.Tensor]) -> torch.Tensor:
    (x,) = c
    f1, band = _akp(a, "f1", 1), _akp(a, "band", 1)
    f2 = torch.clamp(f1 + band, max=0.5)
    # SymPy's sinc(t) = sin(t)/t; torch.sinc(t) = sin(pi t)/(pi t)
    return 2 * f2 * torch.sinc(2 * f2 * x) - 2 * f1 * torch.sinc(2 * f1 * x)


#: The classic families (acl-classic) written directly in torch, normalisation included.
HAND_WRITTEN: Mapping[str, Bank] = {
    "gaussian": _gaussian,
    "anisotropic_gaussian": _anisotropic_gaussian,
    "gaussian_1d": _gaussian_1d,
    "gaussian_3d": _gaussian_3d,
    "gaussian_d1": _gaussian_d1,
    "gaussian_d2": _gaussian_d2,
    "log": _log,
    "dog": _dog,
    "gabor": _gabor,
    "sinusoid": _sinusoid,
    "gabor_1d": _gabor_1d,
    "sinc_bandpass": _sinc_bandpass,
}

_x, _y = sp.symbols("x y", real=True)
_sigma, _lam, _theta, _psi = sp.symbols("sigma lambda theta psi", real=True)

#: The Gabor of the issue's figure (and of ``benchmarks/bench_compile.py``): four AKPs, no
#: aspect ratio, no normalisation.
ISSUE_GABOR = KernelFamily(
    "gabor_issue",
    sp.exp(-(_x**2 + _y**2) / (2 * _sigma**2))
    * sp.cos(2 * sp.pi * (_x * sp.cos(_theta) + _y * sp.sin(_theta)) / _lam + _psi),
    (_x, _y),
    [Param(_sigma, (0.8, 2.5), "positive"), Param(_lam, (2.0, 8.0), "positive"),
     Param(_theta, (0.0, 3.14), "angle"), Param(_psi, (-3.14, 3.14))],
)


def issue_gabor_hand(cx: torch.Tensor, cy: torch.Tensor, s: torch.Tensor, la: torch.Tensor,
                     th: torch.Tensor, ps: torch.Tensor) -> torch.Tensor:
    """:data:`ISSUE_GABOR` written directly in torch."""
    u = cx * torch.cos(th) + cy * torch.sin(th)
    return torch.exp(-(cx * cx + cy * cy) / (2 * s * s)) * torch.cos(2 * math.pi * u / la + ps)


@dataclass
class BankResult:
    """One family's comparison: timings of the generators that ran, reasons for the others."""

    family: str
    shape: tuple[int, ...]
    comparison: Comparison | None
    skipped: dict[str, str] = field(default_factory=dict)


def _kornia_bank(name: str, size: tuple[int, ...]) -> Bank | None:
    if name not in ("gaussian", "gaussian_1d", "gaussian_3d"):
        return None
    # optional dependency, present when this is called (imported by name: untyped either way)
    kornia: Any = importlib.import_module("kornia")

    filters: Any = kornia.filters
    nd = len(size)

    def bank(c: tuple[torch.Tensor, ...], a: Mapping[str, torch.Tensor]) -> torch.Tensor:
        s = a["sigma"]
        flat = s.reshape(-1, 1).expand(-1, nd)
        if nd == 1:
            out = filters.get_gaussian_kernel1d(size[0], flat)
        elif nd == 2:
            out = filters.get_gaussian_kernel2d(size, flat)
        else:
            out = filters.get_gaussian_kernel3d(size, flat)
        return out.reshape(*s.shape, *size)  # type: ignore[no-any-return]

    return bank


def _lambdify_bank(family: KernelFamily) -> Bank:
    args = [*family.coords, *(p.symbol for p in family.params)]
    fn = sp.lambdify(args, family.sympy_expr, modules="torch")
    names, nd, mode = family.param_names, family.ndim, family.normalize

    def bank(c: tuple[torch.Tensor, ...], a: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return hand_normalize(fn(*c, *(_akp(a, n, nd) for n in names)), mode, nd)

    return bank


def _sympytorch_bank(family: KernelFamily) -> Bank:
    # optional dependency, present when this is called (imported by name: untyped either way)
    sympytorch: Any = importlib.import_module("sympytorch")
    module = sympytorch.SymPyModule(expressions=[family.sympy_expr])
    coords = list(family.coord_names)
    names, nd, mode = family.param_names, family.ndim, family.normalize

    def bank(c: tuple[torch.Tensor, ...], a: Mapping[str, torch.Tensor]) -> torch.Tensor:
        inputs = dict(zip(coords, c, strict=True))
        inputs.update({n: _akp(a, n, nd) for n in names})
        return hand_normalize(module(**inputs)[..., 0], mode, nd)

    return bank


def _generators(family: KernelFamily, size: tuple[int, ...], skipped: dict[str, str]
                ) -> dict[str, Bank]:
    compiled = compile_family(family)  # as the layers hold it: no cache look-up per bank

    def acl(c: tuple[torch.Tensor, ...], a: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return sample_kernels(compiled, a, size)

    gens: dict[str, Bank] = {"aclcore": acl, "hand-written": HAND_WRITTEN[family.name]}
    try:
        gens["lambdify"] = _lambdify_bank(family)
    except Exception as err:  # SymPy's printers raise their own types
        skipped["lambdify"] = f"unsupported: {type(err).__name__}: {str(err).splitlines()[0]}"
    if importlib.util.find_spec("sympytorch") is None:
        skipped["sympytorch"] = "skipped: not installed"
    else:
        try:
            gens["sympytorch"] = _sympytorch_bank(family)
        except Exception as err:  # whatever the optional package raises
            skipped["sympytorch"] = f"unsupported: {type(err).__name__}: {err}"
    if family.name in ("gaussian", "gaussian_1d", "gaussian_3d"):
        if importlib.util.find_spec("kornia") is None:
            skipped["kornia"] = "skipped: not installed"
        else:
            kornia_bank = _kornia_bank(family.name, size)
            if kornia_bank is not None:
                gens["kornia"] = kornia_bank
    return gens


def _inputs(family: KernelFamily, count: tuple[int, int], seed: int
            ) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return {p.name: p.sample(count, generator=gen, dtype=torch.float64).float().requires_grad_()
            for p in family.params}


def _check(name: str, gen: Bank, coords: tuple[torch.Tensor, ...],
           akps: dict[str, torch.Tensor], reference: torch.Tensor,
           ref_grads: tuple[torch.Tensor, ...], upstream: torch.Tensor) -> str | None:
    """Why ``gen`` does not reproduce aclcore's bank and gradients (None when it does)."""
    try:
        out = gen(coords, akps)
        grads = torch.autograd.grad(out, list(akps.values()), upstream, allow_unused=True)
    except Exception as err:  # a generator's own failure is reported, not raised
        return f"fails: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
    scale = float(reference.abs().max())
    try:
        torch.testing.assert_close(out, reference, rtol=1e-4, atol=1e-5 * scale)
        for g, r in zip(grads, ref_grads, strict=True):
            g = torch.zeros_like(r) if g is None else g
            torch.testing.assert_close(g, r, rtol=2e-3, atol=2e-4 * float(r.abs().max()))
    except AssertionError as err:
        return f"differs from aclcore: {str(err).splitlines()[0]} ({name})"
    return None


def measure_bank(
    family: KernelFamily | str,
    *,
    count: tuple[int, int] = (64, 64),
    size: int | tuple[int, ...] = 7,
    rounds: int = 11,
    repeats: int = 5,
    seed: int = 0,
) -> BankResult:
    """Compare the generators on one family's bank (see the module docstring).

    ``size``: the kernel size (one int: the same along every axis of the family).
    """
    fam = families()[family] if isinstance(family, str) else family
    sizes = (size,) * fam.ndim if isinstance(size, int) else tuple(size)
    skipped: dict[str, str] = {}
    gens = _generators(fam, sizes, skipped)
    coords = kernel_grid(sizes)
    akps = _inputs(fam, count, seed)
    upstream = torch.randn((*count, *sizes), generator=torch.Generator().manual_seed(seed + 1))
    leaves = list(akps.values())
    # the reference is taken after a warm-up call (torch 2.13 on 2 CPU threads has returned a
    # wrong element from the very first parallel elementwise call of a process)
    gens["aclcore"](coords, akps)
    reference = gens["aclcore"](coords, akps)
    ref_grads = torch.autograd.grad(reference, leaves, upstream)
    for name in list(gens):
        if name == "aclcore":
            continue
        problem = _check(name, gens[name], coords, akps, reference.detach(), ref_grads,
                         upstream)
        if problem is not None:
            skipped[name] = problem
            del gens[name]
    if "hand-written" not in gens:  # the baseline itself is wrong: nothing to time
        return BankResult(fam.name, (*count, *sizes), None, skipped)

    def work(gen: Bank) -> Callable[[], object]:
        return lambda: torch.autograd.grad(gen(coords, akps), leaves, upstream,
                                           allow_unused=True)

    cases = {name: work(gens[name]) for name in GENERATORS if name in gens}
    comparison = compare(cases, baseline="hand-written", rounds=rounds, repeats=repeats)
    return BankResult(fam.name, (*count, *sizes), comparison, skipped)


def measure_issue_gabor(
    *, count: tuple[int, int] = (64, 64), size: int = 7, rounds: int = 11, repeats: int = 5,
) -> Comparison:
    """The issue's figure: :data:`ISSUE_GABOR`'s compiled function called directly (as
    ``benchmarks/bench_compile.py`` does) against ``lambdify`` and the hand-written form,
    forward + backward of the four AKPs; baseline ``lambdify``."""
    compiled = compile_family(ISSUE_GABOR)
    cx, cy = kernel_grid((size, size))
    gen = torch.Generator().manual_seed(0)
    shape = (*count, 1, 1)
    params = {
        "sigma": torch.rand(shape, generator=gen) * 1.7 + 0.8,
        "lambda": torch.rand(shape, generator=gen) * 6 + 2,
        "theta": torch.rand(shape, generator=gen) * 3.14,
        "psi": torch.rand(shape, generator=gen) * 6.28 - 3.14,
    }
    params = {k: v.requires_grad_() for k, v in params.items()}
    plist = list(params.values())
    fam = ISSUE_GABOR
    lambdified = sp.lambdify([*fam.coords, *(p.symbol for p in fam.params)], fam.sympy_expr,
                             modules="torch")
    issue_gabor_hand(cx, cy, *plist)  # warm-up, see measure_bank
    reference = issue_gabor_hand(cx, cy, *plist)
    torch.testing.assert_close(compiled((cx, cy), params), reference, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(lambdified(cx, cy, *plist), reference, rtol=1e-5, atol=1e-6)
    upstream = torch.randn(reference.shape, generator=gen)
    cases: dict[str, Callable[[], object]] = {
        "aclcore": lambda: torch.autograd.grad(compiled((cx, cy), params), plist, upstream),
        "hand-written": lambda: torch.autograd.grad(issue_gabor_hand(cx, cy, *plist), plist,
                                                    upstream),
        "lambdify": lambda: torch.autograd.grad(lambdified(cx, cy, *plist), plist, upstream),
    }
    return compare(cases, baseline="lambdify", rounds=rounds, repeats=repeats)
