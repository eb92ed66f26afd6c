"""The per-series models on series whose right answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from c2m_cli.forecast.models import BatchTask, forecast_batch


def _task(y: np.ndarray, cutoffs: list[int], h: int = 4, season: int = 4) -> BatchTask:
    y = np.atleast_2d(np.asarray(y, dtype=float))
    ones = np.ones((y.shape[0], y.shape[1] + h))
    return BatchTask(y, ones, ones, cutoffs, h, season)


def test_constant_series_every_model_forecasts_the_constant() -> None:
    out = forecast_batch(_task(np.full(20, 5.0), [12, 16]))
    for name in ("naive", "seasonal_naive", "ses", "damped", "theta", "croston", "tsb", "adida", "ensemble"):
        assert out["final"][name] == pytest.approx(np.full((1, 4), 5.0)), name
        assert out["backtest"][name] == pytest.approx(np.full((1, 2, 4), 5.0)), name
    # SBA's bias correction scales Croston by (1 - alpha / 2); on a constant series the fitted
    # alpha is the grid's smallest (0.05), the one whose correction errs least
    assert out["final"]["sba"] == pytest.approx(np.full((1, 4), 5.0 * (1 - 0.05 / 2)))


def test_intermittent_smoothing_is_fitted_and_demand_classified() -> None:
    from c2m_cli.forecast.models import croston_pass, demand_class

    rng = np.random.default_rng(5)
    # demand every 4th period on average; the size level jumps from 5 to 20 halfway: a fitted
    # alpha follows the jump faster than the fixed 0.1 would
    occur = rng.random(200) < 0.25
    sizes = np.where(np.arange(200) < 100, 5.0, 20.0)
    y = np.where(occur, sizes, 0.0)[None, :]
    out = croston_pass(y, [200])
    rate_true = 20.0 * occur[100:].mean()
    assert abs(out["croston"][0, 0] - rate_true) < abs(5.0 * 0.25 - rate_true)
    assert out["croston"][0, 0] > 0.8 * rate_true
    classes = demand_class(np.vstack([y, np.full((1, 200), 7.0), np.where(occur, rng.gamma(0.5, 10, 200), 0.0)[None]]), 200)
    assert classes.tolist() == ["intermittent", "smooth", "lumpy"]


def test_seasonal_naive_repeats_the_last_season_and_trend_models_extrapolate() -> None:
    season = np.array([1.0, 5.0, 2.0, 8.0] * 5)
    out = forecast_batch(_task(season, [16]))
    assert out["final"]["seasonal_naive"][0].tolist() == [1.0, 5.0, 2.0, 8.0]
    assert out["backtest"]["seasonal_naive"][0, 0].tolist() == [1.0, 5.0, 2.0, 8.0]
    trend = np.arange(1.0, 31.0)
    out = forecast_batch(_task(trend, [20]))
    for name in ("damped", "theta"):
        path = out["final"][name][0]
        assert np.all(np.diff(path) > 0), name  # keeps rising
        assert path[0] == pytest.approx(31.0, abs=1.5), name
    assert out["final"]["naive"][0].tolist() == [30.0] * 4


def test_intermittent_series_croston_rate() -> None:
    # demand of 6 every third period: Croston's rate is 6 / 3 = 2 per period
    y = np.tile([0.0, 0.0, 6.0], 12)
    y[0:2] = np.nan  # the series starts at its first sale
    out = forecast_batch(_task(y, [24]))
    assert out["final"]["croston"][0] == pytest.approx(np.full(4, 2.0), abs=0.05)
    assert out["final"]["adida"][0] == pytest.approx(np.full(4, 2.0), abs=0.05)
    # TSB updates its demand probability every period, so right after a demand it sits above
    # the long-run 1/3 (steady state just after a demand: β / (1 − (1 − β)³), β fitted on the grid)
    from c2m_cli.forecast.models import INTERMITTENT_ALPHAS

    steady = [6 * b / (1 - (1 - b) ** 3) for b in INTERMITTENT_ALPHAS]
    assert min(abs(out["final"]["tsb"][0, 0] - v) for v in steady) < 0.15


def test_a_row_depends_on_itself_only() -> None:
    rng = np.random.default_rng(1)
    y = rng.poisson(3.0, size=(5, 40)).astype(float)
    y[2, :10] = np.nan
    together = forecast_batch(_task(y, [24, 28, 32]))
    for row in range(5):
        alone = forecast_batch(_task(y[row], [24, 28, 32]))
        for phase in ("backtest", "final"):
            for name, values in alone[phase].items():
                np.testing.assert_array_equal(values[0], together[phase][name][row])


def test_forecasts_are_never_negative() -> None:
    falling = np.linspace(50, 0, 30)
    out = forecast_batch(_task(falling, [20], h=12))
    for name, values in out["final"].items():
        assert (values >= 0).all(), name


def test_vectorised_smoothing_matches_statsmodels_at_the_same_parameters() -> None:
    import warnings

    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    from c2m_cli.forecast.models import damped_path, es_pass

    rng = np.random.default_rng(3)
    y = 20 + np.cumsum(rng.normal(0.3, 1.0, size=40)) + rng.normal(0, 2, size=40)
    alpha, beta, phi = np.array([0.1, 0.3]), np.array([0.0, 0.15]), np.array([1.0, 0.9])
    level, trend, _, _ = es_pass(y[None, :], alpha, beta, phi, [40])
    ours = damped_path(level[0, 0], trend[0, 0], phi, 6)  # (grid, h)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ses = ExponentialSmoothing(y, initialization_method="known", initial_level=y[0]).fit(
            smoothing_level=0.1, optimized=False
        )
        damped = ExponentialSmoothing(
            y, trend="add", damped_trend=True, initialization_method="known", initial_level=y[0], initial_trend=0.0
        ).fit(smoothing_level=0.3, smoothing_trend=0.15, damping_trend=0.9, optimized=False)
    np.testing.assert_allclose(ours[0], ses.forecast(6), rtol=1e-10)
    np.testing.assert_allclose(ours[1], damped.forecast(6), rtol=1e-10)


def test_damped_trend_only_for_series_that_demand_in_most_periods() -> None:
    """The damped trend is a candidate for smooth / erratic demand only; an intermittent or
    lumpy series (or one with a single demand) has none, its ensemble is the mean of SES and
    Theta, and every other model is unchanged by who else is in the batch."""
    from c2m_cli.forecast.models import trend_rows

    rng = np.random.default_rng(11)
    smooth = 20.0 + np.arange(40.0)  # a demand every period
    intermittent = np.where(rng.random(40) < 0.2, 6.0, 0.0)  # ADI ≈ 5
    once = np.r_[np.full(10, np.nan), 4.0, np.zeros(29)]  # a single demand
    y = np.vstack([smooth, intermittent, once])
    assert trend_rows(y).tolist() == [True, False, False]
    out = forecast_batch(_task(y, [24, 32]))
    for phase in ("backtest", "final"):
        damped, ses, theta, ens = (out[phase][m] for m in ("damped", "ses", "theta", "ensemble"))
        assert np.isfinite(damped[0]).all() and np.isnan(damped[1:]).all()
        # (forecasts are clipped at 0 after the mean: compare where no member was clipped)
        both = (ses[1:] > 0) & (theta[1:] > 0)
        assert both.any()
        np.testing.assert_allclose(ens[1:][both], ((ses[1:] + theta[1:]) / 2)[both])
        np.testing.assert_allclose(ens[:1], (ses[:1] + damped[:1] + theta[:1]) / 3)
    alone = forecast_batch(_task(smooth, [24, 32]))
    for name, values in alone["final"].items():
        np.testing.assert_array_equal(values[0], out["final"][name][0])


def test_smoothing_pass_without_masks_equals_the_masked_recursion() -> None:
    """es_pass' unmasked run (missing prefix filled with the first value) gives the masked
    recursion's floats exactly; a batch with a gap after a start takes the masked run."""
    from c2m_cli.forecast.models import _es_pass_masked, _grid, es_pass

    rng = np.random.default_rng(3)
    z = rng.gamma(2.0, 3.0, size=(6, 30))
    z[1, :7] = np.nan  # starts late
    z[2] = np.nan  # never starts
    z[3, :29] = np.nan  # one observation
    alpha, beta, phi, _ = _grid()
    snaps = [5, 12, 29, 30]
    for got, want in zip(es_pass(z, alpha, beta, phi, snaps), _es_pass_masked(z, alpha, beta, phi, snaps), strict=True):
        np.testing.assert_array_equal(got, want)
    z[4, 10] = np.nan  # a gap after the start
    for got, want in zip(es_pass(z, alpha, beta, phi, snaps), _es_pass_masked(z, alpha, beta, phi, snaps), strict=True):
        np.testing.assert_array_equal(got, want)


