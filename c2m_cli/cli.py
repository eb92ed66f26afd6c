"""The c2m command line: a typer app whose commands live in ``c2m_cli/commands``.

``main`` is the console script and the one place that maps exceptions to exit codes
(DESIGN.md): 0 ok, 2 usage, 3 invalid data, 4 missing prerequisite, 5 reproducibility
mismatch, 1 anything unexpected. Bad input ends in one ``Error:`` line, never a traceback
(unless ``--verbose``).
"""

from __future__ import annotations

import errno
import os
import re
import sys
from typing import Annotated

import typer

from c2m_cli import __version__, console
from c2m_cli.commands import (
    demo,
    export,
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
    rich_markup_mode=None,  # plain click help: no markup eating [[steps]], no <bool> beside flags
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
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


for _module in (demo, ingest, label, segment, forecast, recommend, report, export, run, verify, inspect):
    app.command(_module.NAME, help=_module.HELP, epilog=_module.EPILOG)(_module.command)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point; exits with the documented code."""
    sys.exit(invoke(sys.argv[1:] if argv is None else argv))


def invoke(argv: list[str]) -> int:
    """Run one c2m command line in-process and return its exit code (used by `c2m run`)."""
    from c2m_cli.workspace import register_argv_secrets

    set_invocation(argv)
    register_argv_secrets(argv)  # their values are masked in every message, log and --json
    try:
        # click answers --help and --version (and typer.Exit) with an exit code; usage errors it
        # raises (a bad option value) are shown here, so that --json gets its one JSON object too
        return _exit_code(app(args=argv, prog_name="c2m", standalone_mode=False))
    except SystemExit as stop:
        return _exit_code(stop.code)
    except typer.TyperException as problem:  # click's usage errors (a bad option value, no command)
        show = getattr(problem, "show", None)
        if callable(show):
            show()  # the usage line and "Error: …", as click prints them
        else:
            console.error(problem.format_message())
        if "--json" in argv:
            console.emit_json(
                {"ok": False, "error": problem.format_message(), "exit_code": problem.exit_code, "hint": None, "warnings": []}
            )
        return problem.exit_code
    except typer.Abort:
        console.error("interrupted; outputs of the step were not written")
        return 130
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
        system = system_problem(problem)
        if system is not None:  # a full or read-only disk is not a bug: name the path and the reason
            _report(system, EXIT_UNEXPECTED)
            return EXIT_UNEXPECTED
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


# errno values that say the system refused (space, permissions, a read-only or failing disk)
_SYSTEM_ERRNOS = {
    errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT, errno.EIO, errno.EMFILE, errno.ENFILE,
}
_OS_ERROR_IN_TEXT = re.compile(r"\(os error (\d+)\)")


def system_problem(problem: BaseException) -> str | None:
    """One line naming the path and the OS reason when ``problem`` is the system refusing."""
    if isinstance(problem, OSError) and problem.errno in _SYSTEM_ERRNOS:
        where = problem.filename or "the workspace"
        return f"cannot write {where}: {problem.strerror or os.strerror(problem.errno or 0)}"
    found = _OS_ERROR_IN_TEXT.search(str(problem))  # polars reports OS errors in its own text
    if found and int(found.group(1)) in _SYSTEM_ERRNOS:
        first = str(problem).strip().splitlines()[0]
        return f"the system refused a file operation: {first}"
    return None


def _report(message: str, code: int, *, hint: str | None = None) -> None:
    from c2m_cli.workspace import mask_secrets

    message = mask_secrets(message)
    hint = mask_secrets(hint) if hint else hint
    console.error(message, hint)
    if console.json_requested():
        console.emit_json({"ok": False, "error": message, "exit_code": code, "hint": hint, "warnings": []})


if __name__ == "__main__":
    main()
