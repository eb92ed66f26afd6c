"""Calendar and festival features per period, from the built-in Chinese e-commerce calendar.

Each period gets at most one festival key: ``双11`` for the period holding the festival's peak
day, ``双11·窗口`` for other periods its window touches (pre-sale, logistics pause). The per-series
models are fitted on demand divided by each key's multiplicative effect and the effect is put
back on the forecast (``festival_factors``); the global model takes the keys as features.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from c2m_cli.calendar import FESTIVALS, festival_days
from c2m_cli.forecast.series import period_start

WINDOW_SUFFIX = "·窗口"
# Periods either side of a festival period whose mean is its baseline, by frequency.
BASELINE_HALF_WIDTH = {"D": 14, "W": 4, "M": 2}
# Prior strength (in units of baseline demand) pulling a series' festival effect to its parent's.
PRIOR_UNITS = 20.0


def festival_keys(periods: list[dt.date], freq: str) -> pl.DataFrame:
    """ds, festival_key (null outside festivals) for the given periods."""
    grid = pl.DataFrame({"ds": periods}, schema={"ds": pl.Date})
    if not periods:
        return grid.with_columns(pl.lit(None, dtype=pl.String).alias("festival_key"))
    days = festival_days(min(periods), max(periods) + dt.timedelta(days=31))
    order = {name: i for i, name in enumerate(FESTIVALS)}
    keyed = (
        days.with_columns(period_start(pl.col("date"), freq).alias("ds"))
        .group_by("ds", "festival")
        .agg(pl.col("is_peak").any())
        .with_columns(
            pl.when(pl.col("is_peak"))
            .then(pl.col("festival"))
            .otherwise(pl.col("festival") + WINDOW_SUFFIX)
            .alias("festival_key"),
            pl.col("festival").replace_strict(order, return_dtype=pl.Int32).alias("rank"),
        )
        # one key per period: a peak beats a window, then the calendar's order
        .sort("ds", pl.col("is_peak").not_(), "rank")
        .unique("ds", keep="first")
        .select("ds", "festival_key")
    )
    return grid.join(keyed, on="ds", how="left").sort("ds")


def festival_factors(
    y: np.ndarray,
    keys: np.ndarray,
    n_train: int,
    freq: str,
    parent: dict[str, float] | None = None,
) -> tuple[np.ndarray, dict[str, float]]:
    """Multiplicative festival effects per series, estimated on the first ``n_train`` periods.

    ``y`` is (series, periods) with NaN before a series starts; ``keys`` the festival key per
    period over history and future (``""`` for none). Returns the (series, all periods) matrix
    of multipliers and the pooled effect of each key over all series (the next level's prior).
    An effect is the ratio of a festival period's demand to the mean of the non-festival periods
    around it, pooled over the festival's years and shrunk towards ``parent`` (or 1).
    """
    n_series, _ = y.shape
    total_periods = keys.shape[0]
    mult = np.ones((n_series, total_periods))
    train = y[:, :n_train]
    fest = keys[:n_train] != ""
    half = BASELINE_HALF_WIDTH[freq]
    plain = np.where(fest[None, :] | np.isnan(train), 0.0, train)
    plain_n = (~fest[None, :] & ~np.isnan(train)).astype(float)
    sums = _centred_sum(plain, half)
    counts = _centred_sum(plain_n, half)
    baseline = np.divide(sums, counts, out=np.full_like(sums, np.nan), where=counts > 0)
    pooled: dict[str, float] = {}
    for key in sorted(set(keys.tolist()) - {""}):
        cols = np.flatnonzero(keys[:n_train] == key)
        prior = (parent or {}).get(key, 1.0)
        if cols.size == 0:
            if key in (parent or {}):
                mult[:, keys == key] = prior
            pooled[key] = prior
            continue
        obs = train[:, cols]
        base = baseline[:, cols]
        ok = ~np.isnan(obs) & ~np.isnan(base)
        num = np.where(ok, obs, 0.0).sum(axis=1)
        den = np.where(ok, base, 0.0).sum(axis=1)
        factor = (num + PRIOR_UNITS * prior) / (den + PRIOR_UNITS)
        factor = np.clip(factor, 0.05, 20.0)
        mult[:, keys == key] = factor[:, None]
        total_den = den.sum()
        pooled[key] = float(
            np.clip((num.sum() + PRIOR_UNITS * prior) / (total_den + PRIOR_UNITS), 0.05, 20.0)
        )
    return mult, pooled


def _centred_sum(x: np.ndarray, half: int) -> np.ndarray:
    """Sum over the window [t - half, t + half] (clipped at the edges), row by row."""
    n = x.shape[1]
    cs = np.concatenate([np.zeros((x.shape[0], 1)), np.cumsum(x, axis=1)], axis=1)
    idx = np.arange(n)
    hi = np.minimum(idx + half + 1, n)
    lo = np.maximum(idx - half, 0)
    return cs[:, hi] - cs[:, lo]
