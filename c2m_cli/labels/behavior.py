"""Purchasing-behaviour family: frequency, recency, basket, discounts, pre-sale, breadth, loyalty."""

from __future__ import annotations

import datetime as dt

import polars as pl

from c2m_cli.labels.base import fx_sum, fx_value


def behavior_labels(lines: pl.LazyFrame, products: pl.DataFrame | None, as_of: dt.date) -> pl.DataFrame:
    """One row per user found in ``lines`` (prepared order lines)."""
    if products is not None and "sku" in products.columns:
        keep = [c for c in ("sku", "category_l1", "brand", "launch_date") if c in products.columns]
        prod = products.select(keep).unique("sku", keep="first").with_columns(pl.col("sku").cast(pl.String))
        for c in ("category_l1", "brand"):
            if c not in prod.columns:
                prod = prod.with_columns(pl.lit(None, pl.String).alias(c))
        lines = lines.join(prod.lazy().select("sku", "category_l1", "brand"), on="sku", how="left")
    else:
        lines = lines.with_columns(pl.lit(None, pl.String).alias("category_l1"), pl.lit(None, pl.String).alias("brand"))
    bought = pl.col("is_purchase")
    spend = pl.when(bought).then(pl.col("amount")).otherwise(0.0)
    per_order = (
        lines.filter(bought)
        .group_by("user_id", "order_id")
        .agg(fx_sum(pl.col("qty")).alias("_items"), fx_sum(pl.col("amount")).alias("_value"))
        .group_by("user_id")
        .agg(
            fx_value(pl.col("_items").sum() / pl.len()).alias("behavior_avg_basket_items"),
            fx_value(pl.col("_value").sum() / pl.len()).alias("behavior_avg_basket_value"),
        )
    )
    per_user = lines.group_by("user_id").agg(
        pl.col("order_id").filter(bought).n_unique().alias("behavior_orders"),
        pl.col("day").filter(bought).n_unique().alias("behavior_purchase_days"),
        pl.col("day").filter(bought).min().alias("behavior_first_purchase"),
        pl.col("day").filter(bought).max().alias("behavior_last_purchase"),
        fx_value(fx_sum(spend)).alias("behavior_total_spend"),
        bought.sum().alias("_lines"),
        (pl.col("is_discounted") & bought).sum().alias("_disc"),
        (pl.col("is_presale") & bought).sum().alias("_pre"),
        pl.col("is_return").sum().alias("_ret"),
        pl.col("is_cancelled").sum().alias("_can"),
        pl.col("category_l1").filter(bought).n_unique().alias("behavior_category_breadth"),
        pl.col("category_l1").filter(bought).drop_nulls().mode().sort().first().alias("behavior_top_category"),
        pl.col("brand").filter(bought).drop_nulls().mode().sort().first().alias("behavior_top_brand"),
        pl.col("channel").drop_nulls().mode().sort().first().alias("behavior_channel"),
        pl.len().alias("_all_lines"),
    )
    brand_share = (
        lines.filter(bought & pl.col("brand").is_not_null())
        .group_by("user_id", "brand")
        .agg(fx_sum(pl.col("amount")).alias("_b"))
        .group_by("user_id")
        .agg((pl.col("_b").max() / pl.col("_b").sum()).alias("behavior_brand_loyalty"))
    )
    frame = (
        per_user.join(per_order, on="user_id", how="left")
        .join(brand_share, on="user_id", how="left")
        .with_columns(
            (pl.lit(as_of) - pl.col("behavior_last_purchase")).dt.total_days().alias("behavior_recency_days"),
            (pl.lit(as_of) - pl.col("behavior_first_purchase")).dt.total_days().alias("behavior_tenure_days"),
            (pl.col("_disc") / pl.col("_lines")).alias("behavior_discount_share"),
            (pl.col("_pre") / pl.col("_lines")).alias("behavior_presale_share"),
            (pl.col("_pre") > 0).alias("behavior_presale_buyer"),
            (pl.col("_ret") / pl.col("_lines").clip(lower_bound=1)).alias("behavior_return_rate"),
            pl.col("_ret").alias("behavior_returns"),
            (pl.col("_can") / pl.col("_all_lines")).alias("behavior_cancel_rate"),
            pl.col("behavior_category_breadth").cast(pl.Int64),
            pl.col("behavior_orders").cast(pl.Int64),
            pl.col("behavior_purchase_days").cast(pl.Int64),
        )
        .with_columns(pl.col("behavior_discount_share", "behavior_presale_share").fill_nan(None))
        .drop("_lines", "_disc", "_pre", "_ret", "_can", "_all_lines")
        .collect()
    )
    return frame.sort("user_id")


def purchase_rhythm(
    lines: pl.LazyFrame, as_of: dt.date, *, active_days: int, sleeping_days: int, rhythm_multiple: float
) -> pl.DataFrame:
    """Per buyer: the median gap (days) between distinct purchase days, the rhythm ``stretch``
    and the day the user last came back after a lapse longer than the (stretched) sleeping
    threshold (``_return_day``, null if never)."""
    days = lines.filter(pl.col("is_purchase")).select("user_id", "day").unique()
    gaps = (
        days.sort("user_id", "day")
        .with_columns(pl.col("day").diff().over("user_id").dt.total_days().alias("_gap"))
        .with_columns(pl.col("_gap").median().over("user_id").alias("lifecycle_typical_gap_days"))
        .with_columns(
            pl.max_horizontal(
                pl.lit(1.0), (rhythm_multiple * pl.col("lifecycle_typical_gap_days") / active_days).fill_null(1.0)
            ).alias("lifecycle_stretch")
        )
    )
    lapse = pl.col("_gap") > sleeping_days * pl.col("lifecycle_stretch")
    return (
        gaps.group_by("user_id")
        .agg(
            pl.col("lifecycle_typical_gap_days").first(),
            pl.col("lifecycle_stretch").first(),
            pl.col("day").filter(lapse).max().alias("_return_day"),
        )
        .collect()
    )
