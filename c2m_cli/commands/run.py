"""`c2m run`: run the chain from a pipeline TOML file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from c2m_cli import console
from c2m_cli.commands._common import JsonOpt, QuietOpt, StrictOpt, VerboseOpt, run_command
from c2m_cli.errors import C2MError

NAME = "run"
HELP = (
    "Run c2m steps listed in a pipeline TOML file: a top-level `workspace`, an optional `seed`, "
    "and one `steps` table per step, each with `command` and that command's options."
)
EPILOG = (
    "Example: c2m run examples/cdnow_pipeline.toml\n\n"
    'pipeline.toml:  workspace = "ws"  [[steps]] command = "ingest" orders = "o.csv" '
    'preset = "cdnow"  [[steps]] command = "label"'
)


class StepFailed(C2MError):
    def __init__(self, number: int, argv: list[str], code: int) -> None:
        super().__init__(f"step {number} (c2m {' '.join(argv)}) failed with exit {code}")
        self.exit_code = code


def command(
    pipeline: Annotated[Path, typer.Argument(help="The pipeline TOML file.", show_default=False)],
    json_output: JsonOpt = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
    strict: StrictOpt = False,
) -> None:
    def body() -> dict[str, Any]:
        from c2m_cli.cli import invoke
        from c2m_cli.pipeline import load_pipeline

        workspace, argvs = load_pipeline(pipeline)
        flags = (["--quiet"] if quiet else []) + (["--verbose"] if verbose else [])
        for number, argv in enumerate(argvs, start=1):
            console.info(f"[{number}/{len(argvs)}] c2m {' '.join(argv)}")
            code = invoke(argv + flags)
            if code != 0:
                raise StepFailed(number, argv, code)
        console.configure(quiet=quiet, verbose=verbose, json_output=json_output)
        return {"workspace": str(workspace), "steps": len(argvs)}

    run_command(NAME, body, json_output=json_output, quiet=quiet, verbose=verbose, strict=strict)
