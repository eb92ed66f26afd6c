"""Usage-occasion family, in the workspace market's calendar and the data's local time zone.

- festival buying: the share of a user's orders placed in each shopping-festival window of the
  market (``cn``: 年货节, 38节, 618, 双11, 双12; ``us``: Valentine's Day, Mother's Day, Black
  Friday, Christmas; see ``c2m_cli.calendar``), the top festival and ``occasion_festival_buyer``;
- gift-season buying: the share of orders in the market's gifting windows
  (``GIFTING_FESTIVALS[market]``; for ``cn`` also the weeks before 2.14, 5.20, 七夕, Mother's
  Day and 中秋, and 12.18–12.25 — China's own gifting days, never applied elsewhere);
- weekday / weekend, hour of day and daypart.

What the data cannot say is null: a market without a shopping calendar (another country code,
``none``) has no festival or gift-season labels (shares, top festival and festival buyer null);
date-only timestamps (every local time 00:00, as in CDNOW) have no hour (peak hour null,
daypart ``unknown``).
"""

from __future__ import annotations

import datetime as dt
import re

import polars as pl

from c2m_cli.calendar import GIFTING_FESTIVALS, festival_days, shopping_festivals

# China's festivals keep their established column suffixes
CN_COLUMNS = {"双11": "1111", "618": "618", "双12": "1212", "年货节": "nianhuo", "38节": "38"}
# kept for callers that list China's columns (the synthetic world is a Chinese market)
FESTIVAL_COLUMNS = CN_COLUMNS
DAYPARTS = ((0, 6, "night"), (6, 12, "morning"), (12, 18, "afternoon"), (18, 24, "evening"))
UNKNOWN = "unknown"


def festival_columns(market: str) -> dict[str, str]:
    """Festival → column suffix (``occasion_share_<suffix>``) for the market's shopping festivals."""
    names = shopping_festivals(market)
    if market == "cn":
        return {name: CN_COLUMNS[name] for name in names if name in CN_COLUMNS}
    return {name: re.sub(r"[^a-z0-9]+", "_", name.lower().replace("'", "")).strip("_") for name in names}


def _cn_gift_spans(year: int) -> list[tuple[dt.date, dt.date]]:
    from lunardate import LunarDate

    qixi = LunarDate(year, 7, 7).to_solar_date()
    zhongqiu = LunarDate(year, 8, 15).to_solar_date()
    may_first = dt.date(year, 5, 1)
    mothers_day = may_first + dt.timedelta(days=(6 - may_first.weekday()) % 7 + 7)
    return [
        (dt.date(year, 2, 7), dt.date(year, 2, 14)),
        (dt.date(year, 5, 14), dt.date(year, 5, 20)),
        (qixi - dt.timedelta(days=7), qixi),
        (mothers_day - dt.timedelta(days=7), mothers_day),
        (zhongqiu - dt.timedelta(days=14), zhongqiu),
        (dt.date(year, 12, 18), dt.date(year, 12, 25)),
    ]


def gift_season_days(start: dt.date, end: dt.date, *, market: str) -> pl.DataFrame:
    """The days (``date``) when buying in ``market`` is mostly for giving: the windows of its
    gifting festivals, plus China's own gifting days for ``cn``; empty without a calendar."""
    gifting = GIFTING_FESTIVALS.get(market, ())
    if not gifting:
        return pl.DataFrame(schema={"date": pl.Date})
    calendar = festival_days(start, end, market=market).filter(pl.col("festival").is_in(list(gifting))).select("date")
    parts = [calendar]
    if market == "cn":
        spans = [span for year in range(start.year, end.year + 1) for span in _cn_gift_spans(year)]
        parts.append(
            pl.DataFrame({"s": [s for s, _ in spans], "e": [e for _, e in spans]}, schema={"s": pl.Date, "e": pl.Date})
            .select(pl.date_ranges("s", "e").alias("date"))
            .explode("date")
        )
    return pl.concat(parts).unique().filter(pl.col("date").is_between(start, end)).sort("date")


