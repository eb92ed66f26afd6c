"""Where per-series and per-partition work runs: in this process, a 2-process pool, or Dask.

Work is handed over as a pure function and a list of items (each item one series or one
partition); results come back in item order, so outputs are identical whichever executor ran.

On Dask an item is what travels from the client to a worker, so items are kept small by
construction: a task carries the paths of its Parquet partitions in the workspace (on storage
every worker sees) and small settings, never arrays or frames, and writes its result next to
them, returning the path. ``DaskExecutor.map`` measures every item's pickled size and refuses
one above ``MAX_TASK_BYTES`` (a bug: data would be shipped through the scheduler). What ran
where is recorded (``usage_mark`` / ``usage_since``) for the step's ``--json`` summary.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import socket
import threading
import weakref
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from c2m_cli.errors import C2MError, UsageError

T = TypeVar("T")
R = TypeVar("R")

MAX_TASK_BYTES = 64 * 1024  # an item's pickled size: paths and settings, never data

# one record per ``map`` call of this process: (kind, tasks, max_payload_bytes or None)
_USAGE: list[tuple[str, int, int | None]] = []


def usage_mark() -> int:
    """A mark to pass to ``usage_since`` (a step takes one before it maps any work)."""
    return len(_USAGE)


def usage_since(mark: int) -> dict[str, Any]:
    """What the executors ran since ``mark``: ``{"kind", "tasks", "max_payload_bytes"}``
    (the largest pickled item sent to a Dask worker; null when everything ran locally)."""
    runs = _USAGE[mark:]
    kinds = sorted({kind for kind, _, _ in runs})
    sizes = [size for _, _, size in runs if size is not None]
    return {
        "kind": "+".join(kinds) if kinds else "none",
        "tasks": sum(n for _, n, _ in runs),
        "max_payload_bytes": max(sizes) if sizes else None,
    }


def preload(modules: tuple[str, ...], name: str = "c2m-preload") -> threading.Thread:
    """Import ``modules`` in a background thread, while the caller reads and prepares its data
    (polars and numpy work without the GIL); code that gets there first waits for the module.
    The thread is returned started. Any error is left to the import that needs the module (it
    raises it again, where it is reported): the thread prints nothing. A fork waits for the
    thread: a child must not inherit an import half done (and a forked worker then finds the
    modules imported instead of importing them itself)."""

    def load() -> None:
        for module in modules:
            try:
                importlib.import_module(module)
            except Exception:  # noqa: BLE001 — raised again by the import that needs it
                return

    thread = threading.Thread(target=load, name=name)
    _PRELOADING.add(thread)
    thread.start()
    return thread


def _finish_preload_before_fork() -> None:
    for thread in list(_PRELOADING):
        if thread.is_alive():
            thread.join()


_PRELOADING: weakref.WeakSet[threading.Thread] = weakref.WeakSet()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_finish_preload_before_fork)


def write_arrays(path: str, arrays: dict[str, Any]) -> str:
    """Numpy arrays that share their first axis (one row per series) as one Parquet file: a
    task's result written where it ran, for the client to read back (``read_arrays``). Each
    array is a fixed-size list column ``name|d1xd2…`` (its trailing shape); values exact."""
    import numpy as np
    import polars as pl

    columns = []
    for name, values in arrays.items():
        array = np.asarray(values)
        shape = "x".join(str(d) for d in array.shape[1:])
        flat = array.reshape(array.shape[0], -1) if array.ndim > 1 else array
        columns.append(pl.Series(f"{name}|{shape}", flat))
    pl.DataFrame(columns).write_parquet(path)
    return str(path)


def read_arrays(path: str) -> dict[str, Any]:
    """The arrays ``write_arrays`` wrote, with their shapes, in their order."""
    import polars as pl

    frame = pl.read_parquet(path)
    out: dict[str, Any] = {}
    for column in frame.columns:
        name, _, shape = column.rpartition("|")
        trailing = tuple(int(d) for d in shape.split("x")) if shape else ()
        out[name] = frame[column].to_numpy().reshape(frame.height, *trailing)
    return out


def shared_array(shape: tuple[int, ...], path: Path | None = None) -> Any:
    """A float64 array of zeros in shared memory: what a process forked after it is made writes
    into it, its parent sees — a forked local worker's results come back without being pickled
    (or copied). Its pages are taken when first written; unmapped with the last reference to
    the array. Anonymous memory, or with ``path`` a new file of that name mapped shared (an
    ``np.memmap`` whose pages the kernel can write out and reread: ``remap_readonly``)."""
    import mmap

    import numpy as np

    count = int(np.prod(shape))
    if path is not None:
        with open(path, "xb") as handle:  # a new file: never another's
            handle.truncate(max(count, 1) * 8)
        return np.memmap(path, dtype=np.float64, mode="r+", shape=shape)
    buffer = mmap.mmap(-1, max(count, 1) * 8)  # MAP_SHARED | MAP_ANONYMOUS
    return np.frombuffer(buffer, dtype=np.float64, count=count).reshape(shape)


def remap_readonly(values: Any) -> Any:
    """The file a ``shared_array(shape, path)`` maps, mapped again read-only (the same values,
    from the page cache: nothing is copied); None for any other array. The writable mapping
    goes with its last reference: its pages leave this process's memory, not the file."""
    import numpy as np

    if not isinstance(values, np.memmap) or values.filename is None or values.offset or not values.flags.c_contiguous:
        return None
    if values.dtype != np.float64 or values.size * 8 != Path(values.filename).stat().st_size:
        return None  # a view of part of the file
    return np.memmap(values.filename, dtype=np.float64, mode="r", shape=values.shape)


def payload_bytes(item: Any) -> int:
    """The size of ``item`` as Dask ships it (cloudpickle, which falls back from pickle)."""
    import cloudpickle

    return len(cloudpickle.dumps(item))


class LocalExecutor:
    """Serial, or a process pool of ``processes`` workers when ``parallel`` is asked for."""

    def __init__(self, processes: int | None = None) -> None:
        self.processes = processes or min(2, os.cpu_count() or 1)

    def map(self, fn: Callable[[T], R], items: Sequence[T], *, parallel: bool = False) -> list[R]:
        _USAGE.append(("local", len(items), None))
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
        self.tasks = 0
        self.max_payload_bytes = 0

    def map(self, fn: Callable[[T], R], items: Sequence[T], *, parallel: bool = True) -> list[R]:
        """``fn`` over ``items`` on the cluster, results in item order; an item whose pickled
        size is above ``MAX_TASK_BYTES`` is refused before anything is submitted."""
        sizes = [payload_bytes(item) for item in items]
        for i, size in enumerate(sizes):
            if size > MAX_TASK_BYTES:
                raise C2MError(
                    f"Dask task {i + 1} of {len(items)} for {getattr(fn, '__qualname__', fn)!s} would ship "
                    f"{size:,} bytes to a worker (limit {MAX_TASK_BYTES:,}): tasks must carry partition "
                    "paths, not data (a bug in c2m)"
                )
        self.tasks += len(items)
        self.max_payload_bytes = max([self.max_payload_bytes, *sizes])
        _USAGE.append(("dask", len(items), max(sizes, default=0)))
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
