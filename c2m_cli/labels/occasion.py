"""Usage-occasion family: festival buying (11.11, 618, 12.12, 年货节, 3.8), weekday / weekend,
hour of day and gift-season buying, all in the data's local time zone."""

from __future__ import annotations

import datetime as dt

import polars as pl

from c2m_cli.calendar import festival_days

# festival → column suffix
FESTIVAL_COLUMNS = {"双11": "1111", "618": "618", "双12": "1212", "年货节": "nianhuo", "38节": "38"}
DAYPARTS = ((0, 6, "night"), (6, 12, "morning"), (12, 18, "afternoon"), (18, 24, "evening"))


def gift_season_days(start: dt.date, end: dt.date) -> pl.DataFrame:
    """Days when buying is mostly for giving: 年货节 and 春节, the week before 2.14, 5.20,
    七夕 and Mother's Day, the two weeks before 中秋, and 12.18–12.25."""
    from lunardate import LunarDate

    spans: list[tuple[dt.date, dt.date]] = []
    for year in range(start.year, end.year + 1):
        qixi = LunarDate(year, 7, 7).to_solar_date()
        zhongqiu = LunarDate(year, 8, 15).to_solar_date()
        may_first = dt.date(year, 5, 1)
        mothers_day = may_first + dt.timedelta(days=(6 - may_first.weekday()) % 7 + 7)
        spans += [
            (dt.date(year, 2, 7), dt.date(year, 2, 14)),
            (dt.date(year, 5, 14), dt.date(year, 5, 20)),
            (qixi - dt.timedelta(days=7), qixi),
            (mothers_day - dt.timedelta(days=7), mothers_day),
            (zhongqiu - dt.timedelta(days=14), zhongqiu),
            (dt.date(year, 12, 18), dt.date(year, 12, 25)),
        ]
    calendar = festival_days(start, end, market="cn").filter(pl.col("festival").is_in(["年货节", "春节"])).select("date")
    extra = pl.DataFrame({"s": [s for s, _ in spans], "e": [e for _, e in spans]}).select(
        pl.date_ranges("s", "e").alias("date")
    ).explode("date")
    return pl.concat([calendar, extra]).unique().filter(pl.col("date").is_between(start, end)).sort("date")


def occasion_labels(lines: pl.LazyFrame, as_of: dt.date, festival_buyer_share: float) -> pl.DataFrame:
    orders = (
        lines.filter(pl.col("is_purchase"))
        .group_by("user_id", "order_id")
        .agg(pl.col("ts_local").min(), pl.col("day").min())
        .collect()
    )
    if orders.is_empty():
        return pl.DataFrame(schema={"user_id": pl.String})
    start: dt.date = orders["day"].min()  # type: ignore[assignment]
    fest = festival_days(start, as_of, market="cn").filter(pl.col("festival").is_in(list(FESTIVAL_COLUMNS)))
    fest_wide = (
        fest.with_columns(pl.col("festival").replace_strict(FESTIVAL_COLUMNS, return_dtype=pl.String))
        .with_columns(pl.lit(True).alias("_v"))
        .pivot(on="festival", index="date", values="_v", aggregate_function="first")
    )
    flags = [c for c in (f"{v}" for v in FESTIVAL_COLUMNS.values()) if c in fest_wide.columns]
    gift = gift_season_days(start, as_of).with_columns(_gift=pl.lit(True))
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
    shares = [pl.col(c).mean().alias(f"occasion_share_{c}") for c in FESTIVAL_COLUMNS.values() if c in flags]
    missing = [pl.lit(0.0).alias(f"occasion_share_{c}") for c in FESTIVAL_COLUMNS.values() if c not in flags]
    frame = enriched.group_by("user_id").agg(
        pl.col("_festival").mean().alias("occasion_festival_share"),
        *shares,
        pl.col("_weekend").mean().alias("occasion_weekend_share"),
        pl.col("_gift").mean().alias("occasion_gift_share"),
        pl.col("_hour").mode().sort().first().cast(pl.Int8).alias("occasion_peak_hour"),
        pl.col("_daypart").mode().sort().first().alias("occasion_daypart"),
        *missing,
    )
    top_candidates = [f"occasion_share_{c}" for c in FESTIVAL_COLUMNS.values()]
    names = list(FESTIVAL_COLUMNS.keys())
    best = pl.lit(None, pl.String)
    best_value = pl.lit(0.0)
    for name, column in zip(names, top_candidates, strict=True):
        better = pl.col(column) > best_value
        best = pl.when(better).then(pl.lit(name)).otherwise(best)
        best_value = pl.max_horizontal(best_value, pl.col(column))
    frame = frame.with_columns(
        occasion_top_festival=best,
        occasion_festival_buyer=pl.col("occasion_festival_share") >= festival_buyer_share,
        occasion_weekend_buyer=pl.col("occasion_weekend_share") >= 0.5,
    )
    ordered = ["user_id", "occasion_festival_share", *top_candidates]
    rest = [c for c in frame.columns if c not in ordered]
    return frame.select(*ordered, *rest).sort("user_id")
