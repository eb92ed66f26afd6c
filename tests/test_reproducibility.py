"""The whole demo chain replays byte for byte: `c2m verify` after `c2m demo`."""

from __future__ import annotations

import pytest


@pytest.mark.slow
def test_demo_workspace_verifies(c2m, tmp_path):
    ws = tmp_path / "demo"
    made = c2m("demo", ws, "--users", "1500", "--seed", "3", "--json")
    assert made.exit_code == 0, made.stderr
    assert all(step["status"] == "ok" for step in made.json["steps"]), made.json["steps"]
    checked = c2m("verify", ws, "--json")
    assert checked.exit_code == 0, checked.stderr
    summary = checked.json
    assert summary["mismatched"] == [] and summary["missing"] == []
    # every table, model, brief and the report itself were compared
    assert summary["files_compared"] >= 25
