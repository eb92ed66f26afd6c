"""Quantities: how many to make per product or brief, from one demand distribution (P10/P50/P90)."""

from __future__ import annotations

from typing import TypedDict

from c2m_cli.report.sections.base import MAX_TABLE_ROWS, Context, as_float, read_table, sku_name


class QuantityRow(TypedDict):
    item: str
    brief_id: str | None
    anchor: str | None
    presale_orders: float | None
    p10: float | None
    p50: float | None
    p90: float | None
    recommended_qty: float | None
    service_level: float | None
    fill_rate: float | None
    leftover: float | None
    method: str | None


class QuantitiesData(TypedDict, total=False):
    missing: str
    rows: list[QuantityRow]
    total: int


def gather(ctx: Context) -> QuantitiesData:
    from c2m_cli.report.sections.briefs import anchor

    frame = read_table(ctx, "quantities")
    if frame is None:
        return {"missing": "quantities"}
    briefs = read_table(ctx, "briefs")
    subjects: dict[str, str] = {}
    if briefs is not None and {"brief_id", "subject"} <= set(briefs.columns):
        subjects = {str(b): str(s) for b, s in briefs.select("brief_id", "subject").iter_rows()}
    if "recommended_qty" in frame.columns:
        frame = frame.sort("recommended_qty", descending=True, nulls_last=True)
    rows: list[QuantityRow] = []
    for row in frame.head(MAX_TABLE_ROWS).iter_rows(named=True):
        brief = row.get("brief_id")
        item = sku_name(ctx, row.get("sku")) or subjects.get(str(brief)) or str(brief or "—")
        rows.append(
            {
                "item": item,
                "brief_id": str(brief) if brief is not None else None,
                "anchor": anchor(str(brief)) if brief is not None else None,
                "presale_orders": as_float(row.get("presale_orders")),
                "p10": as_float(row.get("forecast_p10")),
                "p50": as_float(row.get("forecast_p50")),
                "p90": as_float(row.get("forecast_p90")),
                "recommended_qty": as_float(row.get("recommended_qty")),
                "service_level": as_float(row.get("service_level")),
                "fill_rate": as_float(row.get("expected_fill_rate")),
                "leftover": as_float(row.get("expected_leftover")),
                "method": row.get("method"),
            }
        )
    return {"rows": rows, "total": frame.height}



