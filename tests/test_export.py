"""`c2m export`: the workbook and the CSV folder read back (openpyxl, polars) hold what the
workspace holds — names beside ids, lists flattened, formula-safe text, dates as dates."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest
from openpyxl import load_workbook

from c2m_cli.export import build_sheets, safe_cell
from c2m_cli.workspace import Workspace

FORMULA = '=HYPERLINK("http://evil.example","点我")'


def build(root: Path, *, chinese: bool = True) -> Workspace:
    ws = Workspace(root)
    frames = {
        "products": pl.DataFrame(
            {"sku": ["SKU1", "SKU2"], "name": ["静音机械键盘", "电竞鼠标"] if chinese else ["Quiet keyboard", "Gaming mouse"]}
        ),
        "segment_profiles": pl.DataFrame(
            {
                "segment_id": ["S1", "S2"],
                "segment_name": ["价格敏感青年", "高价值电竞玩家"] if chinese else ["Bargain hunters", "Gamers"],
                "size": [15, 5],
                "top_tags": [["学生", "促销敏感"], ["电竞"]],
                "features": [[{"feature": "recency", "z": 0.4}], [{"feature": "recency", "z": -1.2}]],
                "description": [FORMULA, "+1 高频复购"],
            }
        ),
        "opportunities": pl.DataFrame(
            {
                "opportunity_id": ["OP1", "OP2"],
                "rank": [1, 2],
                "kind": ["search_gap", "price_band"],
                "category": ["外设", "外设"],
                "sku": [None, "SKU1"],
                "subject": ["静音键盘", "-150–250 元"],
                "evidence": ["搜索 3 次", "@mention"],
                "score": [0.9, 0.5],
                "segment_id": ["S2", None],
                "variants": [["静音键盘", "安静键盘"], []],
            }
        ),
        "quantities": pl.DataFrame(
            {"sku": ["SKU1"], "brief_id": [None], "forecast_p50": [300.0], "recommended_qty": [360.0], "service_level": [0.9]},
            schema_overrides={"brief_id": pl.String},
        ),
        "audiences": pl.DataFrame({"user_id": ["u1", "u2"], "audience": ["reactivation", "super_users"], "reason": ["沉睡", "高频"], "score": [0.9, 0.8]}),
        "forecast": pl.DataFrame(
            {
                "level": ["sku", "sku", "total"],
                "unique_id": ["SKU1", "SKU1", "total"],
                "ds": [dt.date(2025, 1, 6), dt.date(2025, 1, 6), dt.date(2025, 1, 6)],
                "model": ["selected", "naive", "selected"],
                "y_hat": [35.0, 99.0, 70.0],
                "q0.1": [20.0, 90.0, 50.0],
                "q0.5": [35.0, 99.0, 70.0],
                "q0.9": [50.0, 110.0, 90.0],
            }
        ),
        "bundles": pl.DataFrame(
            {"antecedent": [["SKU1", "SKU2"]], "consequent": [["SKU2"]], "support": [0.1], "confidence": [0.6], "lift": [2.4]}
        ),
    }
    for name, frame in frames.items():
        frame.write_parquet(ws.table_path(name))
    return ws


def _sheet(book, name: str) -> list[dict]:
    rows = list(book[name].iter_rows(values_only=True))
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def test_xlsx_round_trip(c2m, tmp_path):
    ws = build(tmp_path / "ws")
    out = tmp_path / "out.xlsx"
    result = c2m("export", ws.root, "--out", out, "--json")
    assert result.exit_code == 0, result.stderr
    summary = result.json
    assert summary["format"] == "xlsx" and summary["lang"] == "zh" and summary["warnings"] == []
    assert [s["sheet"] for s in summary["sheets"]] == ["机会", "建议生产量", "目标人群", "分群画像", "需求预测", "组合推荐"]
    book = load_workbook(out)
    assert book.sheetnames == ["机会", "建议生产量", "目标人群", "分群画像", "需求预测", "组合推荐"]
    opportunities = _sheet(book, "机会")
    assert len(opportunities) == 2
    first = opportunities[0]
    assert first["排名"] == 1 and first["得分"] == 0.9  # numbers stay numbers
    assert first["分群名称"] == "高价值电竞玩家"  # the name beside the id
    assert first["同类说法"] == "静音键盘、安静键盘"  # a list flattened into one cell
    assert first["类型名称"] == "搜索缺口"
    second = opportunities[1]
    assert second["商品名称"] == "静音机械键盘"
    assert second["机会"] == "'-150–250 元" and second["证据"] == "'@mention"  # formula-safe
    assert second["同类说法"] is None  # an empty list is an empty cell
    # text cells are text: nothing the workbook would evaluate
    for row in book["分群画像"].iter_rows(min_row=2):
        for cell in row:
            assert cell.data_type != "f"
    profiles = _sheet(book, "分群画像")
    assert profiles[0]["描述"] == "'" + FORMULA and profiles[1]["描述"] == "'+1 高频复购"
    assert profiles[0]["主要标签"] == "学生、促销敏感"
    assert json.loads(profiles[0]["features"]) == [{"feature": "recency", "z": 0.4}]  # nested → JSON text
    forecast = _sheet(book, "需求预测")
    assert [(r["层级"], r["名称"], r["预测值（件）"]) for r in forecast] == [("sku", "静音机械键盘", 35.0), ("total", "total", 70.0)]
    assert forecast[0]["周期起始日"] == dt.datetime(2025, 1, 6)  # a date cell, not text
    assert book["需求预测"].cell(row=2, column=4).number_format == "yyyy-mm-dd"
    bundles = _sheet(book, "组合推荐")
    assert bundles[0]["购买了"] == "静音机械键盘、电竞鼠标" and bundles[0]["购买了（编码）"] == "SKU1、SKU2"
    audiences = _sheet(book, "目标人群")
    assert [r["人群名称"] for r in audiences] == ["唤醒召回", "超级用户"]


def test_csv_folder_round_trip(c2m, tmp_path):
    ws = build(tmp_path / "ws", chinese=False)
    out = tmp_path / "csv"
    result = c2m("export", ws.root, "--format", "csv", "--out", out, "--json")
    assert result.exit_code == 0, result.stderr
    assert result.json["lang"] == "en"
    assert sorted(p.name for p in out.iterdir()) == [
        "audiences.csv", "bundles.csv", "forecast.csv", "opportunities.csv", "quantities.csv", "segment_profiles.csv",
    ]
    raw = (out / "segment_profiles.csv").read_bytes()
    assert raw.startswith("\ufeff".encode())  # Excel reads UTF-8 with a BOM
    with open(out / "segment_profiles.csv", encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows[0]["description"] == "'" + FORMULA
    assert rows[0]["top_tags"] == "学生; 促销敏感"
    frame = pl.read_csv(out / "forecast.csv", try_parse_dates=True)
    assert frame["ds"].dtype == pl.Date and frame["name"].to_list() == ["Quiet keyboard", "total"]
    opportunities = pl.read_csv(out / "opportunities.csv")
    assert opportunities["segment_name"].to_list() == ["Gamers", None]
    assert opportunities["kind_name"].to_list() == ["search gap", "price band"]


def test_nothing_to_export_is_a_missing_prerequisite(c2m, tmp_path):
    ws = Workspace(tmp_path / "ws")
    pl.DataFrame({"sku": ["SKU1"]}).write_parquet(ws.table_path("products"))
    result = c2m("export", ws.root, "--json")
    assert result.exit_code == 4
    assert result.stderr.splitlines()[0].startswith(f"Error: nothing to export in {ws.root}: no opportunities")
    assert json.loads(result.stdout)["exit_code"] == 4


def test_bad_format_and_paths_are_usage_errors(c2m, tmp_path):
    ws = build(tmp_path / "ws")
    result = c2m("export", ws.root, "--format", "pdf")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == "Error: --format must be xlsx or csv, got 'pdf'"
    result = c2m("export", ws.root, "--out", tmp_path)
    assert result.exit_code == 2
    assert "is a directory" in result.stderr
    assert c2m("export", tmp_path / "absent").exit_code == 4


def test_default_paths_are_inside_the_workspace(tmp_path):
    from c2m_cli.export import run_export

    ws = build(tmp_path / "ws")
    assert run_export(ws)["out"] == str(ws.root / "c2m_export.xlsx")
    assert (ws.root / "c2m_export.xlsx").is_file()
    assert run_export(ws, fmt="csv")["files"][0] == str(ws.root / "c2m_export" / "opportunities.csv")


@pytest.mark.parametrize("value", ["=1+1", "+1", "-2", "@SUM(A1)", "\tx", "\rx"])
def test_safe_cell_neutralises_formula_starts(value):
    assert safe_cell(value) == "'" + value
    assert safe_cell("plain") == "plain" and safe_cell(-2.5) == -2.5 and safe_cell(float("nan")) is None


def test_build_sheets_is_pure_and_keeps_every_row(tmp_path):
    ws = build(tmp_path / "ws")
    frames = {name: ws.read(name) for name in ws.tables()}
    sheets = {s.table: s.frame for s in build_sheets(frames, lang="en")}
    assert sheets["opportunities"].height == 2 and sheets["audiences"].height == 2
    assert sheets["forecast"].height == 2  # the selected model only
    assert all(not isinstance(dtype, pl.List | pl.Struct) for frame in sheets.values() for dtype in frame.dtypes)
