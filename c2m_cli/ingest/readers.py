"""Reading sources: files, archives, globs, directories and database URIs, into lazy frames.

What a SRC may be (DESIGN.md): a file (CSV/TSV/TXT, Parquet, JSON lines or a JSON array,
Excel), optionally compressed (``.gz``, ``.zip`` with one or several members), a glob or a
directory of such files, or a database URI (``c2m_cli.ingest.database``). A file is known by
its first bytes before its name: a gzip or zip file named ``.csv`` is read decompressed.

Directories are walked once per real path: symlinked folders are followed but a folder already
seen (a symlink loop) is not entered again, a file reached twice is read once, hidden files and
the workspace being written (when it sits inside the SRC) are left out, and an empty file is
skipped with a note in the summary.

Text files are read lazily by polars with every column as text. The encoding (UTF-8 with or
without BOM, UTF-16 with BOM, GB18030/GBK, or ``[table.read] encoding``) is found by decoding
the whole file in a streaming pass that also counts physical lines (a UTF-8 file above
FAST_PROBE_BYTES: its head only, lines counted by polars, the rest checked by polars' UTF-8
reader, and the file opened again with the whole-file pass if that finds a non-UTF-8 byte
sequence; ``RawSource.reopen``); files that are not UTF-8,
are whitespace-aligned or end lines with a bare CR are rewritten as UTF-8 with LF in streaming
chunks into a temporary file. The delimiter is sniffed from the first lines. The header is the
first line unless ``skip_rows`` says how many lines stand above it, or a later line among the
first ones names more of the table's columns (an export with title lines above its header).

Every source frame carries ``_line``: the physical line of the source (header = line 1 when it
is the first line) for text and Excel files, the line for JSON lines, and the 1-based row
number for Parquet, JSON arrays and databases. A row the reader itself cannot use (a repeated
header line, an unterminated quote, a truncated JSON line) keeps its line with a reason in
``READ_REASON``; the step rejects it so that rows in = rows written + rows rejected.
"""

from __future__ import annotations

import codecs
import csv
import glob
import gzip
import io
import json
import os
import re
import shutil
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from c2m_cli.errors import InvalidDataError, UsageError

TEXT_SUFFIXES = {".csv", ".tsv", ".txt", ".dat", ".text"}
PARQUET_SUFFIXES = {".parquet", ".pq"}
JSON_SUFFIXES = {".jsonl", ".ndjson", ".json"}
EXCEL_SUFFIXES = {".xlsx", ".xlsm", ".xls"}
ARCHIVE_SUFFIXES = {".gz", ".zip"}
KNOWN_SUFFIXES = TEXT_SUFFIXES | PARQUET_SUFFIXES | JSON_SUFFIXES | EXCEL_SUFFIXES | ARCHIVE_SUFFIXES

EXTRA_FIELD = "__c2m_extra__"
READ_REASON = "__c2m_read_reason__"
READ_RAW = "__c2m_read_raw__"
LINE = "_line"
CHUNK = 1 << 22
# Above this size a file that starts as UTF-8 is not decoded whole in Python: its first CHUNK
# bytes are, its lines are counted on bytes, and polars' UTF-8 reader checks the rest.
FAST_PROBE_BYTES = 1 << 22
SAMPLE_ROWS = 10_000  # rows read for format, decimal and time-zone detection
JSON_BATCH_BYTES = 1 << 25  # JSON lines are parsed in batches of about this many bytes
EXCEL_STREAM_BYTES = 1 << 24  # workbooks above this size are streamed row by row (openpyxl)
EXCEL_BATCH_ROWS = 50_000
EXACT_BATCH_ROWS = 200_000  # records per part when text is re-read with the csv module
HEADER_SEARCH_LINES = 30
DELIMITERS = [",", "\t", ";", "|"]
WHITESPACE = "whitespace"
REPEATED_HEADER = "repeated header"

# [table.read] options (DESIGN.md): their meaning is checked by ``check_read_options``.
READ_KEYS = ("encoding", "delimiter", "decimal", "sheet", "skip_rows", "header", "names")

# A function scoring a candidate header row: 1.0 when it names every required column.
HeaderScore = Callable[[list[str]], float]


@dataclass
class RawSource:
    """One readable unit of a SRC: a lazy frame of source columns plus ``_line``."""

    label: str  # how messages and rejects name the file
    path: Path | None
    kind: str  # csv | parquet | ndjson | json | excel | db
    frame: pl.LazyFrame
    columns: list[str]
    # The number of records, where known before reading: for Parquet its metadata's row count;
    # for text the count if every physical line is one record (checked after reading), with
    # ``exact`` how to re-read the file when it is not. Sizes the duplicate check's hash table.
    expected_records: int | None = None
    exact: Callable[[], pl.LazyFrame] | None = None
    # The decimal separator of numbers written as text ("." or ","; [table.read] decimal).
    decimal: str = "."
    # Facts worth a line in the summary (title lines skipped, a file decompressed, …).
    notes: list[str] = field(default_factory=list)
    # For a big UTF-8 text file whose bytes past its head were not decoded in Python (polars'
    # reader checks them): the same file opened with the whole-file check, for when polars
    # finds a byte sequence that is not UTF-8 (a GB18030 file whose first megabytes are ASCII).
    reopen: Callable[[], RawSource] | None = None


@dataclass
class Opened:
    """The sources of one SRC and the notes about files that were skipped."""

    sources: list[RawSource]
    notes: list[str]


def is_database_uri(src: str) -> bool:
    return bool(re.match(r"^[a-z][a-z0-9+]*://", src)) and not src.startswith("file://")


# -- read options ----------------------------------------------------------------------------


