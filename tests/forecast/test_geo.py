"""The geographic tree: total → province → province × city tier → city, with planted truth."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from c2m_cli.forecast import run_forecast
from c2m_cli.forecast.geo import geo_keys, geo_tree
from c2m_cli.forecast.series import build_series
from c2m_cli.resources import read_seed
from tests.forecast.helpers import START, write_workspace

WEEKS = 104
# (province, city) as an export writes them → planted weekly rate from the first to the last week
PLANTED = {
    ("广东省", "深圳市"): (1000.0, 3000.0),  # 一线, growing
    ("广东", "湛江"): (1600.0, 900.0),  # 三线, shrinking: 广东 grows by 1,300 a week over the two years
    ("江苏", "苏州市"): (3000.0, 1700.0),  # 新一线, shrinking by 1,300: the total stays flat
    ("江苏省", "昆山市"): (500.0, 500.0),  # a county-level city: part of 苏州
    (None, None): (200.0, 200.0),  # no location: 未知/未知, kept so that the sums stay exact
}


def _tier(city_short: str) -> str:
    seed = read_seed("city_tiers.csv")
    return str(seed.filter(pl.col("city_short") == city_short)["tier"].item())


def planted_orders(seed: int = 0, weeks: int = WEEKS) -> pl.DataFrame:
    """One order line per place and week (Tuesdays, 10:00 UTC), Poisson around a linear trend."""
    rng = np.random.default_rng(seed)
    rows = []
    t = np.arange(weeks) / (weeks - 1)
    for (province, city), (first, last) in PLANTED.items():
        qty = rng.poisson(first + (last - first) * t)
        for w in range(weeks):
            ts = dt.datetime.combine(START + dt.timedelta(days=7 * w + 1), dt.time(10))
            rows.append((province, city, ts, float(qty[w])))
    frame = pl.DataFrame(rows, schema=["province", "city", "ts", "qty"], orient="row")
    return frame.with_columns(
        pl.format("o{}", pl.int_range(pl.len())).alias("order_id"),
        pl.lit("u1").alias("user_id"),
        pl.lit("S1").alias("sku"),
        pl.col("ts").dt.replace_time_zone("UTC"),
        pl.lit(1.0).alias("unit_price"),
        pl.lit("paid").alias("status"),
    )


def test_keys_map_county_cities_and_districts_into_their_prefectures_tier() -> None:
    pairs = pl.DataFrame(
        {
            "province": ["江苏", None, "广东", "北京市", "辽宁", "广东", "江苏", None, "  ", None],
            "city": ["昆山", "昆山市", "南山区", "朝阳区", "朝阳市", "火星基地", "深圳", "Shenzhen", "", "南山区"],
        }
    )
    got = {(r["province"], r["city"]): (r["geo_province"], r["geo_city_tier"], r["geo_city"]) for r in geo_keys(pairs).iter_rows(named=True)}
    suzhou, shenzhen = _tier("苏州"), _tier("深圳")
    assert (suzhou, shenzhen) == ("新一线", "一线")  # the 2025 list the seed cites
    assert got[("江苏", "昆山")] == ("江苏", "江苏/新一线", "江苏/苏州")  # county-level city → 苏州
    assert got[(None, "昆山市")] == ("江苏", "江苏/新一线", "江苏/苏州")  # unique in China: province inferred
    assert got[("广东", "南山区")] == ("广东", "广东/一线", "广东/深圳")  # district → its prefecture
    assert got[("北京市", "朝阳区")] == ("北京", "北京/一线", "北京/北京")  # not 辽宁's 朝阳
    assert got[("辽宁", "朝阳市")] == ("辽宁", f"辽宁/{_tier('朝阳')}", "辽宁/朝阳")
    assert got[(None, "Shenzhen")] == ("广东", "广东/一线", "广东/深圳")  # the seed's English name
    # unknown city: its own name, tier 未知; a city the seed places in another province is not
    # given that province's tier (the order's province wins, the sums stay exact)
    assert got[("广东", "火星基地")] == ("广东", "广东/未知", "广东/火星基地")
    assert got[("江苏", "深圳")] == ("江苏", "江苏/未知", "江苏/深圳")
    assert got[(None, None)] == ("未知", "未知/未知", "未知/未知")  # blank = null
    assert got[(None, "南山区")] == ("未知", "未知/未知", "未知/南山区")  # 深圳 or 鹤岗: not guessed


def test_series_and_tree_hold_every_line_once() -> None:
    orders = planted_orders(weeks=12)
    series = build_series(orders.lazy(), None, levels=("total", "province", "city_tier", "city"), freq="W")
    frame = series.frame
    sums = frame.group_by("level", "unique_id").agg(pl.col("y").sum())
    by = {(r["level"], r["unique_id"]): r["y"] for r in sums.iter_rows(named=True)}
    raw = orders.group_by("province", "city").agg(pl.col("qty").sum())
    qty = {(r["province"], r["city"]): r["qty"] for r in raw.iter_rows(named=True)}
    assert by[("city", "江苏/苏州")] == qty[("江苏", "苏州市")] + qty[("江苏省", "昆山市")]
    assert by[("city", "广东/深圳")] == qty[("广东省", "深圳市")]
    assert by[("city_tier", "广东/三线")] == qty[("广东", "湛江")]
    assert by[("province", "未知")] == by[("city", "未知/未知")] == qty[(None, None)]
    assert sorted(frame.filter(pl.col("level") == "province")["unique_id"].unique()) == ["广东", "未知", "江苏"]
    ids = {lv: sorted(frame.filter(pl.col("level") == lv)["unique_id"].unique().to_list()) for lv in ("province", "city_tier", "city")}
    tree = geo_tree(series.geo, ids)
    assert tree.levels == ("province", "city_tier", "city") and tree.bottom == "city"
    assert ids["city"] == ["广东/深圳", "广东/湛江", "未知/未知", "江苏/苏州"]
    assert ids["city_tier"] == ["广东/一线", "广东/三线", "未知/未知", "江苏/新一线"]
    np.testing.assert_array_equal(tree.matrices["city_tier"], np.eye(4))
    np.testing.assert_array_equal(tree.matrices["province"], [[1, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]])
    # only the levels asked for: province over city directly
    skip = geo_tree(series.geo, {"province": ids["province"], "city": ids["city"]})
    assert skip.levels == ("province", "city")
    np.testing.assert_array_equal(skip.matrices["province"], tree.matrices["province"])


def _selected(ws_forecast: pl.DataFrame, level: str) -> pl.DataFrame:
    return ws_forecast.filter((pl.col("level") == level) & (pl.col("model") == "selected"))


def _assert_tree_sums(forecast: pl.DataFrame, child: str, parent: str) -> None:
    """Every ``parent`` node's y_hat per period equals the sum of its ``child`` nodes' (a tier
    cell's province is the part of its key before "/"; a province's parent is the total)."""
    key = pl.lit("total") if parent == "total" else pl.col("unique_id").str.extract(r"^([^/]*)/", 1)
    summed = _selected(forecast, child).group_by(key.alias("parent"), "ds").agg(pl.col("y_hat").sum().alias("sum"))
    top = _selected(forecast, parent).select(pl.col("unique_id").alias("parent"), "ds", "y_hat")
    joined = top.join(summed, on=["parent", "ds"], how="full", coalesce=True)
    assert joined.height == top.height and joined["sum"].null_count() == 0
    np.testing.assert_allclose(joined["sum"].to_numpy(), joined["y_hat"].to_numpy(), rtol=1e-9, atol=1e-9)


@pytest.fixture(scope="module", params=["bottom_up", "mint_shrink"])
def planted(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[pl.DataFrame, pl.DataFrame, dict]:
    orders = planted_orders()
    ws = write_workspace(tmp_path_factory.mktemp("geo") / "ws", orders)
    summary = run_forecast(ws, levels="total,province,city_tier,city", horizon=8, reconcile=request.param)
    return ws.read("forecast"), orders, summary


def test_provinces_add_up_to_the_total_and_tier_cells_to_their_province(planted: tuple[pl.DataFrame, pl.DataFrame, dict]) -> None:
    forecast, _, summary = planted
    assert summary["series"] == {"total": 1, "province": 3, "city_tier": 4, "city": 4}
    _assert_tree_sums(forecast, "province", "total")
    _assert_tree_sums(forecast, "city_tier", "province")
    # cities to their tier cell: the tier of 广东/深圳 is 广东/一线 (one city per cell here)
    cells = {"广东/深圳": "广东/一线", "广东/湛江": "广东/三线", "江苏/苏州": "江苏/新一线", "未知/未知": "未知/未知"}
    city = _selected(forecast, "city").with_columns(pl.col("unique_id").replace_strict(cells).alias("unique_id"))
    tier = _selected(forecast, "city_tier").select("unique_id", "ds", pl.col("y_hat").alias("cell"))
    both = city.join(tier, on=["unique_id", "ds"])
    assert both.height == city.height == tier.height
    np.testing.assert_allclose(both["y_hat"].to_numpy(), both["cell"].to_numpy(), rtol=1e-9)
    assert set(_selected(forecast, "province")["method"]) == {summary["reconcile"]}
    assert all(m.endswith("+scaled_to_total") for m in _selected(forecast, "city")["method"])


def test_growing_province_forecast_above_last_year_shrinking_below(planted: tuple[pl.DataFrame, pl.DataFrame, dict]) -> None:
    forecast, orders, _ = planted
    sales = build_series(orders.lazy(), None, levels=("total", "province", "city_tier"), freq="W").frame
    last_year = sales.filter(pl.col("ds") > sales["ds"].max() - dt.timedelta(weeks=52)).group_by("level", "unique_id").agg(pl.col("y").mean())
    level_of = {(r["level"], r["unique_id"]): r["y"] for r in last_year.iter_rows(named=True)}
    ahead = forecast.filter(pl.col("model") == "selected").group_by("level", "unique_id").agg(pl.col("y_hat").mean())
    mean_of = {(r["level"], r["unique_id"]): r["y_hat"] for r in ahead.iter_rows(named=True)}
    # the planted total is flat: a share of it taken from the last year would stay at that level
    assert mean_of[("total", "total")] == pytest.approx(level_of[("total", "total")], rel=0.05)
    for key, sign in [
        (("province", "广东"), 1), (("province", "江苏"), -1),
        (("city_tier", "广东/一线"), 1), (("city_tier", "广东/三线"), -1),
    ]:
        gap = mean_of[key] - level_of[key]
        assert sign * gap > 0.03 * level_of[key], (key, mean_of[key], level_of[key])


def test_geo_levels_through_the_cli(c2m, tmp_path: Path) -> None:
    """A 收货地址 export: ingest reads province/city, the forecast builds the tree from them."""
    rng = np.random.default_rng(3)
    places = {
        "广东省深圳市南山区科技园1号": 60.0,
        "广东省湛江市赤坎区": 30.0,
        "江苏省苏州市姑苏区": 40.0,
        "江苏 昆山市 玉山镇": 20.0,  # → 苏州
        "火星基地": 5.0,  # no city: 未知/未知, listed as a field problem by ingest
    }
    lines = ["订单编号,买家会员名,商品编码,下单时间,购买数量,单价,收货地址"]
    n = 0
    for week in range(30):
        day = START + dt.timedelta(days=7 * week + 2)
        for address, rate in places.items():
            lines.append(f"A{n},u{n % 7},s1,{day} 12:00,{rng.poisson(rate)},10,{address}")
            n += 1
    src = tmp_path / "orders.csv"
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    ws = tmp_path / "ws"
    done = c2m("ingest", ws, "--orders", src, "--timezone", "Asia/Shanghai", "--market", "cn", "--json")
    assert done.exit_code == 0, done.stderr
    run = c2m("forecast", ws, "--levels", "total,province,city_tier,city", "--horizon", "4", "--json")
    assert run.exit_code == 0, run.stderr
    assert run.json["series"] == {"total": 1, "province": 3, "city_tier": 4, "city": 4}
    forecast = pl.read_parquet(ws / "forecast.parquet")
    assert sorted(_selected(forecast, "city")["unique_id"].unique()) == ["广东/深圳", "广东/湛江", "未知/未知", "江苏/苏州"]
    _assert_tree_sums(forecast, "province", "total")
    _assert_tree_sums(forecast, "city_tier", "province")
    assert set(_selected(forecast, "city_tier")["unique_id"]) == {"广东/一线", "广东/三线", "江苏/新一线", "未知/未知"}


def test_coherent_intervals_say_which_tree_they_cover(tmp_path: Path) -> None:
    orders = planted_orders(weeks=60)
    ws = write_workspace(tmp_path / "ws", orders.with_columns(pl.when(pl.col("city") == "湛江").then(pl.lit("S2")).otherwise("sku").alias("sku")))
    alone = run_forecast(ws, levels="total,province,city_tier,city", horizon=4, intervals="coherent")
    assert alone["coherent_quantiles"].startswith("empirical copula of the backtest windows over total → province → city_tier → city")
    forecast = ws.read("forecast")
    _assert_tree_sums(forecast, "province", "total")
    _assert_tree_sums(forecast, "city_tier", "province")
    q = forecast.select("q0.05", "q0.5", "q0.95").to_numpy()
    assert (np.diff(q, axis=1) >= -1e-9).all()
    both = run_forecast(ws, levels="total,sku,province,city", horizon=4, intervals="coherent")
    assert both["coherent_quantiles"].startswith("empirical copula of the backtest windows over total → sku")
    assert "province, city: per-level" in both["coherent_quantiles"]
