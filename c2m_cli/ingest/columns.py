"""One source → canonical columns, lazily, with the reason each unusable row is rejected.

``canonical_frame`` returns a lazy frame holding, for every source row, the canonical columns
(null where a value could not be read), ``_line``, and ``_column`` / ``_raw`` / ``_reason``
naming the first problem of the row (null for a good row).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from c2m_cli.errors import InvalidDataError
from c2m_cli.ingest.coerce import (
    clean_text,
    datetime_from,
    detect_datetime_formats,
    id_from,
    number_from,
    parse_bool,
    parse_vocab,
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
    value: pl.Expr  # canonical value (null when unreadable)
    raw: pl.Expr  # the source text, for rejects
    present: pl.Expr  # the source holds a value (not empty / placeholder)


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
    expr: pl.Expr,
    dtype: pl.DataType,
    rule: ColumnRule,
    mapping: TableMapping,
    timezone: str,
    formats: list[str] | None,
) -> tuple[pl.Expr, pl.Expr]:
    """(value, present) for one canonical column from a source expression of ``dtype``."""
    is_text = dtype == pl.String or dtype == pl.Null
    present = clean_text(expr).is_not_null() if is_text else expr.is_not_null()
    kind = spec.kind
    if kind == "id":
        value = id_from(expr, dtype)
    elif kind == "text":
        value = clean_text(expr)
    elif kind in {"number", "integer"}:
        value = number_from(expr, dtype)
        if kind == "integer":
            value = pl.when(value == value.round(0)).then(value).cast(pl.Int32, strict=False)
    elif kind == "bool":
        if dtype == pl.Boolean:
            value = expr
        elif dtype.is_numeric():
            value = pl.when(expr == 1).then(True).when(expr == 0).then(False)
        else:
            value = parse_bool(clean_text(expr))
    elif kind in {"datetime", "date"}:
        zone = timezone if kind == "datetime" else "UTC"
        value = datetime_from(expr, dtype, formats=formats, timezone=zone)
        if kind == "date":
            value = value.dt.date()
    elif kind == "vocab":
        vocab = mapping.vocabulary(spec.name, spec.vocab)
        value = parse_vocab(clean_text(expr.cast(pl.String)), vocab)
    elif kind == "json":
        if isinstance(dtype, pl.Struct):
            value = expr.struct.json_encode()
        else:
            text = clean_text(expr)
            value = pl.when(text.str.contains(r"^\{[\s\S]*\}$")).then(text)
    else:  # pragma: no cover - the spec table only holds the kinds above
        raise ValueError(kind)
    return value.cast(spec.dtype), present


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
            def number(name: str) -> pl.Expr:
                return number_from(pl.col(name), schema[name])

            def column(name: str) -> pl.Expr:
                return pl.col(name)

            source = rule.derive(number, column)
            dtype = lazy.select(source).collect_schema().dtypes()[0]
            raw_text = pl.concat_str(
                [pl.lit(f"{n}=") + pl.col(n).cast(pl.String).fill_null("") for n in rule.needs if n != LINE],
                separator="; ",
            )
        else:
            constant = rule.value
            dtype = pl.String
            source = pl.lit(None if constant is None else str(constant), dtype=pl.String)
            raw_text = source
        formats = _datetime_formats(raw, spec, rule, dtype)
        value, present = _coerce(spec, source, dtype, rule, mapping, timezone, formats)
        columns.append(_Column(spec, value, raw_text, present))

    temporary = []
    for column in columns:
        temporary += [
            column.value.alias(f"__v_{column.spec.name}"),
            column.raw.alias(f"__r_{column.spec.name}"),
            column.present.alias(f"__p_{column.spec.name}"),
        ]
    source_columns = [c for c in raw.columns if c in schema]
    empty_row = pl.all_horizontal(
        [clean_text(pl.col(c).cast(pl.String)).is_null() for c in source_columns]
        or [pl.lit(False)]
    )
    checks: list[tuple[pl.Expr, str | None, pl.Expr, pl.Expr]] = [
        (empty_row, None, pl.lit(""), pl.lit("empty row")),
    ]
    if EXTRA_FIELD in schema:
        extra = pl.col(EXTRA_FIELD).fill_null("")
        checks.append((extra != "", None, extra, pl.lit("too many fields")))
    for column in columns:
        name = column.spec.name
        v, r, p = pl.col(f"__v_{name}"), pl.col(f"__r_{name}"), pl.col(f"__p_{name}")
        if column.spec.required:
            checks.append((~p, name, r.fill_null(""), pl.lit("missing value")))
        if column.spec.kind in REASONS:
            reason = REASONS[column.spec.kind]
            checks.append((p & v.is_null(), name, r, pl.lit(reason)))
        if column.spec.minimum is not None:
            checks.append((v < column.spec.minimum, name, r, pl.lit(f"below {column.spec.minimum:g}")))
        if column.spec.maximum is not None:
            checks.append((v > column.spec.maximum, name, r, pl.lit(f"above {column.spec.maximum:g}")))

    def chain(pick: int) -> pl.Expr:
        expr: pl.Expr | None = None
        for check in checks:
            cond = check[0].fill_null(False)
            out = check[pick] if pick != 1 else pl.lit(check[1], dtype=pl.String)
            expr = pl.when(cond).then(out) if expr is None else expr.when(cond).then(out)
        assert expr is not None
        return expr.otherwise(pl.lit(None, dtype=pl.String))

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
        lazy.with_columns(temporary)
        .select(
            *outputs,
            *extras,
            pl.lit(file_index, dtype=pl.UInt32).alias(FILE),
            pl.col(LINE),
            chain(1).alias(COLUMN),
            chain(2).cast(pl.String).alias(RAW),
            chain(3).alias(REASON),
        )
    )
