"""The suite of ``acl bench``: every figure a ratio against its baseline in the same run.

Targets (issue 12) are attached to the figures whose configuration is the one they are set
for (4096-kernel banks, batch 64, 64 kernels fitted with the default schedule).

:func:`run_suite` measures the groups of a :class:`SuiteConfig` and returns :class:`Row`\\ s:
kernel-bank generation per classic family (:mod:`.banks`), layers against ``nn.ConvNd``
(:mod:`.layers`), the whole-network training step (:mod:`.network`), compile time
(:mod:`.compiletime`), start-up (:mod:`.startup`) and fitting throughput (:mod:`.fitting`).
Three sizes: :data:`FULL` (what ``docs/performance.md`` reports; minutes), :data:`DEFAULT`
(``acl bench``: well under a minute) and :data:`QUICK` (``acl bench --quick``: a smoke run
of every group). Which rows a configuration reports is fixed (optional baselines that are not
installed are rows marked skipped); only the measured values vary.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from aclcore.bench import banks, compiletime, fitting, layers, network, startup
from aclcore.bench.harness import Comparison, Stats
from aclcore.plugins.registry import families

__all__ = ["BANK_SIZES", "DEFAULT", "FULL", "GROUPS", "QUICK", "Row", "SuiteConfig",
           "bank_rows", "compile_rows", "format_rows", "report", "run_suite", "time_rows"]

#: The groups of the suite, in the order they run.
GROUPS = ("bank", "layer", "network", "compile", "startup", "fit")

#: The families whose banks :data:`FULL` and :data:`DEFAULT` measure (acl-classic).
CLASSIC = ("gaussian", "anisotropic_gaussian", "gaussian_1d", "gaussian_3d", "gaussian_d1",
           "gaussian_d2", "log", "dog", "gabor", "sinusoid", "gabor_1d", "sinc_bandpass")
#: Kernel size of the bank benchmark per family dimension: 7x7, 31 taps, 5x5x5.
BANK_SIZES = {1: 31, 2: 7, 3: 5}


@dataclass(frozen=True)
class SuiteConfig:
    """How much of the suite runs and how long (rounds are ratio samples)."""

    groups: tuple[str, ...] = GROUPS
    rounds: int = 5
    repeats: int = 2
    bank_families: tuple[str, ...] = CLASSIC
    bank_count: tuple[int, int] = (64, 64)
    layer_cases: tuple[str, ...] = tuple(c.name for c in layers.LAYER_CASES)
    layer_quick: bool = True
    layer_memory: bool = True
    network_batch: int = 64
    compile_cold: bool = False
    startup_programs: tuple[str, ...] | None = ("acl --version", "acl families (classic)",
                                                "import aclcore + discovery (classic)")
    startup_rounds: int = 1
    fit_count: int = 8
    fit_quick: bool = True


#: ``docs/performance.md``: every case, full sizes (minutes).
FULL = SuiteConfig(rounds=15, repeats=3, layer_quick=False, compile_cold=True,
                   startup_programs=None, startup_rounds=5, fit_count=64, fit_quick=False)
#: ``acl bench``: the suite at small sizes (well under a minute).
DEFAULT = SuiteConfig()
#: ``acl bench --quick``: a smoke run of every group (seconds).
QUICK = SuiteConfig(rounds=1, repeats=1, bank_families=("gabor", "gaussian"),
                    bank_count=(8, 8), layer_cases=("first layer 3->64 7x7",),
                    layer_memory=False, network_batch=4, startup_programs=("acl --version",),
                    fit_count=2)


@dataclass
class Row:
    """One figure: ``subject / baseline`` for a case, with its spread and target."""

    group: str
    case: str
    subject: str
    baseline: str
    ratio: Stats | None = None
    detail: str = ""
    target: float | None = None
    skipped: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> str:
        """``"met"``, ``"missed"``, ``"skipped"`` or ``""`` (no target)."""
        if self.skipped:
            return "skipped"
        if self.target is None or self.ratio is None:
            return ""
        return "met" if self.ratio.median <= self.target else "missed"

    def to_dict(self) -> dict[str, Any]:
        """The row as JSON-ready data."""
        return {"group": self.group, "case": self.case, "subject": self.subject,
                "baseline": self.baseline,
                "ratio": None if self.ratio is None else self.ratio.to_dict(),
                "detail": self.detail, "target": self.target, "status": self.status,
                "skipped": self.skipped or None, **self.extra}


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.2f} ms"


def time_rows(group: str, case: str, c: Comparison, subjects: dict[str, str], baseline: str,
              target: float | None = None) -> list[Row]:
    """One row per ``subjects`` entry (case name -> label): its ratio to ``c``'s baseline."""
    base = c.time(c.baseline).median
    return [Row(group, case, label, baseline, c.ratio(name),
                f"{_ms(c.time(name).median)} vs {_ms(base)}", target)
            for name, label in subjects.items()]


