"""Calendar exposures per period: festival windows, peaks, official days off and 调休."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from c2m_cli.forecast.features import festival_exposure, festival_factors
from c2m_cli.forecast.series import period_range


def test_weekly_exposure_of_double11_and_national_day() -> None:
    periods = period_range(dt.date(2024, 9, 23), dt.date(2024, 11, 11), "W")
    x, names = festival_exposure(periods, "W", "cn")
    col = {n: i for i, n in enumerate(names)}
    row = {d: i for i, d in enumerate(periods)}
    # 双11 2024: window Oct 31 – Nov 11, peak Nov 11 (a Monday)
    assert x[row[dt.date(2024, 11, 4)], col["双11"]] == pytest.approx(1.0)
    assert x[row[dt.date(2024, 10, 28)], col["双11"]] == pytest.approx(4 / 7)
    assert x[row[dt.date(2024, 11, 11)], col["双11"]] == pytest.approx(1 / 7)
    assert x[row[dt.date(2024, 11, 11)], col["双11·峰值"]] == pytest.approx(1 / 7)
    # 国庆 2024: official days off Oct 1–7 (the weekend Oct 5–6 inside the golden week counted);
    # make-up working days Sep 29 and Oct 12
    assert x[row[dt.date(2024, 9, 30)], col["法定假日"]] == pytest.approx(6 / 7)
    assert x[row[dt.date(2024, 9, 23)], col["调休上班"]] == pytest.approx(1 / 7)
    assert x[row[dt.date(2024, 10, 7)], col["调休上班"]] == pytest.approx(1 / 7)


def test_festival_factors_recover_a_planted_window_effect() -> None:
    periods = period_range(dt.date(2023, 1, 2), dt.date(2024, 12, 30), "W")
    x, names = festival_exposure(periods, "W", "cn")
    window = x[:, names.index("双11")]
    # demand × 2.5 on every 双11 window day; at 10,000 a week the prior (20 units) barely pulls
    y = (10_000.0 * (1 + 1.5 * window))[None, :]
    mult, theta = festival_factors(y, x, len(periods), "W")
    assert theta[0, names.index("双11")] == pytest.approx(1.5, abs=0.05)
    np.testing.assert_allclose(mult[0], 1 + 1.5 * window, atol=0.05)


def test_us_market_gets_us_holidays_and_no_chinese_festival() -> None:
    periods = period_range(dt.date(2024, 11, 4), dt.date(2024, 12, 30), "W")
    x, names = festival_exposure(periods, "W", "us")
    assert not {"双11", "618", "春节", "法定假日", "调休上班"} & set(names)
    col = {n: i for i, n in enumerate(names)}
    row = {d: i for i, d in enumerate(periods)}
    # Thanksgiving 2024 is Thursday Nov 28 (a public holiday inside the Thanksgiving window)
    assert x[row[dt.date(2024, 11, 25)], col["Thanksgiving"]] > 0
    assert x[row[dt.date(2024, 11, 25)], col["Black Friday·峰值"]] == pytest.approx(1 / 7)
    assert x[row[dt.date(2024, 11, 11)], col["public_holiday"]] == pytest.approx(1 / 7)  # Veterans Day
    assert x[row[dt.date(2024, 12, 16)], col["Christmas"]] > 0


def test_no_market_means_no_calendar_regressor() -> None:
    periods = period_range(dt.date(2024, 1, 1), dt.date(2024, 12, 30), "W")
    x, names = festival_exposure(periods, "W", "none")
    assert names == [] and x.shape == (len(periods), 0)
    y = np.full((2, len(periods)), 10.0)
    mult, theta = festival_factors(y, x, len(periods), "W")
    assert (mult == 1.0).all() and theta.shape == (2, 0)
