"""`c2m report`: one self-contained HTML page of everything the workspace holds.

``run_report`` gathers each section from whatever the earlier steps wrote (``sections``), picks
the language (Chinese for Chinese data, or ``lang``), renders the page (``html``, ``charts``)
and writes ``report.html`` through the workspace's atomic step. A section whose step has not
run says which command to run. The page holds no user id unless ``include_ids``.
"""

from __future__ import annotations

import time
from typing import Any

import polars as pl

from c2m_cli import __version__
from c2m_cli.errors import UsageError
from c2m_cli.report.i18n import LANGS, detect_language
from c2m_cli.workspace import Workspace

REPORT_NAME = "report.html"
# Where the data's own text is, in the order that decides its language.
LANGUAGE_SOURCES = (
    ("products", "name"),
    ("products", "category_l1"),
    ("reviews", "text"),
    ("events", "query"),
    ("segment_profiles", "segment_name"),
    ("opportunities", "subject"),
)


def data_language(ws: Workspace) -> str:
    """``zh`` when the data's text (product names, categories, reviews…) is Chinese, else ``en``."""
    samples = []
    for table, column in LANGUAGE_SOURCES:
        if not ws.has(table):
            continue
        lazy = pl.scan_parquet(ws.table_path(table))
        if column in lazy.collect_schema().names():
            samples.append(lazy.select(pl.col(column).drop_nulls().head(5000)).collect().to_series())
    return detect_language(samples)


def run_report(
    ws: Workspace,
    *,
    lang: str | None = None,
    include_ids: bool = False,
    seed: int = 0,
    executor: str = "local",
    argv: list[str] | None = None,
    via: str | None = None,
) -> dict[str, Any]:
    """Write ``report.html`` and return a summary: language, sections shown and missing, size."""
    from c2m_cli.report import html, sections

    if lang is not None and lang not in LANGS:
        raise UsageError(f"--lang must be zh or en, got {lang!r}")
    started = time.perf_counter()
    parameters = {"lang": lang, "include_ids": include_ids}
    with ws.step("report", parameters=parameters, seed=seed, argv=argv, via=via) as step:
        found = data_language(ws)
        chosen = lang or found
        ctx = sections.Context(
            ws=ws,
            step=step,
            lang=chosen,
            data_lang=found,
            timezone=str(ws.manifest().get("data_timezone") or "UTC"),
            include_ids=include_ids,
        )
        gathered: dict[str, Any] = {
            "overview": sections.gather_overview(ctx),
            "consumers": sections.gather_consumers(ctx),
            "segments": sections.gather_segments(ctx),
            "demand": sections.gather_demand(ctx),
            "opportunities": sections.gather_opportunities(ctx),
            "quantities": sections.gather_quantities(ctx),
            "audiences": sections.gather_audiences(ctx),
            "bundles": sections.gather_bundles(ctx),
        }
        scorecard = sections.gather_scorecard(ctx)
        if scorecard is not None:
            gathered["scorecard"] = scorecard
        page = html.render(gathered, lang=chosen, workspace_name=ws.root.name, generated=f"c2m {__version__}")
        step.write_text(REPORT_NAME, page)
        summary = {
            "report": REPORT_NAME,
            "lang": chosen,
            "data_lang": found,
            "sections": list(gathered),
            "missing": sorted(name for name, data in gathered.items() if "missing" in data),
            "bytes": len(page.encode("utf-8")),
            "include_ids": include_ids,
            "render_s": round(time.perf_counter() - started, 3),
        }
        step.summary.update(summary)
    return summary