def check_read_options(read: dict[str, Any], where: str) -> dict[str, Any]:
    """Check ``[table.read]``; every problem is a UsageError (exit 2) naming the key."""
    unknown = sorted(set(read) - set(READ_KEYS))
    if unknown:
        raise UsageError(f"{where}: unknown key {unknown[0]!r} (keys: {', '.join(READ_KEYS)})")
    out = dict(read)
    if "encoding" in read:
        value = read["encoding"]
        if not isinstance(value, str):
            raise UsageError(f"{where}: encoding must be a string such as \"gb18030\" or \"big5\"")
        try:
            codecs.lookup(_encoding_alias(value))
        except LookupError:
            raise UsageError(f"{where}: encoding {value!r} is not a known text encoding") from None
    if "delimiter" in read:
        value = read["delimiter"]
        if value in {"\\t", "tab"}:
            out["delimiter"] = "\t"
        elif not isinstance(value, str) or (len(value) != 1 and value != WHITESPACE):
            raise UsageError(
                f"{where}: delimiter must be one character (or \"tab\", \"whitespace\"), got {value!r}"
            )
        elif value in {'"', "\n", "\r"}:
            raise UsageError(f"{where}: delimiter {value!r} cannot separate fields")
    if "decimal" in read and read["decimal"] not in {".", ","}:
        raise UsageError(f"{where}: decimal must be \".\" or \",\", got {read['decimal']!r}")
    if "decimal" in read and read["decimal"] == out.get("delimiter"):
        raise UsageError(f"{where}: decimal and delimiter are both {read['decimal']!r}")
    if "sheet" in read:
        value = read["sheet"]
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise UsageError(f"{where}: sheet must be a sheet name or a 1-based index, got {value!r}")
        if isinstance(value, int) and value < 1:
            raise UsageError(f"{where}: sheet index counts from 1, got {value}")
    if "skip_rows" in read:
        value = read["skip_rows"]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise UsageError(f"{where}: skip_rows must be a whole number ≥ 0, got {value!r}")
    if "header" in read and read["header"] not in {True, False, "auto"}:
        raise UsageError(f"{where}: header must be true, false or \"auto\", got {read['header']!r}")
    return out


def _encoding_alias(name: str) -> str:
    lowered = name.strip().lower()
    return {"gbk": "gb18030", "gb2312": "gb18030", "utf8": "utf-8", "cp936": "gb18030"}.get(lowered, lowered)


# -- which files ------------------------------------------------------------------------------


def _inside(path: Path, roots: list[Path]) -> bool:
    real = Path(os.path.realpath(path))
    return any(real == root or root in real.parents for root in roots)


def _walk(directory: Path, excluded: list[Path]) -> Iterator[Path]:
    """Files under ``directory``, following symlinked folders but entering each real folder once."""
    seen: set[str] = set()
    pending = [directory]
    while pending:
        current = pending.pop()
        real = os.path.realpath(current)
        if real in seen or _inside(current, excluded):
            continue
        seen.add(real)
        try:
            entries = sorted(os.scandir(current), key=lambda e: e.name)
        except OSError:
            continue
        subdirs = []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                if entry.is_dir(follow_symlinks=True):
                    subdirs.append(Path(entry.path))
                elif entry.is_file(follow_symlinks=True):
                    yield Path(entry.path)
            except OSError:  # a dangling or looping symlink
                continue
        pending.extend(reversed(subdirs))


def resolve_paths(src: str, table: str, exclude: list[Path] | None = None) -> list[Path]:
    """The files a SRC names: a file, a glob or a directory (files with known suffixes).

    Each real file once (symlinks resolved), in path order; files inside ``exclude`` (the
    workspace) are left out.
    """
    excluded = [Path(os.path.realpath(p)) for p in exclude or []]
    if any(ch in src for ch in "*?["):
        candidates = [Path(p) for p in sorted(glob.glob(src, recursive=True))]
        found = [p for p in candidates if p.is_file() and not _inside(p, excluded)]
        if not found:
            raise UsageError(f"--{table} {src}: no file matches this pattern")
    else:
        path = Path(src)
        if not path.exists():
            raise UsageError(f"--{table} {src}: no such file or directory")
        if not path.is_dir():
            return [path]
        found = [p for p in _walk(path, excluded) if p.suffix.lower() in KNOWN_SUFFIXES]
        found.sort(key=lambda p: str(p.relative_to(path)))
        if not found:
            raise UsageError(
                f"--{table} {src}: the directory holds no CSV, Parquet, JSON, Excel, .gz or .zip file"
            )
    unique: list[Path] = []
    reals: set[str] = set()
    for p in found:
        real = os.path.realpath(p)
        if real not in reals:
            reals.add(real)
            unique.append(p)
    return unique


# -- text ------------------------------------------------------------------------------------


@dataclass
class TextProbe:
    encoding: str  # a Python codec name
    lines: int  # physical lines
    sample: str  # decoded start of the file (up to 64 KiB), line ends as LF
    cr_only: bool = False  # lines end with a bare CR (old Mac exports)
    blank: bool = False  # nothing but whitespace
    checked: bool = True  # every byte was decoded (False: only the head, see FAST_PROBE_BYTES)


def _bom_encoding(head: bytes) -> str | None:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    return None


def probe_text(
    path: Path, label: str | None = None, encoding: str | None = None, *, fast: bool = True
) -> TextProbe:
    """Find the encoding by decoding the whole file (streaming) and count its physical lines.

    ``fast``: a file above FAST_PROBE_BYTES without a byte-order mark whose head is UTF-8 is
    taken as UTF-8 with its lines counted on bytes (``checked`` False: the reader checks the rest).
    """
    label = label or str(path)
    size = path.stat().st_size
    if size == 0:
        raise InvalidDataError(f"{label}: the file is empty")
    with path.open("rb") as handle:
        head = handle.read(4)
    bom = _bom_encoding(head)
    utf8 = encoding is None or _encoding_alias(encoding) in {"utf-8", "utf_8"}
    if fast and utf8 and bom is None and size > FAST_PROBE_BYTES:
        quick = _utf8_head_probe(path)
        if quick is not None and "\x00" not in quick.sample:
            return quick
    if encoding is not None:
        chosen = _encoding_alias(encoding)
        if bom == "utf-8-sig" and chosen in {"utf-8", "utf_8"}:
            chosen = "utf-8-sig"
        if bom == "utf-16" and chosen.startswith("utf-16"):
            chosen = "utf-16"
        try:
            probe = _decode_pass(path, chosen)
        except UnicodeDecodeError as exc:
            raise InvalidDataError(
                f"{label}: not readable as {encoding} ({exc.reason} in a block at byte {exc.start});"
                " check [read] encoding"
            ) from exc
    elif bom is not None:
        try:
            probe = _decode_pass(path, bom)
        except UnicodeDecodeError as exc:
            raise InvalidDataError(f"{label}: starts with a {bom} byte-order mark but is not {bom} text") from exc
    else:
        try:
            probe = _decode_pass(path, "utf-8")
        except UnicodeDecodeError:
            try:
                probe = _decode_pass(path, "gb18030")
            except UnicodeDecodeError as exc:
                raise InvalidDataError(
                    f"{label}: not readable text (neither UTF-8 nor GB18030; byte {exc.start} of a block);"
                    " declare its encoding with [read] encoding"
                ) from exc
    if "\x00" in probe.sample:
        raise InvalidDataError(
            f"{label}: not a text file (it contains NUL bytes); is it corrupt, binary,"
            " or UTF-16 without a byte-order mark (declare [read] encoding = \"utf-16-le\")?"
        )
    return probe


