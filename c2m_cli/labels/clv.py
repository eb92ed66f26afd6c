"""Customer value: BG/NBD (repeat purchases, P(alive)) and Gamma-Gamma (spend per purchase).

Both models are fitted by maximum likelihood with scipy on a sample of customers, with the
log-likelihood vectorised over the distinct (x, t_x, T) triples, then every customer is scored in
closed form. Time is in weeks. References: Fader, Hardie & Lee (2005), "Counting your customers
the easy way", Marketing Science 24(2); Fader & Hardie (2013), "The Gamma-Gamma model of
monetary value". The estimators follow scikit-learn's rules: parameters in ``__init__``, ``fit``
returns ``self``, fitted attributes end in ``_``; they serialise to plain JSON (no pickle).

Uncertainty: the optimisation runs over log-parameters; at the optimum the numerical Hessian
of the negative log-likelihood (central differences) is inverted into the asymptotic
covariance of the log-parameters (``cov_log_``), from which come the standard errors of the
parameters (delta method: se(θ) = θ × se(log θ)) and parameter draws for intervals
(``sample_params``: log-normal, i.e. normal on the log scale). A fit whose parameters sit at
the optimiser's bound, are implausibly large (a shape parameter above 1,000), whose Hessian is
not positive definite, or with a standard error above the parameter's value is flagged
``degenerate_`` (its values are unreliable), with the reason in ``degenerate_reason_``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import polars as pl

from c2m_cli.errors import InvalidDataError

# SciPy's modules the fits use (~0.5 s to import): imported where they are used, and preloaded by
# the label step (labels.run_label) while it reads the orders
FIT_MODULES = ("scipy.optimize", "scipy.special")

LOG_BOUND = 12.0  # parameters stay within e^±12 (in scaled units) while optimising
HUGE = 1e3  # a shape parameter (r, a, b, p, q) above this is implausible for purchase data
HESSIAN_STEP = 1e-4


def numerical_hessian(f: Any, at: np.ndarray, step: float = HESSIAN_STEP) -> np.ndarray:
    """Central-difference Hessian of ``f`` at ``at``: (f(+i+j) − f(+i−j) − f(−i+j) + f(−i−j)) / 4h²."""
    n = at.size
    hessian = np.empty((n, n))
    eye = np.eye(n) * step
    for i in range(n):
        for j in range(i, n):
            value = (
                f(at + eye[i] + eye[j]) - f(at + eye[i] - eye[j]) - f(at - eye[i] + eye[j]) + f(at - eye[i] - eye[j])
            ) / (4 * step * step)
            hessian[i, j] = hessian[j, i] = value
    return hessian


def _uncertainty(
    total_nll: Any, log_opt: np.ndarray, params: np.ndarray, shapes: list[int], names: tuple[str, ...]
) -> tuple[np.ndarray | None, bool, str]:
    """(covariance of the log-parameters or None, degenerate?, why) at the optimum."""
    reasons = []
    if np.any(np.abs(log_opt) >= LOG_BOUND - 1e-3):
        reasons.append("a parameter at the optimiser's bound")
    if np.any(params[shapes] > HUGE):
        reasons.append("implausibly large shape parameters")
    cov = None
    hessian = numerical_hessian(total_nll, log_opt)
    if np.all(np.isfinite(hessian)):
        try:
            eigen = np.linalg.eigvalsh(hessian)
            if eigen.min() > 0:
                cov = np.linalg.inv(hessian)
        except np.linalg.LinAlgError:
            cov = None
    if cov is None:
        reasons.append("a Hessian that is not positive definite (parameters not identified)")
    else:
        # se(θ)/θ = se(log θ): above 1 the data cannot tell the parameter from zero or twice it
        loose = np.sqrt(np.clip(np.diag(cov), 0.0, None)) > 1.0
        if loose.any():
            reasons.append(f"parameter(s) {', '.join(names[i] for i in np.flatnonzero(loose))} not identified by the data (standard error above the value)")
    return cov, bool(reasons), "; ".join(reasons)


def _draws(log_params: np.ndarray, cov: np.ndarray | None, n: int, rng: np.random.Generator) -> np.ndarray | None:
    if cov is None:
        return None
    return np.exp(rng.multivariate_normal(log_params, cov, size=n, method="cholesky"))  # type: ignore[no-any-return]


def _compress(*columns: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Distinct rows of the given columns and how often each occurs (the likelihood's weights)."""
    stacked = np.column_stack(columns)
    unique, counts = np.unique(stacked, axis=0, return_counts=True)
    return [unique[:, i] for i in range(unique.shape[1])], counts.astype(np.float64)


