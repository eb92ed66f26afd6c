"""Progress of long work, for library code that must not import rich.

A step announces what it is doing with ``task(description, total)`` — a context manager yielding
``advance(n=1)`` — or wraps an iterable with ``track``. By default nothing is shown (a no-op
reporter: tests, pipelines, library use); the command line installs a reporter on a terminal
(``console.configure``), which draws rich progress bars on stderr. Nested tasks are allowed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Protocol, TypeVar

T = TypeVar("T")
Advance = Callable[[float], None]


class Reporter(Protocol):
    def start(self, description: str, total: float | None) -> int: ...

    def advance(self, handle: int, amount: float) -> None: ...

    def finish(self, handle: int) -> None: ...


class _Silent:
    def start(self, description: str, total: float | None) -> int:
        return 0

    def advance(self, handle: int, amount: float) -> None:
        return None

    def finish(self, handle: int) -> None:
        return None


_SILENT = _Silent()
_reporter: list[Reporter] = [_SILENT]


def set_reporter(reporter: Reporter | None) -> None:
    """Install ``reporter`` (``None``: back to silence)."""
    _reporter[0] = reporter if reporter is not None else _SILENT


def get_reporter() -> Reporter:
    return _reporter[0]


@contextmanager
def task(description: str, total: float | None = None) -> Iterator[Advance]:
    """Report work on ``description`` (``total`` steps, or unknown); yields ``advance(n=1)``."""
    reporter = _reporter[0]
    handle = reporter.start(description, total)

    def advance(amount: float = 1) -> None:
        reporter.advance(handle, amount)

    try:
        yield advance
    finally:
        reporter.finish(handle)


def track(items: Iterable[T], description: str, total: float | None = None) -> Iterator[T]:
    """Yield ``items``, advancing a task by one per item."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    with task(description, total) as advance:
        for item in items:
            yield item
            advance(1)
