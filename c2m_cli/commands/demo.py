"""`c2m demo`."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from c2m_cli import console
from c2m_cli.commands._common import (
    ExecutorOpt,
    JsonOpt,
    QuietOpt,
    SeedOpt,
    StrictOpt,
    VerboseOpt,
    WorkspaceArg,
    call_step,
    run_command,
)
from c2m_cli.errors import UsageError

NAME = "demo"
HELP = (
    "Generate a synthetic C2M world with planted truth (WORKSPACE/truth/), run every step on it "
    "and score what was recovered (WORKSPACE/demo_scorecard.json)."
)
EPILOG = "Example: c2m demo ./demo-workspace --users 20000 --seed 0"

_MARK = {True: "yes", False: "NO", None: "-"}


def command(
    workspace: WorkspaceArg,
    users: Annotated[
        int, typer.Option("--users", help="Number of synthetic consumers (at least 100).", show_default=True)
    ] = 20000,
    seed: SeedOpt = 0,
    json_output: JsonOpt = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
    strict: StrictOpt = False,
    executor: ExecutorOpt = "local",
) -> None:
    def body() -> dict[str, Any]:
        if users < 100:
            raise UsageError(f"--users must be at least 100, got {users}")
        return call_step(
            "c2m_cli.demo:run_demo", workspace, create=True, users=users, seed=seed, executor=executor
        )

    def render(summary: dict[str, Any]) -> None:
        seconds = summary["seconds"]
        console.table(
            f"c2m demo: {summary['users']:,} users in {seconds['total']:.1f} s",
            ["step", "status", "seconds", "error"],
            [
                (s["step"], s["status"], seconds.get(s["step"], ""), s["error"] or "")
                for s in summary["steps"]
            ],
        )
        console.table(
            "scorecard: planted truth recovered?",
            # the detail of each check is in demo_scorecard.json and the report
            ["step", "check", "value", "target", "recovered"],
            [
                (r["step"], r["check"], r["value"], r["target"], _MARK[r["passed"]])
                for r in summary["checks"]
            ],
        )
        console.info(
            f"{summary['passed']} recovered, {summary['failed']} not recovered; "
            f"scorecard written to {summary['scorecard']}"
        )

    run_command(NAME, body, json_output=json_output, quiet=quiet, verbose=verbose, render=render, strict=strict)
