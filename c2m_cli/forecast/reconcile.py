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
