"""`c2m recommend`."""

from __future__ import annotations

from typing import Any

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

NAME = "recommend"
HELP = "Tell a manufacturer what to build, for whom, at which price and how many."
EPILOG = "Example: c2m recommend ./ws"


def command(
    workspace: WorkspaceArg,
    seed: SeedOpt = 0,
    json_output: JsonOpt = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
    executor: ExecutorOpt = "local",
) -> None:
    def body() -> dict[str, Any]:
        from c2m_cli.recommend import run_recommend
        from c2m_cli.workspace import Workspace

        ws = Workspace(workspace, create=False)
        return run_recommend(ws, seed=seed, executor=validate_executor(executor), argv=step_argv(workspace))

    run_command(NAME, body, json_output=json_output, quiet=quiet, verbose=verbose)
