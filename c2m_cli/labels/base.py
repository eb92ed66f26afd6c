"""Inputs of the label step, prepared once: order lines in local time with money and flags."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from c2m_cli import contract
from c2m_cli.errors import InvalidDataError, UsageError

REQUIRED_ORDER_COLUMNS = ("order_id", "user_id", "sku", "ts", "qty", "unit_price")
UNKNOWN = "unknown"
FX = 1_000_000  # fixed point for sums of money and scores


def fx_sum(expr: pl.Expr) -> pl.Expr:
    """Sum in fixed point (1e-6 units, Int64): exact and independent of the order in which a
    parallel aggregation meets the rows, so outputs are byte-identical run after run."""
    return (expr * FX).round(0).cast(pl.Int64).sum()


def fx_value(expr: pl.Expr) -> pl.Expr:
    """A fixed-point sum (from ``fx_sum``) back to a float."""
    return expr.cast(pl.Float64) / FX


@dataclass(frozen=True)
class LabelOptions:
    """Every threshold of the label step (all shown in ``c2m label --help``)."""

    new_days: int = 30
    active_days: int = 90
    sleeping_days: int = 180
    dormant_days: int = 365
    rhythm_multiple: float = 2.0
    rhythm_min_gaps: int = 3
    rhythm_max_stretch: float = 3.0
    p_alive_floor: float = 0.05
    p_alive_keep: float = 0.5
    loyal_orders: int = 4
    super_share: float = 0.02
    clv_months: int = 12
    discount_rate: float = 0.10
    margin: float = 1.0
    clv_draws: int = 200
    fit_sample: int = 100_000
    tag_saturation: float = 3.0
    min_tag_score: float = 0.5
    high_value_share: float = 0.2
    festival_buyer_share: float = 0.5

    def as_parameters(self) -> dict[str, object]:
        return dict(self.__dict__)


def parse_as_of(value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError as exc:
        raise UsageError(f"--as-of must be a date YYYY-MM-DD, got {value!r}") from exc


def check_columns(frame: pl.LazyFrame | pl.DataFrame, required: tuple[str, ...], table: str) -> None:
    names = frame.collect_schema().names() if isinstance(frame, pl.LazyFrame) else frame.columns
    missing = [c for c in required if c not in names]
    if missing:
        raise InvalidDataError(f"{table}.parquet: missing required column(s) {', '.join(missing)}")


def has_values(frame: pl.LazyFrame, column: str) -> bool:
    """True when ``frame`` has ``column`` with at least one non-null value (ingest writes every
    optional column, null when the source had none)."""
    if column not in frame.collect_schema().names():
        return False
    return bool(frame.select(pl.col(column).is_not_null().any()).collect(engine="streaming").item())


def prepare_orders(orders: pl.LazyFrame, timezone: str, as_of: dt.date | None) -> tuple[pl.LazyFrame, dt.date]:
    """Order lines with local time, line amount and the purchase / return / cancel flags.

    A line is a *purchase* when it is paid or presale (or has no status), with quantity and amount
    not negative and not both zero (a free item is a purchase; a void line with nothing sold is
    not); a *return* when its status is ``returned`` or its quantity or amount is negative;
    ``cancelled`` lines count for nothing. Lines after ``as_of`` are dropped.
    """
    check_columns(orders, REQUIRED_ORDER_COLUMNS, "orders")
    names = orders.collect_schema().names()
    status = pl.col("status").cast(pl.String).str.to_lowercase() if "status" in names else pl.lit(None, pl.String)
    local = pl.col("ts").cast(pl.Datetime("us", "UTC")).dt.convert_time_zone(timezone).dt.replace_time_zone(None)
    amount = pl.col("qty").cast(pl.Float64, strict=False) * pl.col("unit_price").cast(pl.Float64, strict=False)
    presale = pl.col("presale").cast(pl.Boolean, strict=False).fill_null(False) if "presale" in names else pl.lit(False)
    # no discount data (no column, or one that is null throughout): whether a line was
    # discounted is unknown (null), not "no"
    known = has_values(orders, "discount")
    discount = pl.col("discount").cast(pl.Float64, strict=False).fill_null(0.0) if known else pl.lit(None, pl.Float64)
    prepared = orders.select(
        pl.col("user_id").cast(pl.String),
        pl.col("order_id").cast(pl.String),
        pl.col("sku").cast(pl.String),
        local.alias("ts_local"),
        pl.col("qty").cast(pl.Float64, strict=False),
        amount.alias("amount"),
        status.alias("status"),
        (presale | (status == "presale")).alias("is_presale"),
        (discount > 0).alias("is_discounted"),
        *( [pl.col("channel").cast(pl.String)] if "channel" in names else [pl.lit(None, pl.String).alias("channel")]),
        *( [pl.col("province").cast(pl.String)] if "province" in names else [pl.lit(None, pl.String).alias("province")]),
        *( [pl.col("city").cast(pl.String)] if "city" in names else [pl.lit(None, pl.String).alias("city")]),
        contract.line_kind(orders).alias("_kind"),  # the one order-line rule (c2m_cli.contract)
    ).filter(pl.col("user_id").is_not_null() & pl.col("ts_local").is_not_null())
    prepared = prepared.with_columns(
        pl.col("ts_local").dt.date().alias("day"),
        pl.col("_kind").is_in(["sale", "presale"]).alias("is_purchase"),
        pl.col("_kind").is_in(["returned", "refund"]).alias("is_return"),
        (pl.col("_kind") == "cancelled").alias("is_cancelled"),
    ).drop("_kind")
    if as_of is None:
        latest = prepared.select(pl.col("day").max()).collect(engine="streaming").item()
        if latest is None:
            raise InvalidDataError("orders.parquet: no order line with a user_id and a timestamp")
        as_of = latest
    prepared = prepared.filter(pl.col("day") <= as_of)
    return prepared, as_of
