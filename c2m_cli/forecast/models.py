"""Per-series models, vectorised with numpy over a batch of series and a parameter grid.

Every model here is a function of one series alone: a batch is only stacked rows, and a row's
result does not depend on its neighbours, so any split of the series over processes or Dask
workers gives the same numbers.

One pass of each recursion over a series yields its state at every backtest cutoff and at the
end. Smoothing parameters are chosen at each cutoff by the one-step squared error *up to that
cutoff* (a grid search over the batch at once), so the backtest is leak-free without refitting.

- ``naive``, ``seasonal_naive``: baselines on the raw series.
- ``ses`` (simple exponential smoothing), ``damped`` (additive damped-trend ETS(A,Ad,N)),
  ``theta`` (the standard Theta method: SES with half the linear-trend drift, Hyndman & Billah
  2003), ``croston``, ``sba`` (Syntetos–Boylan), ``tsb`` (Teunter–Syntetos–Babai), ``adida``
  (temporal aggregation to the mean inter-demand interval, SES, even split): fitted on the
  festival-adjusted series, festival effects put back on the forecast.
- seasonal models (``seasonal.py``) for weekly and monthly data: ``seasonal_ses``,
  ``seasonal_damped``, ``seasonal_theta`` (the models above on the classically deseasonalised
  series) and ``ets_add`` / ``ets_mul`` (Holt-Winters with fitted parameters), each only for the
  series whose own history holds two full seasons before the cutoff.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from c2m_cli.forecast.seasonal import (
    SEASONAL_MODELS,
    YEAR,
    decomposition_eligible,
    ets_forecasts,
    seasonal_indices,
    stl_forecasts,
)

SES_ALPHAS = np.array([0.1, 0.02, 0.05, 0.15, 0.2, 0.3, 0.4, 0.5, 0.65, 0.8, 0.95])
HOLT_ALPHAS = np.array([0.1, 0.05, 0.2, 0.3, 0.5, 0.8])
HOLT_BETAS = np.array([0.05, 0.01, 0.15])  # Holt's beta as a share of alpha (beta = alpha × share)
HOLT_PHIS = np.array([0.9, 0.8, 0.95, 0.98])
# smoothing values tried for Croston / SBA / TSB (fitted per series and cutoff; 0.1 first)
INTERMITTENT_ALPHAS = np.array([0.1, 0.05, 0.2, 0.3, 0.5])
ADI_CUT, CV2_CUT = 1.32, 0.49  # Syntetos, Boylan & Croston (2005)
TREND_CLASSES = ("smooth", "erratic")  # the demand classes that get the damped-trend candidate
# a series has stopped selling when its history ends in STOP_RUN or more zero periods that are
# improbable (< STOP_LEVEL) under the zero rate of the STOP_WINDOW periods before them; daily
# data: four weeks of zeros against the quarter before (a closed weekend or holiday is no stop)
STOP_RUN = {"D": 28, "W": 3, "M": 3}
STOP_WINDOW = {"D": 91, "W": 13, "M": 13}
STOP_LEVEL = 0.01

# robust SES (Gelper, Fried & Croux 2010): one-step errors clipped at ROBUST_K × their smoothed
# absolute size (smoothing ROBUST_LAMBDA, plain running mean over the first ROBUST_WARMUP errors)
ROBUST_K, ROBUST_LAMBDA, ROBUST_WARMUP = 2.0, 0.1, 5

SMOOTH_MODELS = ("ses", "damped", "theta")
INTERMITTENT_MODELS = ("croston", "sba", "tsb", "adida")
BASELINES = ("naive", "seasonal_naive")
MODELS = BASELINES + SMOOTH_MODELS + ("ses_robust",) + INTERMITTENT_MODELS + ("ensemble",) + SEASONAL_MODELS


@dataclass
class BatchTask:
    """A batch of series and what to compute for it (all arrays row-aligned).

    With ``path`` the arrays are not carried: the task reads its partition (a Parquet file of
    columns ``row``, ``y``, ``mult_backtest``, ``mult_final``, written by ``write_partition``)
    with polars where it runs — a Dask worker on storage it shares with the client.
    """

    y: np.ndarray  # (series, T) raw history, NaN before a series starts
    mult_backtest: np.ndarray  # (series, T + horizon) festival multipliers known at the cutoffs
    mult_final: np.ndarray  # (series, T + horizon) festival multipliers from all history
    cutoffs: list[int]  # training lengths of the backtest windows
    horizon: int
    season: int
    freq: str = ""  # W or M: seasonal models too
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    path: str | None = None


def write_partition(path: str, rows: np.ndarray, y: np.ndarray, m_bt: np.ndarray, m_fc: np.ndarray) -> None:
    """One partition of a level's series (rows of its matrices) as a Parquet file."""
    import polars as pl

    pl.DataFrame({"row": rows, "y": y, "mult_backtest": m_bt, "mult_final": m_fc}).write_parquet(path)


