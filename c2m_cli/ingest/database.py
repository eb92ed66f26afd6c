"""Database sources: ``sqlite:///path.db``, ``postgresql://…`` and ``mysql://…`` URIs, streamed.

A URI names one table (``?table=NAME``, ``schema.name`` allowed) or one query
(``?query=SELECT…``, URL-encoded). Rows are fetched in batches — Arrow record batches from
ADBC's PostgreSQL driver (binary COPY underneath), connectorx's Arrow stream for MySQL/MariaDB
(after PyMySQL checked the login and the query), ``fetchmany`` for SQLite — and each batch is written to a Parquet part in the step's scratch folder, so the rows
reach coercion through the same lazy, streaming path as a file and memory stays bounded by the
batch, not the table.

Passwords come from the URI (``user:password@``) or from ``PGPASSWORD`` / ``MYSQL_PWD``. They
are never shown: messages name the URI with its password masked (``workspace.mask_secrets``)
and any echo of the password in a driver's message is masked too. A URI that cannot be used —
unknown scheme, no ``?table=``/``?query=``, a server that cannot be reached, a refused login,
an unknown table or a query the server rejects — is a usage error (exit 2); a row the driver
cannot convert is invalid data (exit 3).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode, urlparse

import polars as pl

from c2m_cli.errors import InvalidDataError, UsageError
from c2m_cli.ingest.readers import (
    LINE,
    READ_RAW,
    READ_REASON,
    RawSource,
    _first_line,
    _scan_parts,
    _stage_batches,
    _unique_names,
    flatten,
    with_read_columns,
)
from c2m_cli.workspace import mask_secrets

BATCH_ROWS = 50_000  # rows per batch (SQLite, MySQL)
BATCH_BYTES = 1 << 24  # bytes per Arrow batch (PostgreSQL)
CONNECT_TIMEOUT_S = 10
SCHEMES = {"sqlite": "sqlite", "postgresql": "postgresql", "postgres": "postgresql",
           "mysql": "mysql", "mariadb": "mysql"}
EXTRA_PARAMS = {"postgresql": {"sslmode", "connect_timeout", "application_name"},
                "mysql": {"connect_timeout"}, "sqlite": set()}


@dataclass
class DatabaseUri:
    scheme: str  # sqlite | postgresql | mysql
    label: str  # the URI with its password masked
    user: str | None
    password: str | None
    host: str | None
    port: int | None
    database: str
    table: str | None
    query: str | None
    params: dict[str, str]


def parse_uri(uri: str, option: str) -> DatabaseUri:
    """Split a database URI; a malformed one is a UsageError naming the option."""
    label = mask_secrets(uri)
    parsed = urlparse(uri)
    scheme = SCHEMES.get(parsed.scheme.split("+")[0].lower())
    if scheme is None:
        raise UsageError(
            f"--{option} {label}: unknown database scheme {parsed.scheme!r}"
            " (use sqlite:///path.db, postgresql://user@host/db or mysql://user@host/db)"
        )
    params = {k: v[-1] for k, v in parse_qs(parsed.query, keep_blank_values=True).items()}
    unknown = sorted(set(params) - {"table", "query"} - EXTRA_PARAMS[scheme])
    if unknown:
        raise UsageError(f"--{option} {label}: unknown URI parameter {unknown[0]!r} (use ?table=NAME or ?query=SELECT…)")
    table, query = params.pop("table", None), params.pop("query", None)
    if (table is None) == (query is None) or not (table or query):
        raise UsageError(f"--{option} {label}: add exactly one of ?table=NAME or ?query=SELECT… to the URI")
    if scheme == "sqlite":
        raw_path = unquote(parsed.netloc + parsed.path)
        database = raw_path[1:] if raw_path.startswith("//") else raw_path
        return DatabaseUri(scheme, label, None, None, None, None, database, table, query, params)
    try:
        port = parsed.port
    except ValueError:
        raise UsageError(f"--{option} {label}: the port is not a number") from None
    database = unquote(parsed.path.lstrip("/"))
    if not database:
        raise UsageError(f"--{option} {label}: name the database after the host (…@host:port/DATABASE)")
    password = unquote(parsed.password) if parsed.password is not None else None
    env = "PGPASSWORD" if scheme == "postgresql" else "MYSQL_PWD"
    if password is None and os.environ.get(env):
        password = os.environ[env]
    return DatabaseUri(
        scheme, label, unquote(parsed.username) if parsed.username else None, password,
        parsed.hostname or "localhost", port, database, table, query, params,
    )


def _masked(text: str, uri: DatabaseUri) -> str:
    text = mask_secrets(text)
    if uri.password:
        text = text.replace(uri.password, "***")
    return text


def _batches(
    fetch: Callable[[int], Sequence[Sequence[Any]]], names: list[str], uri: DatabaseUri
) -> Iterator[pl.DataFrame]:
    """Row batches as frames with ``_line`` (the 1-based row number)."""
    start = 1
    while True:
        rows = fetch(BATCH_ROWS)
        if not rows:
            return
        try:
            frame = pl.DataFrame(
                [tuple(row) for row in rows], schema=names, orient="row", infer_schema_length=None
            )
        except (pl.exceptions.PolarsError, TypeError, ValueError, OverflowError) as exc:
            raise InvalidDataError(
                f"{uri.label}: rows {start}–{start + len(rows) - 1} cannot be converted ({_masked(_first_line(exc), uri)})"
            ) from exc
        objects = [n for n, d in frame.schema.items() if d == pl.Object]
        if objects:
            frame = frame.with_columns(
                pl.Series(n, [None if v is None else str(v) for v in frame[n].to_list()], dtype=pl.String)
                for n in objects
            )
        yield frame.with_columns(pl.int_range(start, start + frame.height, dtype=pl.Int64).alias(LINE))
        start += frame.height


def _source(uri: DatabaseUri, names: list[str], parts: list[Path], path: Path | None) -> RawSource:
    if not parts:
        empty: dict[str, Any] = {name: pl.Series(name, [], dtype=pl.String) for name in names}
        empty[LINE] = pl.Series(LINE, [], dtype=pl.Int64)
        frame = with_read_columns(pl.DataFrame(empty).lazy())
    else:
        frame = _scan_parts(parts)
        names = [c for c in frame.collect_schema().names() if c not in {LINE, READ_REASON, READ_RAW}]
    return RawSource(uri.label if path is None else str(path), path, "db", frame, names)


# -- SQLite ------------------------------------------------------------------------------------


def _open_sqlite(uri: DatabaseUri, option: str, tmpdir: Path) -> RawSource:
    db_path = Path(uri.database)
    if not db_path.is_file():
        raise UsageError(f"--{option} {uri.label}: no such database file {db_path}")
    query = uri.query or f'SELECT * FROM "{(uri.table or "").replace(chr(34), "")}"'
    try:
        connection = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise UsageError(f"{db_path}: cannot open the database ({exc})") from exc
    try:
        try:
            cursor = connection.execute(query)
        except sqlite3.Error as exc:
            raise UsageError(f"{db_path}: cannot read {query!r} ({_first_line(exc)})") from exc
        names = _unique_names([d[0] for d in cursor.description or []])
        try:
            parts = _stage_batches(_batches(cursor.fetchmany, names, uri), tmpdir, db_path.stem)
        except sqlite3.Error as exc:
            raise InvalidDataError(f"{db_path}: cannot read {query!r} ({_first_line(exc)})") from exc
    finally:
        connection.close()
    return _source(uri, names, parts, db_path)


# -- PostgreSQL --------------------------------------------------------------------------------


def _postgres_uri(uri: DatabaseUri) -> str:
    """A libpq URI with every part quoted (the password never leaves this function unmasked)."""
    auth = quote(uri.user or "", safe="")
    if uri.password is not None:
        auth += ":" + quote(uri.password, safe="")
    params = {"connect_timeout": str(CONNECT_TIMEOUT_S), **uri.params}
    host = f"[{uri.host}]" if uri.host and ":" in uri.host else uri.host
    return (f"postgresql://{auth}{'@' if auth else ''}{host}:{uri.port or 5432}/"
            f"{quote(uri.database, safe='')}?{urlencode(params)}")


def _open_postgresql(uri: DatabaseUri, option: str, tmpdir: Path) -> RawSource:
    """Arrow record batches from ADBC's PostgreSQL driver (COPY in binary underneath)."""
    try:
        import adbc_driver_manager
        import adbc_driver_postgresql.dbapi as dbapi
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise UsageError(f"--{option} {uri.label}: the PostgreSQL driver (adbc-driver-postgresql) is not installed") from exc
    try:
        connection = dbapi.connect(_postgres_uri(uri))
    except adbc_driver_manager.Error as exc:
        raise UsageError(f"--{option} {uri.label}: cannot connect ({_masked(_pg_message(exc), uri)})") from None
    try:
        if uri.query is not None:
            query = uri.query
        else:
            query = "SELECT * FROM " + ".".join('"' + part.replace('"', '""') + '"' for part in str(uri.table).split("."))
        cursor = connection.cursor()
        try:
            cursor.adbc_statement.set_options(**{"adbc.postgresql.batch_size_hint_bytes": str(BATCH_BYTES)})
            try:
                cursor.execute(query)
                reader = cursor.fetch_record_batch()
            except adbc_driver_manager.Error as exc:
                raise UsageError(f"--{option} {uri.label}: the server refused the read ({_masked(_pg_message(exc), uri)})") from None
            names = _unique_names(list(reader.schema.names))
            try:
                parts = _stage_batches(_arrow_batches(reader, names, uri), tmpdir, "postgresql")
            except adbc_driver_manager.Error as exc:
                raise InvalidDataError(f"{uri.label}: reading failed ({_masked(_pg_message(exc), uri)})") from None
        finally:
            cursor.close()
    finally:
        connection.close()
    return _source(uri, names, parts, None)