def _utf8_head_probe(path: Path) -> TextProbe | None:
    """UTF-8 read from the head, physical lines counted by polars' line counter (no quoting:
    every LF ends a line, as in ``_decode_pass``); None when the head is not UTF-8, is blank or
    holds no LF (bare-CR files are decoded whole, as they are rewritten)."""
    with path.open("rb") as handle:
        block = handle.read(CHUNK)
    try:
        head = codecs.getincrementaldecoder("utf-8")(errors="strict").decode(block, final=False)
    except UnicodeDecodeError:
        return None
    if not head.strip() or "\n" not in head:
        return None
    lines = (
        pl.scan_csv(path, has_header=False, separator="\x1f", quote_char=None, schema={"line": pl.String})
        .select(pl.len())
        .collect()
        .item()
    )
    return TextProbe("utf-8", int(lines), head[: 1 << 16], checked=False)


def _decode_pass(path: Path, encoding: str) -> TextProbe:
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    lf = cr = crlf = 0
    sample_parts: list[str] = []
    sample_len = 0
    last = ""
    previous_cr = False
    blank = True
    with path.open("rb") as handle:
        while True:
            block = handle.read(CHUNK)
            text = decoder.decode(block, final=not block)
            if text:
                if sample_len < 1 << 16:
                    sample_parts.append(text[: (1 << 16) - sample_len])
                    sample_len += len(sample_parts[-1])
                lf += text.count("\n")
                cr += text.count("\r")
                crlf += text.count("\r\n") + (1 if previous_cr and text.startswith("\n") else 0)
                previous_cr = text.endswith("\r")
                last = text[-1]
                if blank and text.lstrip("\ufeff").strip():
                    blank = False
            if not block:
                break
    lone_cr = cr - crlf
    cr_only = lf == 0 and lone_cr > 0
    breaks = lf + (lone_cr if cr_only else 0)
    lines = breaks + (1 if last and last not in "\r\n" else 0)
    sample = "".join(sample_parts).lstrip("\ufeff")
    if cr_only:
        sample = sample.replace("\r", "\n")
    return TextProbe(encoding, lines, sample, cr_only=cr_only, blank=blank)


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


def _header_index(rows: list[list[str]], score: HeaderScore | None) -> int:
    """The row among the first ones that names the most of the table's columns (0: the first)."""
    if score is None or not rows:
        return 0
    first = score(rows[0])
    if first >= 1.0:
        return 0
    best, best_score = 0, first
    for index in range(1, min(len(rows), HEADER_SEARCH_LINES)):
        value = score(_header_names(rows, index))
        if value > best_score:
            best, best_score = index, value
            if value >= 1.0:
                break
    return best


def _header_names(rows: list[list[str]], index: int) -> list[str]:
    """Header names of row ``index``; a blank cell takes the name above it (merged cells)."""
    names = list(rows[index])
    if index > 0:
        above = rows[index - 1]
        for i, name in enumerate(names):
            if not name.strip() and i < len(above) and above[i].strip():
                names[i] = above[i].strip()
    return _unique_names([n.strip() for n in names])


def _transcode(path: Path, encoding: str, whitespace: bool, cr_only: bool, tmpdir: Path) -> Path:
    """Rewrite as UTF-8 with LF line ends (and whitespace runs as tabs) in streaming chunks."""
    target = _scratch(tmpdir, f"{path.stem}.utf8.csv")
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    pending = ""
    with path.open("rb") as source, target.open("w", encoding="utf-8", newline="") as out:
        while True:
            block = source.read(CHUNK)
            text = pending + decoder.decode(block, final=not block)
            pending = ""
            if block:
                cut = max(text.rfind("\n"), text.rfind("\r"))
                if cut >= 0 and text[cut] == "\r" and cut == len(text) - 1:
                    cut -= 1  # a CR at the end of a block may be followed by LF in the next
                text, pending = text[: cut + 1], text[cut + 1 :]
            text = text.lstrip("\ufeff") if out.tell() == 0 else text
            if cr_only:
                text = text.replace("\r", "\n")
            if whitespace:
                text = re.sub(r"[ \t]+", "\t", text)
                text = re.sub(r"(?m)^\t|\t(?=\r?$)", "", text)
            out.write(text)
            if not block:
                break
    return target


def _scratch(tmpdir: Path, name: str) -> Path:
    tmpdir = Path(tmpdir)
    tmpdir.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^\w.\-]+", "_", name)[-80:]
    return tmpdir / f"{len(list(tmpdir.iterdir()))}-{safe}"


def _as_text(column: pl.Expr, name: str, typed: dict[str, pl.DataType] | None) -> pl.Expr:
    if typed is None or typed.get(name) == pl.String:
        return column
    return column.cast(pl.String)


