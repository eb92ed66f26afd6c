"""Seasonal models, vectorised over a batch of series (each row's result depends on its row only).

- ``seasonal_indices``: classical multiplicative decomposition of the history before a cutoff —
  a centred 2×m moving average as the trend, the ratios to it averaged per calendar month
  (monthly data, m = 12), or a Fourier series of the 52.18-week year fitted to them by least
  squares (weekly data: a week's position in the year drifts, so integer lags do not fit).
  ``seasonal_ses`` / ``seasonal_damped`` / ``seasonal_theta`` are the non-seasonal models fitted
  on the seasonally adjusted series with the indices put back on the forecast (seasonal Theta as
  in Assimakopoulos & Nikolopoulos 2000 / Hyndman & Billah 2003).
- ``ets_add`` / ``ets_mul``: Holt-Winters exponential smoothing with a damped additive trend and
  an additive or multiplicative season (ETS(A,Ad,A) / ETS(A,Ad,M) in point-forecast form, the
  recursions of statsmodels' ``ExponentialSmoothing``), the four smoothing parameters fitted per
  series and cutoff by minimising the one-step squared error up to that cutoff: a coarse start
  grid, then a pattern search (coordinate steps, halved when no move improves) in an unbounded
  parametrisation of the admissible region 0 ≤ β ≤ α ≤ 1, 0 ≤ γ ≤ 1 − α, 0.8 ≤ φ ≤ 1.

A seasonal model is a candidate for a series only when that series' own history before the
cutoff holds ``MIN_SEASONS`` full seasons (and is mostly non-zero: a decomposition of
intermittent demand is noise); elsewhere its forecast is NaN.
"""

from __future__ import annotations

import numpy as np

# the length of a year in periods (weekly: 365.25 / 7 = 52.18 weeks)
YEAR = {"W": 365.25 / 7, "M": 12.0}
MIN_SEASONS = 2
# Holt-Winters from one and a half seasons on: the first season gives the initial level and
# season, the second (when the history holds it) the initial trend
ETS_MIN_SEASONS = 1.5
FOURIER_TERMS = 10  # weekly: harmonics of the year in the seasonal index
MIN_NONZERO_SHARE = 0.8  # decomposition models: share of non-zero periods in the history
ETS_MIN_NONZERO = 0.5
PATTERN_ITERATIONS = 10
SEASONAL_MODELS = ("seasonal_ses", "seasonal_damped", "seasonal_theta", "ets_add", "ets_mul", "stl")


def season_length(freq: str) -> int:
    """Integer season (lags, moving averages, Holt-Winters states): 52 weeks or 12 months."""
    return int(round(YEAR[freq])) if freq in YEAR else 7


