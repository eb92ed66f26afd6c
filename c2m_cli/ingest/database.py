"""Database sources: ``sqlite:///path.db``, ``postgresql://…`` and ``mysql://…`` URIs, streamed.

A URI names one table (``?table=NAME``, ``schema.name`` allowed) or one query
(``?query=SELECT…``, URL-encoded). Rows are fetched in batches — a server-side cursor for
PostgreSQL (psycopg 3), an unbuffered cursor for MySQL/MariaDB (PyMySQL), ``fetchmany`` for
SQLite — and each batch is written to a Parquet part in the step's scratch folder, so the rows
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
from urllib.parse import parse_qs, unquote, urlparse

import polars as pl

from c2m_cli.errors import InvalidDataError, UsageError
from c2m_cli.ingest.readers import (
    LINE,
    RawSource,
    _first_line,
    _scan_parts,
    _stage_batches,
    _unique_names,
    with_read_columns,
)
from c2m_cli.workspace import mask_secrets

BATCH_ROWS = 50_000
CONNECT_TIMEOUT_S = 10
SCHEMES = {"sqlite": "sqlite", "postgresql": "postgresql", "postgres": "postgresql",
           "mysql": "mysql", "mariadb": "mysql"}
EXTRA_PARAMS = {"postgresql": {"sslmode", "connect_timeout", "application_name"},
                "mysql": {"charset", "connect_timeout"}, "sqlite": set()}


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


def _open_postgresql(uri: DatabaseUri, option: str, tmpdir: Path) -> RawSource:
    try:
        import psycopg
        from psycopg import sql
        from psycopg.types.string import TextLoader
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise UsageError(f"--{option} {uri.label}: the PostgreSQL driver (psycopg) is not installed") from exc
    settings: dict[str, Any] = {
        "host": uri.host, "port": uri.port or 5432, "dbname": uri.database,
        "connect_timeout": int(uri.params.pop("connect_timeout", CONNECT_TIMEOUT_S)), **uri.params,
    }
    if uri.user:
        settings["user"] = uri.user
    if uri.password is not None:
        settings["password"] = uri.password
    try:
        connection = psycopg.connect(**settings)
    except psycopg.Error as exc:
        raise UsageError(f"--{option} {uri.label}: cannot connect ({_masked(_first_line(exc), uri)})") from None
    # Values without a polars type of their own are read as their text (JSON stays JSON text).
    for name in ("uuid", "json", "jsonb", "inet", "cidr", "macaddr", "interval", "money", "xml"):
        connection.adapters.register_loader(name, TextLoader)
    try:
        if uri.query is not None:
            statement: Any = sql.SQL(uri.query)  # type: ignore[arg-type]
        else:
            statement = sql.SQL("SELECT * FROM {}").format(sql.Identifier(*str(uri.table).split(".")))
        with connection.cursor(name="c2m_ingest") as cursor:
            cursor.itersize = BATCH_ROWS
            try:
                cursor.execute(statement)
                first = cursor.fetchmany(BATCH_ROWS)
            except psycopg.Error as exc:
                raise UsageError(f"--{option} {uri.label}: the server refused the read ({_masked(_first_line(exc), uri)})") from None
            names = _unique_names([d.name for d in cursor.description or []])
            pending = [first]

            def fetch(size: int) -> Sequence[Sequence[Any]]:
                if pending:
                    return pending.pop()
                return cursor.fetchmany(size)

            try:
                parts = _stage_batches(_batches(fetch, names, uri), tmpdir, "postgresql")
            except psycopg.Error as exc:
                raise InvalidDataError(f"{uri.label}: reading failed ({_masked(_first_line(exc), uri)})") from None
    finally:
        connection.close()
    return _source(uri, names, parts, None)


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
            database=uri.database, charset=uri.params.get("charset", "utf8mb4"),
            connect_timeout=int(uri.params.get("connect_timeout", CONNECT_TIMEOUT_S)),
            cursorclass=pymysql.cursors.SSCursor,
        )
    except pymysql.MySQLError as exc:
        raise UsageError(f"--{option} {uri.label}: cannot connect ({_masked(_mysql_message(exc), uri)})") from None
    try:
        query = uri.query
        if query is None:
            query = "SELECT * FROM " + ".".join(f"`{part.replace('`', '``')}`" for part in str(uri.table).split("."))
        cursor = connection.cursor()
        try:
            try:
                cursor.execute(query)
            except pymysql.MySQLError as exc:
                raise UsageError(f"--{option} {uri.label}: the server refused the read ({_masked(_mysql_message(exc), uri)})") from None
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


__all__ = ["BATCH_ROWS", "DatabaseUri", "open_database", "parse_uri"]