def _mark_repeated_header(
    frame: pl.LazyFrame, names: list[str], header: list[str], delimiter: str,
    typed: dict[str, pl.DataType] | None = None,
) -> pl.LazyFrame:
    """``READ_REASON`` / ``READ_RAW`` columns: "repeated header" on a line equal to the header
    (exports concatenated with their headers), null elsewhere."""
    pairs = [(name, text.strip()) for name, text in zip(names, header, strict=False) if text.strip()]
    if not pairs:
        return frame.with_columns(
            pl.lit(None, dtype=pl.String).alias(READ_REASON), pl.lit(None, dtype=pl.String).alias(READ_RAW)
        )
    # The first three named cells equal to the header's (exact text: cheap on every row).
    same = pl.all_horizontal(
        [_as_text(pl.col(name), name, typed) == text for name, text in pairs[:3]]
    ).fill_null(False)
    shown = (delimiter if len(delimiter) == 1 else " ").join(t.strip() for t in header)
    return frame.with_columns(
        pl.when(same).then(pl.lit(REPEATED_HEADER)).otherwise(pl.lit(None, dtype=pl.String)).alias(READ_REASON),
        pl.when(same).then(pl.lit(shown)).otherwise(pl.lit(None, dtype=pl.String)).alias(READ_RAW),
    )


def open_text(
    path: Path, label: str, read: dict[str, Any], tmpdir: Path, score: HeaderScore | None = None,
    *, fast: bool = True,
) -> RawSource:
    probe = probe_text(path, label, read.get("encoding"), fast=fast)
    skip = read.get("skip_rows")
    sample_lines = probe.sample.split("\n")
    if len(probe.sample) >= 1 << 16 and len(sample_lines) > 1:
        sample_lines = sample_lines[:-1]
    sample_lines = [line.rstrip("\r") for line in sample_lines]
    if skip is not None and skip >= probe.lines:
        raise InvalidDataError(f"{label}: skip_rows = {skip} but the file has {probe.lines} line(s)")
    sniff_from = "\n".join(sample_lines[skip or 0 :])
    delimiter = read.get("delimiter") or sniff_delimiter(sniff_from)
    whitespace = delimiter == WHITESPACE
    rows = [_split_header(line, delimiter) for line in sample_lines[: HEADER_SEARCH_LINES + (skip or 0)]]
    notes: list[str] = []
    header = read.get("header", "auto")
    if skip is not None:
        index = skip
    elif header is False:
        index = 0
    else:
        index = _header_index(rows, score)
    first_fields = rows[index] if index < len(rows) else []
    has_header = not _looks_like_data(first_fields) if header == "auto" else bool(header)
    names_option = read.get("names")
    header_text: list[str] = []
    if has_header:
        names = _header_names(rows, index)
        header_text = first_fields
        if index and skip is None:
            notes.append(f"{label}: header on line {index + 1} ({index} line(s) above it skipped)")
    else:
        count = len(first_fields)
        if isinstance(names_option, dict):
            chosen = names_option.get(count) or names_option.get(str(count))
            if chosen is None:
                raise InvalidDataError(
                    f"{label}: line {index + 1} has {count} fields; expected one of {sorted(names_option)}"
                )
            names = list(chosen)
        elif isinstance(names_option, list):
            names = list(names_option)
        else:
            names = [f"column_{i + 1}" for i in range(count)]
    readable = path
    if probe.encoding != "utf-8" or whitespace or probe.cr_only:
        readable = _transcode(path, probe.encoding, whitespace, probe.cr_only, tmpdir)
    separator = "\t" if whitespace else delimiter
    header_lines = index + (1 if has_header else 0)
    schema = {name: pl.String for name in [*names, EXTRA_FIELD]}
    frame = pl.scan_csv(
        readable,
        has_header=False,
        skip_lines=header_lines,
        separator=separator,
        schema=schema,
        truncate_ragged_lines=True,
        empty_string_is_null=False,
        missing_columns="insert",
        encoding="utf8",
        raise_if_empty=False,
    ).with_row_index(LINE, offset=0)
    frame = frame.with_columns((pl.col(LINE).cast(pl.Int64) + 1 + header_lines).alias(LINE))
    frame = _mark_repeated_header(frame, names, header_text if has_header else [], delimiter)

    def exact() -> pl.LazyFrame:
        return exact_text_frame(readable, separator, names, header_lines, label, header_text, tmpdir)

    def reopen() -> RawSource:
        return open_text(path, label, read, tmpdir, score, fast=False)

    if not probe.checked:
        try:  # the rows sampled for detection must be readable before anything relies on them
            frame.head(SAMPLE_ROWS).collect()
        except pl.exceptions.ComputeError:
            return reopen()
    return RawSource(
        label=label,
        path=path,
        kind="csv",
        frame=frame,
        columns=names,
        expected_records=probe.lines - header_lines,
        exact=exact,
        decimal=read.get("decimal", "."),
        notes=notes,
        reopen=None if probe.checked else reopen,
    )


