"""Caveats: every warning the run's steps recorded in manifest.json, and rows the data lost."""

from __future__ import annotations

from typing import Any, TypedDict

from c2m_cli.report.sections.base import Context

CHAIN = ("synth", "ingest", "label", "segment", "forecast", "recommend", "demo")


class Caveat(TypedDict):
    step: str
    code: str
    message: str


class CaveatsData(TypedDict):
    warnings: list[Caveat]
    steps_checked: list[str]


def latest_entries(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """The latest manifest entry of each command (earlier ones were superseded), in chain order."""
    latest: dict[str, dict[str, Any]] = {}
    for entry in manifest.get("steps", []):
        command = str(entry.get("command"))
        if command != "report":
            latest[command] = entry
    order = {name: i for i, name in enumerate(CHAIN)}
    return [latest[c] for c in sorted(latest, key=lambda c: (order.get(c, len(order)), c))]


def gather(ctx: Context) -> CaveatsData:
    warnings: list[Caveat] = []
    seen: set[tuple[str, str]] = set()
    entries = latest_entries(ctx.ws.manifest())
    for entry in entries:
        for item in entry.get("warnings") or []:
            if not isinstance(item, dict):
                continue
            code, message = str(item.get("code") or "warning"), str(item.get("message") or "")
            if (code, message) in seen:  # a demo entry repeats its steps' warnings
                continue
            seen.add((code, message))
            warnings.append({"step": str(entry.get("command")), "code": code, "message": message})
    return {"warnings": warnings, "steps_checked": [str(e.get("command")) for e in entries]}
