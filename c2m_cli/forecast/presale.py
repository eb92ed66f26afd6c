"""Pre-sale orders as a leading signal of a product's demand after launch.

A pre-sale line (status ``presale``) is a deposit on a product not shipped yet. Products whose
pre-sale ended and whose launch lies far enough in the past tell how many paid units a pre-sold
unit led to over the ``window`` days after launch, on top of itself (the conversion, pooled over
those products). An upcoming pre-sold product is forecast at its pre-sold units in the launch
period (they ship then) plus ``conversion × pre-sale units`` spread evenly over the days of the
window that fall inside the forecast horizon. Without a launched reference the conversion is 0:
the pre-sold units alone, a floor.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl

from c2m_cli.forecast.series import order_lines, period_start, presale_lines


def presale_signal(
    orders: pl.LazyFrame,
    products: pl.DataFrame | None,
    *,
    timezone: str,
    freq: str,
    last_day: dt.date,
    future: list[dt.date],
    window_days: int,
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """(sku, ds, units) expected paid demand of upcoming pre-sold products, and what was used."""
    empty = pl.DataFrame(schema={"sku": pl.String, "ds": pl.Date, "units": pl.Float64})
    lines = presale_lines(orders, timezone=timezone).collect()
    if lines.height == 0:
        return empty, {}
    per_sku = lines.group_by("sku").agg(pl.col("qty").sum().alias("presale_units"))
    if products is not None and "launch_date" in products.columns:
        launch = products.select(
            pl.col("sku").cast(pl.String), pl.col("launch_date").cast(pl.Date, strict=False)
        ).unique("sku", keep="first")
    else:
        launch = pl.DataFrame(schema={"sku": pl.String, "launch_date": pl.Date})
    per_sku = per_sku.join(launch, on="sku", how="left")
    paid = (
        order_lines(orders, timezone=timezone, net_returns=False)
        .select("date", "sku", "qty")
        .join(per_sku.lazy().select("sku", "launch_date"), on="sku")
        .collect()
    )
    window = dt.timedelta(days=window_days)
    launched = per_sku.filter(pl.col("launch_date").is_not_null() & (pl.col("launch_date") + window <= last_day + dt.timedelta(days=1)))
    sold = (
        paid.filter((pl.col("date") >= pl.col("launch_date")) & (pl.col("date") < pl.col("launch_date") + window))
        .group_by("sku")
        .agg(pl.col("qty").sum().alias("sold"))
    )
    refs = launched.join(sold, on="sku", how="left").with_columns(pl.col("sold").fill_null(0.0))
    ref_units = float(refs["presale_units"].sum()) if refs.height else 0.0
    conversion = float(refs["sold"].sum()) / ref_units if ref_units > 0 else 0.0
    has_sales = paid.select("sku").unique()
    upcoming = per_sku.filter(
        (pl.col("launch_date") > last_day)
        | (pl.col("launch_date").is_null() & ~pl.col("sku").is_in(has_sales["sku"].implode()))
    ).with_columns(pl.col("launch_date").fill_null(future[0]))
    info = {
        "presale_conversion": round(conversion, 4),
        "presale_reference_skus": sorted(refs["sku"].to_list()),
        "presale_upcoming_skus": sorted(upcoming["sku"].to_list()),
    }
    if upcoming.height == 0:
        return empty, info
    horizon_end = _period_after(future[-1], freq) - dt.timedelta(days=1)
    days = (
        upcoming.with_columns(
            pl.date_ranges("launch_date", pl.col("launch_date") + dt.timedelta(days=window_days - 1), "1d").alias("date")
        )
        .explode("date")
        .filter(pl.col("date").is_between(future[0], horizon_end))
        .with_columns(period_start(pl.col("date"), freq).alias("ds"))
    )
    spread = days.group_by("sku", "ds").agg(
        (pl.len() * pl.col("presale_units").first() * conversion / window_days).alias("units")
    )
    # the pre-sold units themselves ship in the launch period
    shipped = upcoming.select(
        "sku", period_start(pl.col("launch_date"), freq).alias("ds"), pl.col("presale_units").alias("units")
    ).filter(pl.col("ds").is_between(future[0], future[-1]))
    signal = pl.concat([spread, shipped]).group_by("sku", "ds").agg(pl.col("units").sum()).sort("sku", "ds")
    return signal.select("sku", "ds", pl.col("units").cast(pl.Float64)), info


def _period_after(start: dt.date, freq: str) -> dt.date:
    if freq == "D":
        return start + dt.timedelta(days=1)
    if freq == "W":
        return start + dt.timedelta(days=7)
    return (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
