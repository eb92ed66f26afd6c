"""Bundles: products bought together (by name), with support, confidence and lift."""

from __future__ import annotations

from typing import TypedDict

from c2m_cli.report.sections.base import (
    Context,
    as_float,
    as_list,
    read_table,
    require_columns,
    sku_name,
)

BUNDLES_SHOWN = 15


class BundleRow(TypedDict):
    antecedent: list[str]
    consequent: list[str]
    support: float | None
    confidence: float | None
    lift: float | None


class BundlesData(TypedDict, total=False):
    missing: str
    rows: list[BundleRow]
    total: int


def gather(ctx: Context) -> BundlesData:
    frame = read_table(ctx, "bundles")
    if frame is None:
        return {"missing": "bundles"}
    require_columns(frame, "bundles", ("antecedent", "consequent", "support", "confidence", "lift"))
    rows: list[BundleRow] = []
    for row in frame.sort(["lift", "support"], descending=True).head(BUNDLES_SHOWN).iter_rows(named=True):
        rows.append(
            {
                "antecedent": [sku_name(ctx, s) or "" for s in as_list(row["antecedent"])],
                "consequent": [sku_name(ctx, s) or "" for s in as_list(row["consequent"])],
                "support": as_float(row["support"]),
                "confidence": as_float(row["confidence"]),
                "lift": as_float(row["lift"]),
            }
        )
    return {"rows": rows, "total": frame.height}
