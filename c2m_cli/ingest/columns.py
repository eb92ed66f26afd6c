"""One source → canonical columns, lazily, with the reason each unusable row is rejected.

``canonical_frame`` returns a lazy frame holding, for every source row, the canonical columns
(null where a value could not be read), ``_line``, and ``_column`` / ``_raw`` / ``_reason``
naming the first problem of the row (null for a good row).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import polars as pl

from c2m_cli.errors import InvalidDataError
from c2m_cli.ingest.coerce import (
    DATETIME_FORMATS,
    clean_text,
    datetime_from,
    detect_datetime_formats,
    finish_number,
    id_from,
    lookup,
    number_from,
    parse_bool,
    parse_datetime,
    parse_vocab,
    prepare_number,
    to_halfwidth,
)
from c2m_cli.ingest.mapping import ColumnRule, TableMapping, match_column
from c2m_cli.ingest.readers import EXTRA_FIELD, LINE, RawSource
from c2m_cli.ingest.schema import ColumnSpec, specs

COLUMN = "_column"
RAW = "_raw"
REASON = "_reason"
FILE = "_file"

REASONS = {
    "number": "not a number",
    "integer": "not a whole number",
    "bool": "not a boolean (是/否, true/false, Y/N)",
    "datetime": "not a date/time",
    "date": "not a date",
    "vocab": "not a known value",
    "json": "not a JSON object",
}
SAMPLE_ROWS = 10_000


@dataclass
class _Column:
    spec: ColumnSpec
    cleaned: pl.Expr  # the source, trimmed and placeholders nulled when text
    prepared: pl.Expr  # computed once from the cleaned column
    finish: Callable[[pl.Expr], pl.Expr]  # the canonical value from the prepared column
    raw: pl.Expr  # the source text, for rejects


def resolve_rules(table: str, mapping: TableMapping, raw: RawSource) -> dict[str, ColumnRule]:
    """Canonical column → rule; raise InvalidDataError when a required column is absent."""
    rules: dict[str, ColumnRule] = {}
    for spec in specs(table):
        rule = mapping.columns.get(spec.name)
        if rule is None and mapping.auto:
            found = match_column(table, spec.name, raw.columns)
            if found is not None:
                rule = ColumnRule(source=found)
        if rule is None:
            if spec.required:
                raise InvalidDataError(
                    f"{raw.label}: required column {spec.name!r} of {table} not found"
                    f" (columns: {', '.join(raw.columns)}); map it with --mapping"
                )
            continue
        needed = [rule.source] if rule.source is not None else list(rule.needs)
        absent = [name for name in needed if name not in raw.columns and name != LINE]
        if absent:
            raise InvalidDataError(
                f"{raw.label}: column {absent[0]!r} (for {table}.{spec.name}) not found"
                f" (columns: {', '.join(raw.columns)})"
            )
        rules[spec.name] = rule
    return rules


def _coerce(
    spec: ColumnSpec,
    cleaned: pl.Expr,
    dtype: pl.DataType,
    mapping: TableMapping,
    timezone: str,
    formats: list[str] | None,
) -> tuple[pl.Expr, Callable[[pl.Expr], pl.Expr]]:
    """(prepared, finish) for one canonical column.

    ``cleaned`` is the source column, trimmed with placeholders nulled when it is text;
    ``prepared`` is computed once into a column, ``finish(col)`` reads the value from it.
    Staging keeps each costly string operation to one pass over the data.
    """
    is_text = dtype == pl.String or dtype == pl.Null
    kind = spec.kind
    prepared = cleaned
    finish: Callable[[pl.Expr], pl.Expr]
    if kind == "id":
        finish = (lambda c: c) if is_text else (lambda c: id_from(c, dtype))
    elif kind == "text":
        finish = lambda c: c.cast(pl.String)  # noqa: E731
    elif kind in {"number", "integer"}:
        if is_text:
            prepared = prepare_number(cleaned)
            number: Callable[[pl.Expr], pl.Expr] = finish_number
        else:
            number = lambda c: number_from(c, dtype)  # noqa: E731
        if kind == "integer":
            def finish(c: pl.Expr) -> pl.Expr:
                value = number(c)
                return pl.when(value == value.round(0)).then(value).cast(pl.Int32, strict=False)
        else:
            finish = number
    elif kind == "bool":
        if dtype == pl.Boolean:
            finish = lambda c: c  # noqa: E731
        elif dtype.is_numeric():
            finish = lambda c: pl.when(c == 1).then(True).when(c == 0).then(False)  # noqa: E731
        else:
            prepared = to_halfwidth(cleaned)
            finish = parse_bool
    elif kind in {"datetime", "date"}:
        zone = timezone if kind == "datetime" else "UTC"
        if is_text:
            prepared = to_halfwidth(cleaned)
            chosen = formats or DATETIME_FORMATS
            finish = lambda c: parse_datetime(c, formats=chosen, timezone=zone, prepared=True)  # noqa: E731
        else:
            finish = lambda c: datetime_from(c, dtype, formats=formats, timezone=zone)  # noqa: E731
        if kind == "date":
            inner = finish
            finish = lambda c: inner(c).dt.date()  # noqa: E731
    elif kind == "vocab":
        vocab = mapping.vocabulary(spec.name, spec.vocab)
        prepared = to_halfwidth(cleaned.cast(pl.String))
        finish = lambda c: parse_vocab(c, vocab)  # noqa: E731
    elif kind == "json":
        if isinstance(dtype, pl.Struct):
            finish = lambda c: c.struct.json_encode()  # noqa: E731
        else:
            finish = lambda c: pl.when(c.str.contains(r"^\{[\s\S]*\}$")).then(c)  # noqa: E731
    else:  # pragma: no cover - the spec table only holds the kinds above
        raise ValueError(kind)
    return prepared, lambda c: finish(c).cast(spec.dtype)


def _datetime_formats(
    raw: RawSource, spec: ColumnSpec, rule: ColumnRule, dtype: pl.DataType
) -> list[str] | None:
    if rule.format:
        return [rule.format]
    if spec.kind not in {"datetime", "date"} or dtype != pl.String or rule.source is None:
        return None
    sample = raw.frame.select(pl.col(rule.source)).head(SAMPLE_ROWS).collect().to_series()
    sample = sample.filter(sample.str.strip_chars().str.len_chars() > 0)
    return detect_datetime_formats(sample)


def canonical_frame(
    raw: RawSource,
    table: str,
    mapping: TableMapping,
    *,
    timezone: str,
    file_index: int,
    frame: pl.LazyFrame | None = None,
) -> pl.LazyFrame:
    """Canonical columns + ``_file``, ``_line``, ``_column``, ``_raw``, ``_reason`` of one source."""
    lazy = raw.frame if frame is None else frame
    schema = lazy.collect_schema()
    rules = resolve_rules(table, mapping, raw)
    columns: list[_Column] = []
    for spec in specs(table):
        rule = rules.get(spec.name)
        if rule is None:
            continue
        if rule.source is not None:
            dtype = schema[rule.source]
            source = pl.col(rule.source)
            raw_text = source.cast(pl.String)
        elif rule.derive is not None:
            def number_of(name: str) -> pl.Expr:
                return number_from(pl.col(name), schema[name])

            def column_of(name: str) -> pl.Expr:
                return pl.col(name)

            source = rule.derive(number_of, column_of)
            dtype = lazy.select(source).collect_schema().dtypes()[0]
            raw_text = pl.concat_str(
                [pl.lit(f"{n}=") + pl.col(n).cast(pl.String).fill_null("") for n in rule.needs if n != LINE],
                separator="; ",
            )
        else:
            constant = rule.value
            dtype = pl.String()
            source = pl.lit(None if constant is None else str(constant), dtype=pl.String)
            raw_text = source
        formats = _datetime_formats(raw, spec, rule, dtype)
        cleaned = clean_text(source) if dtype in (pl.String, pl.Null) else source
        prepared, finish = _coerce(spec, pl.col(f"__c_{spec.name}"), dtype, mapping, timezone, formats)
        columns.append(_Column(spec, cleaned, prepared, finish, raw_text))

    stage_clean = [c.cleaned.alias(f"__c_{c.spec.name}") for c in columns] + [
        c.raw.alias(f"__r_{c.spec.name}") for c in columns
    ]
    stage_prepare = [c.prepared.alias(f"__s_{c.spec.name}") for c in columns] + [
        pl.col(f"__c_{c.spec.name}").is_not_null().alias(f"__p_{c.spec.name}") for c in columns
    ]
    stage_value = [c.finish(pl.col(f"__s_{c.spec.name}")).alias(f"__v_{c.spec.name}") for c in columns]
    source_columns = [c for c in raw.columns if c in schema]
    empty_row = pl.all_horizontal(
        [pl.col(c).cast(pl.String).fill_null("").str.strip_chars() == "" for c in source_columns]
        or [pl.lit(False)]
    )
    checks: list[tuple[pl.Expr, str | None, pl.Expr, str]] = [
        (empty_row, None, pl.lit(""), "empty row"),
    ]
    if EXTRA_FIELD in schema:
        extra = pl.col(EXTRA_FIELD).fill_null("")
        checks.append((extra != "", None, extra, "too many fields"))
    for column in columns:
        name = column.spec.name
        v, r, p = pl.col(f"__v_{name}"), pl.col(f"__r_{name}"), pl.col(f"__p_{name}")
        if column.spec.required:
            checks.append((~p, name, r.fill_null(""), "missing value"))
        if column.spec.kind in REASONS:
            reason = REASONS[column.spec.kind]
            checks.append((p & v.is_null(), name, r, reason))
        if column.spec.minimum is not None:
            checks.append((v < column.spec.minimum, name, r, f"below {column.spec.minimum:g}"))
        if column.spec.maximum is not None:
            checks.append((v > column.spec.maximum, name, r, f"above {column.spec.maximum:g}"))

    # The first failing check of each row, as a small integer, then its column, raw value and
    # reason by lookup (one pass of cheap integer work instead of three long when-chains).
    first_failure = pl.min_horizontal(
        [pl.when(check[0].fill_null(False)).then(pl.lit(i, dtype=pl.Int32)) for i, check in enumerate(checks)]
    )
    indices = list(range(len(checks)))
    failed_column = lookup(pl.col("__k"), {i: checks[i][1] for i in indices if checks[i][1]}, pl.String())
    reason_of = lookup(pl.col("__k"), {i: checks[i][3] for i in indices}, pl.String())
    raw_of: Any = None
    for i, check in enumerate(checks):
        branch = pl.col("__k") == i
        raw_of = pl.when(branch).then(check[2]) if raw_of is None else raw_of.when(branch).then(check[2])
    raw_value = raw_of.otherwise(pl.lit(None, dtype=pl.String)).cast(pl.String)

    outputs = [
        pl.col(f"__v_{s.name}").alias(s.name) if s.name in rules else pl.lit(None, dtype=s.dtype).alias(s.name)
        for s in specs(table)
    ]
    extras = [
        clean_text(pl.col(src).cast(pl.String)).alias(name)
        for name, src in mapping.extras.items()
        if src in schema
    ]
    return (
        lazy.with_columns(stage_clean)
        .with_columns(stage_prepare)
        .with_columns(stage_value)
        .with_columns(first_failure.alias("__k"))
        .select(
            *outputs,
            *extras,
            pl.lit(file_index, dtype=pl.UInt32).alias(FILE),
            pl.col(LINE),
            failed_column.alias(COLUMN),
            raw_value.alias(RAW),
            reason_of.alias(REASON),
        )
    )
