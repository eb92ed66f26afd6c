"""The global model learns a yearly cycle that no single short series holds."""

from __future__ import annotations

import datetime as dt

import numpy as np

from c2m_cli.forecast.global_model import GlobalTask, calendar_features, global_task
from c2m_cli.forecast.series import next_periods


def _world(n_series: int = 80, weeks: int = 156, horizon: int = 13, seed: int = 0):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    start = dt.date(2021, 1, 4)
    periods = [start, *next_periods(start, "W", weeks + horizon - 1)]
    frac = (np.array([d.timetuple().tm_yday for d in periods]) - 1) / 365.25
    cycle = 1 + 0.6 * np.sin(2 * np.pi * frac)  # peaks in spring, low in autumn
    level = rng.uniform(20, 60, n_series)
    truth = level[:, None] * cycle[None, :]
    y = rng.poisson(truth[:, :weeks]).astype(float)
    first = rng.integers(0, weeks - 20, n_series)  # each series starts at its own week
    first[: n_series // 2] = rng.integers(weeks - 40, weeks - 20, n_series // 2)  # half under 40 weeks
    y[np.arange(weeks)[None, :] < first[:, None]] = np.nan
    return y, truth, periods, first


def _short_series_error(calendar: np.ndarray, y: np.ndarray, truth: np.ndarray, first: np.ndarray) -> float:
    """MAE of the global forecast on the series under 40 weeks old over a flat forecast's."""
    weeks, horizon = y.shape[1], truth.shape[1] - y.shape[1]
    fc = global_task(GlobalTask(y, calendar, [weeks - horizon], horizon, 52, 0, "final"))
    assert fc is not None and fc.shape == (y.shape[0], horizon)
    short = weeks - first < 40  # none of these has seen this part of the year
    future = truth[short, weeks:]
    flat = np.nanmean(y[short, -8:], axis=1, keepdims=True)
    return float(np.abs(fc[short] - future).mean() / np.abs(flat - future).mean())


def test_a_yearly_cycle_shared_by_short_series_is_recovered(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import c2m_cli.forecast.global_model as gm

    y, truth, periods, first = _world()
    calendar = calendar_features(periods, "W", np.zeros((len(periods), 0)))
    # weeks 156–168 (January to the spring rise): the short series never saw that part of a year
    assert _short_series_error(calendar, y, truth, first) < 0.25  # measured 0.14
    # the Fourier terms alone carry the cycle (month and week columns blanked): 0.13
    blank = calendar.copy()
    blank[:, 1:3] = 0.0
    assert _short_series_error(blank, y, truth, first) < 0.25
    # without any yearly feature the cycle is lost: 0.42
    monkeypatch.setattr(gm, "PERIODS_PER_YEAR", {52: np.inf})
    assert _short_series_error(blank, y, truth, first) > 0.3


def test_no_fourier_terms_from_less_than_a_year() -> None:
    y, _, periods, _ = _world(weeks=45, horizon=8)
    calendar = calendar_features(periods, "W", np.zeros((len(periods), 0)))
    from c2m_cli.forecast.global_model import _fit

    model = _fit(y, calendar, 45, 8, 52, 0)
    assert model is not None and model[2] is False
