"""A global model: one scikit-learn HistGradientBoostingRegressor for all series of a level.

Direct multi-step: a row is (series, origin, step k) with features known at the origin — the
last lags, rolling means and share of zero periods (divided by the series' recent level, so
series of any size share one model), the value a season before the target (y at t − 52 weekly,
t − 12 monthly, t − 7 daily) and its ratio to the series' level a season before the origin (last
year's seasonal swing), the step k, the target period's calendar position, Fourier terms of its
position in the year (365.25 days: 52.18 weeks, 12 months) and festival exposures, and the
series' age — and the target is the demand k periods ahead divided by the same level. A
feature the history does not hold is missing (NaN, which the trees route on their own): the
seasonal lags before a series' first season, the Fourier terms when the fitted history spans
less than a year (a yearly shape cannot be learnt from part of one). Short series that each
cover only part of a year thus still share the yearly cycle the level's series show together. Poisson loss (demand counts),
one thread, fixed seed. It is a candidate like the others: ``selected`` uses it where it wins
in backtest. For the backtest it is fitted once on the history before the first cutoff (no
window sees its own data), for the forecast once on all history.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

MIN_SERIES = 10
MIN_ROWS = 300
MAX_ROWS = 10_000
LAGS = (1, 2, 3, 4)
WINDOWS = (4, 8, 13)
FOURIER_TERMS = 3  # harmonics of the year among the features
# periods per year by season length (daily data: 365.25 days; its season is the week)
PERIODS_PER_YEAR = {52: 365.25 / 7, 12: 12.0, 7: 365.25}


def _prefix(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ok = ~np.isnan(y)
    zeros = np.zeros((y.shape[0], 1))
    return (
        np.concatenate([zeros, np.cumsum(np.where(ok, y, 0.0), axis=1)], axis=1),
        np.concatenate([zeros, np.cumsum(ok, axis=1)], axis=1),
    )


def features(
    y: np.ndarray,
    rows: np.ndarray,
    origins: np.ndarray,
    steps: np.ndarray,
    calendar: np.ndarray,
    season: int,
    fourier: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Feature matrix and level (divisor) for rows (series index, origin c = obs before, step k).

    ``calendar`` (periods, 1 + features): column 0 the period's position in the year (fraction,
    from ``calendar_features``), the rest as they are. ``fourier``: the Fourier terms of that
    position (NaN when False)."""
    sums, counts = _prefix(y)
    zsum, _ = _prefix((np.nan_to_num(y) == 0).astype(float) + np.where(np.isnan(y), np.nan, 0.0))

    def window_mean(width: int) -> np.ndarray:
        lo = np.maximum(origins - width, 0)
        n = counts[rows, origins] - counts[rows, lo]
        return np.divide(sums[rows, origins] - sums[rows, lo], n, out=np.full(rows.size, np.nan), where=n > 0)

    level = window_mean(13)
    overall = np.divide(sums[rows, origins], counts[rows, origins], out=np.zeros(rows.size), where=counts[rows, origins] > 0)
    level = np.where(np.isnan(level) | (level <= 0), overall, level)
    level = np.where(level > 0, level, 1.0)
    cols = []
    for lag in LAGS:
        idx = origins - lag
        cols.append(np.where(idx >= 0, y[rows, np.maximum(idx, 0)], np.nan) / level)
    for width in WINDOWS:
        cols.append(window_mean(width) / level)
    lo = np.maximum(origins - 13, 0)
    n13 = counts[rows, origins] - counts[rows, lo]
    cols.append(np.divide(zsum[rows, origins] - zsum[rows, lo], n13, out=np.full(rows.size, np.nan), where=n13 > 0))
    target = origins + steps - 1
    back = target - season
    last_year = np.where(back >= 0, y[rows, np.maximum(back, 0)], np.nan)
    cols.append(last_year / level)
    # last year's value over the series' 13-period level a season before the origin
    o_back = origins - season
    lo_b = np.clip(o_back - 13, 0, None)
    ob = np.clip(o_back, 0, None)
    n_b = counts[rows, ob] - counts[rows, lo_b]
    level_b = np.divide(sums[rows, ob] - sums[rows, lo_b], n_b, out=np.full(rows.size, np.nan), where=(n_b > 0) & (o_back > 0))
    cols.append(np.divide(last_year, level_b, out=np.full(rows.size, np.nan), where=level_b > 0))
    cols.append(steps.astype(float))
    cols.append(np.minimum(counts[rows, origins], 3 * season).astype(float))
    frac = calendar[target, 0]
    k = np.arange(1, FOURIER_TERMS + 1)
    angle = 2 * np.pi * frac[:, None] * k[None, :]
    waves = np.concatenate([np.sin(angle), np.cos(angle)], axis=1)
    if not fourier:
        waves = np.full(waves.shape, np.nan)
    x = np.column_stack([*cols, waves, calendar[target, 1:]])
    return x, level


