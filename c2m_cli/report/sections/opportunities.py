"""Opportunities: the ranked needs with their numbers in columns and their evidence in words, and
for the top few the picture behind them (searches vs sales, consumers' words, the price band)."""

from __future__ import annotations

import json
import re
from typing import Any, TypedDict

import polars as pl

from c2m_cli.report.sections.base import (
    Context,
    as_float,
    as_list,
    first_of,
    read_table,
    require_columns,
    scan_table,
    segment_lookup,
)
from c2m_cli.report.sections.evidence import plain, trend_word
from c2m_cli.report.sections.measures import price_histogram, search_sales_trend

QUOTES = 3
OPPORTUNITIES_SHOWN = 20
CHARTED = 5
PINNED = ("opportunity_id", "rank", "kind", "category", "subject", "evidence", "score")
_BAND = re.compile(r"(\d[\d,.]*)\s*[–\-~至]\s*(\d[\d,.]*|∞)")


class Opportunity(TypedDict, total=False):
    id: str
    rank: int
    kind: str
    category: str | None
    sku: str | None
    subject: str
    variants: list[str]
    evidence: str
    score: float | None
    volume: float | None
    trend: str | None
    segment: str | None
    charts: dict[str, Any]


class OpportunitiesData(TypedDict, total=False):
    missing: str
    rows: list[Opportunity]
    total: int
    currency: str


def price_band(text: str | None) -> tuple[float | None, float | None]:
    """(low, high) of a band written "1600–3600" or "1600–∞" (high None when open)."""
    if not text:
        return None, None
    match = _BAND.search(text)
    if not match:
        return None, None
    low = float(match.group(1).replace(",", ""))
    high = None if match.group(2) == "∞" else float(match.group(2).replace(",", ""))
    return low, high


def gather(ctx: Context) -> OpportunitiesData:
    opportunities = read_table(ctx, "opportunities")
    if opportunities is None:
        return {"missing": "opportunities"}
    require_columns(opportunities, "opportunities", PINNED)
    top = opportunities.sort("rank", "opportunity_id").head(OPPORTUNITIES_SHOWN)
    segments = segment_lookup(ctx)
    orders, events = scan_table(ctx, "orders"), scan_table(ctx, "events")
    products, reviews = read_table(ctx, "products"), read_table(ctx, "reviews")
    rows: list[Opportunity] = []
    for i, row in enumerate(top.iter_rows(named=True)):
        segment = segments.get(str(row.get("segment_id"))) if row.get("segment_id") is not None else None
        item: Opportunity = {
            "id": str(row["opportunity_id"]),
            "rank": int(row["rank"]),
            "kind": str(row["kind"]),
            "category": row["category"],
            "sku": row.get("sku"),
            "subject": str(row["subject"]),
            "variants": [str(v) for v in as_list(row.get("variants"))],
            "evidence": plain(row["evidence"], ctx.lang),
            "score": as_float(row["score"]),
            "volume": as_float(row.get("volume")),
            "trend": trend_word(as_float(row.get("trend_z")), as_float(row.get("trend_p") if "trend_q" not in row else row.get("trend_q")), ctx.lang),
            "segment": segment["name"] if segment else None,
        }
        if i < CHARTED:
            item["charts"] = _charts(row, orders, events, products, reviews, ctx.timezone)
        rows.append(item)
    return {"rows": rows, "total": opportunities.height, "currency": ctx.currency}


def _category_skus(products: pl.DataFrame, category: str) -> pl.DataFrame:
    cols = [c for c in ("category_l1", "category_l2", "category_l3") if c in products.columns]
    if not cols:
        return pl.DataFrame(schema={"sku": pl.String})
    return products.filter(pl.any_horizontal(pl.col(c) == category for c in cols)).select("sku")


def _charts(
    row: dict[str, Any],
    orders: pl.LazyFrame | None,
    events: pl.LazyFrame | None,
    products: pl.DataFrame | None,
    reviews: pl.DataFrame | None,
    tz: str,
) -> dict[str, Any]:
    kind, category = row["kind"], row["category"]
    out: dict[str, Any] = {}
    if kind in ("search_gap", "rising_demand", "festival") and orders is not None and category:
        out["trend"] = search_sales_trend(events, orders, products, str(category), tz)
    if kind in ("micro_demand", "attribute_gap") and reviews is not None:
        out["quotes"] = _quotes(row, reviews)
    if kind == "price_band" and orders is not None and products is not None and category:
        low_col = first_of(list(row), ("price_low", "band_low"))
        high_col = first_of(list(row), ("price_high", "band_high"))
        low, high = (as_float(row[low_col]) if low_col else None), (as_float(row[high_col]) if high_col else None)
        if low is None:
            low, high = price_band(str(row["subject"]))
        out["prices"] = {"bins": price_histogram(orders, _category_skus(products, str(category))), "low": low, "high": high}
    return out


def _quotes(row: dict[str, Any], reviews: pl.DataFrame) -> list[str]:
    """Up to three review texts behind an opportunity: its own quotes, or the SKU's lowest-rated."""
    own = first_of(list(row), ("quotes", "examples"))
    if own and row[own] is not None:
        values = row[own]
        values = json.loads(values) if isinstance(values, str) and values.startswith("[") else values
        return [str(v)[:200] for v in as_list(values)[:QUOTES]]
    pool = reviews
    if row.get("sku") is not None and "sku" in reviews.columns:
        pool = reviews.filter(pl.col("sku") == row["sku"])
    elif row.get("category") is not None and "category" in reviews.columns:
        pool = reviews.filter(pl.col("category") == row["category"])
    phrases_col = first_of(list(row), ("phrases", "aspect"))
    phrases = as_list(row.get(phrases_col)) if phrases_col else []
    if phrases:
        pool = pool.filter(pl.any_horizontal(pl.col("text").str.contains(str(p), literal=True) for p in phrases))
    order = ["rating", "text"] if "rating" in pool.columns else ["text"]
    return [str(v)[:200] for v in pool.sort(order, nulls_last=True).head(QUOTES)["text"].to_list()]
