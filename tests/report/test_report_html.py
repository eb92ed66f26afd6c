"""`c2m report` end to end on a declarative workspace: sections, language, safety, manifest."""

from __future__ import annotations

import re

import polars as pl
import pytest
from report_world import FORMULA_REVIEW, ID_MARK, build_world, manifest_step

from c2m_cli.report import run_report
from c2m_cli.workspace import Workspace

SECTIONS = ["overview", "consumers", "segments", "demand", "opportunities", "quantities", "audiences", "bundles", "scorecard"]


def test_cli_writes_every_section_in_chinese(c2m, zh_world):
    result = c2m("report", zh_world.root, "--json")
    assert result.exit_code == 0, result.stderr
    summary = result.json
    assert summary["ok"] is True
    assert summary["lang"] == "zh" and summary["data_lang"] == "zh"
    assert summary["sections"] == SECTIONS
    assert summary["missing"] == []
    page = (zh_world.root / "report.html").read_text(encoding="utf-8")
    assert re.findall(r'<section id="(\w+)"', page) == SECTIONS
    assert '<html lang="zh-CN">' in page
    for heading in ("运行概览", "消费者", "人群分群", "需求预测", "组合推荐", "演示评分卡（植入真值）"):
        assert f"<h2>{heading}</h2>" in page
    # self-contained: no script, no external resource of any kind
    assert "<script" not in page.lower()
    assert not re.search(r'(src|href)\s*=\s*"(?!#)', page)
    assert summary["bytes"] == len(page.encode("utf-8")) < 5_000_000