def occasion_labels(
    lines: pl.LazyFrame, as_of: dt.date, festival_buyer_share: float, *, market: str, has_hours: bool = True
) -> pl.DataFrame:
    orders = (
        lines.filter(pl.col("is_purchase"))
        .group_by("user_id", "order_id")
        .agg(pl.col("ts_local").min(), pl.col("day").min())
        .collect()
    )
    if orders.is_empty():
        return pl.DataFrame(schema={"user_id": pl.String})
    start: dt.date = orders["day"].min()  # type: ignore[assignment]
    columns = festival_columns(market)
    with_calendar = bool(columns)
    fest = festival_days(start, as_of, market=market).filter(pl.col("festival").is_in(list(columns)))
    fest_wide = (
        fest.with_columns(pl.col("festival").replace_strict(columns, return_dtype=pl.String))
        .with_columns(pl.lit(True).alias("_v"))
        .pivot(on="festival", index="date", values="_v", aggregate_function="first")
        if fest.height
        else pl.DataFrame(schema={"date": pl.Date})
    )
    flags = [c for c in columns.values() if c in fest_wide.columns]
    gift = gift_season_days(start, as_of, market=market).with_columns(_gift=pl.lit(True))
    hour = pl.col("ts_local").dt.hour()
    daypart = pl.lit("night")
    for low, high, name in DAYPARTS:
        daypart = pl.when(hour.is_between(low, high, closed="left")).then(pl.lit(name)).otherwise(daypart)
    enriched = (
        orders.join(fest_wide.rename({"date": "day"}), on="day", how="left")
        .join(gift.rename({"date": "day"}), on="day", how="left")
        .with_columns(
            *(pl.col(c).fill_null(False) for c in flags),
            pl.col("_gift").fill_null(False),
            (pl.col("day").dt.weekday() >= 6).alias("_weekend"),
            hour.alias("_hour"),
            daypart.alias("_daypart"),
        )
        .with_columns(pl.any_horizontal(*(pl.col(c) for c in flags)).alias("_festival") if flags else pl.lit(False).alias("_festival"))
    )
    known = pl.lit(with_calendar)
    share_cols = [f"occasion_share_{c}" for c in columns.values()]
    frame = enriched.group_by("user_id").agg(
        pl.when(known).then(pl.col("_festival").mean()).alias("occasion_festival_share"),
        *[(pl.col(c).mean() if c in flags else pl.lit(0.0)).alias(f"occasion_share_{c}") for c in columns.values()],
        pl.col("_weekend").mean().alias("occasion_weekend_share"),
        pl.when(pl.lit(bool(GIFTING_FESTIVALS.get(market)))).then(pl.col("_gift").mean()).alias("occasion_gift_share"),
        pl.when(pl.lit(has_hours)).then(pl.col("_hour").mode().sort().first()).cast(pl.Int8).alias("occasion_peak_hour"),
        pl.when(pl.lit(has_hours)).then(pl.col("_daypart").mode().sort().first()).otherwise(pl.lit(UNKNOWN)).alias("occasion_daypart"),
    )
    best = pl.lit(None, pl.String)
    best_value = pl.lit(0.0)
    for name, column in zip(columns, share_cols, strict=True):
        better = pl.col(column) > best_value
        best = pl.when(better).then(pl.lit(name)).otherwise(best)
        best_value = pl.max_horizontal(best_value, pl.col(column))
    frame = frame.with_columns(
        occasion_top_festival=best,
        occasion_festival_buyer=pl.col("occasion_festival_share") >= festival_buyer_share,
        occasion_weekend_buyer=pl.col("occasion_weekend_share") >= 0.5,
    )
    ordered = ["user_id", "occasion_festival_share", *share_cols]
    rest = [c for c in frame.columns if c not in ordered]
    return frame.select(*ordered, *rest).sort("user_id")
