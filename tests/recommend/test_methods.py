"""Unit tests of recommend's methods on small frames built in the test."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from scipy import stats

from c2m_cli.recommend.bundles import baskets_of, mine_bundles
from c2m_cli.recommend.quantities import Economics, newsvendor
from c2m_cli.recommend.reviews import clause_aspects, micro_demands
from c2m_cli.recommend.trends import mann_kendall, ols_slope


def test_mann_kendall_matches_kendall_tau_without_ties() -> None:
    rng = np.random.default_rng(1)
    y = np.vstack([np.arange(20) + rng.normal(0, 3, 20), rng.normal(0, 1, 20)])
    res = mann_kendall(y)
    for row in range(2):
        tau, p = stats.kendalltau(np.arange(20), y[row], method="asymptotic")
        assert res.tau[row] == pytest.approx(tau)
        # Mann-Kendall's z applies the continuity correction (|S| − 1) that scipy leaves out
        s_stat = tau * 20 * 19 / 2
        z = (abs(s_stat) - 1) / np.sqrt(20 * 19 * 45 / 18)
        assert res.p[row] == pytest.approx(2 * stats.norm.sf(z))
        assert res.p[row] >= p
    assert res.z[0] > 3 and res.p[0] < 0.01


def test_mann_kendall_flat_and_tied_series() -> None:
    res = mann_kendall(np.array([[5.0] * 10, [0, 0, 0, 1, 1, 1, 2, 2, 2, 3]]))
    assert res.s[0] == 0 and res.p[0] == 1.0
    assert res.z[1] > 0 and res.p[1] < 0.01
    slope, p = ols_slope(np.array([[1.0, 2, 3, 4, 5, 6]]))
    assert slope[0] == pytest.approx(1.0) and p[0] < 1e-6


def test_bundles_support_confidence_lift_by_hand() -> None:
    # 10 baskets: A&B together in 4, A alone in 1, B alone in 1, C alone in 4
    rows = [("o1", "A"), ("o1", "B"), ("o2", "A"), ("o2", "B"), ("o3", "A"), ("o3", "B"), ("o4", "A"),
            ("o4", "B"), ("o5", "A"), ("o6", "B")] + [(f"c{i}", "C") for i in range(4)]
    lines = pl.DataFrame(rows, schema={"order_id": pl.String, "sku": pl.String}, orient="row")
    rules, note = mine_bundles(baskets_of(lines), min_support=0.1, min_count=2)
    assert note["baskets"] == 10
    ab = rules.filter(pl.col("antecedent") == pl.lit(["A"]))
    assert ab.height == 1
    r = ab.row(0, named=True)
    assert r["consequent"] == ["B"]
    assert r["support"] == pytest.approx(0.4)
    assert r["confidence"] == pytest.approx(4 / 5)
    assert r["lift"] == pytest.approx(0.4 / (0.5 * 0.5))
    assert rules.height == 2  # A→B and B→A; C pairs with nothing


def test_newsvendor_quantile_critical_ratio_and_moq() -> None:
    out = newsvendor(100.0, 20.0, Economics(service_level=0.9))
    assert out["recommended_qty"] == np.ceil(100 + stats.norm.ppf(0.9) * 20)
    assert 0.9 < out["expected_fill_rate"] < 1.0
    priced = newsvendor(100.0, 20.0, Economics(unit_cost=60, unit_price=100, salvage=20))
    assert priced["service_level"] == pytest.approx(0.5)
    assert priced["recommended_qty"] == 100
    assert newsvendor(100.0, 20.0, Economics(moq=500))["recommended_qty"] == 500


def test_clause_aspects_finds_complaints() -> None:
    aspects, negative = clause_aspects("散热不好")
    assert aspects == ["散热"] and negative
    aspects, negative = clause_aspects("盖子太难打开了")
    assert "盖子" in aspects and negative


def test_micro_demand_contrasts_a_product_against_others() -> None:
    planted = ["盖子太难打开了", "盖子太紧打不开", "奶粉不错，盖子很难开"] * 8 + ["宝宝爱喝"] * 16
    others = ["宝宝爱喝", "包装很好", "物流很快"] * 20
    reviews = pl.DataFrame(
        {"text": planted + others, "sku": ["S1"] * len(planted) + ["S2"] * len(others), "rating": [2] * 24 + [5] * 76}
    )
    table, note = micro_demands(reviews)
    assert note["grouped_by"] == "sku"
    s1 = table.filter(pl.col("sku") == "S1")
    assert s1["aspect"].to_list()[0] == "盖子"
    assert s1["mentions"][0] == 24
    assert s1["share"][0] == pytest.approx(24 / 40)
    assert len(s1["quotes"][0]) == 3
    assert table.filter(pl.col("sku") == "S2").height == 0


def test_presale_quantity_reads_the_forecast_over_the_launch_window():
    """Deposits are in the forecast's launch week (not added twice); weeks past the horizon
    continue at the post-launch weekly rate."""
    import datetime as dt

    import polars as pl

    from c2m_cli.recommend.quantities import Economics, plan_quantities

    utc = "UTC"
    orders = pl.DataFrame(
        {
            "order_id": ["p1", "p2"],
            "user_id": ["a", "b"],
            "sku": ["NEW", "NEW"],
            "ts": [dt.datetime(2025, 11, 20), dt.datetime(2025, 11, 21)],
            "qty": [60.0, 40.0],
            "unit_price": [10.0, 10.0],
            "status": ["presale", "presale"],
        }
    ).with_columns(pl.col("ts").dt.replace_time_zone(utc))
    products = pl.DataFrame({"sku": ["NEW"], "launch_date": [dt.date(2025, 12, 15)]})
    weeks = [dt.date(2025, 12, 1) + dt.timedelta(weeks=i) for i in range(6)]
    median = [0.0, 0.0, 130.0, 20.0, 20.0, 20.0]  # launch week: 100 deposits + 30
    forecast = pl.DataFrame(
        {
            "level": "sku", "unique_id": "NEW", "ds": weeks, "model": "selected",
            "q0.1": [m * 0.5 for m in median], "q0.5": median, "q0.9": [m * 1.5 for m in median],
        }
    )
    table, _ = plan_quantities(
        orders, None, products, forecast, tz=utc, end=dt.date(2025, 11, 30),
        eco=Economics(0.9, None, None, 0.0, 0.0, 0.9, 0.05, 56),
    )
    row = table.row(0, named=True)
    # 56 days from 12-15: 4 forecast weeks (130 + 3×20) and 4 more weeks at 20 a week
    assert row["forecast_p50"] == 130 + 3 * 20 + 4 * 20
    assert row["expected_demand"] == row["forecast_p50"]
    assert row["presale_orders"] == 100
    assert row["recommended_qty"] > row["forecast_p50"]
    assert "pre-sale deposits included" in row["method"]
