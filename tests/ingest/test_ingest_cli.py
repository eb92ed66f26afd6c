"""The real `c2m ingest` entry point: exit codes, one-line messages, --json accounting."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

ORDERS = "order_id,user_id,sku,ts,qty,unit_price\n1,u,s,2024-01-01 10:00,1,1\n2,v,t,2024-01-02,2,3\n3,w,x,later,1,1\n"


def test_json_summary_and_exact_accounting(c2m, tmp_path: Path):
    src = tmp_path / "o.csv"
    src.write_bytes(ORDERS.encode("gb18030"))
    result = c2m("ingest", tmp_path / "ws", "--orders", src, "--json", "--timezone", "Asia/Shanghai")
    assert result.exit_code == 0, result.stderr
    payload = result.json
    assert payload["ok"] is True and payload["command"] == "ingest"
    assert payload["data_timezone"] == "Asia/Shanghai"
    assert payload["tables"]["orders"] == {
        "rows_in": 3, "rows_written": 2, "rows_rejected": 1, "duplicates": 0,
        "reject_reasons": {"ts: not a date/time": 1}, "files": 1,
        "fields_nulled": 0, "field_reasons": {},
    }
    assert "Traceback" not in result.stderr


def test_human_summary_on_stderr_only(c2m, tmp_path: Path):
    src = tmp_path / "o.csv"
    src.write_text(ORDERS, encoding="utf-8")
    result = c2m("ingest", tmp_path / "ws", "--orders", src, "--verbose")
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "ts: not a date/time" in result.stderr and "rejected" in result.stderr


def test_missing_required_column_exits_3(c2m, tmp_path: Path):
    src = tmp_path / "o.csv"
    src.write_text("order_id,user_id,sku,qty,unit_price\n1,u,s,1,1\n", encoding="utf-8")
    result = c2m("ingest", tmp_path / "ws", "--orders", src)
    assert result.exit_code == 3
    assert result.stderr.strip().splitlines()[0] == (
        f"Error: {src}: required column 'ts' of orders not found"
        " (columns: order_id, user_id, sku, qty, unit_price); map it with --mapping"
    )


def test_no_usable_rows_exits_3(c2m, tmp_path: Path):
    src = tmp_path / "o.csv"
    src.write_text("order_id,user_id,sku,ts,qty,unit_price\n1,u,s,2024-01-01,many,1\n", encoding="utf-8")
    result = c2m("ingest", tmp_path / "ws", "--orders", src, "--json")
    assert result.exit_code == 3
    assert result.json == {
        "ok": False, "exit_code": 3, "hint": None, "warnings": [],
        "error": f"{src}: no usable orders rows (1 read, all rejected; first: {src} line 2, column qty: not a number 'many')",
    }


def test_corrupt_excel_exits_3(c2m, tmp_path: Path):
    src = tmp_path / "o.xlsx"
    src.write_bytes(b"PK\x03\x04 truncated zip")
    result = c2m("ingest", tmp_path / "ws", "--orders", src)
    assert result.exit_code == 3
    assert result.stderr.startswith(f"Error: {src}: not a readable Excel workbook")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--orders", "{tmp}/missing.csv"], "Error: --orders {tmp}/missing.csv: no such file or directory"),
        (["--orders", "{tmp}/o.csv", "--mapping", "{tmp}/bad.toml"], "Error: mapping {tmp}/bad.toml: not valid TOML"),
        (["--orders", "{tmp}/o.csv", "--mapping", "{tmp}/bad.toml", "--preset", "cdnow"],
         "Error: give either --mapping or --preset, not both"),
        (["--orders", "{tmp}/o.csv", "--timezone", "Moon/Base"], "Error: unknown time zone 'Moon/Base'"),
    ],
)
def test_usage_errors_exit_2(c2m, tmp_path: Path, args: list[str], message: str):
    (tmp_path / "o.csv").write_text(ORDERS, encoding="utf-8")
    (tmp_path / "bad.toml").write_text("[orders\n", encoding="utf-8")
    result = c2m("ingest", tmp_path / "ws", *[a.format(tmp=tmp_path) for a in args])
    assert result.exit_code == 2
    assert result.stderr.startswith(message.format(tmp=tmp_path))
    assert "Traceback" not in result.stderr


def test_inspect_shows_the_rejects(c2m, tmp_path: Path):
    src = tmp_path / "o.csv"
    src.write_text(ORDERS, encoding="utf-8")
    assert c2m("ingest", tmp_path / "ws", "--orders", src).exit_code == 0
    rejects = pl.read_parquet(tmp_path / "ws" / "_rejects" / "orders.parquet")
    assert rejects.rows() == [(str(src), 4, "ts", "later", "not a date/time")]
    result = c2m("inspect", tmp_path / "ws", "--json")
    assert {"table": "orders", "rows": 1} in [{k: r[k] for k in ("table", "rows")} for r in result.json["rejects"]]


def test_human_summary_shows_the_reading_notes(c2m, tmp_path: Path):
    folder = tmp_path / "daily"
    folder.mkdir()
    (folder / "a.csv").write_text("店铺订单报表\n" + ORDERS, encoding="utf-8")
    (folder / "b.csv").write_text("", encoding="utf-8")
    result = c2m("ingest", tmp_path / "ws", "--orders", folder, "--verbose")
    assert result.exit_code == 0, result.stderr
    flat = " ".join(result.stderr.split())
    assert "notes" in flat and "empty file, skipped" in flat
    assert "header on line 2 (1 line(s) above it skipped)" in flat