def load_partition(task: BatchTask) -> BatchTask:
    """The task with its arrays read from its partition file (unchanged without a path)."""
    if task.path is None:
        return task
    import polars as pl

    part = pl.read_parquet(task.path)
    y, m_bt, m_fc = (np.asarray(part[c].to_numpy(), dtype=float).reshape(part.height, -1) for c in ("y", "mult_backtest", "mult_final"))
    return BatchTask(y, m_bt, m_fc, task.cutoffs, task.horizon, task.season, task.freq, task.extra)


def _grid() -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """SES grid (beta = 0, phi = 1) followed by the damped-trend grid."""
    a, b, p = np.meshgrid(HOLT_ALPHAS, HOLT_BETAS, HOLT_PHIS, indexing="ij")
    alphas = np.concatenate([SES_ALPHAS, a.ravel()])
    betas = np.concatenate([np.zeros(SES_ALPHAS.size), (a * b).ravel()])
    phis = np.concatenate([np.ones(SES_ALPHAS.size), p.ravel()])
    return alphas, betas, phis, SES_ALPHAS.size


def first_observed(z: np.ndarray) -> np.ndarray:
    """(series,) int: each row's first non-NaN period (the number of periods when it has none)."""
    observed = ~np.isnan(z)
    return np.where(observed.any(axis=1), np.argmax(observed, axis=1), z.shape[1])


def leading_rows(z: np.ndarray) -> np.ndarray:
    """(periods,) int: at each period t, the number of leading rows of ``z`` a smoothing
    recursion updates — one more than the last row observed at or before t (0: none yet).

    A recursion leaves a row that has not started exactly as it was (its error is 0 and nothing
    is counted: the update is a no-op, the same floats), so the rows after that one are skipped
    at t. Rows in order of their first observation (``engine._split``) make the skipped block
    all the rows not started yet; in any other order fewer are skipped, never a row that
    has started."""
    n_series, n_periods = z.shape
    last = np.full(n_periods + 1, -1)
    np.maximum.at(last, first_observed(z), np.arange(n_series))
    return np.maximum.accumulate(last[:n_periods]) + 1