def test_leading_rows_counts_the_rows_started_by_each_period() -> None:
    from c2m_cli.forecast.models import first_observed, leading_rows

    z = np.ones((4, 5))
    z[1, :2] = np.nan  # starts at 2
    z[2] = np.nan  # never
    z[3, :1] = np.nan  # starts at 1
    np.testing.assert_array_equal(first_observed(z), [0, 2, 5, 1])
    # t = 0: row 0 only; from t = 1 row 3 has started, so every row up to it is updated
    np.testing.assert_array_equal(leading_rows(z), [1, 4, 4, 4, 4])
    # in order of first observation the rows not started yet are all skipped
    np.testing.assert_array_equal(leading_rows(z[[0, 3, 1, 2]]), [1, 2, 3, 3, 3])
    np.testing.assert_array_equal(leading_rows(np.full((2, 3), np.nan)), [0, 0, 0])


@pytest.mark.parametrize("gap", [False, True])
def test_recursions_skipping_rows_not_started_give_the_same_floats(gap: bool) -> None:
    """Rows in order of their first observation (the most rows skipped) and in the reverse
    order (none skipped) give every smoothing recursion the same floats, row for row; with a
    gap after a start, es_pass runs masked and skips the same way."""
    from c2m_cli.forecast.models import _grid, croston_pass, es_pass, first_observed, robust_ses

    rng = np.random.default_rng(11)
    n, periods = 40, 36
    z = rng.gamma(0.6, 4.0, size=(n, periods)) * (rng.random((n, periods)) < 0.5)
    for i, start in enumerate(rng.integers(0, periods + 6, size=n)):  # some never start
        z[i, : min(start, periods)] = np.nan
    if gap:
        z[np.flatnonzero(first_observed(z) < 20)[0], 25] = np.nan
    order = np.argsort(first_observed(z), kind="stable")
    snaps = [8, 17, 30, 36]
    alpha, beta, phi, _ = _grid()

    def both(run):  # type: ignore[no-untyped-def]
        # row j of the reversed run is row n − 1 − j of the sorted one
        for x, y in zip(run(z[order]), run(z[order[::-1]]), strict=True):
            np.testing.assert_array_equal(x, y[::-1])

    both(lambda x: es_pass(x, alpha, beta, phi, snaps))
    both(lambda x: [robust_ses(x, snaps, 2)])
    both(lambda x: list(croston_pass(x, snaps).values()))


def test_batches_hold_their_rows_in_order_of_first_observation() -> None:
    from c2m_cli.forecast.engine import _split, partitions
    from c2m_cli.forecast.models import first_observed

    rng = np.random.default_rng(2)
    ids = [f"S{i:04d}" for i in range(3000)]
    y = rng.poisson(2.0, size=(3000, 30)).astype(float)
    for i, start in enumerate(rng.integers(0, 30, size=3000)):
        y[i, :start] = np.nan
    m = np.ones((3000, 34))
    tasks = _split(ids, y, m, m, [20, 24], 4, 12, "M", None)
    first = first_observed(y)
    assert [np.sort(rows).tolist() for rows, _ in tasks] == [p.tolist() for p in partitions(ids)]
    for rows, task in tasks:
        assert np.all(np.diff(first[rows]) >= 0)
        np.testing.assert_array_equal(task.y, y[rows])
