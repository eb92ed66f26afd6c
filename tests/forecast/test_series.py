"""Series are built from paid order lines, per level, in local time, zero-filled."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from c2m_cli.errors import InvalidDataError, UsageError
from c2m_cli.forecast.series import build_series, parse_levels
from tests.forecast.helpers import orders_frame

D = dt.date


def test_paid_lines_weekly_zero_filled_cancelled_out() -> None:
    orders = orders_frame(
        [
            ("A", "2024-01-01T10:00:00", 2, "paid"),  # Monday, week of 01-01
            ("A", "2024-01-03T10:00:00", 1, None),  # no status counts as paid
            ("A", "2024-01-04T10:00:00", 5, "cancelled"),
            ("B", "2024-01-16T10:00:00", 3, "paid"),  # week of 01-15; week 01-08 empty
            ("A", "2024-01-21T10:00:00", 4, "returned"),  # counts by default (as ordered)
            ("A", "2024-01-22T10:00:00", 1, "paid"),  # lone Monday of an incomplete week
        ]
    )
    result = build_series(orders.lazy(), None, levels=("total", "sku"), freq="W")
    assert result.periods == [D(2024, 1, 1), D(2024, 1, 8), D(2024, 1, 15)]
    assert result.info["dropped_partial_periods"] == 1
    got = result.frame.sort("level", "unique_id", "ds").rows()
    assert got == [
        ("sku", "A", D(2024, 1, 1), 3.0),
        ("sku", "A", D(2024, 1, 8), 0.0),
        ("sku", "A", D(2024, 1, 15), 4.0),
        ("sku", "B", D(2024, 1, 15), 3.0),  # starts at its first sale
        ("total", "total", D(2024, 1, 1), 3.0),
        ("total", "total", D(2024, 1, 8), 0.0),
        ("total", "total", D(2024, 1, 15), 7.0),
    ]


def test_net_returns_and_refund_lines() -> None:
    orders = orders_frame(
        [
            ("A", "2024-01-01T10:00:00", 5, "paid"),
            ("A", "2024-01-02T10:00:00", 2, "returned"),
            ("A", "2024-01-03T10:00:00", -1, "paid"),  # a refund line
            ("A", "2024-01-08T10:00:00", 1, "paid"),
            ("A", "2024-01-14T10:00:00", 1, "paid"),
        ]
    )
    as_ordered = build_series(orders.lazy(), None, levels=("total",), freq="W")
    netted = build_series(orders.lazy(), None, levels=("total",), freq="W", net_returns=True)
    assert as_ordered.frame["y"].to_list() == [7.0, 2.0]
    assert netted.frame["y"].to_list() == [4.0, 2.0]


def test_local_timezone_decides_the_period() -> None:
    # 2024-01-07 20:00 UTC is Monday 2024-01-08 04:00 in Shanghai
    orders = orders_frame(
        [
            ("A", "2024-01-01T10:00:00", 1, "paid"),
            ("A", "2024-01-07T20:00:00", 1, "paid"),
            ("A", "2024-01-14T10:00:00", 1, "paid"),
        ]
    )
    utc = build_series(orders.lazy(), None, levels=("total",), freq="W")
    local = build_series(orders.lazy(), None, levels=("total",), freq="W", timezone="Asia/Shanghai")
    assert utc.frame["y"].to_list() == [2.0, 1.0]
    assert local.frame["y"].to_list() == [1.0, 2.0]


def test_category_from_products_unknown_when_missing() -> None:
    orders = orders_frame(
        [("A", "2024-01-01T10:00:00", 1, "paid"), ("Z", "2024-01-02T10:00:00", 2, "paid")]
    )
    products = pl.DataFrame({"sku": ["A"], "category_l1": ["零食"]})
    result = build_series(orders.lazy(), products, levels=("category_l1",), freq="D")
    assert sorted(result.frame.group_by("unique_id").agg(pl.col("y").sum()).rows()) == [
        ("未知", 2.0),
        ("零食", 1.0),
    ]


def test_level_errors() -> None:
    with pytest.raises(UsageError, match=r"--levels: unknown level 'brand'; choose from total"):
        parse_levels("total,brand")
    orders = orders_frame([("A", "2024-01-01T10:00:00", 1, "paid")])
    with pytest.raises(InvalidDataError, match=r"the orders have no province column"):
        build_series(orders.lazy(), None, levels=("province",), freq="W")
    cancelled = orders_frame([("A", "2024-01-01T10:00:00", 1, "cancelled")])
    with pytest.raises(InvalidDataError, match=r"no paid order lines to forecast from"):
        build_series(cancelled.lazy(), None, levels=("total",), freq="W")
