"""The ingest step: sources → canonical tables + ``_rejects/``, with exact row accounting.

Each table is made in one streaming pass (``stream_table``): the sources' rows are read by
the fast paths (the full rules only on the rows those did not read entirely), later copies are
dropped as they arrive, and the table is written as the rows come. Where one pass cannot be
exact (a record spanning lines, a file that is not UTF-8 past its head, two different rows with
one hash) the table is made in two (``ingest_table``): every source is coerced into an
intermediate Parquet file, duplicates are found from those, and the table and its rejects are
streamed into the step's staging area. rows_in = rows_written + rows_rejected.
"""

from __future__ import annotations

import dataclasses
import queue
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from c2m_cli import contract
from c2m_cli.errors import InvalidDataError, UsageError
from c2m_cli.ingest.coerce import check_timezone
from c2m_cli.ingest.columns import (
    COLUMN,
    FIELD_RAW,
    FIELD_REASON,
    FILE,
    RAW,
    REASON,
    SLOW,
    SOURCE_PREFIX,
    canonical_frame,
    coercion_plan,
    field_columns,
    zone_evidence,
)
from c2m_cli.ingest.mapping import Mapping, TableMapping, load_mapping, match_column
from c2m_cli.ingest.presets import preset as load_preset
from c2m_cli.ingest.readers import (
    LINE,
    READ_RAW,
    READ_REASON,
    HeaderScore,
    RawSource,
    is_database_uri,
    open_all,
)
from c2m_cli.ingest.rejects import (
    DUPLICATE_LINE,
    REJECT_SCHEMA,
    coercion_rejects,
    duplicate_rejects,
    field_rejects,
    later_copies,
    reason_counts,
)
from c2m_cli.ingest.schema import KEYS, TABLE_NAMES, specs
from c2m_cli.ingest.stream import SeenHashes, TableWriter, read_rows
from c2m_cli.market import check_market, detect_market
from c2m_cli.workspace import Workspace


def resolve_mapping(mapping: Path | None, preset: str | None) -> Mapping:
    if mapping is not None and preset is not None:
        raise UsageError("give either --mapping or --preset, not both")
    if preset is not None:
        return load_preset(preset)
    if mapping is not None:
        return load_mapping(Path(mapping))
    return Mapping()


def header_score(table: str, tmap: TableMapping) -> HeaderScore:
    """The share of ``table``'s required columns a candidate header row names (readers use it
    to find the header below title lines, and the sheet of a workbook that holds the table)."""
    required = [spec.name for spec in specs(table) if spec.required]

    def score(names: list[str]) -> float:
        present = [name.strip() for name in names if name and name.strip()]
        found = 0
        for column in required:
            rule = tmap.columns.get(column)
            if rule is None:
                found += tmap.auto and match_column(table, column, present) is not None
            elif rule.source is not None:
                found += rule.source in present
            else:
                found += all(n in present for n in rule.needs if n != LINE)
        return found / len(required) if required else 0.0

    return score


def _with_read_rejects(raw: RawSource, tmap: TableMapping) -> TableMapping:
    """The mapping with the reader's own reject columns carried through coercion."""
    extras = {**tmap.extras, READ_REASON: READ_REASON, READ_RAW: READ_RAW}
    return dataclasses.replace(tmap, extras=extras)


def _read_rejects_first(frame: pl.LazyFrame) -> pl.LazyFrame:
    """A row the reader could not use is rejected for that reason (before any coercion problem)."""
    unread = pl.col(READ_REASON).is_not_null()
    return frame.with_columns(
        pl.when(unread).then(pl.lit(None, dtype=pl.String)).otherwise(pl.col(COLUMN)).alias(COLUMN),
        pl.when(unread).then(pl.col(READ_RAW)).otherwise(pl.col(RAW)).alias(RAW),
        pl.when(unread).then(pl.col(READ_REASON)).otherwise(pl.col(REASON)).alias(REASON),
    ).drop(READ_REASON, READ_RAW)


def _dedupe_columns(table: str) -> list[str] | None:
    """The columns whose equal values make a later row a duplicate (rejects.later_copies)."""
    if table == "orders":
        return [s.name for s in specs(table)]
    return [KEYS[table]] if table in KEYS else None


