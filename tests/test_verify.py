"""`c2m verify` replays the recorded steps and compares every output byte for byte."""

from __future__ import annotations

import json

import polars as pl

ORDERS = (
    "order_id,user_id,sku,ts,qty,unit_price\n"
    "1,u1,A,2024-01-01 10:00:00,1,10.5\n"
    "2,u2,B,2024-01-03 11:00:00,2,5\n"
    "3,u1,B,2024-02-01 09:00:00,1,5\n"
    "4,u3,A,2024-02-02 09:30:00,3,10\n"
)


def _workspace(c2m, tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "orders.csv").write_text(ORDERS, encoding="utf-8")
    assert c2m("ingest", "ws", "--orders", "src/orders.csv", cwd=tmp_path).exit_code == 0
    assert c2m("label", "ws", cwd=tmp_path).exit_code == 0
    return tmp_path / "ws"


def test_verify_reproduces_a_workspace_from_another_directory(c2m, tmp_path):
    ws = _workspace(c2m, tmp_path)
    result = c2m("verify", ws, "--json", cwd=tmp_path / "src")
    assert result.exit_code == 0, result.stderr
    summary = result.json
    assert summary["steps_replayed"] == 2
    assert summary["mismatched"] == [] and summary["missing"] == []
    assert summary["files_compared"] >= 3


def test_verify_exits_5_naming_the_file_that_differs(c2m, tmp_path):
    ws = _workspace(c2m, tmp_path)
    # an edit behind c2m's back: the labels no longer match what the recorded steps produce
    labels = pl.read_parquet(ws / "labels.parquet")
    labels.head(1).write_parquet(ws / "labels.parquet")
    result = c2m("verify", ws)
    assert result.exit_code == 5
    assert result.stderr.splitlines()[0] == (
        "Error: replay does not reproduce the workspace: labels.parquet changed since c2m label recorded it"
    )


def test_verify_without_recorded_steps_is_invalid_data(c2m, tmp_path):
    (tmp_path / "ws").mkdir()
    result = c2m("verify", tmp_path / "ws")
    assert result.exit_code == 3
    assert "no recorded steps to verify" in result.stderr


def test_run_executes_a_pipeline_file(c2m, tmp_path):
    (tmp_path / "orders.csv").write_text(ORDERS, encoding="utf-8")
    (tmp_path / "chain.toml").write_text(
        'workspace = "ws"\nseed = 0\n'
        '[[steps]]\ncommand = "ingest"\norders = "orders.csv"\n'
        '[[steps]]\ncommand = "label"\nas-of = "2024-02-02"\n',
        encoding="utf-8",
    )
    result = c2m("run", tmp_path / "chain.toml", "--json")
    assert result.exit_code == 0, result.stderr
    assert result.json["steps"] == ["ingest", "label"] and result.json["skipped"] == []
    labels = pl.read_parquet(tmp_path / "ws" / "labels.parquet")
    assert sorted(labels["user_id"]) == ["u1", "u2", "u3"]
    failing = tmp_path / "bad.toml"
    failing.write_text('workspace = "ws2"\n[[steps]]\ncommand = "label"\n', encoding="utf-8")
    result = c2m("run", failing)
    assert result.exit_code == 4
    assert "step 1 (c2m label" in result.stderr


def test_verify_a_workspace_named_like_a_command_and_a_renamed_copy(c2m, tmp_path):
    import shutil

    (tmp_path / "orders.csv").write_text(ORDERS, encoding="utf-8")
    assert c2m("ingest", "label", "--orders", "orders.csv", cwd=tmp_path).exit_code == 0
    assert c2m("label", "label", cwd=tmp_path).exit_code == 0
    manifest = json.loads((tmp_path / "label" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["steps"][1]["argv"] == ["label", "{workspace}"]
    named = c2m("verify", "label", "--json", cwd=tmp_path)
    assert named.exit_code == 0, named.stderr
    assert named.json["replayed"] == ["ingest", "label"]
    shutil.copytree(tmp_path / "label", tmp_path / "elsewhere" / "copy")
    copied = c2m("verify", tmp_path / "elsewhere" / "copy", "--json")
    assert copied.exit_code == 0, copied.stderr
    assert copied.json["files_compared"] == named.json["files_compared"] >= 3


def test_verify_replays_only_the_latest_entry_of_each_step(c2m, tmp_path):
    ws = _workspace(c2m, tmp_path)
    # an ordinary re-ingest of changed orders (no rejects any more), then label again
    (tmp_path / "src" / "orders.csv").write_text(ORDERS + "5,u4,C,2024-02-03 08:00:00,1,7\n", encoding="utf-8")
    assert c2m("ingest", ws, "--orders", tmp_path / "src" / "orders.csv").exit_code == 0
    assert c2m("label", ws, "--as-of", "2024-02-03").exit_code == 0
    result = c2m("verify", ws, "--json")
    assert result.exit_code == 0, result.stderr
    assert result.json["steps_replayed"] == 2 and result.json["replayed"] == ["ingest", "label"]


def test_verify_exits_5_when_an_output_was_deleted(c2m, tmp_path):
    ws = _workspace(c2m, tmp_path)
    (ws / "tags.parquet").unlink()
    result = c2m("verify", ws)
    assert result.exit_code == 5
    assert result.stderr.splitlines()[0] == (
        "Error: replay does not reproduce the workspace: tags.parquet is missing from the workspace "
        "(recorded by c2m label)"
    )


def test_verify_names_an_edited_mapping_as_the_reason(c2m, tmp_path):
    (tmp_path / "orders.csv").write_text(ORDERS.replace("unit_price", "price").replace("order_id", "oid"), encoding="utf-8")
    mapping = tmp_path / "shop.toml"
    mapping.write_text('[orders]\norder_id = "oid"\nunit_price = "price"\n', encoding="utf-8")
    assert c2m("ingest", tmp_path / "ws", "--orders", tmp_path / "orders.csv", "--mapping", mapping).exit_code == 0
    mapping.write_text('[orders]\norder_id = "oid"\nunit_price = "no_such_column"\n', encoding="utf-8")
    result = c2m("verify", tmp_path / "ws")
    assert result.exit_code == 5
    line = result.stderr.splitlines()[0]
    assert line.startswith("Error: step 1 (c2m ingest) failed on replay with exit 3: ")
    assert "no_such_column" in line  # the replayed command's own error, not its decoration
    assert line.endswith(f"(input {mapping} changed since c2m ingest recorded it)")
