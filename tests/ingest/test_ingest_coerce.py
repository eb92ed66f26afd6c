"""Coercion expressions: each kind of value real exports contain, read to canonical types."""

from __future__ import annotations

from datetime import UTC, date, datetime

import polars as pl
import pytest

from c2m_cli.errors import UsageError
from c2m_cli.ingest.coerce import (
    check_timezone,
    clean_text,
    detect_datetime_formats,
    parse_bool,
    parse_datetime,
    parse_number,
    parse_vocab,
)
from c2m_cli.ingest.mapping import VOCABULARIES


def _apply(expr: pl.Expr, values: list[str | None]) -> list:
    return pl.DataFrame({"x": values}, schema={"x": pl.String}).select(expr.alias("y"))["y"].to_list()


def test_numbers_with_currency_thousands_fullwidth_and_units():
    values = ["¥1,299.00", "￥１，２９９．５０", "$ 12", "1.2万", "3亿", "(5.00)", "RMB 88", "99元", "-3.5", "abc", "1,2,x", None]
    got = _apply(parse_number(clean_text(pl.col("x"))), values)
    assert got == [1299.0, 1299.5, 12.0, 12000.0, 3e8, -5.0, 88.0, 99.0, -3.5, None, None, None]


def test_placeholders_are_null_not_values():
    assert _apply(clean_text(pl.col("x")), ["  ", "NULL", "n/a", "-", "无", " a "]) == [None] * 5 + ["a"]


def test_booleans_chinese_and_english():
    values = ["是", "否", "TRUE", "false", "Y", "n", "１", "0", "maybe"]
    assert _apply(parse_bool(clean_text(pl.col("x"))), values) == [True, False, True, False, True, False, True, False, None]


def test_status_vocabulary_and_override():
    vocab = {**VOCABULARIES["status"], "等待发货": "paid"}
    values = ["已完成", "交易成功", "已取消", "退款", "预售", "等待发货", "PAID", "未知"]
    got = _apply(parse_vocab(clean_text(pl.col("x")), vocab), values)
    assert got == ["paid", "paid", "cancelled", "returned", "presale", "paid", "paid", None]


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024/11/11 20:15", _utc(2024, 11, 11, 12, 15)),
        ("2024/1/5 9:05", _utc(2024, 1, 5, 1, 5)),
        ("2024年11月11日 20:15:30", _utc(2024, 11, 11, 12, 15, 30)),
        ("2024年6月18日", _utc(2024, 6, 17, 16, 0)),
        ("2024-11-11", _utc(2024, 11, 10, 16, 0)),
        ("2024.11.11 20:15", _utc(2024, 11, 11, 12, 15)),
        ("２０２４-１１-１１ ２０:１５", _utc(2024, 11, 11, 12, 15)),
        ("20241111", _utc(2024, 11, 10, 16, 0)),
        # offsets are kept whatever the zone of naive values
        ("2024-11-11T20:15:00+08:00", _utc(2024, 11, 11, 12, 15)),
        ("2024-11-11T12:15:00Z", _utc(2024, 11, 11, 12, 15)),
        ("2024-11-11 20:15:00.250-0500", datetime(2024, 11, 12, 1, 15, 0, 250000, tzinfo=UTC)),
        # epoch seconds and milliseconds are instants
        ("1731327300", _utc(2024, 11, 11, 12, 15)),
        ("1731327300000", _utc(2024, 11, 11, 12, 15)),
        ("2024-13-45", None),
        ("next tuesday", None),
    ],
)
def test_datetimes_in_shanghai(text: str, expected: datetime | None):
    from c2m_cli.ingest.coerce import DATETIME_FORMATS, SPECIAL_FORMATS

    formats = [*SPECIAL_FORMATS, *DATETIME_FORMATS]
    expr = parse_datetime(clean_text(pl.col("x")), formats=formats, timezone="Asia/Shanghai")
    frame = pl.DataFrame({"x": [text]}).select(expr.alias("y"))
    assert frame.schema["y"] == pl.Datetime("us", "UTC")
    assert frame["y"].to_list() == [expected]


def test_format_detection_prefers_what_the_sample_holds():
    sample = pl.Series(["2024/11/11 20:15", "2024/11/12 08:00", "2024/11/12"])
    formats = detect_datetime_formats(sample)
    assert formats[0] == "%Y/%m/%d %H:%M"
    assert "%Y/%m/%d" in formats
    assert "epoch_ms" not in formats


def test_a_pinned_format_reads_day_first_dates():
    expr = parse_datetime(clean_text(pl.col("x")), formats=["%d/%m/%Y"], timezone="UTC")
    got = pl.DataFrame({"x": ["05/01/2024", "2024-01-05"]}).select(expr.alias("y"))["y"].to_list()
    assert got == [_utc(2024, 1, 5), None]


def test_nonexistent_local_time_is_null_not_shifted():
    expr = parse_datetime(clean_text(pl.col("x")), formats=["%Y-%m-%d %H:%M"], timezone="America/New_York")
    got = pl.DataFrame({"x": ["2024-03-10 02:30", "2024-03-10 03:30"]}).select(expr.alias("y"))["y"].to_list()
    assert got == [None, _utc(2024, 3, 10, 7, 30)]


def test_unknown_timezone_is_a_usage_error():
    with pytest.raises(UsageError, match="unknown time zone 'Mars/Olympus'"):
        check_timezone("Mars/Olympus")
    assert check_timezone("Asia/Shanghai") == "Asia/Shanghai"


def test_date_kind_is_a_calendar_date():
    from c2m_cli.ingest.coerce import datetime_from

    expr = datetime_from(pl.col("x"), pl.String(), formats=None, timezone="UTC").dt.date()
    assert pl.DataFrame({"x": ["2024年3月1日"]}).select(expr.alias("y"))["y"].to_list() == [date(2024, 3, 1)]


@pytest.mark.parametrize("zone", ["Asia/Shanghai", "Asia/Tokyo", "America/New_York", "Asia/Kolkata"])
def test_fixed_offset_fast_path_equals_the_zone_database(zone: str):
    """Wall times after a zone's last change are shifted by its offset, older ones looked up:
    hourly from 1950 to 2030 (China's daylight saving time of 1986–1991 included)."""
    from c2m_cli.ingest.coerce import _localize

    frame = pl.DataFrame({"t": pl.datetime_range(datetime(1950, 1, 1), datetime(2030, 1, 1), "7h", eager=True)})
    expected = pl.col("t").dt.replace_time_zone(zone, ambiguous="earliest", non_existent="null").dt.convert_time_zone("UTC")
    got = frame.select(_localize(pl.col("t"), zone).alias("a"), expected.alias("b"))
    assert got["a"].equals(got["b"], null_equal=True)
