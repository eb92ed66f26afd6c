"""Audiences: reactivation, super users (word of mouth), early adopters of a brief's segment.

Every row has user_id, audience, reason and a 0–1 score. Lifecycle comes from labels.parquet
when present; otherwise it is derived from orders with the shared convention (new ≤ 30 days
since the first order; recency thresholds 90/180/365 days stretched by the user's own typical
gap between orders).
"""

from __future__ import annotations

import datetime as dt
import hashlib

import polars as pl

AUDIENCE_SCHEMA = {"user_id": pl.String, "audience": pl.String, "reason": pl.String, "score": pl.Float64}


def lifecycle_from_orders(lines: pl.DataFrame, as_of: dt.date) -> pl.DataFrame:
    """user_id, lifecycle_stage, recency, orders, monetary, typical_gap (days)."""
    per = lines.group_by("user_id").agg(
        pl.col("date").min().alias("first"),
        pl.col("date").max().alias("last"),
        pl.col("date").n_unique().alias("orders"),
        pl.col("amount").sum().alias("monetary"),
    )
    span = (pl.col("last") - pl.col("first")).dt.total_days()
    per = per.with_columns(
        recency=(pl.lit(as_of) - pl.col("last")).dt.total_days(),
        typical_gap=pl.when(pl.col("orders") > 1).then(span / (pl.col("orders") - 1)).otherwise(None),
    ).with_columns(stretch=(pl.col("typical_gap").fill_null(30.0) / 30.0).clip(lower_bound=1.0))
    r = pl.col("recency") / pl.col("stretch")
    return per.with_columns(
        lifecycle_stage=pl.when((pl.lit(as_of) - pl.col("first")).dt.total_days() <= 30)
        .then(pl.lit("new"))
        .when(r <= 90)
        .then(pl.lit("active"))
        .when(r <= 180)
        .then(pl.lit("sleeping"))
        .when(r <= 365)
        .then(pl.lit("dormant"))
        .otherwise(pl.lit("lost"))
    )


def _pct(col: str) -> pl.Expr:
    return (pl.col(col).rank("average") / pl.col(col).count()).fill_null(0.0)


def reactivation(users: pl.DataFrame, labels: pl.DataFrame | None, *, chinese: bool) -> pl.DataFrame:
    """Sleeping and dormant users ranked by the value regained if they come back."""
    base = users.select("user_id", "lifecycle_stage", "orders", "monetary", "recency")
    if labels is not None and "lifecycle_stage" in labels.columns:
        keep = ["user_id", "lifecycle_stage"] + [c for c in ("value_clv", "value_p_alive") if c in labels.columns]
        base = labels.select(keep).join(users.select("user_id", "orders", "monetary", "recency"), on="user_id", how="left")
    cand = base.filter(pl.col("lifecycle_stage").is_in(["sleeping", "dormant"]))
    if cand.height == 0:
        return pl.DataFrame(schema=AUDIENCE_SCHEMA)
    # value regained: a year of the user's past spending rate, weighted by the chance they are alive
    yearly = pl.col("monetary").fill_null(0.0) / pl.col("orders").fill_null(1).clip(lower_bound=1) * pl.col("orders").fill_null(1)
    p_alive = pl.col("value_p_alive") if "value_p_alive" in cand.columns else pl.lit(0.5)
    cand = cand.with_columns(value=(yearly * (0.5 + 0.5 * p_alive.fill_null(0.5))))
    cand = cand.with_columns(score=_pct("value").round(6))
    reason = (
        pl.format("{}用户，已 {} 天未购，历史 {} 单、消费 {}，预期可挽回价值 {}", pl.when(pl.col("lifecycle_stage") == "sleeping").then(pl.lit("沉睡")).otherwise(pl.lit("休眠")),
                  pl.col("recency"), pl.col("orders"), pl.col("monetary").round(0), pl.col("value").round(0))
        if chinese
        else pl.format("{} for {} days, {} orders worth {}, value regained {}", "lifecycle_stage", pl.col("recency"),
                       pl.col("orders"), pl.col("monetary").round(0), pl.col("value").round(0))
    )
    return cand.select("user_id", pl.lit("reactivation").alias("audience"), reason.alias("reason"), "score")


