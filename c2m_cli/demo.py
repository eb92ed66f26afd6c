"""`c2m demo`: generate a synthetic world, run every chain step that exists, score recovery.

Each chain step runs through its library entry point with ``via="demo"`` (so the manifest
marks it); a step whose module does not exist yet is listed as not available, a step that
fails is reported with its error and the demo goes on with the steps that can still run. The
demo itself is recorded last, with its command line, so `c2m verify` replays it whole.
"""

from __future__ import annotations

import importlib
import time
from typing import Any

from c2m_cli import progress, scorecard
from c2m_cli.errors import EXIT_UNEXPECTED, C2MError, UsageError
from c2m_cli.synth import generate_world
from c2m_cli.workspace import Workspace

CHAIN: tuple[tuple[str, str, str], ...] = (
    ("label", "c2m_cli.labels", "run_label"),
    ("segment", "c2m_cli.segment", "run_segment"),
    ("forecast", "c2m_cli.forecast", "run_forecast"),
    ("recommend", "c2m_cli.recommend", "run_recommend"),
    ("report", "c2m_cli.report", "run_report"),
)
SCORECARD = "demo_scorecard.json"


class DemoStepFailed(C2MError):
    """A chain step failed inside the demo: the demo exits with that step's code."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def refuse_foreign_workspace(ws: Workspace) -> None:
    """Exit 2 unless the workspace is empty or holds only what earlier demos wrote.

    Anything else (an ingested shop, a step run by hand, a stray file) would be overwritten by
    synthetic tables, so the demo refuses before touching it.
    """
    entries = ws.manifest().get("steps", []) if ws.manifest_path.exists() else []
    foreign = [e.get("command") for e in entries if e.get("via") != "demo" and e.get("command") != "demo"]
    if foreign:
        raise UsageError(
            f"workspace {ws.root} holds the results of c2m {foreign[0]}, not of an earlier demo: "
            "c2m demo would overwrite them; give it a new or empty directory"
        )
    recorded = {"manifest.json"} | {o.get("path") for e in entries for o in e.get("outputs", [])}
    for path in sorted(ws.root.rglob("*")):
        rel = path.relative_to(ws.root).as_posix()
        if path.is_dir() or rel.startswith(".") or rel in recorded:
            continue
        raise UsageError(
            f"workspace {ws.root} holds {rel}, which no earlier demo wrote: "
            "c2m demo would overwrite the workspace; give it a new or empty directory"
        )


def _entry_point(module_name: str, function: str) -> Any | None:
    """The step's run function, or None when its module or function does not exist yet."""
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            return None
        raise
    return getattr(module, function, None)


def run_demo(
    ws: Workspace,
    *,
    users: int = 20000,
    seed: int = 0,
    executor: str = "local",
    argv: list[str] | None = None,
) -> dict[str, Any]:
    """Generate, run the chain, write ``demo_scorecard.json``; return the summary with timings.

    Refuses (exit 2) a workspace that holds anything but an earlier demo, before touching it; a
    chain step that fails still lets the others run and the scorecard be written, and then the
    demo fails with that step's exit code and message.
    """
    refuse_foreign_workspace(ws)
    timings: dict[str, float] = {}
    first_failure: tuple[str, int, str] | None = None
    statuses: dict[str, dict[str, Any]] = {}
    began = time.perf_counter()
    with progress.task("demo: synthetic world"):
        world = generate_world(ws, users=users, seed=seed, via="demo")
    timings["synth"] = round(time.perf_counter() - began, 2)
    statuses["synth"] = {"status": "ok", "error": None}
    for name, module_name, function in CHAIN:
        started = time.perf_counter()
        try:
            run = _entry_point(module_name, function)
        except Exception as exc:  # the module exists but cannot be imported: a failure
            statuses[name] = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}
            continue
        if run is None:
            statuses[name] = {"status": "not available", "error": None}
            continue
        try:
            with progress.task(f"demo: {name}"):
                run(ws, seed=seed, executor=executor, via="demo")
            statuses[name] = {"status": "ok", "error": None}
        except C2MError as exc:
            statuses[name] = {"status": "failed", "error": exc.message}
            first_failure = first_failure or (name, exc.exit_code, exc.message)
        except Exception as exc:  # a bug in a step must not hide the others' results
            statuses[name] = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}
            first_failure = first_failure or (name, EXIT_UNEXPECTED, f"{type(exc).__name__}: {exc}")
        timings[name] = round(time.perf_counter() - started, 2)
    for name, _module, _function in CHAIN:  # a step that could not even be imported
        if first_failure is None and statuses[name]["status"] != "ok":
            first_failure = (name, EXIT_UNEXPECTED, str(statuses[name]["error"] or statuses[name]["status"]))
    rows = scorecard.collect(ws, statuses)
    counts = scorecard.totals(rows)
    card = {
        "users": users,
        "seed": seed,
        "steps": [{"step": s, **statuses[s]} for s in ("synth", *(c[0] for c in CHAIN))],
        "checks": rows,
        **counts,
    }
    parameters = {"users": users, "executor": executor}
    with ws.step("demo", parameters=parameters, seed=seed, argv=argv) as step:
        step.write_json(SCORECARD, card)
    timings["total"] = round(time.perf_counter() - began, 2)
    if first_failure is not None:
        step_name, code, message = first_failure
        raise DemoStepFailed(
            f"c2m demo: step {step_name} failed: {message} (scorecard written to {ws.root / SCORECARD})",
            code,
        )
    return {
        "workspace": str(ws.root),
        "users": users,
        "rows": world["rows"],
        "steps": card["steps"],
        "checks": rows,
        **counts,
        "seconds": timings,
        "scorecard": str(ws.root / SCORECARD),
    }