def _sink_intermediate(
    raw: RawSource, table: str, tmap: TableMapping, timezone: str, index: int, target: Path
) -> int:
    """Coerce one source into ``target``; re-read text exactly when records span lines or
    the fast reader refuses the file (an unterminated quote)."""
    carried = _with_read_rejects(raw, tmap)

    def sink(frame: pl.LazyFrame | None) -> int:
        source = raw if frame is None else dataclasses.replace(raw, frame=frame)  # samples too
        coerced = canonical_frame(
            source, table, carried, timezone=timezone, file_index=index, hash_on=_dedupe_columns(table),
            omit_absent=True,
        )
        # Parquet without compression or statistics: the intermediate is read back a few times
        # within this run (lz4 cost ~1 s per 2M lines more to write). Not Arrow IPC: its scan
        # memory-maps the file, so the resident size grows with the data (file pages, 1.1 GiB
        # more at 10M lines).
        _read_rejects_first(coerced).sink_parquet(target, compression="uncompressed", statistics=False)
        return int(pl.scan_parquet(target).select(pl.len()).collect().item())

    try:
        try:
            rows = sink(None)
        except pl.exceptions.ComputeError as exc:
            if raw.reopen is not None and "utf-8" in str(exc).lower():  # not UTF-8 past its head
                return _sink_intermediate(raw.reopen(), table, tmap, timezone, index, target)
            if raw.exact is None:
                raise
            rows = -1
        if raw.exact is not None and rows != raw.expected_records:
            rows = sink(raw.exact())
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError, OSError) as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InvalidDataError(f"{raw.label}: cannot be read as {table} ({message})") from exc
    return rows


def ingest_table(
    table: str,
    sources: list[RawSource],
    tmap: TableMapping,
    *,
    timezone: str,
    workdir: Path,
) -> tuple[pl.LazyFrame, pl.LazyFrame, dict[str, Any]]:
    """(good rows, rejects, accounting) of one canonical table, as lazy frames over temp files."""
    parts: list[Path] = []
    rows_in = 0
    for index, raw in enumerate(sources):
        target = workdir / f"{table}-{index}.parquet"
        rows_in += _sink_intermediate(raw, table, tmap, timezone, index, target)
        parts.append(target)
    labels = [raw.label for raw in sources]
    scan = pl.scan_parquet(parts)
    good = scan.filter(pl.col(REASON).is_null())
    present = scan.collect_schema().names()
    canonical = [s.name for s in specs(table) if s.name in present]  # the others are null throughout
    output_columns = [
        pl.col(s.name) if s.name in present else pl.lit(None, dtype=s.dtype).alias(s.name) for s in specs(table)
    ] + [pl.col(c) for c in tmap.extras if c in present]
    if table == "orders":
        copies = later_copies(good, canonical)
        duplicates = copies.height
        extra_rejects = duplicate_rejects(copies, labels, reason=DUPLICATE_LINE, column=None)
    elif table in KEYS:
        copies = later_copies(good, [KEYS[table]])
        duplicates = copies.height
        extra_rejects = duplicate_rejects(
            copies, labels, reason="duplicate", column=KEYS[table]
        )
    else:
        copies = pl.DataFrame(schema={FILE: pl.UInt32, LINE: pl.Int64})
        duplicates = 0
        extra_rejects = pl.DataFrame(schema=REJECT_SCHEMA)
    if copies.height:  # a hash-set look-up of (file, line), not a join: the table keeps its order
        row_key = pl.col(FILE).cast(pl.Int64) * (1 << 40) + pl.col(LINE)
        dropped = copies.select(row_key.alias("k"))["k"]
        good = good.filter(~row_key.is_in(dropped.implode()))
    rejects = pl.concat(
        [coercion_rejects(scan, labels), extra_rejects.lazy()], how="vertical"
    ).sort(["file", "line"], maintain_order=True) if copies.height else coercion_rejects(scan, labels)
    fields = field_rejects(good, field_columns(scan.collect_schema().names()), labels)
    accounting = {"rows_in": rows_in, "duplicates": duplicates, "files": labels, "field_rejects": fields}
    return good.select(output_columns), rejects, accounting


