"""Seasonal candidates: equal to statsmodels at fixed parameters, fitted parameters recover a
planted season, candidates only with enough seasons, ranking on common windows."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from c2m_cli.forecast.backtest import make_cutoffs, rank_models, series_scale
from c2m_cli.forecast.models import BatchTask, forecast_batch
from c2m_cli.forecast.seasonal import (
    ets_fit_forecast,
    ets_initial,
    ets_pass,
    seasonal_indices,
)


def _monthly(n: int = 72, seed: int = 0, amplitude: float = 0.3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return (100 + 0.8 * t) * (1 + amplitude * np.sin(2 * np.pi * t / 12)) + rng.normal(0, 2, n)


@pytest.mark.parametrize("seasonal", ["add", "mul"])
def test_holt_winters_equals_statsmodels_at_fixed_parameters(seasonal: str) -> None:
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    y = _monthly()
    mult = seasonal == "mul"
    l0, b0, s0 = ets_initial(y[None], 12, mult)
    a, b, g, p = 0.3, 0.05, 0.2, 0.9
    par = [np.full((1, 1, 1), v) for v in (a, b, g, p)]
    sse, level, trend, season = ets_pass(y[None], np.array([[y.size]]), *par, 12, mult, (l0, b0, s0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = ExponentialSmoothing(
            y, trend="add", damped_trend=True, seasonal=seasonal, seasonal_periods=12,
            initialization_method="known", initial_level=l0[0], initial_trend=b0[0], initial_seasonal=s0[0],
        ).fit(smoothing_level=a, smoothing_trend=b, smoothing_seasonal=g, damping_trend=p, optimized=False)
    k = np.arange(1, 13)
    base = level[0, 0, 0] + trend[0, 0, 0] * np.cumsum(p**k)
    s = season[0, 0, 0][(y.size + k - 1) % 12]
    ours = base * s if mult else base + s
    # the states after the last observation and the in-sample one-step error are statsmodels'
    assert level[0, 0, 0] == pytest.approx(fit.level[-1], rel=1e-10)
    assert trend[0, 0, 0] == pytest.approx(fit.trend[-1], rel=1e-10)
    np.testing.assert_allclose(season[0, 0, 0][(y.size - 12 + np.arange(12)) % 12], fit.season[-12:], rtol=1e-10)
    assert sse[0, 0, 0] == pytest.approx(fit.sse, rel=1e-10)
    # and so is the forecast, for steps 1 … m−1; at step m statsmodels reads the season state one
    # cycle older (season[-m-1]) than the one the last observation updated, which ours uses
    # (ŷ_{T+m} = l_T + Σφ^k b_T ⊕ s_T, Hyndman & Athanasopoulos §8.3)
    np.testing.assert_allclose(ours[:11], fit.forecast(12)[:11], rtol=1e-10)
    last = fit.season[-1]
    assert ours[11] == pytest.approx(base[11] * last if mult else base[11] + last, rel=1e-10)


def test_monthly_indices_equal_statsmodels_classical_decomposition() -> None:
    from statsmodels.tsa.seasonal import seasonal_decompose

    y = _monthly(60, seed=1)
    ours = seasonal_indices(y[None], 60, "M", 60)[0]
    ref = seasonal_decompose(y, model="multiplicative", period=12).seasonal
    np.testing.assert_allclose(ours, ref, rtol=1e-10)


def test_weekly_indices_follow_a_52_18_week_year() -> None:
    # a smooth yearly cycle on the 365.25-day year, 3 years of weeks: recovered within 2 %
    t = np.arange(157)
    truth = 1 + 0.4 * np.cos(2 * np.pi * t / (365.25 / 7))
    y = 500 * truth
    idx = seasonal_indices(y[None], 157, "W", 157)[0]
    np.testing.assert_allclose(idx[30:127], truth[30:127] / truth.mean(), rtol=0.02)


def test_fitted_holt_winters_recovers_a_planted_season() -> None:
    y = _monthly(84, seed=2)
    train = y[:72]
    fc = ets_fit_forecast(train[None], np.array([[72]]), 12, 12, multiplicative=True)[0, 0]
    t = np.arange(72, 84)
    truth = (100 + 0.8 * t) * (1 + 0.3 * np.sin(2 * np.pi * t / 12))
    # within 4 % of the noise-free truth (noise sd 2 on a level of ~160)
    assert np.abs(fc / truth - 1).max() < 0.04
    # better than any fixed grid point of the start grid would be is not required; but it beats
    # the seasonal naive forecast, which misses the trend
    snaive = train[60:72]
    assert np.abs(fc - truth).mean() < np.abs(snaive - truth).mean()


def test_seasonal_candidates_need_two_seasons_of_their_own_history() -> None:
    long = _monthly(60)
    short = np.r_[np.full(40, np.nan), _monthly(20)]  # 20 months: fewer than two seasons
    shorter = np.r_[np.full(43, np.nan), _monthly(17)]  # 17 months: under one and a half
    y = np.vstack([long, short, shorter])
    ones = np.ones((3, 60 + 6))
    out = forecast_batch(BatchTask(y, ones, ones, [36, 48], 6, 12, "M"))
    for name in ("seasonal_ses", "seasonal_damped", "seasonal_theta", "stl", "ets_add", "ets_mul"):
        assert np.isfinite(out["final"][name][0]).all(), name
        assert np.isfinite(out["backtest"][name][0]).all(), name
        assert np.isnan(out["final"][name][2]).all(), name
        # Holt-Winters starts from one and a half seasons (trend 0), the decompositions need two
        assert np.isfinite(out["final"][name][1]).all() == name.startswith("ets"), name
    assert np.isnan(out["backtest"]["ets_add"][1]).all()  # 8 and 20 months before the cutoffs
    # seasonal naive needs one season: the short series has one
    assert np.isfinite(out["final"]["seasonal_naive"][1]).all()
    # the batch is row-independent: the long series alone gives the same numbers
    alone = forecast_batch(BatchTask(y[:1], ones[:1], ones[:1], [36, 48], 6, 12, "M"))
    for name, values in alone["final"].items():
        np.testing.assert_array_equal(values[0], out["final"][name][0])


def test_late_cutoffs_judge_seasonal_models_on_a_long_horizon() -> None:
    # 91 weeks, horizon 52: full windows end at week 39, before a season of history
    cut = make_cutoffs(91, 52, "W", late_from=[104, 52], recent=0)
    assert max(c for c in cut if c <= 39) == 39
    late = [c for c in cut if c >= 52]
    assert late == [52, 59, 66, 73, 80, 87]
    # enough history: no late windows
    assert make_cutoffs(200, 12, "M", late_from=[24, 12]) == make_cutoffs(200, 12, "M")


def test_recent_cutoffs_inside_the_last_horizon() -> None:
    regular = make_cutoffs(40, 13, "W", recent=0)
    assert regular == list(range(16, 28))  # 12 full windows, the last ending at week 40
    # three truncated windows after the last full one: 3, 6 and 10 weeks before the end
    assert make_cutoffs(40, 13, "W") == [*regular, 30, 34, 37]
    # a one-period horizon has no room for them
    assert make_cutoffs(40, 1, "W") == make_cutoffs(40, 1, "W", recent=0)


def test_ranking_compares_candidates_on_common_windows() -> None:
    # model b is missing in the first two windows (inf there): it is compared on windows 2, 3
    errors = {
        "a": np.array([[1.0, 1.0, 3.0, 3.0]]),
        "b": np.array([[np.inf, np.inf, 2.0, 2.0]]),
        "c": np.array([[np.inf, np.inf, np.inf, 0.1]]),  # evaluated once: not a candidate
    }
    final, held, scored, n_ok, held_ok = rank_models(errors, ["a", "b", "c"], None, np.ones((1, 3), dtype=bool))
    assert final[0].tolist()[:2] == [1, 0] and scored[0]
    # a is worse than b by 1 in both common windows (no noise): b alone is combined
    assert n_ok[0] == 1
    # held-out window 0: b has no forecast there, only a is ranked
    assert held[0, 0, 0] == 0 and held_ok[0, 0] == 1
    # a model without a final forecast is no candidate
    final, *_ = rank_models(errors, ["a", "b", "c"], None, np.array([[True, False, True]]))
    assert final[0, 0] == 0


def test_pool_holds_the_candidates_within_one_standard_error_of_the_best() -> None:
    errors = {
        "a": np.array([[1.0, 1.2, 0.8, 1.0]]),  # mean 1.0: the best
        "b": np.array([[1.1, 1.1, 1.0, 1.0]]),  # +0.05 on average, SE of the difference 0.065: pooled
        "c": np.array([[1.3, 1.5, 1.1, 1.3]]),  # +0.3 in every window (SE 0): measurably worse
        "d": np.array([[3.0, 0.1, 0.5, 2.0]]),  # +0.4, SE 0.68: within one SE, but ranked after c
    }
    final, _, _, n_ok, _ = rank_models(errors, list(errors), None, np.ones((1, 4), dtype=bool))
    assert final[0].tolist() == [0, 1, 2, 3] and n_ok[0] == 2  # the pool is the ranking's lead
    # with two standard errors c is still out (its difference has no noise at all)
    assert rank_models(errors, list(errors), None, np.ones((1, 4), dtype=bool), 2.0)[3][0] == 2


def test_mase_scale_is_the_seasonal_naive_error_for_a_long_series() -> None:
    y = np.vstack([_monthly(48), np.r_[np.full(30, np.nan), _monthly(18)]])
    scale = series_scale(y, 48, 12)
    assert scale[0] == pytest.approx(np.abs(y[0, 12:] - y[0, :-12]).mean())
    assert scale[1] == pytest.approx(np.abs(np.diff(y[1, 30:])).mean())


def test_series_partitions_by_hash_and_tasks_carry_paths(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from c2m_cli.forecast.engine import _split, partitions

    ids = [f"S{i:04d}" for i in range(1000)]
    parts = partitions(ids, 256)
    assert sorted(np.concatenate(parts).tolist()) == list(range(1000))
    # a series' partition is a function of its id and the partition count only
    where = {ids[r]: p for p, rows in enumerate(parts) for r in rows}
    shuffled = ids[::-1]
    again = {shuffled[r]: p for p, rows in enumerate(partitions(shuffled, 256)) for r in rows}
    assert where == again
    y = np.arange(1000 * 30, dtype=float).reshape(1000, 30)
    m = np.ones((1000, 34))
    tasks = _split(ids, y, m, m, [20, 24], 4, 12, "M", tmp_path)
    assert all(t.path is not None and t.y.size == 0 for _, t in tasks)
    out = {}
    for rows, task in tasks:
        res = forecast_batch(task)
        out.update({int(r): res["final"]["naive"][i] for i, r in enumerate(rows)})
    np.testing.assert_array_equal(np.array([out[i][0] for i in range(1000)]), y[:, -1])
