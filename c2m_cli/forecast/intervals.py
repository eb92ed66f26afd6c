"""Conformal quantiles from backtest residuals.

Residuals ``y − ŷ`` of the backtest windows, divided by each series' scale (the MASE
denominator), are pooled over the series of a level (per horizon step when there are at least
``MIN_PER_STEP`` of them, otherwise over all steps). A quantile forecast is
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
    pooled = r[np.isfinite(r)]
    if pooled.size == 0:
        return np.zeros((h, len(QUANTILES)))
    overall = np.quantile(pooled, QUANTILES)
    out = np.tile(overall, (h, 1))
    for k in range(h):
        step = r[:, :, k]
        step = step[np.isfinite(step)]
        if step.size >= MIN_PER_STEP:
            out[k] = np.quantile(step, QUANTILES)
    # quantiles must not cross, and widen (weakly) with the horizon only through the data
    return np.maximum.accumulate(out, axis=1)


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
