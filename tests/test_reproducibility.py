"""The whole demo chain replays byte for byte: `c2m verify` after `c2m demo`, wherever the workspace is."""

from __future__ import annotations

import shutil

import pytest


@pytest.mark.slow
def test_demo_workspace_verifies_and_so_does_a_renamed_copy(c2m, tmp_path):
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
    # a copy under another name (one that is also a command) and place verifies the same
    copy = tmp_path / "elsewhere" / "label"
    shutil.copytree(ws, copy)
    moved = c2m("verify", copy, "--json")
    assert moved.exit_code == 0, moved.stderr
    assert moved.json["files_compared"] == summary["files_compared"]
    # a deleted output is a mismatch naming the file
    (copy / "segments.parquet").unlink()
    broken = c2m("verify", copy)
    assert broken.exit_code == 5
    assert "segments.parquet is missing from the workspace (recorded by c2m segment)" in broken.stderr.splitlines()[0]
