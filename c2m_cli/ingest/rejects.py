"""Rejected rows: their table layout, duplicate detection, and the reasons counted.

``_rejects/<table>.parquet`` holds one row per rejected source row: file, line, column,
raw_value, reason. A row is rejected for its first problem (in canonical column order).
Exact duplicate order lines (equal in every canonical column) are kept once, at their first
occurrence; later copies are rejected with reason ``duplicate order line`` and counted as
duplicates. For customers and products, a later row repeating a key is rejected likewise.
"""

from __future__ import annotations

import polars as pl

from c2m_cli.ingest.columns import COLUMN, FILE, RAW, REASON
from c2m_cli.ingest.readers import LINE

REJECT_SCHEMA: dict[str, pl.DataType] = {
    "file": pl.String(),
    "line": pl.Int64(),
    "column": pl.String(),
    "raw_value": pl.String(),
    "reason": pl.String(),
}
DUPLICATE_LINE = "duplicate order line"
HASH = "_hash"  # a 64-bit hash of the columns duplicates are judged on, computed while coercing


def _file_names(labels: list[str]) -> pl.Expr:
    return pl.col(FILE).replace_strict(
        list(range(len(labels))), labels, return_dtype=pl.String
    )


def coercion_rejects(scan: pl.LazyFrame, labels: list[str]) -> pl.LazyFrame:
    """The rows of intermediate frames that failed coercion, in reject layout."""
    return scan.filter(pl.col(REASON).is_not_null()).select(
        _file_names(labels).alias("file"),
        pl.col(LINE).alias("line"),
        pl.col(COLUMN).alias("column"),
        pl.col(RAW).alias("raw_value"),
        pl.col(REASON).alias("reason"),
    )


def later_copies(good: pl.LazyFrame, columns: list[str]) -> pl.DataFrame:
    """Rows equal on ``columns`` to an earlier row: _file, _line and the first copy's line.

    Exact and memory-light: rows are first grouped by a 64-bit hash of ``columns`` (the
    ``_hash`` column when the coercion pass computed it); only rows whose hash repeats are
    compared value by value.
    """
    precomputed = HASH in good.collect_schema().names()
    hashed = good.select(
        pl.col(FILE), pl.col(LINE), (pl.col(HASH) if precomputed else pl.struct(columns).hash(seed=0)).alias("__h")
    ).collect(engine="streaming")
    # The hash values seen twice, from the sorted hashes (4x cheaper than is_duplicated).
    ordered = hashed["__h"].sort()
    twice = ordered.filter((ordered == ordered.shift(1)).fill_null(False))
    repeated = hashed.filter(pl.col("__h").is_in(twice.implode()))
    if repeated.height == 0:
        return pl.DataFrame(schema={FILE: pl.UInt32, LINE: pl.Int64, "first_file": pl.UInt32, "first_line": pl.Int64})
    row_key = pl.col(FILE).cast(pl.Int64) * (1 << 40) + pl.col(LINE)
    wanted = repeated.select(row_key.alias("k"))["k"].implode()
    candidates = (
        good.filter(row_key.is_in(wanted))
        .select(FILE, LINE, *columns)
        .collect(engine="streaming")
        .sort(FILE, LINE)
    )
    firsts = (
        candidates.group_by(columns, maintain_order=True)
        .agg(pl.col(FILE).first().alias("first_file"), pl.col(LINE).first().alias("first_line"))
    )
    joined = candidates.join(firsts, on=columns, how="left", nulls_equal=True)
    is_first = (pl.col(FILE) == pl.col("first_file")) & (pl.col(LINE) == pl.col("first_line"))
    return joined.filter(~is_first).select(FILE, LINE, "first_file", "first_line").sort(FILE, LINE)


def duplicate_rejects(
    copies: pl.DataFrame, labels: list[str], *, reason: str, column: str | None
) -> pl.DataFrame:
    multi = len(labels) > 1
    first = pl.format("same as line {}", pl.col("first_line"))
    if multi:
        first = pl.format(
            "same as {} line {}",
            pl.col("first_file").replace_strict(list(range(len(labels))), labels, return_dtype=pl.String),
            pl.col("first_line"),
        )
    return copies.select(
        _file_names(labels).alias("file"),
        pl.col(LINE).alias("line"),
        pl.lit(column, dtype=pl.String).alias("column"),
        first.alias("raw_value"),
        pl.lit(reason).alias("reason"),
    )


def reason_counts(rejects: pl.DataFrame) -> dict[str, int]:
    """``{"ts: not a date/time": 3, "duplicate order line": 2}``, most frequent first."""
    if rejects.height == 0:
        return {}
    keyed = rejects.select(
        pl.when(pl.col("column").is_null())
        .then(pl.col("reason"))
        .otherwise(pl.format("{}: {}", pl.col("column"), pl.col("reason")))
        .alias("key")
    )
    counts = keyed.group_by("key").len().sort(["len", "key"], descending=[True, False])
    return {row[0]: int(row[1]) for row in counts.iter_rows()}


def field_rejects(good: pl.LazyFrame, names: list[str], labels: list[str]) -> pl.LazyFrame:
    """Optional fields that were nulled, one row per field, in reject layout (file, line order).

    ``good`` holds the written rows with their ``_fe_<column>`` / ``_fr_<column>`` columns.
    """
    if not names:
        return pl.DataFrame(schema=REJECT_SCHEMA).lazy()
    parts = [
        good.filter(pl.col(f"_fe_{name}").is_not_null()).select(
            pl.col(FILE), pl.col(LINE), pl.lit(index, dtype=pl.UInt16).alias("__order"),
            pl.lit(name, dtype=pl.String).alias("column"),
            pl.col(f"_fr_{name}").cast(pl.String).alias("raw_value"),
            pl.col(f"_fe_{name}").cast(pl.String).alias("reason"),
        )
        for index, name in enumerate(names)
    ]
    return (
        pl.concat(parts, how="vertical")
        .sort([FILE, LINE, "__order"])
        .select(_file_names(labels).alias("file"), pl.col(LINE).alias("line"), "column", "raw_value", "reason")
    )
