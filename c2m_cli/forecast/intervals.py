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

from collections.abc import Callable

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


def residual_quantiles(
    r: np.ndarray, windows: np.ndarray | None = None, donors: tuple[np.ndarray, ...] = (), taus: tuple[float, ...] = QUANTILES
) -> np.ndarray:
    """Quantiles of scaled residuals ``r`` (series, windows, horizon), (horizon, len(QUANTILES));
    ``windows`` masks which windows to use (for ``r`` and the ``donors``' residuals alike), and
    the donors fill ``r`` up to ``MIN_RESIDUALS``. Without any residual the quantiles are 0 (the
    interval collapses to the point forecast). ``taus``: the quantile levels (QUANTILES).
    """
    if windows is not None:
        r = r[:, windows]
    h = r.shape[2]
    ok = np.isfinite(r)
    if not ok.any():  # (the donors only fill up a level's own residuals)
        return np.zeros((h, len(taus)))
    if windows is not None:
        donors = tuple(d[:, windows] for d in donors)
    weights = ok.astype(float)
    if ok.sum() < MIN_RESIDUALS and donors:
        r, weights = _fill_up(r, weights, donors)
    ok = weights > 0
    spread = _step_spread(np.abs(r), weights)
    normed = r / spread[None, None, :]
    out = np.tile(_quantile(normed[ok], weights[ok], taus), (h, 1)) * spread[:, None]
    for k in range(h):
        step_ok = ok[:, :, k]
        if weights[:, :, k].sum() >= MIN_PER_STEP:
            out[k] = _quantile(r[:, :, k][step_ok], weights[:, :, k][step_ok], taus)
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


def _quantile(values: np.ndarray, weights: np.ndarray, taus: tuple[float, ...] = QUANTILES) -> np.ndarray:
    """Split-conformal quantiles of ``values``; weighted (inverted CDF) when weights differ."""
    n = float(weights.sum())
    if np.all(weights == 1.0):
        return np.quantile(values, _levels(values.size, taus))
    return np.quantile(values, _levels(n, taus), weights=weights, method="inverted_cdf")