class _TwoPasses(Exception):
    """The single pass cannot give the exact result; ``ingest_table``'s two passes will."""


_HASH = "_hash"
_KEY = "__c2m_key__"
_EXACT = "__c2m_exact__"  # the full rules' values of the slow rows, aligned to the part


def _row_keys(frame: pl.DataFrame) -> np.ndarray:
    return frame.select((pl.col(FILE).cast(pl.Int64) * (1 << 40) + pl.col(LINE)).alias(_KEY))[_KEY].to_numpy()


def _same_rows(left: pl.DataFrame, right: pl.DataFrame, columns: list[str]) -> bool:
    """Row i of ``left`` equals row i of ``right`` on ``columns`` for every i (nulls equal)."""
    if not columns or left.height == 0:
        return True
    both = pl.concat(
        [left.select(columns), right.select(columns).rename({c: f"__r_{c}" for c in columns})], how="horizontal"
    )
    return bool(both.select(pl.all_horizontal([pl.col(c).eq_missing(pl.col(f"__r_{c}")) for c in columns]).all()).item())


_FLUSH_ROWS = 1 << 19
_BATCH_ROWS: int | None = 1 << 17  # rows per batch of the stream (tests use few): on 10M lines 10.0-10.4 s, polars' own (~35k) 11.5-11.7 s
_QUEUED_BATCHES = 8  # batches polars may run ahead of the pass