def test_values_from_the_data_are_escaped_and_formulas_neutralised(zh_world):
    run_report(zh_world)
    page = (zh_world.root / "report.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;键盘声音太吵了" in page
    assert "&#x27;=HYPERLINK(&quot;http://evil.example&quot;,&quot;点我&quot;)" in page
    assert ">" + FORMULA_REVIEW not in page
    # the brief's markdown is escaped too, and a segment description starting with = is text
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<img" not in page
    assert "&#x27;=1+1 高频复购的电竞玩家" in page


def test_no_user_id_unless_asked(zh_world):
    run_report(zh_world)
    page = (zh_world.root / "report.html").read_text(encoding="utf-8")
    assert ID_MARK not in page
    assert "报告不含用户 ID；需要时用 --include-ids 重新生成。" in page
    summary = run_report(zh_world, include_ids=True)
    page = (zh_world.root / "report.html").read_text(encoding="utf-8")
    assert summary["include_ids"] is True
    # reactivation: the four users in score order; super_users: its two
    assert f"<b>reactivation</b>: {ID_MARK}0, {ID_MARK}1, {ID_MARK}2, {ID_MARK}3</p>" in page
    assert f"<b>super_users</b>: {ID_MARK}4, {ID_MARK}5</p>" in page
    # ids appear only in that list (rejected raw values stay out even then)
    assert page.count(ID_MARK) == 6


def test_missing_steps_say_which_command_to_run(c2m, tmp_path):
    ws = build_world(tmp_path / "ws", tables=("orders", "products"))
    result = c2m("report", ws.root, "--json")
    assert result.exit_code == 0, result.stderr
    assert result.json["missing"] == ["audiences", "bundles", "consumers", "demand", "opportunities", "quantities", "segments"]
    page = (ws.root / "report.html").read_text(encoding="utf-8")
    assert '<p class="missing">尚无数据：运行 <code>c2m forecast WORKSPACE</code> 生成需求预测</p>' in page
    assert '<p class="missing">尚无数据：运行 <code>c2m label WORKSPACE</code> 生成消费者标签</p>' in page
    assert '<p class="missing">尚无数据：运行 <code>c2m segment WORKSPACE</code> 生成人群分群</p>' in page
    assert page.count("<code>c2m recommend WORKSPACE</code>") == 4
    assert "scorecard" not in result.json["sections"]


def test_english_data_gives_an_english_report_and_lang_overrides(tmp_path):
    ws = build_world(tmp_path / "ws", tables=("orders",))
    pl.DataFrame({"sku": ["SKU1", "SKU2"], "name": ["Quiet keyboard", "Gaming mouse"]}).write_parquet(ws.table_path("products"))
    summary = run_report(ws)
    page = (ws.root / "report.html").read_text(encoding="utf-8")
    assert summary["lang"] == "en"
    assert "<h2>Run overview</h2>" in page
    assert "Not available yet: run <code>c2m forecast WORKSPACE</code> to produce demand forecasts" in page
    assert run_report(ws, lang="zh")["lang"] == "zh"
    assert "<h2>运行概览</h2>" in (ws.root / "report.html").read_text(encoding="utf-8")


def test_bad_lang_is_a_usage_error(c2m, zh_world):
    result = c2m("report", zh_world.root, "--lang", "fr")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == "Error: --lang must be zh or en, got 'fr'"
    assert not (zh_world.root / "report.html").exists()


def test_missing_workspace_exits_4(c2m, tmp_path):
    result = c2m("report", tmp_path / "absent")
    assert result.exit_code == 4
    assert result.stderr.splitlines()[0] == f"Error: workspace {tmp_path / 'absent'} does not exist"


def test_table_without_pinned_columns_is_invalid_data(c2m, zh_world):
    pl.DataFrame({"user_id": ["a"], "stage": ["active"]}).write_parquet(zh_world.table_path("labels"))
    result = c2m("report", zh_world.root)
    assert result.exit_code == 3
    assert result.stderr.splitlines()[0] == "Error: labels.parquet lacks column(s) lifecycle_stage needed by the report"
    assert "Traceback" not in result.stderr


def test_manifest_records_the_step_and_output_is_deterministic(zh_world):
    run_report(zh_world)
    first = (zh_world.root / "report.html").read_bytes()
    run_report(zh_world)
    assert (zh_world.root / "report.html").read_bytes() == first
    step = manifest_step(zh_world, "report")
    assert step["parameters"] == {"include_ids": False, "lang": None}
    assert [o["path"] for o in step["outputs"]] == ["report.html"]
    inputs = {i["path"] for i in step["inputs"]}
    assert {"labels.parquet", "forecast.parquet", "orders.parquet", "briefs/B1.md", "demo_scorecard.json"} <= inputs


def test_report_figures_match_the_workspace(zh_world):
    run_report(zh_world)
    page = (zh_world.root / "report.html").read_text(encoding="utf-8")
    # period in local time (orders at 01:00 Shanghai = 17:00 UTC the day before)
    assert "<b>2024年9月1日 – 2024年12月31日</b>" in page
    # rejects and why
    assert "<td>orders</td><td>qty</td><td>not a number</td><td class=\"num\">2</td>" in page
    # festival uplift observed in local days: ×3 for 双11, ×2 for 双12
    assert "双11 2024" in page and "×3.00" in page and "×2.00" in page
    # accuracy: WAPE 10% vs 25% for the seasonal naive: +60% improvement
    assert '<span class="pos">+60.0%</span>' in page
    # scorecard: 1 of 2 passed, the failure shown
    assert "<b>通过 1/2 项</b>" in page
    assert '<span class="fail">✘ 否</span>' in page


@pytest.mark.parametrize("tables", [(), ("orders",), ("labels",), ("forecast",), ("opportunities", "reviews")])
def test_any_subset_of_tables_renders(tmp_path, tables):
    ws = build_world(tmp_path / "ws", tables=tables)
    summary = run_report(ws)
    assert (ws.root / "report.html").stat().st_size == summary["bytes"]


def test_empty_workspace_renders(tmp_path):
    ws = Workspace(tmp_path / "ws")
    summary = run_report(ws)
    assert summary["lang"] == "en"
    assert "overview" in summary["missing"]