def super_users(
    lines: pl.DataFrame,
    reviews: pl.DataFrame | None,
    products: pl.DataFrame | None,
    *,
    share: float,
    chinese: bool,
) -> pl.DataFrame:
    """Top users by value, advocacy (reviews written, good ratings) and early adoption."""
    per = lines.group_by("user_id").agg(pl.col("amount").sum().alias("value"), pl.col("date").n_unique().alias("orders"))
    # early adoption: share of purchases within 30 days of the product's launch (or first sale)
    if products is not None and "launch_date" in products.columns:
        launch = products.select("sku", pl.col("launch_date").cast(pl.Date).alias("launch"))
    else:
        launch = lines.group_by("sku").agg(pl.col("date").min().alias("launch"))
    start = lines["date"].min()
    early = (
        lines.join(launch, on="sku", how="left")
        .filter(pl.col("launch").is_not_null() & (pl.col("launch") > start))
        .with_columns(early=((pl.col("date") - pl.col("launch")).dt.total_days().is_between(0, 30)))
        .group_by("user_id")
        .agg(pl.col("early").sum().alias("early_buys"))
    )
    per = per.join(early, on="user_id", how="left").with_columns(pl.col("early_buys").fill_null(0))
    if reviews is not None and "user_id" in reviews.columns:
        good = pl.col("rating") >= 4 if "rating" in reviews.columns else pl.lit(True)
        adv = reviews.filter(pl.col("user_id").is_not_null()).group_by("user_id").agg(
            pl.len().alias("reviews"), good.sum().alias("good_reviews")
        )
        per = per.join(adv, on="user_id", how="left").with_columns(pl.col("reviews").fill_null(0), pl.col("good_reviews").fill_null(0))
    else:
        per = per.with_columns(reviews=pl.lit(0), good_reviews=pl.lit(0))
    per = per.with_columns(
        score=(0.4 * _pct("value") + 0.3 * _pct("early_buys") + 0.3 * _pct("good_reviews")).round(6)
    )
    k = max(1, int(round(share * per.height)))
    top = per.sort(["score", "user_id"], descending=[True, False]).head(k)
    reason = (
        pl.format("消费 {}（{} 单）、新品首月购买 {} 次、好评 {} 条", pl.col("value").round(0), "orders", "early_buys", "good_reviews")
        if chinese
        else pl.format("spent {} ({} orders), {} early buys of new products, {} good reviews", pl.col("value").round(0), "orders", "early_buys", "good_reviews")
    )
    return top.select("user_id", pl.lit("super_users").alias("audience"), reason.alias("reason"), "score")


def early_adopters(
    lines: pl.DataFrame, segments: pl.DataFrame | None, brief_segments: list[tuple[str, str]], products: pl.DataFrame | None,
    *, per_brief: int, chinese: bool,
) -> pl.DataFrame:
    """For each (brief_id, segment_id): the segment's members who buy new products first."""
    if segments is None or not brief_segments:
        return pl.DataFrame(schema=AUDIENCE_SCHEMA)
    if products is not None and "launch_date" in products.columns:
        launch = products.select("sku", pl.col("launch_date").cast(pl.Date).alias("launch"))
    else:
        launch = lines.group_by("sku").agg(pl.col("date").min().alias("launch"))
    early = (
        lines.join(launch, on="sku")
        .with_columns(days=(pl.col("date") - pl.col("launch")).dt.total_days())
        .filter(pl.col("days").is_between(0, 60))
        .group_by("user_id")
        .agg(pl.len().alias("early_buys"), pl.col("days").mean().alias("mean_days"))
    )
    frames = []
    for brief_id, seg in brief_segments:
        members = segments.filter(pl.col("segment_id").cast(pl.String) == seg).select(pl.col("user_id").cast(pl.String))
        cand = members.join(early, on="user_id").with_columns(
            score=(0.6 * _pct("early_buys") + 0.4 * (1 - _pct("mean_days"))).round(6)
        ).sort(["score", "user_id"], descending=[True, False]).head(per_brief)
        reason = (
            pl.format(f"{brief_id} 目标人群（分群 {seg}）：新品上市 60 天内购买 {{}} 次", "early_buys")
            if chinese
            else pl.format(f"target segment {seg} of {brief_id}: {{}} buys within 60 days of a launch", "early_buys")
        )
        frames.append(cand.select("user_id", pl.lit("early_adopters").alias("audience"), reason.alias("reason"), "score"))
    return pl.concat(frames) if frames else pl.DataFrame(schema=AUDIENCE_SCHEMA)


def hashed(user_ids: pl.Series, salt: str) -> pl.Series:
    """Salted SHA-256 of each id (first 16 hex digits), for sharing lists without raw ids."""
    uniq = user_ids.unique().sort().to_list()
    table = {u: hashlib.sha256(f"{salt}{u}".encode()).hexdigest()[:16] for u in uniq}
    return user_ids.replace_strict(table, return_dtype=pl.String)


def to_csv(audiences: pl.DataFrame, *, hash_ids: bool, salt: str) -> str:
    frame = audiences
    if hash_ids:
        frame = frame.with_columns(user_id=hashed(frame["user_id"], salt))
    return frame.write_csv()
