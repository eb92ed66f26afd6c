"""STL decomposition model: the operator equals statsmodels' STL, the model recovers a planted
season; robust SES ignores promotion spikes."""

from __future__ import annotations

import numpy as np
import pytest

from c2m_cli.forecast.models import robust_ses, smooth_core
from c2m_cli.forecast.seasonal import stl_forecasts, stl_operator


@pytest.mark.parametrize(("n", "period"), [(72, 12), (61, 12), (130, 52)])
def test_stl_operator_equals_statsmodels(n: int, period: int) -> None:
    from statsmodels.tsa.seasonal import STL

    rng = np.random.default_rng(n)
    t = np.arange(n)
    y = 50 + 0.3 * t + 8 * np.sin(2 * np.pi * t / period) + 3 * np.cos(4 * np.pi * t / period) + rng.normal(0, 2, n)
    fit = STL(y, period=period).fit()  # seasonal 7, degree 1, jumps 1, 5 inner iterations
    season, trend = stl_operator(n, period)
    np.testing.assert_allclose(season @ y, fit.seasonal, atol=1e-9)
    np.testing.assert_allclose(trend @ y, fit.trend, atol=1e-9)


def test_stl_model_recovers_a_growing_season_and_needs_two_seasons() -> None:
    rng = np.random.default_rng(3)
    t = np.arange(96)
    shape = 1 + 0.4 * np.sin(2 * np.pi * t / 12) + 0.2 * np.cos(2 * np.pi * t / 6)
    truth = (100 + 2.0 * t) * shape  # the amplitude grows with the level
    y = truth * np.exp(rng.normal(0, 0.02, t.size))
    z = np.vstack([y, np.r_[np.full(80, np.nan), y[80:]]])  # the second: 16 months only
    fc = stl_forecasts(z[:, :84], [84], 12, "M")
    err = np.abs(fc[0, 0] - truth[84:]).mean()
    snaive = np.abs(y[72:84] - truth[84:]).mean()
    assert err < 0.5 * snaive  # the trend is followed, the season kept proportional
    assert err / truth[84:].mean() < 0.03
    assert np.isnan(fc[1]).all()  # fewer than two seasons: no STL forecast


def test_robust_ses_ignores_promotion_spikes_and_follows_a_level_shift() -> None:
    rng = np.random.default_rng(0)
    base = np.r_[np.full(60, 10.0), np.full(40, 20.0)] + rng.normal(0, 1, 100)
    spikes = np.where(np.arange(100) % 7 == 3, 60.0, 0.0)
    y = (base + spikes)[None, :]
    robust = robust_ses(y, [55, 100], 1)[0, :, 0]
    plain = smooth_core(y, [55, 100], 1)["ses"][0, :, 0]
    assert abs(robust[0] - 10) < 1.5 and abs(plain[0] - 10) > 3 * abs(robust[0] - 10)
    assert abs(robust[1] - 20) < 2.0  # the doubled level is reached within 40 periods
