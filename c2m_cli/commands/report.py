"""`c2m report`: parse options, call ``run_report``, say where the page is."""

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

NAME = "report"
HELP = (
    "Write report.html: one self-contained HTML report of the workspace (charts inline, works "
    "offline). Sections whose step has not run say which command to run."
)
EPILOG = "Example: c2m report ./ws --lang zh"


def command(
    workspace: WorkspaceArg,
    lang: Annotated[
        str | None,
        typer.Option("--lang", help="zh or en; default: the language of the data (Chinese data → zh)."),
    ] = None,
    include_ids: Annotated[
        bool,
        typer.Option("--include-ids", help="List user ids of the audiences (left out by default)."),
    ] = False,
    seed: SeedOpt = 0,
    json_output: JsonOpt = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
    strict: StrictOpt = False,
    executor: ExecutorOpt = "local",
) -> None:
    def body() -> dict[str, Any]:
        return call_step(
            "c2m_cli.report:run_report",
            workspace,
            lang=lang,
            include_ids=include_ids,
            seed=seed,
            executor=executor,
        )

    def render(summary: dict[str, Any]) -> None:
        console.info(
            f"wrote {workspace / summary['report']} ({summary['bytes'] / 1024:,.0f} KB, "
            f"{summary['lang']}, {len(summary['sections'])} sections)"
        )
        if summary["missing"]:
            console.info(f"sections waiting for earlier steps: {', '.join(summary['missing'])}")

    run_command(NAME, body, json_output=json_output, quiet=quiet, verbose=verbose, render=render, strict=strict)
