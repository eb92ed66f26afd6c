"""Customer value: BG/NBD (repeat purchases, P(alive)) and Gamma-Gamma (spend per purchase).

Both models are fitted by maximum likelihood with scipy on a sample of customers, with the
log-likelihood vectorised over the distinct (x, t_x, T) triples, then every customer is scored in
closed form. Time is in weeks. References: Fader, Hardie & Lee (2005), "Counting your customers
the easy way", Marketing Science 24(2); Fader & Hardie (2013), "The Gamma-Gamma model of
monetary value". The estimators follow scikit-learn's rules: parameters in ``__init__``, ``fit``
returns ``self``, fitted attributes end in ``_``; they serialise to plain JSON (no pickle).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
from scipy import optimize, special

from c2m_cli.errors import InvalidDataError

LOG_BOUND = 12.0  # parameters stay within e^±12 (in scaled units) while optimising


def _compress(*columns: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Distinct rows of the given columns and how often each occurs (the likelihood's weights)."""
    stacked = np.column_stack(columns)
    unique, counts = np.unique(stacked, axis=0, return_counts=True)
    return [unique[:, i] for i in range(unique.shape[1])], counts.astype(np.float64)


def _minimise(nll: Any, start: np.ndarray) -> tuple[np.ndarray, float]:
    """Minimise a negative log-likelihood over bounded log-parameters (L-BFGS-B), then a short
    Nelder-Mead polish when it did not converge; degenerate data (a handful of customers) stops at the bounds instead of
    wandering off to infinity."""
    bounds = [(-LOG_BOUND, LOG_BOUND)] * len(start)
    first = optimize.minimize(nll, start, method="L-BFGS-B", bounds=bounds, options={"ftol": 1e-13, "gtol": 1e-9})
    if first.success:
        return np.exp(first.x), float(first.fun)
    second = optimize.minimize(
        nll,
        first.x,
        method="Nelder-Mead",
        bounds=bounds,
        options={"xatol": 1e-8, "fatol": 1e-10, "maxiter": 400 * len(start)},
    )
    best = second if second.fun <= first.fun else first
    return np.exp(best.x), float(best.fun)


