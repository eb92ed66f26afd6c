"""Value family: RFM scores, BG/NBD + Gamma-Gamma customer value, value tier.

``value_clv`` is the expected *discounted margin* over the next ``clv_months`` months:
``margin × E[spend per purchase] × Σ_k E[purchases in month k] / (1 + d)^k`` with ``d`` the
monthly rate of the annual ``discount_rate`` (default 10 %: (1.10)^(1/12) − 1 a month) and
``margin`` the share of revenue kept (default 1.0: the CLV is then discounted revenue).
``value_clv_p10`` / ``value_clv_p90``: an 80 % interval on each customer's CLV from the
parameters' uncertainty — ``clv_draws`` parameter vectors drawn from the fits' asymptotic
normal (on the log scale, covariance = inverse Hessian), each customer's CLV recomputed per
draw (the monthly discounting profile kept from the point estimate); null when a fit's
Hessian cannot be inverted. It does not include the customer's own purchase-to-purchase
randomness: it says how sure the model is of its expectation.
Warnings: ``clv-few-customers`` (fit on fewer than ``MIN_FIT_CUSTOMERS``) and
``clv-degenerate-fit`` (see ``c2m_cli.labels.clv``).
"""

from __future__ import annotations

import datetime as dt
import warnings
from typing import Any

import numpy as np
import polars as pl

from c2m_cli.diagnostics import WarningLog
from c2m_cli.errors import InvalidDataError
from c2m_cli.labels.base import LabelOptions, fx_sum, fx_value
from c2m_cli.labels.clv import BetaGeoModel, GammaGammaModel, distinct_pairs, rfm_summary

WEEKS_PER_MONTH = 365.25 / 12 / 7
MIN_FIT_CUSTOMERS = 300
CHUNK = 50_000  # customers per block of the interval computation (memory: CHUNK × draws floats)
PAIR_TERMS_MAX = 8_000_000  # distinct (x, T) pairs × draws held at once (64 MB of floats)


def _quintile(expr: pl.Expr, *, descending: bool = False) -> pl.Expr:
    """1–5 by rank among the non-null values (5 = best); ties share the average rank."""
    rank = expr.rank("average", descending=descending)
    return (((rank - 0.5) / expr.count()) * 5).floor().cast(pl.Int8) + 1


def fit_sample(summary: pl.DataFrame, size: int, seed: int) -> pl.DataFrame:
    """A deterministic random sample of customers (by seeded hash of user_id) to fit on."""
    if summary.height <= size:
        return summary
    return summary.with_columns(_h=pl.col("user_id").hash(seed)).sort("_h", "user_id").head(size).drop("_h")


def monthly_rate(annual: float) -> float:
    """The monthly discount rate equivalent to an annual one: (1 + annual)^(1/12) − 1."""
    return float((1.0 + annual) ** (1.0 / 12.0) - 1.0)


