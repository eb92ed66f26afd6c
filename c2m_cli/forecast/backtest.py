"""Rolling-origin backtest: cutoffs, per-series model selection and accuracy metrics."""

from __future__ import annotations

import numpy as np

N_WINDOWS = 12
MIN_TRAIN = {"D": 28, "W": 8, "M": 6}


def make_cutoffs(n_periods: int, horizon: int, freq: str, windows: int = N_WINDOWS) -> list[int]:
    """Training lengths of the backtest windows, oldest first (empty when history is too short).

    ``windows`` rolling origins (12 by default: more residuals for the intervals of the few
    aggregate series), half a horizon apart, the last one ``horizon`` periods before
    the end (the last window is a full horizon; later windows would be truncated). When history
    is too short they are spaced more closely, never with fewer than ``MIN_TRAIN`` periods of
    training.
    """
    min_train = MIN_TRAIN[freq]
    last = n_periods - horizon
    if last < min_train:
        last = n_periods - 1
    room = last - min_train
    if room < 0:
        return []
    step = max(1, min(max(1, horizon // 2), room // max(windows - 1, 1)))
    cutoffs = [last - step * k for k in range(windows - 1, -1, -1)]
    return sorted({c for c in cutoffs if c >= min_train})


def series_scale(y: np.ndarray, n_train: int) -> np.ndarray:
    """MASE denominator: mean absolute one-period change over the first ``n_train`` periods
    (the engine passes the history before the last cutoff: a scale no evaluated target enters
    for the last window, and steadier than the first window's for products launched late).

    Falls back to the mean absolute level, then 1, so that a constant series still has a scale.
    """
    hist = y[:, :n_train]
    diffs = np.abs(np.diff(hist, axis=1))
    ok = ~np.isnan(diffs)
    n = ok.sum(axis=1)
    scale = np.where(n > 0, np.where(ok, diffs, 0.0).sum(axis=1) / np.maximum(n, 1), 0.0)
    ok_y = ~np.isnan(hist)
    level = np.where(ok_y, np.abs(hist), 0.0).sum(axis=1) / np.maximum(ok_y.sum(axis=1), 1)
    scale = np.where(scale > 0, scale, level)
    return np.where(scale > 0, scale, 1.0)


def window_errors(actual: np.ndarray, forecasts: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Mean absolute error per series and window: model → (series, windows); NaN if no target.

    A model that has no forecast for a target it should have (NaN) gets +inf there.
    """
    valid = ~np.isnan(actual)
    n = valid.sum(axis=2)
    out = {}
    for name, fc in forecasts.items():
        err = np.abs(actual - fc)
        missing = (valid & np.isnan(fc)).any(axis=2)
        mae = np.where(valid, np.nan_to_num(err), 0.0).sum(axis=2) / np.maximum(n, 1)
        mae = np.where(missing, np.inf, mae)
        out[name] = np.where(n > 0, mae, np.nan)
    return out


def independent_windows(cutoffs: list[int], horizon: int) -> np.ndarray:
    """(windows, windows) bool: True where window j does not overlap window i (j may be used
    to judge i). When every window overlaps, the farthest ones are used."""
    c = np.array(cutoffs)
    far = np.abs(c[:, None] - c[None, :]) >= horizon
    for i in range(c.size):
        if not far[i].any():
            dist = np.abs(c - c[i])
            far[i] = dist == dist.max() if dist.max() > 0 else np.ones(c.size, dtype=bool)
    return far


def rank_models(
    errors: dict[str, np.ndarray], names: list[str], usable: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Models ranked by mean backtest error per series, over all windows and per held-out window.

    Returns (final ranking (series, models), held-out ranking (series, windows, models), and
    whether a series has any scored window (series,)); rankings are indices into ``names``,
    best first, ties to the earlier name. The held-out ranking of a window ignores that window
    and the windows overlapping it (``usable[w]`` says which windows judge window w).
    """
    stack = np.stack([errors[n] for n in names], axis=-1)  # (series, windows, models)
    scored = ~np.isnan(stack)

    def order(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        total = np.where(scored[:, mask], stack[:, mask], 0.0).sum(axis=1)
        count = scored[:, mask].sum(axis=1)
        mean = np.where(count > 0, total / np.maximum(count, 1), np.inf)
        return np.argsort(mean, axis=1, kind="stable"), np.asarray(np.isfinite(mean).any(axis=1))

    windows = stack.shape[1]
    final, has = order(np.ones(windows, dtype=bool))
    held = np.empty((stack.shape[0], windows, len(names)), dtype=int)
    for w in range(windows):
        if usable is None:
            others = np.ones(windows, dtype=bool)
            others[w] = windows == 1
        else:
            others = usable[w]
        rank, ok = order(others)
        held[:, w] = np.where(ok[:, None], rank, final)
    return final, held, has
