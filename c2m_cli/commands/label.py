"""`c2m label`."""

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

NAME = "label"
HELP = "Label every consumer: eight label families, lifecycle and customer value."
EPILOG = "Example: c2m label ./ws --as-of 2024-06-30"


def command(
    workspace: WorkspaceArg,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Reference date (YYYY-MM-DD); default: the date of the latest order, inclusive.")] = None,
    seed: SeedOpt = 0,
    json_output: JsonOpt = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
    executor: ExecutorOpt = "local",
) -> None:
    def body() -> dict[str, Any]:
        from c2m_cli.labels import run_label
        from c2m_cli.workspace import Workspace

        ws = Workspace(workspace, create=False)
        return run_label(ws, as_of=as_of, seed=seed, executor=validate_executor(executor), argv=step_argv(workspace))

    run_command(NAME, body, json_output=json_output, quiet=quiet, verbose=verbose)
