"""`c2m report`."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from c2m_cli.commands._common import (
    ExecutorOpt,
    JsonOpt,
    QuietOpt,
    SeedOpt,
    VerboseOpt,
    WorkspaceArg,
    run_command,
    step_argv,
    validate_executor,
)

NAME = "report"
HELP = "Write report.html: one self-contained HTML report of the workspace."
EPILOG = "Example: c2m report ./ws --lang zh"


def command(
    workspace: WorkspaceArg,
    lang: Annotated[str | None, typer.Option("--lang", help="zh or en; default: the language of the data.")] = None,
    seed: SeedOpt = 0,
    json_output: JsonOpt = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
    executor: ExecutorOpt = "local",
) -> None:
    def body() -> dict[str, Any]:
        from c2m_cli.report import run_report
        from c2m_cli.workspace import Workspace

        ws = Workspace(workspace, create=False)
        return run_report(ws, lang=lang, seed=seed, executor=validate_executor(executor), argv=step_argv(workspace))

    run_command(NAME, body, json_output=json_output, quiet=quiet, verbose=verbose)
