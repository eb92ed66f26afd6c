"""The only module that imports rich: human output on stderr, never on stdout.

stdout is reserved for the one JSON object of ``--json``. Human output (tables) appears when
stderr is a terminal, or when ``--verbose`` asks for it, and never with ``--quiet``; progress bars
only on a terminal (``configure`` installs them as the reporter of ``c2m_cli.progress``, which
library code calls without importing rich). Text from data is escaped before rendering (``[bold]``
in a review stays literal) and stripped of control characters (no escape sequence reaches the
terminal). Off a terminal, tables are plain text: tab-free aligned columns, one value per cell.
"""

from __future__ import annotations

import io
import json
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.markup import escape as _markup_escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from c2m_cli import progress as _progress

_state: dict[str, Any] = {"quiet": False, "verbose": False, "json": False}
_stderr = Console(stderr=True, highlight=False, soft_wrap=True)
_stdout = Console(highlight=False)
# C0 and C1 control characters (ESC, BEL, CR, backspace …) but not tab and newline
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def strip_controls(value: str) -> str:
    """``value`` without control characters (an escape sequence in the data stays inert)."""
    return _CONTROL.sub("", value)


def escape(value: str) -> str:
    """Safe for rich: control characters removed, markup brackets escaped."""
    return _markup_escape(strip_controls(value))


def configure(*, quiet: bool = False, verbose: bool = False, json_output: bool = False) -> None:
    _state["quiet"] = quiet
    _state["verbose"] = verbose
    _state["json"] = json_output
    _progress.set_reporter(_RichReporter() if (_stderr.is_terminal and not quiet) else None)


def is_terminal() -> bool:
    return bool(_stderr.is_terminal)


class _RichReporter:
    """``progress.Reporter`` drawing rich bars on stderr; one live display for nested tasks."""

    def __init__(self) -> None:
        self._bar: Progress | None = None
        self._open = 0

    def start(self, description: str, total: float | None) -> int:
        if self._bar is None:
            self._bar = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=_stderr,
                transient=True,
            )
            self._bar.start()
        self._open += 1
        return int(self._bar.add_task(escape(description), total=total))

    def advance(self, handle: int, amount: float) -> None:
        if self._bar is not None:
            self._bar.advance(TaskID(handle), amount)

    def finish(self, handle: int) -> None:
        if self._bar is None:
            return
        self._bar.remove_task(TaskID(handle))
        self._open -= 1
        if self._open <= 0:
            self._bar.stop()
            self._bar = None
            self._open = 0


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
        _stderr.print(f"[bold yellow]Warning[/bold yellow] {escape(f'[{code}]')}: {escape(message)}")


def error(message: str, hint: str | None = None) -> None:
    """The one-line error every failure ends in (always shown, even with --quiet)."""
    _stderr.print(f"[bold red]Error:[/bold red] {escape(message)}")
    if hint:
        _stderr.print(f"[dim]Hint:[/dim] {escape(hint)}")


def traceback() -> None:
    _stderr.print_exception(show_locals=False)


@contextmanager
def captured(width: int = 80) -> Iterator[Callable[[], str]]:
    """Send human output to a string ``width`` columns wide (tests); yields a reader of it."""
    global _stderr
    sink = io.StringIO()
    saved = _stderr
    _stderr = Console(file=sink, width=width, highlight=False, color_system=None)
    try:
        yield sink.getvalue
    finally:
        _stderr = saved


def cell(value: Any) -> str:
    """A summary value as people read it: mappings as ``key value, …``, lists joined, never a repr."""
    if value is None:
        return ""
    if isinstance(value, dict):
        return ", ".join(f"{cell(k)} {cell(v)}" for k, v in value.items())
    if isinstance(value, list | tuple | set):
        return ", ".join(cell(v) for v in value)
    return str(value)


def table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Render rows as a table on stderr; every cell is escaped.

    A table whose columns cannot fit the terminal is shown one block per row (``column  value``
    lines) instead of being squeezed to a character per line.
    """
    if not _human_output_on():
        return
    texts = [[cell(c) for c in row] for row in rows]
    headers = [str(c) for c in columns]
    natural = sum(max([len(h), *(len(r[i]) for r in texts)]) + 3 for i, h in enumerate(headers)) + 1
    tightest = sum(max([len(h), *(max((len(w) for w in r[i].split()), default=0) for r in texts)]) + 3 for i, h in enumerate(headers))
    if len(headers) > 2 and natural > _stderr.width and tightest > _stderr.width:
        _stderr.print(escape(title))
        label = max(len(h) for h in headers)
        for n, row in enumerate(texts, 1):
            _stderr.print(f"[dim]-- {n} --[/dim]")
            for header, value in zip(headers, row, strict=True):
                _stderr.print(f"{escape(header.ljust(label))}  {escape(value)}")
        return
    out = Table(title=escape(title), show_lines=False)
    for column in headers:
        out.add_column(escape(column))
    for row in texts:
        out.add_row(*(escape(value) for value in row))
    _stderr.print(out)


def stdout_is_terminal() -> bool:
    return bool(_stdout.is_terminal)


def stdout_width() -> int:
    """The terminal's width, or 100 columns when stdout is a file or a pipe."""
    return int(_stdout.width) if _stdout.is_terminal else 100


def result(text: str) -> None:
    """A command's own result on stdout (``c2m inspect``), as plain text."""
    sys.stdout.write(strip_controls_keep_lines(text))
    sys.stdout.flush()


def strip_controls_keep_lines(text: str) -> str:
    return "\n".join(strip_controls(line) for line in text.split("\n"))


def result_table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """A command's result as a rich table on stdout (a terminal); cells escaped, wide rows folded."""
    out = Table(title=escape(title), show_lines=False)
    for column in columns:
        out.add_column(escape(str(column)), overflow="fold")
    for row in rows:
        out.add_row(*(escape("" if cell is None else str(cell)) for cell in row))
    _stdout.print(out)


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
