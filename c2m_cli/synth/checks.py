"""Measure each planted signal directly in the generated tables (for the scorecard and tests).

Every function takes canonical frames (and the truth naming which item was planted) and
returns the measured figure; none reads a figure back from the truth.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

import polars as pl

from c2m_cli import contract
from c2m_cli.calendar import festival_days

TZ = "Asia/Shanghai"


def local_date(column: str = "ts", tz: str = TZ) -> pl.Expr:
    return pl.col(column).dt.convert_time_zone(tz).dt.date()


def lifecycle_from_orders(orders: pl.DataFrame, as_of: dt.date, tz: str = TZ) -> pl.DataFrame:
    """user_id, stage by the shared default thresholds (new ≤ 30 days since first order; else
    recency ≤ 90 active, ≤ 180 sleeping, ≤ 365 dormant, else lost), from orders not cancelled."""
    days = orders.filter(contract.line_kind(orders) != "cancelled").group_by("user_id").agg(
        first=(pl.lit(as_of) - local_date(tz=tz).min()).dt.total_days(),
        recency=(pl.lit(as_of) - local_date(tz=tz).max()).dt.total_days(),
    )
    return days.select(
        "user_id",
        stage=pl.when(pl.col("first") < 30).then(pl.lit("new"))
        .when(pl.col("recency") <= 90).then(pl.lit("active"))
        .when(pl.col("recency") <= 180).then(pl.lit("sleeping"))
        .when(pl.col("recency") <= 365).then(pl.lit("dormant"))
        .otherwise(pl.lit("lost")),
    )


def daily_orders(orders: pl.DataFrame, tz: str = TZ) -> pl.DataFrame:
    """date, orders (distinct orders not cancelled, by local date), every day of the range."""
    counts = (
        orders.filter(contract.line_kind(orders) != "cancelled")
        .group_by(local_date(tz=tz).alias("date"))
        .agg(pl.col("order_id").n_unique().alias("orders"))
    )
    span = pl.DataFrame({"date": pl.date_range(cast(dt.date, counts["date"].min()), cast(dt.date, counts["date"].max()), "1d", eager=True)})
    return span.join(counts, on="date", how="left").with_columns(pl.col("orders").fill_null(0)).sort("date")


def festival_uplift(orders: pl.DataFrame, festival: str, tz: str = TZ, baseline_days: int = 28) -> float | None:
    """Mean daily orders inside the festival's windows / mean over the ordinary days before."""
    daily = daily_orders(orders, tz)
    start, end = daily["date"].min(), daily["date"].max()
    fest = festival_days(start, end, market="cn")  # type: ignore[arg-type]
    special = set(fest["date"].to_list())
    ratios = []
    windows = fest.filter(pl.col("festival") == festival).group_by(pl.col("date").dt.year()).agg(
        a=pl.col("date").min(), b=pl.col("date").max()
    )
    by_date = dict(zip(daily["date"].to_list(), daily["orders"].to_list(), strict=True))
    for a, b in windows.select("a", "b").iter_rows():
        if b >= end:
            continue
        inside = [by_date[a + dt.timedelta(days=i)] for i in range((b - a).days + 1)]
        before = [
            by_date[d]
            for d in (a - dt.timedelta(days=i) for i in range(1, baseline_days * 2 + 1))
            if d in by_date and d not in special
        ][:baseline_days]
        if len(before) >= baseline_days // 2 and sum(before) > 0:
            ratios.append((sum(inside) / len(inside)) / (sum(before) / len(before)))
    return sum(ratios) / len(ratios) if ratios else None


def niche_trend(events: pl.DataFrame, orders: pl.DataFrame, products: pl.DataFrame, query: str,
                category: str, window_days: int = 90, tz: str = TZ) -> dict[str, float]:
    """Searches for ``query`` and units sold of ``category`` (any level), last vs first window."""
    searches = events.filter((pl.col("event") == "search") & (pl.col("query") == query)).select(
        local_date(tz=tz).alias("date")
    )
    start = orders.select(local_date(tz=tz).min()).item()
    end = orders.select(local_date(tz=tz).max()).item()
    first = pl.col("date") < start + dt.timedelta(days=window_days)
    last = pl.col("date") > end - dt.timedelta(days=window_days)
    in_category = pl.any_horizontal(
        [pl.col(c) == category for c in ("category_l1", "category_l2", "category_l3") if c in products.columns]
    )
    skus = products.filter(in_category)["sku"]
    units = orders.filter(pl.col("sku").is_in(skus.implode()) & (contract.line_kind(orders) != "cancelled")).select(
        local_date(tz=tz).alias("date"), "qty"
    )
    serving = products.filter(
        pl.any_horizontal([pl.col(c).str.contains(query, literal=True) for c in ("name", "category_l3")])
    ).height
    return {
        "searches_first": float(searches.filter(first).height),
        "searches_last": float(searches.filter(last).height),
        "units_first": float(units.filter(first)["qty"].sum()),
        "units_last": float(units.filter(last)["qty"].sum()),
        "products_serving": float(serving),
    }


