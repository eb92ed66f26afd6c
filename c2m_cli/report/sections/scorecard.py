"""The demo's planted-truth scorecard, counted exactly as `c2m demo` counts it (its `totals`):
the report's own checks are scored on the page being written, so page and terminal agree."""

from __future__ import annotations

import json
from typing import Any, TypedDict

from c2m_cli.errors import InvalidDataError
from c2m_cli.report.sections.base import Context
from c2m_cli.workspace import Workspace


class ScorecardData(TypedDict):
    rows: list[dict[str, Any]]
    passed: int
    failed: int
    informational: int


def gather(ctx: Context) -> list[dict[str, Any]] | None:
    """The scorecard rows of every step but the report (None when the workspace is not a demo)."""
    path = ctx.ws.root / "demo_scorecard.json"
    if not path.is_file():
        if not (ctx.ws.root / "truth" / "world.json").is_file():
            return None
        rows = live_scorecard(ctx.ws)
    else:
        ctx.step.note_input_file(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise InvalidDataError(f"{path}: not valid JSON ({exc})") from exc
        rows = scorecard_rows(data)
    return [row for row in rows if row.get("step") != "report"]


def complete(ws: Workspace, rows: list[dict[str, Any]], page: str) -> ScorecardData:
    """``rows`` plus the report's own checks scored on ``page``, with the demo's totals."""
    from c2m_cli import scorecard
    from c2m_cli.scorecard import report as report_card

    own = [{"step": "report", **row} for row in report_card.score_page(ws, page)]
    every = [*rows, *own]
    counts = scorecard.totals(every)
    return {"rows": every, "passed": counts["passed"], "failed": counts["failed"], "informational": counts["informational"]}


def live_scorecard(ws: Workspace) -> list[dict[str, Any]]:
    """Score a demo world now (before `c2m demo` writes its scorecard), steps taken from the manifest."""
    from c2m_cli import scorecard

    ran = {s.get("command") for s in ws.manifest().get("steps", [])}
    statuses = {
        step: {"status": "ok" if step in ran or step == "synth" else "not run", "error": None}
        for step in scorecard.STEP_ORDER
    }
    return [row for row in scorecard.collect(ws, statuses) if row["step"] != "report"]


def scorecard_rows(data: Any) -> list[dict[str, Any]]:
    """Flatten a scorecard (a list of checks, ``{"checks": [...]}`` or ``{step: [...]}``)."""
    if isinstance(data, dict) and isinstance(data.get("checks"), list):
        data = data["checks"]
    if isinstance(data, dict):
        items = []
        for step, checks in sorted(data.items()):
            if isinstance(checks, list):
                items += [{"step": step, **c} for c in checks if isinstance(c, dict)]
        data = items
    if not isinstance(data, list):
        return []
    keys = ("step", "check", "value", "target", "passed", "detail")
    return [{k: c.get(k) for k in keys} for c in data if isinstance(c, dict)]
