"""Workspaces: a directory of Parquet tables, written atomically, and its manifest.

A step runs inside ``Workspace.step(...)``: what it writes is staged in a hidden directory and
moved into place only when the step succeeds, so a failed or interrupted step leaves the previous
outputs intact and no half-written file. On success the step is appended to ``manifest.json``
with its parameters, seed, inputs and outputs (row counts and SHA-256) and wall time.

Integrity (DESIGN.md, manifest):

- appends are serialised by an exclusive ``flock`` on the workspace directory itself (no lock
  file to litter the workspace), so commands run at once on one workspace lose no entry;
- a step's outputs and its manifest entry land together: outputs replaced by the step are kept
  aside until the manifest is written and put back if writing it fails;
- every staging directory is held by its step (a ``flock`` on the directory); one that nobody
  holds was left by a killed run and is removed by the next step (``stale-staging-cleared``);
- top-level manifest fields a step sets (``data_timezone``, ``market``) land with its entry.

Currency (DESIGN.md): reading a table through a step checks that the table was produced, per its
latest manifest entry, from the files now in the workspace; otherwise exit 4 naming the command
to re-run. SHA-256 digests are cached per (path, inode, size, mtime) so large files are hashed once.
"""

from __future__ import annotations

import errno
import fcntl
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
# Hidden working directories of running steps (``.staging-<command>-*``) and of ingest.
PRIVATE_PREFIXES = (".staging-", ".ingest-")

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

# -- secrets ---------------------------------------------------------------------------------
# The one masking rule (DESIGN.md: no secret in the manifest, a log, an error or --json):
# the password of a URI (scheme://user:PASSWORD@host), the value of any option or parameter
# whose name says it is secret (--salt, --password, --token, --secret, --api-key, ...), and any
# value registered as secret for this process (cli.invoke registers those of its command line).
MASK = "***"
_SECRET_IN_URI = re.compile(r"(://[^:/@\s]+:)([^@\s]+)(@)")
_SECRET_NAME = re.compile(r"salt|passw|pwd|token|secret|api[-_]?key|credential", re.IGNORECASE)
_SECRET_ASSIGNMENT = re.compile(
    r"(--?[A-Za-z0-9_-]*(?:salt|passw|pwd|token|secret|api[-_]?key|credential)[A-Za-z0-9_-]*[=\s]+)"
    r"(\"[^\"]*\"|'[^']*'|[^\s,;)]+)",
    re.IGNORECASE,
)
_registered_secrets: set[str] = set()


def is_secret_name(name: str) -> bool:
    """Whether an option or parameter named ``name`` holds a secret (salt, password, token…)."""
    return bool(_SECRET_NAME.search(name))


def register_secret(value: str | None) -> None:
    """Mask ``value`` wherever it appears in text c2m writes (values shorter than 3 are ignored)."""
    if value and len(value) >= 3 and value != MASK:
        _registered_secrets.add(value)


def register_argv_secrets(argv: list[str]) -> None:
    """Register the secret values of a command line: URI passwords and secret options' values."""
    for index, arg in enumerate(argv):
        for match in _SECRET_IN_URI.finditer(arg):
            register_secret(match.group(2))
        if arg.startswith("-"):
            name, eq, value = arg.partition("=")
            if is_secret_name(name):
                if eq:
                    register_secret(value)
                elif index + 1 < len(argv):
                    register_secret(argv[index + 1])
    for variable in ("PGPASSWORD", "MYSQL_PWD"):
        register_secret(os.environ.get(variable))