def micro_demand(reviews: pl.DataFrame, sku: str, phrases: list[str], category: str) -> dict[str, float]:
    """Share of the product's reviews carrying one of the phrasings, against its category peers."""
    flagged = reviews.with_columns(
        hit=pl.any_horizontal([pl.col("text").str.contains(p, literal=True) for p in phrases])
    )
    own = flagged.filter(pl.col("sku") == sku)
    peers = flagged.filter((pl.col("category") == category) & (pl.col("sku") != sku))
    used = sum(1 for p in phrases if own["text"].str.contains(p, literal=True).any())
    return {
        "share": float(cast("float | None", own["hit"].mean()) or 0.0),
        "peer_share": float(cast("float | None", peers["hit"].mean()) or 0.0) if peers.height else 0.0,
        "phrasings_used": float(used),
        "reviews": float(own.height),
    }


def generation_of(birth_year: pl.Expr) -> pl.Expr:
    decade = (birth_year // 10 % 10).cast(pl.String)
    return pl.when(birth_year.is_between(1970, 2009)).then(decade + pl.lit("0后"))


def price_band_share(orders: pl.DataFrame, customers: pl.DataFrame, products: pl.DataFrame,
                     band: dict[str, Any]) -> dict[str, float]:
    """Share of the target demographic among the band's buyers and among the category's buyers."""
    cat = products.filter(pl.col("category_l2") == band["category"])
    in_band = cat.filter(pl.col("list_price").is_between(band["low"], band["high"], closed="left"))["sku"]
    people = customers.select(
        "user_id",
        target=(generation_of(pl.col("birth_year")) == band["generation"]) & (pl.col("city_tier") == band["city_tier"]),
    )
    bought = orders.filter(pl.col("sku").is_in(cat["sku"].implode()))
    band_buyers = bought.filter(pl.col("sku").is_in(in_band.implode())).select("user_id").unique()
    cat_buyers = bought.select("user_id").unique()
    share_band = cast("float | None", band_buyers.join(people, on="user_id")["target"].mean())
    share_cat = cast("float | None", cat_buyers.join(people, on="user_id")["target"].mean())
    return {"band_share": float(share_band or 0.0), "category_share": float(share_cat or 0.0),
            "band_buyers": float(band_buyers.height)}


def bundle_lift(orders: pl.DataFrame, sku_a: str, sku_b: str) -> float | None:
    """Order-level lift of the pair: P(a and b) / (P(a) P(b))."""
    baskets = orders.group_by("order_id").agg(
        a=(pl.col("sku") == sku_a).any(), b=(pl.col("sku") == sku_b).any()
    )
    n = baskets.height
    na, nb = cast(int, baskets["a"].sum()), cast(int, baskets["b"].sum())
    nab = cast(int, (baskets["a"] & baskets["b"]).sum())
    return float(nab * n / (na * nb)) if na and nb else None


def presale(orders: pl.DataFrame, events: pl.DataFrame, products: pl.DataFrame, sku: str) -> dict[str, Any]:
    pre = orders.filter((pl.col("sku") == sku) & pl.col("presale"))
    launch = products.filter(pl.col("sku") == sku)["launch_date"]
    before = pre.filter(local_date() < launch[0]).height if launch.len() else 0
    return {
        "orders": pre["order_id"].n_unique(),
        "units": float(pre["qty"].sum()),
        "before_launch": before,
        "events": events.filter((pl.col("event") == "presale") & (pl.col("sku") == sku)).height,
        "sold_before": orders.filter((pl.col("sku") == sku) & ~pl.col("presale")).height,
    }


def super_users(orders: pl.DataFrame, reviews: pl.DataFrame, products: pl.DataFrame,
                flagged: pl.DataFrame, early_days: int = 14) -> dict[str, float]:
    """Spend ratio, 5-star share and share of early buys of new products: flagged users vs others.

    ``flagged`` is (user_id, is_super_user)."""
    spend = contract.sales_lines(orders).group_by("user_id").agg(
        spend=(pl.col("qty") * pl.col("unit_price")).sum()
    ).join(flagged, on="user_id", how="right").with_columns(pl.col("spend").fill_null(0.0))
    per = spend.group_by("is_super_user").agg(pl.col("spend").mean())
    mean = dict(per.iter_rows())
    stars = reviews.join(flagged, on="user_id").group_by("is_super_user").agg(
        five=(pl.col("rating") == 5).mean(), per_user=pl.len()
    )
    five = dict(stars.select("is_super_user", "five").iter_rows())
    start = orders.select(local_date().min()).item()
    new = products.filter(pl.col("launch_date") > start).select("sku", "launch_date")
    early = (
        orders.join(new, on="sku")
        .filter(local_date() <= pl.col("launch_date") + pl.duration(days=early_days))
        .filter(~pl.col("presale"))
        .join(flagged, on="user_id")
    )
    return {
        "spend_ratio": float(mean.get(True, 0.0) / mean[False]) if mean.get(False) else 0.0,
        "five_star_share": float(five.get(True) or 0.0),
        "five_star_share_others": float(five.get(False) or 0.0),
        "early_share": float(cast("float | None", early["is_super_user"].mean()) or 0.0) if early.height else 0.0,
        "user_share": float(cast("float | None", flagged["is_super_user"].mean()) or 0.0),
    }