def exact_text_frame(
    path: Path,
    separator: str,
    names: list[str],
    header_lines: int,
    label: str,
    header_text: list[str] | None = None,
    tmpdir: Path | None = None,
) -> pl.LazyFrame:
    """Parse with the csv module, recording the first physical line of every record.

    Records go to Parquet parts in ``tmpdir`` every ``EXACT_BATCH_ROWS`` records, so memory
    stays bounded on a big file (a review export with newlines in its texts). An unterminated
    quote (a quoted field still open at the end of the file) cannot be told from data: that
    line and every line after it are rejected, one row each, with reason
    ``unterminated quote (opened on line N)``; the records before it are kept.
    """
    width = len(names)
    header_key = [h.strip() for h in header_text] if header_text else None
    order = [*names, EXTRA_FIELD, LINE, READ_REASON, READ_RAW]

    def batches() -> Iterator[pl.DataFrame]:
        columns: list[list[str | None]] = [[] for _ in range(width + 1)]
        lines: list[int] = []
        reasons: list[str | None] = []
        raws: list[str | None] = []

        def flush() -> pl.DataFrame:
            data: dict[str, Any] = {LINE: pl.Series(LINE, lines, dtype=pl.Int64)}
            for i, name in enumerate([*names, EXTRA_FIELD]):
                data[name] = pl.Series(name, columns[i], dtype=pl.String)
            data[READ_REASON] = pl.Series(READ_REASON, reasons, dtype=pl.String)
            data[READ_RAW] = pl.Series(READ_RAW, raws, dtype=pl.String)
            frame = pl.DataFrame(data).select(order)
            for column in columns:
                column.clear()
            lines.clear()
            reasons.clear()
            raws.clear()
            return frame

        unterminated_at: int | None = None
        emitted = 0
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle, delimiter=separator, quotechar='"', strict=True)
            previous = 0
            while True:
                start = previous + 1
                try:
                    record = next(reader)
                except StopIteration:
                    break
                except csv.Error as exc:
                    if "unexpected end of data" in str(exc):
                        unterminated_at = start
                        break
                    raise InvalidDataError(f"{label}: line {reader.line_num}: unreadable CSV ({exc})") from exc
                previous = reader.line_num
                if start <= header_lines:
                    continue
                lines.append(start)
                for i in range(width):
                    columns[i].append(record[i] if i < len(record) else "")
                columns[width].append(",".join(record[width:]) if len(record) > width else "")
                repeated = header_key is not None and [f.strip() for f in record[: len(header_key)]] == header_key
                reasons.append(REPEATED_HEADER if repeated else None)
                raws.append(separator.join(record) if repeated else None)
                if len(lines) >= EXACT_BATCH_ROWS:
                    emitted += 1
                    yield flush()
        if unterminated_at is not None:
            with path.open(encoding="utf-8-sig", newline="") as handle:
                for number, text in enumerate(handle, start=1):
                    if number < unterminated_at:
                        continue
                    lines.append(number)
                    for i in range(width + 1):
                        columns[i].append("")
                    reasons.append(f"unterminated quote (opened on line {unterminated_at})")
                    raws.append(text.rstrip("\r\n"))
        if lines or not emitted:
            yield flush()

    if tmpdir is None:
        return pl.concat(list(batches()), how="vertical").lazy()
    parts = []
    for batch in batches():
        target = _scratch(tmpdir, f"{path.stem}.exact.parquet")
        batch.write_parquet(target, compression="lz4", statistics=False)
        parts.append(target)
    return pl.concat([pl.scan_parquet(p) for p in parts], how="vertical")


# -- binary and structured formats -----------------------------------------------------------


def _with_row_numbers(frame: pl.LazyFrame, offset: int) -> pl.LazyFrame:
    return frame.with_row_index(LINE, offset=0).with_columns(
        (pl.col(LINE).cast(pl.Int64) + offset).alias(LINE)
    )


def open_parquet(path: Path, label: str) -> RawSource:
    try:
        frame = pl.scan_parquet(path)
        columns = frame.collect_schema().names()
        records = int(frame.select(pl.len()).collect().item())  # from the footer: no data read
    except Exception as exc:
        raise InvalidDataError(f"{label}: not a readable Parquet file ({_first_line(exc)})") from exc
    return RawSource(label, path, "parquet", with_read_columns(_with_row_numbers(frame, 1)), columns, expected_records=records)


def with_read_columns(frame: pl.LazyFrame) -> pl.LazyFrame:
    """A frame whose rows are all readable: null ``READ_REASON`` / ``READ_RAW``."""
    return frame.with_columns(
        pl.lit(None, dtype=pl.String).alias(READ_REASON), pl.lit(None, dtype=pl.String).alias(READ_RAW)
    )


def flatten(frame: pl.DataFrame) -> pl.DataFrame:
    """Nested JSON: a struct column ``a`` gives ``a.b`` leaf columns (and ``a`` as JSON text);
    a list column becomes JSON text. Names stay unique."""
    out: list[pl.Series] = []
    taken = set(frame.columns)

    def add(series: pl.Series, prefix: str) -> None:
        dtype = series.dtype
        if isinstance(dtype, pl.Struct):
            out.append(series.struct.json_encode().alias(prefix))
            for child in dtype.fields:
                name = f"{prefix}.{child.name}"
                if name not in taken:  # a top-level column of that name wins
                    taken.add(name)
                    add(series.struct.field(child.name).alias(name), name)
        elif isinstance(dtype, pl.List | pl.Array):
            wrapped = pl.DataFrame({"v": series}).select(pl.struct("v").struct.json_encode()).to_series()
            out.append(wrapped.str.slice(5, None).str.strip_suffix("}").alias(prefix))
        else:
            out.append(series.alias(prefix))

    for name in frame.columns:
        add(frame[name], name)
    return pl.DataFrame(out) if out else frame


def _json_batches(path: Path) -> Iterator[tuple[int, bytes]]:
    """(first line number, bytes of whole lines) batches of a JSON lines file."""
    line = 1
    pending = b""
    with path.open("rb") as handle:
        while True:
            block = handle.read(JSON_BATCH_BYTES)
            data = pending + block
            if block:
                cut = data.rfind(b"\n") + 1
                if cut == 0:
                    pending = data
                    continue
                data, pending = data[:cut], data[cut:]
            if data:
                yield line, data
                line += data.count(b"\n")
            if not block:
                break


