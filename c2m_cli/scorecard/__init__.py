"""The demo scorecard: what each step recovered of the planted truth in ``WORKSPACE/truth``.

Each step may contribute ``c2m_cli/scorecard/<step>.py`` with ``score(ws) -> list[dict]``;
every row is ``{"check", "value", "target", "passed", "detail"}``. ``collect`` runs the modules
that exist in chain order and adds, for a step that did not run (not available or failed) or
has no scorecard module yet, one ``passed=False`` row per signal it is meant to recover: a
planted signal that was not recovered is shown as such, never hidden.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from c2m_cli.workspace import Workspace

STEP_ORDER = ("synth", "label", "segment", "forecast", "recommend", "report")

# The planted signals each chain step is expected to recover (see truth/world.json).
SIGNALS: dict[str, tuple[str, ...]] = {
    "label": ("lifecycle stages", "super users", "lifestyle and motive tags"),
    "segment": ("consumer types (segment ARI)",),
    "forecast": ("festival uplift (双11, 618)",),
    "recommend": (
        "niche search gap",
        "micro-demand",
        "price-band portrait",
        "pre-sale quantity",
        "co-purchase bundle",
        "reactivation audience",
    ),
    "report": ("report written",),
}

ROW_KEYS = ("check", "value", "target", "passed", "detail")


def score_modules() -> list[str]:
    """Names of the scorecard modules present, in chain order (unknown steps last, by name)."""
    names = [m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")]
    order = {name: i for i, name in enumerate(STEP_ORDER)}
    return sorted(names, key=lambda n: (order.get(n, len(order)), n))


def _row(step: str, check: str, value: Any, target: str, passed: bool | None, detail: str) -> dict[str, Any]:
    return {"step": step, "check": check, "value": value, "target": target, "passed": passed, "detail": detail}


def _clean(step: str, row: dict[str, Any]) -> dict[str, Any]:
    value = row.get("value")
    if not (value is None or isinstance(value, int | float | str)):
        value = str(value)
    if isinstance(value, float):
        value = round(value, 4)
    passed = row.get("passed")
    return _row(
        step,
        str(row.get("check", "?")),
        value,
        str(row.get("target", "")),
        None if passed is None else bool(passed),
        str(row.get("detail", "")),
    )


def collect(ws: Workspace, steps: dict[str, dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """All scorecard rows for ``ws``; ``steps`` maps a step to {"status", "error"} of this run."""
    steps = steps or {}
    rows: list[dict[str, Any]] = []
    modules = score_modules()
    for step in [*STEP_ORDER, *(m for m in modules if m not in STEP_ORDER)]:
        status = steps.get(step, {}).get("status", "ok")
        if status != "ok":
            reason = steps[step].get("error") or status
            for signal in SIGNALS.get(step, (f"{step} step",)):
                rows.append(_row(step, signal, None, "recovered", False, f"not recovered: c2m {step} {status} ({reason})"))
            continue
        if step not in modules:
            for signal in SIGNALS.get(step, ()):
                rows.append(_row(step, signal, None, "recovered", False, f"not scored: no scorecard for c2m {step} yet"))
            continue
        try:
            module = importlib.import_module(f"c2m_cli.scorecard.{step}")
            produced = list(module.score(ws))
        except Exception as exc:  # a scorecard bug must show in the card, not end the demo
            rows.append(_row(step, f"{step} scorecard", None, "runs", False, f"{type(exc).__name__}: {exc}"))
            continue
        rows.extend(_clean(step, row) for row in produced)
    return rows


def totals(rows: list[dict[str, Any]]) -> dict[str, int]:
    return {
        "passed": sum(1 for r in rows if r["passed"] is True),
        "failed": sum(1 for r in rows if r["passed"] is False),
        "informational": sum(1 for r in rows if r["passed"] is None),
    }