def history_stats(z: np.ndarray, c: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per row, over the history before ``c``: observations, non-zero share, min value, first column."""
    hist = z[:, :c]
    ok = ~np.isnan(hist)
    n = ok.sum(axis=1)
    nonzero = (np.where(ok, hist, 0.0) != 0).sum(axis=1)
    share = np.divide(nonzero, n, out=np.zeros(n.shape), where=n > 0)
    low = np.where(ok, hist, np.inf).min(axis=1) if c > 0 else np.full(z.shape[0], np.inf)
    start = np.where(n > 0, np.argmax(ok, axis=1), c)
    return n, share, low, start


def _trailing_mean(x: np.ndarray, width: int) -> np.ndarray:
    """Mean of x[t-width+1..t] (NaN unless all ``width`` values are observed)."""
    ok = ~np.isnan(x)
    zero = np.zeros((x.shape[0], 1))
    cs = np.concatenate([zero, np.cumsum(np.where(ok, x, 0.0), axis=1)], axis=1)
    cn = np.concatenate([zero, np.cumsum(ok, axis=1)], axis=1)
    out = np.full(x.shape, np.nan)
    if x.shape[1] >= width:
        s = cs[:, width:] - cs[:, :-width]
        n = cn[:, width:] - cn[:, :-width]
        out[:, width - 1 :] = np.where(n == width, s / width, np.nan)
    return out


def centred_ma(x: np.ndarray, m: int) -> np.ndarray:
    """The centred 2×m moving average (m even) of each row; NaN where the window is incomplete."""
    r = _trailing_mean(x, m)
    half = m // 2
    out = np.full(x.shape, np.nan)
    n = x.shape[1]
    if n > m:
        # cma_t = (R_{t+half} + R_{t+half-1}) / 2 for t with t + half < n
        out[:, : n - half] = np.nan
        t = np.arange(half, n - half)
        out[:, t] = (r[:, t + half] + r[:, t + half - 1]) / 2
    return out


def seasonal_indices(z: np.ndarray, c: int, freq: str, length: int) -> np.ndarray:
    """Multiplicative seasonal indices (series, length) from the history before ``c``.

    Ratio to the centred moving average, averaged per month (M) or fitted by a Fourier series of
    the 52.18-week year (W); normalised to average 1 over a year; clipped to [0.05, 20].
    Rows without a usable ratio get 1.
    """
    m = season_length(freq)
    hist = z[:, :c]
    trend = centred_ma(hist, m)
    ok = ~np.isnan(trend) & (trend > 0) & ~np.isnan(hist)
    ratio = np.where(ok, hist / np.where(ok, trend, 1.0), 0.0)
    t_all = np.arange(length)
    if freq == "M":
        idx = np.ones((z.shape[0], m))
        for p in range(m):
            cols = np.arange(p, c, m)
            n = ok[:, cols].sum(axis=1)
            idx[:, p] = np.divide(ratio[:, cols].sum(axis=1), n, out=np.ones(z.shape[0]), where=n > 0)
        idx = idx / idx.mean(axis=1, keepdims=True)
        out = idx[:, t_all % m]
    else:
        period = YEAR[freq]
        k = np.arange(1, FOURIER_TERMS + 1)
        ang = 2 * np.pi * np.outer(np.arange(length), k) / period
        basis = np.concatenate([np.ones((length, 1)), np.cos(ang), np.sin(ang)], axis=1)  # (length, p)
        b = basis[:c]
        w = ok.astype(float)
        gram = np.einsum("st,tj,tk->sjk", w, b, b) + 1e-6 * np.eye(b.shape[1])[None]
        rhs = np.einsum("st,tj->sj", w * ratio, b)
        coef = np.linalg.solve(gram, rhs[..., None])[..., 0]
        out = np.einsum("sj,tj->st", coef, basis)
        # normalise over one year of periods (the mean of the Fourier series is its constant)
        mean = coef[:, :1]
        out = np.divide(out, mean, out=np.ones_like(out), where=mean > 0)
    out = np.where(ok.any(axis=1)[:, None], out, 1.0)
    return np.clip(out, 0.05, 20.0)


# ---------------------------------------------------------------------------------------------
# Holt-Winters (damped additive trend; additive or multiplicative season)


def ets_initial(
    y: np.ndarray, m: int, multiplicative: bool, one_season: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Initial level, trend and season of left-aligned rows (each row's first 2m values observed,
    or m for the rows of ``one_season``): level = mean of the first season, trend = change of the
    seasonal means per period (0 for ``one_season`` rows: no second season to read it from),
    season = first season's deviations from (or ratios to) that level."""
    first = y[:, :m]
    second = y[:, m : 2 * m]
    level = first.mean(axis=1)
    trend = (second.mean(axis=1) - level) / m if second.shape[1] == m else np.zeros(y.shape[0])
    if one_season is not None:
        trend = np.where(one_season, 0.0, trend)
    season = first / level[:, None] if multiplicative else first - level[:, None]
    return level, trend, season


def ets_pass(
    y: np.ndarray,
    cut: np.ndarray,
    alpha: np.ndarray,
    beta: np.ndarray,
    gamma: np.ndarray,
    phi: np.ndarray,
    m: int,
    multiplicative: bool,
    init: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One pass of Holt-Winters over left-aligned rows ``y`` (n, T) for parameter sets (n, S, P).

    ``cut`` (n, S): observations used for snapshot s. Returns the one-step SSE up to each cut,
    and the level, trend (n, S, P) and season ring buffer (n, S, P, m; slot t mod m) at the cut.
    """
    n, t_len = y.shape
    shape = alpha.shape
    l0, b0, s0 = init
    level = np.broadcast_to(l0[:, None, None], shape).copy()
    trend = np.broadcast_to(b0[:, None, None], shape).copy()
    season = np.broadcast_to(s0[:, None, None, :], (*shape, m)).copy()
    sse = np.zeros(shape)
    t_max = int(cut.max()) if cut.size else 0
    for t in range(min(t_max, t_len)):
        yt = y[:, t][:, None, None]
        active = (t < cut)[:, :, None] & ~np.isnan(yt)
        j = t % m
        s_old = season[..., j]
        base = level + phi * trend
        if multiplicative:
            pred = base * s_old
            new_level = alpha * (yt / s_old) + (1 - alpha) * base
            new_season = gamma * (yt / base) + (1 - gamma) * s_old
        else:
            pred = base + s_old
            new_level = alpha * (yt - s_old) + (1 - alpha) * base
            new_season = gamma * (yt - base) + (1 - gamma) * s_old
        new_trend = beta * (new_level - level) + (1 - beta) * phi * trend
        err = np.where(active, yt - pred, 0.0)
        sse += err * err
        level = np.where(active, new_level, level)
        trend = np.where(active, new_trend, trend)
        season[..., j] = np.where(active, new_season, s_old)
    return sse, level, trend, season


def _params(u: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Unbounded u (..., 4) → admissible (alpha, beta, gamma, phi)."""
    s = 1 / (1 + np.exp(-u))
    alpha = 0.001 + 0.998 * s[..., 0]
    beta = alpha * s[..., 1]
    gamma = (1 - alpha) * s[..., 2]
    phi = 0.8 + 0.2 * s[..., 3]
    return alpha, beta, gamma, phi


_START = np.array(
    [[a, b, g, p] for a in (-2.0, 0.0, 1.5) for b in (-3.0, -1.0) for g in (-3.0, -1.0) for p in (0.0, 2.0)]
)


def ets_fit_forecast(
    y: np.ndarray, cut: np.ndarray, horizon: int, m: int, multiplicative: bool, one_season: np.ndarray | None = None
) -> np.ndarray:
    """Fitted Holt-Winters forecasts (n, S, horizon) of left-aligned rows at each cut (n, S);
    ``one_season`` rows start without a trend (``ets_initial``)."""
    n, n_snaps = cut.shape
    init = ets_initial(y, m, multiplicative, one_season)

    def run(u: np.ndarray) -> tuple[np.ndarray, ...]:
        a, b, g, p = _params(u)
        return (*ets_pass(y, cut, a, b, g, p, m, multiplicative, init), a, b, g, p)

    # coarse start: the best of a small grid per series and cut
    grid = np.broadcast_to(_START[None, None], (n, n_snaps, *_START.shape))
    sse = run(grid)[0]
    sse = np.where(np.isfinite(sse), sse, np.inf)
    best = np.argmin(sse, axis=2)
    u = np.take_along_axis(grid, best[:, :, None, None], axis=2)[:, :, 0]  # (n, S, 4)
    cur = np.take_along_axis(sse, best[:, :, None], axis=2)[:, :, 0]
    step = np.full((n, n_snaps), 1.0)
    moves = np.concatenate([np.eye(4), -np.eye(4)])  # (8, 4)
    for _ in range(PATTERN_ITERATIONS):
        trial = u[:, :, None, :] + step[:, :, None, None] * moves[None, None]
        t_sse = run(trial)[0]
        t_sse = np.where(np.isfinite(t_sse), t_sse, np.inf)
        k = np.argmin(t_sse, axis=2)
        k_sse = np.take_along_axis(t_sse, k[:, :, None], axis=2)[:, :, 0]
        better = k_sse < cur * (1 - 1e-9)
        chosen = np.take_along_axis(trial, k[:, :, None, None], axis=2)[:, :, 0]
        u = np.where(better[..., None], chosen, u)
        cur = np.where(better, k_sse, cur)
        step = np.where(better, step, step / 2)
    _, level, trend, season, _, _, _, phi = run(u[:, :, None, :])
    level, trend, phi, season = level[..., 0], trend[..., 0], phi[..., 0], season[:, :, 0]
    k = np.arange(1, horizon + 1)
    damp = np.cumsum(phi[..., None] ** k, axis=-1)  # (n, S, h)
    base = level[..., None] + trend[..., None] * damp
    slots = (cut[..., None] + k - 1) % m  # (n, S, h)
    s = np.take_along_axis(season, slots, axis=2)
    out = base * s if multiplicative else base + s
    return np.where(np.isfinite(out), out, np.nan)


def align_left(z: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Rows shifted so that each starts at column 0 (NaN padding on the right)."""
    t = np.arange(z.shape[1])
    idx = start[:, None] + t[None, :]
    ok = idx < z.shape[1]
    return np.where(ok, z[np.arange(z.shape[0])[:, None], np.minimum(idx, z.shape[1] - 1)], np.nan)


def ets_forecasts(z: np.ndarray, snaps: list[int], horizon: int, freq: str) -> dict[str, np.ndarray]:
    """``ets_add`` / ``ets_mul`` forecasts (series, snaps, h); NaN where a series lacks
    ``ETS_MIN_SEASONS`` seasons before the cutoff, is mostly zero, or (multiplicative) not
    positive. A series with fewer than two seasons before one of its cutoffs starts without a
    trend at all of them (the initial trend would read values after that cutoff)."""
    m = season_length(freq)
    n_series = z.shape[0]
    out = {name: np.full((n_series, len(snaps), horizon), np.nan) for name in ("ets_add", "ets_mul")}
    if not snaps:
        return out
    n, share, low, start = history_stats(z, max(snaps))
    # a series is fitted from its first observation; observations after it are contiguous
    for name, mult in (("ets_add", False), ("ets_mul", True)):
        elig = np.zeros((n_series, len(snaps)), dtype=bool)
        for i, c in enumerate(snaps):
            n_c, share_c, low_c, start_c = history_stats(z, c)
            ok = (n_c >= ETS_MIN_SEASONS * m) & (share_c >= ETS_MIN_NONZERO)
            if mult:
                ok &= low_c > 0
            elig[:, i] = ok
        rows = np.flatnonzero(elig.any(axis=1))
        if rows.size == 0:
            continue
        ya = align_left(z[rows], start[rows])
        cut = np.array(snaps)[None, :] - start[rows, None]
        one = (elig[rows] & (cut < 2 * m)).any(axis=1)
        cut = np.where(elig[rows], cut, int(np.ceil(ETS_MIN_SEASONS * m)))  # ineligible snaps: a cheap dummy, masked below
        fc = ets_fit_forecast(ya, cut, horizon, m, mult, one)
        out[name][rows] = np.where(elig[rows][..., None], fc, np.nan)
    return out


def decomposition_eligible(z: np.ndarray, c: int, freq: str) -> np.ndarray:
    m = season_length(freq)
    n, share, _, _ = history_stats(z, c)
    return (n >= MIN_SEASONS * m) & (share >= MIN_NONZERO_SHARE)


# ---------------------------------------------------------------------------------------------
# STL (Cleveland et al. 1990), non-robust: a linear operator on a series of a given length
#
# Every step of non-robust STL — loess smoothing of the cycle-subseries, the low-pass filter
# (three moving averages and a loess), the trend loess — is a fixed linear combination of the
# values, so for a length n the seasonal and trend components are S = A_n y and T = B_n y. The
# matrices follow statsmodels' STL (a port of the original Fortran) step by step; they are
# built once per length and applied to every series of that length at once.

STL_SEASONAL = 7  # the seasonal smoother's span (statsmodels' default)
STL_INNER = 5  # inner iterations (statsmodels' default without robustness)
STL_MAX_SEASONS = 6  # STL on the last whole seasons of a series, at most 6 (bounds the matrices)


def _loess_weights(n: int, span: int, degree: int, xs: int, nleft: int, nright: int) -> np.ndarray:
    """Weights (n,) of the loess estimate at position ``xs`` (1-based) from points nleft..nright."""
    h = max(xs - nleft, nright - xs)
    if span > n:
        h += (span - n) // 2
    j = np.arange(nleft, nright + 1, dtype=float)
    r = np.abs(j - xs)
    w = np.where(r <= 0.001 * h, 1.0, np.where(r <= 0.999 * h, (1.0 - (r / max(h, 1e-300)) ** 3) ** 3, 0.0))
    out = np.zeros(n)
    if w.sum() <= 0:  # (statsmodels: NaN, replaced by the point itself)
        out[xs - 1] = 1.0
        return out
    w = w / w.sum()
    if h > 0 and degree > 0:
        a = (w * j).sum()
        c = (w * (j - a) ** 2).sum()
        if np.sqrt(c) > 0.001 * (n - 1.0):
            w = w * ((xs - a) / c * (j - a) + 1.0)
    out[nleft - 1 : nright] = w
    return out


def _loess_matrix(n: int, span: int, degree: int) -> np.ndarray:
    """(n, n) loess smoother at every point (statsmodels' ``_ess`` with jump 1)."""
    if n < 2:
        return np.eye(n)
    rows = []
    if span >= n:
        rows = [_loess_weights(n, span, degree, i + 1, 1, n) for i in range(n)]
    else:
        nsh = (span + 2) // 2
        nleft, nright = 1, span
        for i in range(n):
            if i + 1 > nsh and nright != n:
                nleft, nright = nleft + 1, nright + 1
            rows.append(_loess_weights(n, span, degree, i + 1, nleft, nright))
    return np.array(rows)


def _moving_average(n: int, width: int) -> np.ndarray:
    """(n - width + 1, n) running mean."""
    out = np.zeros((n - width + 1, n))
    for i in range(n - width + 1):
        out[i, i : i + width] = 1.0 / width
    return out


def stl_params(period: int) -> tuple[int, int, int]:
    """(seasonal, trend, low_pass) spans: statsmodels' defaults for ``period``."""
    trend = int(np.ceil(1.5 * period / (1 - 1.5 / STL_SEASONAL)))
    trend += trend % 2 == 0
    low_pass = period + 1
    low_pass += low_pass % 2 == 0
    return STL_SEASONAL, trend, low_pass


_STL_CACHE: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}


def stl_operator(n: int, period: int) -> tuple[np.ndarray, np.ndarray]:
    """(A, B), each (n, n): STL's seasonal component is A @ y and its trend B @ y for a series of
    length n ≥ 2 × period (statsmodels' STL at its defaults: seasonal 7, degree 1 throughout,
    jumps 1, ``STL_INNER`` inner iterations, not robust)."""
    key = (n, period)
    if key in _STL_CACHE:
        return _STL_CACHE[key]
    ns, nt, nl = stl_params(period)
    big = n + 2 * period
    # cycle-subseries smoothing, each subseries extended by one value at either end
    sub = np.zeros((big, n))
    for j in range(period):
        idx = np.arange(j, n, period)
        k = idx.size
        smooth = np.zeros((k + 2, k))
        smooth[1 : k + 1] = _loess_matrix(k, ns, 1)
        smooth[0] = _loess_weights(k, ns, 1, 0, 1, min(ns, k)) if k >= 1 else 0.0
        smooth[k + 1] = _loess_weights(k, ns, 1, k + 1, max(1, k - ns + 1), k)
        sub[np.ix_(np.arange(k + 2) * period + j, idx)] = smooth
    low = _loess_matrix(n, nl, 1) @ _moving_average(n + 2, 3) @ _moving_average(n + period + 1, period) @ _moving_average(big, period)
    centre = np.zeros((n, big))
    centre[np.arange(n), period + np.arange(n)] = 1.0
    q = (centre - low) @ sub  # season from the detrended series
    r = _loess_matrix(n, nt, 1)  # trend from the deseasonalised series
    eye = np.eye(n)
    trend = np.zeros((n, n))
    season = np.zeros((n, n))
    for _ in range(STL_INNER):
        season = q @ (eye - trend)
        trend = r @ (eye - season)
    _STL_CACHE[key] = (season, trend)
    return season, trend


def stl_forecasts(z: np.ndarray, snaps: list[int], horizon: int, freq: str) -> np.ndarray:
    """``stl``: STL's seasonal component (period 52 weeks / 12 months; on the logarithm of a
    positive series, so that a growing amplitude stays proportional) repeated from the last
    season, plus exponential smoothing of the seasonally adjusted series (the SES / damped-trend
    grid point of least one-step squared error). Fitted at each cutoff on the last whole seasons
    (at most ``STL_MAX_SEASONS``) of the history before it, for the series that hold two full
    seasons there and are mostly non-zero (``decomposition_eligible``). (series, snaps, h)."""
    from c2m_cli.forecast.models import _grid, damped_path, es_pass

    m = season_length(freq)
    n_series = z.shape[0]
    out = np.full((n_series, len(snaps), horizon), np.nan)
    alpha, beta, phi, _ = _grid()
    k = np.arange(horizon)
    for i, c in enumerate(snaps):
        elig = decomposition_eligible(z, c, freq)
        if not elig.any():
            continue
        n_obs, _, low, start = history_stats(z, c)
        # whole seasons only: at most STL_MAX_SEASONS − 1 operators per period length
        length = np.minimum(n_obs // m, STL_MAX_SEASONS) * m
        for n in np.unique(length[elig]):
            rows = np.flatnonzero(elig & (length == n))
            window = z[rows, c - n : c]
            if np.isnan(window).any():  # (a gap inside the history: not decomposed)
                keep = ~np.isnan(window).any(axis=1)
                rows, window = rows[keep], window[keep]
                if rows.size == 0:
                    continue
            logged = low[rows] > 0
            x = np.where(logged[:, None], np.log(np.where(logged[:, None], window, 1.0)), window)
            season_op, _ = stl_operator(int(n), m)
            season = x @ season_op.T
            level, trend, sse, _ = es_pass(x - season, alpha, beta, phi, [int(n)])
            best = np.argmin(sse[:, 0], axis=1)
            pick = np.arange(rows.size)
            path = damped_path(level[pick, 0, best], trend[pick, 0, best], phi[best], horizon)
            future = season[:, n - m + (k % m)]
            fc = path + future
            out[rows, i] = np.where(logged[:, None], np.exp(np.clip(fc, -50, 50)), fc)
    return out
