"""Workspaces: staged atomic steps, the manifest, secrets kept out."""

from __future__ import annotations

import json

import polars as pl
import pytest

from c2m_cli.errors import MissingPrerequisiteError
from c2m_cli.workspace import Workspace, mask_secrets, sha256_of


def _frame(n: int) -> pl.DataFrame:
    return pl.DataFrame({"user_id": [str(i) for i in range(n)], "v": list(range(n))})


def test_step_records_inputs_outputs_rows_and_hashes(tmp_path):
    ws = Workspace(tmp_path)
    with ws.step("first", parameters={"k": 3, "when": None}, seed=7, argv=["first", "{workspace}"]) as step:
        step.write_table("alpha", _frame(3))
        step.write_json("model.json", {"b": 1, "a": [1, 2]})
    with ws.step("second", parameters={}, seed=0) as step:
        rows = step.read("alpha").height
        step.write_table("beta", _frame(rows * 2))
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    first, second = manifest["steps"]
    assert manifest["c2m_manifest_version"] == 1
    assert first["command"] == "first" and first["seed"] == 7
    assert first["parameters"] == {"k": 3, "when": None}
    assert first["argv"] == ["first", "{workspace}"]
    assert [o["path"] for o in first["outputs"]] == ["alpha.parquet", "model.json"]
    assert first["outputs"][0]["rows"] == 3
    assert first["outputs"][0]["sha256"] == sha256_of(tmp_path / "alpha.parquet")
    assert second["inputs"] == [{"path": "alpha.parquet", "rows": 3, "sha256": first["outputs"][0]["sha256"]}]
    assert second["outputs"][0]["rows"] == 6
    # deterministic layout: sorted keys, the same key set on every entry
    assert set(first) == {"argv", "c2m_version", "command", "inputs", "outputs", "parameters", "seed", "wall_time_s"}
    text = (tmp_path / "manifest.json").read_text()
    assert text == json.dumps(manifest, ensure_ascii=False, sort_keys=True, indent=2) + "\n"


def test_failed_step_leaves_previous_outputs_and_no_partial_files(tmp_path):
    ws = Workspace(tmp_path)
    with ws.step("make", parameters={}) as step:
        step.write_table("alpha", _frame(3))
    before = sha256_of(tmp_path / "alpha.parquet")
    with pytest.raises(RuntimeError), ws.step("make", parameters={}) as step:
        step.write_table("alpha", _frame(10))
        raise RuntimeError("interrupted half way")
    assert sha256_of(tmp_path / "alpha.parquet") == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    assert len(ws.manifest()["steps"]) == 1


def test_same_data_gives_byte_identical_parquet(tmp_path):
    for name in ("a", "b"):
        ws = Workspace(tmp_path / name)
        with ws.step("make", parameters={}) as step:
            step.write_table("t", _frame(1000))
    assert sha256_of(tmp_path / "a" / "t.parquet") == sha256_of(tmp_path / "b" / "t.parquet")


def test_require_names_the_command_to_run_first(tmp_path):
    ws = Workspace(tmp_path)
    with pytest.raises(MissingPrerequisiteError) as caught:
        ws.require("segments", for_command="recommend")
    assert str(caught.value) == f"segments.parquet is not in workspace {ws.root} (needed by c2m recommend)"
    assert caught.value.hint == "run `c2m segment WORKSPACE` first"


def test_passwords_never_reach_the_manifest(tmp_path):
    assert mask_secrets("postgresql://ana:s3cret@db:5432/shop") == "postgresql://ana:***@db:5432/shop"
    ws = Workspace(tmp_path)
    with ws.step("ingest", parameters={"orders": "mysql://u:pw@h/db?table=o"}, argv=["ingest", "mysql://u:pw@h/db"]) as step:
        step.write_table("x", _frame(1))
    text = (tmp_path / "manifest.json").read_text()
    assert "pw" not in text and "u:***@h" in text
