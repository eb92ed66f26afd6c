"""The only module that imports rich: human output on stderr, never on stdout.

stdout is reserved for the one JSON object of ``--json``. Human output (tables, progress)
appears when stderr is a terminal, or when ``--verbose`` asks for it, and never with ``--quiet``.
Text from data is escaped before rendering so that ``[bold]`` in a review stays literal.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

_state: dict[str, Any] = {"quiet": False, "verbose": False, "json": False}
_stderr = Console(stderr=True, highlight=False, soft_wrap=True)


def configure(*, quiet: bool = False, verbose: bool = False, json_output: bool = False) -> None:
    _state["quiet"] = quiet
    _state["verbose"] = verbose
    _state["json"] = json_output


def json_requested() -> bool:
    return bool(_state["json"])


def is_verbose() -> bool:
    return bool(_state["verbose"])


def _human_output_on() -> bool:
    if _state["quiet"]:
        return False
    return bool(_state["verbose"]) or _stderr.is_terminal


def info(message: str) -> None:
    """A line of progress or result for people; ``message`` is escaped."""
    if _human_output_on():
        _stderr.print(escape(message))


def warning(code: str, message: str) -> None:
    """A warning of the run (weak data); shown on stderr unless ``--quiet``."""
    if not _state["quiet"]:
        _stderr.print(f"[bold yellow]Warning[/bold yellow] [{escape(code)}]: {escape(message)}")


def error(message: str, hint: str | None = None) -> None:
    """The one-line error every failure ends in (always shown, even with --quiet)."""
    _stderr.print(f"[bold red]Error:[/bold red] {escape(message)}")
    if hint:
        _stderr.print(f"[dim]Hint:[/dim] {escape(hint)}")


def traceback() -> None:
    _stderr.print_exception(show_locals=False)


def table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Render rows as a table on stderr; every cell is escaped."""
    if not _human_output_on():
        return
    out = Table(title=escape(title), show_lines=False)
    for column in columns:
        out.add_column(escape(str(column)))
    for row in rows:
        out.add_row(*(escape("" if cell is None else str(cell)) for cell in row))
    _stderr.print(out)


def emit_json(payload: dict[str, Any]) -> None:
    """The one machine-readable object of ``--json``, on stdout."""
    sys.stdout.write(json.dumps(payload, ensure_ascii=False, sort_keys=True, default=str) + "\n")
    sys.stdout.flush()


@contextmanager
def progress(description: str, total: int | None = None) -> Iterator[Any]:
    """A progress bar on stderr; yields an ``advance(n=1)`` callable (a no-op when silent)."""
    if not _human_output_on():
        yield lambda n=1: None
        return
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=_stderr,
        transient=True,
    )
    with bar:
        task = bar.add_task(escape(description), total=total)
        yield lambda n=1: bar.advance(task, n)