def _pg_message(exc: BaseException) -> str:
    """The driver's message without its ``IO: [libpq]`` prefixes, on one line."""
    text = " ".join(line.strip() for line in str(exc).strip().splitlines()[:1])
    for prefix in ("IO: ", "[libpq] ", "Failed to connect: "):
        text = text.removeprefix(prefix)
    return text or type(exc).__name__


def _arrow_batches(reader: Any, names: list[str], uri: DatabaseUri) -> Iterator[pl.DataFrame]:
    import pyarrow as pa

    start = 1
    for batch in reader:
        # numeric and types Arrow has no name for come as extension types: read their storage
        # (numeric as its decimal text, others as text or bytes)
        arrays = [c.storage if isinstance(c, pa.ExtensionArray) else c for c in batch.columns]
        uuids = [n for n, c in zip(names, batch.columns, strict=True) if str(c.type) == "extension<arrow.uuid>"]
        frame = pl.from_arrow(pa.RecordBatch.from_arrays(arrays, names=names))
        assert isinstance(frame, pl.DataFrame)
        if uuids:
            hexes = [pl.col(n).bin.encode("hex") for n in uuids]
            frame = frame.with_columns(
                pl.concat_str([h.str.slice(a, b - a) for a, b in ((0, 8), (8, 12), (12, 16), (16, 20), (20, 32))],
                              separator="-").alias(n)
                for n, h in zip(uuids, hexes, strict=True)
            )
        opaque = [n for n, d in frame.schema.items() if d == pl.Binary]  # bytes of unnamed types
        if opaque:
            frame = frame.with_columns(pl.col(opaque).cast(pl.String, strict=False))
        frame = flatten(frame)  # arrays as JSON text, composite values as a.b columns
        yield frame.with_columns(pl.int_range(start, start + frame.height, dtype=pl.Int64).alias(LINE))
        start += frame.height


