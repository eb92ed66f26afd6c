"""Reading sources: files, globs, directories and database URIs, into lazy frames with line numbers.

Text files (CSV/TSV/TXT) are read lazily by polars with every column as text; their encoding
(UTF-8 with or without BOM, GB18030/GBK) is found by decoding the whole file in a streaming pass
that also counts physical lines, and non-UTF-8 or whitespace-separated files are rewritten as
UTF-8 in streaming chunks into a temporary file. The delimiter is sniffed from the first lines.

Every source frame carries ``_line``: the physical line of the source (header = line 1) for
text and Excel files, the 1-based row number for Parquet, JSON lines and databases. When a
text file has records spanning lines (quoted newlines), the line numbers are found with the
``csv`` module instead (``exact_text_frame``).
"""

from __future__ import annotations

import codecs
import csv
import glob
import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import polars as pl

from c2m_cli.errors import InvalidDataError, UsageError

TEXT_SUFFIXES = {".csv", ".tsv", ".txt", ".dat", ".text"}
PARQUET_SUFFIXES = {".parquet", ".pq"}
JSON_SUFFIXES = {".jsonl", ".ndjson", ".json"}
EXCEL_SUFFIXES = {".xlsx", ".xlsm", ".xls"}
KNOWN_SUFFIXES = TEXT_SUFFIXES | PARQUET_SUFFIXES | JSON_SUFFIXES | EXCEL_SUFFIXES

EXTRA_FIELD = "__c2m_extra__"
LINE = "_line"
CHUNK = 1 << 22
DELIMITERS = [",", "\t", ";", "|"]
WHITESPACE = "whitespace"


@dataclass
class RawSource:
    """One readable unit of a SRC: a lazy frame of source columns plus ``_line``."""

    label: str  # how messages and rejects name the file
    path: Path | None
    kind: str  # csv | parquet | ndjson | excel | db
    frame: pl.LazyFrame
    columns: list[str]
    # For text: the number of records if every physical line is one record (checked after
    # reading), and how to re-read the file exactly when it is not.
    expected_records: int | None = None
    exact: Callable[[], pl.LazyFrame] | None = None


def is_database_uri(src: str) -> bool:
    return bool(re.match(r"^[a-z][a-z0-9+]*://", src)) and not src.startswith("file://")


def resolve_paths(src: str, table: str) -> list[Path]:
    """The files a SRC names: a file, a glob or a directory (files with known suffixes)."""
    if any(ch in src for ch in "*?["):
        found = sorted(Path(p) for p in glob.glob(src, recursive=True) if Path(p).is_file())
        if not found:
            raise UsageError(f"--{table} {src}: no file matches this pattern")
        return found
    path = Path(src)
    if not path.exists():
        raise UsageError(f"--{table} {src}: no such file or directory")
    if path.is_dir():
        found = sorted(
            p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in KNOWN_SUFFIXES
            and not p.name.startswith(".")
        )
        if not found:
            raise UsageError(f"--{table} {src}: the directory holds no CSV, Parquet, JSON lines or Excel file")
        return found
    return [path]


# -- text ------------------------------------------------------------------------------------


@dataclass
class TextProbe:
    encoding: str  # utf-8 | utf-8-sig | gb18030
    lines: int  # physical lines
    sample: str  # decoded start of the file


def probe_text(path: Path) -> TextProbe:
    """Find the encoding by decoding the whole file (streaming) and count its physical lines."""
    size = path.stat().st_size
    if size == 0:
        raise InvalidDataError(f"{path}: the file is empty")
    with path.open("rb") as handle:
        head = handle.read(4)
    encoding = "utf-8-sig" if head.startswith(codecs.BOM_UTF8) else "utf-8"
    try:
        lines, sample = _decode_pass(path, encoding)
    except UnicodeDecodeError:
        encoding = "gb18030"
        try:
            lines, sample = _decode_pass(path, encoding)
        except UnicodeDecodeError as exc:
            raise InvalidDataError(
                f"{path}: not readable text (neither UTF-8 nor GB18030; byte {exc.start} of a block)"
            ) from exc
    if "\x00" in sample:
        raise InvalidDataError(f"{path}: not a text file (it contains NUL bytes); is it corrupt or binary?")
    return TextProbe(encoding, lines, sample)


