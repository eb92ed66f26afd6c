"""Conformal quantiles from backtest residuals.

Residuals ``y − ŷ`` of the backtest windows, divided by each series' scale (the MASE
denominator), are pooled over the series of a level: per horizon step when there are at least
``MIN_PER_STEP`` of them, otherwise over all steps after dividing by the step's typical spread
(a straight line in the step, so that intervals still widen with the horizon when errors do).
Quantile levels get the split-conformal finite-sample correction. A quantile forecast is
``ŷ + scale · Q_τ(residuals)``, floored at zero. The coverage reported is honest: the intervals of
a backtest window are built only from the residuals of windows that do not overlap it.

A level of few series (``total`` is one) has too few residuals for its tail quantiles, the more so
once the overlapping windows are held out, and those few are strongly correlated (a window's
errors share its bias). Below ``MIN_RESIDUALS`` per estimate, its scaled residuals are pooled with
those of the levels that disaggregate it, closest (fewest series) first, taking from them only
what is missing to reach ``MIN_RESIDUALS``: each donor residual is weighted so that a level brings
at most that many (a weighted quantile, split-conformal levels at the pooled weight). The scale
(each series' typical one-period change) makes the residuals of different levels comparable;
the own residuals keep a weight of one each, so a level's own errors still count. The donors'
residuals are held out over the same windows, so the reported coverage stays honest.

Per-series calibration (``selected``): a series' own scaled residuals, divided by the level's
step spread, give its own quantile shape; it is shrunk toward the level's by the weight
``n / (n + PRIOR_RESIDUALS)`` of its ``n`` residuals, so a short series keeps the level's shape and a
long one gets its own (a volatile product wider intervals, a steady one narrower). For a backtest
window the series' residuals come from the windows that do not overlap it, like the level's.
"""

from __future__ import annotations

import numpy as np

QUANTILES = (0.05, 0.1, 0.5, 0.9, 0.95)
QUANTILE_COLUMNS = tuple(f"q{q:g}" for q in QUANTILES)
MIN_PER_STEP = 50
# fewer scaled residuals than this behind a quantile estimate: pool with the levels below
MIN_RESIDUALS = 200
# per-series calibration: a series' own residuals count against this many of the level's
PRIOR_RESIDUALS = 50


