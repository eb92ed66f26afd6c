"""Unit tests of the report's pure parts: chart geometry, section data, formats, escaping."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from report_world import build_orders

from c2m_cli.calendar import festival_calendar
from c2m_cli.report import charts, sections
from c2m_cli.report.html import markdown_to_html
from c2m_cli.report.i18n import detect_language, fmt_date, fmt_int, fmt_pct
from c2m_cli.report.safe import esc, neutralise, text


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (0, 7, [0, 2, 4, 6, 8]),
        (0, 1, [0, 0.2, 0.4, 0.6, 0.8, 1.0]),
        (13, 87, [0, 20, 40, 60, 80, 100]),
        (-3, 3, [-4, -2, 0, 2, 4]),
        (5, 5, [5, 6, 7, 8, 9, 10]),
    ],
)
def test_nice_ticks_cover_the_range_with_round_steps(low, high, expected):
    assert charts.nice_ticks(low, high) == pytest.approx(expected)


def test_plot_geometry_maps_values_into_the_box_and_breaks_at_gaps():
    line = charts.Line("y", [0, 1, 2, 3], [0.0, 5.0, None, 10.0])
    plot = charts.plot_geometry([line], width=400, height=200)
    assert plot.y_ticks == [0, 2, 4, 6, 8, 10]
    left, right = charts.MARGIN["left"], 400 - charts.MARGIN["right"]
    bottom, top = 200 - charts.MARGIN["bottom"], charts.MARGIN["top"]
    runs = plot.lines[0]
    assert len(runs) == 2  # the None splits the line
    assert runs[0][0] == (left, bottom)  # (0, 0) at the bottom-left corner
    assert runs[0][1] == (pytest.approx(left + (right - left) / 3, abs=0.01), pytest.approx((bottom + top) / 2))
    assert runs[1] == [(right, top)]  # (3, 10) at the top-right corner


def test_band_polygon_goes_along_the_top_and_back_along_the_bottom():
    band = charts.Band("80%", [0, 1], [1.0, 2.0], [3.0, 4.0])
    plot = charts.plot_geometry([], [band], width=400, height=200)
    polygon = plot.bands[0]
    assert len(polygon) == 4
    sy = charts.scale((0, 4), (200 - charts.MARGIN["bottom"], charts.MARGIN["top"]))
    assert [y for _x, y in polygon] == pytest.approx([sy(3), sy(4), sy(2), sy(1)])


def test_bar_extents_are_proportional_and_safe_with_nothing():
    assert charts.bar_extents([1, 2, 4], 100) == [25, 50, 100]
    assert charts.bar_extents([0, 0], 100) == [0, 0]
    assert charts.bar_extents([float("nan"), -1, 2], 10) == [0, 0, 10]


def test_chart_labels_are_escaped():
    svg = charts.bar_chart("<b>t</b>", [charts.Bar("<script>x</script>", 1.0, "=1+1")])
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert "&#x27;=1+1" in svg
    assert 'aria-label="&lt;b&gt;t&lt;/b&gt;"' in svg


def test_value_histogram_counts_every_user_once():
    values = pl.Series([0.0, 1.0, 2.0, 2.0, 3.5, 9.0, 100.0, None, 1000.0])
    bins = sections.value_histogram(values, bins=5)
    assert sum(b["count"] for b in bins) == 8
    assert bins[0]["low"] == 0 and bins[-1]["open"] is True
    assert all(a["high"] == b["low"] for a, b in zip(bins, bins[1:], strict=False))
    # the 99th percentile caps the range: an outlier lands in the open last bin
    skewed = sections.value_histogram(pl.Series([float(v) for v in range(200)] + [1e6]), bins=4)
    assert [(b["low"], b["high"], b["count"]) for b in skewed] == [(0, 50, 50), (50, 100, 50), (100, 150, 50), (150, 200, 51)]


def test_top_share():
    values = pl.Series([float(v) for v in range(1, 11)])  # 1..10, total 55
    assert sections.top_share(values, 0.1) == pytest.approx(10 / 55)
    assert sections.top_share(pl.Series([0.0, 0.0])) is None


def test_family_coverage_counts_users_with_any_value():
    labels = pl.DataFrame(
        {
            "user_id": ["a", "b", "c", "d"],
            "demo_age": ["90后", None, None, None],
            "demo_gender": [None, "女", None, None],
            "geo_city": ["上海", "北京", "成都", "杭州"],
        }
    )
    coverage = {row["family"]: row for row in sections.family_coverage(labels)}
    assert coverage["demo"] == {"family": "demo", "columns": 2, "coverage": 0.5}
    assert coverage["geo"]["coverage"] == 1.0
    assert coverage["motive"] == {"family": "motive", "columns": 0, "coverage": 0.0}


def test_stage_counts_in_funnel_order_with_value_shares():
    labels = pl.DataFrame(
        {
            "user_id": list("abcd"),
            "lifecycle_stage": ["lost", "active", "active", "new"],
            "value_clv": [0.0, 30.0, 50.0, 20.0],
        }
    )
    rows = sections.stage_counts(labels)
    assert [r["stage"] for r in rows] == ["new", "active", "sleeping", "dormant", "lost"]
    assert [r["count"] for r in rows] == [1, 2, 0, 0, 1]
    assert rows[1]["clv_share"] == pytest.approx(0.8)
    assert sum(r["share"] for r in rows) == pytest.approx(1.0)


def test_festival_uplift_is_measured_in_local_days():
    orders = build_orders().lazy()
    uplift = sections.festival_uplift(sections.daily_units(orders, "Asia/Shanghai"), festival_calendar("cn"))
    assert uplift.select("festival", "year").rows() == [("双11", 2024), ("双12", 2024)]
    assert uplift["uplift"].to_list() == pytest.approx([3.0, 2.0])
    # in UTC days every order falls a day early: the festival windows no longer match
    utc = sections.festival_uplift(sections.daily_units(orders, "UTC"), festival_calendar("cn"))
    assert utc["uplift"].to_list() != pytest.approx([3.0, 2.0])


def test_daily_units_fill_days_without_sales_and_skip_cancelled():
    orders = pl.DataFrame(
        {
            "ts": pl.Series([dt.datetime(2024, 1, 1, 12), dt.datetime(2024, 1, 3, 12), dt.datetime(2024, 1, 3, 13)]).dt.replace_time_zone("UTC"),
            "qty": [2.0, 5.0, 7.0],
            "status": ["paid", "paid", "cancelled"],
        }
    )
    daily = sections.daily_units(orders.lazy(), "UTC")
    assert daily.rows() == [(dt.date(2024, 1, 1), 2.0), (dt.date(2024, 1, 2), 0.0), (dt.date(2024, 1, 3), 5.0)]


def test_search_sales_trend_indexes_each_series_to_its_mean():
    ts = pl.Series([dt.datetime(2024, 1, 1, 12), dt.datetime(2024, 1, 8, 12), dt.datetime(2024, 1, 8, 13)]).dt.replace_time_zone("UTC")
    orders = pl.DataFrame({"sku": ["A", "A", "B"], "ts": ts, "qty": [1.0, 3.0, 50.0]})
    events = pl.DataFrame({"ts": ts, "event": ["search", "search", "search"], "category": ["键盘", None, "鼠标"], "query": [None, "静音键盘", None]})
    products = pl.DataFrame({"sku": ["A", "B"], "category_l1": ["键盘", "鼠标"]})
    trend = sections.search_sales_trend(events.lazy(), orders.lazy(), products, "键盘", "UTC")
    assert [p["week"] for p in trend] == ["2024-01-01", "2024-01-08"]
    assert [p["sales"] for p in trend] == pytest.approx([50.0, 150.0])  # 1 and 3 units, mean 2
    assert [p["searches"] for p in trend] == pytest.approx([100.0, 100.0])  # one search a week


def test_scorecard_rows_accept_the_usual_shapes():
    check = {"check": "c", "value": 1, "target": "t", "passed": True, "detail": "d"}
    assert sections.scorecard_rows([check])[0]["check"] == "c"
    assert sections.scorecard_rows({"checks": [check]})[0]["passed"] is True
    assert sections.scorecard_rows({"label": [check]})[0]["step"] == "label"
    assert sections.scorecard_rows("nonsense") == []


def test_language_detection():
    assert detect_language([pl.Series(["静音机械键盘", "电竞鼠标", "USB hub"])]) == "zh"
    assert detect_language([pl.Series(["Quiet keyboard", "Gaming mouse"])]) == "en"
    assert detect_language([pl.Series([None, ""], dtype=pl.String), pl.Series(["婴儿推车"])]) == "zh"
    assert detect_language([]) == "en"


def test_number_and_date_formats():
    assert fmt_int(1_234_567, "en") == "1,234,567"
    assert fmt_int(1_234_567, "zh") == "123.5万"
    assert fmt_int(312_000_000, "zh") == "3.12亿"
    assert fmt_int(None, "zh") == "—"
    assert fmt_pct(0.1234, "en") == "12.3%"
    assert fmt_date("2024-11-11", "zh") == "2024年11月11日"
    assert fmt_date("2024-11-11", "en") == "2024-11-11"


@pytest.mark.parametrize("value", ["=SUM(A1)", "+1", "-2+3", "@cmd", "\tx"])
def test_formula_starts_are_neutralised(value):
    assert neutralise(value) == "'" + value


def test_text_escapes_and_esc_does_not_neutralise():
    assert text('<a href="x">') == "&lt;a href=&quot;x&quot;&gt;"
    assert esc("-5.0%") == "-5.0%"
    assert text(None) == ""


def test_markdown_is_escaped_before_formatting():
    out = markdown_to_html("# 标题\n- **粗体** <b>x</b>\n- =cmd\n\n段落 <script>")
    assert out == (
        "<h4>标题</h4><ul><li><b>粗体</b> &lt;b&gt;x&lt;/b&gt;</li><li>&#x27;=cmd</li></ul>"
        "<p>段落 &lt;script&gt;</p>"
    )


def test_family_coverage_counts_informative_values_only():
    import polars as pl

    from c2m_cli.report.sections import family_coverage

    labels = pl.DataFrame(
        {
            "user_id": ["a", "b", "c", "d"],
            "geo_city_tier": ["一线", "unknown", "未知", None],
            "motive_top": ["unknown", "unknown", "性价比", "unknown"],
            "motive_性价比": [0.0, 0.0, 0.7, 0.0],
            "motive_tags": [[], [], ["性价比"], ["品质"]],
        }
    )
    coverage = {row["family"]: row["coverage"] for row in family_coverage(labels)}
    assert coverage["geo"] == 0.25  # unknown / 未知 / null are not coverage
    assert coverage["motive"] == 0.5  # zero scores and empty tag lists are not either


def test_family_coverage_of_a_scan_equals_the_frames(tmp_path):
    labels = pl.DataFrame(
        {
            "user_id": [f"u{i}" for i in range(7)],
            "geo_city_tier": ["一线", "unknown", None, "二线", "未知", "三线", None],
            "demo_birth_year": [1990, 0, None, 1985, None, None, 2001],
            "motive_tags": [[], ["性价比"], None, [], ["品质"], [], []],
            "lifestyle_top": [None] * 7,
        },
        schema_overrides={"lifestyle_top": pl.String},
    )
    path = tmp_path / "labels.parquet"
    labels.write_parquet(path)
    by_hand = {"geo": 3 / 7, "demo": 3 / 7, "motive": 2 / 7, "lifestyle": 0.0, "value": 0.0}
    for source in (labels, pl.scan_parquet(path)):
        coverage = {row["family"]: row for row in sections.family_coverage(source)}
        assert {f: coverage[f]["coverage"] for f in by_hand} == by_hand
        assert coverage["lifestyle"]["columns"] == 1 and coverage["value"]["columns"] == 0


def test_order_stats_count_distinct_ids_as_n_unique_does(tmp_path):
    from c2m_cli.report.sections.overview import order_stats

    ts = pl.Series([dt.datetime(2024, 1, 1, 23, 30), dt.datetime(2024, 3, 5, 1), dt.datetime(2024, 2, 1, 12)] * 3).dt.replace_time_zone("UTC")
    orders = pl.DataFrame({"ts": ts, "user_id": ["a", "b", None] * 3, "sku": ["s1", "s1", "s2", "s3", None, "s1", "s1", "s1", "s1"]})
    path = tmp_path / "orders.parquet"
    orders.write_parquet(path)
    stats = order_stats(pl.scan_parquet(path), "Asia/Shanghai")
    assert stats == {"first": dt.date(2024, 1, 2), "last": dt.date(2024, 3, 5), "lines": 9, "users": 3, "skus": 4}
    assert (stats["users"], stats["skus"]) == (orders["user_id"].n_unique(), orders["sku"].n_unique())
    empty = order_stats(pl.scan_parquet(path).head(0), "UTC")
    assert empty == {"first": None, "last": None, "lines": 0, "users": 0, "skus": 0}
