"""`c2m verify`: replay the recorded steps and compare output hashes (exit 5 on mismatch)."""

from __future__ import annotations

from pathlib import Path
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
    call_step,
    run_command,
)

NAME = "verify"
HELP = (
    "Replay the latest recorded entry of each step (WORKSPACE/manifest.json, in chain order) into "
    "a scratch directory and compare every recorded output's SHA-256 with the workspace and the "
    "replay. Exit 5 naming the file and why when anything is missing or differs."
)
EPILOG = "Example: c2m verify ./demo-workspace --keep"


def command(
    workspace: WorkspaceArg,
    scratch: Annotated[
        Path | None, typer.Option("--scratch", help="Replay into SCRATCH/workspace (must be empty) instead of a temp directory.")
    ] = None,
    keep: Annotated[bool, typer.Option("--keep", help="Keep the scratch directory.")] = False,
    seed: SeedOpt = 0,
    json_output: JsonOpt = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
    strict: StrictOpt = False,
) -> None:
    def body() -> dict[str, Any]:
        return call_step(
            "c2m_cli.verify:run_verify", workspace, scratch=scratch, keep=keep, seed=seed, executor="local"
        )

    def render(summary: dict[str, Any]) -> None:
        console.info(
            f"reproduced: {summary['steps_replayed']} steps replayed, "
            f"{summary['files_compared']} files identical"
        )

    run_command(NAME, body, json_output=json_output, quiet=quiet, verbose=verbose, render=render, strict=strict)
