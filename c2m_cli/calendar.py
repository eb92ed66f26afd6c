"""The Chinese e-commerce calendar: shopping festivals, Spring Festival, official holidays.

Shopping festivals come from ``seeds/festival_calendar.csv`` (one row per festival and year,
2015–2035; Spring Festival and 年货节 placed by the real lunar date of each year). Official
public holidays and the make-up working days (调休) come from the ``holidays`` package, which
knows them for the years the State Council has announced.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import cache

import polars as pl

from c2m_cli.resources import read_seed

FESTIVALS = ("年货节", "春节", "38节", "618", "双11", "双12")
# English names, for reports in English.
FESTIVAL_NAMES_EN = {
    "年货节": "New Year Goods Festival",
    "春节": "Spring Festival",
    "38节": "Women's Day (3.8)",
    "618": "618",
    "双11": "Singles' Day (11.11)",
    "双12": "Double 12 (12.12)",
}
SHOPPING_FESTIVALS = ("年货节", "38节", "618", "双11", "双12")


@cache
def festival_calendar() -> pl.DataFrame:
    """One row per festival and year: festival, year, start, peak, end (dates, inclusive)."""
    frame = read_seed("festival_calendar.csv")
    return frame.with_columns(
        pl.col("year").cast(pl.Int32),
        *(pl.col(c).str.to_date("%Y-%m-%d") for c in ("start", "peak", "end")),
    )


def festival_days(start: dt.date, end: dt.date) -> pl.DataFrame:
    """Every (date, festival) pair with ``start <= date <= end``; ``is_peak`` marks the peak day.

    The 春节 rows cover the logistics pause (除夕 − 4 to 初六), when orders dip and ship late.
    """
    rows = festival_calendar().filter((pl.col("end") >= start) & (pl.col("start") <= end))
    days = rows.select(
        "festival",
        "peak",
        pl.date_ranges("start", "end", interval="1d").alias("date"),
    ).explode("date")
    return (
        days.filter(pl.col("date").is_between(start, end))
        .with_columns(is_peak=pl.col("date") == pl.col("peak"))
        .select("date", "festival", "is_peak")
        .sort("date", "festival")
    )


def spring_festival(year: int) -> dt.date:
    """Lunar New Year's day (正月初一) of ``year``."""
    row = festival_calendar().filter((pl.col("festival") == "春节") & (pl.col("year") == year))
    if row.height:
        return row["peak"][0]  # type: ignore[no-any-return]
    from lunardate import LunarDate

    return LunarDate(year, 1, 1).to_solar_date()  # type: ignore[no-any-return]


_SUBSTITUTED = re.compile(r"substituted from (\d{2})/(\d{2})/(\d{4})")


@cache
def official_days(first_year: int, last_year: int) -> pl.DataFrame:
    """Official days off and make-up working days (调休): date, kind ∈ {holiday, makeup_workday}."""
    import holidays

    table = holidays.China(years=range(first_year, last_year + 1), language="en_US")
    rows: list[tuple[dt.date, str]] = []
    for day, name in sorted(table.items()):
        rows.append((day, "holiday"))
        for match in _SUBSTITUTED.finditer(name):
            month, dom, year = (int(g) for g in match.groups())
            rows.append((dt.date(year, month, dom), "makeup_workday"))
    frame = pl.DataFrame(rows, schema={"date": pl.Date, "kind": pl.String}, orient="row")
    return frame.unique(["date", "kind"]).sort("date", "kind")