def _decode_pass(path: Path, encoding: str) -> tuple[int, str]:
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    newlines = 0
    sample_parts: list[str] = []
    sample_len = 0
    last = b""
    with path.open("rb") as handle:
        while block := handle.read(CHUNK):
            text = decoder.decode(block)
            if sample_len < 1 << 16:
                sample_parts.append(text[: (1 << 16) - sample_len])
                sample_len += len(sample_parts[-1])
            newlines += block.count(b"\n")
            last = block[-1:]
        decoder.decode(b"", final=True)
    lines = newlines + (1 if last and last != b"\n" else 0)
    return lines, "".join(sample_parts)


def sniff_delimiter(sample: str) -> str:
    """The delimiter used consistently in the first lines; ``whitespace`` for aligned text."""
    lines = [line for line in sample.splitlines()[:50] if line.strip()]
    if len(sample) >= 1 << 16 and len(lines) > 1:
        lines = lines[:-1]  # the last line of a sample may be cut
    if not lines:
        return ","
    best, best_score = ",", 0.0
    for delimiter in DELIMITERS:
        counts = [_count_outside_quotes(line, delimiter) for line in lines]
        mode = max(set(counts), key=counts.count)
        if mode == 0:
            continue
        score = counts.count(mode) / len(counts) + (0.01 if delimiter == "\t" else 0)
        if score > best_score:
            best, best_score = delimiter, score
    if best_score >= 0.5:
        return best
    fields = [len(line.split()) for line in lines]
    if min(fields) >= 2 and max(fields) - min(fields) <= 1:
        return WHITESPACE
    return ","


def _count_outside_quotes(line: str, delimiter: str) -> int:
    return len(re.sub(r'"[^"]*"', "", line).split(delimiter)) - 1


def _split_header(line: str, delimiter: str) -> list[str]:
    if delimiter == WHITESPACE:
        return line.split()
    row = next(csv.reader([line], delimiter=delimiter), [])
    return [name.strip().lstrip("\ufeff") for name in row]


def _looks_like_data(fields: list[str]) -> bool:
    return bool(fields) and all(re.fullmatch(r"[-+\d.,:/ ]+", f.strip() or "x") for f in fields)