@dataclass
class GlobalTask:
    """One fit of a level's global model: ``phase`` "backtest" (fitted before the first cutoff,
    forecasting from every cutoff) or "final" (fitted on all history, forecasting the future)."""

    y: np.ndarray  # (series, T)
    calendar: np.ndarray  # (T + horizon, features)
    cutoffs: list[int]
    horizon: int
    season: int
    seed: int
    phase: str
    path: str | None = None  # the level's series as a Parquet file (``y`` then not carried)


def global_task(task: GlobalTask) -> np.ndarray | None:
    """(series, windows, h) backtest or (series, h) final forecasts; None when too little data."""
    y = task.y
    if task.path is not None:
        import polars as pl

        part = pl.read_parquet(task.path)
        y = np.asarray(part["y"].to_numpy(), dtype=float).reshape(part.height, -1)
        cal = pl.read_parquet(task.path.removesuffix(".parquet") + ".calendar.parquet")
        task = replace(task, calendar=np.asarray(cal["calendar"].to_numpy(), dtype=float).reshape(cal.height, -1))
    n_periods = y.shape[1]
    if task.phase == "backtest":
        model = _fit(y, task.calendar, task.cutoffs[0], task.horizon, task.season, task.seed)
        if model is None:
            return None
        return np.stack(
            [_predict(model, y, task.calendar, c, task.horizon, task.season) for c in task.cutoffs], axis=1
        )
    model = _fit(y, task.calendar, n_periods, task.horizon, task.season, task.seed)
    if model is None:
        return None
    return _predict(model, y, task.calendar, n_periods, task.horizon, task.season)


def _fit(y: np.ndarray, calendar: np.ndarray, end: int, horizon: int, season: int, seed: int):  # type: ignore[no-untyped-def]
    from sklearn.ensemble import HistGradientBoostingRegressor
    from threadpoolctl import threadpool_limits

    n_series = y.shape[0]
    start = np.argmax(~np.isnan(y), axis=1)  # first observed period
    s_idx, c_idx, k_idx = [], [], []
    for k in range(1, horizon + 1):
        origins = np.arange(1, end - k + 1)
        if origins.size == 0:
            continue
        rr, cc = np.meshgrid(np.arange(n_series), origins, indexing="ij")
        ok = (cc - start[:, None] >= 4) & ~np.isnan(y[rr, cc + k - 1])
        s_idx.append(rr[ok])
        c_idx.append(cc[ok])
        k_idx.append(np.full(ok.sum(), k))
    if not s_idx:
        return None
    rows, origins, steps = np.concatenate(s_idx), np.concatenate(c_idx), np.concatenate(k_idx)
    if rows.size < MIN_ROWS:
        return None
    if rows.size > MAX_ROWS:
        keep = np.sort(np.random.default_rng(seed).choice(rows.size, MAX_ROWS, replace=False))
        rows, origins, steps = rows[keep], origins[keep], steps[keep]
    # the Fourier terms only when the fitted history spans a year
    fourier = end >= PERIODS_PER_YEAR.get(season, np.inf)
    x, level = features(y, rows, origins, steps, calendar, season, fourier)
    target = y[rows, origins + steps - 1] / level
    model = HistGradientBoostingRegressor(
        loss="poisson", max_iter=50, learning_rate=0.15, max_leaf_nodes=31, min_samples_leaf=40,
        l2_regularization=1.0, early_stopping=False, random_state=seed,
    )
    usable = ~np.isnan(x).all(axis=0)  # e.g. no value a season back yet
    with threadpool_limits(1):
        model.fit(x[:, usable], target, sample_weight=level / level.mean())
    return model, usable, fourier


def _predict(model, y: np.ndarray, calendar: np.ndarray, origin: int, horizon: int, season: int) -> np.ndarray:  # type: ignore[no-untyped-def]
    from threadpoolctl import threadpool_limits

    n_series = y.shape[0]
    rows = np.repeat(np.arange(n_series), horizon)
    steps = np.tile(np.arange(1, horizon + 1), n_series)
    origins = np.full(rows.size, origin)
    estimator, usable, fourier = model
    x, level = features(y, rows, origins, steps, calendar, season, fourier)
    with threadpool_limits(1):
        pred = estimator.predict(x[:, usable]) * level
    out = pred.reshape(n_series, horizon)
    started = (~np.isnan(y[:, :origin])).any(axis=1)
    return np.where(started[:, None], np.clip(out, 0.0, None), np.nan)


def calendar_features(periods: list, freq: str, exposure: np.ndarray) -> np.ndarray:
    """Calendar position of each period and its festival exposures: (periods, 1 + features).
    Column 0: the period's position in the year, (day of year − 1) / 365.25 of its first day
    (``features`` makes the Fourier terms from it); then month, ISO week (and the day of the
    week for daily data) and the exposures."""
    import polars as pl

    ds = pl.Series(periods, dtype=pl.Date)
    frac = (ds.dt.ordinal_day().to_numpy().astype(float) - 1) / 365.25
    cols = [frac, ds.dt.month().to_numpy().astype(float), ds.dt.week().to_numpy().astype(float)]
    if freq == "D":
        cols.append(ds.dt.weekday().to_numpy().astype(float))
    return np.column_stack([*cols, exposure])
