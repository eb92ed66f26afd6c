"""`c2m export`: parse options, call ``run_export``, list what was written."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from c2m_cli import console
from c2m_cli.commands._common import (
    JsonOpt,
    QuietOpt,
    StrictOpt,
    VerboseOpt,
    WorkspaceArg,
    run_command,
)

NAME = "export"
HELP = (
    "Write the tables a category manager works with — opportunities, briefs, quantities, audiences, "
    "segment profiles, forecasts (local period dates), bundles — as one Excel workbook or a folder "
    "of CSV files (UTF-8 with BOM). Names beside ids, list columns flattened, Chinese headers for "
    "Chinese data; every text cell is formula-safe (= + - @ prefixed with an apostrophe)."
)
EPILOG = "Example: c2m export ./ws --format xlsx --out c2m.xlsx"


def command(
    workspace: WorkspaceArg,
    fmt: Annotated[
        str, typer.Option("--format", help="xlsx (one workbook, a sheet per table) or csv (a folder, a file per table).")
    ] = "xlsx",
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Where to write (default: WORKSPACE/c2m_export.xlsx or WORKSPACE/c2m_export/).", show_default=False),
    ] = None,
    json_output: JsonOpt = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
    strict: StrictOpt = False,
) -> None:
    def body() -> dict[str, Any]:
        from c2m_cli.export import run_export
        from c2m_cli.workspace import Workspace

        summary = run_export(Workspace(workspace, create=False), fmt=fmt, out=out)
        summary["warnings"] = []
        return summary

    def render(summary: dict[str, Any]) -> None:
        console.table(
            f"c2m export → {summary['out']}",
            ["sheet", "table", "rows", "columns"],
            [(s["sheet"], s["table"], f"{s['rows']:,}", s["columns"]) for s in summary["sheets"]],
        )

    run_command(NAME, body, json_output=json_output, quiet=quiet, verbose=verbose, render=render, strict=strict)
