"""The festival calendar: real lunar dates, festival windows, official 调休 days."""

from __future__ import annotations

import datetime as dt

import pytest

from c2m_cli.calendar import festival_days, official_days, spring_festival


def test_spring_festival_dates_match_the_lunar_calendar():
    # 正月初一 as published: 2023-01-22, 2024-02-10, 2025-01-29, 2026-02-17
    assert [spring_festival(y) for y in (2023, 2024, 2025, 2026)] == [
        dt.date(2023, 1, 22), dt.date(2024, 2, 10), dt.date(2025, 1, 29), dt.date(2026, 2, 17)]


def test_festival_windows_and_peaks():
    days = festival_days(dt.date(2024, 1, 1), dt.date(2024, 12, 31), market="cn")
    peaks = days.filter("is_peak").select("festival", "date").sort("date").rows()
    assert ("双11", dt.date(2024, 11, 11)) in peaks
    assert ("618", dt.date(2024, 6, 18)) in peaks
    assert ("春节", dt.date(2024, 2, 10)) in peaks
    pause = days.filter(festival="春节")["date"]
    assert pause.min() == dt.date(2024, 2, 5) and pause.max() == dt.date(2024, 2, 15)
    ny = days.filter(festival="年货节")["date"]
    assert ny.max() < pause.min()


def test_makeup_working_days_of_2024():
    makeup = official_days(2024, 2024, market="cn").filter(kind="makeup_workday")["date"].to_list()
    # the State Council's 2024 schedule: Sundays/Saturdays worked to bridge holidays
    assert dt.date(2024, 2, 4) in makeup and dt.date(2024, 2, 18) in makeup
    assert dt.date(2024, 9, 29) in makeup


@pytest.mark.parametrize("market", ["us", "cn"])
@pytest.mark.parametrize(
    ("start", "end"),
    [
        (dt.date(2016, 1, 1), dt.date(2017, 12, 31)),
        (dt.date(2018, 11, 20), dt.date(2018, 11, 30)),
        (dt.date(2019, 12, 31), dt.date(2020, 1, 2)),
        (dt.date(1985, 5, 1), dt.date(1991, 2, 10)),  # across the first rule year
        (dt.date(2059, 6, 1), dt.date(2065, 1, 1)),  # across the last
    ],
)
def test_festival_days_of_a_span_are_those_of_the_whole_calendar(market: str, start: dt.date, end: dt.date) -> None:
    """festival_days builds the US calendar for the span's years only: the same days as the
    whole calendar's (every window lies within its year)."""
    import polars as pl

    from c2m_cli.calendar import festival_calendar, festival_days

    rows = festival_calendar(market).filter((pl.col("end") >= start) & (pl.col("start") <= end))
    want = (
        rows.select("festival", "peak", pl.date_ranges("start", "end", interval="1d").alias("date"))
        .explode("date")
        .filter(pl.col("date").is_between(start, end))
        .with_columns(is_peak=pl.col("date") == pl.col("peak"))
        .select("date", "festival", "is_peak")
        .sort("date", "festival")
    )
    got = festival_days(start, end, market=market)
    assert got.equals(want)
    if market == "us":  # built for the span's years alone
        from c2m_cli.calendar import festival_calendar_between

        assert festival_calendar_between("us", start, end).height < festival_calendar("us").height


@pytest.mark.parametrize("market", ["us", "cn"])
def test_every_festivals_next_window_lies_within_the_two_years_after(market: str) -> None:
    """What the briefs' launch window reads (recommend.briefs.next_launch_window): after any
    day, each festival's next window starting 30 days later is in the calendar between that day
    and two years after it, the same as in the whole calendar."""
    import polars as pl

    from c2m_cli.calendar import festival_calendar, festival_calendar_between

    whole = festival_calendar(market)
    for after in (dt.date(2015, 1, 1) + dt.timedelta(days=37 * i) for i in range(60)):
        later = pl.col("start") > after + dt.timedelta(days=30)
        want = whole.filter(later).sort("start").group_by("festival", maintain_order=True).first()
        got = festival_calendar_between(market, after, after + dt.timedelta(days=730)).filter(later).sort("start").group_by("festival", maintain_order=True).first()
        assert got.height == want.height > 0 and got.equals(want), after
