"""Price bands, portraits and the diverse ranking on small frames built in the test."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from c2m_cli.recommend import price_bands, scoring
from c2m_cli.recommend.data import Inputs, prepare_lines


def _inputs(orders: pl.DataFrame, products: pl.DataFrame, customers: pl.DataFrame | None = None) -> Inputs:
    lines = prepare_lines(orders, products, "UTC")
    return Inputs(orders=orders, products=products, customers=customers, lines=lines,
                  start=lines["date"].min(), end=lines["date"].max(), chinese=True)  # type: ignore[arg-type]


def _orders(rows: list[tuple[str, str, float, float]]) -> pl.DataFrame:
    ts = dt.datetime(2025, 3, 3, tzinfo=dt.UTC)
    return pl.DataFrame({
        "order_id": [f"o{i}" for i in range(len(rows))], "user_id": [r[0] for r in rows], "sku": [r[1] for r in rows],
        "ts": [ts + dt.timedelta(days=i % 60) for i in range(len(rows))], "qty": [r[2] for r in rows],
        "unit_price": [r[3] for r in rows],
    })


def test_bands_are_on_paid_prices_and_every_band_holds_products() -> None:
    # three products listed at 100, 200, 300; the 300 one always sold at 40 % off (paid 180)
    products = pl.DataFrame({"sku": ["A", "B", "C"], "category_l2": ["面霜"] * 3, "list_price": [100.0, 200.0, 300.0]})
    rows = [(f"u{i}", "A", 1.0, 100.0) for i in range(50)] + [(f"v{i}", "B", 1.0, 200.0) for i in range(50)]
    rows += [(f"w{i}", "C", 1.0, 180.0) for i in range(50)]
    table, sku_band = price_bands.band_table(_inputs(_orders(rows), products))
    assert (table["skus"] > 0).all()
    # C is priced where its buyers paid (180), not at its list price
    c_band = sku_band.filter(pl.col("sku") == "C").row(0, named=True)
    band = table.filter(pl.col("band") == c_band["band"]).row(0, named=True)
    assert band["low"] <= 180 < band["high"]
    # smoothed shares: no share of 0 and no ratio of 10^8
    assert table["sku_share"].min() > 0 and table["thinness"].max() < 10


def test_portrait_weighs_buyers_by_their_share_in_the_band() -> None:
    """Heavy buyers who buy in every band (tagged 'heavy') are no portrait of any band; the
    planted buyers of the expensive band (generation 80后) are."""
    products = pl.DataFrame({"sku": ["L", "H"], "category_l2": ["面霜", "面霜"]})
    rows = []
    for i in range(200):  # heavy buyers: both bands, many units
        rows += [(f"h{i}", "L", 5.0, 100.0), (f"h{i}", "H", 5.0, 900.0)]
    for i in range(150):
        rows.append((f"c{i}", "L", 1.0, 100.0))
    for i in range(100):
        rows.append((f"r{i}", "H", 1.0, 900.0))
    users = [f"h{i}" for i in range(200)] + [f"c{i}" for i in range(150)] + [f"r{i}" for i in range(100)]
    gen = ["90后"] * 200 + ["90后"] * 150 + ["80后"] * 100
    customers = pl.DataFrame({"user_id": users, "birth_year": [1995 if g == "90后" else 1985 for g in gen]})
    ins = _inputs(_orders(rows), products, customers)
    _, sku_band = price_bands.band_table(ins)
    portrait = price_bands.portraits(ins, sku_band, min_buyers=30)
    high = int(sku_band.filter(pl.col("sku") == "H")["band"][0])
    top = price_bands.over_indexed(portrait, "面霜", high)
    assert top["value"].to_list() == ["80后"]
    row = top.row(0, named=True)
    # by hand: in the band 80后 weigh 100 (f = 1) of 100 + 200·0.5 = 200 → 0.5; in the rest 0 of 150 + 100 = 250
    assert row["p_band"] == pytest.approx(0.5) and row["p_rest"] == pytest.approx(0.0)
    assert row["lift_lo"] > 1 and row["distinct"] > 0.4


def test_ranking_is_diverse_across_kinds_and_categories() -> None:
    rows = [{"kind": "search_gap", "category": "笔记本电脑", "need": f"n{i}", "subject": f"s{i}",
             "c_volume": 1.0, "c_rising": 1.0, "c_significant": 1.0, "c_gap": 1.0, "c_supply": 1.0 - i / 100} for i in range(6)]
    rows += [{"kind": "price_band", "category": "面霜", "need": "band|4", "subject": "b", "c_distinct": 1.0, "c_size": 1.0, "c_thin": 0.5},
             {"kind": "micro_demand", "category": "奶粉", "need": "aspect|x", "subject": "m", "c_share": 1.0, "c_distinct": 1.0, "c_volume": 0.8}]
    ranked = scoring.rank(scoring.score(scoring.frame(rows)))
    assert ranked["rank"].to_list() == list(range(1, 9))
    assert ranked["kind"][0] == "search_gap"
    # plain score order would put all six search gaps first; the decay brings the others up
    assert set(ranked["kind"].head(4).to_list()) == {"search_gap", "price_band", "micro_demand"}
    assert ranked["kind"].head(5).to_list().count("search_gap") <= 3
    # the score column is the table's, the order the diverse one
    assert np.isclose(ranked.filter(pl.col("kind") == "price_band")["score"][0], 0.8 * (0.6 + 0.3 + 0.05))
    assert ranked["opportunity_id"].n_unique() == 8


def test_compute_recommend_core_flags_a_money_losing_moq() -> None:
    """The pure core on frames: a MOQ of a million units at a 10-unit margin loses money on any
    brief's demand: every brief row keeps its newsvendor quantity and a warning says so."""
    from c2m_cli.diagnostics import WarningLog
    from c2m_cli.recommend import compute_recommend, inputs_from
    from c2m_cli.recommend.quantities import Economics

    products = pl.DataFrame({"sku": [f"P{i}" for i in range(6)], "category_l2": ["面霜"] * 3 + ["咖啡"] * 3})
    rows = [(f"u{k}", f"P{k % 6}", 1.0, 50.0 + 40 * (k % 3)) for k in range(1200)]
    ins = inputs_from(_orders(rows), {"products": products}, "UTC")
    log = WarningLog()
    result = compute_recommend(ins, market="none", eco=Economics(moq=1e6, unit_cost=50, unit_price=60), log=log)
    q = result.tables["quantities"].filter(pl.col("brief_id").is_not_null())
    assert q.height == result.tables["briefs"].height > 0
    assert (q["moq_flag"] == "moq-loses-money").all()
    assert (q["recommended_qty"] == q["newsvendor_qty"]).all() and (q["recommended_qty"] < 1e6).all()
    assert (q["expected_profit"] > 0).all()
    # 60 days of lines: no rising_demand (a rise cannot be told from the season), and it says so
    assert {w.code for w in log.items} == {"recommend-moq-loses-money", "recommend-trend-one-year"}
    assert "rising_demand" in result.summary["skipped"] and "rising_demand" not in result.summary["opportunities_by_kind"]
    assert result.summary["skipped"]["festival"] == "the workspace's market is none: no festival calendar"


