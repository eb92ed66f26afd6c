"""Geography family: province, city, city tier and region from ``seeds/city_tiers.csv``.

The seed lists every prefecture-level division of mainland China (4 municipalities, 333
prefecture-level cities, prefectures, autonomous prefectures and leagues) with its province,
region, English name and commercial tier (一线 … 五线) and names the tier list and year in its
``source`` column. A city the seed does not know keeps its name and gets tier ``unknown``;
a user without any location stays ``unknown`` — never guessed.
"""

from __future__ import annotations

from functools import cache

import polars as pl

from c2m_cli.labels.base import UNKNOWN
from c2m_cli.resources import read_seed

REGIONS = {
    "华东": ("上海", "江苏", "浙江", "安徽", "福建", "江西", "山东", "台湾"),
    "华北": ("北京", "天津", "河北", "山西", "内蒙古"),
    "华中": ("河南", "湖北", "湖南"),
    "华南": ("广东", "广西", "海南", "香港", "澳门"),
    "西南": ("重庆", "四川", "贵州", "云南", "西藏"),
    "西北": ("陕西", "甘肃", "青海", "宁夏", "新疆"),
    "东北": ("辽宁", "吉林", "黑龙江"),
}
_PROVINCE_SUFFIX = r"(省|市|壮族自治区|回族自治区|维吾尔自治区|自治区|特别行政区)$"
_CITY_SUFFIX = r"(市|地区|盟)$"


def province_key(expr: pl.Expr) -> pl.Expr:
    return expr.str.strip_chars().str.replace(_PROVINCE_SUFFIX, "")


def city_key(expr: pl.Expr) -> pl.Expr:
    return expr.str.strip_chars().str.to_lowercase().str.replace(_CITY_SUFFIX, "")


@cache
def city_table() -> pl.DataFrame:
    """One row per lookup key (Chinese name, short name, English name) → the seed's row."""
    seed = read_seed("city_tiers.csv").with_columns(pl.col(pl.String).str.strip_chars())
    keys = pl.concat(
        [
            seed.select(city_key(pl.col("city")).alias("_key"), "city"),
            seed.select(city_key(pl.col("city_short")).alias("_key"), "city"),
            seed.select(pl.col("city_en").str.to_lowercase().alias("_key"), "city"),
        ]
    ).drop_nulls().unique("_key", keep="first")
    return keys.join(seed, on="city", how="left")


def region_of() -> pl.DataFrame:
    return pl.DataFrame(
        [(p, r) for r, ps in REGIONS.items() for p in ps], schema={"_prov": pl.String, "_region": pl.String}, orient="row"
    )


def geography_labels(users: pl.DataFrame, customers: pl.DataFrame | None, lines: pl.LazyFrame) -> pl.DataFrame:
    """``users``: user_id only. Location from customers first, else the user's modal order city."""
    frame = users
    cust_cols = [c for c in ("province", "city", "city_tier") if customers is not None and c in customers.columns]
    if customers is not None and cust_cols:
        frame = frame.join(
            customers.select("user_id", *[pl.col(c).cast(pl.String).alias(f"_c_{c}") for c in cust_cols]),
            on="user_id",
            how="left",
        )
    order_loc = (
        lines.filter(pl.col("city").is_not_null() | pl.col("province").is_not_null())
        .group_by("user_id")
        .agg(
            pl.col("city").drop_nulls().mode().sort().first().alias("_o_city"),
            pl.col("province").drop_nulls().mode().sort().first().alias("_o_province"),
        )
        .collect()
    )
    frame = frame.join(order_loc, on="user_id", how="left")
    for c in ("_c_province", "_c_city", "_c_city_tier"):
        if c not in frame.columns:
            frame = frame.with_columns(pl.lit(None, pl.String).alias(c))
    blank = lambda e: pl.when(e.str.strip_chars().str.len_chars() > 0).then(e)  # noqa: E731
    city = pl.coalesce(blank(pl.col("_c_city")), blank(pl.col("_o_city")))
    province = pl.coalesce(blank(pl.col("_c_province")), blank(pl.col("_o_province")))
    frame = frame.with_columns(_city=city, _province=province, _key=city_key(city))
    table = city_table().select(
        "_key",
        pl.col("city").alias("_s_city"),
        pl.col("province").alias("_s_province"),
        pl.col("region").alias("_s_region"),
        pl.col("tier").alias("_s_tier"),
        pl.col("city_en").alias("_s_city_en"),
        pl.col("source").alias("_s_source"),
    )
    frame = frame.join(table, on="_key", how="left")
    frame = frame.with_columns(
        _prov_final=pl.coalesce(province_key(pl.col("_province")), pl.col("_s_province"))
    ).join(region_of(), left_on="_prov_final", right_on="_prov", how="left")
    from_customer_tier = blank(pl.col("_c_city_tier"))
    return frame.select(
        "user_id",
        pl.col("_prov_final").fill_null(UNKNOWN).alias("geo_province"),
        pl.coalesce("_s_city", "_city").fill_null(UNKNOWN).alias("geo_city"),
        pl.coalesce("_s_city_en").fill_null(UNKNOWN).alias("geo_city_en"),
        pl.coalesce(from_customer_tier, "_s_tier").fill_null(UNKNOWN).alias("geo_city_tier"),
        pl.coalesce("_s_region", "_region").fill_null(UNKNOWN).alias("geo_region"),
        pl.when(from_customer_tier.is_not_null())
        .then(pl.lit("customers.city_tier"))
        .otherwise(pl.col("_s_source"))
        .alias("geo_tier_source"),
    ).sort("user_id")
