"""Demand as one distribution (Monte Carlo draws), for briefs and quantities alike.

Every P10/P50/P90, newsvendor quantity, fill rate, leftover and expected profit of a row is read
off the same draws, so P10 ≤ P50 ≤ quantity ≤ P90 holds at service level 0.9 by construction.

Sources:
- ``from_forecast``: a forecast's periods, each normal with the spread its q0.1/q0.9 imply
  (σ = (q0.9 − q0.1) / (2·Φ⁻¹(0.9)), Φ⁻¹ computed), periods independent, floored at a known minimum.
- ``from_search``: a need with no product yet: future searches (Gamma–Poisson on the need's recent
  weekly searches) × search→purchase conversion of comparable products (Gamma posterior of their
  units per search), Poisson units.
- ``from_history``: recent weekly units with their own over-dispersion (negative binomial by moments).
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

DRAWS = 4000


@dataclass(frozen=True)
class Demand:
    draws: np.ndarray
    method: str

    def quantile(self, q: float) -> float:
        return max(0.0, float(np.ceil(np.quantile(self.draws, q) - 1e-9))) + 0.0 if self.draws.size else 0.0

    @property
    def mean(self) -> float:
        return float(self.draws.mean()) if self.draws.size else 0.0

    def expected_sales(self, qty: float) -> float:
        return float(np.minimum(self.draws, qty).mean()) if self.draws.size else 0.0

    def expected_profit(self, qty: float, price: float, cost: float, salvage: float) -> float:
        sold = np.minimum(self.draws, qty)
        return float((price * sold + salvage * (qty - sold) - cost * qty).mean())


def _rng(seed: int, key: str) -> np.random.Generator:
    """A generator per (seed, row key): a row's draws do not depend on the other rows."""
    import hashlib

    digest = int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "little")
    return np.random.default_rng([seed, digest])


def from_forecast(p10: np.ndarray, p50: np.ndarray, p90: np.ndarray, *, floor: float, seed: int, key: str,
                  method: str) -> Demand:
    z = NormalDist().inv_cdf(0.9)
    sd = np.maximum((np.asarray(p90) - np.asarray(p10)) / (2 * z), 0.0)
    mean = float(np.sum(p50))
    total_sd = float(np.sqrt(np.sum(sd**2)))
    draws = _rng(seed, key).normal(mean, total_sd, DRAWS) if total_sd > 0 else np.full(DRAWS, mean)
    return Demand(np.maximum(draws, max(floor, 0.0)), method)


def from_search(recent_searches: float, recent_weeks: int, horizon_weeks: int, conv_units: float, conv_searches: float,
                *, seed: int, key: str, method: str) -> Demand:
    rng = _rng(seed, key)
    rate = rng.gamma(recent_searches + 0.5, 1.0, DRAWS) / max(recent_weeks, 1)  # searches a week
    searches = rng.poisson(rate * horizon_weeks)
    conversion = rng.gamma(conv_units + 0.5, 1.0, DRAWS) / max(conv_searches, 1.0)
    return Demand(rng.poisson(searches * conversion).astype(float), method)


def from_history(weekly: np.ndarray, horizon_weeks: int, *, seed: int, key: str, method: str) -> Demand:
    rng = _rng(seed, key)
    weekly = np.asarray(weekly, dtype=float)
    if weekly.size == 0 or weekly.sum() <= 0:
        return Demand(np.zeros(DRAWS), method)
    m = float(weekly.mean())
    v = float(weekly.var(ddof=1)) if weekly.size > 1 else m
    # uncertainty of the mean itself (Gamma posterior of the weekly rate) …
    rate = rng.gamma(weekly.sum() + 0.5, 1.0, DRAWS) / weekly.size
    # … and week-to-week over-dispersion (negative binomial by moments, Poisson when none)
    if v > m:
        shape = m * m / (v - m) * horizon_weeks
        draws = rng.poisson(rng.gamma(shape, rate * horizon_weeks / shape))
    else:
        draws = rng.poisson(rate * horizon_weeks)
    return Demand(draws.astype(float), method)


def from_normal(mean: float, sd: float, *, floor: float, seed: int, key: str, method: str) -> Demand:
    draws = _rng(seed, key).normal(mean, sd, DRAWS) if sd > 0 else np.full(DRAWS, mean)
    return Demand(np.maximum(draws, max(floor, 0.0)), method)
