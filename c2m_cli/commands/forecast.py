"""`c2m forecast`."""

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

NAME = "forecast"
HELP = "Forecast demand per level with festivals, backtests and intervals."
EPILOG = "Example: c2m forecast ./ws --horizon 8 --freq W --levels total,category_l1"


def command(
    workspace: WorkspaceArg,
    horizon: Annotated[int, typer.Option("--horizon", help="Periods of --freq to forecast.")] = 8,
    freq: Annotated[str, typer.Option("--freq", help="D, W or M.")] = "W",
    levels: Annotated[str, typer.Option("--levels", help="Comma-separated levels.")] = "total,category_l1,sku",
    seed: SeedOpt = 0,
    json_output: JsonOpt = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
    executor: ExecutorOpt = "local",
) -> None:
    def body() -> dict[str, Any]:
        from c2m_cli.forecast import run_forecast
        from c2m_cli.workspace import Workspace

        ws = Workspace(workspace, create=False)
        return run_forecast(ws, horizon=horizon, freq=freq, levels=levels, seed=seed, executor=validate_executor(executor), argv=step_argv(workspace))

    run_command(NAME, body, json_output=json_output, quiet=quiet, verbose=verbose)