def test_price_bands_come_from_real_prices_with_support() -> None:
    """A fuel-like product (quantity in millilitres: a paid unit price of 0.002) carries most of its
    category's units; it gets no band and no band edge below a cent, and a category with one
    priced product has no bands at all: both are said in one warning."""
    from c2m_cli.diagnostics import WarningLog
    from c2m_cli.recommend import compute_recommend, inputs_from
    from c2m_cli.recommend.quantities import Economics

    products = pl.DataFrame({"sku": [f"P{i}" for i in range(8)] + ["GAS", "ONLY"],
                             "category_l2": ["燃料杂项"] * 9 + ["单品"]})
    rows = [(f"u{k}", f"P{k % 8}", 1.0, 2.0 + 3.0 * (k % 8)) for k in range(800)]
    rows += [(f"u{k}", "GAS", 20_000.0, 0.002) for k in range(300)]  # 40 a fill-up: 20,000 × 0.002
    rows += [(f"u{k}", "ONLY", 1.0, 9.9) for k in range(100)]
    ins = inputs_from(_orders(rows), {"products": products}, "UTC")
    table, sku_band = price_bands.band_table(ins)
    assert "GAS" not in sku_band["sku"].to_list() and sku_band.height == 8
    assert table["category"].unique().to_list() == ["燃料杂项"]
    cuts = table.filter(pl.col("low") > 0)["low"].to_list()
    assert cuts and min(cuts) >= 2.0  # edges between real prices (2, 5, … 23), none at 0.002
    # the eight real products hold the units: 100 each, the fuel's 6,000,000 not among them
    assert table["units"].sum() == pytest.approx(800.0)
    log = WarningLog()
    result = compute_recommend(ins, market="none", eco=Economics(), log=log)
    (warning,) = [w for w in log.items if w.code == "recommend-price-band-unknown"]
    assert "1 of 2 categories have no price bands" in warning.message and "单品 (1 of 1 priced)" in warning.message
    assert "1 products paid below 0.01 a unit" in warning.message and "燃料杂项 1" in warning.message
    bands = result.tables["opportunities"].filter(pl.col("kind") == "price_band")
    assert bands.height and not bands["subject"].str.contains("0.002").any()
    assert set(bands["category"].to_list()) == {"燃料杂项"}