def discounted_purchases(bg: BetaGeoModel, months: int, annual_rate: float, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """Σ_k (E[purchases by month k] − E[by month k−1]) / (1 + d)^k, k = 1 … months."""
    d = monthly_rate(annual_rate)
    total = np.zeros(len(x))
    previous = np.zeros(len(x))
    pairs = distinct_pairs(x, T)
    for k in range(1, months + 1):
        horizon = k * WEEKS_PER_MONTH
        cumulative = bg.expected_purchases(horizon, x, t_x, T, terms=bg.horizon_terms(horizon, x, T, pairs=pairs))
        total += (cumulative - previous) / (1.0 + d) ** k
        previous = cumulative
    return total


def _interval(
    clv: np.ndarray,
    expected: np.ndarray,
    spend: np.ndarray,
    bg: BetaGeoModel,
    gg: GammaGammaModel | None,
    horizon: float,
    arrays: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    draws: int,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """P10 and P90 of each customer's CLV over parameter draws (both fits' draws, seeded)."""
    n = len(clv)
    nan = np.full(n, np.nan)
    rng = np.random.default_rng(seed)
    bg_draws = bg.sample_params(draws, rng)
    gg_draws = gg.sample_params(draws, rng) if gg is not None else None
    if bg_draws is None or (gg is not None and gg_draws is None) or draws < 2:
        return nan, nan
    x, t_x, T, m = arrays
    # the hypergeometric term of E[X] depends on (x, T) alone: once per distinct pair and draw
    # (a pairs × draws matrix while that stays small, else once per block)
    pairs = distinct_pairs(x, T)
    whole = pairs.x.size * draws <= PAIR_TERMS_MAX
    terms = np.column_stack([bg.pair_terms(horizon, pairs, bg_draws[j]) for j in range(draws)]) if whole else None
    p10, p90 = np.empty(n), np.empty(n)
    for lo in range(0, n, CHUNK):
        hi = min(n, lo + CHUNK)
        block = np.empty((hi - lo, draws))
        local = None if whole else distinct_pairs(x[lo:hi], T[lo:hi])
        for j in range(draws):
            if terms is not None:
                head_body = terms[pairs.inverse[lo:hi], j]
            else:
                assert local is not None
                head_body = bg.pair_terms(horizon, local, bg_draws[j])[local.inverse]
            e = bg.expected_purchases(horizon, x[lo:hi], t_x[lo:hi], T[lo:hi], params=bg_draws[j], terms=head_body)
            sp = gg.expected_spend(x[lo:hi], m[lo:hi], params=gg_draws[j]) if gg is not None and gg_draws is not None else spend[lo:hi]
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.where(expected[lo:hi] > 0, e / expected[lo:hi], 0.0) * np.where(spend[lo:hi] > 0, sp / spend[lo:hi], 1.0)
            block[:, j] = clv[lo:hi] * ratio
        p10[lo:hi], p90[lo:hi] = _row_quantiles(block)
    return p10, p90


def _row_quantiles(block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """P10 and P90 of each row, ignoring NaN (``np.nanquantile``): rows without NaN in one
    vectorised ``np.quantile`` (nanquantile loops over rows in Python), the others row by row."""
    out = np.full((2, block.shape[0]), np.nan)
    clean = ~np.isnan(block).any(axis=1)
    if clean.any():
        out[:, clean] = np.quantile(block[clean], [0.1, 0.9], axis=1)
    if (~clean).any():
        with warnings.catch_warnings():  # a customer without a CLV (all NaN) stays NaN → null
            warnings.simplefilter("ignore", RuntimeWarning)
            out[:, ~clean] = np.nanquantile(block[~clean], [0.1, 0.9], axis=1)
    return out[0], out[1]


def value_labels(
    purchases: pl.LazyFrame, as_of: dt.date, options: LabelOptions, seed: int, log: WarningLog | None = None
) -> tuple[pl.DataFrame, dict[str, Any], BetaGeoModel | None]:
    """Per-buyer value columns, the fitted model (for ``value_model.json``) and the BG/NBD fit."""
    log = log if log is not None else WarningLog()
    summary = rfm_summary(purchases.select("user_id", "day", "amount"), end=as_of)
    model: dict[str, Any] = {
        "time_unit": "weeks",
        "calibration": {
            "start": None if summary.is_empty() else str(summary["first_day"].min()),
            "end": str(as_of),
        },
        "fit_customers": 0,
        "customers": summary.height,
        "clv_horizon_months": options.clv_months,
        "discount_rate_annual": options.discount_rate,
        "discount_rate_monthly": monthly_rate(options.discount_rate),
        "margin": options.margin,
        "clv_interval": {"level": 0.8, "draws": options.clv_draws, "method": "parametric bootstrap of the fitted parameters"},
        "bgnbd": None,
        "gamma_gamma": None,
        "notes": [],
    }
    x = summary["frequency"].to_numpy()
    t_x = summary["recency"].to_numpy()
    T = summary["T"].to_numpy()
    m = summary["monetary"].to_numpy()
    horizon = options.clv_months * WEEKS_PER_MONTH
    sample = fit_sample(summary, options.fit_sample, seed)
    model["fit_customers"] = sample.height
    if 0 < sample.height < MIN_FIT_CUSTOMERS:
        log.warn(
            "clv-few-customers",
            f"BG/NBD and Gamma-Gamma were fitted on {sample.height} customers (fewer than {MIN_FIT_CUSTOMERS}): "
            "value_clv and value_p_alive rest on a weak fit",
        )
    p_alive = np.ones(summary.height)
    expected = np.full(summary.height, np.nan)
    discounted = np.full(summary.height, np.nan)
    bg: BetaGeoModel | None = None
    if (sample["frequency"] > 0).sum() >= 1 and (sample["T"] > 0).sum() >= 2:
        bg = BetaGeoModel().fit(sample["frequency"].to_numpy(), sample["recency"].to_numpy(), sample["T"].to_numpy())
        model["bgnbd"] = bg.to_dict()
        p_alive = bg.p_alive(x, t_x, T)
        expected = bg.expected_purchases(horizon, x, t_x, T)
        discounted = discounted_purchases(bg, options.clv_months, options.discount_rate, x, t_x, T)
        if bg.degenerate_:
            log.warn(
                "clv-degenerate-fit",
                f"BG/NBD on {bg.n_} customers gave r={bg.r_:.4g}, alpha={bg.alpha_:.4g}, a={bg.a_:.4g}, b={bg.b_:.4g} "
                f"({bg.degenerate_reason_}): P(alive) and CLV are unreliable",
            )
    else:
        model["notes"].append(
            "BG/NBD not fitted: no repeat purchase (or no customer older than one day) in the fit sample"
        )
    spend = np.full(summary.height, np.nan)
    gg: GammaGammaModel | None = None
    try:
        gg = GammaGammaModel().fit(sample["frequency"].to_numpy(), sample["monetary"].to_numpy())
        model["gamma_gamma"] = gg.to_dict()
        spend = gg.expected_spend(x, m)
        if not np.all(np.isfinite(spend)):
            raise InvalidDataError("Gamma-Gamma gave q <= 1 (no finite population mean)")
        if gg.degenerate_:
            log.warn(
                "clv-degenerate-fit",
                f"Gamma-Gamma on {gg.n_} customers gave p={gg.p_:.4g}, q={gg.q_:.4g}, v={gg.v_:.4g} "
                f"({gg.degenerate_reason_}): expected spend and CLV are unreliable",
            )
    except InvalidDataError as exc:
        gg = None
        model["notes"].append(f"Gamma-Gamma not used ({exc}); expected spend = observed mean per transaction")
        daily = purchases.group_by("user_id", "day").agg(fx_sum(pl.col("amount")).alias("amount"))
        per_user = daily.group_by("user_id").agg(fx_value(pl.col("amount").sum() / pl.len()).alias("_m")).collect()
        spend = summary.select("user_id").join(per_user, on="user_id", how="left")["_m"].to_numpy()
    clv = options.margin * discounted * spend
    p10 = p90 = np.full(summary.height, np.nan)
    if bg is not None:
        p10, p90 = _interval(clv, expected, spend, bg, gg, horizon, (x, t_x, T, m), options.clv_draws, seed)
    frame = summary.select(
        "user_id",
        pl.Series("value_frequency", x),
        pl.Series("value_recency_weeks", t_x),
        pl.Series("value_T_weeks", T),
        pl.Series("value_monetary", m),
        pl.Series("value_p_alive", p_alive),
        pl.Series("value_expected_purchases", expected),
        pl.Series("value_expected_spend", spend),
        pl.Series("value_clv", clv),
        pl.Series("value_clv_p10", p10),
        pl.Series("value_clv_p90", p90),
    ).with_columns(pl.col(pl.Float64).fill_nan(None))
    return frame, model, bg


def rfm_scores(behavior: pl.DataFrame, value: pl.DataFrame, options: LabelOptions) -> pl.DataFrame:
    """RFM quintiles (5 = best) over buyers, the RFM code and the value tier by CLV rank."""
    frame = behavior.select("user_id", "behavior_recency_days", "behavior_orders", "behavior_total_spend").join(
        value, on="user_id", how="left"
    )
    buyer = pl.col("behavior_orders") > 0
    r = _quintile(pl.when(buyer).then(pl.col("behavior_recency_days")), descending=True)
    f = _quintile(pl.when(buyer).then(pl.col("behavior_orders")))
    mo = _quintile(pl.when(buyer).then(pl.col("behavior_total_spend")))
    frame = frame.with_columns(value_r_score=r, value_f_score=f, value_m_score=mo)
    clv_rank = pl.col("value_clv").rank("average", descending=True) / pl.col("value_clv").count()
    frame = frame.with_columns(
        value_rfm=pl.concat_str(
            pl.col("value_r_score").cast(pl.String),
            pl.col("value_f_score").cast(pl.String),
            pl.col("value_m_score").cast(pl.String),
        ),
        value_clv_percentile=(1.0 - clv_rank + 1.0 / pl.col("value_clv").count()).clip(0.0, 1.0),
        value_tier=pl.when(~buyer | pl.col("behavior_orders").is_null())
        .then(pl.lit("none"))
        .when(pl.col("value_clv").is_null())
        .then(pl.lit("unknown"))
        .when(clv_rank <= options.high_value_share)
        .then(pl.lit("high"))
        .when(clv_rank <= options.high_value_share + 0.3)
        .then(pl.lit("medium"))
        .otherwise(pl.lit("low")),
    )
    return frame.select(
        "user_id", "value_r_score", "value_f_score", "value_m_score", "value_rfm", "value_clv_percentile", "value_tier"
    )
