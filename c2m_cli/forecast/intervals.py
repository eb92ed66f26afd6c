"""Conformal quantiles from backtest residuals.

Residuals ``y − ŷ`` of the backtest windows, divided by each series' scale (the MASE
denominator), are pooled over the series of a level: per horizon step when there are at least
``MIN_PER_STEP`` of them, otherwise over all steps after dividing by the step's typical spread
(a straight line in the step, so that intervals still widen with the horizon when errors do).
Quantile levels get the split-conformal finite-sample correction. A quantile forecast is
``ŷ + scale · Q_τ(residuals)``, floored at zero. The coverage reported is honest: the intervals of
a backtest window are built only from the residuals of windows that do not overlap it.
"""

from __future__ import annotations

import numpy as np

QUANTILES = (0.05, 0.1, 0.5, 0.9, 0.95)
QUANTILE_COLUMNS = tuple(f"q{q:g}" for q in QUANTILES)
MIN_PER_STEP = 50


def residual_quantiles(
    actual: np.ndarray, forecast: np.ndarray, scale: np.ndarray, windows: np.ndarray | None = None
) -> np.ndarray:
    """Quantiles of scaled residuals, (horizon, len(QUANTILES)); ``windows`` masks which to use.

    ``actual`` and ``forecast`` are (series, windows, horizon). Without any residual the
    quantiles are 0 (the interval collapses to the point forecast).
    """
    r = (actual - forecast) / scale[:, None, None]
    if windows is not None:
        r = r[:, windows]
    h = r.shape[2]
    ok = np.isfinite(r)
    if not ok.any():
        return np.zeros((h, len(QUANTILES)))
    spread = _step_spread(np.abs(r), ok)
    normed = r / spread[None, None, :]
    pooled = normed[ok]
    out = np.tile(np.quantile(pooled, _levels(pooled.size)), (h, 1)) * spread[:, None]
    for k in range(h):
        step = r[:, :, k][ok[:, :, k]]
        if step.size >= MIN_PER_STEP:
            out[k] = np.quantile(step, _levels(step.size))
    # quantiles must not cross, and widen (weakly) with the horizon only through the data
    return np.maximum.accumulate(out, axis=1)


def _step_spread(abs_r: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """How the residuals' spread changes with the horizon step: a straight line fitted to the
    mean absolute residual of each step (weighted by counts), floored at a quarter of the
    overall mean; 1 everywhere when there is nothing to fit."""
    h = abs_r.shape[2]
    counts = ok.sum(axis=(0, 1)).astype(float)
    sums = np.where(ok, abs_r, 0.0).sum(axis=(0, 1))
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


def _levels(n: int) -> np.ndarray:
    """Split-conformal levels for ``n`` residuals: ⌈(n+1)τ⌉/n above the median, mirrored below."""
    q = np.array(QUANTILES)
    upper = np.minimum(np.ceil((n + 1) * q) / n, 1.0)
    lower = 1.0 - np.minimum(np.ceil((n + 1) * (1 - q)) / n, 1.0)
    return np.where(q > 0.5, upper, np.where(q < 0.5, lower, q))


def apply_quantiles(point: np.ndarray, scale: np.ndarray, q: np.ndarray) -> np.ndarray:
    """(series, h) point forecasts → (series, h, quantiles), floored at zero."""
    return np.clip(point[:, :, None] + scale[:, None, None] * q[None, :, :], 0.0, None)


def heldout_bounds(
    actual: np.ndarray, forecast: np.ndarray, scale: np.ndarray, usable: np.ndarray
) -> np.ndarray:
    """Backtest quantiles per window from the residuals of the windows that do not overlap it
    (``usable[w]``): (series, windows, h, q)."""
    n_windows = actual.shape[1]
    out = np.empty((*forecast.shape, len(QUANTILES)))
    for w in range(n_windows):
        others = usable[w]
        q = residual_quantiles(actual, forecast, scale, others)
        out[:, w] = apply_quantiles(forecast[:, w], scale, q)
    return out
