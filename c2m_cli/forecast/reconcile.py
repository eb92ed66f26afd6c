"""Coherent forecasts: the levels of a hierarchy add up.

The product tree (total ⊃ category_l1 ⊃ … ⊃ sku) is reconciled bottom-up by default: each
node's ``selected`` forecast is the sum of its bottom-level descendants. ``mint_shrink``
(Wickramasuriya, Athanasopoulos & Hyndman 2019) combines every node's own forecast instead, with
the error covariance estimated from backtest residuals and shrunk to its diagonal
(Schäfer & Strimmer 2005). Order-side levels (province, city, channel) are a different cut of
the same total: their forecasts are scaled per period so that they add up to the total.
"""

from __future__ import annotations

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


# --- coherent quantiles: the bottom series' distributions summed to every parent ------------
#
# Each bottom series' predictive distribution is its calibrated quantile function: the
# per-series conformal quantiles of its scaled residuals on the grid TAUS (0.025 … 0.975),
# linear in between and extended linearly to u = 0 and u = 1, clipped at zero and scaled by
# c = y_hat / E[max(0, y_hat + scale·Q(u))] (exact on the linear pieces) so that its mean is the
# reconciled point forecast y_hat. Its own quantiles are those of this distribution.
#
# The dependence between series is the backtest's (an empirical copula): for horizon step k,
# backtest window w is one scenario, in which each series lies in the slice of its distribution
# that its own residual at (w, k) ranks in among its residuals at step k (u between
# below/n and (below + ties)/n). A parent's demand in a scenario sums its children's: the
# scenario's mean and variance are the sums of the children's means and variances over their
# slices (integrated exactly for a linear piece: two-point Gauss), a series without a residual
# there contributes its whole distribution, independently. A parent's distribution is the equal
# mixture over the scenarios of normals with those moments (the within-slice parts are
# independent and many); its quantiles solve the mixture's CDF, and its mean — the sum of its
# children's means — is its y_hat (a shift of the mixture by the two-point rounding makes that
# exact). No Monte Carlo: the same inputs give the same floats.

TAU_STEP = 0.025
TAUS = tuple(round(TAU_STEP * i, 3) for i in range(1, 40))  # 0.025 … 0.975 (holds QUANTILES)
PATH_SERIES = 4096  # bottom series per chunk (memory: chunk × windows × horizon floats)
_GAUSS = 0.5 / np.sqrt(3.0)  # two-point Gauss nodes at the middle ± this share of a piece


