"""`c2m segment`."""

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

NAME = "segment"
HELP = "Group labelled consumers into segments a marketer can act on."
EPILOG = "Example: c2m segment ./ws --k auto"


def command(
    workspace: WorkspaceArg,
    k: Annotated[str, typer.Option("--k", help="Number of segments, or `auto` to choose in 3–12.")] = "auto",
    seed: SeedOpt = 0,
    json_output: JsonOpt = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
    executor: ExecutorOpt = "local",
) -> None:
    def body() -> dict[str, Any]:
        from c2m_cli.segment import run_segment
        from c2m_cli.workspace import Workspace

        ws = Workspace(workspace, create=False)
        return run_segment(ws, k=k, seed=seed, executor=validate_executor(executor), argv=step_argv(workspace))

    run_command(NAME, body, json_output=json_output, quiet=quiet, verbose=verbose)
