"""Coherent forecasts: the levels of a hierarchy add up.

The product tree (total ⊃ category_l1 ⊃ … ⊃ sku) is reconciled bottom-up by default: each
node's ``selected`` forecast is the sum of its bottom-level descendants. ``mint_shrink``
(Wickramasuriya, Athanasopoulos & Hyndman 2019) combines every node's own forecast instead, with
the error covariance estimated from backtest residuals and shrunk to its diagonal
(Schäfer & Strimmer 2005). Order-side levels (province, city, channel) are a different cut of
the same total: their forecasts are scaled per period so that they add up to the total.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


def summing_matrix(parent_of_bottom: np.ndarray, parents: np.ndarray) -> np.ndarray:
    """(parents, bottom) 0/1 matrix: parent i holds bottom j when parent_of_bottom[j] == parents[i]."""
    return (parents[:, None] == parent_of_bottom[None, :]).astype(float)


def bottom_up(s_matrix: np.ndarray, bottom: np.ndarray) -> np.ndarray:
    """Sum the bottom forecasts (bottom, ...) into their parents (parents, ...)."""
    flat = bottom.reshape(bottom.shape[0], -1)
    return (s_matrix @ np.nan_to_num(flat)).reshape((s_matrix.shape[0], *bottom.shape[1:]))


def scale_to_total(parts: np.ndarray, total: np.ndarray) -> np.ndarray:
    """Scale (series, ...) forecasts of one cut so that they add up to ``total`` (...) per period."""
    sums = np.nansum(parts, axis=0)
    factor = np.divide(total, sums, out=np.zeros_like(sums), where=sums > 0)
    scaled = parts * factor[None]
    # where the parts forecast nothing but the total does, split it evenly
    even = np.where(sums > 0, 0.0, total / max(parts.shape[0], 1))
    return np.where(np.isnan(scaled), 0.0, scaled) + even[None]


def shrunk_covariance(residuals: np.ndarray) -> np.ndarray:
    """Covariance of (nodes, observations) residuals shrunk towards its diagonal (Schäfer–Strimmer)."""
    x = np.nan_to_num(residuals)
    n = x.shape[1]
    if n < 2:
        return np.diag(np.maximum((x**2).mean(axis=1), 1e-9))
    x = x - x.mean(axis=1, keepdims=True)
    cov = x @ x.T / (n - 1)
    sd = np.sqrt(np.maximum(np.diag(cov), 1e-12))
    xs = x / sd[:, None]
    cross = xs @ xs.T
    corr = cross / (n - 1)
    # Σ_t (w_ijt − w̄_ij)² with w_ijt = xs_it·xs_jt, without the (nodes, nodes, t) tensor
    spread = (xs**2) @ (xs**2).T - cross**2 / n
    var_corr = n / (n - 1) ** 3 * spread
    off = ~np.eye(corr.shape[0], dtype=bool)
    denom = (corr[off] ** 2).sum()
    lam = float(np.clip(var_corr[off].sum() / denom, 0.0, 1.0)) if denom > 0 else 1.0
    shrunk = corr * (1 - lam)
    np.fill_diagonal(shrunk, 1.0)
    return shrunk * sd[:, None] * sd[None, :] + np.diag(np.full(sd.size, 1e-9))


def mint(s_full: np.ndarray, base: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """MinT: S (S' W⁻¹ S)⁻¹ S' W⁻¹ ŷ for base forecasts (nodes, ...) → coherent (nodes, ...)."""
    flat = np.nan_to_num(base.reshape(base.shape[0], -1))
    winv_s = np.linalg.solve(cov, s_full)
    winv_y = np.linalg.solve(cov, flat)
    bottom = np.linalg.solve(s_full.T @ winv_s, s_full.T @ winv_y)
    return (s_full @ bottom).reshape(base.shape)


# --- coherent quantiles: joint sample paths of the bottom series, summed to every parent ----
#
# A reconciled probabilistic forecast is the distribution of S·b for b drawn from the bottom
# series' joint predictive distribution (Panagiotelis, Gamakumara, Athanasopoulos & Hyndman 2023,
# "Probabilistic forecast reconciliation: properties, evaluation and score optimisation"): each
# parent's quantiles are those of the sum of its children's joint draws, so they add up as
# distributions (not quantile by quantile). The joint draws are a bootstrap of the bottom
# level's backtest errors by window: scenario (w, k') is backtest window w at horizon step k',
# the same for every series, so the dependence across series and the errors' location (their
# bias, which adds up at the top) are those the backtest saw.
#
# Per series, the marginal is its calibrated quantile function Q_i,k (per-series conformal
# quantiles of its scaled residuals, shrunk toward the level's shape — intervals.series_quantiles
# — on the grid TAUS, linear in between and extended linearly to u = 0 and u = 1). In scenario
# (w, k') series i takes Q_i,k(u) at the rank u of its own residual there among all its residuals
# (pooled over steps after dividing by the level's step spread: mid-ranks, (rank + ½) / n), for
# every forecast step k: a series with its own long history follows its own errors, a short one
# the level's shape at the rank its errors had. Its value is max(0, y_hat + scale · Q_i,k(u)).
# A series without a residual in a scenario (launched later, or no backtest) draws u on its own
# (a hash of its index and the scenario: independent of the others, the same floats every run).
# A parent's value in a scenario is the sum of its children's; its quantiles are the empirical
# quantiles over the scenarios. Its y_hat stays the sum of the children's y_hat (bottom-up);
# q0.5 is its median.

TAU_STEP = 0.025
TAUS = tuple(round(TAU_STEP * i, 3) for i in range(1, 40))  # 0.025 … 0.975 (holds QUANTILES)
PATH_SERIES = 4096  # bottom series per chunk (memory: chunk × horizon × scenarios floats)


def knot_values(point: np.ndarray, scale: np.ndarray, knots: np.ndarray) -> np.ndarray:
    """The predictive quantile function ``y_hat + scale·Q`` at u = 0, TAUS, 1 (the ends extend
    the first and last pieces), before clipping: (series, h, len(TAUS) + 2)."""
    y = point[:, :, None] + scale[:, None, None] * knots
    low = y[..., :1] - (y[..., 1:2] - y[..., :1])
    high = y[..., -1:] + (y[..., -1:] - y[..., -2:-1])
    return np.concatenate([low, y, high], axis=2)


def evaluate(values: np.ndarray, u: np.ndarray) -> np.ndarray:
    """max(0, Q(u)) for levels ``u`` (series, n) at every step, on the knot ``values`` (series,
    h, g): (series, h, n)."""
    return _evaluate_sh(values, u).transpose(0, 2, 1)


def _evaluate_sh(values: np.ndarray, u: np.ndarray) -> np.ndarray:
    """``evaluate`` laid out (series, n, h): each level's piece found once for all steps."""
    pieces = values.shape[2] - 1
    pos = u / TAU_STEP
    idx = np.clip(np.floor(pos).astype(np.intp), 0, pieces - 1)
    t = (pos - idx)[:, :, None]
    n_series, h, g = values.shape
    knots = np.ascontiguousarray(values.transpose(0, 2, 1)).reshape(n_series * g, h)  # one row per (series, knot)
    at = np.arange(n_series)[:, None] * g + idx
    lo = np.take(knots, at, axis=0)  # (series, n, h): whole rows taken, not element by element
    hi = np.take(knots, at + 1, axis=0)
    out = hi - lo
    out *= t
    out += lo
    return np.clip(out, 0.0, None, out=out)


def output_quantiles(values: np.ndarray, columns: tuple[float, ...]) -> np.ndarray:
    """A bottom series' own quantiles at ``columns`` (each in TAUS): max(0, Q(τ)):
    (series, h, len(columns))."""
    at = [TAUS.index(q) + 1 for q in columns]
    return np.clip(values[:, :, at], 0.0, None)


def pooled_ranks(r: np.ndarray, spread: np.ndarray, windows: np.ndarray | None = None) -> np.ndarray:
    """Each scaled residual's mid-rank level (rank + ½) / n among its series' residuals of the
    ``windows`` (mask; all when None), pooled over the steps after dividing by the step
    ``spread``: (series, windows · h), NaN where there is no residual (or the window is masked)."""
    x = r / spread[None, None, :]
    if windows is not None:
        x = np.where(np.asarray(windows, dtype=bool)[None, :, None], x, np.nan)
    flat = x.reshape(x.shape[0], -1)
    ok = np.isfinite(flat)
    vals = np.where(ok, flat, np.inf)
    order = np.argsort(vals, axis=1, kind="stable")
    s = np.take_along_axis(vals, order, axis=1)
    m = s.shape[1]
    pos = np.broadcast_to(np.arange(m), s.shape)
    starts = np.ones(s.shape, dtype=bool)
    starts[:, 1:] = s[:, 1:] != s[:, :-1]
    ends = np.ones(s.shape, dtype=bool)
    ends[:, :-1] = starts[:, 1:]
    first = np.maximum.accumulate(np.where(starts, pos, 0), axis=1)
    last = np.minimum.accumulate(np.where(ends, pos, m - 1)[:, ::-1], axis=1)[:, ::-1]
    n = np.maximum(ok.sum(axis=1, keepdims=True), 1)
    u = np.empty(s.shape)
    np.put_along_axis(u, order, ((first + last) / 2 + 0.5) / n, axis=1)
    return np.where(ok, u, np.nan)


def hash_uniform(rows: np.ndarray, scenarios: np.ndarray, seed: int = 0) -> np.ndarray:
    """(len(rows), len(scenarios)) uniforms in (0, 1) from a splitmix64 hash of (series row,
    scenario, seed): independent across series, the same wherever a series is chunked."""
    with np.errstate(over="ignore"):
        x = rows.astype(np.uint64)[:, None] * np.uint64(0x9E3779B97F4A7C15) + scenarios.astype(np.uint64)[None, :] * np.uint64(
            0xD1B54A32D192ED03
        ) + np.uint64(seed) * np.uint64(0x94D049BB133111EB)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        x = x ^ (x >> np.uint64(31))
    return ((x >> np.uint64(11)).astype(np.float64) + 0.5) / float(1 << 53)


def _summing(parent_of: np.ndarray, size: int) -> Any:
    """The sparse (parents, rows) 0/1 matrix of ``parent_of`` (−1: no parent)."""
    from scipy.sparse import csr_matrix

    keep = np.flatnonzero(parent_of >= 0)
    return csr_matrix((np.ones(keep.size), (parent_of[keep], keep)), shape=(size, parent_of.size))


def _add_to_parents(parent_of: np.ndarray, x: np.ndarray, out: np.ndarray) -> None:
    """out[parent] += Σ of the rows of ``x`` with that parent (−1: none)."""
    keep = parent_of >= 0
    keys = parent_of[keep]
    if not keys.size:
        return
    order = np.argsort(keys, kind="stable")
    keys = keys[order]
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    out[keys[starts]] += np.add.reduceat(x[keep][order], starts, axis=0)


def coherent_paths(
    point: np.ndarray,
    scale: np.ndarray,
    knots_of: Callable[[slice], np.ndarray],
    ranks_of: Callable[[slice], np.ndarray],
    parents: list[tuple[np.ndarray, int]],
    columns: tuple[float, ...],
    chunk: int = PATH_SERIES,
    seed: int = 0,
) -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
    """The bottom series' own quantiles (series, h, len(columns)), each parent level's scenario
    sums (parents, h, scenarios) and which scenarios are ones (scenarios,): see above.

    ``point`` (series, h) reconciled y_hat (≥ 0), ``scale`` (series,) (0: a series known to
    sell exactly its point forecast, e.g. a retired product), ``knots_of(rows)`` (rows, h,
    len(TAUS)) the calibrated scaled-residual quantiles, ``ranks_of(rows)`` (rows, scenarios) the
    rank levels of the rows' residuals in each scenario (pooled_ranks; NaN: none), ``parents``:
    per parent level the parent row of each bottom series (−1: none) and the number of parents.
    A scenario no series has a residual in is not one. Chunked over series: only the parents'
    scenario sums are kept."""
    n_series, h = point.shape
    own = np.zeros((n_series, h, len(columns)))
    used = np.zeros(0, dtype=bool)
    sums: list[np.ndarray] = []
    for a in range(0, n_series, chunk):
        rows = slice(a, min(a + chunk, n_series))
        values = knot_values(point[rows], scale[rows], knots_of(rows))
        own[rows] = output_quantiles(values, columns)
        if not parents:  # only the bottom's own quantiles are wanted: no paths to draw
            continue
        u = ranks_of(rows)
        if not sums:
            used = np.zeros(u.shape[1], dtype=bool)
            sums = [np.zeros((size, h, u.shape[1])) for _, size in parents]
        used |= np.isfinite(u).any(axis=0)
        # a series whose quantile function is ≤ 0 everywhere (a retired or not yet launched
        # product, a zero forecast with no upside) is 0 in every path: it adds nothing
        live = np.flatnonzero(values.max(axis=(1, 2)) > 0)
        u = u[live]
        missing = np.isnan(u)
        if missing.any():
            u = np.where(missing, hash_uniform(rows.start + live, np.arange(u.shape[1]), seed), u)
        paths = _evaluate_sh(values[live], u).reshape(live.size, -1)  # (live rows, scenarios · h)
        for (parent_of, size), out in zip(parents, sums, strict=True):
            out += (_summing(parent_of[rows][live], size) @ paths).reshape(size, -1, h).transpose(0, 2, 1)
    return own, sums, used


def window_effects(sums: np.ndarray, window_of: np.ndarray, used: np.ndarray) -> np.ndarray:
    """Each scenario's window effect (parents, h, scenarios): the mean of the node's sums over
    the scenarios of the same backtest window, less their mean over all scenarios (0 for a
    scenario that is not one)."""
    s = sums[:, :, used]
    win = window_of[used]
    keys, inverse = np.unique(win, return_inverse=True)
    onehot = (inverse[:, None] == np.arange(keys.size)[None, :]).astype(float)  # (scenarios, windows)
    per = (s @ onehot) / onehot.sum(axis=0)
    out = np.zeros(sums.shape)
    out[:, :, used] = per[:, :, inverse] - s.mean(axis=2, keepdims=True)
    return out


def inflate(
    sums: list[np.ndarray], up: list[np.ndarray | None], window_of: np.ndarray, used: np.ndarray, lambdas: list[float]
) -> list[np.ndarray]:
    """The parent levels' scenario sums (top level first) with each level's between-window
    variation stretched by its λ, coherently: a node's adjustment is its share (of its parent's
    mean) of its parent's adjustment, plus (λ − 1) × the part of its own window effect that its
    share of the parent's does not explain. Shares add up to one and those parts to zero over a
    parent's children, so the adjusted sums still add up level to level (the bottom keeps its
    own marginals: its share of an adjustment is spread over many series). ``up[l]``: the row of
    each node's parent in level l − 1 (None for the top level)."""
    out, prev_adj, prev_eff, prev_mean = [], None, None, None
    for s, parent, lam in zip(sums, up, lambdas, strict=True):
        eff = window_effects(s, window_of, used)
        mean = np.where(used[None, None, :], s, 0.0).sum(axis=2) / max(int(used.sum()), 1)  # (nodes, h)
        if parent is None or prev_adj is None or prev_eff is None or prev_mean is None:
            adj = (lam - 1.0) * eff
        else:
            pm = prev_mean[parent]
            share = np.divide(mean, pm, out=np.zeros_like(mean), where=pm > 0)
            # parents without mass: their children share evenly
            siblings = np.bincount(parent, minlength=prev_mean.shape[0])[parent].astype(float)
            share = np.where(pm > 0, share, 1.0 / siblings[:, None])
            adj = share[:, :, None] * prev_adj[parent] + (lam - 1.0) * (eff - share[:, :, None] * prev_eff[parent])
        out.append(s + adj)
        prev_adj, prev_eff, prev_mean = adj, eff, mean
    return out


def scenario_quantiles(sums: np.ndarray, used: np.ndarray, columns: tuple[float, ...]) -> np.ndarray:
    """Empirical quantiles (nodes, h, len(columns)) of the scenario sums, floored at zero."""
    return np.clip(np.quantile(sums[:, :, used], np.array(columns), axis=2).transpose(1, 2, 0), 0.0, None)


def coherent_quantiles(
    point: np.ndarray,
    scale: np.ndarray,
    knots_of: Callable[[slice], np.ndarray],
    ranks_of: Callable[[slice], np.ndarray],
    parents: list[tuple[np.ndarray, int]],
    columns: tuple[float, ...],
    chunk: int = PATH_SERIES,
    seed: int = 0,
) -> tuple[np.ndarray, list[np.ndarray]]:
    """``coherent_paths`` without stretching: the bottom's own quantiles and each parent
    level's, the empirical quantiles of its scenario sums."""
    own, sums, used = coherent_paths(point, scale, knots_of, ranks_of, parents, columns, chunk, seed)
    if not used.any():
        return own, [np.repeat(point_sum(point, p, size)[..., None], len(columns), axis=2) for p, size in parents]
    return own, [scenario_quantiles(s, used, columns) for s in sums]


def point_sum(point: np.ndarray, parent_of: np.ndarray, size: int) -> np.ndarray:
    """The parents' sums of the bottom ``point`` forecasts (parents, h)."""
    out = np.zeros((size, point.shape[1]))
    _add_to_parents(parent_of, point, out)
    return out
