"""Rolling-origin backtest: cutoffs, per-series model selection and accuracy metrics."""

from __future__ import annotations

import numpy as np

N_WINDOWS = 12
MIN_TRAIN = {"D": 28, "W": 8, "M": 6}


LATE_WINDOWS = 6
RECENT_WINDOWS = 3


def make_cutoffs(
    n_periods: int,
    horizon: int,
    freq: str,
    windows: int = N_WINDOWS,
    late_from: list[int] | None = None,
    recent: int = RECENT_WINDOWS,
) -> list[int]:
    """Training lengths of the backtest windows, oldest first (empty when history is too short).

    ``windows`` rolling origins (12 by default: more residuals for the intervals of the few
    aggregate series), half a horizon apart, the last one ``horizon`` periods before
    the end (the last window is a full horizon; later windows would be truncated). When history
    is too short they are spaced more closely, never with fewer than ``MIN_TRAIN`` periods of
    training.

    ``late_from``: training lengths a candidate needs (e.g. two seasons for a seasonal model,
    in order of preference); when the full-horizon windows all end before the first of them
    that the history can still reach, ``LATE_WINDOWS`` more origins are spread from it to the
    end of the history (their windows are truncated at the end), so that the candidate is judged.

    ``recent`` (``RECENT_WINDOWS`` by default): origins inside the last horizon, at n − round(h·j
    / (recent + 1)) for j = 1 … recent (truncated windows: 3, 6 and 10 periods for h = 13), so
    that the selection sees how each model follows the latest periods (a level shift, a stop)
    that the full-horizon windows end before.
    """
    cutoffs = _regular_cutoffs(n_periods, horizon, freq, windows)
    last = max(cutoffs) if cutoffs else -1
    if cutoffs and recent > 0:
        late_recent = {n_periods - int(round(horizon * j / (recent + 1))) for j in range(1, recent + 1)}
        cutoffs = sorted({*cutoffs, *(c for c in late_recent if last < c < n_periods)})
    for need in late_from or []:
        if last >= need:
            break
        if need <= n_periods - 2:
            step = max(1, (n_periods - 1 - need) // (LATE_WINDOWS - 1))
            late = range(need, n_periods, step)
            return sorted({*cutoffs, *late})
    return cutoffs


def _regular_cutoffs(n_periods: int, horizon: int, freq: str, windows: int) -> list[int]:
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


def series_scale(y: np.ndarray, n_train: int, season: int = 1) -> np.ndarray:
    """MASE denominator: mean absolute change over the first ``n_train`` periods — a season
    apart (the in-sample seasonal naive error) for a series with two seasons there, else one
    period apart
    (the engine passes the history before the last cutoff: a scale no evaluated target enters
    for the last window, and steadier than the first window's for products launched late).

    Falls back to the mean absolute level, then 1, so that a constant series still has a scale.
    """
    hist = y[:, :n_train]
    diffs = np.abs(np.diff(hist, axis=1))
    ok = ~np.isnan(diffs)
    n = ok.sum(axis=1)
    scale = np.where(n > 0, np.where(ok, diffs, 0.0).sum(axis=1) / np.maximum(n, 1), 0.0)
    if season > 1 and hist.shape[1] > season:
        sdiff = np.abs(hist[:, season:] - hist[:, :-season])
        s_ok = ~np.isnan(sdiff)
        s_n = s_ok.sum(axis=1)
        seasonal = np.where(s_n > 0, np.where(s_ok, sdiff, 0.0).sum(axis=1) / np.maximum(s_n, 1), 0.0)
        long = (~np.isnan(hist)).sum(axis=1) >= 2 * season
        scale = np.where(long & (seasonal > 0), seasonal, scale)
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
        err = np.abs(actual - fc)  # NaN where either is: no target (counts 0) or a missing forecast
        missing = (np.isnan(fc) & valid).any(axis=2)
        np.minimum(err, np.finfo(float).max, out=err)  # nan_to_num of a value ≥ 0: +inf → max, NaN → 0
        np.copyto(err, 0.0, where=np.isnan(err))
        mae = err.sum(axis=2) / np.maximum(n, 1)
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


MIN_EVALUATED = 2
# forecast pooling: only the candidates whose mean backtest error exceeds the best one's by at
# most POOL_SE standard errors of their per-window difference are combined (one-SE rule)
POOL_SE = 1.0
POOL_MAX = 3  # candidates the engine combines at most (its TOP_K)


def rank_models(
    errors: dict[str, np.ndarray],
    names: list[str],
    usable: np.ndarray | None = None,
    available: np.ndarray | None = None,
    pool_se: float = POOL_SE,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Models ranked by mean backtest error per series, over all windows and per held-out window.

    A model is a candidate for a series when it has a final forecast (``available`` (series,
    models)) and a backtest forecast in at least ``MIN_EVALUATED`` windows (a seasonal model
    exists only from two seasons of history on). The candidates of a series are compared on
    the same windows: those where all of them have a forecast (when there is none, each on its
    own windows).

    Returns (final ranking (series, models), held-out ranking (series, windows, models),
    whether a series has any scored window (series,), the number of candidates to combine per
    series and per series and held-out window — the ranked ones not measurably worse than the
    best: their mean error exceeds the best one's by at most ``pool_se`` standard errors of the
    per-window difference (the one-standard-error rule; a pool of forecasts as good as the best,
    in the spirit of Kourentzes, Barrow & Petropoulos 2019, "Another look at forecast selection
    and combination: evidence from forecast pooling"); the engine averages at most its top k of
    them); rankings are indices into ``names``, best first, ties to the earlier name,
    non-candidates last. The held-out ranking of a window w is judged on the windows
    ``usable[w]`` (the engine passes the windows that end before w starts: what a forecast made
    at w's cutoff could have judged; None: every other window) and ranks only the models that
    forecast window w. Where those windows judge none of a series' candidates, its held-out
    count is 0 (no held-out ranking: the engine uses its default there).
    """
    stack = np.stack([errors[n] for n in names], axis=-1)  # (series, windows, models)
    truth = ~np.isnan(stack).all(axis=2)  # (series, windows): a target to score
    has_fc = np.isfinite(stack)
    cand = has_fc.sum(axis=1) >= min(MIN_EVALUATED, stack.shape[1])
    if available is not None:
        cand &= available
    # windows where every candidate of the series has a forecast
    common = truth & (has_fc | ~cand[:, None, :]).all(axis=2)
    no_common = ~common.any(axis=1)
    base = np.where(no_common[:, None, None], has_fc, has_fc & common[:, :, None])

    # each window's errors where judged (0 elsewhere) and judged flags: a mask's sums add its
    # windows in order (the floats of a masked sum over the window axis), no copy per mask
    judged = np.ascontiguousarray(np.where(base, stack, 0.0).transpose(1, 0, 2))  # (windows, series, models)
    judged_n = np.ascontiguousarray(base.transpose(1, 0, 2)).astype(np.int64)
    # (series, models, windows): a model's windows side by side, gathered for the leading ones
    stack_m = np.ascontiguousarray(stack.transpose(0, 2, 1))
    base_m = np.ascontiguousarray(base.transpose(0, 2, 1))
    rows = np.arange(stack.shape[0])[:, None]

    def order(mask: np.ndarray, extra: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        total = np.zeros((stack.shape[0], stack.shape[2]))
        count = np.zeros((stack.shape[0], stack.shape[2]), dtype=np.int64)
        for w in np.flatnonzero(mask):
            total += judged[w]
            count += judged_n[w]
        ok = cand if extra is None else cand & extra
        mean = np.where((count > 0) & ok, total / np.maximum(count, 1), np.inf)
        finite = np.isfinite(mean)
        ranking = np.argsort(mean, axis=1, kind="stable")
        # per-window differences of the leading POOL_MAX to the best, on the windows both were
        # judged on (the engine combines at most that many)
        top = ranking[:, :POOL_MAX]
        m_top = np.ascontiguousarray(base_m[rows, top].transpose(0, 2, 1)) & mask[None, :, None]  # (series, windows, k)
        vals = np.where(m_top, np.ascontiguousarray(stack_m[rows, top].transpose(0, 2, 1)), np.nan)
        diff = vals - vals[:, :, :1]
        n_d = (~np.isnan(diff)).sum(axis=1)
        d_sum = np.nansum(diff, axis=1)
        d_mean = np.divide(d_sum, n_d, out=np.full(d_sum.shape, np.inf), where=n_d > 0)
        dev = np.where(np.isnan(diff), 0.0, diff - d_mean[:, None, :])
        var = np.divide((dev * dev).sum(axis=1), n_d - 1, out=np.zeros(d_sum.shape), where=n_d > 1)
        se = np.sqrt(var / np.maximum(n_d, 1))
        ok_top = np.take_along_axis(finite, ranking[:, :POOL_MAX], axis=1)
        pooled = ok_top & (d_mean <= pool_se * se)
        pooled[:, 0] = ok_top[:, 0]
        # the pool is the leading run of the ranking (the engine combines the first ones)
        lead = np.cumprod(pooled, axis=1)
        return ranking, np.asarray(finite.any(axis=1)), lead.sum(axis=1)

    windows = stack.shape[1]
    final, has, n_ok = order(np.ones(windows, dtype=bool))
    held = np.empty((stack.shape[0], windows, len(names)), dtype=int)
    held_ok = np.empty((stack.shape[0], windows), dtype=int)
    for w in range(windows):
        if usable is None:
            others = np.ones(windows, dtype=bool)
            others[w] = windows == 1
        else:
            others = usable[w]
        if not others.any():  # nothing judges this window: no held-out ranking (as order() finds)
            held[:, w], held_ok[:, w] = final, 0
            continue
        at_w = has_fc[:, w] | ~truth[:, w, None]
        rank, ok, n_w = order(others, at_w)
        held[:, w] = np.where(ok[:, None], rank, final)
        held_ok[:, w] = np.where(ok, n_w, 0)
    return final, held, has, n_ok, held_ok
