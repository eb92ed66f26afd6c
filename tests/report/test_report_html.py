"""`c2m report` end to end on a declarative workspace: sections, language, safety, manifest."""

from __future__ import annotations

import re

import polars as pl
import pytest
from report_world import FORMULA_REVIEW, ID_MARK, build_world, manifest_step

from c2m_cli.report import run_report
from c2m_cli.workspace import Workspace

SECTIONS = [
    "summary", "consumers", "segments", "demand", "opportunities", "briefs", "quantities", "audiences", "bundles",
    "caveats", "overview", "scorecard",
]


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
    for heading in ("该做什么", "消费者", "人群分群", "需求预测", "组合推荐", "注意事项", "数据与运行", "演示评分卡（植入真值）"):
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
    # the brief's text is escaped too, and a segment description starting with = is text
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
    assert f"<b>唤醒召回</b>: {ID_MARK}0, {ID_MARK}1, {ID_MARK}2, {ID_MARK}3</p>" in page
    assert f"<b>超级用户</b>: {ID_MARK}4, {ID_MARK}5</p>" in page
    # ids appear only in that list (rejected raw values stay out even then)
    assert page.count(ID_MARK) == 6


def test_missing_steps_say_which_command_to_run(c2m, tmp_path):
    ws = build_world(tmp_path / "ws", tables=("orders", "products"))
    result = c2m("report", ws.root, "--json")
    assert result.exit_code == 0, result.stderr
    assert result.json["missing"] == [
        "audiences", "briefs", "bundles", "consumers", "demand", "opportunities", "quantities", "segments", "summary",
    ]
    page = (ws.root / "report.html").read_text(encoding="utf-8")
    assert '<p class="missing">尚无数据：运行 <code>c2m forecast WORKSPACE</code> 生成需求预测</p>' in page
    assert '<p class="missing">尚无数据：运行 <code>c2m label WORKSPACE</code> 生成消费者标签</p>' in page
    assert '<p class="missing">尚无数据：运行 <code>c2m segment WORKSPACE</code> 生成人群分群</p>' in page
    assert page.count("<code>c2m recommend WORKSPACE</code>") == 6
    assert "scorecard" not in result.json["sections"]


def test_english_data_gives_an_english_report_and_lang_overrides(tmp_path):
    ws = build_world(tmp_path / "ws", tables=("orders",))
    pl.DataFrame({"sku": ["SKU1", "SKU2"], "name": ["Quiet keyboard", "Gaming mouse"]}).write_parquet(ws.table_path("products"))
    summary = run_report(ws)
    page = (ws.root / "report.html").read_text(encoding="utf-8")
    assert summary["lang"] == "en"
    assert "<h2>What to make</h2>" in page and "<h2>Data and run</h2>" in page
    assert "Not available yet: run <code>c2m forecast WORKSPACE</code> to produce demand forecasts" in page
    assert run_report(ws, lang="zh")["lang"] == "zh"
    assert "<h2>该做什么</h2>" in (ws.root / "report.html").read_text(encoding="utf-8")


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
    assert {"labels.parquet", "forecast.parquet", "backtest.parquet", "orders.parquet", "briefs.parquet", "demo_scorecard.json"} <= inputs


def test_report_figures_match_the_workspace(zh_world):
    run_report(zh_world)
    page = (zh_world.root / "report.html").read_text(encoding="utf-8")
    # period in local time (orders at 01:00 Shanghai = 17:00 UTC the day before)
    assert "<b>2024年9月1日 – 2024年12月31日</b>" in page
    # rejects and why
    assert '<td>orders</td><td>qty</td><td class="long">not a number</td><td class="num">2</td>' in page
    # festival uplift observed in local days: ×3 for 双11, ×2 for 双12
    assert "双11 2024" in page and "×3.00" in page and "×2.00" in page
    # accuracy: WAPE 10% vs 25% for the seasonal naive: +60% improvement
    assert '<span class="pos">+60.0%</span>' in page
    # scorecard: the two recorded checks (1 passed) and the report's own checks of this page
    assert "<b>通过 3/4 项</b>" in page
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


def _section(page: str, name: str) -> str:
    match = re.search(rf'<section id="{name}".*?</section>', page, re.S)
    assert match, name
    return match.group(0)


