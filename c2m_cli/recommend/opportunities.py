"""Opportunities of every kind, assembled: trend tests adjusted together, one score, one ranking.

Each kind lives in its own module (``search`` for search_gap and attribute_gap, ``rising``,
``price_bands``, ``reviews`` for micro_demand, ``festival``); this module runs them, adjusts the
p-values of every trend test of the run together (Benjamini–Hochberg), scores them with the one
table of ``scoring`` and ranks them (``scoring.rank``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from c2m_cli.recommend import festival, price_bands, rising, scoring, search
from c2m_cli.recommend._text import vocabulary_of
from c2m_cli.recommend.data import Inputs, dense_weekly
from c2m_cli.recommend.reviews import micro_demand_opportunities, micro_demands
from c2m_cli.recommend.trends import benjamini_hochberg


@dataclass
class Assembled:
    table: pl.DataFrame
    search: search.SearchResult | None = None
    band_table: pl.DataFrame = field(default_factory=pl.DataFrame)
    sku_band: pl.DataFrame = field(default_factory=pl.DataFrame)
    portrait: pl.DataFrame = field(default_factory=pl.DataFrame)
    micro: pl.DataFrame = field(default_factory=pl.DataFrame)
    uplift: pl.DataFrame = field(default_factory=pl.DataFrame)
    band_support: pl.DataFrame = field(default_factory=pl.DataFrame)
    skipped: dict[str, str] = field(default_factory=dict)
    notes: dict = field(default_factory=dict)
    tests: int = 0


def _factors(ins: Inputs, market: str, frame: pl.DataFrame, value: str) -> np.ndarray:
    keys, weeks, m = dense_weekly(frame.with_columns(_all=pl.lit("all")), "_all", value, ins.start, ins.end)
    totals = m[0] if keys else np.zeros(len(weeks))
    return festival.weekly_factors(ins, market, totals, weeks)


def assemble(ins: Inputs, market: str) -> Assembled:
    zh = ins.chinese
    out = Assembled(scoring.empty())
    frames: list[pl.DataFrame] = []
    sales_factors = _factors(ins, market, ins.sku_week().group_by("week").agg(pl.col("qty").sum()), "qty")
    # -- tests whose p-values are adjusted together
    trends = pl.DataFrame()
    if ins.products is not None and ins.category_levels():
        weeks = rising.testable_weeks(ins)
        out.notes["complete_weeks"] = weeks
        if weeks >= rising.MIN_WEEKS:
            trends = rising.sales_trends(ins, sales_factors)
        else:
            out.skipped["rising_demand"] = (f"{weeks} complete weeks of order lines: telling growth from the yearly season "
                                            f"takes {rising.MIN_WEEKS} (two years; a seasonal Kendall test)")
    else:
        out.skipped["categories"] = "no products.parquet with categories: rising_demand, price_band, festival skipped"
    res = None
    if ins.events is None:
        out.skipped["search_gap"] = "no events.parquet"
    elif not {"query", "event"} <= set(ins.events.columns):
        out.skipped["search_gap"] = "events.parquet has no query column"
    else:
        searches = ins.events.filter(pl.col("event") == "search").with_columns(
            week=pl.col("ts").dt.convert_time_zone(ins.timezone).dt.date().dt.truncate("1w"), one=pl.lit(1.0))
        res = search.analyse(ins, vocabulary_of(ins.products), _factors(ins, market, searches, "one"))
        out.search = res
    micro = pl.DataFrame()
    if ins.reviews is None:
        out.skipped["micro_demand"] = "no reviews.parquet"
    else:
        micro, out.notes["reviews"] = micro_demands(ins.reviews, products=ins.products, chinese=zh)
    p_all = [trends["trend_p"].to_numpy() if trends.height else np.zeros(0),
             res.needs["trend_p"].to_numpy() if res is not None and res.needs.height else np.zeros(0),
             micro["trend_p"].to_numpy() if micro.height else np.zeros(0)]
    sizes = [p.size for p in p_all]
    q = benjamini_hochberg(np.concatenate(p_all)) if sum(sizes) else np.zeros(0)
    out.tests = int(sum(sizes))
    q_trend, q_need, q_micro = np.split(q, np.cumsum(sizes)[:2]) if sum(sizes) else (np.zeros(0),) * 3
    if trends.height:
        trends = trends.with_columns(trend_q=pl.Series(q_trend))
        frames.append(rising.opportunities(trends, zh))
    if res is not None and res.needs.height:
        res.needs = res.needs.with_columns(trend_q=pl.Series(q_need))
        frames.append(search.opportunities(res, zh))
    if micro.height:
        micro = micro.with_columns(trend_q=pl.Series(q_micro))
        frames.append(micro_demand_opportunities(micro, chinese=zh))
        out.micro = micro
    # -- kinds without trend tests
    if ins.products is not None and ins.category_levels():
        out.band_table, out.sku_band = price_bands.band_table(ins)
        out.band_support = price_bands.band_support(ins)
        out.notes["price_bands"] = {
            "categories": out.band_support.height, "known": int(out.band_support["known"].sum()),
            "products_below_min_price": int(out.band_support["below_min"].sum()), "min_price": price_bands.MIN_PRICE}
        out.portrait = price_bands.portraits(ins, out.sku_band)
        frames.append(price_bands.opportunities(out.band_table, out.portrait, zh))
        if ins.customers is None and ins.tags is None:
            out.skipped["price_band_portrait"] = "no customers.parquet or tags.parquet: price bands without a buyer portrait"
        out.uplift = festival.festival_uplift(ins, market)
        frames.append(festival.opportunities(ins, out.uplift))
        if market == "none":
            out.skipped["festival"] = "the workspace's market is none: no festival calendar"
    frames = [f for f in frames if f.height]
    table = pl.concat(frames) if frames else scoring.empty()
    out.table = scoring.rank(scoring.score(table))
    out.notes["trend_tests"] = out.tests
    return out
