"""Workspaces: a directory of Parquet tables, written atomically, and its manifest.

A step runs inside ``Workspace.step(...)``: what it writes is staged in a hidden directory and
moved into place only when the step succeeds, so a failed or interrupted step leaves the previous
outputs intact and no half-written file. On success the step is appended to ``manifest.json``
with its parameters, seed, inputs and outputs (row counts and SHA-256) and wall time.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from c2m_cli import __version__
from c2m_cli.diagnostics import WarningLog
from c2m_cli.errors import InvalidDataError, MissingPrerequisiteError, UsageError

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1

# Which command writes each table: the hint of a missing prerequisite (exit 4).
PRODUCERS: dict[str, str] = {
    "orders": "c2m ingest WORKSPACE --orders SRC",
    "customers": "c2m ingest WORKSPACE --orders SRC --customers SRC",
    "products": "c2m ingest WORKSPACE --orders SRC --products SRC",
    "events": "c2m ingest WORKSPACE --orders SRC --events SRC",
    "reviews": "c2m ingest WORKSPACE --orders SRC --reviews SRC",
    "labels": "c2m label WORKSPACE",
    "tags": "c2m label WORKSPACE",
    "segments": "c2m segment WORKSPACE",
    "segment_profiles": "c2m segment WORKSPACE",
    "forecast": "c2m forecast WORKSPACE",
    "backtest": "c2m forecast WORKSPACE",
    "forecast_metrics": "c2m forecast WORKSPACE",
    "opportunities": "c2m recommend WORKSPACE",
    "briefs": "c2m recommend WORKSPACE",
    "quantities": "c2m recommend WORKSPACE",
    "audiences": "c2m recommend WORKSPACE",
    "bundles": "c2m recommend WORKSPACE",
}

_SECRET_IN_URI = re.compile(r"(://[^:/@\s]+:)([^@\s]+)(@)")


def mask_secrets(text: str) -> str:
    """Hide passwords in database URIs before they reach a manifest or a log."""
    return _SECRET_IN_URI.sub(r"\1***\3", text)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def parquet_rows(path: Path) -> int:
    return int(pl.scan_parquet(path).select(pl.len()).collect().item())


def write_parquet_atomic(frame: pl.DataFrame, path: Path) -> None:
    """Write ``frame`` to ``path`` through a temp file in the same directory and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        frame.write_parquet(tmp, compression="zstd", statistics=True)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_bytes_atomic(data: bytes, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def dumps_json(obj: Any) -> str:
    """Deterministic JSON: sorted keys, two-space indent, UTF-8 kept readable."""
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, indent=2, default=str) + "\n"


@dataclass
class FileRecord:
    path: str
    sha256: str
    rows: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "rows": self.rows, "sha256": self.sha256}


@dataclass
class Step:
    """One running step: stages outputs, records inputs, collects the summary."""

    workspace: Workspace
    command: str
    parameters: dict[str, Any]
    seed: int
    argv: list[str] | None
    staging: Path
    via: str | None = None
    inputs: list[FileRecord] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    warnings: WarningLog = field(default_factory=WarningLog)

    def warn(self, code: str, message: str) -> None:
        """Say that this step's result rests on weak data (see ``c2m_cli.diagnostics``)."""
        self.warnings.warn(code, message)

    # -- reading -----------------------------------------------------------------------------
    def read(self, name: str) -> pl.DataFrame:
        return self.scan(name).collect()

    def scan(self, name: str) -> pl.LazyFrame:
        path = self.workspace.require(name, for_command=self.command)
        self._record_input(path)
        return pl.scan_parquet(path)

    def read_optional(self, name: str) -> pl.DataFrame | None:
        if not self.workspace.has(name):
            return None
        return self.read(name)

    def read_json(self, relpath: str) -> Any:
        path = self.workspace.root / relpath
        if not path.exists():
            producer = PRODUCERS.get(Path(relpath).stem, "the step that writes it")
            raise MissingPrerequisiteError(
                f"{relpath} is not in workspace {self.workspace.root}", hint=f"run {producer} first"
            )
        self._record_input(path)
        return json.loads(path.read_text(encoding="utf-8"))

    def note_input_file(self, path: Path) -> None:
        """Record an input that lives outside the workspace (a source file of ingest)."""
        self._record_input(path, rows=None)

    def _record_input(self, path: Path, rows: int | None = None) -> None:
        rel = self.workspace.relative(path)
        if any(record.path == rel for record in self.inputs):
            return
        if rows is None and path.suffix == ".parquet":
            rows = parquet_rows(path)
        self.inputs.append(FileRecord(rel, sha256_of(path), rows))

    # -- writing -----------------------------------------------------------------------------
    def staged(self, relpath: str) -> Path:
        """A path inside the staging area to write ``relpath`` to (for sinks and writers)."""
        target = self.staging / relpath
        target.parent.mkdir(parents=True, exist_ok=True)
        if relpath not in self.outputs:
            self.outputs.append(relpath)
        return target

    def write_table(self, name: str, frame: pl.DataFrame) -> int:
        """Stage ``frame`` as ``<name>.parquet`` (name may contain a sub-folder)."""
        frame.write_parquet(self.staged(f"{name}.parquet"), compression="zstd", statistics=True)
        return frame.height

    def sink_table(self, name: str, lazy: pl.LazyFrame) -> None:
        """Stream a lazy frame to ``<name>.parquet`` without collecting it in memory."""
        lazy.sink_parquet(self.staged(f"{name}.parquet"), compression="zstd", statistics=True)

    def write_json(self, relpath: str, obj: Any) -> None:
        self.staged(relpath).write_text(dumps_json(obj), encoding="utf-8")

    def write_text(self, relpath: str, text: str) -> None:
        self.staged(relpath).write_text(text, encoding="utf-8")

    def remove_output(self, relpath: str) -> None:
        """Declare that an output of an earlier run must not survive this one."""
        self.workspace._stale.append(relpath)