def test_first_screen_answers_what_for_whom_price_how_many_when(zh_world):
    run_report(zh_world)
    page = (zh_world.root / "report.html").read_text(encoding="utf-8")
    assert page.index('<section id="summary"') < page.index('<section id="consumers"')
    summary = _section(page, "summary")
    assert "静音键盘搜索多、供给少" in summary
    assert "搜索缺口" in summary and "search_gap" not in summary  # the kind by name
    assert "高价值电竞玩家" in summary and "S2" not in summary  # the segment by name, with its size
    assert "（5 人）" in summary
    assert "150–250 元" in summary  # price with the market's currency
    assert "建议生产 110 件" in summary and "需求 70–120 件（P10–P90）" in summary
    assert "双11（2025-10-31–2025-11-11）" in summary
    # each need links to its brief, and the brief is on the page
    assert '<a href="#brief-B1">' in summary
    assert '<div class="brief" id="brief-B1">' in _section(page, "briefs")
    # the brief shows names and no file names
    briefs = _section(page, "briefs")
    assert "quantities.parquet" not in briefs and "高价值电竞玩家" in briefs
    assert "静音</span>" in briefs and "噪音</span>" in briefs


def test_evidence_is_in_words_and_numbers_in_columns(zh_world):
    run_report(zh_world)
    opportunities = _section((zh_world.root / "report.html").read_text(encoding="utf-8"), "opportunities")
    assert "Mann-Kendall" not in opportunities and "e-35" not in opportunities and "108531468" not in opportunities
    assert "前半段 1 → 后半段 2，显著上升" in opportunities
    assert "需求远超现有供给" in opportunities
    assert '<td class="num">3 次搜索</td>' in opportunities
    assert "同类说法：静音键盘、安静键盘" in opportunities


def test_caveats_show_the_latest_warnings_of_each_step(zh_world):
    run_report(zh_world)
    caveats = _section((zh_world.root / "report.html").read_text(encoding="utf-8"), "caveats")
    assert "<code>short-history</code>" in caveats and "SKU2 has 9 weeks of history" in caveats
    assert "old entry, superseded" not in caveats  # a later segment entry replaced it
    assert "导入时有 3 行数据被拒收" in caveats


def test_lifecycle_flows_from_the_previous_stage(zh_world):
    run_report(zh_world)
    consumers = _section((zh_world.root / "report.html").read_text(encoding="utf-8"), "consumers")
    assert "（90 天前尚未购买）" in consumers
    # the 8 active 90 days ago (users 4–11) are now dormant, lost, active, active, sleeping, lost, new, active
    assert "90 天前活跃的 8 人中，37.5% 仍活跃，50.0% 转为沉睡、休眠或流失。" in consumers


def test_segment_by_category_heat_map(zh_world):
    run_report(zh_world)
    segments = _section((zh_world.root / "report.html").read_text(encoding="utf-8"), "segments")
    assert "分群 × 品类" in segments
    # one category (外设) holds all the spend of both segments
    assert segments.count(">100%</span>") == 2


def test_the_page_names_no_workspace_path(tmp_path):
    ws = build_world(tmp_path / "secret-client-name")
    run_report(ws)
    page = (ws.root / "report.html").read_text(encoding="utf-8")
    assert "secret-client-name" not in page and str(tmp_path) not in page
    copy = tmp_path / "renamed"
    ws.root.rename(copy)
    run_report(Workspace(copy, create=False))
    assert (copy / "report.html").read_text(encoding="utf-8") == page


@pytest.mark.parametrize(("market", "festival", "currency"), [("us", "Thanksgiving", "$"), ("none", None, "（数据币种）")])
def test_festival_markers_and_currency_follow_the_market(tmp_path, market, festival, currency):
    ws = build_world(tmp_path / "ws")
    ws.set_manifest_field("market", market)
    run_report(ws, lang="en" if market == "us" else None)
    page = (ws.root / "report.html").read_text(encoding="utf-8")
    assert "双11" not in _section(page, "overview")
    if festival:
        assert re.search(rf'class="fest-label( minor)?"[^>]*>{festival}</text>', page)
        assert 'class="fest"' in page
        assert "$150–250" in _section(page, "summary")
    else:
        assert 'class="fest"' not in page
        assert currency in _section(page, "summary")