def mask_secrets(text: str) -> str:
    """``text`` with every secret (the rule above) replaced by ``***``."""
    text = _SECRET_IN_URI.sub(rf"\1{MASK}\3", text)
    text = _SECRET_ASSIGNMENT.sub(rf"\1{MASK}", text)
    for secret in sorted(_registered_secrets, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def mask_argv(argv: list[str]) -> list[str]:
    """A command line with the values of secret options (``--salt X``, ``--salt=X``) masked."""
    out: list[str] = []
    hide_next = False
    for arg in argv:
        if hide_next:
            out.append(MASK)
            hide_next = False
            continue
        if arg.startswith("-"):
            name, eq, _value = arg.partition("=")
            if is_secret_name(name):
                if eq:
                    out.append(f"{name}={MASK}")
                else:
                    out.append(arg)
                    hide_next = True
                continue
        out.append(mask_secrets(arg))
    return out


def mask_value(value: Any, *, name: str = "") -> Any:
    """A JSON-able value with secrets masked: secret-named keys and every string inside."""
    if name and is_secret_name(name) and isinstance(value, str) and value:
        return MASK
    if isinstance(value, Path):
        return mask_secrets(str(value))
    if isinstance(value, str):
        return mask_secrets(value)
    if isinstance(value, list | tuple):
        return [mask_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): mask_value(v, name=str(k)) for k, v in value.items()}
    return value


# -- files -----------------------------------------------------------------------------------
_hash_cache: dict[tuple[str, int, int, int], str] = {}


def sha256_of(path: Path) -> str:
    """SHA-256 of a file, cached per (path, inode, size, mtime): a file is hashed once."""
    stat = os.stat(path)
    key = (str(Path(path).resolve()), stat.st_ino, stat.st_size, stat.st_mtime_ns)
    cached = _hash_cache.get(key)
    if cached is not None:
        return cached
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    _hash_cache[key] = digest.hexdigest()
    return _hash_cache[key]


def parquet_rows(path: Path) -> int:
    return int(pl.scan_parquet(path).select(pl.len()).collect().item())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """The mode an ordinary ``open()`` gives a new file under the current umask (0o644 at 022)."""
    return 0o666 & ~_umask()


def dir_mode() -> int:
    return 0o777 & ~_umask()