def _missing_classic() -> str:
    return "" if "gabor" in families() else "skipped: acl-classic not installed"


def bank_rows(names: tuple[str, ...], *, count: tuple[int, int] = (64, 64), rounds: int = 11,
              repeats: int = 3) -> list[Row]:
    """The issue's Gabor figure and every generator's bank of each family of ``names``; the
    targets attached when ``count`` is the issue's 64 x 64."""
    rows: list[Row] = []
    issue = banks.measure_issue_gabor(count=count, rounds=rounds, repeats=repeats)
    case = f"issue Gabor {count[0]}x{count[1]}x7x7 fwd+bwd"
    issue_size = count == (64, 64)  # the issue's targets are for 4096 kernels
    rows += time_rows("bank", case, issue, {"aclcore": "aclcore"}, "lambdify",
                      0.6 if issue_size else None)
    rows += time_rows("bank", case, issue, {"hand-written": "hand-written"}, "lambdify")
    for name in names:
        nd = families()[name].ndim
        size = BANK_SIZES[nd]
        result = banks.measure_bank(name, count=count, size=size, rounds=rounds,
                                    repeats=repeats)
        case = f"{name} {count[0]}x{count[1]}x{'x'.join([str(size)] * nd)}"
        c = result.comparison
        for gen in banks.GENERATORS:
            if gen == "hand-written":
                continue
            if c is not None and gen in c.times:
                rows += time_rows("bank", case, c, {gen: gen}, "hand-written",
                                  1.0 if gen == "aclcore" and issue_size else None)
            elif gen in result.skipped:
                rows.append(Row("bank", case, gen, "hand-written", skipped=result.skipped[gen]))
            elif gen == "aclcore" or (gen != "kornia" and c is None):
                rows.append(Row("bank", case, gen, "hand-written",
                                skipped="skipped: the hand-written baseline failed its check"))
    return rows


def _bank_rows(cfg: SuiteConfig) -> list[Row]:
    if (why := _missing_classic()):
        return [Row("bank", "classic families", "aclcore", "hand-written", skipped=why)]
    return bank_rows(cfg.bank_families, count=cfg.bank_count, rounds=cfg.rounds,
                     repeats=cfg.repeats)


def _layer_rows(cfg: SuiteConfig) -> list[Row]:
    if (why := _missing_classic()):
        return [Row("layer", "layers", "ACL", "nn.ConvNd", skipped=why)]
    rows: list[Row] = []
    for case in layers.LAYER_CASES:
        if case.name not in cfg.layer_cases:
            continue
        r = layers.measure_layer(case, rounds=cfg.rounds, repeats=cfg.repeats,
                                 quick=cfg.layer_quick, memory=cfg.layer_memory)
        conv = f"nn.Conv{case.ndim}d"
        rows += time_rows("layer", case.name, r.train, {"acl": "train step"}, conv)
        rows += time_rows("layer", case.name, r.eval, {"acl": "eval forward"}, conv)
        if r.memory:
            ratio = r.memory["acl"] / r.memory["conv"]
            rows.append(Row("layer", case.name, "peak memory (train)", conv,
                            Stats.of([ratio]),
                            f"{r.memory['acl'] / 2**20:.1f} MiB vs "
                            f"{r.memory['conv'] / 2**20:.1f} MiB"))
    return rows


def _network_rows(cfg: SuiteConfig) -> list[Row]:
    if (why := _missing_classic()):
        return [Row("network", "LeNet train step", "AnaNN", "CNN", skipped=why)]
    c = network.measure_train_step(batch=cfg.network_batch, rounds=cfg.rounds,
                                   repeats=cfg.repeats)
    return time_rows("network", f"LeNet train step, batch {cfg.network_batch}", c,
                      {"analytic": "AnaNN"}, "CNN", 1.05 if cfg.network_batch == 64 else None)