def _parse_json_batch(data: bytes, first_line: int, label: str) -> pl.DataFrame:
    """One batch of JSON lines; a line that is not a JSON object keeps its line with a reason."""
    text_lines = data.split(b"\n")
    if text_lines and text_lines[-1] == b"":
        text_lines.pop()
    numbers = [first_line + i for i, t in enumerate(text_lines) if t.strip()]
    kept = [t for t in text_lines if t.strip()]
    try:
        frame = pl.read_ndjson(io.BytesIO(b"\n".join(kept)), infer_schema_length=None) if kept else pl.DataFrame()
        if frame.height != len(kept):
            raise pl.exceptions.ComputeError("record count differs from line count")
        return flatten(frame).with_columns(pl.Series(LINE, numbers, dtype=pl.Int64))
    except (pl.exceptions.PolarsError, ValueError):
        pass
    good_lines: list[bytes] = []
    good_numbers: list[int] = []
    bad_numbers: list[int] = []
    bad_reasons: list[str] = []
    bad_raw: list[str] = []
    for number, text in zip(numbers, kept, strict=True):
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            bad_numbers.append(number)
            bad_reasons.append(f"not valid JSON ({exc.msg} at character {exc.pos + 1}; truncated?)")
            bad_raw.append(text.decode("utf-8", "replace"))
            continue
        except UnicodeDecodeError:
            bad_numbers.append(number)
            bad_reasons.append("not UTF-8 text")
            bad_raw.append(text.decode("utf-8", "replace"))
            continue
        if not isinstance(value, dict):
            bad_numbers.append(number)
            bad_reasons.append("not a JSON object")
            bad_raw.append(text.decode("utf-8", "replace"))
            continue
        good_lines.append(text)
        good_numbers.append(number)
    parts = []
    if good_lines:
        try:
            frame = pl.read_ndjson(io.BytesIO(b"\n".join(good_lines)), infer_schema_length=None)
        except (pl.exceptions.PolarsError, ValueError) as exc:
            raise InvalidDataError(f"{label}: lines {good_numbers[0]}–{good_numbers[-1]}: not readable JSON lines ({_first_line(exc)})") from exc
        parts.append(flatten(frame).with_columns(pl.Series(LINE, good_numbers, dtype=pl.Int64)))
    parts.append(
        pl.DataFrame(
            {LINE: pl.Series(bad_numbers, dtype=pl.Int64), READ_REASON: pl.Series(bad_reasons, dtype=pl.String),
             READ_RAW: pl.Series(bad_raw, dtype=pl.String)}
        )
    )
    return pl.concat(parts, how="diagonal_relaxed").sort(LINE)


def _stage_batches(batches: Iterator[pl.DataFrame], tmpdir: Path, stem: str) -> list[Path]:
    parts = []
    for batch in batches:
        target = _scratch(tmpdir, f"{stem}.part.parquet")
        batch.write_parquet(target, compression="lz4", statistics=False)
        parts.append(target)
    return parts


def _scan_parts(parts: list[Path]) -> pl.LazyFrame:
    """One lazy frame over batch files whose schemas may differ (columns missing, wider types)."""
    frame = pl.concat([pl.scan_parquet(p) for p in parts], how="diagonal_relaxed")
    names = frame.collect_schema().names()
    missing = [c for c in (READ_REASON, READ_RAW) if c not in names]
    return frame.with_columns([pl.lit(None, dtype=pl.String).alias(c) for c in missing])


def open_ndjson(path: Path, label: str, tmpdir: Path) -> RawSource:
    """JSON lines in batches (memory bounded); a line that is not JSON is rejected, not fatal."""
    batches = (_parse_json_batch(data, first, label) for first, data in _json_batches(path))
    parts = _stage_batches(batches, tmpdir, path.stem)
    if not parts:
        raise InvalidDataError(f"{label}: the file holds no JSON lines")
    frame = _scan_parts(parts)
    columns = [c for c in frame.collect_schema().names() if c not in {LINE, READ_REASON, READ_RAW}]
    if not columns:
        raise InvalidDataError(f"{label}: {_what_json(path)}")
    return RawSource(label, path, "ndjson", frame, columns)


def _what_json(path: Path) -> str:
    """Why a file whose lines are not JSON objects cannot be read, saying what it is."""
    if path.stat().st_size <= 1 << 26:
        try:
            document = json.loads(path.read_bytes())
        except (ValueError, UnicodeDecodeError):
            return "no line is a JSON object (not JSON lines, nor a JSON array of objects)"
        if isinstance(document, dict):
            keys = ", ".join(list(document)[:5])
            return (
                f"one JSON object (keys: {keys}), not JSON lines (one object per line) or an array"
                " of objects; export the records as one of those"
            )
    return "no line is a JSON object (not JSON lines, nor a JSON array of objects)"


def open_json_array(path: Path, label: str) -> RawSource:
    """A JSON array of objects (read whole: an array cannot be split without parsing it)."""
    try:
        frame = pl.read_json(path, infer_schema_length=None)
    except Exception as exc:
        raise InvalidDataError(
            f"{label}: a JSON array that cannot be read as a table of objects ({_first_line(exc)});"
            " JSON lines (one object per line) can be read line by line"
        ) from exc
    frame = flatten(frame)
    return RawSource(label, path, "json", with_read_columns(_with_row_numbers(frame.lazy(), 1)), frame.columns)


# -- Excel ------------------------------------------------------------------------------------


def _excel_head(reader: Any, sheet: int | str) -> list[list[str]]:
    head = reader.load_sheet(sheet, header_row=None, skip_rows=0, n_rows=HEADER_SEARCH_LINES + 1).to_polars()
    return [["" if v is None else str(v).strip() for v in row] for row in head.iter_rows()]


def open_excel(path: Path, label: str, read: dict[str, Any], tmpdir: Path, score: HeaderScore | None = None) -> RawSource:
    import fastexcel

    # A big workbook is read row by row (openpyxl read-only) from the sheet choice on: calamine
    # would hold the whole sheet in memory even to show its first rows.
    streamed = path.stat().st_size > EXCEL_STREAM_BYTES and path.suffix.lower() != ".xls"
    reader: Any = None
    book: Any = None
    try:
        if streamed:
            import openpyxl

            book = openpyxl.load_workbook(path, read_only=True, data_only=True)
            sheets = list(book.sheetnames)
        else:
            reader = fastexcel.read_excel(str(path))
            sheets = list(reader.sheet_names)
    except Exception as exc:
        raise InvalidDataError(f"{label}: not a readable Excel workbook ({_first_line(exc)})") from exc

    def head(i: int) -> list[list[str]]:
        if book is None:
            return _excel_head(reader, i)
        cells = book[sheets[i]].iter_rows(max_row=HEADER_SEARCH_LINES + 1, values_only=True)
        return [["" if v is None else _cell_text(v).strip() for v in row] for row in cells]

    try:
        return _open_sheet(path, label, read, tmpdir, score, sheets, head, reader, streamed)
    finally:
        if book is not None:
            book.close()


