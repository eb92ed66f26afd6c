"""Each market's calendar: shopping festivals, holidays, make-up working days (DESIGN.md, markets).

Every function takes the workspace's ``market`` (see ``c2m_cli.market``); nothing defaults to
China's calendar.

- ``cn``: shopping festivals come from ``seeds/festival_calendar.csv`` (one row per festival and
  year, 2015–2035; Spring Festival and 年货节 placed by the real lunar date of each year); years
  outside the seed are placed by the same rules (lunar dates from ``lunardate``), so the calendar
  never silently ends. Official public holidays and make-up working days (调休) come from the
  ``holidays`` package, for the years the State Council has announced.
- ``us``: public holidays from ``holidays.US``; the shopping days are placed by rule from the
  package's dates: Thanksgiving week (Mon–Thu), Black Friday through Cyber Monday, the Christmas
  run-up (Dec 17–24), Valentine's Day (Feb 8–14), Mother's Day week.
- another country code: that country's public holidays from ``holidays``, no shopping festivals.
- ``none``: nothing.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import cache

import polars as pl

from c2m_cli.resources import read_seed

CN_FESTIVALS = ("年货节", "春节", "38节", "618", "双11", "双12")
CN_SHOPPING_FESTIVALS = ("年货节", "38节", "618", "双11", "双12")
US_FESTIVALS = ("Valentine's Day", "Mother's Day", "Thanksgiving", "Black Friday", "Christmas")
US_SHOPPING_FESTIVALS = ("Valentine's Day", "Mother's Day", "Black Friday", "Christmas")
# kept for the synthetic world, which is a Chinese market by construction
FESTIVALS = CN_FESTIVALS
SHOPPING_FESTIVALS = CN_SHOPPING_FESTIVALS
# Names for reports: English names of China's festivals, Chinese names of the US shopping days.
FESTIVAL_NAMES_EN = {
    "年货节": "New Year Goods Festival",
    "春节": "Spring Festival",
    "38节": "Women's Day (3.8)",
    "618": "618",
    "双11": "Singles' Day (11.11)",
    "双12": "Double 12 (12.12)",
}
FESTIVAL_NAMES_ZH = {
    "Valentine's Day": "情人节",
    "Mother's Day": "母亲节",
    "Thanksgiving": "感恩节",
    "Black Friday": "黑色星期五",
    "Christmas": "圣诞节",
}
GIFTING_FESTIVALS = {
    "cn": ("年货节", "春节", "38节"),
    "us": ("Valentine's Day", "Mother's Day", "Christmas"),
}


def festivals(market: str) -> tuple[str, ...]:
    """The festival windows of a market's calendar (empty for markets without one)."""
    return {"cn": CN_FESTIVALS, "us": US_FESTIVALS}.get(market, ())


def shopping_festivals(market: str) -> tuple[str, ...]:
    return {"cn": CN_SHOPPING_FESTIVALS, "us": US_SHOPPING_FESTIVALS}.get(market, ())


def festival_name(festival: str, lang: str) -> str:
    """A festival's name in ``lang`` (``zh`` or ``en``)."""
    table = FESTIVAL_NAMES_EN if lang == "en" else FESTIVAL_NAMES_ZH
    return table.get(festival, festival)

# Years for which rule-placed calendars are built (a forecast far beyond is refused elsewhere).
RULE_YEARS = range(1990, 2061)


_CALENDAR_SCHEMA = {"festival": pl.String, "year": pl.Int32, "start": pl.Date, "peak": pl.Date, "end": pl.Date}


def festival_calendar(market: str, years: range = RULE_YEARS) -> pl.DataFrame:
    """One row per festival and year: festival, year, start, peak, end (dates, inclusive).
    ``years``: the US calendar is built for those alone (of RULE_YEARS; all 71 cost ~0.15 s of
    the ``holidays`` package's rules in every step that asks); China's comes whole from its seed."""
    if market == "us":
        return _us_calendar(range(max(years.start, RULE_YEARS.start), min(years.stop, RULE_YEARS.stop)))
    return _whole_calendar(market)


def festival_calendar_between(market: str, first: dt.date, last: dt.date) -> pl.DataFrame:
    """``festival_calendar`` of the years that can hold a window overlapping [first, last]: a
    festival's window lies within its own year (China's 年货节 and 春节 within the lunar new
    year's), so the years of ``first`` to ``last``, one more each side."""
    return festival_calendar(market, range(first.year - 1, last.year + 2))


@cache
def _whole_calendar(market: str) -> pl.DataFrame:
    return _cn_calendar() if market == "cn" else pl.DataFrame(schema=_CALENDAR_SCHEMA)


def _cn_calendar() -> pl.DataFrame:
    seeded = read_seed("festival_calendar.csv").with_columns(
        pl.col("year").cast(pl.Int32),
        *(pl.col(c).str.to_date("%Y-%m-%d") for c in ("start", "peak", "end")),
    ).select(list(_CALENDAR_SCHEMA))
    have = set(seeded["year"].to_list())
    extra = [row for year in RULE_YEARS if year not in have for row in _cn_rule_year(year)]
    ruled = pl.DataFrame(extra, schema=_CALENDAR_SCHEMA, orient="row")
    return pl.concat([seeded, ruled]).sort("start", "festival")


