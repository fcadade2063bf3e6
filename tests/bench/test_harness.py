"""The timing rule: paired rounds in rotating order, ratios per round, statistics, threads."""

from __future__ import annotations

import pytest
import torch

from aclcore.bench.harness import Comparison, Stats, compare, machine, pick_clock, torch_threads


def test_rounds_rotate_the_order_and_every_case_runs_repeats_times_per_round() -> None:
    calls: list[str] = []
    cases = {name: (lambda n=name: calls.append(n)) for name in ("a", "b", "c")}
    result = compare(cases, baseline="a", rounds=3, repeats=2, warmup=1)
    assert calls[:3] == ["a", "b", "c"]  # warm-up
    timed = calls[3:]
    assert timed == ["a", "a", "b", "b", "c", "c", "b", "b", "c", "c", "a", "a",
                     "c", "c", "a", "a", "b", "b"]
    assert all(len(result.times[n]) == 3 for n in "abc")
    assert result.baseline == "a" and result.repeats == 2


def test_ratios_pair_the_rounds() -> None:
    c = Comparison("base", {"base": [1.0, 2.0, 4.0], "x": [2.0, 2.0, 2.0]})
    assert c.ratio("x").median == 1.0  # 2/1, 2/2, 2/4 -> median 1.0
    assert (c.ratio("x").low, c.ratio("x").high) == (0.5, 2.0)
    assert c.ratio("base").median == 1.0
    assert c.ratio("base", "x").median == 1.0
    assert c.time("base").median == 2.0


def test_stats_of_one_and_many_samples() -> None:
    one = Stats.of([3.0])
    assert (one.median, one.q25, one.q75, one.n) == (3.0, 3.0, 3.0, 1)
    many = Stats.of([4.0, 1.0, 3.0, 2.0, 5.0])
    assert (many.median, many.q25, many.q75, many.low, many.high) == (3.0, 2.0, 4.0, 1.0, 5.0)
    assert set(many.to_dict()) == {"median", "q25", "q75", "min", "max", "n"}


def test_unknown_baseline_and_clock_are_refused() -> None:
    with pytest.raises(ValueError, match="baseline"):
        compare({"a": lambda: None}, baseline="b")
    with pytest.raises(ValueError, match="clock"):
        pick_clock("sundial")


def test_thread_count_is_restored_and_the_clock_follows_it() -> None:
    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
        assert compare({"a": lambda: None}, baseline="a", rounds=1).clock == "thread"
    assert torch.get_num_threads() == before


def test_machine_names_what_the_figures_depend_on() -> None:
    info = machine()
    assert {"cpu", "cores", "torch", "torch_threads", "python"} <= set(info)