def compile_rows(*, rounds: int = 11, repeats: int = 3, cold: bool = True) -> list[Row]:
    """Compile time of the Gabor family (warm, cached; cold in fresh interpreters)."""
    warm = compiletime.measure_warm(rounds=rounds, repeats=repeats)
    rows = time_rows("compile", "gabor (warm: caches cleared)", warm,
                     {"aclcore warm": "aclcore compile"}, "lambdify")
    rows += time_rows("compile", "gabor (cached)", warm,
                      {"aclcore cached": "aclcore compile"}, "lambdify")
    if cold:
        measured = compiletime.measure_cold(rounds=max(rounds // 5, 1))
        rows += time_rows("compile", "gabor (cold: fresh interpreter)", measured,
                          {"aclcore cold": "aclcore compile"}, "lambdify")
    return rows


def _compile_rows(cfg: SuiteConfig) -> list[Row]:
    if (why := _missing_classic()):
        return [Row("compile", "gabor", "aclcore", "lambdify", skipped=why)]
    return compile_rows(rounds=cfg.rounds, repeats=cfg.repeats, cold=cfg.compile_cold)


def _startup_rows(cfg: SuiteConfig) -> list[Row]:
    c = startup.measure_startup(rounds=cfg.startup_rounds, names=cfg.startup_programs)
    rows = []
    base = c.time(c.baseline).median
    for name in c.times:
        if name == c.baseline:
            continue
        kind, limit = startup.TARGETS.get(name, ("", 0.0))
        seconds = c.time(name).median
        detail = f"{seconds:.2f} s vs {base:.2f} s"
        target = None
        if kind == "seconds":
            detail += f" (target {limit:.1f} s: {'met' if seconds <= limit else 'missed'})"
        elif kind == "ratio":
            target = limit
        rows.append(Row("startup", name, name.split(" (")[0], "import torch", c.ratio(name),
                        detail, target, extra={"seconds": c.time(name).to_dict()}))
    return rows


def _fit_rows(cfg: SuiteConfig) -> list[Row]:
    if (why := _missing_classic()):
        return [Row("fit", "fit_kernels", "batched", "loop", skipped=why)]
    r = fitting.measure_fit(count=cfg.fit_count, quick=cfg.fit_quick,
                            batch=min(8, cfg.fit_count))
    case = (f"{r.count} kernels x {len(r.seconds)} families"
            + (" (quick schedule)" if cfg.fit_quick else ""))
    return [
        Row("fit", case, "total time", f"{fitting.TARGET_SECONDS:.0f} s target",
            Stats.of([r.total / fitting.TARGET_SECONDS]), f"{r.total:.1f} s",
            1.0 if r.count == 64 and not cfg.fit_quick else None,
            extra={"seconds": r.seconds, "generating_family_first": r.hits}),
        Row("fit", f"gabor, {min(8, r.count)} kernels", "one batched fit",
            "a loop of single-kernel fits", Stats.of([r.batched / r.looped]),
            f"{r.batched:.2f} s vs {r.looped:.2f} s"),
    ]


_RUNNERS: dict[str, Callable[[SuiteConfig], list[Row]]] = {
    "bank": _bank_rows, "layer": _layer_rows, "network": _network_rows,
    "compile": _compile_rows, "startup": _startup_rows, "fit": _fit_rows,
}


def run_suite(config: SuiteConfig = DEFAULT, *, only: tuple[str, ...] | None = None,
              progress: Callable[[str], None] | None = None) -> list[Row]:
    """Measure the groups of ``config`` (``only``: a subset of them), in :data:`GROUPS` order."""
    if only is not None:
        unknown = sorted(set(only) - set(GROUPS))
        if unknown:
            raise ValueError(f"unknown benchmark group(s) {unknown}: use {', '.join(GROUPS)}")
        config = replace(config, groups=tuple(g for g in config.groups if g in only))
    rows: list[Row] = []
    for group in config.groups:
        if progress is not None:
            progress(group)
        rows += _RUNNERS[group](config)
    return rows


def format_rows(rows: list[Row]) -> str:
    """A plain-text table: one line per figure, median ratio with its interquartile range."""
    lines = [f"{'group':<8} {'case':<40} {'subject / baseline':<46} {'ratio':>7} "
             f"{'[q25, q75]':<15} {'target':<11} detail"]
    for r in rows:
        label = f"{r.subject} / {r.baseline}"
        if r.skipped:
            lines.append(f"{r.group:<8} {r.case:<40} {label:<46} {'-':>7} {'':<15} {'':<11} "
                         f"{r.skipped}")
            continue
        assert r.ratio is not None
        spread = f"[{r.ratio.q25:.3f}, {r.ratio.q75:.3f}]"
        target = "" if r.target is None else f"<= {r.target:g} {r.status}"
        lines.append(f"{r.group:<8} {r.case:<40} {label:<46} {r.ratio.median:>7.3f} "
                     f"{spread:<15} {target:<11} {r.detail}")
    return "\n".join(lines)


def report(env: Mapping[str, Any], rows: list[Row], *, as_json: bool = False,
           command: str | None = None, note: str = "") -> str:
    """What ``acl bench`` and the benchmark scripts print: indented JSON (``command`` when
    given, the machine, the rows), or a line naming the command and the machine (``note``
    appended) followed by :func:`format_rows`' table."""
    if as_json:
        data: dict[str, Any] = {} if command is None else {"command": command}
        data.update({"machine": dict(env), "rows": [r.to_dict() for r in rows]})
        return json.dumps(data, indent=2)
    head = f"{command}: " if command else ""
    return (f"{head}{env['cpu']}, {env['cores']} cores (load {env['load_average_1min']}), "
            f"torch {env['torch']} with {env['torch_threads']} thread(s), Python "
            f"{env['python']}{note}\n{format_rows(rows)}")
