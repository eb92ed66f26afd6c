"""`c2m inspect`: what a workspace holds, printed on stdout (it is the command's result).

On a terminal the tables are drawn by rich; piped or redirected they are plain aligned text
(a table too wide for the width is shown one block per row), or CSV / JSON with ``--format``.
Values from the data are stripped of control characters.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from c2m_cli import console
from c2m_cli.commands._common import (
    JsonOpt,
    QuietOpt,
    SeedOpt,
    StrictOpt,
    VerboseOpt,
    WorkspaceArg,
    run_command,
)
from c2m_cli.errors import UsageError

NAME = "inspect"
HELP = (
    "Show a workspace's tables, row counts and steps, or one table's schema and first rows, on "
    "stdout: rich tables on a terminal, plain aligned text when piped (rows too wide for the "
    "terminal one block per row), or --format csv / json."
)
EPILOG = "Example: c2m inspect ./ws orders --rows 10 --format csv > orders_head.csv"


def command(
    workspace: WorkspaceArg,
    table: Annotated[str | None, typer.Argument(help="Table to show, e.g. orders or _rejects/orders.")] = None,
    rows: Annotated[int, typer.Option("--rows", min=0, help="Rows to show for a table.")] = 5,
    fmt: Annotated[str, typer.Option("--format", help="table (rich on a terminal, plain text otherwise), csv or json.")] = "table",
    vertical: Annotated[bool, typer.Option("--vertical", help="One block per row (column | value), however wide the terminal.")] = False,
    seed: SeedOpt = 0,
    json_output: JsonOpt = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
    strict: StrictOpt = False,
) -> None:
    from c2m_cli.inspection import FORMATS

    if fmt not in FORMATS:
        raise UsageError(f"--format must be table, csv or json, got {fmt!r}")

    def body() -> dict[str, Any]:
        from c2m_cli.inspection import describe_table, describe_workspace
        from c2m_cli.workspace import Workspace

        ws = Workspace(workspace, create=False)
        if table is None:
            return describe_workspace(ws)
        return describe_table(ws, table, rows=rows)

    def render(summary: dict[str, Any]) -> None:
        from c2m_cli.inspection import csv_text, plain_table, text_tables, vertical_table

        tables = text_tables(summary)
        if fmt == "csv":
            console.result(csv_text(tables[-1]))
        elif console.stdout_is_terminal() and not vertical:
            for item in tables:
                console.result_table(item.title, item.columns, item.rows)
        else:
            width = console.stdout_width()
            console.result("\n".join(vertical_table(t) if vertical else plain_table(t, width) for t in tables))

    as_json = json_output or fmt == "json"
    run_command(NAME, body, json_output=as_json, quiet=quiet, verbose=verbose, render=None if as_json else render, strict=strict)
