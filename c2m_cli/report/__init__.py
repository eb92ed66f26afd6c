"""`c2m report`: one self-contained HTML page that answers the C2M question for a category manager.

``run_report`` gathers each section from whatever the earlier steps wrote (``sections``: one
module per section, each returning a typed dict), picks the language (Chinese for Chinese data,
or ``lang``) and the market's units and calendar, renders the page (``html``, ``charts``) and
writes ``report.html`` through the workspace's atomic step. A section whose step has not run says
which command to run. The page holds no user id unless ``include_ids``, and no workspace path.
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
    from c2m_cli import progress
    from c2m_cli.market import workspace_market
    from c2m_cli.report import html, sections

    if lang is not None and lang not in LANGS:
        raise UsageError(f"--lang must be zh or en, got {lang!r}")
    started = time.perf_counter()
    parameters = {"lang": lang, "include_ids": include_ids}
    with ws.step("report", parameters=parameters, seed=seed, argv=argv, via=via) as step:
        found = data_language(ws)
        chosen = lang or found
        manifest = ws.manifest()
        ctx = sections.Context(
            ws=ws,
            step=step,
            lang=chosen,
            data_lang=found,
            timezone=str(manifest.get("data_timezone") or "UTC"),
            include_ids=include_ids,
            market=workspace_market(manifest),
        )
        gatherers = (
            ("overview", sections.overview.gather),
            ("consumers", sections.consumers.gather),
            ("segments", sections.segments.gather),
            ("demand", sections.demand.gather),
            ("opportunities", sections.opportunities.gather),
            ("briefs", sections.briefs.gather),
            ("quantities", sections.quantities.gather),
            ("audiences", sections.audiences.gather),
            ("bundles", sections.bundles.gather),
            ("caveats", sections.caveats.gather),
        )
        gathered: dict[str, Any] = {}
        with progress.task("report: reading the workspace", total=len(gatherers) + 1) as advance:
            for name, gather in gatherers:
                gathered[name] = gather(ctx)
                advance(1)
            gathered["summary"] = sections.summary.gather(gathered["overview"], gathered["briefs"], gathered["opportunities"])
            gathered["caveats"]["rejected"] = sum(r["rows"] for r in gathered["overview"]["rejects"])
            score_rows = sections.scorecard.gather(ctx)
            generated = f"c2m {__version__}"
            page = html.render(gathered, lang=chosen, generated=generated)
            if score_rows is not None:
                # the report's own checks are scored on the page without them, then shown on it
                gathered["scorecard"] = sections.scorecard.complete(ws, score_rows, page)
                page = html.render(gathered, lang=chosen, generated=generated)
            advance(1)
        step.write_text(REPORT_NAME, page)
        summary = {
            "report": REPORT_NAME,
            "lang": chosen,
            "data_lang": found,
            "market": ctx.market,
            "sections": [name for name in html.SECTION_ORDER if name in gathered],
            "missing": sorted(name for name, data in gathered.items() if isinstance(data, dict) and "missing" in data),
            "bytes": len(page.encode("utf-8")),
            "include_ids": include_ids,
            "render_s": round(time.perf_counter() - started, 3),
        }
        step.summary.update(summary)
    return summary
