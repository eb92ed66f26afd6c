"""Options shared by every command, and the adapter that runs a command body.

``run_command`` configures output, calls the body (which returns a JSON-able summary), prints
that summary as ``--json`` on stdout and lets errors propagate to ``cli.main``, the single place
that turns them into the exit codes of DESIGN.md.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from c2m_cli import console
from c2m_cli.errors import EXIT_STRICT_WARNINGS

WorkspaceArg = Annotated[
    Path,
    typer.Argument(
        help="Workspace directory (created if absent); steps read and write Parquet there.",
        show_default=False,
    ),
]
SEED_MAX = 2**32 - 1
SeedOpt = Annotated[
    int,
    typer.Option(
        "--seed",
        min=0,
        max=SEED_MAX,
        help="Random seed (0 … 4294967295): the same seed gives byte-identical outputs.",
    ),
]
JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print one machine-readable JSON summary on stdout.")
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No human output on stderr.")]
VerboseOpt = Annotated[
    bool,
    typer.Option("--verbose", "-v", help="Human output even off a terminal; tracebacks on errors."),
]
StrictOpt = Annotated[
    bool,
    typer.Option(
        "--strict",
        help="Exit 6 (after writing outputs) when the step finished with warnings (docs/warnings.md).",
    ),
]
ExecutorOpt = Annotated[
    str,
    typer.Option(
        "--executor",
        help="Where per-series/per-partition work runs: `local` or `dask://HOST:PORT`.",
    ),
]

# The arguments of the current invocation (after `c2m`), recorded so `c2m verify` can replay.
_invocation: dict[str, list[str]] = {"argv": []}


def set_invocation(argv: list[str]) -> None:
    _invocation["argv"] = list(argv)


def step_argv(workspace: Path, argv: list[str] | None = None) -> list[str]:
    """The command line (default: the current one) as recorded for a replay.

    The first argument after the command name that names the workspace becomes ``{workspace}``
    (the command name itself never does: a workspace may be called ``label``); other paths are
    made absolute, and a path inside the workspace is written ``{workspace}/…`` so a renamed
    copy replays. Secrets are masked when the manifest is written.
    """
    argv = list(_invocation["argv"] if argv is None else argv)
    root = Path(workspace).resolve()
    out: list[str] = argv[:1]
    replaced = False
    for arg in argv[1:]:
        if not replaced and not arg.startswith("-") and _same_path(arg, workspace):
            out.append("{workspace}")
            replaced = True
            continue
        text = _absolute_if_path(arg)
        if os.path.isabs(text):
            try:
                inside = Path(text).resolve().relative_to(root)
            except (ValueError, OSError):
                inside = None
            if inside is not None and str(inside) != ".":
                text = "{workspace}/" + inside.as_posix()
        out.append(text)
    return out


def _absolute_if_path(arg: str) -> str:
    """Source paths and globs made absolute, so a replay works from any directory."""
    if arg.startswith("-") or "://" in arg or os.path.isabs(arg):
        return arg
    if os.path.exists(arg) or glob.glob(arg):
        return os.path.join(os.getcwd(), arg)
    return arg


def _same_path(arg: str, workspace: Path) -> bool:
    try:
        return Path(arg).resolve() == Path(workspace).resolve()
    except (OSError, ValueError):
        return False


def validate_executor(spec: str) -> str:
    """``local``, or a ``dask://HOST:PORT`` that answers (exit 2 with one line otherwise)."""
    from c2m_cli.executor import check_reachable

    check_reachable(spec)
    return spec


@dataclass
class LibraryCall:
    """One step's library call, as a command adapter makes it (what `c2m run` executes)."""

    target: str  # "module:function"
    workspace: Path
    seed: int
    executor: str
    create: bool
    options: dict[str, Any]


class Planned(Exception):  # noqa: N818 - control flow, not an error
    """Raised by ``call_step`` while planning: the command's library call, not executed."""

    def __init__(self, call: LibraryCall) -> None:
        super().__init__(call.target)
        self.call = call


_planning: ContextVar[bool] = ContextVar("c2m_planning", default=False)


@contextmanager
def planning() -> Iterator[None]:
    """Inside, ``call_step`` raises :class:`Planned` with its call instead of running it."""
    token = _planning.set(True)
    try:
        yield
    finally:
        _planning.reset(token)


def call_step(
    target: str, workspace: Path, *, seed: int, executor: str, create: bool = False, **options: Any
) -> dict[str, Any]:
    """Call a step's library entry point ``"module:function"`` on the workspace.

    The module is imported here, not at the top of the command module, so ``c2m --help`` stays
    fast; the executor is validated before anything touches the workspace.
    """
    spec = validate_executor(executor)
    call = LibraryCall(target, Path(workspace), seed, spec, create, dict(options))
    if _planning.get():
        raise Planned(call)
    return run_library(call, argv=step_argv(workspace))


def run_library(call: LibraryCall, *, argv: list[str] | None, skip_unchanged: bool = False) -> dict[str, Any]:
    """Execute a library call; ``skip_unchanged`` lets the step raise ``StepUnchanged``."""
    import importlib

    from c2m_cli.workspace import Workspace

    module_name, function_name = call.target.split(":")
    run = getattr(importlib.import_module(module_name), function_name)
    existed = call.workspace.exists()
    ws = Workspace(call.workspace, create=call.create)
    ws.skip_unchanged = skip_unchanged
    try:
        from c2m_cli import progress

        with progress.task(f"c2m {function_name.removeprefix('run_')}"):  # a spinner on a terminal
            result: dict[str, Any] = run(ws, **call.options, seed=call.seed, executor=call.executor, argv=argv)
        result["warnings"] = ws.run_warnings.as_list()
    except BaseException:
        # a failed first step leaves no empty workspace behind
        if not existed and ws.root.is_dir() and not any(ws.root.iterdir()):
            ws.root.rmdir()
        raise
    return result


def run_command(
    name: str,
    body: Callable[[], dict[str, Any]],
    *,
    json_output: bool,
    quiet: bool,
    verbose: bool,
    render: Callable[[dict[str, Any]], None] | None = None,
    strict: bool = False,
    strict_key: str | None = None,
) -> None:
    """Run one command body; emit its summary as JSON (``--json``) and for people (stderr).

    Every summary carries ``warnings`` (a list of ``{code, message}``, empty when there are none).
    With ``strict``, a run that finished with warnings exits 6 after its outputs and summary.
    """
    from c2m_cli.workspace import mask_value

    console.configure(quiet=quiet, verbose=verbose, json_output=json_output)
    summary = mask_value(body())  # no secret reaches stderr or --json
    warnings = list(summary.pop("warnings", None) or [])
    step_strict = bool(summary.pop(strict_key, False)) if strict_key else False
    if render is not None:
        render(summary)
    for item in warnings:
        console.warning(item["code"], item["message"])
    failed_strict = (strict and bool(warnings)) or step_strict
    if json_output:
        payload = {"command": name, "ok": True, **summary, "warnings": warnings}
        if failed_strict:
            payload["exit_code"] = EXIT_STRICT_WARNINGS
        console.emit_json(payload)
    if failed_strict:
        console.error(f"c2m {name} finished with {len(warnings)} warning(s) and --strict was given")
        raise typer.Exit(EXIT_STRICT_WARNINGS)
