"""What dominates each figure of the suite (torch profiler, cProfile, -X importtime).

For the cases of ``docs/performance.md``: the operators with the largest self CPU time share
of one unit of work (a bank's forward + backward, a layer's training step, the LeNet step, a
fit), the Python functions of a warm compile, and the packages whose imports take the start-up
time. One torch thread. Prints ``name share`` lists; no assertions.

Run: ``python benchmarks/bench_profile.py [--only bank,layer,network,compile,startup,fit]``
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import torch

from aclcore.bench import banks, layers, network
from aclcore.bench.harness import torch_threads
from aclcore.bench.profiling import top_functions, top_imports, top_ops
from aclcore.bench.startup import acl_command

GROUPS = ("bank", "layer", "network", "compile", "startup", "fit")


def _show(title: str, items: list[tuple[str, float]], unit: str = "share") -> None:
    if unit == "share":
        text = ", ".join(f"{name} {share:.0%}" for name, share in items)
    else:
        text = ", ".join(f"{name} {value:.2f} s" for name, value in items)
    print(f"  {title}: {text}")


def _bank_work(name: str) -> dict[str, Callable[[], object]]:
    import aclcore
    from aclcore.nn.functional import sample_kernels
    from aclcore.nn.grid import kernel_grid

    family = aclcore.families()[name]
    size = (31,) if family.ndim == 1 else (7,) * family.ndim
    gen = torch.Generator().manual_seed(0)
    akps = {p.name: p.sample((64, 64), generator=gen, dtype=torch.float64).float()
            .requires_grad_() for p in family.params}
    leaves = list(akps.values())
    coords = kernel_grid(size)
    upstream = torch.randn(64, 64, *size, generator=gen)
    hand = banks.HAND_WRITTEN[name]
    return {
        "aclcore": lambda: torch.autograd.grad(sample_kernels(family, akps, size), leaves,
                                               upstream),
        "hand-written": lambda: torch.autograd.grad(hand(coords, akps), leaves, upstream),
    }


def bank() -> None:
    """Bank generation: the issue's Gabor and three classic families."""
    print("bank generation (64 x 64 kernels, forward + backward)")
    for name in ("gabor", "gaussian_1d", "sinc_bandpass"):
        for who, fn in _bank_work(name).items():
            _show(f"{name}, {who}", top_ops(fn))


def layer() -> None:
    """Every layer case: one training step of the ACL and of nn.ConvNd."""
    print("layers (one training step, full batch)")
    for case in layers.LAYER_CASES:
        conv, acl, inp = layers.build_pair(case)
        _show(f"{case.name}, ACL", top_ops(layers.train_step(acl, inp), runs=2))
        _show(f"{case.name}, conv", top_ops(layers.train_step(conv, inp), runs=2))


def network_() -> None:
    """The LeNet training step of both models."""
    from aclcore.models import PLAIN, analytic_preset, build_model

    print("LeNet training step (batch 64)")
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(64, 1, 28, 28, generator=gen)
    y = torch.randint(0, 10, (64,), generator=gen)
    for name, specs in (("CNN", PLAIN), ("AnaNN", analytic_preset("lenet"))):
        model = build_model("lenet", specs, image_shape=(1, 28, 28), num_classes=10, seed=0)
        _show(name, top_ops(network.train_stepper(model, x, y), runs=3, top=8))


def compile_() -> None:
    """A warm compile of the Gabor family (Python functions)."""
    import aclcore
    from aclcore.compile.compiler import clear_cache, compile_family

    print("compile (gabor, caches cleared)")
    family = aclcore.families()["gabor"]
    compile_family(family)

    def warm() -> None:
        clear_cache()
        compile_family(family)

    _show("aclcore", top_functions(warm, top=8))


def startup() -> None:
    """The imports of the acl commands."""
    print("start-up (imports, own time per package)")
    acl = acl_command()
    _show("acl --version", top_imports([*acl, "--version"]), unit="s")
    _show("acl families, ACL_LOAD_PLUGINS=classic",
          top_imports([*acl, "families"], env={"ACL_LOAD_PLUGINS": "classic"}), unit="s")
    _show("acl families, every plugin", top_imports([*acl, "families"]), unit="s")


def fit() -> None:
    """One batched Gabor fit of 8 kernels (default schedule)."""
    from aclcore.bench.fitting import fit_bank
    from aclcore.fit import fit_kernels

    print("fitting (gabor, 8 kernels, default schedule)")
    target, _ = fit_bank(8, ("gabor",))
    _show("operators", top_ops(lambda: fit_kernels(target, ["gabor"], share_akps=True),
                               runs=1, warmup=0, top=8))


def main() -> None:
    """Profile the chosen groups."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(GROUPS), help="comma-separated groups")
    args = parser.parse_args()
    runners = {"bank": bank, "layer": layer, "network": network_, "compile": compile_,
               "startup": startup, "fit": fit}
    with torch_threads(1):
        for group in args.only.split(","):
            runners[group]()


if __name__ == "__main__":
    main()
