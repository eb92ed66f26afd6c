"""The c2m command line: a typer app whose commands live in ``c2m_cli/commands``.

``main`` is the console script and the one place that maps exceptions to exit codes
(DESIGN.md): 0 ok, 2 usage, 3 invalid data, 4 missing prerequisite, 5 reproducibility
mismatch, 1 anything unexpected. Bad input ends in one ``Error:`` line, never a traceback
(unless ``--verbose``).
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from c2m_cli import __version__, console
from c2m_cli.commands import (
    demo,
    forecast,
    ingest,
    inspect,
    label,
    recommend,
    report,
    run,
    segment,
    verify,
)
from c2m_cli.commands._common import set_invocation
from c2m_cli.errors import EXIT_UNEXPECTED, EXIT_USAGE, C2MError

app = typer.Typer(
    name="c2m",
    help=(
        "C2M retail analytics: ingest → label → segment → forecast → recommend → report.\n\n"
        "Each step reads and writes Parquet in a workspace directory.\n\n"
        "Example: c2m demo ./demo-workspace"
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"c2m {__version__}\n")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """C2M retail analytics from the command line."""


for _module in (demo, ingest, label, segment, forecast, recommend, report, run, verify, inspect):
    app.command(_module.NAME, help=_module.HELP, epilog=_module.EPILOG)(_module.command)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point; exits with the documented code."""
    sys.exit(invoke(sys.argv[1:] if argv is None else argv))


def invoke(argv: list[str]) -> int:
    """Run one c2m command line in-process and return its exit code (used by `c2m run`)."""
    set_invocation(argv)
    try:
        # typer itself answers usage errors (exit 2), --help and --version by SystemExit
        app(args=argv, prog_name="c2m", standalone_mode=True)
    except SystemExit as stop:
        return _exit_code(stop.code)
    except C2MError as problem:
        if console.is_verbose():
            console.traceback()
        _report(problem.message, problem.exit_code, hint=problem.hint)
        return problem.exit_code
    except KeyboardInterrupt:
        console.error("interrupted; outputs of the step were not written")
        return 130
    except Exception as problem:  # a bug: say so plainly, trace only on request
        if console.is_verbose():
            console.traceback()
        _report(
            f"unexpected {type(problem).__name__}: {problem} (a bug in c2m; rerun with --verbose)",
            EXIT_UNEXPECTED,
        )
        return EXIT_UNEXPECTED
    return 0


def _exit_code(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    return EXIT_USAGE


def _report(message: str, code: int, *, hint: str | None = None) -> None:
    console.error(message, hint)
    if console.json_requested():
        console.emit_json({"ok": False, "error": message, "exit_code": code, "hint": hint})


if __name__ == "__main__":
    main()
