"""rising_demand: categories and product attributes whose weekly units rise year over year.

Weekly units are divided by the market's festival factors (``trends.festival_factors``), weeks the
data covers only in part are left out, and each series gets a seasonal Kendall test
(``trends.seasonal_kendall``: week 47 against week 47 of the other years), so a yearly season —
egg nog in December, barbecue in July — does not pass for growth; growth is the last 52 weeks over
the 52 before. That needs two years of complete weeks: on less, a rise cannot be told from the
season and no test is made (``MIN_WEEKS``; the caller says so). Significance is decided on
Benjamini–Hochberg q-values over every trend test the run makes (the caller adjusts).

On Complete Journey (one year, 2017) the old test — Mann-Kendall on the whole year, with the one-day
week of 1 January counted as a week — found 438 "significant rises" among 5,520 tests even after
Benjamini–Hochberg: seasonal categories (pies, egg nog, baking) and a first week that is 1/7 of a
week. Without that week rises and falls were symmetric (370 against 374): the year's seasons.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from c2m_cli.recommend import scoring, wording
from c2m_cli.recommend.data import Inputs, complete_weeks, dense_weekly
from c2m_cli.recommend.trends import half_growth, seasonal_kendall

SEASON_WEEKS = 52
MIN_WEEKS = 2 * SEASON_WEEKS

TREND_SCHEMA = {"level": pl.String, "category": pl.String, "dimension": pl.String, "units": pl.Float64,
                "weeks": pl.Int64, "trend_z": pl.Float64, "trend_p": pl.Float64, "growth": pl.Float64,
                "growth_days": pl.Int64}


def _tests(level: str, keys: list[str], matrix: np.ndarray, dims: list[str]) -> pl.DataFrame:
    res = seasonal_kendall(matrix, SEASON_WEEKS)
    growth, days = half_growth(matrix, span_days=7 * SEASON_WEEKS)
    return pl.DataFrame({
        "level": level, "category": keys, "dimension": dims, "units": matrix.sum(axis=1),
        "weeks": matrix.shape[1], "trend_z": res.z, "trend_p": res.p, "growth": growth,
        "growth_days": np.full(len(keys), days),
    }, schema=TREND_SCHEMA)


def testable_weeks(ins: Inputs) -> int:
    """Complete weeks in the data (a trend test needs ``MIN_WEEKS``)."""
    weeks = pl.date_range(ins.start - dt.timedelta(days=ins.start.weekday()), ins.end, interval="1w",
                          eager=True).to_list()
    return int(complete_weeks(weeks, ins.start, ins.end).sum())


def sales_trends(ins: Inputs, factors: np.ndarray | None, *, min_units: float = 30.0) -> pl.DataFrame:
    """One trend test per category value (every level) and per (main category, attribute=value);
    none when the data hold fewer than ``MIN_WEEKS`` complete weeks."""
    if testable_weeks(ins) < MIN_WEEKS:
        return pl.DataFrame(schema=TREND_SCHEMA)
    out = []
    weekly = ins.sku_week().join(ins.sku_categories(), on="sku", how="left")
    for level in ins.category_levels():
        keys, weeks, m = dense_weekly(weekly.select(level, "week", "qty"), level, "qty", ins.start, ins.end)
        if keys:
            if factors is not None and factors.size == m.shape[1]:
                m = m / factors[None, :]
            m = m[:, complete_weeks(weeks, ins.start, ins.end)]
            keep = m.sum(axis=1) >= min_units
            out.append(_tests(level, [k for k, ok in zip(keys, keep, strict=True) if ok], m[keep],
                              [k for k, ok in zip(keys, keep, strict=True) if ok]))
    attrs = ins.attributes()
    main = ins.main_level()
    if attrs.height and main is not None:
        # summed per (key, week) by the streaming engine: the (sku, week) × attribute join never materialises
        keyed = (
            weekly.lazy().select("sku", main, "week", "qty").join(attrs.lazy(), on="sku")
            .group_by(pl.concat_str([pl.col(main).fill_null(""), "attribute", "value"], separator="\x1f").alias("key"), "week")
            .agg(pl.col("qty").sum())
            .collect(engine="streaming")
        )
        keys, weeks, m = dense_weekly(keyed, "key", "qty", ins.start, ins.end)
        if keys:
            if factors is not None and factors.size == m.shape[1]:
                m = m / factors[None, :]
            m = m[:, complete_weeks(weeks, ins.start, ins.end)]
            keep = m.sum(axis=1) >= min_units
            kept = [k.split("\x1f") for k, ok in zip(keys, keep, strict=True) if ok]
            out.append(_tests("attribute", [k[0] for k in kept], m[keep], [f"{k[1]}={k[2]}" for k in kept]))
    out = [o for o in out if o.height]
    return pl.concat(out) if out else pl.DataFrame(schema=TREND_SCHEMA)


def opportunities(trends: pl.DataFrame, zh: bool, *, alpha: float = 0.05) -> pl.DataFrame:
    """Rows for tests significant after BH (``trend_q`` < alpha) with a rising trend."""
    if trends.height == 0 or "trend_q" not in trends.columns:
        return scoring.empty()
    sig = trends.filter((pl.col("trend_q") < alpha) & (pl.col("trend_z") > 0) & (pl.col("growth") > 0)).sort(
        "level", "category", "dimension")
    if sig.height == 0:
        return scoring.empty()
    vol = scoring.pct_rank(sig["units"].to_numpy().astype(float))
    rows = []
    for i, r in enumerate(sig.iter_rows(named=True)):
        what = r["dimension"] if r["level"] != "attribute" else f"{r['category']} {r['dimension']}"
        trend = wording.trend_words(r["trend_z"], r["trend_q"], r["growth"], int(r["growth_days"]), zh)
        ev = (wording.join([f"{r['weeks']} 周销量 {r['units']:,.0f} 件（已剔除大促影响）", trend], zh) if zh
              else wording.join([f"{r['units']:,.0f} units over {r['weeks']} weeks (festival effects removed)", trend], zh))
        rows.append({
            "kind": "rising_demand", "category": r["category"], "subject": f"扩充「{what}」" if zh else f"more of '{what}'",
            "evidence": ev, "variants": [], "need": f"{r['level']}|{what}", "volume": r["units"],
            "trend_z": r["trend_z"], "trend_p": r["trend_p"], "trend_q": r["trend_q"], "growth": r["growth"],
            "c_growth": min(1.0, max(0.0, r["growth"])), "c_significant": 1.0 - r["trend_q"] / alpha,
            "c_volume": float(vol[i]),
        })
    return scoring.frame(rows)
