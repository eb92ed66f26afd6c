"""The ingest step: sources → canonical tables + ``_rejects/``, with exact row accounting.

For each table, every source unit is coerced lazily into an intermediate Parquet file (one
streaming pass over the source). From those, duplicates are found, and the table and its
rejects are streamed into the step's staging area. rows_in = rows_written + rows_rejected.
"""

from __future__ import annotations

import dataclasses
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import polars as pl

from c2m_cli.errors import InvalidDataError, UsageError
from c2m_cli.ingest.coerce import check_timezone
from c2m_cli.ingest.columns import (
    COLUMN,
    FILE,
    RAW,
    REASON,
    canonical_frame,
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
                    good, rejects_lazy, accounting = ingest_table(
                        table, raws, tmap, timezone=source_zone, workdir=workdir
                    )
                    noted.result()
                rejects = rejects_lazy.collect(engine="streaming")
                step.sink_table(table, good)
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