class BetaGeoModel:
    """BG/NBD: purchases while alive ~ Poisson(λ), λ ~ Gamma(r, α); dropout p ~ Beta(a, b)."""

    def __init__(self, penalizer: float = 0.0) -> None:
        self.penalizer = penalizer

    @staticmethod
    def log_likelihood(
        params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
    ) -> np.ndarray:
        r, alpha, a, b = params
        # the gamma-function terms depend on x alone: evaluate them once per distinct x
        xs, where = np.unique(x, return_inverse=True)
        by_x = (
            special.gammaln(r + xs)
            - special.gammaln(r)
            + special.gammaln(a + b)
            + special.gammaln(b + xs)
            - special.gammaln(b)
            - special.gammaln(a + b + xs)
        )
        a1 = by_x[where] + r * np.log(alpha)
        a2 = 0.0
        a3 = -(r + x) * np.log(alpha + T)
        repeat = x > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            a4 = np.where(
                repeat,
                np.log(a) - np.log(np.where(repeat, b + x - 1, 1.0)) - (r + x) * np.log(alpha + t_x),
                -np.inf,
            )
        return a1 + a2 + np.logaddexp(a3, a4)  # type: ignore[no-any-return]

    def fit(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> BetaGeoModel:
        x, t_x, T = (np.asarray(v, dtype=np.float64) for v in (x, t_x, T))
        if x.size == 0:
            raise InvalidDataError("cannot fit BG/NBD: no customer with a purchase")
        (ux, ut, uT), weight = _compress(x, t_x, T)
        scale = max(float(np.max(T)), 1e-9) / 10.0  # keep α of order one while optimising

        def nll(log_params: np.ndarray) -> float:
            params = np.exp(log_params)
            r, alpha, a, b = params
            ll = self.log_likelihood(np.array([r, alpha, a, b]), ux, ut / scale, uT / scale)
            value = -(weight * ll).sum() / weight.sum()
            value += self.penalizer * float((params**2).sum())
            return float(value) if np.isfinite(value) else 1e100

        fitted, value = _minimise(nll, np.zeros(4))
        r, alpha, a, b = fitted
        self.r_, self.alpha_, self.a_, self.b_ = float(r), float(alpha * scale), float(a), float(b)
        self.n_ = int(weight.sum())
        # the log-likelihood in the original time unit (weeks): rescaling time shifts it
        self.log_likelihood_ = float(
            (weight * self.log_likelihood(self.params_, ux, ut, uT)).sum()
        )
        del value
        return self

    @property
    def params_(self) -> np.ndarray:
        return np.array([self.r_, self.alpha_, self.a_, self.b_])

    def p_alive(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
        r, alpha, a, b = self.params_
        x, t_x, T = (np.asarray(v, dtype=np.float64) for v in (x, t_x, T))
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            log_ratio = (
                np.log(a)
                - np.log(np.maximum(b + x - 1, 1e-12))
                + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
            )
        odds = np.where(x > 0, np.exp(np.minimum(log_ratio, 700.0)), 0.0)
        return 1.0 / (1.0 + odds)  # type: ignore[no-any-return]

    def expected_purchases(
        self, t: float, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
    ) -> np.ndarray:
        """E[X(T, T+t] | x, t_x, T]: expected repeat purchases in the next ``t`` weeks."""
        r, alpha, a, b = self.params_
        x, t_x, T = (np.asarray(v, dtype=np.float64) for v in (x, t_x, T))
        z = t / (alpha + T + t)
        hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, z)
        alive = self.p_alive(x, t_x, T)
        with np.errstate(all="ignore"):
            head = (a + b + x - 1) / (a - 1)  # a < 1 is fine: numerator and bracket change sign together
            body = 1.0 - np.exp((r + x) * (np.log(alpha + T) - np.log(alpha + T + t))) * hyp
            value = head * body * alive
        # at a = 1 the closed form is 0/0: fall back on the alive rate times the horizon there
        crude = alive * (r + x) / (alpha + T) * t
        value = np.where(np.isfinite(value) & (abs(a - 1) > 1e-6), value, crude)
        return np.maximum(value, 0.0)  # type: ignore[no-any-return]

    def to_dict(self) -> dict[str, Any]:
        return {
            "r": self.r_,
            "alpha": self.alpha_,
            "a": self.a_,
            "b": self.b_,
            "log_likelihood": self.log_likelihood_,
            "customers": self.n_,
        }


class GammaGammaModel:
    """Gamma-Gamma: spend per transaction ~ Gamma(p, ν), ν ~ Gamma(q, γ) (γ stored as ``v``)."""

    def __init__(self, penalizer: float = 0.0) -> None:
        self.penalizer = penalizer

    @staticmethod
    def log_likelihood(params: np.ndarray, x: np.ndarray, m: np.ndarray) -> np.ndarray:
        p, q, v = params
        px = p * x
        xs, where = np.unique(x, return_inverse=True)
        by_x = special.gammaln(p * xs + q) - special.gammaln(p * xs)
        return (  # type: ignore[no-any-return]
            by_x[where]
            - special.gammaln(q)
            + q * np.log(v)
            + (px - 1) * np.log(m)
            + px * np.log(x)
            - (px + q) * np.log(x * m + v)
        )

    def fit(self, x: np.ndarray, m: np.ndarray) -> GammaGammaModel:
        x, m = np.asarray(x, dtype=np.float64), np.asarray(m, dtype=np.float64)
        keep = (x > 0) & (m > 0) & np.isfinite(m)
        x, m = x[keep], m[keep]
        if x.size < 2:
            raise InvalidDataError(
                "cannot fit Gamma-Gamma: fewer than two customers with repeat purchases and positive spend"
            )
        (ux, um), weight = _compress(x, m)
        scale = float(np.mean(m))

        def nll(log_params: np.ndarray) -> float:
            params = np.exp(log_params)
            ll = self.log_likelihood(params, ux, um / scale)
            value = -(weight * ll).sum() / weight.sum() + self.penalizer * float((params**2).sum())
            return float(value) if np.isfinite(value) else 1e100

        fitted, _ = _minimise(nll, np.zeros(3))
        p, q, v = fitted
        self.p_, self.q_, self.v_ = float(p), float(q), float(v * scale)
        self.n_ = int(weight.sum())
        self.log_likelihood_ = float((weight * self.log_likelihood(self.params_, ux, um)).sum())
        return self

    @property
    def params_(self) -> np.ndarray:
        return np.array([self.p_, self.q_, self.v_])

    def expected_spend(self, x: np.ndarray, m: np.ndarray) -> np.ndarray:
        """E[M | x, m]: expected spend per transaction; the population mean for x = 0."""
        p, q, v = self.params_
        x = np.asarray(x, dtype=np.float64)
        m = np.nan_to_num(np.asarray(m, dtype=np.float64), nan=0.0)
        x = np.where(m > 0, x, 0.0)
        denom = p * x + q - 1
        population = p * v / (q - 1) if q > 1 else float("nan")
        value = np.where(x > 0, p * (v + x * m) / np.maximum(denom, 1e-9), population)
        return value  # type: ignore[no-any-return]

    def to_dict(self) -> dict[str, Any]:
        return {
            "p": self.p_,
            "q": self.q_,
            "v": self.v_,
            "log_likelihood": self.log_likelihood_,
            "customers": self.n_,
        }


def rfm_summary(
    purchases: pl.LazyFrame | pl.DataFrame,
    *,
    user: str = "user_id",
    day: str = "day",
    amount: str = "amount",
    end: Any,
) -> pl.DataFrame:
    """Per-user repeat-purchase summary from (user, day, amount) rows, time in weeks.

    Several purchases on one day count as one transaction (their amounts summed); the first
    transaction is not a repeat. ``frequency`` = repeat transactions, ``recency`` = weeks from
    first to last, ``T`` = weeks from first to ``end``, ``monetary`` = mean amount of the repeat
    transactions (0 for one-time buyers).
    """
    lazy = purchases.lazy() if isinstance(purchases, pl.DataFrame) else purchases
    # money summed in fixed point (1e-6): exact whatever order a streamed aggregation sees
    daily = lazy.group_by(user, day).agg((pl.col(amount) * 1e6).round(0).cast(pl.Int64).sum().alias("_amount"))
    end_date = pl.lit(end).cast(pl.Date)
    summary = (
        daily.sort(user, day)
        .group_by(user)
        .agg(
            (pl.len() - 1).cast(pl.Float64).alias("frequency"),
            pl.col(day).min().alias("first_day"),
            pl.col(day).max().alias("last_day"),
            pl.col("_amount").sum().alias("_total"),
            pl.col("_amount").sort_by(day).first().alias("_first_amount"),
        )
        .with_columns(
            ((pl.col("last_day") - pl.col("first_day")).dt.total_days() / 7.0).alias("recency"),
            ((end_date - pl.col("first_day")).dt.total_days() / 7.0).alias("T"),
            pl.when(pl.col("frequency") > 0)
            .then((pl.col("_total") - pl.col("_first_amount")).cast(pl.Float64) / 1e6 / pl.col("frequency"))
            .otherwise(0.0)
            .alias("monetary"),
        )
        .drop("_total", "_first_amount")
    )
    return summary.collect(engine="streaming").sort(user)
