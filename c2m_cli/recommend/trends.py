"""Trend tests on many short series at once: Mann-Kendall (with ties), seasonal Kendall and an OLS slope.

Every function takes a matrix ``Y`` of shape (series, periods) and tests each row, vectorised
with numpy: no Python loop over rows. Periods must be equally spaced and in time order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from c2m_cli.recommend._stats import benjamini_hochberg, norm_sf

__all__ = ["benjamini_hochberg", "festival_factors", "half_growth", "mann_kendall", "ols_slope", "seasonal_kendall"]


@dataclass(frozen=True)
class TrendResult:
    """Per-row results: Kendall's S and tau, the normal z, a two-sided p-value, Sen's slope."""

    s: np.ndarray
    tau: np.ndarray
    z: np.ndarray
    p: np.ndarray
    sen_slope: np.ndarray


def _tie_term(y: np.ndarray) -> np.ndarray:
    """Sum over tie groups of t(t-1)(2t+5) for each row."""
    rows, n = y.shape
    if n == 0:
        return np.zeros(rows)
    ordered = np.sort(y, axis=1)
    starts = np.ones_like(ordered, dtype=bool)
    starts[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    group = np.cumsum(starts, axis=1) - 1 + (np.arange(rows) * n)[:, None]
    counts = np.bincount(group.ravel(), minlength=rows * n).reshape(rows, n).astype(float)
    return np.sum(counts * (counts - 1) * (2 * counts + 5), axis=1)


def mann_kendall(y: np.ndarray, *, block: int = 512) -> TrendResult:
    """Mann-Kendall trend test of each row of ``y`` (tie-corrected variance, continuity fix).

    Rows are tested ``block`` at a time, so memory grows with n² per block, not with the rows."""
    y = np.atleast_2d(np.asarray(y, dtype=float))
    if y.shape[0] > block:
        parts = [_mann_kendall(y[i:i + block]) for i in range(0, y.shape[0], block)]
        return TrendResult(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("s", "tau", "z", "p", "sen_slope")))
    return _mann_kendall(y)


def seasonal_kendall(y: np.ndarray, period: int = 52) -> TrendResult:
    """Seasonal Kendall test of each row (Hirsch, Slack & Smith 1982, "Techniques of trend
    analysis for monthly water quality data", Water Resources Research 18(1)): a Mann-Kendall
    test within each season (the same week of every year), S and Var(S) summed over the seasons.
    A yearly season then cannot pass for a trend: week 47 is compared with week 47 of the other
    years only. Uses the last whole years of the row (``n // period`` of them, at least two);
    ``sen_slope`` is the seasonal Sen slope (median of the within-season slopes, per year)."""
    y = np.atleast_2d(np.asarray(y, dtype=float))
    rows, n = y.shape
    years = n // period
    if years < 2:
        raise ValueError(f"a seasonal Kendall test needs two whole periods of {period}, got {n} values")
    sub = y[:, n - years * period:].reshape(rows, years, period).transpose(0, 2, 1).reshape(rows * period, years)
    i, j = np.triu_indices(years, k=1)
    diffs = sub[:, j] - sub[:, i]
    s = np.sign(diffs).sum(axis=1).reshape(rows, period).sum(axis=1)
    var = ((years * (years - 1) * (2 * years + 5) - _tie_term(sub)) / 18.0).reshape(rows, period).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(s > 0, (s - 1) / np.sqrt(var), np.where(s < 0, (s + 1) / np.sqrt(var), 0.0))
        z = np.where(var > 0, z, 0.0)
    p = 2.0 * norm_sf(np.abs(z))
    tau = s / (period * years * (years - 1) / 2.0)
    sen = np.median((diffs / (j - i)[None, :]).reshape(rows, period * len(i)), axis=1)
    return TrendResult(s, tau, z, p, sen)


def _mann_kendall(y: np.ndarray) -> TrendResult:
    rows, n = y.shape
    if n < 3:
        nan = np.full(rows, np.nan)
        return TrendResult(np.zeros(rows), nan, np.zeros(rows), np.ones(rows), nan)
    i, j = np.triu_indices(n, k=1)
    diffs = y[:, j] - y[:, i]
    s = np.sign(diffs).sum(axis=1)
    var = (n * (n - 1) * (2 * n + 5) - _tie_term(y)) / 18.0
    sen = np.median(diffs / (j - i)[None, :], axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(s > 0, (s - 1) / np.sqrt(var), np.where(s < 0, (s + 1) / np.sqrt(var), 0.0))
        z = np.where(var > 0, z, 0.0)
    p = 2.0 * norm_sf(np.abs(z))
    tau = s / (n * (n - 1) / 2.0)
    return TrendResult(s, tau, z, p, sen)


def ols_slope(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares slope per period of each row and its two-sided p-value (t test)."""
    from scipy import stats  # imported here: scipy.stats is slow to import and only this needs it
    y = np.atleast_2d(np.asarray(y, dtype=float))
    rows, n = y.shape
    if n < 3:
        return np.zeros(rows), np.ones(rows)
    t = np.arange(n, dtype=float)
    tc = t - t.mean()
    sxx = float(np.sum(tc**2))
    yc = y - y.mean(axis=1, keepdims=True)
    slope = yc @ tc / sxx
    resid = yc - slope[:, None] * tc[None, :]
    sigma2 = np.sum(resid**2, axis=1) / (n - 2)
    se = np.sqrt(sigma2 / sxx)
    with np.errstate(divide="ignore", invalid="ignore"):
        tstat = np.where(se > 0, slope / se, np.where(slope != 0, np.inf * np.sign(slope), 0.0))
    p = 2.0 * stats.t.sf(np.abs(tstat), df=n - 2)
    return slope, p


def festival_factors(totals: np.ndarray, festival: np.ndarray, window: int = 4) -> np.ndarray:
    """Per period: the festival lift of ``totals`` (period ÷ median of the ordinary periods within
    ``window`` on either side) for festival periods, 1 elsewhere. Dividing a series by it removes
    the calendar's spikes before a trend test."""
    totals = np.asarray(totals, dtype=float)
    festival = np.asarray(festival, dtype=bool)
    out = np.ones_like(totals)
    for i in (int(k) for k in np.flatnonzero(festival)):
        lo, hi = max(0, i - window), min(int(totals.size), i + window + 1)
        near = [totals[j] for j in range(lo, hi) if not festival[j]]
        base = float(np.median(near)) if near else 0.0
        if base > 0 and totals[i] > 0:
            out[i] = max(0.2, totals[i] / base)
    return out


def half_growth(y: np.ndarray, period_days: int = 7, span_days: int = 182) -> tuple[np.ndarray, int]:
    """Growth of each row's last span over the span before it, and the span in days: half a year
    (``span_days``; 364 for year over year) when the series holds two spans, else half the series."""
    y = np.atleast_2d(np.asarray(y, dtype=float))
    n = y.shape[1]
    span = min(n // 2, max(1, round(span_days / period_days)))
    if span == 0:
        return np.zeros(y.shape[0]), 0
    late = y[:, n - span:].sum(axis=1)
    early = y[:, n - 2 * span: n - span].sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        growth = np.where(early > 0, late / early - 1.0, np.where(late > 0, np.inf, 0.0))
    return growth, span * period_days
