"""Unit tests of recommend's methods on small frames built in the test."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from scipy import stats

from c2m_cli.recommend.bundles import baskets_of, mine_bundles
from c2m_cli.recommend.demand import from_normal, from_search
from c2m_cli.recommend.quantities import Economics, newsvendor, quantity_row
from c2m_cli.recommend.reviews import clause_aspects, micro_demand_opportunities, micro_demands
from c2m_cli.recommend.trends import benjamini_hochberg, festival_factors, mann_kendall, ols_slope
from c2m_cli.recommend.wording import trend_words


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
    # ten baskets are too few for significance (p ≈ 0.10): alpha=1 shows the numbers
    assert mine_bundles(baskets_of(lines), min_support=0.1, min_count=2)[0].height == 0
    rules, note = mine_bundles(baskets_of(lines), min_support=0.1, min_count=2, alpha=1.0)
    assert note["baskets"] == 10
    ab = rules.filter(pl.col("antecedent") == pl.lit(["A"]))
    assert ab.height == 1
    r = ab.row(0, named=True)
    assert r["consequent"] == ["B"]
    assert r["support"] == pytest.approx(0.4)
    assert r["confidence"] == pytest.approx(4 / 5)
    assert r["lift"] == pytest.approx(0.4 / (0.5 * 0.5))
    # P(≥ 4 of A's 5 baskets hold B | 5 of 10 do) = C(5,4)·C(5,1)/C(10,5) + C(5,5)·C(5,0)/C(10,5)
    assert r["p_value"] == pytest.approx((5 * 5 + 1) / 252)
    assert rules.height == 2  # A→B and B→A; C pairs with nothing


def test_newsvendor_reads_one_distribution_and_judges_the_moq() -> None:
    demand = from_normal(100.0, 20.0, floor=0.0, seed=0, key="t", method="m")
    out = quantity_row(demand, Economics(service_level=0.9), sku="S", brief_id=None, presale=0.0)
    assert out["forecast_p10"] <= out["forecast_p50"] <= out["newsvendor_qty"] <= out["forecast_p90"]
    assert out["newsvendor_qty"] == out["forecast_p90"]  # service 0.9: the P90 of the same draws
    assert out["forecast_p90"] == pytest.approx(100 + stats.norm.ppf(0.9) * 20, abs=2.5)
    assert 0.9 < out["expected_fill_rate"] < 1.0
    priced = newsvendor(demand, Economics(unit_cost=60, unit_price=100, salvage=20))
    assert priced["service_level"] == pytest.approx(0.5)
    assert priced["recommended_qty"] == pytest.approx(100, abs=2)
    # a MOQ of 500 for ~100 of demand loses money: flagged, the newsvendor quantity is kept
    loses = newsvendor(demand, Economics(unit_cost=60, unit_price=100, salvage=0, moq=500))
    assert loses["moq_flag"] == "moq-loses-money"
    assert loses["recommended_qty"] == loses["newsvendor_qty"] < 500
    # hand check: E[profit at 500] = 100·E[min(D, 500)] − 60·500 ≈ 100·100 − 30 000 < 0
    assert demand.expected_profit(500, 100, 60, 0) == pytest.approx(100 * 100 - 30_000, rel=0.01)
    # a MOQ barely above the newsvendor quantity with a fat margin pays: recommended
    pays = newsvendor(demand, Economics(unit_cost=10, unit_price=100, salvage=0, moq=130))
    assert pays["moq_flag"] == "moq-profitable" and pays["recommended_qty"] == 130
    # without prices a MOQ beyond the P90 is applied but flagged
    blind = newsvendor(demand, Economics(moq=500))
    assert blind["recommended_qty"] == 500 and blind["moq_flag"] == "moq-above-p90"


def test_demand_from_searches_scales_with_searches_and_conversion() -> None:
    # 80 searches in 8 weeks, comparable products sell 0.5 units a search: ~40 units in 8 weeks
    d = from_search(80, 8, 8, 500, 1000, seed=0, key="n", method="m")
    assert d.quantile(0.5) == pytest.approx(40, abs=3)
    assert d.quantile(0.1) < d.quantile(0.5) < d.quantile(0.9)
    assert from_search(160, 8, 8, 500, 1000, seed=0, key="n", method="m").quantile(0.5) == pytest.approx(80, abs=5)
    # the same seed and key draw the same numbers
    assert (d.draws == from_search(80, 8, 8, 500, 1000, seed=0, key="n", method="m").draws).all()


def test_benjamini_hochberg_and_festival_factors() -> None:
    p = np.array([0.01, 0.04, 0.03, 0.5, np.nan])
    q = benjamini_hochberg(p)
    # by hand: sorted 0.01, 0.03, 0.04, 0.5 → 0.04, 0.04·4/3 → min(0.0533, 0.0533), 0.0533, 0.5
    assert q[:4] == pytest.approx([0.04, 4 * 0.04 / 3, 4 * 0.04 / 3, 0.5])
    assert np.isnan(q[4])
    totals = np.array([100, 100, 100, 300, 100, 100, 100.0])
    f = festival_factors(totals, np.array([False, False, False, True, False, False, False]))
    assert f.tolist() == [1, 1, 1, 3.0, 1, 1, 1]
    assert trend_words(3.0, 0.001, 0.92, 182, True) == "显著上升，+92 % 半年"
    assert trend_words(3.0, 0.2, 0.10, 182, False) == "no significant trend, +10 % in 6 months"


def test_bundles_drop_redundant_and_insignificant_rules() -> None:
    rows = []
    # A and B always together (40 baskets), C with them in 10 of those: {A,B}→C adds nothing over A→C
    for i in range(40):
        rows += [(f"ab{i}", "A"), (f"ab{i}", "B")] + ([(f"ab{i}", "C")] if i < 10 else [])
    rows += [(f"c{i}", "C") for i in range(10)]
    # D and E meet in 6 of 300 baskets where each is in 60: lift 0.5 — and a chance pair X/Y
    rows += [(f"d{i}", "D") for i in range(54)] + [(f"e{i}", "E") for i in range(54)] + [(f"de{i}", x) for i in range(6) for x in "DE"]
    rows += [(f"o{i}", "Z") for i in range(300)]
    lines = pl.DataFrame(rows, schema={"order_id": pl.String, "sku": pl.String}, orient="row")
    rules, note = mine_bundles(baskets_of(lines), min_support=0.01, min_count=5)
    pairs = {(tuple(a), tuple(c)) for a, c in rules.select("antecedent", "consequent").iter_rows()}
    assert (("A",), ("B",)) in pairs and (("A",), ("C",)) in pairs
    assert not any(len(a) == 2 for a, _ in pairs), pairs  # {A,B}→C and kin are redundant
    assert note["redundant_rules"] >= 1
    assert (rules["q_value"] < 0.05).all()
    assert not any("D" in a + c for a, c in pairs)


def test_placeholders_are_dropped_and_service_is_kept_apart() -> None:
    planted = ["盖子太难打开了", "盖子太紧打不开", "奶粉不错，盖子很难开"] * 8 + ["发货太慢了，物流很差"] * 10
    filler = ["此用户没有填写评价。", "系统默认好评", "评价方未及时做出评价,系统默认好评!"] * 10
    others = ["宝宝爱喝", "包装很好", "物流很快"] * 20
    reviews = pl.DataFrame({
        "text": planted + filler + others, "sku": ["S1"] * (len(planted) + len(filler)) + ["S2"] * len(others),
        "rating": [2] * len(planted) + [1] * len(filler) + [5] * len(others)})
    products = pl.DataFrame({"sku": ["S1", "S2"], "name": ["飞鹤 1段奶粉", "君乐宝 奶粉"], "category_l2": ["奶粉", "奶粉"]})
    table, note = micro_demands(reviews, products=products)
    assert note["placeholders_dropped"] == 30
    assert not table["aspect"].is_in(["评价", "用户", "此用户", "好评"]).any()
    s1 = table.filter(pl.col("sku") == "S1")
    assert s1.filter(pl.col("scope") == "product")["aspect"].to_list()[0] == "盖子"
    assert set(s1.filter(pl.col("scope") == "service")["aspect"].to_list()) & {"发货", "物流"}
    opp = micro_demand_opportunities(table)
    assert opp["subject"].to_list()[0] == "改进「飞鹤 1段奶粉」的「盖子」"
    assert not opp["subject"].str.contains("发货|物流").any()


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
    assert row["forecast_p50"] == pytest.approx(130 + 3 * 20 + 4 * 20, abs=3)
    assert row["expected_demand"] == pytest.approx(row["forecast_p50"], abs=3)
    assert row["presale_orders"] == 100
    assert row["forecast_p10"] <= row["forecast_p50"] <= row["recommended_qty"] <= row["forecast_p90"]
    assert "leading signal" in row["method"]
    # deposit conversion counts even with a forecast: 3 orders a deposit make the deposits the floor
    high, _ = plan_quantities(
        orders, None, products, forecast, tz=utc, end=dt.date(2025, 11, 30),
        eco=Economics(0.9, None, None, 0.0, 0.0, 3.0, 0.05, 56),
    )
    assert high["forecast_p10"][0] == pytest.approx(100 * 0.95 * 3.0, abs=1)
    assert "× 3 as a floor" in high["method"][0]


def test_numpy_tails_match_scipy_stats() -> None:
    """recommend's own normal tail, BH and hypergeometric tail (scipy.stats is slow to import)
    agree with scipy.stats on random and edge-case arguments."""
    from c2m_cli.recommend._stats import benjamini_hochberg as bh
    from c2m_cli.recommend._stats import hypergeom_sf, norm_sf

    rng = np.random.default_rng(3)
    z = np.concatenate([rng.normal(0, 3, 500), [0.0, 8.0, -8.0, 37.0]])
    assert norm_sf(z) == pytest.approx(stats.norm.sf(z), rel=1e-12, abs=1e-300)
    p = rng.uniform(0, 1, 2000) ** 3
    assert bh(p) == pytest.approx(stats.false_discovery_control(p, method="bh"), rel=1e-12)
    big_n = rng.integers(50, 200_000, 3000)
    big_k = (rng.uniform(0, 1, 3000) * big_n).astype(int)
    n = (rng.uniform(0, 1, 3000) * big_n).astype(int)
    x = (rng.uniform(-0.1, 1.3, 3000) * np.minimum(big_k, n) * rng.uniform(0.5, 2.0, 3000)).astype(int)
    ours, ref = hypergeom_sf(x, big_n, big_k, n), stats.hypergeom.sf(x, big_n, big_k, n)
    assert ours == pytest.approx(ref, rel=1e-8, abs=1e-300)
    # by hand: 10 baskets, 5 with A, 4 with B: P(X ≥ 4) = C(5,4)C(5,0)/C(10,4) = 5/210
    assert hypergeom_sf(np.array([3]), 10, 4, 5)[0] == pytest.approx(5 / 210)


def _seasonal_world(years: int, seed: int) -> tuple[np.ndarray, int]:
    """1,000 products without growth but with a yearly season (random amplitude up to ±50 % and
    phase) and AR(1) weekly noise (ρ = 0.3, about Complete Journey's upper quartile), then 10
    products growing 30 % a year on top of the same kind of season."""
    rng = np.random.default_rng(seed)
    nulls, m, n = 1000, 1010, 52 * years
    t = np.arange(n)
    amp, phase = rng.uniform(0, 0.5, (m, 1)), rng.uniform(0, 2 * np.pi, (m, 1))
    noise = np.zeros((m, n))
    shocks = rng.normal(0, 0.1, (m, n))
    for k in range(n):
        noise[:, k] = (0.3 * noise[:, k - 1] if k else 0.0) + shocks[:, k]
    growth = np.where(np.arange(m) >= nulls, 0.3, 0.0)[:, None]
    return 100 * (1 + amp * np.sin(2 * np.pi * t / 52 + phase)) * (1 + growth) ** (t / 52) * np.exp(noise), nulls


@pytest.mark.parametrize("years", [2, 3])
def test_seasonal_kendall_finds_planted_rises_not_seasons(years: int) -> None:
    """Planted truth: the 10 growing products are found and at most 1 % of the 1,000 seasonal
    ones are called rising (BH at 5 %); the plain Mann-Kendall on the same weeks calls over 100 of
    the seasonal ones rising."""
    from c2m_cli.recommend.trends import seasonal_kendall

    y, nulls = _seasonal_world(years, seed=years)
    res = seasonal_kendall(y, 52)
    rising = (benjamini_hochberg(res.p) < 0.05) & (res.z > 0)
    assert rising[nulls:].all()
    assert rising[:nulls].sum() <= 10
    plain = mann_kendall(y)
    assert ((benjamini_hochberg(plain.p) < 0.05) & (plain.z > 0))[:nulls].sum() > 100


def test_seasonal_kendall_by_hand() -> None:
    """Two years of 3 seasons: S = Σ sign(year 2 − year 1) over seasons, Var = 1 per season."""
    from c2m_cli.recommend.trends import seasonal_kendall

    y = np.array([[1.0, 5, 9, 2, 6, 8], [1.0, 1, 1, 1, 1, 1]])
    res = seasonal_kendall(y, 3)
    assert res.s.tolist() == [1.0, 0.0]  # +1 +1 −1; all ties
    assert res.z[0] == pytest.approx((1 - 1) / np.sqrt(3)) and res.p[1] == 1.0
    with pytest.raises(ValueError, match="two whole periods"):
        seasonal_kendall(y[:, :5], 3)


def test_complete_weeks_leave_out_a_partial_first_week() -> None:
    """Complete Journey starts on Sunday 1 January 2017: the week of Monday 26 December holds one
    day of it and is no week to test a trend on; the week of 25 December 2017 is whole."""
    import datetime as dt

    from c2m_cli.recommend.data import complete_weeks

    weeks = [dt.date(2016, 12, 26), dt.date(2017, 1, 2), dt.date(2017, 12, 25)]
    assert complete_weeks(weeks, dt.date(2017, 1, 1), dt.date(2017, 12, 31)).tolist() == [False, True, True]
    assert complete_weeks(weeks, dt.date(2017, 1, 1), dt.date(2017, 12, 30)).tolist() == [False, True, False]