def _unique_names(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for index, name in enumerate(names):
        name = name or f"column_{index + 1}"
        if name in seen:
            seen[name] += 1
            name = f"{name}_{seen[name]}"
        else:
            seen[name] = 1
        out.append(name)
    return out


def _transcode(path: Path, encoding: str, whitespace: bool, tmpdir: Path) -> Path:
    """Rewrite as UTF-8 (and whitespace runs as tabs) in streaming chunks; lines are kept."""
    target = Path(tmpdir) / f"{len(list(Path(tmpdir).iterdir()))}-{path.stem}.utf8.csv"
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    pending = ""
    with path.open("rb") as source, target.open("w", encoding="utf-8", newline="") as out:
        while True:
            block = source.read(CHUNK)
            text = pending + decoder.decode(block, final=not block)
            if block:
                cut = text.rfind("\n") + 1
                text, pending = text[:cut], text[cut:]
            if whitespace:
                text = re.sub(r"[ \t]+", "\t", text)
                text = re.sub(r"(?m)^\t|\t(?=\r?$)", "", text)
            out.write(text)
            if not block:
                break
    return target


def open_text(path: Path, label: str, read: dict[str, Any], tmpdir: Path) -> RawSource:
    probe = probe_text(path)
    encoding = read.get("encoding")
    if encoding:
        encoding = {"gbk": "gb18030", "gb2312": "gb18030", "utf8": "utf-8"}.get(encoding.lower(), encoding.lower())
        if encoding == "utf-8" and probe.encoding == "utf-8-sig":
            encoding = "utf-8-sig"
    else:
        encoding = probe.encoding
    delimiter = read.get("delimiter") or sniff_delimiter(probe.sample)
    if delimiter in {"\\t", "tab"}:
        delimiter = "\t"
    whitespace = delimiter == WHITESPACE
    first_line = probe.sample.lstrip("\ufeff").split("\n", 1)[0].rstrip("\r")
    first_fields = _split_header(first_line, delimiter)
    header = read.get("header", "auto")
    has_header = not _looks_like_data(first_fields) if header == "auto" else bool(header)
    names_option = read.get("names")
    if has_header:
        names = _unique_names(first_fields)
    else:
        count = len(first_fields)
        if isinstance(names_option, dict):
            chosen = names_option.get(count) or names_option.get(str(count))
            if chosen is None:
                raise InvalidDataError(
                    f"{label}: line 1 has {count} fields; expected one of {sorted(names_option)}"
                )
            names = list(chosen)
        elif isinstance(names_option, list):
            names = list(names_option)
        else:
            names = [f"column_{i + 1}" for i in range(count)]
    readable = path
    if encoding != "utf-8" or whitespace:
        readable = _transcode(path, encoding, whitespace, tmpdir)
    separator = "\t" if whitespace else delimiter
    if len(separator) != 1:
        raise UsageError(f"{label}: delimiter must be one character or \"whitespace\", got {delimiter!r}")
    header_lines = 1 if has_header else 0
    schema = {name: pl.String for name in [*names, EXTRA_FIELD]}
    frame = pl.scan_csv(
        readable,
        has_header=False,
        skip_rows=header_lines,
        separator=separator,
        schema=schema,
        truncate_ragged_lines=True,
        empty_string_is_null=False,
        missing_columns="insert",
        encoding="utf8",
        raise_if_empty=False,
    ).with_row_index(LINE, offset=0)
    frame = frame.with_columns((pl.col(LINE).cast(pl.Int64) + 1 + header_lines).alias(LINE))

    def exact() -> pl.LazyFrame:
        return exact_text_frame(readable, separator, names, header_lines, label)

    return RawSource(
        label=label,
        path=path,
        kind="csv",
        frame=frame,
        columns=names,
        expected_records=probe.lines - header_lines,
        exact=exact,
    )


def exact_text_frame(path: Path, separator: str, names: list[str], header_lines: int, label: str) -> pl.LazyFrame:
    """Parse with the csv module, recording the first physical line of every record."""
    width = len(names)
    columns: list[list[str | None]] = [[] for _ in range(width + 1)]
    lines: list[int] = []
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle, delimiter=separator, quotechar='"', strict=False)
        previous = 0
        try:
            for record in reader:
                start = previous + 1
                previous = reader.line_num
                if start <= header_lines:
                    continue
                lines.append(start)
                for i in range(width):
                    columns[i].append(record[i] if i < len(record) else "")
                columns[width].append(",".join(record[width:]) if len(record) > width else "")
        except csv.Error as exc:
            raise InvalidDataError(f"{label}: line {reader.line_num}: unreadable CSV ({exc})") from exc
    data: dict[str, Any] = {LINE: pl.Series(LINE, lines, dtype=pl.Int64)}
    for i, name in enumerate([*names, EXTRA_FIELD]):
        data[name] = pl.Series(name, columns[i], dtype=pl.String)
    return pl.DataFrame(data).select([*names, EXTRA_FIELD, LINE]).lazy()


# -- binary and structured formats -----------------------------------------------------------


def _with_row_numbers(frame: pl.LazyFrame, offset: int) -> pl.LazyFrame:
    return frame.with_row_index(LINE, offset=0).with_columns(
        (pl.col(LINE).cast(pl.Int64) + offset).alias(LINE)
    )