class _Pass:
    """The state of ``stream_table``'s pass over the sources of one table."""

    def __init__(self, table: str, sources: list[RawSource], tmap: TableMapping, target: Path, workdir: Path) -> None:
        self.table = table
        self.target = target
        self.hash_on = _dedupe_columns(table)
        schemas = [raw.frame.collect_schema() for raw in sources]
        self.extras = [name for name, src in tmap.extras.items() if any(src in schema for schema in schemas)]
        self.output_schema = pl.Schema(
            {**{s.name: s.dtype for s in specs(table)}, **{name: pl.String() for name in self.extras}}
        )
        contract.validate_schema(table, self.output_schema, writing=True)
        dictionary = [s.name for s in specs(table) if s.dtype == pl.String and s.kind != "id"] + self.extras
        self.writer = TableWriter(target, self.output_schema, dictionary)
        self.seen = SeenHashes(sum(raw.expected_records or 0 for raw in sources)) if self.hash_on else None
        self.compare = (
            [s.name for s in specs(table)] if table == "orders" else ([KEYS[table]] if table in KEYS else [])
        )
        self.rejects: list[pl.DataFrame] = []
        self.fields: list[pl.DataFrame] = []
        self.copies: list[pl.DataFrame] = []  # later copies: _file, _line, first_key
        self.deferred: list[pl.DataFrame] = []  # copies whose first row was written batches ago
        # (hash, key) of each row written, on disk (16 bytes a row): read back only for far copies
        workdir.mkdir(parents=True, exist_ok=True)
        self.written_path = workdir / f"{table}-written.bin"
        self.written = self.written_path.open("wb")
        self.recent: list[tuple[np.ndarray, np.ndarray, np.ndarray, pl.DataFrame]] = []
        self.field_names: list[str] = []

    def source(self, plan: Any, layout: pl.Schema) -> None:
        """Get ready for the batches of one source (its plan and intermediate layout)."""
        self.plan = plan
        self.names = layout.names()
        self.compared = [
            pl.col(c) if c in layout else pl.lit(None, dtype=self.output_schema[c]).alias(c) for c in self.compare
        ]
        self.field_names += [n for n in field_columns(self.names) if n not in self.field_names]
        self.field_cols = [c for c in self.names if c.startswith((FIELD_REASON, FIELD_RAW))]
        self.outputs = [
            pl.col(name) if name in layout else pl.lit(None, dtype=dtype).alias(name)
            for name, dtype in self.output_schema.items()
        ]
        self.count = 0
        self.last_line: int | None = None
        self.pending: list[pl.DataFrame] = []
        self.pending_rows = 0

    def batch(self, batch: pl.DataFrame) -> None:
        """A batch of the stream: kept until ``_FLUSH_ROWS`` rows wait (the full rules are then
        planned once for all their slow rows: planning them costs ~45 ms whatever the rows)."""
        if batch.height == 0:
            return
        lines = batch[LINE]
        if self.last_line is not None and lines[0] <= self.last_line:
            raise _TwoPasses("batches out of order")  # the pass relies on stream order: never seen
        self.last_line = lines[-1]
        self.count += batch.height
        self.pending.append(batch)
        self.pending_rows += batch.height
        if self.pending_rows >= _FLUSH_ROWS:
            self.flush()

    def flush(self) -> None:
        """The full rules on the slow rows of every waiting batch (at once), then each batch's
        ``_part`` (a batch at a time, its columns still in cache: on 10M lines at load 6, one
        part per flush took 21-22 s of CPU, a part per batch 18-21 s)."""
        batches, self.pending, self.pending_rows = self.pending, [], 0
        if not batches:
            return
        exact: list[pl.DataFrame | None] = [None] * len(batches)
        if self.plan.fast is not None:
            slow = [i for i, b in enumerate(batches) if b[SLOW].any()]
            if slow:
                sources_of = pl.concat([
                    batches[i].filter(pl.col(SLOW)).select(
                        [pl.col(SOURCE_PREFIX + c).alias(c) for c in self.plan.source_columns]
                    ) for i in slow
                ], how="vertical")
                full = _read_rejects_first(self.plan.full(sources_of.lazy())).collect(engine="in-memory")
                offset = 0
                for i in slow:
                    n = int(batches[i][SLOW].sum())
                    exact[i] = full.slice(offset, n)
                    offset += n
        for batch, rows in zip(batches, exact, strict=True):
            self._part(batch, rows)

    def _part(self, batch: pl.DataFrame, exact: pl.DataFrame | None) -> None:
        part, keep = self._settle_slow_rows(batch, exact)
        keys = _row_keys(part)
        kept = keep.to_numpy()
        if self.seen is not None:
            hashes = part[_HASH].to_numpy()
            copy = self.seen.later_copies(hashes[kept])
            if copy.any():
                copy_rows = np.flatnonzero(kept)[copy]
                kept = kept.copy()
                kept[copy_rows] = False
                keep = pl.Series(kept)
            entry = (hashes, keys, kept, part.select(self.compared))
            if copy.any():
                self._copies(part.select(FILE, LINE, _HASH, *self.compared)[pl.Series(copy_rows)], [*self.recent, entry])
            np.stack([hashes[kept].view(np.int64), keys[kept]], axis=1).tofile(self.written)
            self.recent = [entry]
        if self.field_cols:
            flagged = keep & part.select(pl.any_horizontal(
                [pl.col(c).is_not_null() for c in self.field_cols if c.startswith(FIELD_REASON)]
            )).to_series()
            if flagged.any():
                self.fields.append(part.select(FILE, LINE, *self.field_cols).filter(flagged))
        self.writer.append(part.select(self.outputs) if kept.all() else part.select(self.outputs).filter(keep))

    def _settle_slow_rows(self, batch: pl.DataFrame, exact: pl.DataFrame | None) -> tuple[pl.DataFrame, pl.Series]:
        """(the part, which rows are kept) with the slow rows' full-rule results, and the
        part's rejects noted. Where every slow row is rejected (the usual case: a bad date, a
        price "面议") their rejects come from ``exact`` and the part stays as the fast lane read
        it; otherwise the slow rows' values are put in their places (a copy of the part)."""
        part = batch.select(self.names)
        reject_columns = [FILE, LINE, COLUMN, RAW, REASON]
        if exact is not None and exact[REASON].null_count() == 0:
            slow = batch[SLOW]
            reason = part[REASON]
            fast_bad = reason.is_not_null() & ~slow
            rejected = exact.select(reject_columns)
            if fast_bad.any():
                rejected = pl.concat([part.select(reject_columns).filter(fast_bad), rejected]).sort(LINE)
            self.rejects.append(rejected)
            return part, reason.is_null() & ~slow
        if exact is not None:
            slow = batch[SLOW]
            at = (slow.cast(pl.Int64).cum_sum() - 1).clip(lower_bound=0)  # each slow row's place in exact
            aligned = exact.select(pl.all().name.prefix(_EXACT))[at]
            part = pl.concat([part, aligned, slow.to_frame()], how="horizontal").select(
                pl.when(pl.col(SLOW)).then(pl.col(_EXACT + c)).otherwise(pl.col(c)).alias(c) for c in self.names
            )
        reason = part[REASON]
        keep = reason.is_null()
        if reason.null_count() != part.height:
            self.rejects.append(part.select(reject_columns).filter(~keep))
        return part, keep

    def _copies(self, copies: pl.DataFrame, window: list[tuple[np.ndarray, np.ndarray, np.ndarray, pl.DataFrame]]) -> None:
        """Later copies: each is compared with the written row of its hash where that row is in
        ``window`` (this batch and the one before: hashes, keys, written?, compared columns of
        every row) and counted with its key; the others wait for ``confirm``. A hash is written
        once (later rows with it are copies), so the written row with a copy's hash is its first."""
        first = np.full(copies.height, -1, dtype=np.int64)
        wanted = copies[_HASH].to_numpy()
        for hashes, keys, kept, frame in window:
            rows = np.flatnonzero(kept)
            written = hashes[rows]
            match = np.flatnonzero(np.isin(written, wanted))  # few copies: a few vector comparisons
            if match.size == 0:
                continue
            # a hash is written once, so each wanted hash matches at most one written row
            order = np.argsort(written[match])
            found = np.searchsorted(written[match][order], wanted)
            found = np.minimum(found, match.size - 1)
            at = match[order][found]
            hit = (written[at] == wanted) & (first < 0)
            if hit.any():
                where = rows[at[hit]]
                if not _same_rows(copies.filter(pl.Series(hit)), frame[pl.Series(where)], self.compare):
                    raise _TwoPasses("two different rows share a hash")
                first[hit] = keys[where]
        near = first >= 0
        self.copies.append(copies.filter(pl.Series(near)).select(FILE, LINE).with_columns(
            pl.Series("first_key", first[near])
        ))
        if not near.all():
            self.deferred.append(copies.filter(pl.Series(~near)))

    def confirm(self) -> None:
        """Find and compare the first rows of far copies, read back from the rows written."""
        if not self.deferred:
            return
        late = pl.concat(self.deferred, how="vertical")
        self.written.close()
        pairs = np.fromfile(self.written_path, dtype=np.int64).reshape(-1, 2)
        hashes, keys = pairs[:, 0].view(np.uint64), pairs[:, 1]
        found = pl.DataFrame({_HASH: late[_HASH]}).join(
            pl.DataFrame({_HASH: hashes, "i": np.arange(len(hashes))}), on=_HASH, how="left", maintain_order="left"
        )["i"]
        if found.null_count():
            raise _TwoPasses("a copy without its first row")
        positions = found.to_numpy()
        order = np.argsort(positions)
        firsts = read_rows(self.target, positions[order], self.compare)
        if not _same_rows(late[pl.Series(order)], firsts, self.compare):
            raise _TwoPasses("two different rows share a hash")
        self.copies.append(late.select(FILE, LINE).with_columns(pl.Series("first_key", keys[positions])))

    def results(self, labels: list[str], rows_in: int) -> tuple[pl.DataFrame, dict[str, Any]]:
        copies = (
            pl.concat(self.copies, how="vertical").sort(FILE, LINE).select(
                pl.col(FILE), pl.col(LINE),
                (pl.col("first_key") // (1 << 40)).cast(pl.UInt32).alias("first_file"),
                (pl.col("first_key") % (1 << 40)).alias("first_line"),
            ) if self.copies else pl.DataFrame(
                schema={FILE: pl.UInt32, LINE: pl.Int64, "first_file": pl.UInt32, "first_line": pl.Int64}
            )
        )
        scan = pl.concat(self.rejects, how="vertical").lazy() if self.rejects else pl.DataFrame(
            schema={FILE: pl.UInt32, LINE: pl.Int64, COLUMN: pl.String, RAW: pl.String, REASON: pl.String}
        ).lazy()
        rejects = coercion_rejects(scan, labels)
        if copies.height:
            reason, column = (DUPLICATE_LINE, None) if self.table == "orders" else ("duplicate", KEYS[self.table])
            extra = duplicate_rejects(copies, labels, reason=reason, column=column)
            rejects = pl.concat([rejects, extra.lazy()], how="vertical").sort(["file", "line"], maintain_order=True)
        field_schema = {FILE: pl.UInt32(), LINE: pl.Int64(), **{
            f"{prefix}{n}": pl.String() for n in self.field_names for prefix in (FIELD_REASON, FIELD_RAW)}}
        flagged = pl.concat([pl.DataFrame(schema=field_schema), *self.fields], how="diagonal_relaxed")
        accounting = {
            "rows_in": rows_in, "duplicates": copies.height, "files": labels,
            "field_rejects": field_rejects(flagged.lazy(), self.field_names, labels),
        }
        return rejects.collect(), accounting


def stream_table(
    table: str,
    sources: list[RawSource],
    tmap: TableMapping,
    *,
    timezone: str,
    target: Path,
    workdir: Path,
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """``ingest_table`` in one pass: (rejects, accounting), the table written to ``target``.

    Each source's rows are coerced in streamed batches (the fast lane, with the full rules on
    its slow rows only), later copies are dropped as they arrive (their values compared with
    the first row's, from memory or read back from the rows written), and the rest is written.
    Raise ``_TwoPasses`` where this cannot be exact (a record spanning lines, a file that is not
    UTF-8 past its head, two different rows with one hash): nothing of the pass is kept.
    """
    state = _Pass(table, sources, tmap, target, workdir)
    rows_in = 0
    failure: list[BaseException] = []
    # polars hands each batch to ``on_batch``, which only queues it: a thread of ours does the
    # pass's work, so the engine goes on reading and coercing meanwhile (the queue's bound is
    # the memory the two may drift apart by).
    waiting: queue.Queue[pl.DataFrame | None] = queue.Queue(maxsize=_QUEUED_BATCHES)

    def work() -> None:
        while (batch := waiting.get()) is not None:
            if failure:
                continue  # drained: the sink stops at its next batch
            try:
                state.batch(batch)
            except BaseException as exc:  # raised again after the sink stops
                failure.append(exc)

    def on_batch(batch: pl.DataFrame) -> bool:
        if failure:
            return True
        waiting.put(batch)
        return False

    try:
        for index, raw in enumerate(sources):
            plan = coercion_plan(
                raw, table, _with_read_rejects(raw, tmap), timezone=timezone, file_index=index,
                hash_on=state.hash_on, omit_absent=True, read_columns=(READ_REASON, READ_RAW),
            )
            layout = _read_rejects_first(plan.full(raw.frame)).collect_schema()
            state.source(plan, layout)
            stream = plan.fast(raw.frame) if plan.fast is not None else _read_rejects_first(plan.full(raw.frame))
            worker = threading.Thread(target=work, name="c2m-ingest-pass", daemon=True)
            worker.start()
            try:
                stream.sink_batches(on_batch, chunk_size=_BATCH_ROWS, maintain_order=True)
            finally:
                waiting.put(None)
                worker.join()
            if failure:
                raise failure[0]
            state.flush()
            if raw.exact is not None and state.count != raw.expected_records:
                raise _TwoPasses("records span lines")
            rows_in += state.count
        state.writer.close()
        state.confirm()
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError, OSError) as exc:
        state.writer.abort()
        raise _TwoPasses(str(exc)) from exc
    except BaseException:
        state.writer.abort()
        raise
    finally:
        state.written.close()
        state.written_path.unlink(missing_ok=True)
    return state.results([raw.label for raw in sources], rows_in)


def _note_inputs(step: Any, paths: list[Path]) -> None:
    for path in paths:
        step.note_input_file(path)


def _write_field_rejects(step: Any, table: str, fields: pl.LazyFrame, counts: dict[str, Any]) -> None:
    """``_rejects/<table>_fields.parquet``: optional fields nulled in written rows, counted."""
    frame = fields.collect(engine="streaming")
    if frame.height:
        step.write_table(f"_rejects/{table}_fields", frame)
    else:
        step.remove_output(f"_rejects/{table}_fields.parquet")
    counts["fields_nulled"] = frame.height
    counts["field_reasons"] = reason_counts(frame)


def _offset_zone(offset: str) -> str | None:
    """An IANA fixed zone for a whole-hour offset (``+08:00`` → ``Etc/GMT-8``), else None."""
    if offset == "Z":
        return "UTC"
    sign, digits = offset[0], offset[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:])
    if minutes or hours > 12:
        return None
    if hours == 0:
        return "UTC"
    return f"Etc/GMT{'-' if sign == '+' else '+'}{hours}"


