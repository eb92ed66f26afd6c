"""Bounds and inputs: the horizon limit, warnings, already-periodic data, the market's calendar."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import polars as pl

from c2m_cli.forecast import run_forecast
from c2m_cli.forecast.series import build_series
from tests.forecast.helpers import orders_frame, write_workspace


def _weekly(n_weeks: int, start: dt.date = dt.date(2023, 1, 2), weekday: int = 0) -> pl.DataFrame:
    """One line per week and sku (dated on ``weekday`` of the week), noon UTC."""
    rng = np.random.default_rng(0)
    rows = []
    for w in range(n_weeks):
        day = start + dt.timedelta(days=7 * w + weekday)
        for sku in ("A", "B"):
            rows.append((sku, f"{day.isoformat()}T12:00:00", float(rng.poisson(20) + 1), "paid"))
    return orders_frame(rows)


def test_horizon_beyond_twice_the_history_is_a_usage_error(tmp_path: Path, c2m) -> None:  # type: ignore[no-untyped-def]
    ws = write_workspace(tmp_path / "ws", _weekly(20))
    done = c2m("forecast", ws.root, "--horizon", "41", "--levels", "total,sku")
    assert done.exit_code == 2
    assert "--horizon 41 is more than 2× the 20 periods of history (W)" in done.stderr
    assert "forecast at most 40" in done.stderr
    far = c2m("forecast", ws.root, "--horizon", "10000")
    assert far.exit_code == 2 and "beyond three years" in far.stderr
    assert not (ws.root / "forecast.parquet").exists()


def test_horizon_longer_than_history_and_short_series_warn(tmp_path: Path, c2m) -> None:  # type: ignore[no-untyped-def]
    ws = write_workspace(tmp_path / "ws", _weekly(20))
    done = c2m("forecast", ws.root, "--horizon", "30", "--levels", "total,sku", "--json")
    assert done.exit_code == 0, done.stderr
    codes = [w["code"] for w in done.json["warnings"]]
    assert "horizon-exceeds-history" in codes
    messages = [w["message"] for w in done.json["warnings"] if w["code"] == "short-history"]
    assert any("level sku: 2 of 2 series hold fewer than 2 seasons (104 periods of W)" in m for m in messages)
    strict = c2m("forecast", ws.root, "--horizon", "30", "--levels", "total,sku", "--strict")
    assert strict.exit_code == 6


def test_monthly_lines_are_whole_periods(tmp_path: Path) -> None:
    # one line per month, dated on the 1st at midnight: no first or last month is "partial"
    months = pl.date_range(dt.date(2020, 1, 1), dt.date(2022, 6, 1), "1mo", eager=True).to_list()
    rows = [("A", f"{d.isoformat()}T00:00:00", 10.0 + i, "paid") for i, d in enumerate(months)]
    series = build_series(pl.LazyFrame(orders_frame(rows)), None, levels=("total",), freq="M")
    assert series.info["dropped_partial_periods"] == 0 and series.info["periodic_input"]
    assert series.periods[0] == dt.date(2020, 1, 1) and series.periods[-1] == dt.date(2022, 6, 1)
    assert series.frame["y"].to_list() == [10.0 + i for i in range(len(months))]


def test_weekly_lines_dated_on_fridays_are_whole_weeks(tmp_path: Path) -> None:
    # Walmart-style: one line per week dated on its Friday; 30 weeks in, 30 weeks out
    series = build_series(pl.LazyFrame(_weekly(30, weekday=4)), None, levels=("sku",), freq="W")
    assert len(series.periods) == 30 and series.info["dropped_partial_periods"] == 0
    # daily orders ending mid-week are not periodic: the partial last week is dropped
    rows = [("A", f"{(dt.date(2024, 1, 1) + dt.timedelta(days=i)).isoformat()}T10:00:00", 1.0, "paid") for i in range(45)]
    daily = build_series(pl.LazyFrame(orders_frame(rows)), None, levels=("total",), freq="W")
    assert daily.info["dropped_partial_periods"] == 1 and not daily.info["periodic_input"]


def test_us_market_workspace_gets_us_holidays_and_no_double_11(tmp_path: Path) -> None:
    # two years of daily orders in a US-market workspace
    days = pl.date_range(dt.date(2022, 1, 3), dt.date(2023, 12, 31), "1d", eager=True).to_list()
    rng = np.random.default_rng(1)
    rows = [("A", f"{d.isoformat()}T15:00:00", float(rng.poisson(30) + 1), "paid") for d in days]
    ws = write_workspace(tmp_path / "us", orders_frame(rows), market="us")
    summary = run_forecast(ws, levels="total", horizon=8)
    effects = summary["festival_effects"]
    assert {"Thanksgiving", "Black Friday", "Christmas", "public_holiday"} <= set(effects)
    assert not {"双11", "618", "春节", "法定假日", "调休上班"} & set(effects)
    model = json.loads((ws.root / "forecast_model.json").read_text(encoding="utf-8"))
    assert model["market"] == "us"
    none_ws = write_workspace(tmp_path / "none", orders_frame(rows), market="none")
    assert run_forecast(none_ws, levels="total", horizon=8)["festival_effects"] == {}


def test_levels_are_summed_from_each_skus_period_sums_by_hand() -> None:
    """Category, channel and total sums come from the (sku, channel, period) sums; a SKU the
    products table lacks is 未知, a cancelled line counts nowhere, and the hierarchy holds every
    SKU sold once with its category."""
    rows = [
        ("a", "2024-01-01T10:00:00", 1.25, None), ("a", "2024-01-02T10:00:00", 2.5, None),
        ("b", "2024-01-03T10:00:00", 4.0, None), ("c", "2024-01-04T10:00:00", 0.1, None),
        ("a", "2024-01-08T10:00:00", 3.0, None), ("b", "2024-01-09T10:00:00", 0.2, "cancelled"),
        ("c", "2024-01-10T10:00:00", 0.7, None), ("b", "2024-01-14T23:00:00", 1.0, None),
    ]
    orders = orders_frame(rows).with_columns(pl.Series("channel", ["天猫", "京东", "天猫", "京东", "天猫", "天猫", "京东", "京东"]))
    products = pl.DataFrame({"sku": ["a", "b"], "category_l1": ["奶粉", "奶粉"]})
    series = build_series(orders.lazy(), products, levels=("total", "category_l1", "sku", "channel"), freq="W")
    got = {(lv, uid, str(ds)): y for lv, uid, ds, y in series.frame.select("level", "unique_id", "ds", "y").iter_rows()}
    w1, w2 = "2024-01-01", "2024-01-08"
    expected = {
        ("total", "total", w1): 7.85, ("total", "total", w2): 4.7,
        ("category_l1", "奶粉", w1): 7.75, ("category_l1", "奶粉", w2): 4.0,
        ("category_l1", "未知", w1): 0.1, ("category_l1", "未知", w2): 0.7,
        ("channel", "天猫", w1): 5.25, ("channel", "天猫", w2): 3.0,
        ("channel", "京东", w1): 2.6, ("channel", "京东", w2): 1.7,
        ("sku", "a", w1): 3.75, ("sku", "a", w2): 3.0, ("sku", "b", w1): 4.0, ("sku", "b", w2): 1.0,
        ("sku", "c", w1): 0.1, ("sku", "c", w2): 0.7,
    }
    assert got.keys() == expected.keys()
    for key, y in expected.items():
        assert got[key] == round(y, 9), key
    assert series.hierarchy.rows() == [("a", "奶粉"), ("b", "奶粉"), ("c", "未知")]
    assert series.info["order_lines"] == 7
