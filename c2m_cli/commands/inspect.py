"""`c2m inspect`: what a workspace holds."""

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
    run_command,
)

NAME = "inspect"
HELP = "Show a workspace's tables, row counts and steps, or one table's schema and first rows."
EPILOG = "Example: c2m inspect ./ws orders --rows 10"


def command(
    workspace: WorkspaceArg,
    table: Annotated[str | None, typer.Argument(help="Table to show, e.g. orders or _rejects/orders.")] = None,
    rows: Annotated[int, typer.Option("--rows", help="Rows to show for a table.")] = 5,
    seed: SeedOpt = 0,
    json_output: JsonOpt = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
    strict: StrictOpt = False,
    executor: ExecutorOpt = "local",
) -> None:
    def body() -> dict[str, Any]:
        from c2m_cli.inspection import describe_table, describe_workspace
        from c2m_cli.workspace import Workspace

        ws = Workspace(workspace, create=False)
        if table is None:
            return describe_workspace(ws)
        return describe_table(ws, table, rows=rows)

    def render(summary: dict[str, Any]) -> None:
        if "tables" in summary:
            console.table(
                f"workspace {summary['workspace']}",
                ["table", "rows", "columns"],
                [(t["table"], f"{t['rows']:,}", t["columns"]) for t in summary["tables"]],
            )
            if summary["rejects"]:
                console.table(
                    "rejected rows",
                    ["table", "rows"],
                    [(r["table"], f"{r['rows']:,}") for r in summary["rejects"]],
                )
            return
        console.table(
            f"{summary['table']}: {summary['rows']:,} rows",
            ["column", "type"],
            list(summary["schema"].items()),
        )
        head = summary["head"]
        if head:
            columns = list(head[0].keys())
            console.table("first rows", columns, [[row[c] for c in columns] for row in head])

    run_command(NAME, body, json_output=json_output, quiet=quiet, verbose=verbose, render=render, strict=strict)
