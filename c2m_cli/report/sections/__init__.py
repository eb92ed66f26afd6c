"""What each section of the report shows, gathered from the workspace into typed dicts.

One module per section, each with ``gather(ctx) -> <Section>Data`` (a ``TypedDict``): it reads
what the earlier steps wrote (through the running ``Step``, so the manifest records the report's
inputs) and returns plain values; a section whose inputs are absent returns
``{"missing": table}`` so the page says which command to run. Measures come from the steps'
outputs (the forecast's history is the backtest's actuals, not recomputed); the few computed here
(label coverage, histograms, festival uplift, trends) are pure functions in ``measures``.
Nothing here holds a user id unless ``include_ids`` asks for it.
"""

from __future__ import annotations

from c2m_cli.report.sections import (
    audiences,
    briefs,
    bundles,
    caveats,
    consumers,
    demand,
    opportunities,
    overview,
    quantities,
    scorecard,
    segments,
    summary,
)
from c2m_cli.report.sections.base import Context
from c2m_cli.report.sections.measures import (
    bin_index,
    daily_units,
    family_coverage,
    festival_uplift,
    period_start,
    price_histogram,
    search_sales_trend,
    stage_counts,
    stage_flows,
    top_share,
    value_histogram,
)
from c2m_cli.report.sections.scorecard import scorecard_rows

__all__ = [
    "Context",
    "audiences",
    "bin_index",
    "briefs",
    "bundles",
    "caveats",
    "consumers",
    "daily_units",
    "demand",
    "family_coverage",
    "festival_uplift",
    "opportunities",
    "overview",
    "period_start",
    "price_histogram",
    "quantities",
    "scorecard",
    "scorecard_rows",
    "search_sales_trend",
    "segments",
    "stage_counts",
    "stage_flows",
    "summary",
    "top_share",
    "value_histogram",
]