def es_pass(
    z: np.ndarray, alpha: np.ndarray, beta: np.ndarray, phi: np.ndarray, snaps: list[int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Exponential smoothing (error-correction form) over a grid of parameters.

    Returns level, trend and cumulative one-step SSE after ``c`` observations for each ``c`` in
    ``snaps`` (shape (series, snaps, grid)), and the number of observations seen (series, snaps).
    A series starts at its first non-NaN value (level = that value, trend = 0).

    A series whose only missing values come before its start (the usual case) is run without
    masks: its missing prefix is filled with its first value, so that until its start — and at
    it — the one-step error is exactly 0 and level, trend and SSE stay at their initial values
    (the same floats as skipping those periods); a batch with a gap after a start is run with
    per-period masks (``_es_pass_masked``).
    """
    n_series, n_periods = z.shape
    missing = np.isnan(z)
    started = np.cumsum(~missing, axis=1)
    if (missing & (started > 0)).any():
        return _es_pass_masked(z, alpha, beta, phi, snaps)
    first = np.argmax(~missing, axis=1)
    y0 = np.where(started[:, -1] > 0, z[np.arange(n_series), first], 0.0) if n_periods else np.zeros(n_series)
    filled = np.where(missing, y0[:, None], z)
    g = alpha.size
    level = np.repeat(y0[:, None], g, axis=1)
    trend = np.zeros((n_series, g))
    sse = np.zeros((n_series, g))
    out_l = np.full((n_series, len(snaps), g), np.nan)
    out_b = np.zeros((n_series, len(snaps), g))
    out_s = np.zeros((n_series, len(snaps), g))
    out_n = np.zeros((n_series, len(snaps)))
    where = {c: i for i, c in enumerate(snaps)}
    flat = bool(np.all(beta == 0.0) and np.all(phi == 1.0))  # SES: the trend stays 0
    ab = alpha * beta
    # in place, into buffers allocated once (the same operations in the same order), on the
    # rows started so far (``leading_rows``; a row not started has error 0 until its start)
    buffers = [np.empty((n_series, g)) for _ in range(4)]
    reach = leading_rows(z)
    for t in range(n_periods):
        k = int(reach[t])
        y = filled[:k, t : t + 1]
        lv, tr, ss = level[:k], trend[:k], sse[:k]
        err, tmp, pt, pred = (b[:k] for b in buffers)
        if flat:  # err = y − level; sse += err²; level += α·err
            np.subtract(y, lv, out=err)
            np.multiply(err, err, out=tmp)
            ss += tmp
            np.multiply(alpha, err, out=tmp)
            lv += tmp
        else:  # pred = level + φ·trend; err = y − pred; level = pred + α·err; trend = φ·trend + αβ·err
            np.multiply(phi, tr, out=pt)
            np.add(lv, pt, out=pred)
            np.subtract(y, pred, out=err)
            np.multiply(err, err, out=tmp)
            ss += tmp
            np.multiply(alpha, err, out=tmp)
            np.add(pred, tmp, out=lv)
            np.multiply(ab, err, out=tmp)
            np.add(pt, tmp, out=tr)
        i = where.get(t + 1)
        if i is not None:
            seen = started[:, t]
            out_l[:, i] = np.where(seen[:, None] > 0, level, np.nan)
            out_b[:, i], out_s[:, i], out_n[:, i] = trend, sse, seen
    return out_l, out_b, out_s, out_n


def _es_pass_masked(
    z: np.ndarray, alpha: np.ndarray, beta: np.ndarray, phi: np.ndarray, snaps: list[int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``es_pass`` for series with missing values after their start (no update there)."""
    n_series, n_periods = z.shape
    g = alpha.size
    level = np.full((n_series, g), np.nan)
    trend = np.zeros((n_series, g))
    sse = np.zeros((n_series, g))
    seen = np.zeros(n_series)
    out_l = np.full((n_series, len(snaps), g), np.nan)
    out_b = np.zeros((n_series, len(snaps), g))
    out_s = np.zeros((n_series, len(snaps), g))
    out_n = np.zeros((n_series, len(snaps)))
    where = {c: i for i, c in enumerate(snaps)}
    ab = alpha * beta
    reach = leading_rows(z)  # the rows started so far (the others have no update yet)
    for t in range(n_periods):
        k = int(reach[t])
        y = z[:k, t : t + 1]
        has = ~np.isnan(y)
        lv, tr = level[:k], trend[:k]
        fresh = has & np.isnan(lv)
        upd = has & ~fresh
        pred = lv + phi * tr
        err = np.where(upd, y - pred, 0.0)
        sse[:k] += err * err
        level[:k] = np.where(fresh, y, np.where(upd, pred + alpha * err, lv))
        trend[:k] = np.where(upd, phi * tr + ab * err, tr)
        seen[:k] += has[:, 0]
        i = where.get(t + 1)
        if i is not None:
            out_l[:, i], out_b[:, i], out_s[:, i], out_n[:, i] = level, trend, sse, seen
    return out_l, out_b, out_s, out_n


def _pick(sse: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Index (lo..hi) of the smallest SSE per row; ties go to the first (the grid's default)."""
    return lo + np.argmin(sse[..., lo:hi], axis=-1)


def damped_path(level: np.ndarray, trend: np.ndarray, phi: np.ndarray, horizon: int) -> np.ndarray:
    """l + (phi + ... + phi^k) b for k = 1..horizon; inputs (...,), output (..., horizon)."""
    k = np.arange(1, horizon + 1)
    weights = np.where(
        np.isclose(phi[..., None], 1.0),
        k * 1.0,
        phi[..., None] * (1 - phi[..., None] ** k) / np.where(np.isclose(phi, 1.0), 0.5, 1 - phi)[..., None],
    )
    return level[..., None] + trend[..., None] * weights


def croston_pass(z: np.ndarray, snaps: list[int]) -> dict[str, np.ndarray]:
    """Croston, SBA and TSB forecasts (flat over the horizon) after ``c`` obs, c in snaps.

    The smoothing parameters are fitted per series and cutoff: every value of
    ``INTERMITTENT_ALPHAS`` (Croston / SBA: one α for size and interval; TSB: α for the size,
    β for the demand probability, on the grid's pairs) is run at once, and the one with the
    smallest one-step squared error up to the cutoff is kept (ties: the first, 0.1).
    """
    n_series, n_periods = z.shape
    a = INTERMITTENT_ALPHAS[None, :]  # Croston / SBA; TSB: its size's α and its probability's β
    g1 = a.shape[1]
    size = np.full((n_series, g1), np.nan)
    interval = np.full((n_series, g1), np.nan)
    since = np.zeros(n_series)
    started = np.zeros(n_series, dtype=bool)
    seen = np.zeros(n_series)
    # TSB's grid is every (α, β) pair, flattened α-major; its size depends on α only and its
    # demand probability on β only, so each is smoothed once per value, paired in the rate
    prob = np.full((n_series, g1), np.nan)  # by β
    tsb_size = np.full((n_series, g1), np.nan)  # by α
    sse_c = np.zeros((n_series, g1))
    sse_s = np.zeros((n_series, g1))
    sse_t = np.zeros((n_series, g1 * g1))
    out = {m: np.full((n_series, len(snaps)), np.nan) for m in ("croston", "sba", "tsb")}
    where = {c: i for i, c in enumerate(snaps)}

    def rates(k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The first ``k`` rows' forecasts (Croston, SBA, TSB's grid) from their state now."""
        iv, sz = interval[:k], size[:k]
        # one demand so far: its size spread over the periods seen
        gap = np.where(np.isnan(iv), np.maximum(seen[:k], 1.0)[:, None], iv)
        rate = np.where(np.isnan(sz), 0.0, sz / gap)
        # 0 until both exist (NaN read as 0: a product with a 0 factor is 0, both are finite ≥ 0)
        tsb = (np.nan_to_num(prob[:k])[:, None, :] * np.nan_to_num(tsb_size[:k])[:, :, None]).reshape(k, g1 * g1)
        return rate, rate * (1 - a / 2), tsb

    reach = leading_rows(z)  # the rows started so far (``leading_rows``: the others stay as they are)
    for t in range(n_periods):
        k = int(reach[t])
        y = z[:k, t]
        has = ~np.isnan(y)
        # one-step errors of the forecasts made before this period (from the second period on)
        if t > 0:
            rc, rs, rt = rates(k)
            scored = (has & started[:k]).astype(float)[:, None]  # 1 or 0: a squared error (finite) kept or made 0
            yv = np.where(has, y, 0.0)[:, None]
            for rate, sse in ((rc, sse_c[:k]), (rs, sse_s[:k]), (rt, sse_t[:k])):
                err = yv - rate
                err *= err
                err *= scored
                sse += err
        started[:k] |= has
        demand = has & (y > 0)
        sn = np.where(has, since[:k] + 1, since[:k])
        d2 = demand[:, None]
        yy = y[:, None]
        sz, iv = size[:k], interval[:k]
        first = d2 & np.isnan(sz)
        later = d2 & ~first
        size[:k] = np.where(first, yy, np.where(later, sz + a * (yy - sz), sz))
        # the interval starts at the first observed gap between two demands
        second = later & np.isnan(iv)
        sc = sn[:, None]
        interval[:k] = np.where(second, sc, np.where(later, iv + a * (sc - iv), iv))
        since[:k] = np.where(demand, 0.0, sn)
        seen[:k] += has
        d = demand.astype(float)[:, None]
        h2 = has[:, None]
        pb, ts = prob[:k], tsb_size[:k]
        prob_fresh = h2 & np.isnan(pb)
        prob[:k] = np.where(prob_fresh, d, np.where(h2, pb + a * (d - pb), pb))
        tsb_fresh = d2 & np.isnan(ts)
        tsb_size[:k] = np.where(tsb_fresh, yy, np.where(d2 & ~tsb_fresh, ts + a * (yy - ts), ts))
        i = where.get(t + 1)
        if i is not None:
            rc, rs, rt = rates(n_series)
            rows = np.arange(n_series)
            for name, rate, sse in (("croston", rc, sse_c), ("sba", rs, sse_s), ("tsb", rt, sse_t)):
                best = np.argmin(sse, axis=1)
                out[name][:, i] = np.where(started, rate[rows, best], np.nan)
    return out


def demand_class(z: np.ndarray, c: int) -> np.ndarray:
    """Syntetos–Boylan–Croston class of each series' history before ``c``: ``smooth``,
    ``erratic``, ``intermittent`` or ``lumpy`` by the average inter-demand interval (ADI, cut
    1.32) and the squared coefficient of variation of the non-zero sizes (CV², cut 0.49);
    ``none`` without two demands."""
    hist = np.nan_to_num(z[:, :c])
    seen = (~np.isnan(z[:, :c])).sum(axis=1)
    pos = hist > 0
    n = pos.sum(axis=1)
    adi = np.divide(seen, n, out=np.full(n.shape, np.inf), where=n > 0)
    mean = np.divide(hist.sum(axis=1), n, out=np.zeros(n.shape), where=n > 0)
    var = np.divide((np.where(pos, hist - mean[:, None], 0.0) ** 2).sum(axis=1), n, out=np.zeros(n.shape), where=n > 0)
    cv2 = np.divide(var, mean**2, out=np.zeros(n.shape), where=mean > 0)
    cls = np.where(adi < ADI_CUT, np.where(cv2 < CV2_CUT, "smooth", "erratic"), np.where(cv2 < CV2_CUT, "intermittent", "lumpy"))
    return np.where(n >= 2, cls, "none")


def adida(z: np.ndarray, c: int, ses_level: np.ndarray | None = None) -> np.ndarray:
    """ADIDA per series after ``c`` observations: per-period rate (series,).

    Each series is summed in buckets of its mean inter-demand interval (ending at ``c``), SES on
    the bucket sums (α by one-step squared error on ``SES_ALPHAS``), the level spread evenly
    over the bucket's periods. One smoothing pass for all widths: each row's buckets are
    right-aligned in one matrix, NaN before them. ``ses_level``: the SES level of every row after
    ``c`` (``smooth_core``'s, the same grid and criterion): a row of width 1 is SES itself."""
    hist = z[:, :c]
    seen = (~np.isnan(hist)).sum(axis=1)
    nonzero = (np.nan_to_num(hist) > 0).sum(axis=1)
    k = np.clip(np.rint(seen / np.maximum(nonzero, 1)), 1, np.maximum(seen, 1)).astype(int)
    out = np.full(z.shape[0], np.nan)
    todo = seen > 0
    if ses_level is not None:
        ones = todo & (k == 1)
        out[ones] = ses_level[ones]
        todo &= k > 1
    rows = np.flatnonzero(todo)
    if rows.size == 0:
        return out
    width = k[rows]
    buckets = c // width
    n_b = int(buckets.max())
    zero = np.zeros((rows.size, 1))
    csum = np.concatenate([zero, np.cumsum(np.nan_to_num(hist[rows]), axis=1)], axis=1)
    cnan = np.concatenate([zero, np.cumsum(np.isnan(hist[rows]), axis=1)], axis=1)
    back = np.arange(n_b)[None, :]  # bucket b counted from the end (0: the last)
    end = c - back * width[:, None]
    start = end - width[:, None]
    used = back < buckets[:, None]
    end, start = np.clip(end, 0, c), np.clip(start, 0, c)
    r = np.arange(rows.size)[:, None]
    sums = csum[r, end] - csum[r, start]
    # a bucket with any period before the start is NaN
    sums = np.where(used & (cnan[r, end] - cnan[r, start] == 0), sums, np.nan)[:, ::-1]
    alpha, beta, phi = SES_ALPHAS, np.zeros(SES_ALPHAS.size), np.ones(SES_ALPHAS.size)
    level, _, sse, n = es_pass(sums, alpha, beta, phi, [n_b])
    best = np.argmin(sse[:, 0], axis=1)
    rate = level[np.arange(rows.size), 0, best] / width
    # too short to make one full bucket: the plain mean rate
    fallback = np.nanmean(hist[rows], axis=1)
    out[rows] = np.where(n[:, 0] > 0, rate, fallback)
    return out


def _theta_drift(z: np.ndarray, c: int) -> tuple[np.ndarray, np.ndarray]:
    """OLS slope of the observed values before ``c`` and their count, per series."""
    hist = z[:, :c]
    ok = ~np.isnan(hist)
    n = ok.sum(axis=1)
    t = np.arange(c, dtype=float)[None, :]
    nn = np.maximum(n, 1)
    t_mean = np.where(ok, t, 0.0).sum(axis=1) / nn
    y_mean = np.where(ok, hist, 0.0).sum(axis=1) / nn
    dt = np.where(ok, t - t_mean[:, None], 0.0)
    num = (dt * np.where(ok, hist - y_mean[:, None], 0.0)).sum(axis=1)
    den = (dt * dt).sum(axis=1)
    slope = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
    return slope, n


def smooth_core(z: np.ndarray, snaps: list[int], horizon: int, trend: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """SES, damped trend and Theta after ``c`` obs, c in snaps: (series, snaps, h).

    ``trend`` (series,) bool: the rows the damped trend is fitted for (its grid is most of the
    cost); the others get NaN for it (no candidate there). Default: every row."""
    alpha, beta, phi, n_ses = _grid()
    n_series = z.shape[0]
    level, _, sse, seen = es_pass(z, alpha[:n_ses], beta[:n_ses], phi[:n_ses], snaps)
    rows = np.arange(n_series)[:, None]
    cols = np.arange(len(snaps))[None, :]
    out: dict[str, np.ndarray] = {}
    s = _pick(sse, 0, n_ses)
    ses_level = level[rows, cols, s]
    out["ses"] = np.repeat(ses_level[..., None], horizon, axis=2)
    damped = np.full(out["ses"].shape, np.nan)
    fit = np.arange(n_series) if trend is None else np.flatnonzero(trend)
    if fit.size:
        # the damped-trend grid on its own (each grid point's recursion is independent of the others)
        level_d, trend_d, sse_d, _ = es_pass(z[fit], alpha[n_ses:], beta[n_ses:], phi[n_ses:], snaps)
        d = _pick(sse_d, 0, alpha.size - n_ses)
        r = np.arange(fit.size)[:, None]
        damped[fit] = damped_path(level_d[r, cols, d], trend_d[r, cols, d], phi[n_ses:][d], horizon)
    out["damped"] = damped
    a = alpha[s]
    k = np.arange(1, horizon + 1)
    theta = np.empty_like(out["ses"])
    for i, c in enumerate(snaps):
        slope, n = _theta_drift(z, c)
        ai = a[:, i][:, None]
        drift = (k[None, :] - 1) + 1 / ai - ((1 - ai) ** n[:, None]) / ai
        theta[:, i] = ses_level[:, i][:, None] + slope[:, None] / 2 * drift
    out["theta"] = theta
    # a series with too few observations to smooth keeps its mean (no fabricated trend)
    few = seen < 3
    if few.any():
        out["theta"] = np.where(few[..., None], out["ses"], theta)
        out["damped"] = np.where(few[..., None] & ~np.isnan(damped), out["ses"], damped)
    return out


def robust_ses(z: np.ndarray, snaps: list[int], horizon: int) -> np.ndarray:
    """Outlier-robust simple exponential smoothing (Gelper, Fried & Croux 2010, "Robust
    forecasting with exponential and Holt-Winters smoothing", J. Forecasting 29): the level moves
    by α × the one-step error clipped to ±``ROBUST_K`` σ (Huber's ψ), σ the exponentially
    smoothed size of the clipped errors (a running mean over the first ``ROBUST_WARMUP``; at
    least 1 % of the level, so that a constant series can still follow a shift). A promotion
    spike or a stock-out moves the level by a bounded step. α is fitted per series and cutoff on
    the ``SES_ALPHAS`` grid by the sum of absolute one-step errors up to the cutoff (squared
    errors would let the spikes choose α). Returns (series, snaps, h), flat over the horizon."""
    n_series, n_periods = z.shape
    alpha = SES_ALPHAS[None, :]
    level = np.full((n_series, alpha.size), np.nan)
    sigma = np.zeros((n_series, alpha.size))
    loss = np.zeros((n_series, alpha.size))
    updates = np.zeros((n_series, 1))
    out = np.full((n_series, len(snaps)), np.nan)
    where = {c: i for i, c in enumerate(snaps)}
    rows = np.arange(n_series)
    reach = leading_rows(z)  # the rows started so far (``leading_rows``: the others stay as they are)
    for t in range(n_periods):
        k = int(reach[t])
        y = z[:k, t : t + 1]
        has = ~np.isnan(y)
        lv, sg, up = level[:k], sigma[:k], updates[:k]
        fresh = has & np.isnan(lv)
        upd = has & ~fresh
        err = np.where(upd, y - lv, 0.0)
        warm = up < ROBUST_WARMUP
        bound = ROBUST_K * np.maximum(sg, 0.01 * np.abs(np.nan_to_num(lv)))
        clipped = np.where(warm, err, np.clip(err, -bound, bound))
        loss[:k] += np.abs(err)
        size = np.abs(clipped)
        sigma[:k] = np.where(
            upd, np.where(warm, (sg * up + size) / (up + 1), (1 - ROBUST_LAMBDA) * sg + ROBUST_LAMBDA * size), sg
        )
        level[:k] = np.where(fresh, y, np.where(upd, lv + alpha * clipped, lv))
        up += upd[:, :1]
        i = where.get(t + 1)
        if i is not None:
            out[:, i] = level[rows, np.argmin(loss, axis=1)]
    return np.repeat(out[..., None], horizon, axis=2)


def smooth_forecasts(z: np.ndarray, snaps: list[int], horizon: int, trend: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Forecasts of every adjusted-scale model after ``c`` obs, c in snaps: (series, snaps, h);
    the damped trend only for the ``trend`` rows (``smooth_core``)."""
    out = smooth_core(z, snaps, horizon, trend)
    out["ses_robust"] = robust_ses(z, snaps, horizon)
    for name, rate in croston_pass(z, snaps).items():
        out[name] = np.repeat(rate[..., None], horizon, axis=2)
    ad = np.stack([adida(z, c, out["ses"][:, i, 0]) for i, c in enumerate(snaps)], axis=1)
    out["adida"] = np.repeat(ad[..., None], horizon, axis=2)
    return out


def decomposition_forecasts(z: np.ndarray, snaps: list[int], horizon: int, freq: str) -> dict[str, np.ndarray]:
    """SES, damped trend and Theta on the seasonally adjusted series, the seasonal indices (from
    the history before each cutoff) put back: (series, snaps, h); NaN where not eligible."""
    n_series = z.shape[0]
    out = {f"seasonal_{m}": np.full((n_series, len(snaps), horizon), np.nan) for m in SMOOTH_MODELS}
    for i, c in enumerate(snaps):
        rows = np.flatnonzero(decomposition_eligible(z, c, freq))
        if rows.size == 0:
            continue
        idx = seasonal_indices(z[rows], c, freq, c + horizon)
        adjusted = z[rows, :c] / idx[:, :c]
        core = smooth_core(adjusted, [c], horizon)
        for m in SMOOTH_MODELS:
            out[f"seasonal_{m}"][rows, i] = core[m][:, 0] * idx[:, c : c + horizon]
    return out


def stopped(y: np.ndarray, c: int, season: int = 0, freq: str = "W") -> np.ndarray:
    """Series (bool, (series,)) that stopped selling before ``c``: the history ends in a run of
    r ≥ ``STOP_RUN[freq]`` zero periods, and with z zeros among the w ≤ ``STOP_WINDOW[freq]`` observed
    periods before the run, ((z + 1) / (w + 2))^r < ``STOP_LEVEL`` — the run is improbable under
    the series' recent zero rate (Laplace's rule of succession), so the product was delisted or
    is out of stock rather than between two sales. A seasonal pause is not a stop: with
    ``season`` > 0 and the same periods a season earlier observed and all zero, the series is
    kept. A series that never sold is not flagged (its models already forecast zero)."""
    n_series = y.shape[0]
    hist = y[:, :c]
    pos = np.nan_to_num(hist) > 0
    any_pos = pos.any(axis=1)
    last = np.where(any_pos, c - 1 - np.argmax(pos[:, ::-1], axis=1), -1)
    run = c - 1 - last
    t = np.arange(c)[None, :]
    min_run, width = STOP_RUN.get(freq, STOP_RUN["W"]), STOP_WINDOW.get(freq, STOP_WINDOW["W"])
    window = (t < (c - run)[:, None]) & (t >= (c - run - width)[:, None]) & ~np.isnan(hist)
    w = window.sum(axis=1)
    z = (window & ~pos).sum(axis=1)
    prob = ((z + 1) / (w + 2)) ** run.astype(float)
    out = any_pos & (run >= min_run) & (prob < STOP_LEVEL)
    if season > 0 and c > season:
        past = (t >= (c - run - season)[:, None]) & (t < c - season)
        seen_past = (past & ~np.isnan(hist)).sum(axis=1)
        zero_past = (past & (np.nan_to_num(hist) == 0) & ~np.isnan(hist)).sum(axis=1)
        pause = (seen_past == np.minimum(run, c)) & (zero_past == seen_past) & (seen_past > 0)
        out &= ~pause
    return out if n_series else np.zeros(0, dtype=bool)


def baseline_forecasts(y: np.ndarray, snaps: list[int], horizon: int, season: int) -> dict[str, np.ndarray]:
    """Naive and seasonal naive on the raw series: (series, snaps, h)."""
    n_series = y.shape[0]
    naive = np.full((n_series, len(snaps), horizon), np.nan)
    snaive = np.full((n_series, len(snaps), horizon), np.nan)
    k = np.arange(horizon)
    for i, c in enumerate(snaps):
        if c >= 1:
            naive[:, i] = y[:, c - 1][:, None]
        idx = c - season + (k % season)
        if c >= season:
            snaive[:, i] = y[:, idx]
    return {"naive": naive, "seasonal_naive": snaive}


def trend_rows(y: np.ndarray) -> np.ndarray:
    """(series,) bool: the series that get the damped-trend candidate — those whose demand over
    their whole history is ``smooth`` or ``erratic`` (``demand_class``: a demand in most periods).
    An intermittent or lumpy series, or one with fewer than two demands, has no trend to follow
    between its sporadic demands: the level, intermittent-demand and Theta models are its pool
    (the same pool in the backtest and the final fit, so the backtest judges the candidates the
    forecast chooses from)."""
    return np.isin(demand_class(y, y.shape[1]), TREND_CLASSES)


def _mean_available(values: list[np.ndarray]) -> np.ndarray:
    """The mean of the models that have a forecast there (NaN where none has): the same floats
    as ``np.mean`` where they all have one."""
    stack = np.stack(values)
    have = ~np.isnan(stack)
    count = have.sum(axis=0)
    total = np.where(have, stack, 0.0).sum(axis=0)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def forecast_batch(task: BatchTask) -> dict[str, dict[str, np.ndarray]]:
    """Backtest forecasts (series, cutoffs, h) and final forecasts (series, h) of every model.

    A pure function of the rows of ``task``: row i of every output depends on row i only.
    """
    task = load_partition(task)
    y, h = task.y, task.horizon
    n_periods = y.shape[1]
    cut = list(task.cutoffs)
    results: dict[str, dict[str, np.ndarray]] = {"backtest": {}, "final": {}}
    trend = trend_rows(y)
    for phase, mult, snaps in (
        ("backtest", task.mult_backtest, cut),
        ("final", task.mult_final, [n_periods]),
    ):
        if not snaps:
            continue
        z = y / mult[:, :n_periods]
        fc = smooth_forecasts(z, snaps, h, trend)
        if task.freq in YEAR:
            fc.update(decomposition_forecasts(z, snaps, h, task.freq))
            fc.update(ets_forecasts(z, snaps, h, task.freq))
            fc["stl"] = stl_forecasts(z, snaps, h, task.freq)
        target = np.stack([mult[:, c : c + h] for c in snaps], axis=1)
        if target.shape[2] < h:  # (never for the final phase: mult covers T + h)
            target = np.pad(target, ((0, 0), (0, 0), (0, h - target.shape[2])), constant_values=1.0)
        fc = {name: values * target for name, values in fc.items()}
        fc.update(baseline_forecasts(y, snaps, h, task.season))
        fc["ensemble"] = _mean_available([fc[m] for m in SMOOTH_MODELS])
        # every array of ``fc`` is new here and its own: changed in place from here on
        # a series that stopped selling before a cutoff: every model forecasts zero from there
        halt = np.stack([stopped(y, c, task.season if task.freq in YEAR else 0, task.freq or "W") for c in snaps], axis=1)
        for name, values in fc.items():
            if halt.any():
                np.copyto(values, 0.0, where=halt[..., None] & ~np.isnan(values))
            np.clip(values, 0.0, None, out=values)
            results[phase][name] = values if phase == "backtest" else values[:, 0, :]
    # a seasonal model with no forecast for any series of the batch is not sent back
    for name in SEASONAL_MODELS:
        if all(name in r and np.isnan(r[name]).all() for r in results.values() if r):
            for r in results.values():
                r.pop(name, None)
    return results
