"""Lifecycle from each user's own rhythm (capped, trusted only on enough gaps), P(alive) at
both ends, the stage 90 days earlier, and members who never bought."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from c2m_cli.labels.base import LabelOptions
from c2m_cli.labels.lifecycle import lifecycle_labels, previous_stage, purchase_rhythm

AS_OF = dt.date(2024, 6, 30)


def lines(purchases: dict[str, list[int]]) -> pl.LazyFrame:
    """Purchase lines from days-before-as-of per user."""
    rows = [(user, AS_OF - dt.timedelta(days=d), True) for user, days in purchases.items() for d in days]
    return pl.DataFrame(rows, schema={"user_id": pl.String, "day": pl.Date, "is_purchase": pl.Boolean}, orient="row").lazy()


def stages(purchases: dict[str, list[int]], p_alive: dict[str, float] | None = None, options: LabelOptions | None = None) -> dict[str, str | None]:
    options = options or LabelOptions()
    frame = lines(purchases).collect()
    rhythm = purchase_rhythm(frame.lazy(), options)
    users = (
        frame.group_by("user_id")
        .agg(
            pl.col("day").min().alias("behavior_first_purchase"),
            (pl.lit(AS_OF) - pl.col("day").max()).dt.total_days().alias("behavior_recency_days"),
            pl.col("day").n_unique().alias("behavior_purchase_days"),
        )
        .join(rhythm, on="user_id", how="left")
        .with_columns(
            value_p_alive=pl.col("user_id").replace_strict(p_alive or {}, default=0.3, return_dtype=pl.Float64),
            _positive_reviews=pl.lit(0),
        )
        .sort("user_id")
    )
    out = lifecycle_labels(users, options, AS_OF)
    return dict(zip(out["user_id"], out["lifecycle_stage"], strict=True))


def test_two_purchases_300_days_apart_then_430_silent_days_are_not_active() -> None:
    """One gap says nothing about a rhythm: no stretch, so 430 silent days are past 365: lost."""
    got = stages({"u": [730, 430]})
    assert got["u"] == "lost"
    # the same 300-day rhythm seen three times is trusted, stretched at most ×3: sleeping, not active
    got = stages({"u": [1330, 1030, 730, 430]}, p_alive={"u": 0.4})
    assert got["u"] == "sleeping"  # stretch min(2 × 300 / 90, 3) = 3: active ≤ 270, sleeping ≤ 540


def test_stretch_is_capped_and_needs_enough_gaps() -> None:
    options = LabelOptions()
    rhythm = purchase_rhythm(lines({"slow": [1000, 700, 400, 100], "two_gaps": [500, 300, 100], "fast": list(range(10, 200, 10))}), options)
    got = {r["user_id"]: (r["lifecycle_gaps"], r["lifecycle_stretch"]) for r in rhythm.iter_rows(named=True)}
    assert got["slow"] == (3, 3.0)  # 2 × 300 / 90 = 6.7, capped at 3
    assert got["two_gaps"] == (2, 1.0)  # below --rhythm-min-gaps: not trusted
    assert got["fast"] == (18, 1.0)  # a fast rhythm never shrinks the thresholds
    looser = purchase_rhythm(lines({"two_gaps": [500, 300, 100]}), LabelOptions(rhythm_min_gaps=2, rhythm_max_stretch=5.0))
    assert looser["lifecycle_stretch"].to_list() == [2 * 200 / 90]


def test_p_alive_decides_at_both_ends() -> None:
    # a steady weekly buyer silent 80 days: active by recency, P(alive) 0.01 says the rhythm broke
    weekly = list(range(80, 500, 7))
    assert stages({"u": weekly}, p_alive={"u": 0.01})["u"] == "sleeping"
    assert stages({"u": weekly}, p_alive={"u": 0.9})["u"] == "active"
    # a repeat buyer past the lost threshold whom the model still thinks alive: dormant
    assert stages({"u": [900, 400]}, p_alive={"u": 0.7})["u"] == "dormant"
    assert stages({"u": [900, 400]}, p_alive={"u": 0.2})["u"] == "lost"
    # a one-time buyer's P(alive) is 1 by construction in BG/NBD: it never keeps them
    assert stages({"u": [400]}, p_alive={"u": 1.0})["u"] == "lost"


def test_previous_stage_is_the_stage_90_days_earlier() -> None:
    purchases = lines({"new_then": [100, 95], "not_yet": [20], "lapsing": [400, 300, 200, 150]}).collect().lazy()
    prev = previous_stage(purchases, LabelOptions(), AS_OF, None)
    got = dict(zip(prev["user_id"], prev["lifecycle_prev_stage"], strict=True))
    assert got["new_then"] == "new"  # first purchase 10 days before as-of − 90
    assert "not_yet" not in got  # had not bought by then: null in labels.parquet
    assert got["lapsing"] == "active"  # 60 days silent as of then

    def never(x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
        return np.full(len(x), 0.001)

    prev = previous_stage(purchases, LabelOptions(), AS_OF, never)
    assert dict(zip(prev["user_id"], prev["lifecycle_prev_stage"], strict=True))["lapsing"] == "sleeping"
