"""The report's pure measures over polars frames: label coverage, lifecycle counts and flows,
value histograms, festival uplift, search-vs-sales trends, price histograms. Tested on their own.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

import polars as pl

from c2m_cli.report.sections.base import as_float as _float
from c2m_cli.report.sections.base import local_ts, sold_orders

FAMILIES = ("geo", "demo", "value", "occasion", "behavior", "motive", "attitude", "lifestyle")
STAGES = ("new", "active", "sleeping", "dormant", "lost")


def _informative(column: str, dtype: pl.DataType) -> pl.Expr:
    value = pl.col(column)
    if dtype == pl.String:
        return value.is_not_null() & ~value.str.to_lowercase().is_in(["", "unknown", "未知"])
    if dtype.is_numeric():
        return value.is_not_null() & (value != 0)
    if isinstance(dtype, pl.List):
        return value.list.len() > 0
    return value.is_not_null()


def family_coverage(labels: pl.DataFrame | pl.LazyFrame) -> list[dict[str, Any]]:
    """Per label family: its columns and the share of users with at least one informative value
    in them (not null, not "unknown"/未知, not a zero score, not an empty tag list). One
    streaming pass that counts (``labels`` may be a scan: the table is not held in memory)."""
    lazy = labels.lazy()
    schema = lazy.collect_schema()
    columns = {family: [c for c in schema.names() if c.startswith(f"{family}_")] for family in FAMILIES}
    known = {
        family: pl.any_horizontal(_informative(c, schema[c]) for c in cols).fill_null(False).sum().alias(family)
        for family, cols in columns.items()
        if cols
    }
    counts = lazy.select(pl.len().alias("users"), *known.values()).collect(engine="streaming").row(0, named=True)
    users = int(counts["users"])
    return [
        {"family": family, "columns": len(cols), "coverage": int(counts[family]) / users if cols and users else 0.0}
        for family, cols in columns.items()
    ]


def stage_counts(labels: pl.DataFrame) -> list[dict[str, Any]]:
    """Users, share, total and share of CLV, mean P(alive) per lifecycle stage, in funnel order."""
    total = labels.height
    value = "value_clv" if "value_clv" in labels.columns else None
    alive = "value_p_alive" if "value_p_alive" in labels.columns else None
    grouped = labels.group_by("lifecycle_stage").agg(
        pl.len().alias("count"),
        (pl.col(value).sum() if value else pl.lit(None, pl.Float64)).alias("clv"),
        (pl.col(alive).mean() if alive else pl.lit(None, pl.Float64)).alias("p_alive"),
    )
    clv_total = float(labels[value].sum()) if value else 0.0
    by_stage = {row["lifecycle_stage"]: row for row in grouped.iter_rows(named=True)}
    order = list(STAGES) + sorted(str(s) for s in by_stage if s not in STAGES and s is not None)
    out = []
    for stage in order:
        row = by_stage.get(stage, {"count": 0, "clv": None, "p_alive": None})
        out.append(
            {
                "stage": stage,
                "count": int(row["count"]),
                "share": row["count"] / total if total else 0.0,
                "clv": _float(row["clv"]),
                "clv_share": (row["clv"] / clv_total) if (value and clv_total and row["clv"] is not None) else None,
                "p_alive": _float(row["p_alive"]),
            }
        )
    return out


def stage_flows(labels: pl.DataFrame, previous: str) -> list[dict[str, Any]]:
    """Counts of users by (previous stage, current stage)."""
    flows = (
        labels.group_by(previous, "lifecycle_stage")
        .agg(pl.len().alias("count"))
        .sort(previous, "lifecycle_stage", nulls_last=True)
    )
    return [
        {"from": row[previous], "to": row["lifecycle_stage"], "count": int(row["count"])}
        for row in flows.iter_rows(named=True)
    ]


def bin_index(expr: pl.Expr, edges: list[float]) -> pl.Expr:
    """The bin of each value for equally spaced ``edges`` (left-closed; outside → first/last)."""
    step = edges[1] - edges[0]
    last = len(edges) - 2
    return ((expr - edges[0]) / step + 1e-9).floor().clip(0, last).cast(pl.Int64)


def value_histogram(values: pl.Series, bins: int = 10) -> list[dict[str, Any]]:
    """Equal-width bins from 0 (or the minimum) to the 99th percentile; the last bin is open.

    Every non-null value falls in exactly one bin, so the counts add up to the users valued.
    """
    from c2m_cli.report.charts import nice_ticks

    clean = values.cast(pl.Float64).drop_nulls().drop_nans()
    if clean.len() == 0:
        return []
    low = min(0.0, float(clean.min()))  # type: ignore[arg-type]
    high = float(clean.quantile(0.99) or 0.0)
    if high <= low:
        high = float(clean.max()) if float(clean.max()) > low else low + 1.0  # type: ignore[arg-type]
    edges = nice_ticks(low, high, bins)
    index = (
        clean.to_frame("v")
        .with_columns(
            bin_index(pl.col("v"), edges).alias("bin")
        )
        .group_by("bin")
        .agg(pl.len().alias("count"))
    )
    counts = dict(zip(index["bin"].to_list(), index["count"].to_list(), strict=True))
    out = []
    for i in range(len(edges) - 1):
        out.append(
            {"low": edges[i], "high": edges[i + 1], "open": i == len(edges) - 2, "count": int(counts.get(i, 0))}
        )
    return out


def top_share(values: pl.Series, fraction: float = 0.1) -> float | None:
    """Share of the total held by the top ``fraction`` of the values."""
    clean = values.cast(pl.Float64).drop_nulls().drop_nans()
    total = float(clean.sum()) if clean.len() else 0.0
    if clean.len() == 0 or total <= 0:
        return None
    top = max(1, int(round(clean.len() * fraction)))
    return float(clean.sort(descending=True).head(top).sum()) / total


def daily_units(orders: pl.LazyFrame, tz: str) -> pl.DataFrame:
    """Units sold per local calendar day, with days without sales as zero."""
    per_day = (
        sold_orders(orders)
        .group_by(local_ts(tz).dt.date().alias("date"))
        .agg(pl.col("qty").sum().alias("units"))
        .collect()
    )
    if per_day.height == 0:
        return pl.DataFrame(schema={"date": pl.Date, "units": pl.Float64})
    days = pl.DataFrame({"date": pl.date_range(cast(dt.date, per_day["date"].min()), cast(dt.date, per_day["date"].max()), "1d", eager=True)})
    return days.join(per_day, on="date", how="left").with_columns(pl.col("units").fill_null(0.0).cast(pl.Float64))


def festival_uplift(daily: pl.DataFrame, calendar: pl.DataFrame, baseline_days: int = 28) -> pl.DataFrame:
    """Mean daily units during each festival ÷ mean over the ``baseline_days`` before it.

    Festival days inside the baseline window are left out of it; only festivals whose whole
    window and baseline lie inside the data are measured.
    """
    schema = {"festival": pl.String, "year": pl.Int32, "start": pl.Date, "uplift": pl.Float64}
    if daily.height == 0:
        return pl.DataFrame(schema=schema)
    first, last = daily["date"].min(), daily["date"].max()
    occurrences = calendar.filter(
        (pl.col("start") - pl.duration(days=baseline_days) >= first) & (pl.col("end") <= last)
    ).select("festival", "year", "start", "end")
    if occurrences.height == 0:
        return pl.DataFrame(schema=schema)
    festive_days = (
        calendar.select(pl.date_ranges("start", "end", interval="1d").alias("date")).explode("date").unique()
    )
    keys = ["festival", "year", "start"]
    during = (
        occurrences.with_columns(pl.date_ranges("start", "end", interval="1d").alias("date"))
        .explode("date")
        .join(daily, on="date", how="inner")
        .group_by(keys)
        .agg(pl.col("units").mean().alias("during"))
    )
    quiet = daily.join(festive_days, on="date", how="anti")
    before = (
        occurrences.with_columns(
            pl.date_ranges(
                pl.col("start") - pl.duration(days=baseline_days),
                pl.col("start") - pl.duration(days=1),
                interval="1d",
            ).alias("date")
        )
        .explode("date")
        .join(quiet, on="date", how="inner")
        .group_by(keys)
        .agg(pl.col("units").mean().alias("before"))
    )
    return (
        during.join(before, on=["festival", "year", "start"], how="inner")
        .filter(pl.col("before") > 0)
        .select(
            "festival",
            pl.col("year").cast(pl.Int32),
            "start",
            (pl.col("during") / pl.col("before")).alias("uplift"),
        )
        .sort("start", "festival")
    )


def period_start(expr: pl.Expr, freq: str) -> pl.Expr:
    """The first day of the period (D, W from Monday, M) holding each date."""
    if freq == "W":
        return expr.dt.truncate("1w")
    if freq == "M":
        return expr.dt.truncate("1mo")
    return expr


def search_sales_trend(
    events: pl.LazyFrame | None,
    orders: pl.LazyFrame,
    products: pl.DataFrame | None,
    category: str,
    tz: str,
) -> list[dict[str, Any]]:
    """Weekly searches and units for one category, each indexed to its own mean (= 100)."""
    cat_cols = [c for c in ("category_l1", "category_l2", "category_l3") if products is not None and c in products.columns]
    skus = (
        products.filter(pl.any_horizontal(pl.col(c) == category for c in cat_cols)).select("sku")
        if products is not None and cat_cols
        else pl.DataFrame(schema={"sku": pl.String})
    )
    sales = (
        sold_orders(orders)
        .join(skus.lazy(), on="sku", how="semi")
        .group_by(local_ts(tz).dt.date().dt.truncate("1w").alias("week"))
        .agg(pl.col("qty").sum().alias("sales"))
        .collect()
    )
    searches = pl.DataFrame(schema={"week": pl.Date, "searches": pl.UInt32})
    if events is not None:
        names = events.collect_schema().names()
        match = pl.lit(False)
        if "category" in names:
            match = match | (pl.col("category") == category)
        if "query" in names:
            match = match | pl.col("query").str.contains(category, literal=True).fill_null(False)
        if "sku" in names:
            match = match | pl.col("sku").is_in(skus["sku"].implode())
        searches = (
            events.filter((pl.col("event") == "search") & match.fill_null(False))
            .group_by(local_ts(tz).dt.date().dt.truncate("1w").alias("week"))
            .agg(pl.len().alias("searches"))
            .collect()
        )
    trend = sales.join(searches, on="week", how="full", coalesce=True).sort("week")
    if trend.height == 0:
        return []
    trend = trend.with_columns(pl.col("sales", "searches").cast(pl.Float64).fill_null(0.0))
    trend = trend.with_columns(
        (pl.col(c) / pl.col(c).mean() * 100).alias(f"{c}_index") for c in ("sales", "searches")
    )
    return [
        {
            "week": row["week"].isoformat(),
            "searches": row["searches_index"] if row["searches_index"] == row["searches_index"] else None,
            "sales": row["sales_index"] if row["sales_index"] == row["sales_index"] else None,
        }
        for row in trend.iter_rows(named=True)
    ]


def price_histogram(orders: pl.LazyFrame, skus: pl.DataFrame, bins: int = 12) -> list[dict[str, Any]]:
    """Units sold by unit-price bin for the given SKUs."""
    from c2m_cli.report.charts import nice_ticks

    lines = sold_orders(orders).join(skus.lazy(), on="sku", how="semi").select("unit_price", "qty").collect()
    prices = lines["unit_price"].drop_nulls()
    if prices.len() == 0:
        return []
    low = float(prices.quantile(0.01) or 0.0)
    high = float(prices.quantile(0.99) or 0.0)
    edges = nice_ticks(low, high if high > low else low + 1.0, bins)
    binned = (
        lines.with_columns(
            bin_index(pl.col("unit_price"), edges).alias("bin")
        )
        .group_by("bin")
        .agg(pl.col("qty").sum().alias("units"))
    )
    units = dict(zip(binned["bin"].to_list(), binned["units"].to_list(), strict=True))
    return [
        {"low": edges[i], "high": edges[i + 1], "units": float(units.get(i, 0.0))} for i in range(len(edges) - 1)
    ]