def _cell_text(value: Any) -> str:
    return f"{value:.0f}" if isinstance(value, float) and value.is_integer() else str(value)


def _open_sheet(
    path: Path, label: str, read: dict[str, Any], tmpdir: Path, score: HeaderScore | None,
    sheets: list[str], head: Callable[[int], list[list[str]]], reader: Any, streamed: bool,
) -> RawSource:
    listing = ", ".join(sheets)
    option = read.get("sheet")
    if isinstance(option, str):
        if option not in sheets:
            raise UsageError(f"[read] sheet {option!r} is not in {label} (sheets: {listing})")
        chosen = sheets.index(option)
        heads = {chosen: head(chosen)}
    elif isinstance(option, int):
        if option > len(sheets):
            raise UsageError(f"[read] sheet {option} is out of range: {label} has {len(sheets)} sheet(s) ({listing})")
        chosen = option - 1
        heads = {chosen: head(chosen)}
    else:
        heads = {i: head(i) for i in range(len(sheets))}
        chosen = 0
        if len(sheets) > 1 and score is not None:
            best = max(
                (max((score(_header_names(rows, r)) for r in range(min(len(rows), HEADER_SEARCH_LINES))), default=0.0), -i)
                for i, rows in heads.items()
            )
            chosen = -best[1]
            if best[0] < 1.0:
                raise InvalidDataError(
                    f"{label}: no sheet holds the table's required columns (sheets: {listing});"
                    " name one with [read] sheet or map the columns"
                )
    rows = heads[chosen]
    skip = read.get("skip_rows")
    index = skip if skip is not None else _header_index(rows, score)
    if index >= len(rows):
        raise InvalidDataError(f"{label}: sheet {sheets[chosen]!r} has no row {index + 1} to hold the header")
    names = _header_names(rows, index)
    notes = []
    if len(sheets) > 1 and option is None:
        notes.append(f"{label}: read sheet {sheets[chosen]!r} (sheets: {listing})")
    if index and skip is None:
        notes.append(f"{label}: header on row {index + 1} ({index} row(s) above it skipped)")
    if streamed:
        frame = _excel_streamed(path, sheets[chosen], index, names, tmpdir, label)
    else:
        try:
            data = reader.load_sheet(chosen, header_row=index, skip_rows=0, schema_sample_rows=None).to_polars()
        except Exception as exc:
            raise InvalidDataError(f"{label}: sheet {sheets[chosen]!r} is not readable ({_first_line(exc)})") from exc
        width = min(len(names), data.width)
        data = data.select(data.columns[:width]).rename(dict(zip(data.columns[:width], names[:width], strict=True)))
        names = names[:width]
        frame = _with_row_numbers(data.lazy(), index + 2)
    frame = _mark_repeated_header(frame, names, rows[index], "\t", dict(frame.collect_schema()))
    return RawSource(label, path, "excel", frame, names, decimal=read.get("decimal", "."), notes=notes)


def _cell_series(name: str, values: list[Any]) -> pl.Series:
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
        return pl.Series(name, [None if v is None else float(v) for v in values], dtype=pl.Float64)
    if present and all(isinstance(v, bool) for v in present):
        return pl.Series(name, values, dtype=pl.Boolean)
    import datetime as _dt

    if present and all(isinstance(v, _dt.datetime) for v in present):
        return pl.Series(name, values, dtype=pl.Datetime("us"))
    return pl.Series(name, [None if v is None else _cell_text(v) for v in values], dtype=pl.String)


def _excel_streamed(path: Path, sheet: str, header_index: int, names: list[str], tmpdir: Path, label: str) -> pl.LazyFrame:
    """A big worksheet read row by row (openpyxl read-only) into Parquet batches."""
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:
        raise InvalidDataError(f"{label}: not a readable Excel workbook ({_first_line(exc)})") from exc
    width = len(names)

    def batches() -> Iterator[pl.DataFrame]:
        rows: list[tuple[Any, ...]] = []
        lines: list[int] = []
        sheet_rows = book[sheet].iter_rows(min_row=header_index + 2, values_only=True)
        for number, row in enumerate(sheet_rows, start=header_index + 2):
            rows.append(tuple(row[:width]) + (None,) * (width - len(row)))
            lines.append(number)
            if len(rows) >= EXCEL_BATCH_ROWS:
                yield _batch(rows, lines)
                rows, lines = [], []
        if rows:
            yield _batch(rows, lines)

    def _batch(rows: list[tuple[Any, ...]], lines: list[int]) -> pl.DataFrame:
        columns = list(zip(*rows, strict=True))
        series = [_cell_series(name, list(col)) for name, col in zip(names, columns, strict=True)]
        return pl.DataFrame([*series, pl.Series(LINE, lines, dtype=pl.Int64)])

    try:
        parts = _stage_batches(batches(), tmpdir, path.stem)
    finally:
        book.close()
    if not parts:
        empty: dict[str, Any] = {name: pl.Series(name, [], dtype=pl.String) for name in names}
        empty[LINE] = pl.Series(LINE, [], dtype=pl.Int64)
        return pl.DataFrame(empty).lazy()
    return _scan_parts(parts)


# -- archives and sniffing --------------------------------------------------------------------


def _magic(path: Path) -> bytes:
    with path.open("rb") as handle:
        return handle.read(8)


def _gunzip(path: Path, label: str, tmpdir: Path) -> Path:
    inner = path.name[:-3] if path.name.lower().endswith(".gz") else path.name
    target = _scratch(tmpdir, inner)
    try:
        with gzip.open(path, "rb") as source, target.open("wb") as out:
            shutil.copyfileobj(source, out, CHUNK)
    except (OSError, EOFError) as exc:
        raise InvalidDataError(f"{label}: a gzip file that cannot be decompressed ({_first_line(exc)})") from exc
    return target


def _is_workbook(archive: zipfile.ZipFile) -> bool:
    names = set(archive.namelist())
    return "[Content_Types].xml" in names and any(n.startswith("xl/") for n in names)