def _step_spread(abs_r: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """How the residuals' spread changes with the horizon step: a straight line fitted to the
    (weighted) mean absolute residual of each step (weighted by counts), floored at a quarter of
    the overall mean; 1 everywhere when there is nothing to fit."""
    counts = weights.sum(axis=(0, 1)).astype(float)
    sums = np.where(weights > 0, abs_r * weights, 0.0).sum(axis=(0, 1))
    return _spread_line(sums, counts)


def _spread_line(sums: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """``_step_spread`` from the per-step sums of absolute residuals and their counts (h,)."""
    h = sums.shape[0]
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


def _levels(n: float | np.ndarray, taus: tuple[float, ...] = QUANTILES) -> np.ndarray:
    """Split-conformal levels for ``n`` residuals: ⌈(n+1)τ⌉/n above the median, mirrored below."""
    q = np.array(taus)
    upper = np.minimum(np.ceil((n + 1) * q) / n, 1.0)
    lower = 1.0 - np.minimum(np.ceil((n + 1) * (1 - q)) / n, 1.0)
    return np.where(q > 0.5, upper, np.where(q < 0.5, lower, q))


def level_shape(
    r: np.ndarray, windows: np.ndarray | None = None, donors: tuple[np.ndarray, ...] = (), taus: tuple[float, ...] = QUANTILES
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What per-series calibration needs of the whole level: its quantiles (h, q), its step
    spread (h,) and the quantiles of all its spread-normalised residuals (q,)."""
    level = residual_quantiles(r, windows, donors, taus)
    own = r if windows is None else r[:, windows]
    ok = np.isfinite(own)
    if own.shape[1] == 0 or not ok.any():
        return level, np.ones(r.shape[2]), np.zeros(len(taus))
    spread = _step_spread(np.abs(np.where(ok, own, 0.0)), ok.astype(float))
    normed = own[ok] / np.broadcast_to(spread[None, None, :], own.shape)[ok]
    return level, spread, np.quantile(normed, taus)


def series_quantiles(
    r: np.ndarray,
    windows: np.ndarray | None = None,
    donors: tuple[np.ndarray, ...] = (),
    rows: slice | None = None,
    shape: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    taus: tuple[float, ...] = QUANTILES,
) -> np.ndarray:
    """Per-series quantiles (series, horizon, len(QUANTILES)): the level's (``residual_quantiles``)
    moved toward each series' own quantile shape by ``n / (n + PRIOR_RESIDUALS)``; for the
    series ``rows`` only when given (``shape``: the level's ``level_shape``, computed once)."""
    level, spread, pooled = shape if shape is not None else level_shape(r, windows, donors, taus)
    own = r if rows is None else r[rows]  # the chunk's rows first: no copy of the whole level
    if windows is not None:
        own = own[:, windows]
    ok = np.isfinite(own)
    n = ok.sum(axis=(1, 2))
    if own.shape[1] == 0 or not ok.any():
        return np.broadcast_to(level, (own.shape[0], *level.shape)).copy()
    normed = np.where(ok, own / spread[None, None, :], np.nan).reshape(own.shape[0], -1)
    has = n > 0
    mine = np.zeros((own.shape[0], len(taus)))
    if has.any():
        mine[has] = row_quantiles(normed[has], taus)
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
    pool: ResidualPool | None = None,
) -> np.ndarray:
    """Backtest quantiles per window from the scaled residuals ``r`` (and ``donors``') of the
    windows that do not overlap it (``usable[w]``): (series, windows, h, q). With ``rows``,
    ``forecast`` and ``scale`` are those series only (the level's shapes, kept in ``pool``,
    still come from all of ``r``)."""
    n_windows = forecast.shape[1]
    pool = ResidualPool(r, donors) if pool is None else pool
    pool.prepare(list(usable[:n_windows]), shapes=per_series)
    if not per_series:  # one (h, q) shape per window: every window at once (apply_quantiles' floats)
        q_all = np.stack([pool.quantiles(usable[w]) for w in range(n_windows)]) if n_windows else np.zeros((0, forecast.shape[2], len(QUANTILES)))
        return np.clip(forecast[..., None] + scale[:, None, None, None] * q_all[None], 0.0, None)
    out = np.empty((*forecast.shape, len(QUANTILES)))
    for w in range(n_windows):
        q = series_quantiles(r, usable[w], donors, rows, pool.shape(usable[w]))
        out[:, w] = apply_quantiles(forecast[:, w], scale, q)
    return out


def _lerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """numpy's quantile interpolation (``a + (b − a)·t``, from ``b`` when ``t ≥ 0.5``): the
    same floats as ``np.quantile`` / ``np.nanquantile`` with the default 'linear' method."""
    diff = b - a
    out = a + diff * t
    return np.where(t >= 0.5, b - diff * (1 - t), out)


def row_quantiles(x: np.ndarray, q: np.ndarray | tuple[float, ...]) -> np.ndarray:
    """``np.nanquantile(x, q, axis=1).T`` without its Python loop over rows: each row sorted
    (NaN last), its ``n`` valid values, the order statistics around ``(n − 1)·q`` interpolated
    like numpy's 'linear' method (equal floats). (rows, len(q)); NaN for a row without values."""
    qs = np.asarray(q, dtype=float)
    s = np.sort(x, axis=1)
    n = (~np.isnan(x)).sum(axis=1)
    vi = (n - 1)[:, None] * qs[None, :]
    prev = np.floor(vi)
    top = np.maximum(n - 1, 0)[:, None]
    lo = np.clip(prev, 0, top).astype(np.intp)
    hi = np.clip(prev + 1, 0, top).astype(np.intp)
    out = _lerp(np.take_along_axis(s, lo, axis=1), np.take_along_axis(s, hi, axis=1), vi - prev)
    out[n == 0] = np.nan
    return out


_SIGN = np.uint64(1 << 63)


def _to_key(v: np.ndarray) -> np.ndarray:
    """float64 → uint64 keys in the same order (for bisection over the floats)."""
    bits = np.ascontiguousarray(v, dtype=np.float64).view(np.uint64)
    return np.where(bits & _SIGN, ~bits, bits | _SIGN)


def _from_key(k: np.ndarray) -> np.ndarray:
    bits = np.where(k & _SIGN, k & ~_SIGN, ~k)
    return np.ascontiguousarray(bits, dtype=np.uint64).view(np.float64)


def _count_at_most(flat: np.ndarray, base: np.ndarray, length: int, query: np.ndarray) -> np.ndarray:
    """How many values ≤ ``query`` each row holds: rows of ``length`` sorted values (padded
    with +inf) starting at ``base`` in ``flat``; one vectorised binary search for all queries."""
    left = np.zeros(query.shape, dtype=np.int64)
    right = np.full(query.shape, length, dtype=np.int64)
    for _ in range(int(length).bit_length()):
        probe = (left + right) // 2
        below = (flat[base + np.minimum(probe, length - 1)] <= query) & (probe < right)
        left = np.where(below, probe + 1, left)
        right = np.where(below, right, probe)
    return left


def _order_statistics(cols: np.ndarray, member: np.ndarray, scale: np.ndarray, ranks: np.ndarray) -> np.ndarray:
    """Order statistics of unions of sorted columns, without joining them: for each group g the
    ``ranks[g]`` (0-based) smallest values of ``cols[c] / scale[g, c]`` over the columns with
    ``member[g, c]``. ``cols`` (columns, length) is sorted per row, padded with +inf. Bisection
    over the floats (as ordered integer keys) on the count of values at or below a candidate,
    that count found by a binary search in every member column at once; (groups, ranks)."""
    if member.sum() * cols.shape[1] <= DIRECT_ORDER_CELLS:
        return _order_statistics_direct(cols, member, scale, ranks)
    g_of, c_of = np.nonzero(member)  # the (group, column) pairs
    n_valid = np.isfinite(cols).sum(axis=1)
    keep = n_valid[c_of] > 0
    g_of, c_of = g_of[keep], c_of[keep]
    if g_of.size == 0:
        return np.full(ranks.shape, np.nan)
    pair_scale = scale[g_of, c_of][:, None]
    lo_value = (cols[c_of, 0][:, None] / pair_scale).min()
    hi_value = (cols[c_of, n_valid[c_of] - 1][:, None] / pair_scale).max()
    lo = np.full(ranks.shape, _to_key(np.array([lo_value]))[0])
    hi = np.full(ranks.shape, _to_key(np.array([hi_value]))[0])
    target = ranks + 1
    length = cols.shape[1]
    flat = cols.reshape(-1)
    base = (c_of * length)[:, None]
    while (lo < hi).any():
        mid = lo + (hi - lo) // np.uint64(2)
        count = np.zeros(ranks.shape, dtype=np.int64)
        np.add.at(count, g_of, _count_at_most(flat, base, length, _from_key(mid)[g_of] * pair_scale))
        enough = count >= target
        hi = np.where(enough, mid, hi)
        lo = np.where(enough, lo, mid + np.uint64(1))
    return _from_key(lo)


# at most this many values in all groups together: ``_order_statistics`` selects them directly
DIRECT_ORDER_CELLS = 4_000_000


def _order_statistics_direct(cols: np.ndarray, member: np.ndarray, scale: np.ndarray, ranks: np.ndarray) -> np.ndarray:
    """``_order_statistics`` by selection (``np.partition``) in each group's values."""
    out = np.full(ranks.shape, np.nan)
    for g in range(member.shape[0]):
        values = (cols[member[g]] / scale[g, member[g]][:, None]).reshape(-1)
        n = int(np.isfinite(values).sum())
        if n == 0:
            continue
        kth = np.minimum(ranks[g], n - 1)
        out[g] = np.partition(values, np.unique(kth))[kth]
    return out


def _step_order_statistics(cols: np.ndarray, masks: np.ndarray, h: int, ranks: np.ndarray) -> np.ndarray:
    """``_order_statistics`` of the groups (mask m, step k) — the columns (w, k) of the windows
    in ``masks[m]`` — by bisection over the positions of each step's merged sorted values: the
    count in a mask is the count in all windows less that in the windows it leaves out (or the
    count in the windows it holds, when fewer). ``ranks`` (masks × h, r); (masks × h, r)."""
    n_windows = masks.shape[0] and masks.shape[1]
    n_valid = np.isfinite(cols).sum(axis=1)
    merged = cols.reshape(n_windows, h, -1).transpose(1, 0, 2).reshape(h, -1)  # (h, W·S): a copy, but for one window
    if np.shares_memory(merged, cols):
        merged = merged.copy()
    # each row is the windows' sorted columns one after the other: the stable sort (timsort)
    # merges those runs — 2–2.6× faster than quicksort's full sort, the same values
    merged.sort(axis=1, kind="stable")
    m_len = merged.shape[1]
    total = np.isfinite(merged).sum(axis=1)  # (h,)
    length = cols.shape[1]
    # group g = m·h + k; its pairs (g, column w·h + k) over the windows counted (those the mask
    # leaves out, subtracted from all, when fewer), in (m, k, w) order
    leave_out = (~masks).sum(axis=1) < masks.sum(axis=1)
    step = np.tile(np.arange(h), masks.shape[0])
    all_flag = np.repeat(leave_out, h)[:, None]
    counted = np.where(leave_out[:, None], ~masks, masks)  # (masks, windows)
    m_of, k_of, w_of = np.nonzero(counted[:, None, :] & (n_valid.reshape(n_windows, h).T > 0)[None, :, :])
    g_of, c_of = (m_of * h + k_of).astype(np.intp), (w_of * h + k_of).astype(np.intp)
    sign = np.where(leave_out[m_of], -1, 1)[:, None]
    lo = np.zeros(ranks.shape, dtype=np.int64)
    hi = np.repeat(np.maximum(total[step] - 1, 0)[:, None], ranks.shape[1], axis=1)
    flat_m, base_m = merged.reshape(-1), (step * m_len)[:, None]
    flat_c, base_c = cols.reshape(-1), (c_of * length)[:, None]
    target = ranks + 1
    # brackets of each count (in the merged values, in each pair's column): the later queries of
    # a group lie between those it already made, so each count lies between earlier ones
    m_lo, m_hi = np.zeros(ranks.shape, dtype=np.int64), np.full(ranks.shape, m_len, dtype=np.int64)
    c_lo, c_hi = np.zeros((g_of.size, ranks.shape[1]), dtype=np.int64), np.full((g_of.size, ranks.shape[1]), length, dtype=np.int64)
    while (lo < hi).any():
        mid = (lo + hi) // 2
        value = flat_m[base_m + mid]
        in_merged = _count_in(flat_m, base_m, m_len, value, m_lo, m_hi)
        count = np.where(all_flag, in_merged, 0)
        in_cols = None
        if g_of.size:
            in_cols = _count_in(flat_c, base_c, length, value[g_of], c_lo, c_hi)
            np.add.at(count, g_of, sign * in_cols)
        enough = count >= target
        m_lo, m_hi = np.where(enough, m_lo, in_merged), np.where(enough, in_merged, m_hi)
        if in_cols is not None:
            pair_enough = enough[g_of]
            c_lo, c_hi = np.where(pair_enough, c_lo, in_cols), np.where(pair_enough, in_cols, c_hi)
        hi = np.where(enough, mid, hi)
        lo = np.where(enough, lo, mid + 1)
    return flat_m[base_m + lo]


def _count_in(flat: np.ndarray, base: np.ndarray, length: int, query: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """``_count_at_most`` when each count is known to lie in [left, right]: the binary search
    only within that bracket (as many steps as the widest bracket needs)."""
    left, right = left.copy(), right.copy()
    for _ in range(int((right - left).max(initial=0)).bit_length()):
        probe = (left + right) // 2
        below = (flat[base + np.minimum(probe, length - 1)] <= query) & (probe < right)
        left = np.where(below, probe + 1, left)
        right = np.where(below, right, probe)
    return left


def _interpolate(order_statistics: Callable[[np.ndarray], np.ndarray], n: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """``np.quantile(values_g, levels[g])`` for groups of ``n[g]`` values from their order
    statistics (``order_statistics(ranks)``, ranks (groups, r) 0-based): (groups, len(levels[g]))."""
    vi = (n - 1)[:, None] * levels
    prev = np.floor(vi)
    top = np.maximum(n - 1, 0)[:, None]
    lo = np.clip(prev, 0, top).astype(np.int64)
    hi = np.clip(prev + 1, 0, top).astype(np.int64)
    stats = order_statistics(np.concatenate([lo, hi], axis=1))
    k = levels.shape[1]
    return _lerp(stats[:, :k], stats[:, k:], vi - prev)


class ResidualPool:
    """The scaled residuals ``r`` (series, windows, h) of one level and model, sorted once per
    (window, step), and what every window mask needs of them: the level's quantiles, step spread
    and pooled shape (``residual_quantiles``, ``level_shape``) for any mask without copying ``r``
    per mask — order statistics of the masked windows' columns by bisection, equal to the
    quantiles of the masked values. A mask that needs donors or has a step of few residuals
    takes the direct computation."""

    def __init__(self, r: np.ndarray, donors: tuple[np.ndarray, ...] = ()) -> None:
        self.r = r
        self.donors = donors
        ok = np.isfinite(r)
        self.count = ok.sum(axis=0)  # (windows, h)
        self.abs_sum = np.where(ok, np.abs(r), 0.0).sum(axis=0)
        self._cols: np.ndarray | None = None
        self._shapes: dict[bytes, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self._quantiles: dict[bytes, np.ndarray] = {}

    def _mask(self, windows: np.ndarray | None) -> np.ndarray:
        return np.ones(self.r.shape[1], dtype=bool) if windows is None else np.asarray(windows, dtype=bool)

    def columns(self) -> np.ndarray:
        """Each (window, step)'s residuals sorted, one row per column (window-major), padded
        with +inf where a column has fewer finite values."""
        if self._cols is None:
            n_series, n_windows, h = self.r.shape
            flat = self.r.reshape(n_series, n_windows * h).T
            ordered = np.where(np.isfinite(flat), flat, np.inf)
            ordered.sort(axis=1)
            self._cols = ordered
        return self._cols

    def _direct(self, mask: np.ndarray) -> bool:
        counts = self.count[mask].sum(axis=0)
        total = counts.sum()
        return bool(total == 0 or (self.donors and total < MIN_RESIDUALS) or (counts < MIN_PER_STEP).any())

    def spread(self, windows: np.ndarray | None) -> np.ndarray:
        mask = self._mask(windows)
        return _spread_line(self.abs_sum[mask].sum(axis=0), self.count[mask].sum(axis=0).astype(float))

    def _pending(self, masks: list[np.ndarray | None], taus: tuple[float, ...]) -> list[tuple[bytes, np.ndarray]]:
        """The masks whose quantiles are not known yet and take the bisection (key, mask); the
        direct ones (``_direct``) are computed here."""
        todo: list[tuple[bytes, np.ndarray]] = []
        for windows in masks:
            mask = self._mask(windows)
            key = mask.tobytes() + np.array(taus).tobytes()
            if key in self._quantiles or any(key == k for k, _ in todo):
                continue
            if self._direct(mask):
                self._quantiles[key] = residual_quantiles(self.r, windows, self.donors, taus)
            else:
                todo.append((key, mask))
        return todo

    def prepare(self, masks: list[np.ndarray | None], shapes: bool = False, taus: tuple[float, ...] = QUANTILES) -> None:
        """Compute the quantiles (and with ``shapes`` the level shapes) of several window masks
        in one bisection (each column serves every mask holding its window), at the levels ``taus``."""
        n_windows, h = self.count.shape
        todo = self._pending(masks, taus)
        if todo:
            _bisect_quantiles([self], todo, taus)
        if not shapes:
            return
        pending: list[tuple[bytes, np.ndarray]] = []
        for windows in masks:
            mask = self._mask(windows)
            key = mask.tobytes() + np.array(taus).tobytes()
            if key in self._shapes or any(key == k for k, _ in pending):
                continue
            if int(self.count[mask].sum()) == 0:
                self._shapes[key] = (self._quantiles[key], np.ones(h), np.zeros(len(taus)))
            else:
                pending.append((key, mask))
        if pending:
            spreads = [self.spread(mask) for _, mask in pending]
            member = np.stack([np.repeat(mask, h) for _, mask in pending])
            scale = np.stack([np.tile(s, n_windows) for s in spreads])
            n = np.array([int(self.count[mask].sum()) for _, mask in pending])
            cols = self.columns()
            pooled = _interpolate(lambda ranks: _order_statistics(cols, member, scale, ranks), n, np.tile(np.array(taus), (len(pending), 1)))
            for i, (key, _) in enumerate(pending):
                self._shapes[key] = (self._quantiles[key], spreads[i], pooled[i])

    def known(self) -> dict[bytes, np.ndarray]:
        """The quantiles computed so far, by mask and levels (what ``adopt`` takes: a pool
        prepared in another process hands them back)."""
        return dict(self._quantiles)

    def adopt(self, known: dict[bytes, np.ndarray]) -> None:
        """Take the quantiles ``known()`` gave of a copy of this pool (the same residuals)."""
        self._quantiles.update(known)

    def quantiles(self, windows: np.ndarray | None, taus: tuple[float, ...] = QUANTILES) -> np.ndarray:
        """``residual_quantiles(r, windows, donors, taus)``."""
        self.prepare([windows], taus=taus)
        return self._quantiles[self._mask(windows).tobytes() + np.array(taus).tobytes()]

    def shape(self, windows: np.ndarray | None, taus: tuple[float, ...] = QUANTILES) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``level_shape(r, windows, donors, taus)``."""
        self.prepare([windows], shapes=True, taus=taus)
        return self._shapes[self._mask(windows).tobytes() + np.array(taus).tobytes()]


def _bisect_quantiles(pools: list[ResidualPool], todo: list[tuple[bytes, np.ndarray]], taus: tuple[float, ...]) -> None:
    """The quantiles of the masks ``todo`` (key, mask) of every pool in ``pools`` (the same
    (series, windows, h) shape) in one bisection: pool p's step k is step p·h + k of one stack
    of their sorted columns, so each (mask, pool, step) group is bisected on its own columns
    (the same floats as one pool at a time)."""
    n_windows, h = pools[0].count.shape
    n_pools = len(pools)
    # group (m, p, k) = m · (P·h) + p · h + k: the columns (w, p·h + k) of mask m's windows
    counts = np.concatenate([np.concatenate([p.count[mask].sum(axis=0) for p in pools]) for _, mask in todo])
    levels = _levels(counts.astype(float)[:, None], taus)
    if n_pools == 1:
        cols = pools[0].columns()
    else:  # the pools' columns sorted in one stack (row w·(P·h) + p·h + k), none kept per pool
        cols = np.stack([p.r.transpose(1, 2, 0) for p in pools], axis=1).reshape(n_windows * n_pools * h, -1)  # (W·P·h, series)
        cols[~np.isfinite(cols)] = np.inf
        cols.sort(axis=1)
    stacked = np.stack([mask for _, mask in todo])
    out = _interpolate(lambda ranks: _step_order_statistics(cols, stacked, n_pools * h, ranks), counts, levels)
    for i, (key, _) in enumerate(todo):
        for j, pool in enumerate(pools):
            start = (i * n_pools + j) * h
            pool._quantiles[key] = np.maximum.accumulate(out[start : start + h], axis=1)


def prepare_together(pools: list[ResidualPool], masks: list[np.ndarray | None], taus: tuple[float, ...] = QUANTILES) -> None:
    """``prepare(masks)`` (quantiles only) of several pools of the same shape: the pools whose
    pending masks are the same share one bisection (fewer, larger array operations for a
    level of few series; the same floats)."""
    groups: dict[bytes, tuple[list[ResidualPool], list[tuple[bytes, np.ndarray]]]] = {}
    for pool in pools:
        todo = pool._pending(masks, taus)
        if todo:
            groups.setdefault(b"".join(k for k, _ in todo) + repr(pool.r.shape).encode(), ([], todo))[0].append(pool)
    for members, todo in groups.values():
        _bisect_quantiles(members, todo, taus)