def write_parquet_atomic(frame: pl.DataFrame, path: Path) -> None:
    """Write ``frame`` to ``path`` through a temp file in the same directory and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        frame.write_parquet(tmp, compression="zstd", statistics=True)
        os.chmod(tmp, file_mode())
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
        os.chmod(tmp, file_mode())  # mkstemp makes 0o600; the workspace's files follow the umask
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
    sha256: str | None  # None: an optional input the step looked for and did not find
    rows: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "rows": self.rows, "sha256": self.sha256}


class StepUnchanged(Exception):
    """Raised on entering a step that ``c2m run`` may skip: same request, same inputs, outputs intact."""

    def __init__(self, command: str, entry: dict[str, Any]) -> None:
        super().__init__(f"c2m {command}: unchanged since its latest entry")
        self.command = command
        self.entry = entry


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
    manifest_fields: dict[str, Any] = field(default_factory=dict)

    def warn(self, code: str, message: str) -> None:
        """Say that this step's result rests on weak data (see ``c2m_cli.diagnostics``)."""
        self.warnings.warn(code, message)

    def set_manifest_field(self, key: str, value: Any) -> None:
        """Set a top-level manifest field (``data_timezone``, ``market``) together with the entry."""
        self.manifest_fields[key] = value

    # -- reading -----------------------------------------------------------------------------
    def read(self, name: str) -> pl.DataFrame:
        lazy = self.scan(name)
        try:
            return lazy.collect()
        except (pl.exceptions.ComputeError, OSError) as exc:
            raise InvalidDataError(f"{name}.parquet: not a readable Parquet file ({_first_line(exc)})") from exc

    def scan(self, name: str) -> pl.LazyFrame:
        path = self.workspace.require(name, for_command=self.command)
        self.workspace.check_current(path)
        schema = _parquet_schema(path, f"{name}.parquet")
        from c2m_cli import contract

        contract.validate_schema(name, schema)
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
        self.workspace.check_current(path)
        self._record_input(path)
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InvalidDataError(f"{relpath}: not a readable JSON file ({exc})") from exc

    def note_input_file(self, path: Path) -> None:
        """Record an input that lives outside the workspace (a source file of ingest)."""
        self._record_input(path, rows=None)

    def note_absent(self, relpath: str) -> None:
        """Record that an optional input was looked for and not found (its later arrival matters)."""
        if not any(record.path == relpath for record in self.inputs):
            self.inputs.append(FileRecord(relpath, None, None))

    def _record_input(self, path: Path, rows: int | None = None) -> None:
        rel = self.workspace.relative(path)
        self.inputs = [r for r in self.inputs if not (r.path == rel and r.sha256 is None)]
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
        from c2m_cli import contract

        contract.validate_schema(name, frame.schema, writing=True)
        frame.write_parquet(self.staged(f"{name}.parquet"), compression="zstd", statistics=True)
        return frame.height

    def sink_table(self, name: str, lazy: pl.LazyFrame) -> None:
        """Stream a lazy frame to ``<name>.parquet`` without collecting it in memory."""
        from c2m_cli import contract

        contract.validate_schema(name, lazy.collect_schema(), writing=True)
        # zstd level 1: ~1.5x faster to write than the default level 3 for ~7% larger files
        # (benchmarks/ingest.py); a fixed codec and level keep outputs byte-identical.
        lazy.sink_parquet(
            self.staged(f"{name}.parquet"), compression="zstd", compression_level=1, statistics=True
        )

    def write_json(self, relpath: str, obj: Any) -> None:
        self.staged(relpath).write_text(dumps_json(obj), encoding="utf-8")

    def write_text(self, relpath: str, text: str) -> None:
        self.staged(relpath).write_text(text, encoding="utf-8")

    def remove_output(self, relpath: str) -> None:
        """Declare that an output of an earlier run must not survive this one."""
        self.workspace._stale.append(relpath)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _parquet_schema(path: Path, label: str) -> pl.Schema:
    """The schema in a Parquet file's footer; a damaged (e.g. truncated) file is exit 3."""
    try:
        return pl.Schema(pl.read_parquet_schema(path))
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise InvalidDataError(f"{label}: not a readable Parquet file ({_first_line(exc)})") from exc


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
        # `c2m run` sets this for its next step: skip it when nothing it depends on changed
        self.skip_unchanged = False
        self._active: Step | None = None
        self._held: dict[Path, int] = {}  # private directories this process holds (fd of the flock)

    # -- paths -------------------------------------------------------------------------------
    def table_path(self, name: str) -> Path:
        return self.root / f"{name}.parquet"

    def has(self, name: str) -> bool:
        present = self.table_path(name).is_file()
        if not present and self._active is not None:
            self._active.note_absent(f"{name}.parquet")
        return present

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
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InvalidDataError(f"{self.manifest_path}: not a readable manifest ({exc})") from exc
        if not isinstance(data, dict):
            raise InvalidDataError(f"{self.manifest_path}: not a readable manifest (not a JSON object)")
        data.setdefault("steps", [])
        return dict(data)

    def set_manifest_field(self, key: str, value: Any) -> None:
        """Set a top-level field outside any step (inside a step use ``step.set_manifest_field``)."""
        with self.locked():
            data = self.manifest()
            data[key] = value
            write_bytes_atomic(dumps_json(data).encode("utf-8"), self.manifest_path)

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the workspace's exclusive lock (an ``flock`` on the directory itself)."""
        fd = os.open(self.root, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the lock

    def latest_producer(self, relpath: str, manifest: dict[str, Any] | None = None) -> dict[str, Any] | None:
        """The latest manifest entry that wrote ``relpath``."""
        for entry in reversed((manifest or self.manifest()).get("steps", [])):
            if any(o.get("path") == relpath for o in entry.get("outputs", [])):
                return dict(entry)
        return None

    def check_current(self, path: Path) -> None:
        """Exit 4 unless ``path`` was produced from the workspace files now present (DESIGN.md)."""
        relpath = self.relative(path)
        entry = self.latest_producer(relpath)
        if entry is None:  # not made by c2m (or before manifests): nothing to compare with
            return
        command = f"run c2m {entry.get('command')} {self.root}"
        for record in entry.get("inputs", []):
            name = str(record.get("path"))
            if os.path.isabs(name):  # a source outside the workspace (ingest): not a workspace file
                continue
            current = self.root / name
            if record.get("sha256") is None:
                if current.is_file():
                    raise MissingPrerequisiteError(
                        f"{relpath} was computed without {name}, which is now in the workspace: {command}"
                    )
                continue
            if not current.is_file():
                raise MissingPrerequisiteError(
                    f"{relpath} was computed from {name}, which is no longer in the workspace: {command}"
                )
            if sha256_of(current) != record["sha256"]:
                raise MissingPrerequisiteError(f"{relpath} is older than {name}: {command}")

    def unchanged_entry(self, command: str, parameters: dict[str, Any], seed: int) -> dict[str, Any] | None:
        """The latest entry of ``command`` with these parameters whose inputs and outputs are intact.

        The rule of ``c2m run`` (DESIGN.md): same command, parameters, seed and c2m version, every
        recorded input with its recorded hash (an optional input that was absent still absent), every
        recorded output still on disk with its hash. A step with a masked (secret) parameter is never
        skipped: its secret cannot be compared.
        """
        wanted = {k: mask_value(v, name=k) for k, v in parameters.items()}
        if MASK in json.dumps(wanted, default=str):
            return None
        for entry in reversed(self.manifest().get("steps", [])):
            if entry.get("command") != command:
                continue
            if entry.get("parameters") != json.loads(json.dumps(wanted, default=str)):
                continue
            if entry.get("seed") != seed or entry.get("c2m_version") != __version__:
                return None
            if not all(self._matches(r) for r in entry.get("inputs", [])):
                return None
            if not all(self._matches(r) for r in entry.get("outputs", [])):
                return None
            return dict(entry)
        return None

    def _matches(self, record: dict[str, Any]) -> bool:
        name = str(record.get("path"))
        path = Path(name) if os.path.isabs(name) else self.root / name
        if record.get("sha256") is None:
            return not path.exists()
        return path.is_file() and sha256_of(path) == record["sha256"]

    # -- private directories -------------------------------------------------------------------
    def private_dir(self, kind: str) -> Path:
        """A hidden working directory ``.<kind>-*`` held by this process until it is removed."""
        self._release_gone()
        with self.locked():
            path = Path(tempfile.mkdtemp(prefix=f".{kind}-", dir=self.root))
            os.chmod(path, dir_mode())
            fd = os.open(path, os.O_RDONLY)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            self._held[path] = fd
        return path

    def _release(self, path: Path) -> None:
        fd = self._held.pop(path, None)
        if fd is not None:
            os.close(fd)

    def _release_gone(self) -> None:
        for path in [p for p in self._held if not p.exists()]:
            self._release(path)

    def clear_stale(self) -> list[str]:
        """Remove private directories (and temp files) left by killed runs; return their names."""
        cleared: list[str] = []
        with self.locked():
            for path in sorted(self.root.iterdir()):
                name = path.name
                if path.is_dir() and name.startswith(PRIVATE_PREFIXES):
                    if path in self._held or _held_elsewhere(path):
                        continue
                    shutil.rmtree(path, ignore_errors=True)
                    cleared.append(name)
                elif path.is_file() and name.startswith(f".{MANIFEST_NAME}.") and name.endswith(".tmp"):
                    # written only under the lock we hold: nobody is writing it now
                    path.unlink(missing_ok=True)
                    cleared.append(name)
        return cleared

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
        skip, self.skip_unchanged = self.skip_unchanged, False
        if skip:
            entry = self.unchanged_entry(command, parameters, seed)
            if entry is not None:
                raise StepUnchanged(command, entry)
        cleared = self.clear_stale()
        staging = self.private_dir(f"staging-{command}")
        step = Step(self, command, dict(parameters), seed, argv, staging, via=via)
        if cleared:
            step.warn(
                "stale-staging-cleared",
                f"removed {len(cleared)} staging item(s) left by an interrupted run: {', '.join(cleared[:5])}",
            )
        self._stale = []
        self._active = step
        started = time.perf_counter()
        try:
            yield step
            self._active = None
            self._commit(step, wall_time=time.perf_counter() - started)
        finally:
            self._active = None
            shutil.rmtree(staging, ignore_errors=True)
            self._release(staging)

    def _commit(self, step: Step, *, wall_time: float) -> None:
        records: list[FileRecord] = []
        for relpath in sorted(step.outputs):
            staged = step.staging / relpath
            rows = parquet_rows(staged) if staged.suffix == ".parquet" else None
            records.append(FileRecord(relpath, sha256_of(staged), rows))
        entry: dict[str, Any] = {
            "command": step.command,
            "c2m_version": __version__,
            "parameters": {k: mask_value(v, name=k) for k, v in step.parameters.items()},
            "seed": step.seed,
            # an absence the step itself ends (it writes the file) is no input
            "inputs": [
                r.as_dict()
                for r in sorted(step.inputs, key=lambda r: r.path)
                if not (r.sha256 is None and r.path in step.outputs)
            ],
            "outputs": [r.as_dict() for r in records],
            "wall_time_s": round(wall_time, 3),
            "warnings": mask_value(step.warnings.as_list()),
        }
        if step.argv is not None:
            entry["argv"] = mask_argv(step.argv)
        if step.via:
            entry["via"] = step.via
        backup = step.staging / ".c2m-replaced"
        moved: list[tuple[Path, Path | None]] = []  # (placed or removed path, where its old copy is)
        with self.locked():
            try:
                for index, relpath in enumerate(step.outputs):
                    target = self.root / relpath
                    target.parent.mkdir(parents=True, exist_ok=True)
                    saved = _set_aside(target, backup / f"out{index}")
                    moved.append((target, saved))
                    os.replace(step.staging / relpath, target)
                for index, relpath in enumerate(self._stale):
                    if relpath in step.outputs:
                        continue
                    stale = self.root / relpath
                    saved = _set_aside(stale, backup / f"stale{index}")
                    if saved is not None:
                        moved.append((stale, saved))
                data = self.manifest()
                data["c2m_manifest_version"] = MANIFEST_VERSION
                data.update(step.manifest_fields)
                data["steps"].append(entry)
                write_bytes_atomic(dumps_json(data).encode("utf-8"), self.manifest_path)
            except BaseException:
                for target, saved in reversed(moved):  # outputs and entry land together or not at all
                    if target.is_dir() and not target.is_symlink():
                        shutil.rmtree(target, ignore_errors=True)
                    else:
                        target.unlink(missing_ok=True)
                    if saved is not None:
                        os.replace(saved, target)
                raise
        self.run_warnings.extend(step.warnings)


def _set_aside(path: Path, where: Path) -> Path | None:
    """Move an existing ``path`` to ``where`` (to restore it on failure); None when absent."""
    if not path.exists() and not path.is_symlink():
        return None
    where.parent.mkdir(parents=True, exist_ok=True)
    os.replace(path, where)
    return where


def _held_elsewhere(path: Path) -> bool:
    """Whether a live process holds the directory's flock (a killed one released it)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return True
        raise
    finally:
        os.close(fd)
    return False


def _jsonable(value: Any) -> Any:
    """Kept for callers of the old name: a JSON-able value with secrets masked."""
    return mask_value(value)
