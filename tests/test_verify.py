"""`c2m verify` replays the recorded steps and compares every output byte for byte."""

from __future__ import annotations

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
    assert result.stderr.startswith("Error: replay does not reproduce the workspace: 1 differ (labels.parquet)")


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
    assert result.json["steps"] == 2
    labels = pl.read_parquet(tmp_path / "ws" / "labels.parquet")
    assert sorted(labels["user_id"]) == ["u1", "u2", "u3"]
    failing = tmp_path / "bad.toml"
    failing.write_text('workspace = "ws2"\n[[steps]]\ncommand = "label"\n', encoding="utf-8")
    result = c2m("run", failing)
    assert result.exit_code == 4
    assert "step 1 (c2m label" in result.stderr
