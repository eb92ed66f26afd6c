"""Where per-series and per-partition work runs: in this process, a 2-process pool, or Dask.

Work is handed over as a pure function and a list of items (each item one series or one
partition); results come back in item order, so outputs are identical whichever executor ran.
"""

from __future__ import annotations

import multiprocessing
import os
import socket
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

from c2m_cli.errors import UsageError

T = TypeVar("T")
R = TypeVar("R")


class LocalExecutor:
    """Serial, or a process pool of ``processes`` workers when ``parallel`` is asked for."""

    def __init__(self, processes: int | None = None) -> None:
        self.processes = processes or min(2, os.cpu_count() or 1)

    def map(self, fn: Callable[[T], R], items: Sequence[T], *, parallel: bool = False) -> list[R]:
        if not parallel or self.processes < 2 or len(items) < 2:
            return [fn(item) for item in items]
        context = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
        chunk = max(1, len(items) // (self.processes * 8))
        with ProcessPoolExecutor(max_workers=self.processes, mp_context=context) as pool:
            return list(pool.map(fn, items, chunksize=chunk))

    def close(self) -> None:
        return None

    def describe(self) -> str:
        return "local"


class DaskExecutor:
    """Items as Dask tasks on a running ``distributed`` scheduler."""

    def __init__(self, address: str) -> None:
        try:
            from distributed import Client
        except ImportError as exc:  # the dask extra is optional
            raise UsageError(
                "--executor dask:// needs the dask extra: pip install 'c2m-cli[dask]'"
            ) from exc
        try:
            self.client: Any = Client(address, timeout="10s", set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise UsageError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
        self.address = address

    def map(self, fn: Callable[[T], R], items: Sequence[T], *, parallel: bool = True) -> list[R]:
        if not items:
            return []
        futures = self.client.map(fn, list(items), pure=False)
        return list(self.client.gather(futures))

    def close(self) -> None:
        self.client.close()

    def describe(self) -> str:
        return f"dask://{self.address}"


def parse_executor(spec: str) -> tuple[str, int] | None:
    """``local`` → None; ``dask://HOST:PORT`` → (host, port); anything else is exit 2."""
    if spec == "local":
        return None
    prefix = "dask://"
    if spec.startswith(prefix):
        host, sep, port = spec[len(prefix) :].rpartition(":")
        if sep and host and port.isdigit() and 0 < int(port) < 65536:
            return host.strip("[]"), int(port)
    raise UsageError(f"--executor must be `local` or `dask://HOST:PORT`, got {spec!r}")


def check_reachable(spec: str, *, timeout: float = 3.0) -> None:
    """Fail fast (exit 2, one line) when a Dask scheduler's address does not answer.

    A TCP connect is tried before any work starts, so a typo in the address costs seconds,
    not a hung step or a traceback from deep inside ``distributed``.
    """
    target = parse_executor(spec)
    if target is None:
        return
    host, port = target
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        if isinstance(exc, socket.gaierror):
            reason = f"unknown host ({exc.strerror})"
        elif isinstance(exc, TimeoutError):
            reason = f"no answer within {timeout:g} s"
        raise UsageError(f"--executor {spec}: cannot reach a Dask scheduler at {host}:{port}: {reason}") from None


def get_executor(spec: str = "local") -> LocalExecutor | DaskExecutor:
    """``local`` or ``dask://HOST:PORT`` (as validated by the CLI)."""
    if spec == "local":
        return LocalExecutor()
    if spec.startswith("dask://"):
        return DaskExecutor("tcp://" + spec[len("dask://") :])
    raise UsageError(f"--executor must be `local` or `dask://HOST:PORT`, got {spec!r}")