def open_parquet(path: Path, label: str) -> RawSource:
    try:
        frame = pl.scan_parquet(path)
        columns = frame.collect_schema().names()
    except Exception as exc:
        raise InvalidDataError(f"{label}: not a readable Parquet file ({_first_line(exc)})") from exc
    return RawSource(label, path, "parquet", _with_row_numbers(frame, 1), columns)


def open_ndjson(path: Path, label: str) -> RawSource:
    try:
        frame = pl.read_ndjson(path, infer_schema_length=None).lazy()
        columns = frame.collect_schema().names()
    except Exception as exc:
        raise InvalidDataError(f"{label}: not readable JSON lines ({_first_line(exc)})") from exc
    return RawSource(label, path, "ndjson", _with_row_numbers(frame, 1), columns)


def open_excel(path: Path, label: str, read: dict[str, Any]) -> RawSource:
    sheet = read.get("sheet")
    options: dict[str, Any] = {"sheet_name": sheet} if isinstance(sheet, str) else {"sheet_id": int(sheet or 1)}
    try:
        frame = pl.read_excel(
            path, engine="calamine", infer_schema_length=None, drop_empty_rows=False,
            drop_empty_cols=False, raise_if_empty=False, **options,
        )
    except Exception as exc:
        raise InvalidDataError(f"{label}: not a readable Excel workbook ({_first_line(exc)})") from exc
    return RawSource(label, path, "excel", _with_row_numbers(frame.lazy(), 2), frame.columns)


def open_database(uri: str, table: str) -> RawSource:
    parsed = urlparse(uri)
    if parsed.scheme != "sqlite":
        raise UsageError(f"--{table} {uri}: only sqlite:///path.db?table=… or ?query=… URIs are supported")
    db_path = Path(unquote(parsed.path[1:] if parsed.path.startswith("//") else parsed.path))
    if parsed.netloc:
        db_path = Path(parsed.netloc + parsed.path)
    if not db_path.is_file():
        raise UsageError(f"--{table} {uri}: no such database file {db_path}")
    params = {k: v[0] for k, v in parse_qs(parsed.query).items()}
    if "query" in params:
        query = params["query"]
    elif "table" in params:
        query = f'SELECT * FROM "{params["table"].replace(chr(34), "")}"'
    else:
        raise UsageError(f"--{table} {uri}: add ?table=NAME or ?query=SELECT… to the URI")
    try:
        connection = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
        try:
            frame = pl.read_database(query, connection, infer_schema_length=None)
        finally:
            connection.close()
    except Exception as exc:
        raise InvalidDataError(f"{db_path}: cannot read {query!r} ({_first_line(exc)})") from exc
    return RawSource(str(db_path), db_path, "db", _with_row_numbers(frame.lazy(), 1), frame.columns)


def open_sources(src: str, table: str, read: dict[str, Any], tmpdir: Path) -> list[RawSource]:
    """Every readable unit of one SRC, in a stable order."""
    if is_database_uri(src):
        return [open_database(src, table)]
    sources = []
    for path in resolve_paths(src, table):
        label = str(path)
        suffix = path.suffix.lower()
        if suffix in PARQUET_SUFFIXES:
            sources.append(open_parquet(path, label))
        elif suffix in {".jsonl", ".ndjson"} or (suffix == ".json" and _is_json_lines(path)):
            sources.append(open_ndjson(path, label))
        elif suffix in EXCEL_SUFFIXES:
            sources.append(open_excel(path, label, read))
        else:
            sources.append(open_text(path, label, read, tmpdir))
    return sources


def _is_json_lines(path: Path) -> bool:
    with path.open("rb") as handle:
        start = handle.read(64).lstrip()
    return start.startswith(b"{")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


__all__ = [
    "EXTRA_FIELD",
    "LINE",
    "RawSource",
    "exact_text_frame",
    "open_sources",
    "probe_text",
    "resolve_paths",
    "sniff_delimiter",
]
