"""Product briefs: per top need what to build, for whom, at which price, how many and when — read
from briefs.parquet (names in place of ids), with the quantity recommended for it."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypedDict

import polars as pl

from c2m_cli.report.sections.base import (
    Context,
    as_float,
    as_list,
    first_of,
    read_table,
    segment_lookup,
    sku_name,
)
from c2m_cli.report.sections.evidence import plain

BRIEFS_SHOWN = 10


class Brief(TypedDict):
    id: str
    anchor: str
    rank: int | None
    kind: str | None
    category: str | None
    product: str | None
    subject: str
    variants: list[str]
    evidence: str
    segment: str | None
    segment_size: int | None
    segment_share: float | None
    portrait: str | None
    price_band: str | None
    attributes: list[str]
    micro_demands: list[str]
    demand_p10: float | None
    demand_p50: float | None
    demand_p90: float | None
    quantity: float | None
    service_level: float | None
    launch_window: str | None
    presale_plan: str | None
    markdown: str | None


class BriefsData(TypedDict, total=False):
    missing: str
    rows: list[Brief]
    total: int
    currency: str


def anchor(brief_id: str) -> str:
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in brief_id)
    return f"brief-{safe}"


def gather(ctx: Context) -> BriefsData:
    briefs = read_table(ctx, "briefs")
    folder = ctx.ws.root / "briefs"
    if briefs is None:
        if not folder.is_dir():
            return {"missing": "briefs"}
        rows = [_markdown_only(ctx, path) for path in sorted(folder.glob("*.md"))[:BRIEFS_SHOWN]]
        return {"rows": rows, "total": len(rows), "currency": ctx.currency}
    opportunities = read_table(ctx, "opportunities")
    by_opportunity: dict[str, dict[str, Any]] = {}
    if opportunities is not None and "opportunity_id" in opportunities.columns:
        by_opportunity = {str(r["opportunity_id"]): r for r in opportunities.iter_rows(named=True)}
    quantities = read_table(ctx, "quantities")
    by_brief: dict[str, dict[str, Any]] = {}
    if quantities is not None and "brief_id" in quantities.columns:
        by_brief = {str(r["brief_id"]): r for r in quantities.filter(pl.col("brief_id").is_not_null()).iter_rows(named=True)}
    segments = segment_lookup(ctx)
    ordered = briefs.with_columns(
        pl.col("opportunity_id").cast(pl.String).replace_strict(
            {k: v.get("rank") for k, v in by_opportunity.items()}, default=None, return_dtype=pl.Int64
        ).alias("_rank")
    ).sort("_rank", "brief_id", nulls_last=True)
    out: list[Brief] = []
    for row in ordered.head(BRIEFS_SHOWN).iter_rows(named=True):
        brief_id = str(row["brief_id"])
        opportunity = by_opportunity.get(str(row.get("opportunity_id")), {})
        seg_id = row.get("segment_id") if row.get("segment_id") is not None else opportunity.get("segment_id")
        segment = segments.get(str(seg_id)) if seg_id is not None else None
        seg_name = row.get("segment_name") or (segment["name"] if segment else None)
        quantity = by_brief.get(brief_id, {})
        variants = as_list(row.get("variants")) or as_list(opportunity.get("variants"))
        demand = {q: as_float(row.get(f"demand_{q}")) for q in ("p10", "p50", "p90")}
        if demand["p50"] is None and quantity:
            demand = {q: as_float(quantity.get(f"forecast_{q}")) for q in ("p10", "p50", "p90")}
        price = first_of(list(row), ("price_band", "price"))
        out.append(
            {
                "id": brief_id,
                "anchor": anchor(brief_id),
                "rank": opportunity.get("rank"),
                "kind": row.get("kind") or opportunity.get("kind"),
                "category": row.get("category"),
                "product": sku_name(ctx, row.get("sku")),
                "subject": str(row.get("subject") or opportunity.get("subject") or brief_id),
                "variants": [str(v) for v in variants],
                "evidence": plain(opportunity.get("evidence"), ctx.lang),
                "segment": str(seg_name) if seg_name is not None else None,
                "segment_size": row.get("segment_size") or (segment["size"] if segment else None),
                "segment_share": as_float(row.get("segment_share")) if row.get("segment_share") is not None else (segment["share"] if segment else None),
                "portrait": row.get("portrait"),
                "price_band": str(row[price]) if price and row[price] is not None else None,
                "attributes": [str(a) for a in as_list(row.get("attributes"))],
                "micro_demands": [str(m) for m in as_list(row.get("micro_demands"))],
                "demand_p10": demand["p10"],
                "demand_p50": demand["p50"],
                "demand_p90": demand["p90"],
                "quantity": as_float(quantity.get("recommended_qty")),
                "service_level": as_float(quantity.get("service_level")),
                "launch_window": row.get("launch_window"),
                "presale_plan": plain(row.get("presale_plan"), ctx.lang) or None,
                "markdown": None,
            }
        )
    return {"rows": out, "total": briefs.height, "currency": ctx.currency}


def _markdown_only(ctx: Context, path: Path) -> Brief:
    ctx.step.note_input_file(path)
    return {
        "id": path.stem, "anchor": anchor(path.stem), "rank": None, "kind": None, "category": None, "product": None,
        "subject": path.stem, "variants": [], "evidence": "", "segment": None, "segment_size": None,
        "segment_share": None, "portrait": None, "price_band": None, "attributes": [], "micro_demands": [],
        "demand_p10": None, "demand_p50": None, "demand_p90": None, "quantity": None, "service_level": None,
        "launch_window": None, "presale_plan": None,
        "markdown": path.read_text(encoding="utf-8", errors="replace"),
    }
