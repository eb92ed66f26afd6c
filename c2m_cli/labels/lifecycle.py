"""Lifecycle stage from each user's own purchase rhythm and P(alive); the stage 90 days
earlier; reactivation; growth ladder.

Stages (defaults, all overridable): *new* when the first purchase is within ``new_days`` of the
as-of date; otherwise by recency against thresholds ``active_days`` / ``sleeping_days`` /
``dormant_days`` that *stretch* for users whose own rhythm is slow:
``stretch = clip(rhythm_multiple × median gap / active_days, 1, rhythm_max_stretch)``, trusted
only for a user with at least ``rhythm_min_gaps`` gaps between distinct purchase days (fewer
gaps say little about a rhythm: the stretch is then 1). A buyer who comes every four months is
not asleep after 91 days; two purchases 300 days apart followed by 430 days of silence are not
"active". P(alive) from BG/NBD then has the last word at both ends: an active-by-recency user
whose P(alive) is below ``p_alive_floor`` is sleeping (the model has seen a rhythm the recent
silence breaks), and a repeat buyer past the lost threshold whose P(alive) is still at least
``p_alive_keep`` is dormant, not lost (a slow buyer the model has not written off).

``lifecycle_prev_stage``: the same stage computed as of ``as_of − 90 days`` (purchases up to
that day, P(alive) from the same fitted model), null for a user with no purchase by then.
Members who never bought (in customers, not in orders) have no stage: ``lifecycle_stage`` is
null and ``lifecycle_buyer`` false (``lifecycle_new_member`` marks those who signed up within
``new_days``). ``lifecycle_reactivated``: active again after a lapse longer than their
(stretched) sleeping threshold, and came back within the last ``sleeping_days``.

Growth ladder after 5CM (turning buyers into recommenders): one_time → repeat → loyal
(≥ ``loyal_orders`` purchase days and still active) → advocate (loyal and recommends: positive
reviews) → super_user (the advocates at the very top — ``super_share`` of all buyers — by
min(percentile of purchase days, percentile of positive reviews): frequent *and* vocal).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import numpy as np
import polars as pl

from c2m_cli.labels.base import LabelOptions

STAGES = ("new", "active", "sleeping", "dormant", "lost")
LADDER = ("none", "one_time", "repeat", "loyal", "advocate", "super_user")
PREVIOUS_DAYS = 90


def purchase_rhythm(lines: pl.LazyFrame, options: LabelOptions) -> pl.DataFrame:
    """Per buyer: the median gap (days) between distinct purchase days, the number of gaps,
    the rhythm ``stretch`` and the day the user last came back after a lapse longer than the
    (stretched) sleeping threshold (``_return_day``, null if never)."""
    days = lines.filter(pl.col("is_purchase")).select("user_id", "day").unique()
    return rhythm_of_days(days, options).collect()


def rhythm_of_days(days: pl.LazyFrame, options: LabelOptions) -> pl.LazyFrame:
    o = options
    gaps = (
        days.sort("user_id", "day")
        .with_columns(pl.col("day").diff().over("user_id").dt.total_days().alias("_gap"))
        .with_columns(
            pl.col("_gap").median().over("user_id").alias("lifecycle_typical_gap_days"),
            pl.col("_gap").count().over("user_id").alias("lifecycle_gaps"),
        )
        .with_columns(
            pl.when(pl.col("lifecycle_gaps") >= o.rhythm_min_gaps)
            .then((o.rhythm_multiple * pl.col("lifecycle_typical_gap_days") / o.active_days).clip(1.0, o.rhythm_max_stretch))
            .otherwise(1.0)
            .alias("lifecycle_stretch")
        )
    )
    lapse = pl.col("_gap") > o.sleeping_days * pl.col("lifecycle_stretch")
    return gaps.group_by("user_id").agg(
        pl.col("lifecycle_typical_gap_days").first(),
        pl.col("lifecycle_gaps").first().cast(pl.Int64),
        pl.col("lifecycle_stretch").first(),
        pl.col("day").filter(lapse).max().alias("_return_day"),
    )


def stage_expr(options: LabelOptions, as_of: dt.date) -> pl.Expr:
    """The stage from behavior_first_purchase, behavior_recency_days, behavior_purchase_days,
    lifecycle_stretch and value_p_alive (null for a user without a purchase)."""
    o = options
    recency = pl.col("behavior_recency_days")
    stretch = pl.col("lifecycle_stretch").fill_null(1.0)
    by_recency = (
        pl.when(recency <= o.active_days * stretch)
        .then(pl.lit("active"))
        .when(recency <= o.sleeping_days * stretch)
        .then(pl.lit("sleeping"))
        .when(recency <= o.dormant_days * stretch)
        .then(pl.lit("dormant"))
        .otherwise(pl.lit("lost"))
    )
    p_alive = pl.col("value_p_alive")
    repeat = pl.col("behavior_purchase_days").fill_null(0) >= 2
    demoted = (
        pl.when((by_recency == "active") & (p_alive < o.p_alive_floor).fill_null(False))
        .then(pl.lit("sleeping"))
        .when((by_recency == "lost") & repeat & (p_alive >= o.p_alive_keep).fill_null(False))
        .then(pl.lit("dormant"))
        .otherwise(by_recency)
    )
    first = pl.col("behavior_first_purchase")
    return (
        pl.when(first.is_null())
        .then(pl.lit(None, pl.String))
        .when((pl.lit(as_of) - first).dt.total_days() < o.new_days)
        .then(pl.lit("new"))
        .otherwise(demoted)
    )


def previous_stage(
    days: pl.LazyFrame,
    options: LabelOptions,
    as_of: dt.date,
    p_alive: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray] | None,
) -> pl.DataFrame:
    """user_id, lifecycle_prev_stage: the stage as of ``as_of − 90 days`` from the purchase
    days (user_id, day) up to then; users without a purchase by then are absent (null)."""
    before = as_of - dt.timedelta(days=PREVIOUS_DAYS)
    past = days.filter(pl.col("day") <= before).select("user_id", "day").unique()
    per_user = (
        past.group_by("user_id")
        .agg(pl.col("day").min().alias("behavior_first_purchase"), pl.col("day").max().alias("_last"), pl.len().alias("_days"))
        .with_columns(pl.col("_days").alias("behavior_purchase_days"))
        .join(rhythm_of_days(past, options), on="user_id", how="left")
        .collect()
        .sort("user_id")
        .with_columns((pl.lit(before) - pl.col("_last")).dt.total_days().alias("behavior_recency_days"))
    )
    if p_alive is not None and per_user.height:
        x = (per_user["_days"] - 1).cast(pl.Float64).to_numpy()
        t_x = ((per_user["_last"] - per_user["behavior_first_purchase"]).dt.total_days() / 7.0).to_numpy()
        T = ((pl.lit(before) - per_user["behavior_first_purchase"]).dt.total_days() / 7.0)
        T_arr = per_user.select(T.alias("T"))["T"].to_numpy()
        per_user = per_user.with_columns(pl.Series("value_p_alive", p_alive(x, t_x, T_arr)))
    else:
        per_user = per_user.with_columns(value_p_alive=pl.lit(None, pl.Float64))
    return per_user.select("user_id", stage_expr(options, before).alias("lifecycle_prev_stage"))


def lifecycle_labels(
    users: pl.DataFrame,
    options: LabelOptions,
    as_of: dt.date,
) -> pl.DataFrame:
    """``users`` holds user_id, behavior_*, value_p_alive, value_tier, lifecycle_typical_gap_days,
    lifecycle_gaps, lifecycle_stretch, _return_day, the review advocacy count
    ``_positive_reviews`` and, when known, the local sign-up day ``_signup_day``."""
    o = options
    signup_new = pl.lit(False)
    if "_signup_day" in users.columns:
        signup_new = (pl.col("_signup_day") >= pl.lit(as_of - dt.timedelta(days=o.new_days - 1))).fill_null(False)
    frame = users.with_columns(pl.col("lifecycle_stretch").fill_null(1.0))
    buyer_now = pl.col("behavior_first_purchase").is_not_null()
    frame = frame.with_columns(
        lifecycle_stage=stage_expr(o, as_of),
        lifecycle_buyer=buyer_now,
        lifecycle_new_member=~buyer_now & signup_new,
        lifecycle_recency_days=pl.col("behavior_recency_days"),
    ).with_columns(
        lifecycle_reactivated=(
            (pl.lit(as_of) - pl.col("_return_day")).dt.total_days().le(o.sleeping_days).fill_null(False)
            & pl.col("lifecycle_stage").is_in(["active", "new"]).fill_null(False)
        ),
    )
    purchases = pl.col("behavior_purchase_days").fill_null(0)
    loyal = (purchases >= o.loyal_orders) & pl.col("lifecycle_stage").is_in(["active", "new"]).fill_null(False)
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
        "lifecycle_buyer",
        "lifecycle_new_member",
        "lifecycle_reactivated",
        "lifecycle_ladder",
        "lifecycle_recency_days",
        "lifecycle_typical_gap_days",
        "lifecycle_gaps",
        "lifecycle_stretch",
    )