def assume_zone(raws: list[RawSource], tmap: TableMapping) -> tuple[str, str | None]:
    """(zone for naive timestamps, warning) when no zone was given: the offset other rows of the
    orders carry when there is one, else UTC; no warning when no timestamp is naive."""
    offsets: dict[str, int] = {}
    naive = 0
    for raw in raws:
        found, count = zone_evidence(raw, "orders", tmap)
        naive += count
        for key, n in found.items():
            offsets[key] = offsets.get(key, 0) + n
    if naive == 0:
        return "UTC", None
    if offsets:
        offset, seen = max(offsets.items(), key=lambda kv: (kv[1], kv[0]))
        zone = _offset_zone(offset)
        if zone is not None:
            shown = "UTC" if zone == "UTC" else f"UTC{offset[:3]}:{offset[-2:]} ({zone})"
            return zone, (
                f"orders.ts: {naive:,} sampled timestamps carry no offset; read at {shown}, the offset"
                f" {seen:,} other sampled timestamps carry (give --timezone or a mapping timezone to override)"
            )
    return "UTC", (
        f"orders.ts: no --timezone or mapping timezone given; {naive:,} sampled naive timestamps read as UTC"
    )


def _no_usable_rows(table: str, labels: list[str], rows_in: int, rejects: pl.DataFrame) -> InvalidDataError:
    where = ", ".join(labels)
    if rows_in == 0:
        return InvalidDataError(f"{where}: no {table} rows (the file holds no data lines)")
    first = rejects.row(0, named=True)
    column = f", column {first['column']}" if first["column"] else ""
    raw = f" {first['raw_value']!r}" if first["raw_value"] else ""
    return InvalidDataError(
        f"{where}: no usable {table} rows ({rows_in:,} read, all rejected;"
        f" first: {first['file']} line {first['line']}{column}: {first['reason']}{raw})"
    )


