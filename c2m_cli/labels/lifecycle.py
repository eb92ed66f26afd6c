"""Lifecycle stage from each user's own purchase rhythm and P(alive); reactivation; growth ladder.

Stages (defaults, all overridable): *new* when the first purchase is within ``new_days`` of the
as-of date; otherwise by recency against thresholds ``active_days`` / ``sleeping_days`` /
``dormant_days`` that *stretch* for users whose typical gap between purchases is long:
``stretch = max(1, rhythm_multiple × typical_gap / active_days)`` — a buyer who comes every four
months is not asleep after 91 days. P(alive) from BG/NBD then demotes an active-by-recency user
whose P(alive) is below ``p_alive_floor`` to sleeping (the model has seen a rhythm the recent
silence breaks). ``lifecycle_reactivated``: the user is active again after a lapse longer than
their (stretched) sleeping threshold, and came back within the last ``sleeping_days``.

Growth ladder after 5CM (turning buyers into recommenders): one_time → repeat → loyal
(≥ ``loyal_orders`` purchase days and still active) → advocate (loyal and recommends: positive
reviews) → super_user (the advocates at the very top — ``super_share`` of all buyers — by
min(percentile of purchase days, percentile of positive reviews): frequent *and* vocal).
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from c2m_cli.labels.base import LabelOptions

STAGES = ("new", "active", "sleeping", "dormant", "lost")
LADDER = ("none", "one_time", "repeat", "loyal", "advocate", "super_user")


def lifecycle_labels(
    users: pl.DataFrame,
    options: LabelOptions,
    as_of: dt.date,
) -> pl.DataFrame:
    """``users`` holds user_id, behavior_*, value_p_alive, value_tier, lifecycle_typical_gap_days,
    lifecycle_stretch, _return_day, the review advocacy count ``_positive_reviews`` and, when
    known, the local sign-up day ``_signup_day`` (a customer who signed up recently but has not
    bought yet is new)."""
    o = options
    recency = pl.col("behavior_recency_days")
    first = pl.col("behavior_first_purchase")
    signup_new = pl.lit(False)
    if "_signup_day" in users.columns:
        signup_new = (pl.col("_signup_day") >= pl.lit(as_of - dt.timedelta(days=o.new_days - 1))).fill_null(False)
    frame = users.with_columns(pl.col("lifecycle_stretch").fill_null(1.0))
    by_recency = (
        pl.when(recency <= o.active_days * pl.col("lifecycle_stretch"))
        .then(pl.lit("active"))
        .when(recency <= o.sleeping_days * pl.col("lifecycle_stretch"))
        .then(pl.lit("sleeping"))
        .when(recency <= o.dormant_days * pl.col("lifecycle_stretch"))
        .then(pl.lit("dormant"))
        .otherwise(pl.lit("lost"))
    )
    demoted = (
        pl.when((by_recency == "active") & (pl.col("value_p_alive") < o.p_alive_floor))
        .then(pl.lit("sleeping"))
        .otherwise(by_recency)
    )
    stage = (
        pl.when(first.is_null())
        .then(pl.when(signup_new).then(pl.lit("new")).otherwise(pl.lit("lost")))
        .when((pl.lit(as_of) - first).dt.total_days() < o.new_days)
        .then(pl.lit("new"))
        .otherwise(demoted)
    )
    frame = frame.with_columns(
        lifecycle_stage=stage,
        lifecycle_recency_days=recency,
    ).with_columns(
        lifecycle_reactivated=(
            (pl.lit(as_of) - pl.col("_return_day")).dt.total_days().le(o.sleeping_days).fill_null(False)
            & pl.col("lifecycle_stage").is_in(["active", "new"])
        ),
    )
    purchases = pl.col("behavior_purchase_days").fill_null(0)
    loyal = (purchases >= o.loyal_orders) & pl.col("lifecycle_stage").is_in(["active", "new"])
    positive = pl.col("_positive_reviews").fill_null(0).cast(pl.Float64)
    advocate = loyal & (positive > 0)
    buyer = purchases > 0
    n_buyers = buyer.sum()
    advocacy_pct = pl.when(buyer).then(positive).rank("average") / n_buyers
    frequency_pct = pl.when(buyer).then(purchases.cast(pl.Float64)).rank("average") / n_buyers
    engagement = pl.min_horizontal(frequency_pct.fill_null(0.0), advocacy_pct.fill_null(0.0))
    # rows are sorted by user_id, so "ordinal" breaks ties deterministically
    top = pl.when(advocate).then(engagement).rank("ordinal", descending=True) <= (o.super_share * n_buyers).ceil()
    ladder = (
        pl.when(purchases == 0)
        .then(pl.lit("none"))
        .when(advocate & top.fill_null(False))
        .then(pl.lit("super_user"))
        .when(advocate)
        .then(pl.lit("advocate"))
        .when(loyal)
        .then(pl.lit("loyal"))
        .when(purchases >= 2)
        .then(pl.lit("repeat"))
        .otherwise(pl.lit("one_time"))
    )
    return frame.with_columns(lifecycle_ladder=ladder).select(
        "user_id",
        "lifecycle_stage",
        "lifecycle_reactivated",
        "lifecycle_ladder",
        "lifecycle_recency_days",
        "lifecycle_typical_gap_days",
        "lifecycle_stretch",
    )