class Workspace:
    """A directory holding one analysis: canonical tables, step outputs and the manifest."""

    def __init__(self, root: Path | str, *, create: bool = True) -> None:
        self.root = Path(root).resolve()
        if self.root.exists() and not self.root.is_dir():
            raise UsageError(f"workspace {self.root} is a file, not a directory")
        if create:
            self.root.mkdir(parents=True, exist_ok=True)
        elif not self.root.is_dir():
            raise MissingPrerequisiteError(
                f"workspace {self.root} does not exist",
                hint="create it with `c2m ingest WORKSPACE --orders SRC` or `c2m demo WORKSPACE`",
            )
        self._stale: list[str] = []
        # warnings of every step committed through this object (a demo or pipeline runs several)
        self.run_warnings = WarningLog()

    # -- paths -------------------------------------------------------------------------------
    def table_path(self, name: str) -> Path:
        return self.root / f"{name}.parquet"

    def has(self, name: str) -> bool:
        return self.table_path(name).is_file()

    def relative(self, path: Path) -> str:
        path = Path(path).resolve()
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return str(path)

    def require(self, name: str, *, for_command: str = "") -> Path:
        path = self.table_path(name)
        if not path.is_file():
            producer = PRODUCERS.get(name, "the step that writes it")
            where = f" (needed by c2m {for_command})" if for_command else ""
            raise MissingPrerequisiteError(
                f"{name}.parquet is not in workspace {self.root}{where}",
                hint=f"run `{producer}` first",
            )
        return path

    def read(self, name: str) -> pl.DataFrame:
        return pl.read_parquet(self.require(name))

    def scan(self, name: str) -> pl.LazyFrame:
        return pl.scan_parquet(self.require(name))

    def tables(self) -> list[str]:
        return sorted(p.stem for p in self.root.glob("*.parquet"))

    # -- manifest ----------------------------------------------------------------------------
    @property
    def manifest_path(self) -> Path:
        return self.root / MANIFEST_NAME

    def manifest(self) -> dict[str, Any]:
        if not self.manifest_path.exists():
            return {"c2m_manifest_version": MANIFEST_VERSION, "steps": []}
        try:
            data = json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise InvalidDataError(f"{self.manifest_path}: not a readable manifest ({exc})") from exc
        data.setdefault("steps", [])
        return dict(data)

    def set_manifest_field(self, key: str, value: Any) -> None:
        data = self.manifest()
        data[key] = value
        write_bytes_atomic(dumps_json(data).encode("utf-8"), self.manifest_path)

    # -- steps -------------------------------------------------------------------------------
    @contextmanager
    def step(
        self,
        command: str,
        *,
        parameters: dict[str, Any],
        seed: int = 0,
        argv: list[str] | None = None,
        via: str | None = None,
    ) -> Iterator[Step]:
        """Run a step: stage its outputs, then move them in and record it, or discard them."""
        staging = Path(tempfile.mkdtemp(prefix=f".staging-{command}-", dir=self.root))
        step = Step(self, command, dict(parameters), seed, argv, staging, via=via)
        self._stale = []
        started = time.perf_counter()
        try:
            yield step
            self._commit(step, wall_time=time.perf_counter() - started)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _commit(self, step: Step, *, wall_time: float) -> None:
        records: list[FileRecord] = []
        for relpath in sorted(step.outputs):
            staged = step.staging / relpath
            rows = parquet_rows(staged) if staged.suffix == ".parquet" else None
            records.append(FileRecord(relpath, sha256_of(staged), rows))
        for relpath in step.outputs:
            target = self.root / relpath
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(step.staging / relpath, target)
        for relpath in self._stale:
            if relpath not in step.outputs:
                stale = self.root / relpath
                if stale.is_dir():
                    shutil.rmtree(stale, ignore_errors=True)
                else:
                    stale.unlink(missing_ok=True)
        entry: dict[str, Any] = {
            "command": step.command,
            "c2m_version": __version__,
            "parameters": {k: _jsonable(v) for k, v in step.parameters.items()},
            "seed": step.seed,
            "inputs": [r.as_dict() for r in sorted(step.inputs, key=lambda r: r.path)],
            "outputs": [r.as_dict() for r in records],
            "wall_time_s": round(wall_time, 3),
            "warnings": step.warnings.as_list(),
        }
        if step.argv is not None:
            entry["argv"] = [mask_secrets(a) for a in step.argv]
        if step.via:
            entry["via"] = step.via
        data = self.manifest()
        data["c2m_manifest_version"] = MANIFEST_VERSION
        data["steps"].append(entry)
        write_bytes_atomic(dumps_json(data).encode("utf-8"), self.manifest_path)
        self.run_warnings.extend(step.warnings)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, str):
        return mask_secrets(value)
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value