def _piece_means(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Mean of max(0, y) over a piece where y runs linearly from ``lo`` to ``hi``."""
    both = np.where((lo >= 0) & (hi >= 0), (lo + hi) / 2, 0.0)
    span = np.abs(hi - lo)
    pos = np.maximum(lo, hi)
    cross = ((lo < 0) != (hi < 0)) & (span > 0)
    return both + np.where(cross, pos * pos / (2 * np.where(span > 0, span, 1.0)), 0.0)


def knot_values(point: np.ndarray, scale: np.ndarray, knots: np.ndarray) -> np.ndarray:
    """The predictive quantile function before clipping and scaling, ``y_hat + scale·Q``, at
    u = 0, TAUS, 1 (the ends extend the first and last pieces): (series, h, len(TAUS) + 2)."""
    y = point[:, :, None] + scale[:, None, None] * knots
    low = y[..., :1] - (y[..., 1:2] - y[..., :1])
    high = y[..., -1:] + (y[..., -1:] - y[..., -2:-1])
    return np.concatenate([low, y, high], axis=2)


def mean_factor(values: np.ndarray, point: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """c = y_hat / E[max(0, Q(u))], u uniform, for the piecewise-linear quantile function
    through ``values`` (knot_values), exactly on the pieces, and the mean c·E (= y_hat, or 0
    where the clipped distribution has no mass and c is 1): (series, h) twice."""
    expect = _piece_means(values[..., :-1], values[..., 1:]).sum(axis=2) * TAU_STEP
    factor = np.divide(np.clip(point, 0.0, None), expect, out=np.ones_like(expect), where=expect > 1e-12)
    return factor, factor * expect


def evaluate(values: np.ndarray, factor: np.ndarray, u: np.ndarray) -> np.ndarray:
    """c·max(0, Q(u)) for levels ``u`` (series, h, n) on the knot ``values`` (series, h, g)."""
    pieces = values.shape[2] - 1
    pos = u / TAU_STEP
    idx = np.clip(np.floor(pos).astype(np.intp), 0, pieces - 1)
    t = pos - idx
    lo = np.take_along_axis(values, idx, axis=2)
    hi = np.take_along_axis(values, idx + 1, axis=2)
    return factor[..., None] * np.clip(lo + (hi - lo) * t, 0.0, None)


def output_quantiles(values: np.ndarray, factor: np.ndarray, columns: tuple[float, ...]) -> np.ndarray:
    """A bottom series' own quantiles at ``columns`` (each in TAUS): c·max(0, Q(τ)):
    (series, h, len(columns))."""
    at = [TAUS.index(q) + 1 for q in columns]
    return factor[:, :, None] * np.clip(values[:, :, at], 0.0, None)


def full_variance(values: np.ndarray, factor: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """Variance of a series' whole distribution c·max(0, Q(u)) (series, h): two-point Gauss
    on every piece."""
    pieces = values.shape[2] - 1
    nodes = np.concatenate([np.arange(pieces) + 0.5 - _GAUSS, np.arange(pieces) + 0.5 + _GAUSS]) * TAU_STEP
    f = evaluate(values, factor, np.broadcast_to(nodes, (*values.shape[:2], nodes.size)))
    return np.clip((f * f).mean(axis=2) - mean * mean, 0.0, None)


def step_ranks(template: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each series and horizon step of ``template`` (series, windows, h; NaN where no
    residual): per window, how many of the series' residuals at that step are below it, how
    many equal it, and how many it has (series, windows, h) ×2 and (series, h)."""
    n = (~np.isnan(template)).sum(axis=1)
    filled = np.where(np.isnan(template), np.inf, template)
    below = (filled[:, None, :, :] < filled[:, :, None, :]).sum(axis=2)  # (series, w, h): over w'
    upto = (filled[:, None, :, :] <= filled[:, :, None, :]).sum(axis=2)
    return below, upto - below, n


def scenario_moments(
    point: np.ndarray, scale: np.ndarray, knots: np.ndarray, template: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per series, window (scenario) and step: the mean and variance of the series' demand in
    that scenario (series, windows, h) ×2, and its own quantile function's knot values, factor
    and mean (for output_quantiles)."""
    values = knot_values(point, scale, knots)
    factor, mean = mean_factor(values, point)
    var = full_variance(values, factor, mean)
    below, equal, n = step_ranks(template)
    has = ~np.isnan(template)
    nn = np.maximum(n, 1)[:, None, :].astype(float)
    a, b = below / nn, (below + equal) / nn
    mid, half = (a + b) / 2, (b - a) * _GAUSS
    # (series, h, windows): the two Gauss nodes of each scenario's slice
    u = np.concatenate([(mid - half).transpose(0, 2, 1), (mid + half).transpose(0, 2, 1)], axis=2)
    f = evaluate(values, factor, np.clip(u, 0.0, 1.0))
    w = template.shape[1]
    f_lo, f_hi = f[..., :w].transpose(0, 2, 1), f[..., w:].transpose(0, 2, 1)
    m = np.where(has, (f_lo + f_hi) / 2, mean[:, None, :])
    v = np.where(has, ((f_hi - f_lo) / 2) ** 2, var[:, None, :])
    return m, v, values, factor, mean


def _add_to_parents(parent_of: np.ndarray, size: int, x: np.ndarray, out: np.ndarray) -> None:
    """out[parent] += Σ of the rows of ``x`` with that parent (−1: none)."""
    keep = parent_of >= 0
    keys = parent_of[keep]
    if not keys.size:
        return
    order = np.argsort(keys, kind="stable")
    keys = keys[order]
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    out[keys[starts]] += np.add.reduceat(x[keep][order], starts, axis=0)
    del size


def mixture_quantiles(mean: np.ndarray, var: np.ndarray, scenarios: np.ndarray, target: np.ndarray, columns: tuple[float, ...]) -> np.ndarray:
    """Quantiles (parents, h, len(columns)) of the equal mixture over the ``scenarios``
    (windows, h: which count) of normals N(mean, var) (parents, windows, h), shifted so that
    the mixture's mean is ``target`` (parents, h); floored at zero."""
    from scipy.special import ndtr

    weight = scenarios / np.maximum(scenarios.sum(axis=0, keepdims=True), 1)  # (windows, h)
    mix_mean = (mean * weight[None]).sum(axis=1)
    shift = target - mix_mean
    m = mean + shift[:, None, :]
    sd = np.sqrt(var)
    lo = np.where(weight[None] > 0, m - 10 * sd - 1e-9, np.inf).min(axis=1)  # (parents, h)
    hi = np.where(weight[None] > 0, m + 10 * sd + 1e-9, -np.inf).max(axis=1)
    q = np.array(columns)
    lo = np.repeat(lo[..., None], q.size, axis=2)
    hi = np.repeat(hi[..., None], q.size, axis=2)
    safe = np.where(sd > 0, sd, 1.0)
    for _ in range(60):
        x = (lo + hi) / 2  # (parents, h, q)
        z = (x[:, None, :, :] - m[..., None]) / safe[..., None]
        cdf = np.where(sd[..., None] > 0, ndtr(z), (x[:, None, :, :] >= m[..., None]).astype(float))
        below = (cdf * weight[None, :, :, None]).sum(axis=1) >= q
        hi = np.where(below, x, hi)
        lo = np.where(below, lo, x)
    return np.clip((lo + hi) / 2, 0.0, None)


def coherent_quantiles(
    point: np.ndarray,
    scale: np.ndarray,
    knots: np.ndarray,
    template: np.ndarray,
    parents: list[tuple[np.ndarray, int]],
    columns: tuple[float, ...],
    chunk: int = PATH_SERIES,
) -> tuple[np.ndarray, list[np.ndarray]]:
    """The bottom series' own quantiles (series, h, len(columns)) and each parent level's
    (parents, h, len(columns)), coherent: a parent's distribution is that of the sum of its
    children's under the backtest's copula (see above).

    ``point`` (series, h) reconciled y_hat (≥ 0), ``scale`` (series,), ``knots`` (series, h,
    len(TAUS)) calibrated scaled-residual quantiles, ``template`` (series, windows, h) the
    scaled residuals of the backtest (NaN where none), ``parents``: per parent level the parent
    row of each bottom series (−1: none) and the number of parents. Chunked over series: only
    the parents' scenario moments are kept."""
    n_series, h = point.shape
    n_windows = template.shape[1]
    own = np.zeros((n_series, h, len(columns)))
    sums = [(np.zeros((size, n_windows, h)), np.zeros((size, n_windows, h)), np.zeros((size, h))) for _, size in parents]
    for a in range(0, n_series, chunk):
        rows = slice(a, min(a + chunk, n_series))
        m, v, values, factor, mean = scenario_moments(point[rows], scale[rows], knots[rows], template[rows])
        own[rows] = output_quantiles(values, factor, columns)
        for (parent_of, size), (mm, vv, tt) in zip(parents, sums, strict=True):
            _add_to_parents(parent_of[rows], size, m, mm)
            _add_to_parents(parent_of[rows], size, v, vv)
            _add_to_parents(parent_of[rows], size, mean, tt)
    scenarios = (~np.isnan(template)).any(axis=0)  # (windows, h): a window with residuals at that step
    scenarios = np.where(scenarios.any(axis=0, keepdims=True), scenarios, True)
    out = [mixture_quantiles(mm, vv, scenarios, tt, columns) for mm, vv, tt in sums]
    return own, out