# -- MySQL / MariaDB ---------------------------------------------------------------------------


def _open_mysql(uri: DatabaseUri, option: str, tmpdir: Path) -> RawSource:
    try:
        import pymysql
        import pymysql.cursors
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise UsageError(f"--{option} {uri.label}: the MySQL driver (PyMySQL) is not installed") from exc
    try:
        connection = pymysql.connect(
            host=uri.host, port=uri.port or 3306, user=uri.user or "root", password=uri.password or "",
            database=uri.database, charset="utf8mb4",
            connect_timeout=int(uri.params.get("connect_timeout", CONNECT_TIMEOUT_S)),
            cursorclass=pymysql.cursors.SSCursor,
        )
    except pymysql.MySQLError as exc:
        raise UsageError(f"--{option} {uri.label}: cannot connect ({_masked(_mysql_message(exc), uri)})") from None
    try:
        query = uri.query
        if query is None:
            query = "SELECT * FROM " + ".".join(f"`{part.replace('`', '``')}`" for part in str(uri.table).split("."))
        query = query.strip().rstrip(";")
        cursor = connection.cursor()
        try:
            try:  # the login, the table and the SQL are checked here, with the server's words
                cursor.execute(f"SELECT * FROM ({query}) AS c2m_source LIMIT 0")
                cursor.fetchall()
            except pymysql.MySQLError as exc:
                raise UsageError(f"--{option} {uri.label}: the server refused the read ({_masked(_mysql_message(exc), uri)})") from None
            stream = _connectorx_stream(uri, query)
            if stream is not None:
                names = _unique_names(list(stream.schema.names))
                try:
                    parts = _stage_batches(_arrow_batches(stream, names, uri), tmpdir, "mysql")
                except RuntimeError as exc:
                    raise InvalidDataError(f"{uri.label}: reading failed ({_masked(_first_line(exc), uri)})") from None
            else:
                cursor.execute(query)
                names = _unique_names([d[0] for d in cursor.description or []])
                try:
                    parts = _stage_batches(_batches(cursor.fetchmany, names, uri), tmpdir, "mysql")
                except pymysql.MySQLError as exc:
                    raise InvalidDataError(f"{uri.label}: reading failed ({_masked(_mysql_message(exc), uri)})") from None
        finally:
            cursor.close()
    finally:
        connection.close()
    return _source(uri, names, parts, None)


