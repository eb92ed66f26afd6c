"""Scorecard of `c2m report` on the demo world: the page, its safety and the planted signals it shows."""

from __future__ import annotations

import json
import re
from typing import Any

import polars as pl

from c2m_cli.workspace import Workspace

MAX_BYTES = 5_000_000
UPLIFT_TOLERANCE = 0.3


_SCORECARD_SECTION = re.compile(r'<section id="scorecard".*?</section>', re.S)


def score(ws: Workspace) -> list[dict[str, Any]]:
    path = ws.root / "report.html"
    if not path.is_file():
        return [_row("report written", None, "report.html exists", False, "c2m report has not written report.html")]
    return score_page(ws, path.read_text(encoding="utf-8"))


def score_page(ws: Workspace, page: str) -> list[dict[str, Any]]:
    """The checks of one report page (the report scores the page it is about to write with it).

    The scorecard section itself is left out of the content checks: its details name the planted
    niche, which must be found in the opportunities, not in the scorecard's own words.
    """
    size = len(page.encode("utf-8"))
    page = _SCORECARD_SECTION.sub("", page)
    rows = [
        _row("report size (bytes)", size, f"< {MAX_BYTES:,}", size < MAX_BYTES, "one self-contained file"),
        _row(
            "sections waiting for a step",
            page.count('class="missing"'),
            "0",
            page.count('class="missing"') == 0,
            "every section rendered from the chain's outputs",
        ),
    ]
    users_path = ws.root / "truth" / "users.parquet"
    if users_path.is_file():
        ids = set(pl.read_parquet(users_path, columns=["user_id"])["user_id"].cast(pl.String).to_list())
        tokens = set(re.findall(r"[\w\-.:@]+", page))
        leaked = len(ids & tokens)
        asked = _include_ids(ws)
        rows.append(
            _row(
                "user ids in the report",
                leaked,
                "0 without --include-ids",
                None if asked else leaked == 0,
                "--include-ids was given" if asked else "ids stay out of a page that gets forwarded",
            )
        )
    world_path = ws.root / "truth" / "world.json"
    if world_path.is_file():
        world = json.loads(world_path.read_text(encoding="utf-8"))
        query = (world.get("niche") or {}).get("query")
        if query:
            rows.append(_row("planted niche shown", query in page, "true", query in page, f"niche query {query!r} in the opportunities"))
        rows += _uplift_rows(ws, world)
    return rows


def _uplift_rows(ws: Workspace, world: dict[str, Any]) -> list[dict[str, Any]]:
    from c2m_cli.calendar import festival_calendar
    from c2m_cli.report.sections.measures import daily_units, festival_uplift

    planted = world.get("festival_uplift") or {}
    if not planted or not ws.has("orders"):
        return []
    tz = str(ws.manifest().get("data_timezone") or "UTC")
    # the demo world is a Chinese market
    observed = festival_uplift(daily_units(ws.scan("orders"), tz), festival_calendar("cn"))
    rows = []
    for festival in ("双11", "618"):
        if festival not in planted:
            continue
        values = observed.filter(pl.col("festival") == festival)["uplift"]
        if values.len() == 0:
            rows.append(_row(f"{festival} uplift shown", None, "measured", False, "no full festival window in the data"))
            continue
        mean = float(values.mean())  # type: ignore[arg-type]
        truth = float(planted[festival])
        ok = abs(mean / truth - 1) <= UPLIFT_TOLERANCE
        rows.append(
            _row(
                f"{festival} uplift shown (× vs 4 weeks before)",
                round(mean, 3),
                f"within ±{UPLIFT_TOLERANCE:.0%} of planted ×{truth:.2f}",
                ok,
                "observed daily units during the festival ÷ the four weeks before, local days",
            )
        )
    return rows


def _include_ids(ws: Workspace) -> bool:
    steps = [s for s in ws.manifest().get("steps", []) if s.get("command") == "report"]
    return bool(steps and steps[-1].get("parameters", {}).get("include_ids"))


def _row(check: str, value: Any, target: str, passed: bool | None, detail: str) -> dict[str, Any]:
    return {"check": check, "value": value, "target": target, "passed": passed, "detail": detail}