def _units(path: Path, label: str, tmpdir: Path, notes: list[str]) -> list[tuple[Path, str, str]]:
    """(readable file, label, kind) of one file: archives opened, kinds told by content."""
    if path.stat().st_size == 0:
        return [(path, label, "empty")]
    magic = _magic(path)
    suffix = path.suffix.lower()
    if magic.startswith(b"\x1f\x8b"):
        if suffix != ".gz":
            notes.append(f"{label}: gzip-compressed although named {suffix or 'without a suffix'}; read decompressed")
        inner = _gunzip(path, label, tmpdir)
        inner_suffix = Path(path.name[:-3]).suffix.lower() if suffix == ".gz" else suffix
        return [(inner, label, _kind_of(inner, inner_suffix))]
    if magic.startswith(b"PK\x03\x04") or magic.startswith(b"PK\x05\x06"):
        if suffix in EXCEL_SUFFIXES:
            return [(path, label, "excel")]
        try:
            archive = zipfile.ZipFile(path)
        except zipfile.BadZipFile as exc:
            raise InvalidDataError(f"{label}: a zip archive that cannot be opened ({exc})") from exc
        with archive:
            if _is_workbook(archive):
                notes.append(f"{label}: an Excel workbook although named {suffix}; read as a workbook")
                return [(path, label, "excel")]
            if suffix != ".zip":
                notes.append(f"{label}: a zip archive although named {suffix}; its members are read")
            members = [
                m for m in archive.infolist()
                if not m.is_dir() and not Path(m.filename).name.startswith(".")
                and not m.filename.startswith("__MACOSX/")
            ]
            readable = [m for m in members if Path(m.filename).suffix.lower() in KNOWN_SUFFIXES - ARCHIVE_SUFFIXES]
            skipped = [m.filename for m in members if m not in readable]
            if skipped:
                notes.append(f"{label}: members skipped (not a known format): {', '.join(skipped)}")
            if not readable:
                raise InvalidDataError(
                    f"{label}: the zip archive holds no CSV, Parquet, JSON or Excel file"
                    f" (members: {', '.join(m.filename for m in members) or 'none'})"
                )
            out = []
            for member in sorted(readable, key=lambda m: m.filename):
                target = _scratch(tmpdir, Path(member.filename).name)
                try:
                    with archive.open(member) as source, target.open("wb") as sink:
                        shutil.copyfileobj(source, sink, CHUNK)
                except (OSError, zipfile.BadZipFile, EOFError) as exc:
                    raise InvalidDataError(f"{label}:{member.filename}: cannot be extracted ({exc})") from exc
                member_label = f"{label}:{member.filename}"
                out.append((target, member_label, _kind_of(target, Path(member.filename).suffix.lower())))
            return out
    if magic.startswith(b"PAR1"):
        return [(path, label, "parquet")]
    return [(path, label, _kind_of(path, suffix))]


def _kind_of(path: Path, suffix: str) -> str:
    if path.stat().st_size == 0:
        return "empty"
    if _magic(path).startswith(b"PAR1") or suffix in PARQUET_SUFFIXES:
        return "parquet"
    if suffix in EXCEL_SUFFIXES:
        return "excel"
    if suffix in JSON_SUFFIXES:
        start = _first_text_byte(path)
        if start == b"[":
            return "json"
        return "ndjson"
    return "text"


def _first_text_byte(path: Path) -> bytes:
    with path.open("rb") as handle:
        start = handle.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    return start[:1]


def open_file(
    path: Path, label: str, kind: str, read: dict[str, Any], tmpdir: Path, score: HeaderScore | None
) -> RawSource:
    if kind == "parquet":
        return open_parquet(path, label)
    if kind == "ndjson":
        return open_ndjson(path, label, tmpdir)
    if kind == "json":
        return open_json_array(path, label)
    if kind == "excel":
        return open_excel(path, label, read, tmpdir, score)
    return open_text(path, label, read, tmpdir, score)


def open_all(
    src: str,
    table: str,
    read: dict[str, Any],
    tmpdir: Path,
    *,
    exclude: list[Path] | None = None,
    score: HeaderScore | None = None,
) -> Opened:
    """Every readable unit of one SRC, in a stable order, and notes on what was skipped."""
    read = check_read_options(read, f"[{table}.read]")
    if is_database_uri(src):
        from c2m_cli.ingest.database import open_database

        return Opened([open_database(src, table, tmpdir)], [])
    paths = resolve_paths(src, table, exclude)
    notes: list[str] = []
    sources: list[RawSource] = []
    empty: list[str] = []
    for path in paths:
        for readable, label, kind in _units(path, str(path), tmpdir, notes):
            if kind == "empty" or (kind == "text" and _blank_text(readable, label, read)):
                empty.append(label)
                continue
            sources.append(open_file(readable, label, kind, read, tmpdir, score))
            if readable != path and sources[-1].path == readable:
                sources[-1].path = path
    if not sources:
        if len(empty) == 1:
            raise InvalidDataError(f"{empty[0]}: the file is empty")
        raise InvalidDataError(f"--{table} {src}: every file is empty ({', '.join(empty)})")
    notes += [f"{label}: empty file, skipped" for label in empty]
    return Opened(sources, notes)


def _blank_text(path: Path, label: str, read: dict[str, Any]) -> bool:
    if path.stat().st_size > 4096:
        return False
    try:
        return probe_text(path, label, read.get("encoding")).blank
    except InvalidDataError:
        return False


def open_sources(src: str, table: str, read: dict[str, Any], tmpdir: Path) -> list[RawSource]:
    """Every readable unit of one SRC (see ``open_all``, which also returns the notes)."""
    return open_all(src, table, read, tmpdir).sources


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


__all__ = [
    "EXTRA_FIELD",
    "LINE",
    "READ_KEYS",
    "READ_RAW",
    "READ_REASON",
    "Opened",
    "RawSource",
    "check_read_options",
    "exact_text_frame",
    "flatten",
    "open_all",
    "open_sources",
    "probe_text",
    "resolve_paths",
    "sniff_delimiter",
]
