"""`c2m run`: run the chain from a pipeline TOML file (through the library, skipping what is unchanged)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from c2m_cli.commands._common import JsonOpt, QuietOpt, StrictOpt, VerboseOpt, run_command

NAME = "run"
HELP = (
    "Run c2m steps listed in a pipeline TOML file: a top-level `workspace`, an optional `seed`, "
    "and one `steps` table per step, each with `command` and that command's options. Every "
    "step's options are checked before the first runs; a step whose command, parameters, seed, "
    "c2m version and input files are those of its latest run, and whose outputs are intact, is "
    "skipped (--force runs it)."
)
EPILOG = (
    "Example: c2m run examples/cdnow_pipeline.toml\n\n"
    "\b\n"  # click keeps the lines of a paragraph that starts with \b as they are
    "pipeline.toml:\n"
    '  workspace = "ws"\n'
    "  [[steps]]\n"
    '  command = "ingest"\n'
    '  orders = "o.csv"\n'
    '  preset = "cdnow"\n'
    "  [[steps]]\n"
    '  command = "label"'
)


def command(
    pipeline: Annotated[Path, typer.Argument(help="The pipeline TOML file.", show_default=False)],
    force: Annotated[bool, typer.Option("--force", help="Run every step, even those unchanged since their last run.")] = False,
    json_output: JsonOpt = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
    strict: StrictOpt = False,
) -> None:
    def body() -> dict[str, Any]:
        from c2m_cli.pipeline import run_pipeline

        return run_pipeline(pipeline, force=force)

    def render(summary: dict[str, Any]) -> None:
        from c2m_cli import console

        console.info(
            f"ran {len(summary['steps'])} step(s), skipped {len(summary['skipped'])} unchanged"
        )

    # a step marked `strict = true` in the pipeline counts as --strict for the run
    run_command(NAME, body, json_output=json_output, quiet=quiet, verbose=verbose, render=render, strict=strict, strict_key="strict_step_warned")
