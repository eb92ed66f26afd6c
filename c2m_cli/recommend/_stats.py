"""The few distribution tails recommend needs, in numpy and the standard library.

``scipy.stats`` costs about 1.6 s of import (more than a quarter of the step's budget on
Complete Journey) for three functions; these are their textbook forms, checked against
``scipy.stats`` in tests/recommend/test_methods.py:

- ``norm_sf``: the standard normal upper tail, ½·erfc(x/√2);
- ``benjamini_hochberg``: step-up adjusted p-values, q_(i) = min_{j ≥ i} p_(j)·m/j, at most 1;
- ``hypergeom_sf``: P(X ≥ k) for X ~ Hypergeometric(N, K, n), summed exactly term by term from
  k away from the mode (the terms fall monotonically there), as the upper tail when k lies above
  the mode and as 1 − the lower tail otherwise.
"""

from __future__ import annotations

import math

import numpy as np

_erfc = np.frompyfunc(math.erfc, 1, 1)
_lgamma = np.frompyfunc(math.lgamma, 1, 1)


def norm_sf(x: np.ndarray) -> np.ndarray:
    """P(Z > x) for a standard normal Z, elementwise."""
    x = np.asarray(x, dtype=float)
    return np.asarray(0.5 * _erfc(x / math.sqrt(2.0)), dtype=float).reshape(x.shape)


def benjamini_hochberg(p: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values (q) of all the tests run; NaN stays NaN."""
    p = np.asarray(p, dtype=float)
    q = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    m = int(ok.sum())
    if m:
        values = np.clip(p[ok], 0.0, 1.0)
        order = np.argsort(values, kind="stable")
        scaled = values[order] * m / np.arange(1, m + 1)
        adjusted = np.minimum(np.minimum.accumulate(scaled[::-1])[::-1], 1.0)
        out = np.empty(m)
        out[order] = adjusted
        q[ok] = out
    return q


def _log_choose(n: np.ndarray, k: np.ndarray) -> np.ndarray:
    return np.asarray(_lgamma(n + 1.0) - _lgamma(k + 1.0) - _lgamma(n - k + 1.0), dtype=float)


def hypergeom_sf(x: np.ndarray, total: np.ndarray | float, successes: np.ndarray | float,
                 draws: np.ndarray | float) -> np.ndarray:
    """P(X > x) for X ~ Hypergeometric(total N, successes K, draws n), elementwise (scipy's
    ``hypergeom.sf(x, N, K, n)``)."""
    k, big_n, big_k, n = (np.array(a, dtype=float) for a in np.broadcast_arrays(
        np.asarray(x, dtype=float) + 1.0, np.asarray(total, dtype=float), np.asarray(successes, dtype=float),
        np.asarray(draws, dtype=float)))  # P(X ≥ k)
    lo, hi = np.maximum(0.0, n + big_k - big_n), np.minimum(n, big_k)
    out = np.where(k <= lo, 1.0, 0.0)
    inside = (k > lo) & (k <= hi)
    if not inside.any():
        return out
    kk, nn, kk_s, dd, lo_i, hi_i = (a[inside] for a in (k, big_n, big_k, n, lo, hi))
    mode = np.floor((dd + 1.0) * (kk_s + 1.0) / (nn + 2.0))
    upper = kk > mode
    # start: the upper tail from k, or the lower tail from k − 1
    start = np.where(upper, kk, kk - 1.0)
    log_p0 = _log_choose(kk_s, start) + _log_choose(nn - kk_s, dd - start) - _log_choose(nn, dd)
    term = np.exp(log_p0)
    total_sum = term.copy()
    j = start.copy()
    active = term > 0
    while active.any():
        # next term away from the mode: up for the upper tail, down for the lower one
        up = upper & active
        down = ~upper & active
        ratio = np.zeros_like(term)
        ratio[up] = ((kk_s[up] - j[up]) * (dd[up] - j[up])) / ((j[up] + 1.0) * (nn[up] - kk_s[up] - dd[up] + j[up] + 1.0))
        ratio[down] = (j[down] * (nn[down] - kk_s[down] - dd[down] + j[down])) / ((kk_s[down] - j[down] + 1.0) * (dd[down] - j[down] + 1.0))
        j = np.where(up, j + 1.0, np.where(down, j - 1.0, j))
        active &= np.where(upper, j <= hi_i, j >= lo_i)
        term = np.where(active, term * ratio, 0.0)
        total_sum += term
        active &= term > total_sum * 1e-17
    out[inside] = np.where(upper, total_sum, 1.0 - total_sum)
    return np.clip(out, 0.0, 1.0)