def _connectorx_stream(uri: DatabaseUri, query: str) -> Any:
    """Arrow record batches of ``query`` from connectorx (Rust, ~15x PyMySQL's rows), or None
    when connectorx is not installed (PyMySQL's unbuffered cursor is used then)."""
    os.environ.setdefault("RUST_LOG", "off")  # its connection pool would log to stderr
    try:
        import connectorx
    except ImportError:
        return None
    auth = quote(uri.user or "root", safe="") + ":" + quote(uri.password or "", safe="")
    address = f"mysql://{auth}@{uri.host}:{uri.port or 3306}/{quote(uri.database, safe='')}"
    try:
        return connectorx.read_sql(address, query, return_type="arrow_stream", batch_size=BATCH_ROWS)
    except RuntimeError as exc:
        raise InvalidDataError(f"{uri.label}: reading failed ({_masked(_first_line(exc), uri)})") from None


def _mysql_message(exc: BaseException) -> str:
    args: tuple[Any, ...] = tuple(getattr(exc, "args", ()))
    if len(args) >= 2 and isinstance(args[1], str):
        return f"{args[1]} [{args[0]}]"
    return _first_line(exc)


def open_database(src: str, option: str, tmpdir: Path) -> RawSource:
    """The rows of a database URI as a source (streamed in batches through Parquet parts)."""
    uri = parse_uri(src, option)
    if uri.scheme == "sqlite":
        return _open_sqlite(uri, option, tmpdir)
    if uri.scheme == "postgresql":
        return _open_postgresql(uri, option, tmpdir)
    return _open_mysql(uri, option, tmpdir)


__all__ = ["BATCH_BYTES", "BATCH_ROWS", "DatabaseUri", "open_database", "parse_uri"]