def scaled_residuals(actual: np.ndarray, forecast: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """(series, windows, horizon) residuals ``y − ŷ`` in units of each series' scale."""
    return (actual - forecast) / scale[:, None, None]


def residual_quantiles(r: np.ndarray, windows: np.ndarray | None = None, donors: tuple[np.ndarray, ...] = ()) -> np.ndarray:
    """Quantiles of scaled residuals ``r`` (series, windows, horizon), (horizon, len(QUANTILES));
    ``windows`` masks which windows to use (for ``r`` and the ``donors``' residuals alike), and
    the donors fill ``r`` up to ``MIN_RESIDUALS``. Without any residual the quantiles are 0 (the
    interval collapses to the point forecast).
    """
    if windows is not None:
        r = r[:, windows]
        donors = tuple(d[:, windows] for d in donors)
    h = r.shape[2]
    ok = np.isfinite(r)
    if not ok.any():
        return np.zeros((h, len(QUANTILES)))
    weights = ok.astype(float)
    if ok.sum() < MIN_RESIDUALS and donors:
        r, weights = _fill_up(r, weights, donors)
    ok = weights > 0
    spread = _step_spread(np.abs(r), weights)
    normed = r / spread[None, None, :]
    out = np.tile(_quantile(normed[ok], weights[ok]), (h, 1)) * spread[:, None]
    for k in range(h):
        step_ok = ok[:, :, k]
        if weights[:, :, k].sum() >= MIN_PER_STEP:
            out[k] = _quantile(r[:, :, k][step_ok], weights[:, :, k][step_ok])
    # quantiles must not cross, and widen (weakly) with the horizon only through the data
    return np.maximum.accumulate(out, axis=1)


def _fill_up(r: np.ndarray, weights: np.ndarray, donors: tuple[np.ndarray, ...]) -> tuple[np.ndarray, np.ndarray]:
    """``r`` and its weights joined by the donors' residuals, in order, each donor weighted to
    bring at most what is missing to ``MIN_RESIDUALS``."""
    parts, wparts = [r], [weights]
    have = float(weights.sum())
    for d in donors:
        if have >= MIN_RESIDUALS:
            break
        d_ok = np.isfinite(d)
        n = int(d_ok.sum())
        if n == 0:
            continue
        share = min(1.0, (MIN_RESIDUALS - have) / n)
        parts.append(d)
        wparts.append(d_ok * share)
        have += n * share
    return np.concatenate(parts), np.concatenate(wparts)


def _quantile(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Split-conformal quantiles of ``values``; weighted (inverted CDF) when weights differ."""
    n = float(weights.sum())
    if np.all(weights == 1.0):
        return np.quantile(values, _levels(values.size))
    return np.quantile(values, _levels(n), weights=weights, method="inverted_cdf")


def _step_spread(abs_r: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """How the residuals' spread changes with the horizon step: a straight line fitted to the
    (weighted) mean absolute residual of each step (weighted by counts), floored at a quarter of
    the overall mean; 1 everywhere when there is nothing to fit."""
    h = abs_r.shape[2]
    counts = weights.sum(axis=(0, 1)).astype(float)
    sums = np.where(weights > 0, abs_r * weights, 0.0).sum(axis=(0, 1))
    overall = sums.sum() / max(counts.sum(), 1.0)
    if overall <= 0 or h == 1 or (counts > 0).sum() < 2:
        return np.ones(h)
    k = np.arange(h, dtype=float)
    w = counts
    mean_k = np.divide(sums, counts, out=np.zeros(h), where=counts > 0)
    kw = (w * k).sum() / w.sum()
    yw = (w * mean_k).sum() / w.sum()
    var = (w * (k - kw) ** 2).sum()
    slope = (w * (k - kw) * (mean_k - yw)).sum() / var if var > 0 else 0.0
    line = yw + slope * (k - kw)
    return np.maximum(line, 0.25 * overall) / overall


def _levels(n: float) -> np.ndarray:
    """Split-conformal levels for ``n`` residuals: ⌈(n+1)τ⌉/n above the median, mirrored below."""
    q = np.array(QUANTILES)
    upper = np.minimum(np.ceil((n + 1) * q) / n, 1.0)
    lower = 1.0 - np.minimum(np.ceil((n + 1) * (1 - q)) / n, 1.0)
    return np.where(q > 0.5, upper, np.where(q < 0.5, lower, q))


def level_shape(
    r: np.ndarray, windows: np.ndarray | None = None, donors: tuple[np.ndarray, ...] = ()
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What per-series calibration needs of the whole level: its quantiles (h, q), its step
    spread (h,) and the quantiles of all its spread-normalised residuals (q,)."""
    level = residual_quantiles(r, windows, donors)
    own = r if windows is None else r[:, windows]
    ok = np.isfinite(own)
    if own.shape[1] == 0 or not ok.any():
        return level, np.ones(r.shape[2]), np.zeros(len(QUANTILES))
    spread = _step_spread(np.abs(np.where(ok, own, 0.0)), ok.astype(float))
    normed = own[ok] / np.broadcast_to(spread[None, None, :], own.shape)[ok]
    return level, spread, np.quantile(normed, QUANTILES)


def series_quantiles(
    r: np.ndarray,
    windows: np.ndarray | None = None,
    donors: tuple[np.ndarray, ...] = (),
    rows: slice | None = None,
    shape: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """Per-series quantiles (series, horizon, len(QUANTILES)): the level's (``residual_quantiles``)
    moved toward each series' own quantile shape by ``n / (n + PRIOR_RESIDUALS)``; for the
    series ``rows`` only when given (``shape``: the level's ``level_shape``, computed once)."""
    level, spread, pooled = shape if shape is not None else level_shape(r, windows, donors)
    own = r if windows is None else r[:, windows]
    if rows is not None:
        own = own[rows]
    ok = np.isfinite(own)
    n = ok.sum(axis=(1, 2))
    if own.shape[1] == 0 or not ok.any():
        return np.broadcast_to(level, (own.shape[0], *level.shape)).copy()
    normed = np.where(ok, own / spread[None, None, :], np.nan).reshape(own.shape[0], -1)
    has = n > 0
    mine = np.zeros((own.shape[0], len(QUANTILES)))
    if has.any():
        mine[has] = np.nanquantile(normed[has], QUANTILES, axis=1).T
    weight = np.where(has, n / (n + PRIOR_RESIDUALS), 0.0)
    shift = weight[:, None] * (mine - pooled[None, :])  # (series, q) in units of the spread
    out = level[None, :, :] + shift[:, None, :] * spread[None, :, None]
    return np.maximum.accumulate(out, axis=2)


def apply_quantiles(point: np.ndarray, scale: np.ndarray, q: np.ndarray) -> np.ndarray:
    """(series, h) point forecasts → (series, h, quantiles), floored at zero; ``q`` is the
    level's (h, quantiles) or per series (series, h, quantiles)."""
    qq = q if q.ndim == 3 else q[None, :, :]
    return np.clip(point[:, :, None] + scale[:, None, None] * qq, 0.0, None)


def heldout_bounds(
    forecast: np.ndarray,
    scale: np.ndarray,
    r: np.ndarray,
    usable: np.ndarray,
    donors: tuple[np.ndarray, ...] = (),
    per_series: bool = False,
    rows: slice | None = None,
    cache: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None,
) -> np.ndarray:
    """Backtest quantiles per window from the scaled residuals ``r`` (and ``donors``') of the
    windows that do not overlap it (``usable[w]``): (series, windows, h, q). With ``rows``,
    ``forecast`` and ``scale`` are those series only (the level's shapes, kept in ``cache``
    per window, still come from all of ``r``)."""
    n_windows = forecast.shape[1]
    out = np.empty((*forecast.shape, len(QUANTILES)))
    cache = {} if cache is None else cache
    for w in range(n_windows):
        if w not in cache:
            cache[w] = level_shape(r, usable[w], donors) if per_series else (residual_quantiles(r, usable[w], donors), np.ones(0), np.ones(0))
        if per_series:
            q = series_quantiles(r, usable[w], donors, rows, cache[w])
        else:
            q = cache[w][0]
        out[:, w] = apply_quantiles(forecast[:, w], scale, q)
    return out