def _cn_rule_year(year: int) -> list[tuple[str, int, dt.date, dt.date, dt.date]]:
    """China's festival windows of a year the seed does not hold, by the seed's own rules."""
    from lunardate import LunarDate

    new_year = LunarDate(year, 1, 1).to_solar_date()
    eve = new_year - dt.timedelta(days=1)
    goods_end = eve - dt.timedelta(days=5)
    return [
        ("年货节", year, goods_end - dt.timedelta(days=20), goods_end - dt.timedelta(days=7), goods_end),
        ("春节", year, eve - dt.timedelta(days=4), new_year, new_year + dt.timedelta(days=5)),
        ("38节", year, dt.date(year, 3, 1), dt.date(year, 3, 8), dt.date(year, 3, 8)),
        ("618", year, dt.date(year, 6, 1), dt.date(year, 6, 18), dt.date(year, 6, 18)),
        ("双11", year, dt.date(year, 10, 31), dt.date(year, 11, 11), dt.date(year, 11, 11)),
        ("双12", year, dt.date(year, 12, 10), dt.date(year, 12, 12), dt.date(year, 12, 12)),
    ]


@cache
def _us_calendar(years: range) -> pl.DataFrame:
    """US shopping days of ``years`` placed by rule from the ``holidays`` package's dates (every
    window lies within its own year)."""
    import holidays

    table = holidays.US(years=years, categories=("public", "unofficial"))
    by_name: dict[tuple[str, int], dt.date] = {}
    for day, name in table.items():
        for part in str(name).split("; "):
            by_name.setdefault((part, day.year), day)
    rows = []
    for year in years:
        thanksgiving = by_name[("Thanksgiving Day", year)]
        mothers = by_name.get(("Mother's Day", year))
        christmas_eve = dt.date(year, 12, 24)
        super_saturday = christmas_eve - dt.timedelta(days=(christmas_eve.weekday() - 5) % 7)
        rows += [
            ("Valentine's Day", year, dt.date(year, 2, 8), dt.date(year, 2, 14), dt.date(year, 2, 14)),
            ("Thanksgiving", year, thanksgiving - dt.timedelta(days=3), thanksgiving, thanksgiving),
            (
                "Black Friday",
                year,
                thanksgiving + dt.timedelta(days=1),
                thanksgiving + dt.timedelta(days=1),
                thanksgiving + dt.timedelta(days=4),
            ),
            ("Christmas", year, dt.date(year, 12, 17), super_saturday, christmas_eve),
        ]
        if mothers is not None:
            rows.append(("Mother's Day", year, mothers - dt.timedelta(days=6), mothers, mothers))
    return pl.DataFrame(rows, schema=_CALENDAR_SCHEMA, orient="row").sort("start", "festival")


def festival_days(start: dt.date, end: dt.date, *, market: str) -> pl.DataFrame:
    """Every (date, festival) pair with ``start <= date <= end``; ``is_peak`` marks the peak day.

    For ``cn`` the 春节 rows cover the logistics pause (除夕 − 4 to 初六), when orders dip and ship
    late. Markets without a shopping calendar give an empty frame.
    """
    rows = festival_calendar_between(market, start, end).filter((pl.col("end") >= start) & (pl.col("start") <= end))
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
    row = festival_calendar("cn").filter((pl.col("festival") == "春节") & (pl.col("year") == year))
    if row.height:
        return row["peak"][0]  # type: ignore[no-any-return]
    from lunardate import LunarDate

    return LunarDate(year, 1, 1).to_solar_date()  # type: ignore[no-any-return]


_SUBSTITUTED = re.compile(r"substituted from (\d{2})/(\d{2})/(\d{4})")


@cache
def official_days(first_year: int, last_year: int, *, market: str) -> pl.DataFrame:
    """Official days off and make-up working days (调休): date, kind ∈ {holiday, makeup_workday}.

    ``cn``: China's announced holidays and 调休 days; another country code: its public holidays;
    ``none``: empty.
    """
    import holidays

    schema = {"date": pl.Date, "kind": pl.String}
    if market == "none":
        return pl.DataFrame(schema=schema)
    if market != "cn":
        other = holidays.country_holidays(market.upper(), years=range(first_year, last_year + 1))
        return pl.DataFrame(
            [(day, "holiday") for day in sorted(other)], schema=schema, orient="row"
        ).unique(["date", "kind"]).sort("date", "kind")
    table = holidays.China(years=range(first_year, last_year + 1), language="en_US")
    rows: list[tuple[dt.date, str]] = []
    for day, name in sorted(table.items()):
        rows.append((day, "holiday"))
        for match in _SUBSTITUTED.finditer(name):
            month, dom, year = (int(g) for g in match.groups())
            rows.append((dt.date(year, month, dom), "makeup_workday"))
    # a weekend inside a run of days off (国庆's and 春节's golden weeks) is a day off too,
    # though the package lists only the working days the holiday replaces
    off = sorted({d for d, k in rows if k == "holiday"})
    makeup = {d for d, k in rows if k == "makeup_workday"}
    for a, b in zip(off, off[1:], strict=False):
        inner = [a + dt.timedelta(days=i) for i in range(1, (b - a).days)]
        if 0 < len(inner) <= 2 and all(d.weekday() >= 5 and d not in makeup for d in inner):
            rows.extend((d, "holiday") for d in inner)
    frame = pl.DataFrame(rows, schema={"date": pl.Date, "kind": pl.String}, orient="row")
    return frame.unique(["date", "kind"]).sort("date", "kind")
