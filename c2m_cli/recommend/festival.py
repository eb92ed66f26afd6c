"""festival: which of the market's festivals lifts which category, and by how much.

Uplift = mean daily units on the festival's days ÷ mean daily units over the 28 ordinary days
before it, averaged over the years in the data; the calendar is the workspace's market's
(``c2m_cli.calendar``), none for a market without one. ``weekly_factors`` gives the festival
factors that trend tests divide by.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import polars as pl

from c2m_cli.calendar import festival_days, festival_name
from c2m_cli.recommend import scoring
from c2m_cli.recommend.data import Inputs
from c2m_cli.recommend.trends import festival_factors


def weekly_factors(ins: Inputs, market: str, weekly_totals: np.ndarray, weeks: list[dt.date]) -> np.ndarray:
    """Festival factor of every week (1 for weeks with no festival day of the market)."""
    days = festival_days(ins.start, ins.end, market=market)
    if days.height == 0 or not weeks:
        return np.ones(len(weeks))
    fest_weeks = set(days.select(pl.col("date").dt.truncate("1w"))["date"].to_list())
    flags = np.array([w in fest_weeks for w in weeks])
    return festival_factors(weekly_totals, flags)


def festival_uplift(ins: Inputs, market: str, *, baseline_days: int = 28) -> pl.DataFrame:
    """Per category and festival: mean daily units on festival days ÷ the 28 days before."""
    levels = ins.category_levels()
    empty = pl.DataFrame(
        schema={"category": pl.String, "festival": pl.String, "uplift": pl.Float64, "years": pl.UInt32,
                "festival_units": pl.Float64, "baseline_units": pl.Float64}
    )
    level = ins.main_level()
    if not levels or level is None:
        return empty
    days = festival_days(ins.start, ins.end, market=market).with_columns(year=pl.col("date").dt.year())
    if days.height == 0:
        return empty
    windows = days.group_by("festival", "year").agg(pl.col("date").min().alias("first"), pl.col("date").max().alias("last"))
    daily = ins.category_day()
    cats = daily.select("category").unique()
    all_days = pl.DataFrame({"date": pl.date_range(ins.start, ins.end, interval="1d", eager=True)})
    dense = cats.join(all_days, how="cross").join(daily, on=["category", "date"], how="left").with_columns(
        pl.col("units").fill_null(0.0)
    )
    festival_any = days.select("date").unique().with_columns(in_festival=pl.lit(True))
    dense = dense.join(festival_any, on="date", how="left").with_columns(pl.col("in_festival").fill_null(False))
    win = windows.with_columns(base_first=pl.col("first") - pl.duration(days=baseline_days)).filter(
        pl.col("base_first") >= ins.start
    )
    fest = (
        dense.join(days.select("date", "festival", "year"), on="date")
        .group_by("category", "festival", "year")
        .agg(pl.col("units").mean().alias("festival_units"))
    )
    base = (
        dense.filter(~pl.col("in_festival"))
        .join(win, how="cross")
        .filter((pl.col("date") >= pl.col("base_first")) & (pl.col("date") < pl.col("first")))
        .group_by("category", "festival", "year")
        .agg(pl.col("units").mean().alias("baseline_units"))
    )
    return (
        fest.join(base, on=["category", "festival", "year"])
        .group_by("category", "festival")
        .agg(
            pl.col("festival_units").mean(),
            pl.col("baseline_units").mean(),
            pl.len().cast(pl.UInt32).alias("years"),
        )
        .with_columns(uplift=pl.col("festival_units") / pl.col("baseline_units").clip(lower_bound=1e-9))
        .filter(pl.col("baseline_units") > 0)
        .select(empty.columns)
        .sort("category", "festival")
    )


def opportunities(ins: Inputs, uplift: pl.DataFrame, *, min_uplift: float = 1.3) -> pl.DataFrame:
    zh = ins.chinese
    rows = []
    for r in uplift.filter(pl.col("uplift") >= min_uplift).iter_rows(named=True):
        name = festival_name(r["festival"], "zh" if zh else "en")
        rows.append({
            "kind": "festival", "category": r["category"], "variants": [], "need": f"festival|{r['festival']}",
            "subject": f"在{name}前上新「{r['category']}」" if zh else f"launch '{r['category']}' before {name}",
            "evidence": (f"{name}期间日均销量 {r['festival_units']:.1f} 件，是节前 28 天的 {r['uplift']:.1f} 倍（{r['years']} 年）" if zh
                         else f"{name} days sell {r['festival_units']:.1f} units a day, {r['uplift']:.1f} times the 28 days before ({r['years']} year(s))"),
            "volume": float(r["festival_units"]),
            "c_uplift": min(1.0, max(0.0, math.log2(r["uplift"]) / 2.0)), "c_years": min(1.0, r["years"] / 2.0),
        })
    return scoring.frame(rows)
