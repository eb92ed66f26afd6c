"""`c2m demo`."""

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

NAME = "demo"
HELP = "Generate a synthetic C2M world with planted truth, run every step on it, score recovery."
EPILOG = "Example: c2m demo ./demo-workspace --users 20000 --seed 0"


def command(
    workspace: WorkspaceArg,
    users: Annotated[int, typer.Option("--users", help="Number of synthetic consumers.")] = 20000,
    seed: SeedOpt = 0,
    json_output: JsonOpt = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
    executor: ExecutorOpt = "local",
) -> None:
    def body() -> dict[str, Any]:
        from c2m_cli.demo import run_demo
        from c2m_cli.workspace import Workspace

        ws = Workspace(workspace)
        return run_demo(ws, users=users, seed=seed, executor=validate_executor(executor), argv=step_argv(workspace))

    run_command(NAME, body, json_output=json_output, quiet=quiet, verbose=verbose)