def _minimise(nll: Any, start: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    """Minimise a negative log-likelihood over bounded log-parameters (L-BFGS-B), then a short
    Nelder-Mead polish when it did not converge; degenerate data (a handful of customers) stops at the bounds instead of
    wandering off to infinity."""
    with _one_thread():  # a 3-4 parameter problem: BLAS threads only cost their wake-ups
        return _minimise_here(nll, start)


@cache
def _controller() -> Any:
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def _one_thread() -> Any:
    return _controller().limit(limits=1)


def _minimise_here(nll: Any, start: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    from scipy import optimize

    bounds = [(-LOG_BOUND, LOG_BOUND)] * len(start)
    first = optimize.minimize(nll, start, method="L-BFGS-B", bounds=bounds, options={"ftol": 1e-13, "gtol": 1e-9})
    if first.success:
        return np.exp(first.x), float(first.fun), np.asarray(first.x)
    second = optimize.minimize(
        nll,
        first.x,
        method="Nelder-Mead",
        bounds=bounds,
        options={"xatol": 1e-8, "fatol": 1e-10, "maxiter": 400 * len(start)},
    )
    best = second if second.fun <= first.fun else first
    return np.exp(best.x), float(best.fun), np.asarray(best.x)


@dataclass(frozen=True)
class Pairs:
    """The distinct (x, T) pairs of a set of customers and, per customer, the index of theirs."""

    x: np.ndarray
    T: np.ndarray
    inverse: np.ndarray


def distinct_pairs(x: np.ndarray, T: np.ndarray) -> Pairs:
    """``Pairs`` of the customers' (x, T) (one sort of complex numbers: x real, T imaginary)."""
    x, T = (np.asarray(v, dtype=np.float64) for v in (x, T))
    unique, inverse = np.unique(x + 1j * T, return_inverse=True)
    return Pairs(unique.real.copy(), unique.imag.copy(), inverse.reshape(-1))


class BetaGeoModel:
    """BG/NBD: purchases while alive ~ Poisson(λ), λ ~ Gamma(r, α); dropout p ~ Beta(a, b)."""

    def __init__(self, penalizer: float = 0.0) -> None:
        self.penalizer = penalizer

    @staticmethod
    def log_likelihood(
        params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, *, by_x: tuple[np.ndarray, np.ndarray] | None = None
    ) -> np.ndarray:
        """Per customer; ``by_x``: ``np.unique(x, return_inverse=True)`` when already known."""
        from scipy import special

        r, alpha, a, b = params
        # the gamma-function terms depend on x alone: evaluate them once per distinct x
        xs, where = np.unique(x, return_inverse=True) if by_x is None else by_x
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
        by_x = np.unique(ux, return_inverse=True)  # once, not at every evaluation
        scale = max(float(np.max(T)), 1e-9) / 10.0  # keep α of order one while optimising

        def nll(log_params: np.ndarray) -> float:
            params = np.exp(log_params)
            r, alpha, a, b = params
            ll = self.log_likelihood(np.array([r, alpha, a, b]), ux, ut / scale, uT / scale, by_x=by_x)
            value = -(weight * ll).sum() / weight.sum()
            value += self.penalizer * float((params**2).sum())
            return float(value) if np.isfinite(value) else 1e100

        fitted, _, log_opt = _minimise(nll, np.zeros(4))
        r, alpha, a, b = fitted
        self.r_, self.alpha_, self.a_, self.b_ = float(r), float(alpha * scale), float(a), float(b)
        self.n_ = int(weight.sum())
        # the log-likelihood in the original time unit (weeks): rescaling time shifts it
        self.log_likelihood_ = float(
            (weight * self.log_likelihood(self.params_, ux, ut, uT, by_x=by_x)).sum()
        )

        def total(log_params: np.ndarray) -> float:
            ll = self.log_likelihood(np.exp(log_params), ux, ut / scale, uT / scale, by_x=by_x)
            return float(-(weight * ll).sum())

        # log α in weeks = log α scaled + log scale: the covariance on the log scale is the same
        self.cov_log_, self.degenerate_, self.degenerate_reason_ = _uncertainty(total, log_opt, fitted, [0, 2, 3], ("r", "alpha", "a", "b"))
        self.log_params_ = np.log(self.params_)
        return self

    @property
    def se_(self) -> dict[str, float | None]:
        """Standard errors of r, alpha, a, b (None when the Hessian is not invertible)."""
        names = ("r", "alpha", "a", "b")
        if self.cov_log_ is None:
            return dict.fromkeys(names)
        log_se = np.sqrt(np.diag(self.cov_log_))
        return {k: float(v * se) for k, v, se in zip(names, self.params_, log_se, strict=True)}

    def sample_params(self, n: int, rng: np.random.Generator) -> np.ndarray | None:
        """``n`` parameter vectors (r, alpha, a, b) from the fit's asymptotic distribution."""
        return _draws(self.log_params_, self.cov_log_, n, rng)

    @property
    def params_(self) -> np.ndarray:
        return np.array([self.r_, self.alpha_, self.a_, self.b_])

    def p_alive(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, params: np.ndarray | None = None) -> np.ndarray:
        r, alpha, a, b = self.params_ if params is None else params
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
        self,
        t: float,
        x: np.ndarray,
        t_x: np.ndarray,
        T: np.ndarray,
        params: np.ndarray | None = None,
        *,
        terms: np.ndarray | None = None,
    ) -> np.ndarray:
        """E[X(T, T+t] | x, t_x, T]: expected repeat purchases in the next ``t`` weeks (with the
        fitted parameters, or ``params`` — e.g. one draw of ``sample_params``). ``terms``: the
        customers' ``horizon_terms`` for the same ``t`` and parameters, when already known."""
        r, alpha, a, b = self.params_ if params is None else params
        x, t_x, T = (np.asarray(v, dtype=np.float64) for v in (x, t_x, T))
        head_body = self.horizon_terms(t, x, T, params) if terms is None else terms
        alive = self.p_alive(x, t_x, T, params)
        with np.errstate(all="ignore"):
            value = head_body * alive
        # at a = 1 the closed form is 0/0: fall back on the alive rate times the horizon there
        crude = alive * (r + x) / (alpha + T) * t
        value = np.where(np.isfinite(value) & (abs(a - 1) > 1e-6), value, crude)
        return np.maximum(value, 0.0)  # type: ignore[no-any-return]

    def horizon_terms(
        self, t: float, x: np.ndarray, T: np.ndarray, params: np.ndarray | None = None, *, pairs: Pairs | None = None
    ) -> np.ndarray:
        """Per customer, the part of ``expected_purchases`` that depends on x and T alone (the
        hypergeometric term, the costly one): evaluated once per distinct (x, T) pair (``pairs``:
        ``distinct_pairs(x, T)`` when already known) — a few thousand pairs for millions of
        customers whose ages are whole days."""
        pairs = distinct_pairs(x, T) if pairs is None else pairs
        return self.pair_terms(t, pairs, params)[pairs.inverse]

    def pair_terms(self, t: float, pairs: Pairs, params: np.ndarray | None = None) -> np.ndarray:
        """``horizon_terms`` of each distinct pair of ``pairs`` (in the order of ``pairs.x``)."""
        from scipy import special

        r, alpha, a, b = self.params_ if params is None else params
        x, T = pairs.x, pairs.T
        z = t / (alpha + T + t)
        hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, z)
        with np.errstate(all="ignore"):
            head = (a + b + x - 1) / (a - 1)  # a < 1 is fine: numerator and bracket change sign together
            body = 1.0 - np.exp((r + x) * (np.log(alpha + T) - np.log(alpha + T + t))) * hyp
            return head * body  # type: ignore[no-any-return]

    def to_dict(self) -> dict[str, Any]:
        return {
            "r": self.r_,
            "alpha": self.alpha_,
            "a": self.a_,
            "b": self.b_,
            "se": self.se_,
            "degenerate": self.degenerate_,
            "degenerate_reason": self.degenerate_reason_ or None,
            "log_likelihood": self.log_likelihood_,
            "customers": self.n_,
        }


