"""Consumers: label coverage, the lifecycle funnel and its flows, and the value (CLV) distribution."""

from __future__ import annotations

from typing import Any, TypedDict

from c2m_cli.report.sections.base import Context, as_float, require_columns, scan_table
from c2m_cli.report.sections.measures import (
    family_coverage,
    stage_counts,
    stage_flows,
    top_share,
    value_histogram,
)

PREV_STAGE = "lifecycle_prev_stage"
# the only label columns read into memory (the coverage is counted by a streaming pass)
CONSUMER_COLUMNS = ("user_id", "lifecycle_stage", PREV_STAGE, "value_clv", "value_clv_p10", "value_clv_p90", "value_p_alive")


class ValueData(TypedDict):
    histogram: list[dict[str, Any]]
    total: float
    median: float | None
    top10_share: float | None
    total_p10: float | None
    total_p90: float | None


class ConsumersData(TypedDict, total=False):
    missing: str
    users: int
    currency: str
    coverage: list[dict[str, Any]]
    stages: list[dict[str, Any]]
    flows: list[dict[str, Any]] | None
    value: ValueData | None


def gather(ctx: Context) -> ConsumersData:
    scan = scan_table(ctx, "labels")
    if scan is None:
        return {"missing": "labels"}
    names = scan.collect_schema().names()
    labels = scan.select(c for c in CONSUMER_COLUMNS if c in names).collect()
    require_columns(labels, "labels", ("user_id", "lifecycle_stage"))
    out: ConsumersData = {
        "users": labels.height,
        "currency": ctx.currency,
        "coverage": family_coverage(scan),
        "stages": stage_counts(labels),
        "flows": stage_flows(labels, PREV_STAGE) if PREV_STAGE in labels.columns else None,
        "value": None,
    }
    if "value_clv" in labels.columns:
        clv = labels["value_clv"]
        out["value"] = {
            "histogram": value_histogram(clv),
            "total": float(clv.sum() or 0.0),
            "median": as_float(clv.median()),
            "top10_share": top_share(clv),
            # per-user intervals do not add up to an interval of the sum; shown as the sums of the bounds
            "total_p10": as_float(labels["value_clv_p10"].sum()) if "value_clv_p10" in labels.columns else None,
            "total_p90": as_float(labels["value_clv_p90"].sum()) if "value_clv_p90" in labels.columns else None,
        }
    return out
