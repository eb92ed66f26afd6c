"""Attitude family: what reviews and behaviour say about how a consumer buys.

Text cues (lexicon ``seeds/lexicon_attitude.csv``) are found by ``c2m_cli.labels.text`` like
the other text families; this module adds the review statistics and the behavioural evidence:

- ``attitude_reviews`` (the user's reviews, placeholder texts such as 系统默认好评 not counted)
  and ``attitude_sentiment`` (their mean sentiment from ``seeds/sentiment_model.json``);
- 挑剔 from *ratings* of 1–2 stars (a low sentiment score alone says how a text reads, not that
  its writer is demanding: without a rating no 差评 is inferred) and from returns;
- 尝鲜 from pre-sale buying; 忠诚 from one dominant brand over many orders (only where the brand
  field names brands); 理性对比 from many product views per order.
"""

from __future__ import annotations

import polars as pl

from c2m_cli.contract import placeholder_review
from c2m_cli.labels.base import fx_sum, fx_value
from c2m_cli.labels.text import HIT_SCHEMA

# ratings (1–5) that make a review 差评 / an advocate's positive review
NEGATIVE_RATING = 2
POSITIVE_RATING = 4
POSITIVE_SENTIMENT = 0.6


def review_sentiment(reviews: pl.DataFrame | None) -> pl.DataFrame | None:
    """One row per review: its ids, rating, ``placeholder`` (a stock text the shop wrote) and
    ``sentiment`` (P(positive); null for a placeholder, which says nothing)."""
    if reviews is None or "text" not in reviews.columns or reviews.is_empty():
        return None
    from c2m_cli.labels.sentiment import load_model

    model = load_model()
    cols = [c for c in ("review_id", "user_id", "sku", "category", "rating") if c in reviews.columns]
    frame = reviews.select(*cols, pl.col("text").cast(pl.String).fill_null(""))
    unique = frame.select("text").unique().sort("text")
    unique = unique.with_columns(
        pl.Series("sentiment", model.predict_proba(unique["text"].to_list())).round(6),
        placeholder_review(pl.col("text")).alias("placeholder"),
    ).with_columns(sentiment=pl.when(~pl.col("placeholder")).then(pl.col("sentiment")))
    return frame.join(unique, on="text", how="left").drop("text")


def review_stats(sentiment: pl.DataFrame | None) -> pl.DataFrame | None:
    """Per reviewing user: attitude_reviews, attitude_sentiment and the counts of positive and
    negative reviews used as evidence (negative: rated ≤ 2; positive: rated ≥ 4, or a
    sentiment ≥ 0.6 where there is no rating)."""
    if sentiment is None or "user_id" not in sentiment.columns:
        return None
    real = sentiment.filter(pl.col("user_id").is_not_null() & ~pl.col("placeholder"))
    positive = pl.col("sentiment") >= POSITIVE_SENTIMENT
    negative = pl.lit(False)
    if "rating" in real.columns:
        rating = pl.col("rating").cast(pl.Float64)
        positive = pl.when(rating.is_not_null()).then(rating >= POSITIVE_RATING).otherwise(positive)
        negative = (rating <= NEGATIVE_RATING).fill_null(False)
    return (
        real.with_columns(pl.col("user_id").cast(pl.String))
        .group_by("user_id")
        .agg(
            pl.len().alias("attitude_reviews"),
            fx_value(fx_sum(pl.col("sentiment")) / pl.len()).alias("attitude_sentiment"),
            positive.sum().alias("_positive_reviews"),
            negative.sum().alias("_negative_reviews"),
        )
        .sort("user_id")
    )


def attitude_columns(users: pl.DataFrame, stats: pl.DataFrame | None) -> pl.DataFrame:
    """user_id, attitude_reviews (0 without reviews), attitude_sentiment (null without)."""
    if stats is None:
        return users.select("user_id").with_columns(
            attitude_reviews=pl.lit(0, pl.UInt32), attitude_sentiment=pl.lit(None, pl.Float64)
        )
    return (
        users.select("user_id")
        .join(stats.select("user_id", "attitude_reviews", "attitude_sentiment"), on="user_id", how="left")
        .with_columns(pl.col("attitude_reviews").fill_null(0))
    )


def behaviour_hits(
    behavior: pl.DataFrame, review_stats: pl.DataFrame | None, view_counts: pl.DataFrame | None, loyal_orders: int
) -> pl.DataFrame:
    """Attitude evidence from behaviour, as hits with source ``behaviour`` (see the module
    docstring); the evidence term says what was seen (退货, 差评 = a rating of 1–2, …)."""
    rows = []
    b = behavior
    rows.append(
        b.filter(pl.col("behavior_returns") > 0).select(
            "user_id", pl.lit("挑剔").alias("tag"), pl.lit("退货").alias("term"), pl.lit(0.6).alias("weight"), pl.col("behavior_returns").cast(pl.Float64).alias("n")
        )
    )
    pre = b.filter(pl.col("behavior_presale_buyer").fill_null(False))
    rows.append(
        pre.select(
            "user_id", pl.lit("尝鲜").alias("tag"), pl.lit("预售下单").alias("term"), pl.lit(1.0).alias("weight"),
            (pl.col("behavior_presale_share") * pl.col("behavior_orders")).round(0).clip(lower_bound=1).cast(pl.Float64).alias("n"),
        )
    )
    rows.append(
        b.filter((pl.col("behavior_brand_loyalty").fill_null(0.0) >= 0.6) & (pl.col("behavior_orders") >= loyal_orders)).select(
            "user_id", pl.lit("忠诚").alias("tag"), pl.lit("同一品牌复购").alias("term"), pl.lit(1.0).alias("weight"), pl.col("behavior_orders").cast(pl.Float64).alias("n")
        )
    )
    if review_stats is not None and review_stats.height:
        rows.append(
            review_stats.filter(pl.col("_negative_reviews") > 0).select(
                "user_id", pl.lit("挑剔").alias("tag"), pl.lit("差评(评分≤2)").alias("term"), pl.lit(1.0).alias("weight"), pl.col("_negative_reviews").cast(pl.Float64).alias("n")
            )
        )
    if view_counts is not None and view_counts.height:
        joined = view_counts.join(b.select("user_id", "behavior_orders"), on="user_id", how="left")
        rows.append(
            joined.filter(pl.col("_views") >= 5 * pl.col("behavior_orders").fill_null(0).clip(lower_bound=1)).select(
                "user_id", pl.lit("理性对比").alias("tag"), pl.lit("多次浏览比较").alias("term"), pl.lit(0.3).alias("weight"), pl.col("_views").cast(pl.Float64).alias("n")
            )
        )
    frame = pl.concat(rows)
    return frame.select(
        "user_id", pl.lit("behaviour").alias("source"), pl.col("term").alias("text"), pl.lit(None, pl.String).alias("clause"),
        pl.lit("attitude").alias("family"), "tag", "term", "weight", "n"
    ).cast(HIT_SCHEMA)  # type: ignore[arg-type]