class GammaGammaModel:
    """Gamma-Gamma: spend per transaction ~ Gamma(p, ν), ν ~ Gamma(q, γ) (γ stored as ``v``)."""

    def __init__(self, penalizer: float = 0.0) -> None:
        self.penalizer = penalizer

    @staticmethod
    def log_likelihood(
        params: np.ndarray, x: np.ndarray, m: np.ndarray, *, by_x: tuple[np.ndarray, np.ndarray] | None = None
    ) -> np.ndarray:
        """Per customer; ``by_x``: ``np.unique(x, return_inverse=True)`` when already known."""
        from scipy import special

        p, q, v = params
        px = p * x
        xs, where = np.unique(x, return_inverse=True) if by_x is None else by_x
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
        by_x = np.unique(ux, return_inverse=True)  # once, not at every evaluation
        scale = float(np.mean(m))

        def nll(log_params: np.ndarray) -> float:
            params = np.exp(log_params)
            ll = self.log_likelihood(params, ux, um / scale, by_x=by_x)
            value = -(weight * ll).sum() / weight.sum() + self.penalizer * float((params**2).sum())
            return float(value) if np.isfinite(value) else 1e100

        fitted, _, log_opt = _minimise(nll, np.zeros(3))
        p, q, v = fitted
        self.p_, self.q_, self.v_ = float(p), float(q), float(v * scale)
        self.n_ = int(weight.sum())
        self.log_likelihood_ = float((weight * self.log_likelihood(self.params_, ux, um, by_x=by_x)).sum())

        def total(log_params: np.ndarray) -> float:
            return float(-(weight * self.log_likelihood(np.exp(log_params), ux, um / scale, by_x=by_x)).sum())

        self.cov_log_, self.degenerate_, self.degenerate_reason_ = _uncertainty(total, log_opt, fitted, [0, 1], ("p", "q", "v"))
        self.log_params_ = np.log(self.params_)
        return self

    @property
    def se_(self) -> dict[str, float | None]:
        """Standard errors of p, q, v (None when the Hessian is not invertible)."""
        names = ("p", "q", "v")
        if self.cov_log_ is None:
            return dict.fromkeys(names)
        log_se = np.sqrt(np.diag(self.cov_log_))
        return {k: float(v * se) for k, v, se in zip(names, self.params_, log_se, strict=True)}

    def sample_params(self, n: int, rng: np.random.Generator) -> np.ndarray | None:
        """``n`` parameter vectors (p, q, v) from the fit's asymptotic distribution."""
        return _draws(self.log_params_, self.cov_log_, n, rng)

    @property
    def params_(self) -> np.ndarray:
        return np.array([self.p_, self.q_, self.v_])

    def expected_spend(self, x: np.ndarray, m: np.ndarray, params: np.ndarray | None = None) -> np.ndarray:
        """E[M | x, m]: expected spend per transaction; the population mean for x = 0."""
        p, q, v = self.params_ if params is None else params
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
            "se": self.se_,
            "degenerate": self.degenerate_,
            "degenerate_reason": self.degenerate_reason_ or None,
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
