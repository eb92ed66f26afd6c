"""The first screen: the answer to the C2M question — the top needs, each with what to build, for
whom, at which price, how many and when, linking to its brief — and the size of the business."""

from __future__ import annotations

from typing import TypedDict

from c2m_cli.report.sections.briefs import Brief, BriefsData
from c2m_cli.report.sections.opportunities import OpportunitiesData
from c2m_cli.report.sections.overview import OverviewData

TOP_NEEDS = 5


class Need(TypedDict):
    rank: int | None
    subject: str
    kind: str | None
    category: str | None
    variants: list[str]
    attributes: list[str]
    micro_demands: list[str]
    segment: str | None
    segment_size: int | None
    price_band: str | None
    demand_p10: float | None
    demand_p50: float | None
    demand_p90: float | None
    quantity: float | None
    launch_window: str | None
    anchor: str | None


class SummaryData(TypedDict, total=False):
    missing: str
    currency: str
    first: str | None
    last: str | None
    users: int | None
    revenue: float | None
    needs: list[Need]
    from_briefs: bool


def _need(brief: Brief) -> Need:
    return {
        "rank": brief["rank"],
        "subject": brief["subject"],
        "kind": brief["kind"],
        "category": brief["category"],
        "variants": brief["variants"],
        "attributes": brief["attributes"],
        "micro_demands": brief["micro_demands"],
        "segment": brief["segment"],
        "segment_size": brief["segment_size"],
        "price_band": brief["price_band"],
        "demand_p10": brief["demand_p10"],
        "demand_p50": brief["demand_p50"],
        "demand_p90": brief["demand_p90"],
        "quantity": brief["quantity"],
        "launch_window": brief["launch_window"],
        "anchor": brief["anchor"],
    }


def gather(overview: OverviewData, briefs: BriefsData, opportunities: OpportunitiesData) -> SummaryData:
    """Built from what the other sections gathered (no table is read twice)."""
    out: SummaryData = {
        "currency": overview.get("currency", ""),
        "first": overview.get("first"),
        "last": overview.get("last"),
        "users": overview.get("users"),
        "revenue": overview.get("revenue"),
    }
    if briefs.get("rows"):
        out["needs"] = [_need(b) for b in briefs["rows"][:TOP_NEEDS]]
        out["from_briefs"] = True
    elif opportunities.get("rows"):
        out["needs"] = [
            {
                "rank": o["rank"], "subject": o["subject"], "kind": o["kind"], "category": o["category"],
                "variants": o.get("variants", []), "attributes": [], "micro_demands": [],
                "segment": o.get("segment"), "segment_size": None,
                "price_band": None, "demand_p10": None, "demand_p50": None, "demand_p90": None,
                "quantity": None, "launch_window": None, "anchor": None,
            }
            for o in opportunities["rows"][:TOP_NEEDS]
        ]
        out["from_briefs"] = False
    else:
        out["missing"] = "opportunities"
    return out
