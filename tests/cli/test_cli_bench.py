"""``acl bench``: runs a tiny configuration and reports every case as a ratio (or skipped).

No timing values are asserted: only that every row of the configuration is there, with a
positive ratio against a named baseline or a reason why it was skipped.
"""

from __future__ import annotations

import json

import pytest
import torch

from aclcore import cli
from aclcore.bench import suite

pytestmark = pytest.mark.real_registry


def test_quick_json_reports_every_group_with_ratios(capsys: pytest.CaptureFixture[str]) -> None:
    threads = torch.get_num_threads()
    code = cli.main(["bench", "--quick", "--json"])
    assert torch.get_num_threads() == threads  # restored
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["command"].startswith("acl bench --quick")
    assert {"cpu", "cores", "torch", "python"} <= set(data["machine"])
    rows = data["rows"]
    assert {r["group"] for r in rows} == set(suite.GROUPS)
    for row in rows:
        assert row["baseline"] and row["subject"] and row["case"]
        if row["skipped"]:
            assert row["status"] == "skipped" and row["ratio"] is None
        else:
            assert row["ratio"]["median"] > 0 and row["ratio"]["n"] >= 1
    cases = {(r["group"], r["subject"], r["baseline"]) for r in rows}
    assert ("bank", "aclcore", "lambdify") in cases  # the Gabor figure
    assert ("bank", "aclcore", "hand-written") in cases
    assert ("layer", "train step", "nn.Conv2d") in cases
    assert ("network", "AnaNN", "CNN") in cases
    assert ("startup", "acl --version", "import torch") in cases


def test_text_output_and_group_selection(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["bench", "--quick", "--only", "compile"])
    out = capsys.readouterr()
    assert code == 0
    assert "aclcore compile / lambdify" in out.out and "startup" not in out.out
    assert "running compile" in out.err


def test_unknown_group_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["bench", "--only", "banks,layer"]) == 2
    assert "unknown group(s) banks" in capsys.readouterr().err
