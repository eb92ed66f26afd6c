"""Demand series per level, built with polars from paid order lines.

A series is ``level, unique_id, ds, y``: ``ds`` is the first day of its period (weeks start on
Monday) in the data's local zone, ``y`` the quantity sold. Missing periods are filled with zeros
from the series' first sale to the last complete period of the data.

The geo levels (``province``, ``city_tier``, ``city``) are keyed as ``c2m_cli.forecast.geo``
describes (广东, 广东/一线, 广东/深圳): the lines are summed per raw (province, city) and
period, and the keys — resolved once per distinct pair with the shared lookups — are joined to
those sums, so that each city lies in one tier cell of one province.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import polars as pl

from c2m_cli import contract
from c2m_cli.errors import InvalidDataError, UsageError
from c2m_cli.forecast.geo import GEO_LEVELS, raw_pair, with_keys
from c2m_cli.forecast.geo import UNKNOWN_KEY as GEO_UNKNOWN

FREQS = {"D": "1d", "W": "1w", "M": "1mo"}
SEASON_LENGTH = {"D": 7, "W": 52, "M": 12}
PRODUCT_LEVELS = ("total", "category_l1", "category_l2", "category_l3", "sku")
ORDER_LEVELS = (*GEO_LEVELS, "channel")  # province, city_tier, city: the geo tree (geo.py)
KNOWN_LEVELS = PRODUCT_LEVELS + ORDER_LEVELS
UNKNOWN_KEY = GEO_UNKNOWN  # one spelling of unknown for every key


@dataclass(frozen=True)
class SeriesSet:
    """The series of every requested level and what was done to build them."""

    frame: pl.DataFrame  # level, unique_id, ds, y
    periods: list[dt.date]  # the complete periods of history, oldest first
    hierarchy: pl.DataFrame  # sku plus its product-level keys (for bottom-up)
    levels: tuple[str, ...]
    info: dict[str, int | str | None]
    # the distinct (province, city_tier, city) keys of the lines (geo.geo_tree), when asked for
    geo: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=dict.fromkeys(GEO_LEVELS, pl.String)))


def parse_levels(levels: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    items = levels.split(",") if isinstance(levels, str) else list(levels)
    out: list[str] = []
    for item in (i.strip() for i in items):
        if not item:
            continue
        if item not in KNOWN_LEVELS:
            raise UsageError(
                f"--levels: unknown level {item!r}; choose from {', '.join(KNOWN_LEVELS)}"
            )
        if item not in out:
            out.append(item)
    if not out:
        raise UsageError("--levels: give at least one level, e.g. total,category_l1,sku")
    return tuple(out)


def check_freq(freq: str) -> str:
    if freq not in FREQS:
        raise UsageError(f"--freq must be one of D, W, M, got {freq!r}")
    return freq


def period_start(expr: pl.Expr, freq: str) -> pl.Expr:
    """The first day of the period holding a date (weeks start on Monday)."""
    return contract.period_start(expr, freq)


def period_range(first: dt.date, last: dt.date, freq: str) -> list[dt.date]:
    if last < first:
        return []
    return list(pl.date_range(first, last, FREQS[freq], eager=True))


def next_periods(last: dt.date, freq: str, horizon: int) -> list[dt.date]:
    """The ``horizon`` periods following the period that starts on ``last``."""
    step = FREQS[freq]
    days = pl.date_range(last, last + dt.timedelta(days=40 * (horizon + 1)), step, eager=True)
    return list(days[1 : horizon + 1])


def period_end(start: dt.date, freq: str) -> dt.date:
    """The last day of the period starting on ``start``."""
    return next_periods(start, freq, 1)[0] - dt.timedelta(days=1)


def order_lines(
    orders: pl.LazyFrame, *, timezone: str, net_returns: bool
) -> pl.LazyFrame:
    """Paid order lines as (date, sku, qty, + order-level keys); cancelled lines are dropped.

    Lines without a status count as paid. By default demand is what was ordered: returned
    lines count and refund lines (negative qty) do not; with ``net_returns`` returned lines are
    dropped and refund lines netted in. Pre-sale lines (status ``presale``) are not demand yet:
    see ``presale_lines``.
    """
    schema = orders.collect_schema()
    missing = [c for c in ("sku", "ts", "qty") if c not in schema]
    if missing:
        raise InvalidDataError(f"orders.parquet: missing column(s) {', '.join(missing)}")
    # the one sales rule (c2m_cli.contract): as ordered, or net of returns and refunds
    sold = contract.sales_lines(orders, returns="net" if net_returns else "include")
    extra = [pl.col(c).cast(pl.String) for c in ORDER_LEVELS if c in schema]
    return sold.filter(pl.col("ts").is_not_null()).select(
        pl.col("ts").dt.convert_time_zone(timezone).dt.date().alias("date"),
        pl.col("sku").cast(pl.String),
        pl.col("qty").cast(pl.Float64).alias("qty"),
        *extra,
    )


def presale_lines(orders: pl.LazyFrame, *, timezone: str) -> pl.LazyFrame:
    """Pre-sale order lines (status ``presale``: paid deposits, not shipped) as (date, sku, qty)."""
    schema = orders.collect_schema()
    if "status" not in schema and "presale" not in schema:
        return pl.LazyFrame(schema={"date": pl.Date, "sku": pl.String, "qty": pl.Float64})
    return contract.presale_lines(orders).filter(pl.col("ts").is_not_null()).select(
        pl.col("ts").dt.convert_time_zone(timezone).dt.date().alias("date"),
        pl.col("sku").cast(pl.String),
        pl.col("qty").cast(pl.Float64).alias("qty"),
    )


def product_keys(products: pl.DataFrame | None, levels: tuple[str, ...]) -> pl.DataFrame:
    """sku → category_l1..l3 (``未知`` when the products table lacks them)."""
    wanted = [c for c in ("category_l1", "category_l2", "category_l3") if c in levels]
    if products is None:
        return pl.DataFrame(schema={"sku": pl.String, **dict.fromkeys(wanted, pl.String)})
    cols = []
    for column in wanted:
        if column in products.columns:
            cols.append(pl.col(column).cast(pl.String).fill_null(UNKNOWN_KEY))
        else:
            cols.append(pl.lit(UNKNOWN_KEY).alias(column))
    return products.select(pl.col("sku").cast(pl.String), *cols).unique("sku", keep="first")


def is_periodic(dates: pl.Series, freq: str) -> bool:
    """Whether the distinct dates of the data are one per period already (weekly or monthly
    data, as exported by a report): weekly when they are all a whole number of weeks apart,
    monthly when they all fall on the same day of the month (or all on month ends). At least
    three dates are needed to tell."""
    d = dates.drop_nulls().unique().sort()
    if d.len() < 3:
        return False
    if freq == "W":
        gaps = d.diff().drop_nulls().dt.total_days()
        return bool((gaps % 7 == 0).all())
    if freq == "M":
        day = d.dt.day()
        month_end = (d + dt.timedelta(days=1)).dt.day() == 1
        return bool(day.n_unique() == 1 or month_end.all())
    return False


def build_series(
    orders: pl.LazyFrame,
    products: pl.DataFrame | None,
    *,
    levels: tuple[str, ...],
    freq: str,
    timezone: str = "UTC",
    net_returns: bool = False,
) -> SeriesSet:
    """The zero-filled series of every level, over the complete periods of the data."""
    geo_levels = [lv for lv in levels if lv in GEO_LEVELS]
    raw = orders.collect_schema()
    for level in levels:
        # a province can be read from the city (昆山市 → 江苏); a tier or city needs the city
        source = {"province": ("province", "city"), "city_tier": ("city",), "city": ("city",)}.get(level, (level,))
        if level in ORDER_LEVELS and not any(c in raw for c in source):
            raise InvalidDataError(
                f"orders.parquet: level {level!r} asked for but the orders have no {source[0]} column"
            )
    lines = order_lines(orders, timezone=timezone, net_returns=net_returns)
    keys = product_keys(products, levels)
    needed_keys = [c for c in keys.columns if c != "sku"]
    frame = lines.with_columns(period_start(pl.col("date"), freq).alias("ds"))
    # the lines' count, first and last day, and distinct days: one scan of the lines
    bounds, days = pl.collect_all([
        frame.select(pl.len().alias("n"), pl.col("date").min().alias("first"), pl.col("date").max().alias("last")),
        frame.select(pl.col("date").unique()),
    ], engine="streaming")
    if bounds["n"][0] == 0:
        raise InvalidDataError("orders.parquet: no paid order lines to forecast from")
    first_day, last_day = bounds["first"][0], bounds["last"][0]
    assert isinstance(first_day, dt.date) and isinstance(last_day, dt.date)
    first_p = pl.select(period_start(pl.lit(first_day), freq)).item()
    last_p = pl.select(period_start(pl.lit(last_day), freq)).item()
    dropped_tail = 0
    periodic = freq != "D" and is_periodic(days["date"], freq)
    # An incomplete last period would read as a collapse of demand: leave it out (unless the
    # data are already one line per period: then each line is its whole period).
    if not periodic and period_end(last_p, freq) > last_day and last_p > first_p:
        last_p = pl.select(period_start(pl.lit(last_p - dt.timedelta(days=1)), freq)).item()
        dropped_tail = 1
    dropped_head = 0
    if not periodic and first_p < first_day and first_p < last_p:
        first_p = next_periods(first_p, freq, 1)[0]
        dropped_head = 1
    periods = period_range(first_p, last_p, freq)
    # lazily: only the per-period sums are ever materialised, not the order lines. Every level
    # but the geo ones is summed from the sums per SKU, channel and period: the products' keys
    # join those sums, not the lines
    kept = frame.filter(pl.col("ds").is_between(first_p, last_p))
    raw_geo = [c for c in ("province", "city") if c in raw]
    line_keys = [lv for lv in levels if lv in ORDER_LEVELS and lv not in GEO_LEVELS]  # a line's own (channel)
    queries = [kept.group_by("sku", *line_keys, "ds").agg(pl.col("qty").sum().alias("y")), kept.select(pl.len())]
    if geo_levels:  # the lines summed per raw (province, city) and period, keyed below (last part)
        queries.append(kept.group_by(*raw_geo, "ds").agg(pl.col("qty").sum().alias("y")))
    by_sku, count, *geo_sums = pl.collect_all(queries, engine="streaming")
    keyed_skus = by_sku.join(keys, on="sku", how="left").with_columns(pl.col(c).fill_null(UNKNOWN_KEY) for c in needed_keys)
    parts = []
    for level in (lv for lv in levels if lv not in GEO_LEVELS):
        key = pl.lit("total") if level == "total" else pl.col(level).cast(pl.String)
        parts.append(
            keyed_skus.group_by(key.fill_null(UNKNOWN_KEY).alias("unique_id"), "ds")
            # rounded: a float sum must not depend on how threads split the lines
            .agg(pl.col("y").sum().round(9).alias("y"))
            .with_columns(pl.lit(level).alias("level"))
        )
    parts += geo_sums
    hierarchy = keyed_skus.select("sku", *needed_keys).unique("sku", keep="first")
    geo = None
    if geo_levels:  # the tier and city keys through the shared lookups (geo.py), per distinct pair
        by_pair = parts.pop()
        keyed = with_keys(by_pair.with_columns(raw_pair(by_pair.schema)).drop(raw_geo))
        for level in geo_levels:
            parts.append(
                keyed.group_by(pl.col(level).alias("unique_id"), "ds")
                .agg(pl.col("y").sum().round(9))
                .with_columns(pl.lit(level).alias("level"))
            )
        geo = keyed.select(*GEO_LEVELS).unique().sort(*GEO_LEVELS)
    sums = pl.concat(parts)
    grid = pl.DataFrame({"ds": periods}, schema={"ds": pl.Date})
    # in (level, unique_id, ds) order: the series sorted, each one's periods in the grid's order
    # (joins that keep their left order, instead of sorting the filled rows)
    starts = (
        sums.filter(pl.col("y") != 0)
        .group_by("level", "unique_id")
        .agg(pl.col("ds").min().alias("start"))
        .sort("level", "unique_id")
    )
    filled = (
        starts.join(grid, how="cross", maintain_order="left_right")
        .filter(pl.col("ds") >= pl.col("start"))
        .join(sums, on=["level", "unique_id", "ds"], how="left", maintain_order="left")
        .select("level", "unique_id", "ds", pl.col("y").fill_null(0.0))
    )
    hierarchy = hierarchy.sort("sku")
    info: dict[str, int | str | None] = {
        "order_lines": int(count.item()),
        "first_period": str(first_p),
        "last_period": str(last_p),
        "periods": len(periods),
        "dropped_partial_periods": dropped_head + dropped_tail,
        "periodic_input": periodic,
    }
    if geo is None:
        return SeriesSet(filled, periods, hierarchy, levels, info)
    info["geo_nodes"] = ", ".join(f"{lv} {geo[lv].n_unique()}" for lv in GEO_LEVELS)
    info["geo_unknown_tier_cities"] = int(geo.filter(pl.col("city_tier").str.ends_with("/" + UNKNOWN_KEY))["city"].n_unique())
    return SeriesSet(filled, periods, hierarchy, levels, info, geo)
