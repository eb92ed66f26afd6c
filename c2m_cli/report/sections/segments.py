"""Segments: one card per segment (name, size, value, portrait, action) and the segment × category
heat map (each segment's share of its spend per top category, against everyone's share)."""

from __future__ import annotations

import json
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
    sold_orders,
)

HEAT_CATEGORIES = 8


class Card(TypedDict):
    id: str
    name: str
    size: int
    share: float | None
    value_share: float | None
    avg_clv: float | None
    description: str | None
    action: str | None
    tags: list[str]
    portrait: list[dict[str, Any]]


class HeatMap(TypedDict):
    categories: list[str]
    overall: list[float]
    rows: list[dict[str, Any]]  # {"segment": name, "shares": [..], "index": [..]}


class SegmentsData(TypedDict, total=False):
    missing: str
    currency: str
    cards: list[Card]
    heat: HeatMap | None


def gather(ctx: Context) -> SegmentsData:
    profiles = read_table(ctx, "segment_profiles")
    if profiles is None:
        return {"missing": "segment_profiles"}
    require_columns(profiles, "segment_profiles", ("segment_id", "segment_name", "size"))
    value_share = first_of(profiles, ("value_share", "clv_share"))
    describe = first_of(profiles, ("description", "portrait", "summary"))
    action = first_of(profiles, ("suggested_action", "action", "campaign"))
    tags = first_of(profiles, ("top_tags", "tags"))
    total_size = float(profiles["size"].sum() or 0)
    cards: list[Card] = []
    for row in profiles.sort("size", "segment_id", descending=[True, False]).iter_rows(named=True):
        zs: list[tuple[str, float]] = []
        for feature in as_list(row.get("features")):
            z = as_float(feature.get("z")) if isinstance(feature, dict) else None
            if z is not None and feature.get("feature"):
                zs.append((str(feature["feature"]), z))
        portrait = [{"feature": f, "z": z} for f, z in sorted(zs, key=lambda p: (-abs(p[1]), p[0]))[:5]]
        cards.append(
            {
                "id": str(row["segment_id"]),
                "name": str(row["segment_name"]),
                "size": int(row["size"]),
                "share": as_float(row.get("share")) if "share" in row else (row["size"] / total_size if total_size else None),
                "value_share": as_float(row[value_share]) if value_share else None,
                "avg_clv": as_float(row.get("avg_clv")),
                "description": row[describe] if describe else None,
                "action": row[action] if action else None,
                "tags": _tags(row[tags] if tags else None),
                "portrait": portrait,
            }
        )
    return {"currency": ctx.currency, "cards": cards, "heat": heat_map(ctx, {c["id"]: c["name"] for c in cards})}


def _tags(value: Any) -> list[str]:
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
            value = parsed if isinstance(parsed, list) else [value]
        except json.JSONDecodeError:
            value = [t.strip() for t in value.replace("，", ",").split(",") if t.strip()]
    return [str(t) for t in as_list(value)][:8]


def heat_map(ctx: Context, names: dict[str, str]) -> HeatMap | None:
    """Share of each segment's spend per category (the top categories by spend), and everyone's."""
    segments = scan_table(ctx, "segments")
    orders = scan_table(ctx, "orders")
    products = read_table(ctx, "products")
    if segments is None or orders is None or products is None or "category_l1" not in products.columns:
        return None
    spend = (
        sold_orders(orders)
        .select("user_id", "sku", (pl.col("qty") * pl.col("unit_price")).alias("spend"))
        .join(segments.select("user_id", pl.col("segment_id").cast(pl.String)), on="user_id", how="inner")
        .join(products.lazy().select(pl.col("sku").cast(pl.String), pl.col("category_l1").cast(pl.String)), on="sku", how="inner")
        .group_by("segment_id", "category_l1")
        .agg(pl.col("spend").sum())
        .collect()
    )
    if spend.height == 0:
        return None
    by_category = spend.group_by("category_l1").agg(pl.col("spend").sum()).sort(["spend", "category_l1"], descending=[True, False])
    total = float(by_category["spend"].sum())
    if total <= 0:
        return None
    top = by_category.head(HEAT_CATEGORIES)
    categories = [str(c) for c in top["category_l1"].to_list()]
    overall = [float(v) / total for v in top["spend"].to_list()]
    seg_totals = dict(spend.group_by("segment_id").agg(pl.col("spend").sum()).iter_rows())
    cells = {(s, c): float(v) for s, c, v in spend.iter_rows()}
    rows = []
    for seg_id, name in names.items():
        seg_total = float(seg_totals.get(seg_id) or 0.0)
        if seg_total <= 0:
            continue
        shares = [cells.get((seg_id, c), 0.0) / seg_total for c in categories]
        rows.append({"segment": name, "shares": shares, "index": [s / o if o else None for s, o in zip(shares, overall, strict=True)]})
    return {"categories": categories, "overall": overall, "rows": rows}
