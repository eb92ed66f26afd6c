"""Value family: RFM scores, BG/NBD + Gamma-Gamma customer value, value tier."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import polars as pl

from c2m_cli.errors import InvalidDataError
from c2m_cli.labels.base import LabelOptions, fx_sum, fx_value
from c2m_cli.labels.clv import BetaGeoModel, GammaGammaModel, rfm_summary

WEEKS_PER_MONTH = 365.25 / 12 / 7


def _quintile(expr: pl.Expr, *, descending: bool = False) -> pl.Expr:
    """1–5 by rank among the non-null values (5 = best); ties share the average rank."""
    rank = expr.rank("average", descending=descending)
    return (((rank - 0.5) / expr.count()) * 5).floor().cast(pl.Int8) + 1


def fit_sample(summary: pl.DataFrame, size: int, seed: int) -> pl.DataFrame:
    """A deterministic random sample of customers (by seeded hash of user_id) to fit on."""
    if summary.height <= size:
        return summary
    return summary.with_columns(_h=pl.col("user_id").hash(seed)).sort("_h", "user_id").head(size).drop("_h")


def value_labels(
    purchases: pl.LazyFrame, as_of: dt.date, options: LabelOptions, seed: int
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """Per-buyer value columns and the fitted model (for ``value_model.json``)."""
    summary = rfm_summary(purchases.select("user_id", "day", "amount"), end=as_of)
    model: dict[str, Any] = {
        "time_unit": "weeks",
        "calibration": {
            "start": None if summary.is_empty() else str(summary["first_day"].min()),
            "end": str(as_of),
        },
        "fit_customers": 0,
        "customers": summary.height,
        "clv_horizon_months": options.clv_months,
        "bgnbd": None,
        "gamma_gamma": None,
        "notes": [],
    }
    x = summary["frequency"].to_numpy()
    t_x = summary["recency"].to_numpy()
    T = summary["T"].to_numpy()
    m = summary["monetary"].to_numpy()
    horizon = options.clv_months * WEEKS_PER_MONTH
    sample = fit_sample(summary, options.fit_sample, seed)
    model["fit_customers"] = sample.height
    p_alive = np.ones(summary.height)
    expected = np.full(summary.height, np.nan)
    if (sample["frequency"] > 0).sum() >= 1 and (sample["T"] > 0).sum() >= 2:
        bg = BetaGeoModel().fit(sample["frequency"].to_numpy(), sample["recency"].to_numpy(), sample["T"].to_numpy())
        model["bgnbd"] = bg.to_dict()
        p_alive = bg.p_alive(x, t_x, T)
        expected = bg.expected_purchases(horizon, x, t_x, T)
    else:
        model["notes"].append(
            "BG/NBD not fitted: no repeat purchase (or no customer older than one day) in the fit sample"
        )
    spend = np.full(summary.height, np.nan)
    try:
        gg = GammaGammaModel().fit(sample["frequency"].to_numpy(), sample["monetary"].to_numpy())
        model["gamma_gamma"] = gg.to_dict()
        spend = gg.expected_spend(x, m)
        if not np.all(np.isfinite(spend)):
            raise InvalidDataError("Gamma-Gamma gave q <= 1 (no finite population mean)")
    except InvalidDataError as exc:
        model["notes"].append(f"Gamma-Gamma not used ({exc}); expected spend = observed mean per transaction")
        daily = purchases.group_by("user_id", "day").agg(fx_sum(pl.col("amount")).alias("amount"))
        per_user = daily.group_by("user_id").agg(fx_value(pl.col("amount").sum() / pl.len()).alias("_m")).collect()
        spend = summary.select("user_id").join(per_user, on="user_id", how="left")["_m"].to_numpy()
    clv = expected * spend
    frame = summary.select(
        "user_id",
        pl.Series("value_frequency", x),
        pl.Series("value_recency_weeks", t_x),
        pl.Series("value_T_weeks", T),
        pl.Series("value_monetary", m),
        pl.Series("value_p_alive", p_alive),
        pl.Series("value_expected_purchases", expected),
        pl.Series("value_expected_spend", spend),
        pl.Series("value_clv", clv),
    ).with_columns(pl.col(pl.Float64).fill_nan(None))
    return frame, model


def rfm_scores(behavior: pl.DataFrame, value: pl.DataFrame, options: LabelOptions) -> pl.DataFrame:
    """RFM quintiles (5 = best) over buyers, the RFM code and the value tier by CLV rank."""
    frame = behavior.select("user_id", "behavior_recency_days", "behavior_orders", "behavior_total_spend").join(
        value, on="user_id", how="left"
    )
    buyer = pl.col("behavior_orders") > 0
    r = _quintile(pl.when(buyer).then(pl.col("behavior_recency_days")), descending=True)
    f = _quintile(pl.when(buyer).then(pl.col("behavior_orders")))
    mo = _quintile(pl.when(buyer).then(pl.col("behavior_total_spend")))
    frame = frame.with_columns(value_r_score=r, value_f_score=f, value_m_score=mo)
    clv_rank = pl.col("value_clv").rank("average", descending=True) / pl.col("value_clv").count()
    frame = frame.with_columns(
        value_rfm=pl.concat_str(
            pl.col("value_r_score").cast(pl.String),
            pl.col("value_f_score").cast(pl.String),
            pl.col("value_m_score").cast(pl.String),
        ),
        value_clv_percentile=(1.0 - clv_rank + 1.0 / pl.col("value_clv").count()).clip(0.0, 1.0),
        value_tier=pl.when(~buyer | pl.col("behavior_orders").is_null())
        .then(pl.lit("none"))
        .when(pl.col("value_clv").is_null())
        .then(pl.lit("unknown"))
        .when(clv_rank <= options.high_value_share)
        .then(pl.lit("high"))
        .when(clv_rank <= options.high_value_share + 0.3)
        .then(pl.lit("medium"))
        .otherwise(pl.lit("low")),
    )
    return frame.select(
        "user_id", "value_r_score", "value_f_score", "value_m_score", "value_rfm", "value_clv_percentile", "value_tier"
    )
