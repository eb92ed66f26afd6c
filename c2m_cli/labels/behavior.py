"""Purchasing-behaviour family: frequency, recency, basket, discounts, pre-sale, breadth, loyalty.

What the data cannot tell stays null: ``behavior_discount_share`` when orders have no discount
column, ``behavior_brand_loyalty`` / ``behavior_top_brand`` when the brand field does not name
brands (a handful of values such as The Complete Journey's National / Private, see
:func:`brands_informative`)."""

from __future__ import annotations

import datetime as dt

import polars as pl

from c2m_cli.labels.base import fx_sum, fx_value

# brand values that say what kind of label a product has, not whose brand it is
NOT_BRANDS = frozenset(
    "national private private label store brand own brand own label generic unbranded no brand other others "
    "unknown n/a na none 其他 其它 无 无品牌 自有品牌 杂牌 通用 未知".split()
) | {"private label", "store brand", "own brand", "own label", "no brand"}
MIN_BRANDS = 3


def brands_informative(products: pl.DataFrame | pl.LazyFrame | None) -> bool:
    """True when the products' brand field names at least ``MIN_BRANDS`` real brands (values
    other than National / Private / 自有品牌 / other …); a field with fewer says nothing about
    loyalty to a brand."""
    if products is None:
        return False
    frame = products.lazy() if isinstance(products, pl.DataFrame) else products
    if "brand" not in frame.collect_schema().names():
        return False
    values = (
        frame.select(pl.col("brand").cast(pl.String).str.strip_chars().str.to_lowercase().alias("b"))
        .drop_nulls()
        .filter(pl.col("b").str.len_chars() > 0)
        .unique()
        .head(10_000)
        .collect()["b"]
        .to_list()
    )
    return len([v for v in values if v not in NOT_BRANDS]) >= MIN_BRANDS


def behavior_labels(
    lines: pl.LazyFrame, products: pl.DataFrame | None, as_of: dt.date, *, brands: bool = True
) -> pl.DataFrame:
    """One row per user found in ``lines`` (prepared order lines); ``brands`` False leaves the
    brand columns null (the brand field does not name brands)."""
    if products is not None and "sku" in products.columns:
        keep = [c for c in ("sku", "category_l1", "brand", "launch_date") if c in products.columns]
        prod = products.select(keep).unique("sku", keep="first").with_columns(pl.col("sku").cast(pl.String))
        for c in ("category_l1", "brand"):
            if c not in prod.columns:
                prod = prod.with_columns(pl.lit(None, pl.String).alias(c))
        if not brands:
            prod = prod.with_columns(pl.lit(None, pl.String).alias("brand"))
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
        pl.col("is_discounted").filter(bought).cast(pl.Float64).mean().alias("behavior_discount_share"),
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
        .drop("_lines", "_pre", "_ret", "_can", "_all_lines")
        .collect()
    )
    return frame.sort("user_id")