# Text columns whose language tells the market (DESIGN.md, markets), and how many values to look at.
_MARKET_TEXT_COLUMNS = {
    "products": ("name", "category_l1", "category_l2", "brand"),
    "reviews": ("text",),
    "events": ("query", "category"),
    "customers": ("city", "province"),
    "orders": ("city", "province", "channel"),
}
_MARKET_SAMPLE = 2000


def _market_texts(step: Any, sources: dict[str, str]) -> list[str | None]:
    """Up to a few thousand distinct text values per staged table, for market detection."""
    texts: list[str | None] = []
    for table, columns in _MARKET_TEXT_COLUMNS.items():
        if table not in sources:
            continue
        scan = pl.scan_parquet(step.staged(f"{table}.parquet"))
        present = [c for c in columns if c in scan.collect_schema().names()]
        for column in present:
            values = (
                scan.select(pl.col(column).cast(pl.String)).drop_nulls().unique().sort(column)
                .head(_MARKET_SAMPLE).collect()
            )
            texts += values[column].to_list()
    return texts


def run_ingest(
    ws: Workspace,
    sources: dict[str, str],
    *,
    mapping: Path | None = None,
    preset: str | None = None,
    timezone: str | None = None,
    market: str = "auto",
    seed: int = 0,
    executor: str = "local",
    argv: list[str] | None = None,
    via: str | None = None,
) -> dict[str, Any]:
    """Ingest ``sources`` (canonical table → SRC) into the workspace; return the accounting."""
    unknown = sorted(set(sources) - set(TABLE_NAMES))
    if unknown:
        raise UsageError(f"unknown table(s) {', '.join(unknown)}; tables are {', '.join(TABLE_NAMES)}")
    if "orders" not in sources:
        raise UsageError("--orders is required")
    chosen = resolve_mapping(mapping, preset)
    requested_market = check_market(market if market != "auto" or not chosen.market else chosen.market)
    if timezone is not None:
        check_timezone(timezone)
    source_zone = timezone or chosen.timezone or "UTC"
    data_zone = timezone or chosen.data_timezone or chosen.timezone or "UTC"
    parameters = {
        "sources": dict(sources),
        "mapping": str(mapping) if mapping is not None else None,
        "preset": preset,
        "timezone": timezone,
        "market": market,
        "executor": executor,
    }
    for name, src in sources.items():
        if not is_database_uri(src) and not any(ch in src for ch in "*?[") and not Path(src).exists():
            raise UsageError(f"--{name} {src}: no such file or directory")
    summary: dict[str, Any] = {"workspace": str(ws.root), "tables": {}, "data_timezone": data_zone}
    workdir = ws.private_dir("ingest")  # held by this run; a killed run's is cleared by the next
    try:
        with ws.step("ingest", parameters=parameters, seed=seed, argv=argv, via=via) as step:
            if mapping is not None:  # an edited mapping is a changed input (verify, c2m run)
                step.note_input_file(Path(mapping))
            for table in TABLE_NAMES:
                if table not in sources:
                    step.remove_output(f"{table}.parquet")
                    step.remove_output(f"_rejects/{table}.parquet")
                    step.remove_output(f"_rejects/{table}_fields.parquet")
                    continue
                tmap = chosen.table(table)
                opened = open_all(
                    sources[table], table, tmap.read, workdir, exclude=[ws.root], score=header_score(table, tmap)
                )
                raws = opened.sources
                if table == "orders" and timezone is None and chosen.timezone is None:
                    source_zone, zone_warning = assume_zone(raws, tmap)
                    if zone_warning:
                        step.warn("timezone-assumed", zone_warning)
                    if source_zone != "UTC" and chosen.data_timezone is None:
                        data_zone = summary["data_timezone"] = source_zone
                notes = opened.notes + [note for raw in raws for note in raw.notes]
                # The sources' SHA-256 (for the manifest) is computed beside the coercion pass:
                # hashlib releases the GIL, and the hashes are recorded in source order.
                paths = [raw.path for raw in raws if raw.path is not None]
                with ThreadPoolExecutor(max_workers=1) as pool:
                    noted = pool.submit(_note_inputs, step, paths)
                    try:
                        rejects, accounting = stream_table(
                            table, raws, tmap, timezone=source_zone, target=step.staged(f"{table}.parquet"),
                            workdir=workdir,
                        )
                    except _TwoPasses:
                        good, rejects_lazy, accounting = ingest_table(
                            table, raws, tmap, timezone=source_zone, workdir=workdir
                        )
                        rejects = rejects_lazy.collect(engine="streaming")
                        step.sink_table(table, good)
                    noted.result()
                rows_written = int(pl.scan_parquet(step.staged(f"{table}.parquet")).select(pl.len()).collect().item())
                if rows_written == 0:
                    raise _no_usable_rows(table, accounting["files"], accounting["rows_in"], rejects)
                if rejects.height:
                    step.write_table(f"_rejects/{table}", rejects)
                else:
                    step.remove_output(f"_rejects/{table}.parquet")
                if accounting["rows_in"] != rows_written + rejects.height:
                    raise InvalidDataError(
                        f"{table}: row accounting failed ({accounting['rows_in']} in,"
                        f" {rows_written} written, {rejects.height} rejected)"
                    )
                summary["tables"][table] = {
                    "rows_in": accounting["rows_in"],
                    "rows_written": rows_written,
                    "rows_rejected": rejects.height,
                    "duplicates": accounting["duplicates"],
                    "reject_reasons": reason_counts(rejects),
                    "files": len(accounting["files"]),
                }
                _write_field_rejects(step, table, accounting["field_rejects"], summary["tables"][table])
                if notes:
                    summary["tables"][table]["notes"] = notes
            choice = detect_market(requested_market, timezone=data_zone, texts=_market_texts(step, sources))
            if choice.assumed:
                step.warn("market-assumed", f"market {choice.market}: {choice.evidence}")
            summary["market"] = choice.market
            summary["market_evidence"] = choice.evidence
            step.summary.update(summary)
            step.set_manifest_field("data_timezone", data_zone)  # lands with the entry (one commit)
            step.set_manifest_field("market", choice.market)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return summary
