"""A series that stopped selling (an improbable run of zeros at its end) is forecast zero."""

from __future__ import annotations

import numpy as np
import pytest

from c2m_cli.forecast.models import BatchTask, forecast_batch, stopped


def test_stop_flagged_only_when_the_run_is_improbable() -> None:
    steady = [30.0] * 20
    rows = np.array(
        [
            steady + [0, 0, 0],  # no zero in 13 periods: (1/15)^3 = 3e-4 < 1 %  → stopped
            steady + [30.0, 0, 0],  # two zeros only (below the minimum run of 3)
            [5.0, 0] * 10 + [0, 0, 0],  # every other period zero: (7/15)^4 = 0.047 → between sales
            [3, 0, 4, 0, 0, 5, 2, 0, 6, 1, 3, 0, 4, 2, 3, 0, 0, 0, 0, 0, 0, 0, 0],  # 4 zeros in 13: (5/15)^8 = 1.5e-4 → stopped
            [0.0] * 23,  # never sold: not flagged
        ]
    )
    assert stopped(rows, rows.shape[1]).tolist() == [True, False, False, True, False]
    # leak-free: at a cutoff before the zeros nothing has stopped
    assert not stopped(rows, 15).any()


def test_daily_data_needs_four_weeks_of_zeros() -> None:
    days = np.r_[np.full(100, 8.0), np.zeros(10)]  # a ten-day closure
    gone = np.r_[np.full(100, 8.0), np.zeros(30)]
    assert not stopped(days[None], days.size, 0, "D")[0]
    assert stopped(gone[None], gone.size, 0, "D")[0]
    assert stopped(days[None], days.size, 0, "W")[0]  # ten weeks would be a stop


def test_a_seasonal_pause_is_not_a_stop() -> None:
    season = 12
    year = [20.0] * 9 + [0.0] * 3
    y = np.array([year * 3, [20.0] * 33 + [0.0] * 3])  # the first pauses every year in the same months
    assert stopped(y, 36, season).tolist() == [False, True]


def test_every_model_forecasts_zero_after_a_stop_and_the_backtest_is_leak_free() -> None:
    y = np.array([[30.0] * 20 + [0.0] * 4, [30.0] * 24])
    ones = np.ones((2, y.shape[1] + 4))
    out = forecast_batch(BatchTask(y, ones, ones, [16, 22], 4, 4))
    for name, fc in out["final"].items():
        assert (fc[0] == 0).all(), name
        assert fc[1] == pytest.approx(np.full(4, 30.0), rel=0.05) or name == "sba", name
    # at cutoff 16 the series was selling (forecasts ~30), at 22 it had stopped (2 zeros: not yet)
    assert out["backtest"]["ses"][0, 0] == pytest.approx(np.full(4, 30.0))
    assert (out["backtest"]["ses"][0, 1] > 0).all()
