"""One source → canonical columns, lazily, with the reason each unusable row or field is rejected.

``canonical_frame`` returns a lazy frame holding, for every source row, the canonical columns
(null where a value could not be read), ``_line``, and ``_column`` / ``_raw`` / ``_reason``
naming the first problem of the row with a *required* column (null for a good row). An
*optional* column that cannot be read does not cost the row: its value is null and
``_fe_<column>`` / ``_fr_<column>`` hold the reason and the raw text, for
``_rejects/<table>_fields.parquet``. Derived columns (``birth_year`` from ``birth_date``,
``category_l1…l3`` from ``category_path``, ``province``/``city`` from ``address``, ``age_band``
from a generation written as a birth year, ``90后``) are filled when not mapped themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import polars as pl

from c2m_cli.errors import InvalidDataError
from c2m_cli.ingest.address import address_stages
from c2m_cli.ingest.coerce import (
    AGE_BAND,
    DATETIME_FORMATS,
    EARLIEST,
    NOT_FINITE,
    NULL_TOKENS,
    NUMERIC_TIME,
    clean_text,
    datetime_from,
    detect_datetime_formats,
    detect_decimal,
    fast_datetime,
    fast_number,
    id_from,
    id_problem,
    latest_plausible,
    localize,
    lookup,
    naive_format,
    normalise_key,
    null_tokens,
    number_from,
    number_problem,
    number_value,
    parse_bool,
    parse_datetime,
    parse_naive,
    plausibility_problem,
    prepare_number,
    rating_text,
    to_halfwidth,
    year_text,
)
from c2m_cli.ingest.mapping import ColumnRule, TableMapping, match_column
from c2m_cli.ingest.readers import EXTRA_FIELD, LINE, SAMPLE_ROWS, RawSource
from c2m_cli.ingest.schema import ColumnSpec, specs

COLUMN = "_column"
RAW = "_raw"
REASON = "_reason"
FILE = "_file"
FIELD_REASON = "_fe_"
FIELD_RAW = "_fr_"

REASONS = {
    "number": "not a number",
    "integer": "not a whole number",
    "bool": "not a boolean (是/否, true/false, Y/N)",
    "datetime": "not a date/time",
    "date": "not a date",
    "vocab": "not a known value",
    "json": "not a JSON object",
}
NEGATIVE_PRICE = "negative price (write a refund as a negative quantity)"
CATEGORY_SEPARATORS = r"\s*[/>|＞｜»]\s*"


def _bound(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 1e4 else f"{x:g}"


@dataclass
class _Column:
    spec: ColumnSpec
    stripped: pl.Expr  # the source, trimmed when text
    cleaned: pl.Expr  # the trimmed source with placeholders nulled
    prepared: pl.Expr  # computed once from the cleaned column
    fast: Callable[[pl.Expr], pl.Expr] | None  # most values, cheaply, from the prepared column
    pre_fast: Callable[[pl.Expr], pl.Expr] | None  # a column the fast path reads instead (parsed once)
    value: Callable[[pl.Expr], pl.Expr]  # the value from the prepared column (or the values fast left)
    check: Callable[[pl.Expr, pl.Expr], pl.Expr]  # the problem from the prepared column and value
    bound: Callable[[pl.Expr, pl.Expr], pl.Expr]  # the problem (a column) with range checks added
    raw: pl.Expr  # the source text, for rejects
    # The fast path reads the source text as it is (untrimmed); trimming, placeholders and the
    # full rules then only see the values it left (a column null elsewhere: cheap).
    source: pl.Expr | None = None


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


def _numeric_origin(sample: pl.Series | None) -> bool:
    """A text id column that a spreadsheet or pandas wrote from numbers (``1``, ``2.0``)."""
    if sample is None:
        return False
    values = sample.drop_nulls().cast(pl.String).str.strip_chars()
    values = values.filter(values != "")
    if values.len() == 0:
        return False
    return bool(values.str.contains(r"^-?\d+(\.0+)?$").all() and values.str.contains(r"\.0+$").any())


Fn = Callable[[pl.Expr], pl.Expr]
_NULL_TOKEN_SET = frozenset(NULL_TOKENS)
Check = Callable[[pl.Expr, pl.Expr], pl.Expr]
_NONE = pl.lit(None, dtype=pl.String)


def _whole(problem: pl.Expr, v: pl.Expr) -> pl.Expr:
    """An integer column: a number with a fraction is "not a whole number"."""
    return pl.when(problem.is_null() & v.is_not_null() & (v != v.round(0))).then(
        pl.lit(REASONS["integer"])
    ).otherwise(problem)


def _coerce(
    spec: ColumnSpec,
    rule: ColumnRule,
    cleaned: pl.Expr,
    dtype: pl.DataType,
    mapping: TableMapping,
    timezone: str,
    formats: list[str] | None,
    decimal: str,
    sample: pl.Series | None,
    today: datetime,
) -> tuple[pl.Expr, Fn | None, Fn, Check, Check]:
    """(prepared, fast, value, check, bound) for one canonical column.

    ``cleaned`` is the source column, trimmed with placeholders nulled when it is text;
    ``prepared`` is computed once into a column ``c``; ``value(c)`` into a column ``v``;
    ``check(c, v)`` names the problem (null when fine) into a column ``e``; ``bound(e, v)``
    adds the whole-number and range problems. Each stage is a column of its own, so no costly
    string expression is evaluated twice.
    """
    is_text = dtype == pl.String or dtype == pl.Null
    kind = spec.kind
    prepared = cleaned
    value: Fn
    check: Check
    fast: Fn | None = None

    def missing_or(reason: str) -> Check:
        return lambda c, v: pl.when(c.is_not_null() & v.is_null()).then(pl.lit(reason))

    if kind == "id":
        if is_text:
            if _numeric_origin(sample):
                prepared = cleaned.str.replace(r"\.0+$", "")
            else:  # digits only (most ids): kept as written, nothing to trim or to reject
                fast = lambda c: pl.when(c.cast(pl.UInt64, strict=False).is_not_null()).then(c)  # noqa: E731
            value = lambda c: c  # noqa: E731
            check = lambda c, v: id_problem(c, c, dtype)  # noqa: E731
        else:
            value = lambda c: id_from(c, dtype)  # noqa: E731
            check = lambda c, v: id_problem(v, c, dtype)  # noqa: E731
    elif kind == "text":
        value = lambda c: c.cast(pl.String)  # noqa: E731
        check = lambda c, v: _NONE  # noqa: E731
    elif kind in {"number", "integer"} and spec.parse == "year" and rule.format and is_text:
        chosen = [rule.format]
        prepared = to_halfwidth(cleaned)
        value = lambda c: parse_datetime(c, formats=chosen, timezone="UTC", prepared=True).dt.year().cast(pl.Float64)  # noqa: E731
        check = lambda c, v: pl.when(c.is_not_null() & v.is_null() & ~c.str.contains(AGE_BAND)).then(  # noqa: E731
            pl.lit(REASONS["date"])
        )
    elif kind in {"number", "integer"}:
        if is_text:
            text = cleaned
            if spec.parse == "rating":
                text = rating_text(cleaned)
            elif spec.parse == "year":
                text = year_text(cleaned)
            if spec.parse is None:  # plain numbers by a cast; the rules for the rest
                prepared = text
                fast = lambda c: fast_number(c, decimal)  # noqa: E731
                value = lambda c: number_value(prepare_number(c), decimal)  # noqa: E731
                check = lambda c, v: pl.when(v.is_not_null() & ~v.is_finite()).then(pl.lit(NOT_FINITE)).otherwise(  # noqa: E731
                    number_problem(prepare_number(c), v, decimal)
                )
            else:
                prepared = prepare_number(text)
                value = lambda c: number_value(c, decimal)  # noqa: E731
                check = lambda c, v: number_problem(c, v, decimal)  # noqa: E731
            if spec.parse == "year":  # 95后: a generation, kept as an age band, not a failure
                inner = check
                check = lambda c, v: pl.when(c.str.contains(AGE_BAND).fill_null(False)).then(_NONE).otherwise(  # noqa: E731
                    inner(c, v)
                )
        else:
            value = lambda c: c.cast(pl.Float64)  # noqa: E731
            check = lambda c, v: pl.when(c.is_not_null() & ~v.is_finite().fill_null(False)).then(  # noqa: E731
                pl.lit(NOT_FINITE)
            )
    elif kind == "bool":
        if dtype == pl.Boolean:
            value = lambda c: c  # noqa: E731
            check = lambda c, v: _NONE  # noqa: E731
        elif dtype.is_numeric():
            value = lambda c: pl.when(c == 1).then(True).when(c == 0).then(False)  # noqa: E731
            check = missing_or(REASONS["bool"])
        else:
            prepared = to_halfwidth(cleaned)
            value = parse_bool
            check = missing_or(REASONS["bool"])
    elif kind in {"datetime", "date"}:
        zone = timezone if kind == "datetime" else "UTC"
        if spec.parse == "birth":
            earliest, latest = datetime(1900, 1, 1, tzinfo=UTC), today
        else:
            earliest, latest = EARLIEST, latest_plausible(today.date())
        if is_text:
            chosen_formats = formats or [*DATETIME_FORMATS, NUMERIC_TIME]
            first = chosen_formats[0]
            fast = lambda c: fast_datetime(c, first, zone)  # noqa: E731
            value = lambda c: parse_datetime(c, formats=chosen_formats, timezone=zone)  # noqa: E731
        else:
            value = lambda c: datetime_from(c, dtype, formats=formats, timezone=zone)  # noqa: E731
        reason = REASONS[kind]
        check = lambda c, v: pl.when(c.is_not_null() & v.is_null()).then(pl.lit(reason)).otherwise(  # noqa: E731
            plausibility_problem(v, earliest, latest)
        )
    elif kind == "vocab":
        vocab = mapping.vocabulary(spec.name, spec.vocab)
        prepared = cleaned if dtype == pl.String else cleaned.cast(pl.String)
        written = {k: v for k, v in vocab.items() if k not in _NULL_TOKEN_SET}  # placeholders stay null
        fast = lambda c: lookup(c, written, pl.String())  # noqa: E731  (most are written as the key)
        value = lambda c: lookup(normalise_key(c), vocab, pl.String())  # noqa: E731
        check = missing_or(REASONS["vocab"])
    elif kind == "json":
        if isinstance(dtype, pl.Struct):
            value = lambda c: c.struct.json_encode()  # noqa: E731
            check = lambda c, v: _NONE  # noqa: E731
        else:
            value = lambda c: pl.when(c.str.contains(r"^\{[\s\S]*\}$")).then(c)  # noqa: E731
            check = missing_or(REASONS["json"])
    else:  # pragma: no cover - the spec table only holds the kinds above
        raise ValueError(kind)

    def bounded(problem: pl.Expr, v: pl.Expr) -> pl.Expr:
        if kind == "integer":
            problem = _whole(problem, v)
        if spec.minimum is not None:
            below = NEGATIVE_PRICE if spec.name in {"unit_price", "list_price"} and spec.minimum == 0 else (
                f"below {_bound(spec.minimum)}"
            )
            problem = pl.when(problem.is_null() & (v < spec.minimum)).then(pl.lit(below)).otherwise(problem)
        if spec.maximum is not None:
            problem = pl.when(problem.is_null() & (v > spec.maximum)).then(
                pl.lit(f"above {_bound(spec.maximum)}")
            ).otherwise(problem)
        return problem

    return prepared, fast, value, check, bounded


def _datetime_formats(
    sample: pl.Series | None, spec: ColumnSpec, rule: ColumnRule, dtype: pl.DataType
) -> list[str] | None:
    if rule.format:
        return [rule.format]
    wants_dates = spec.kind in {"datetime", "date"}
    if not wants_dates or dtype != pl.String or sample is None:
        return None
    sample = sample.filter(sample.str.strip_chars().str.len_chars() > 0)
    return detect_datetime_formats(sample)


def source_sample(raw: RawSource, frame: pl.LazyFrame | None = None) -> pl.DataFrame:
    """The first rows of a source, for format, decimal and time-zone detection."""
    return (raw.frame if frame is None else frame).head(SAMPLE_ROWS).collect()


_OFFSET = r"([+-]\d{2}:?\d{2}|Z)$"


def zone_evidence(raw: RawSource, table: str, mapping: TableMapping) -> tuple[dict[str, int], int]:
    """(offset → sampled values carrying it, naive sampled values) of a table's ``ts`` text."""
    rules = resolve_rules(table, mapping, raw) if table in {"orders", "events"} else {}
    rule = rules.get("ts")
    if rule is None or rule.source is None:
        return {}, 0
    sample = raw.frame.select(pl.col(rule.source)).head(SAMPLE_ROWS).collect().to_series()
    if sample.dtype != pl.String:
        naive = int(sample.is_not_null().sum()) if isinstance(sample.dtype, pl.Datetime | pl.Date) and (
            getattr(sample.dtype, "time_zone", None) is None
        ) else 0
        return {}, naive
    values = sample.str.strip_chars()
    values = values.filter(values.str.len_chars() > 0)
    datelike = values.filter(~values.str.contains(r"^-?\d+(\.\d+)?$"))
    offsets = datelike.str.extract(_OFFSET, 1).drop_nulls()
    counts = {str(k): int(v) for k, v in offsets.value_counts(sort=True).iter_rows()}
    naive = int(datelike.len() - offsets.len())
    return counts, naive


def canonical_frame(
    raw: RawSource,
    table: str,
    mapping: TableMapping,
    *,
    timezone: str,
    file_index: int,
    frame: pl.LazyFrame | None = None,
    today: datetime | None = None,
    hash_on: list[str] | None = None,
    omit_absent: bool = False,
) -> pl.LazyFrame:
    """Canonical columns + ``_file``, ``_line``, ``_column``, ``_raw``, ``_reason`` of one source
    (and ``_hash``, a 64-bit hash of the ``hash_on`` columns, when asked: duplicates are found
    from it without reading the rows again). ``omit_absent``: canonical columns neither mapped
    nor derived (null throughout) are left out; the caller adds them as typed nulls.)"""
    lazy = raw.frame if frame is None else frame
    plan = coercion_plan(
        raw, table, mapping, timezone=timezone, file_index=file_index, frame=frame, today=today,
        hash_on=hash_on, omit_absent=omit_absent,
    )
    return plan.full(lazy)


SLOW = "__c2m_slow__"  # the fast lane's flag: this row needs the full rules
SOURCE_PREFIX = "__c2m_src__"  # the fast lane carries the source columns under this prefix


@dataclass
class CoercionPlan:
    """The coercion of one source as functions of a frame of its columns.

    ``full(frame)``: every rule on every row. ``fast(frame)``, when the table allows it: the
    same layout read by the fast paths alone, with ``SLOW`` true on each row one of them did
    not read entirely (a placeholder, a problem, untrimmed text, a reader's reject) and the
    source columns carried as ``SOURCE_PREFIX + name``: ``full`` of the slow rows gives their
    result. For a row that is not slow the two agree by construction: the full rules keep the
    fast value where there is one, and find no problem with it.
    """

    full: Callable[[pl.LazyFrame], pl.LazyFrame]
    fast: Callable[[pl.LazyFrame], pl.LazyFrame] | None
    source_columns: list[str]


def coercion_plan(
    raw: RawSource,
    table: str,
    mapping: TableMapping,
    *,
    timezone: str,
    file_index: int,
    frame: pl.LazyFrame | None = None,
    today: datetime | None = None,
    hash_on: list[str] | None = None,
    omit_absent: bool = False,
    read_columns: tuple[str, str] | None = None,
) -> CoercionPlan:
    """The plan behind ``canonical_frame`` (the formats, decimal and origin are detected on the
    source's first rows once, whatever frame the plan is applied to). ``read_columns``: the
    reader's (reason, raw) columns, which put a row on the slow lane when set."""
    lazy = raw.frame if frame is None else frame
    schema = lazy.collect_schema()
    rules = resolve_rules(table, mapping, raw)
    now = today or datetime.now(UTC)
    sample_frame: pl.DataFrame | None = None
    declared_decimal = mapping.read.get("decimal")
    columns: list[_Column] = []
    for spec in specs(table):
        rule = rules.get(spec.name)
        if rule is None:
            continue
        sample: pl.Series | None = None
        if rule.source is not None:
            dtype = schema[rule.source]
            source = pl.col(rule.source)
            raw_text = source.cast(pl.String)
            if dtype == pl.String:
                if sample_frame is None:
                    sample_frame = source_sample(raw, frame)
                sample = sample_frame[rule.source]
        elif rule.derive is not None:
            def number_of(name: str) -> pl.Expr:
                return number_from(pl.col(name), schema[name], raw.decimal)

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
        formats = _datetime_formats(sample, spec, rule, dtype)
        if spec.parse == "year" and dtype == pl.String and not rule.format:
            formats = None
        is_text = dtype in (pl.String, pl.Null)
        stripped = source.cast(pl.String).str.strip_chars() if is_text else source
        cleaned = null_tokens(pl.col(f"__t_{spec.name}")) if is_text else pl.col(f"__t_{spec.name}")
        value_map = mapping.value_map(spec.name) if spec.kind != "vocab" else {}
        if value_map and dtype in (pl.String, pl.Null):
            key = normalise_key(cleaned)
            cleaned = pl.when(key.is_in(list(value_map))).then(
                key.replace(list(value_map), list(value_map.values()))
            ).otherwise(cleaned)
        detected = detect_decimal(sample) if sample is not None and spec.kind in {"number", "integer"} else None
        decimal = declared_decimal or detected or "."  # (only numbers read it)
        cleaned_ref = pl.col(f"__c_{spec.name}")
        prepared, fast, value_of, check, bound = _coerce(
            spec, rule, cleaned_ref, dtype, mapping, timezone, formats, decimal, sample, now
        )
        pre_fast = None
        if spec.kind in {"datetime", "date"} and dtype in (pl.String, pl.Null) and fast is not None:
            first = (formats or [*DATETIME_FORMATS, NUMERIC_TIME])[0]
            if naive_format(first):  # parse once into a column, then localise it
                zone = timezone if spec.kind == "datetime" else "UTC"
                pre_fast = lambda c, first=first: parse_naive(c, first)  # noqa: E731
                fast = lambda n, zone=zone: localize(n, zone)  # noqa: E731
        column = _Column(spec, stripped, cleaned, prepared, fast, pre_fast, value_of, check, bound, raw_text)
        # The fast path on the source text itself: the placeholders and untrimmed values it cannot
        # read are left to the full rules, which trim first (no value map may rewrite the text).
        if fast is not None and dtype == pl.String and prepared is cleaned_ref and not value_map and rule.source:
            column.source = source
            column.stripped = pl.when(pl.col(f"__f_{spec.name}").is_null()).then(source).str.strip_chars()
        columns.append(column)

    by_name = {c.spec.name: c for c in columns}
    stage_strip = [c.stripped.alias(f"__t_{c.spec.name}") for c in columns]
    stage_clean = [c.cleaned.alias(f"__c_{c.spec.name}") for c in columns]
    stage_prepare = [c.prepared.alias(f"__s_{c.spec.name}") for c in columns]
    # A column with a fast path: the fast values, then the rest (null where fast read the value,
    # so the full rules touch few values), then value = fast or rest's value. The fast path reads
    # the source text (before any trimming) when it can, else the prepared column.
    fast_columns = [c for c in columns if c.fast is not None]

    def fast_input(c: _Column) -> pl.Expr:
        return c.source if c.source is not None else pl.col(f"__s_{c.spec.name}")

    def fast_stages(group: list[_Column]) -> tuple[list[pl.Expr], list[pl.Expr]]:
        pre = [c.pre_fast(fast_input(c)).alias(f"__n_{c.spec.name}") for c in group if c.pre_fast]
        fast = [
            c.fast(pl.col(f"__n_{c.spec.name}") if c.pre_fast else fast_input(c)).alias(f"__f_{c.spec.name}")
            for c in group if c.fast
        ]
        return pre, fast

    early_pre, early_fast = fast_stages([c for c in fast_columns if c.source is not None])
    stage_pre, stage_fast = fast_stages([c for c in fast_columns if c.source is None])
    stage_rest = [
        pl.when(pl.col(f"__f_{c.spec.name}").is_null()).then(pl.col(f"__s_{c.spec.name}")).alias(f"__r_{c.spec.name}")
        for c in fast_columns
    ]

    def rest(c: _Column) -> pl.Expr:
        return pl.col(f"__r_{c.spec.name}" if c.fast is not None else f"__s_{c.spec.name}")

    stage_value = [
        (pl.coalesce(pl.col(f"__f_{c.spec.name}"), c.value(rest(c))) if c.fast is not None else c.value(rest(c)))
        .alias(f"__u_{c.spec.name}")
        for c in columns
    ]
    stage_check = [c.check(rest(c), pl.col(f"__u_{c.spec.name}")).alias(f"__e0_{c.spec.name}") for c in columns]
    stage_bound = [
        c.bound(pl.col(f"__e0_{c.spec.name}"), pl.col(f"__u_{c.spec.name}")).alias(f"__e_{c.spec.name}") for c in columns
    ]
    # Optional columns are nulled where they have a problem; a required one rejects the row.
    stage_final = [
        (pl.col(f"__u_{c.spec.name}") if c.spec.required else
         pl.when(pl.col(f"__e_{c.spec.name}").is_null()).then(pl.col(f"__u_{c.spec.name}")))
        .cast(c.spec.dtype, strict=False).alias(f"__v_{c.spec.name}")
        for c in columns
    ]

    # Row-level problems, in order (the reader's own come first, in step.py): an empty row, too many fields, then each
    # required column (missing, or its problem).
    source_columns = [c for c in raw.columns if c in schema]
    # A blank row has every mapped text column trimmed to "": only rows passing that cheap test
    # have each source column tested (on a column null elsewhere, so the regex sees few values).
    mapped_text = [c.spec.name for c in columns if rules[c.spec.name].source is not None and
                   schema[str(rules[c.spec.name].source)] == pl.String]
    maybe_empty = pl.all_horizontal(
        [(pl.col(f"__t_{n}").fill_null("") == "") & (pl.col(f"__f_{n}").is_null() if by_name[n].source is not None
                                                    else pl.lit(True)) for n in mapped_text]
        or [pl.lit(True)]
    )

    def blank(name: str) -> pl.Expr:  # no string copies: a regex test on text
        column = pl.when(maybe_empty).then(pl.col(name))
        if schema[name] == pl.String:
            return column.is_null() | column.str.contains(r"^\s*$")
        return column.is_null() | (column.cast(pl.String).str.strip_chars() == "")

    empty_row = maybe_empty & pl.all_horizontal([blank(c) for c in source_columns] or [pl.lit(False)])
    row_checks: list[tuple[pl.Expr, str | None, pl.Expr]] = []  # (reason or null, column, raw)
    row_checks.append((pl.when(empty_row).then(pl.lit("empty row")), None, pl.lit("")))
    if EXTRA_FIELD in schema:
        extra = pl.col(EXTRA_FIELD).fill_null("")
        row_checks.append((pl.when(extra != "").then(pl.lit("too many fields")), None, extra))
    for column in columns:
        if not column.spec.required:
            continue
        name = column.spec.name
        missing = pl.col(f"__c_{name}").is_null()
        if column.source is not None:
            missing = missing & pl.col(f"__f_{name}").is_null()
        problem = pl.when(missing).then(pl.lit("missing value")).otherwise(
            pl.col(f"__e_{name}")
        )
        row_checks.append((problem, name, column.raw.fill_null("")))
    # Each row problem is a column of its own: it is referenced twice below.
    stage_row = [check[0].alias(f"__q{i}") for i, check in enumerate(row_checks)]
    row_checks = [(pl.col(f"__q{i}"), check[1], check[2]) for i, check in enumerate(row_checks)]

    first_failure = pl.min_horizontal(
        [pl.when(row[0].is_not_null()).then(pl.lit(i, dtype=pl.Int32)) for i, row in enumerate(row_checks)]
    )
    indices = range(len(row_checks))
    failed_column = lookup(pl.col("__k"), {i: row_checks[i][1] for i in indices if row_checks[i][1]}, pl.String())
    reason_of = pl.coalesce([row[0] for row in row_checks]) if row_checks else pl.lit(None, dtype=pl.String)
    raw_of: Any = None
    for i, row in enumerate(row_checks):
        branch = pl.col("__k") == i
        raw_of = pl.when(branch).then(row[2]) if raw_of is None else raw_of.when(branch).then(row[2])
    raw_value = raw_of.otherwise(pl.lit(None, dtype=pl.String)).cast(pl.String)

    values = _values_with_derivations(table, rules, by_name)
    outputs = [
        (pl.lit(None, dtype=s.dtype) if values[s.name] is _ABSENT else values[s.name]).alias(s.name)
        for s in specs(table) if not (omit_absent and values[s.name] is _ABSENT)
    ]
    if hash_on:
        dtypes = {s.name: s.dtype for s in specs(table)}
        outputs.append(
            pl.struct([
                values[n].cast(dtypes[n]).alias(n) for n in hash_on if not (omit_absent and values[n] is _ABSENT)
            ]).hash(seed=0).alias("_hash")
        )
    derived_problems = _derived_problems(table, rules, by_name)
    field_columns: list[pl.Expr] = []
    for column in columns:
        if column.spec.required or column.spec.name in derived_problems:
            continue
        name = column.spec.name
        problem = pl.col(f"__e_{name}")
        field_columns += [problem.alias(FIELD_REASON + name), pl.when(problem.is_not_null()).then(column.raw).alias(FIELD_RAW + name)]
    for name, (problem, raw_expr) in derived_problems.items():
        field_columns += [problem.alias(FIELD_REASON + name), pl.when(problem.is_not_null()).then(raw_expr).alias(FIELD_RAW + name)]
    extras = [
        clean_text(pl.col(src).cast(pl.String)).alias(name)
        for name, src in mapping.extras.items()
        if src in schema
    ]

    def full(source_frame: pl.LazyFrame) -> pl.LazyFrame:
        staged = (
            source_frame.with_columns(early_pre).with_columns(early_fast).with_columns(stage_strip)
            .with_columns(stage_clean).with_columns(stage_prepare)
            .with_columns(stage_pre).with_columns(stage_fast)
            .with_columns(stage_rest).with_columns(stage_value).with_columns(stage_check)
            .with_columns(stage_bound).with_columns(stage_final)
        )
        if _derives_address(by_name):
            for stage in address_stages("__v_address"):
                staged = staged.with_columns(stage)
        return (
            staged
            .with_columns(stage_row)
            .with_columns(first_failure.alias("__k"))
            .select(
                *outputs,
                *extras,
                *field_columns,
                pl.lit(file_index, dtype=pl.UInt32).alias(FILE),
                pl.col(LINE),
                failed_column.alias(COLUMN),
                raw_value.alias(RAW),
                reason_of.alias(REASON),
            )
        )

    lane = _fast_lane(
        table, columns, rules, by_name, schema, mapping, outputs_of=full, lazy=lazy, file_index=file_index,
        hash_on=hash_on, omit_absent=omit_absent, read_columns=read_columns,
    )
    return CoercionPlan(full=full, fast=lane, source_columns=list(schema.names()))


_PROBE = pl.Series("v", [None, 0.0, -1.0, 1.5, 2.0, 1e308, float("inf"), float("-inf"), float("nan")])


def _fast_check(column: _Column, value: pl.Expr) -> pl.Expr:
    """``column.check`` of a value its fast path read (no text left for the full rules).

    For a plain number that is only "not finite": the text-rule terms are null when there is
    no text left, but polars evaluates them on every row (a third of the lane's cost). The
    short form is used only when it gives the generic form's result on probe values."""
    none = pl.lit(None, dtype=pl.String)
    generic = column.check(none, value)
    spec = column.spec
    if spec.kind not in {"number", "integer"} or spec.parse is not None:
        return generic
    short = pl.when(value.is_not_null() & ~value.is_finite()).then(pl.lit(NOT_FINITE))
    probe = pl.DataFrame([_PROBE]).select(
        column.check(none, pl.col("v")).alias("generic"), pl.when(pl.col("v").is_not_null() & ~pl.col("v").is_finite())
        .then(pl.lit(NOT_FINITE)).alias("short")
    )
    return short if probe["generic"].equals(probe["short"]) else generic


def _empty_is_null(column: _Column) -> bool:
    """An empty source text gives a null value without a problem under the full rules."""
    none = pl.lit(None, dtype=pl.String)
    try:
        probe = pl.select(column.value(none).alias("u")).with_columns(
            column.bound(column.check(none, pl.col("u")), pl.col("u")).alias("e")
        )
    except pl.exceptions.PolarsError:
        return False
    return bool(probe["u"].is_null().all() and probe["e"].is_null().all())


def _fast_lane(
    table: str,
    columns: list[_Column],
    rules: dict[str, ColumnRule],
    by_name: dict[str, _Column],
    schema: pl.Schema,
    mapping: TableMapping,
    *,
    outputs_of: Callable[[pl.LazyFrame], pl.LazyFrame],
    lazy: pl.LazyFrame,
    file_index: int,
    hash_on: list[str] | None,
    omit_absent: bool,
    read_columns: tuple[str, str] | None,
) -> Callable[[pl.LazyFrame], pl.LazyFrame] | None:
    """``CoercionPlan.fast``, or None when a column has no fast path on its source text (value
    maps, derived columns, text a rule must prepare first)."""
    derived = _values_with_derivations(table, rules, by_name)
    if any(derived[s.name] is not _ABSENT and s.name not in by_name for s in specs(table)):
        return None  # birth_year from birth_date, category levels, province/city from address …
    if table == "customers" and "birth_year" in by_name:
        return None  # age_band from a generation
    parsed: list[pl.Expr] = []
    first_stage: list[pl.Expr] = []
    problems: list[pl.Expr] = []
    values: dict[str, pl.Expr] = {}
    ok: list[pl.Expr] = []
    for column in columns:
        name, spec = column.spec.name, column.spec
        rule = rules[name]
        if rule.source is None or schema[rule.source] != pl.String:
            return None
        source = pl.col(rule.source)
        fast_col, problem_col = pl.col(f"__f_{name}"), pl.col(f"__e_{name}")
        if column.source is not None and column.fast is not None:
            if column.pre_fast is not None:  # parsed once into a column, then localised
                parsed.append(column.pre_fast(source).alias(f"__n_{name}"))
                first_stage.append(column.fast(pl.col(f"__n_{name}")).alias(f"__f_{name}"))
            else:
                first_stage.append(column.fast(source).alias(f"__f_{name}"))
            problems.append(column.bound(_fast_check(column, fast_col), fast_col).alias(f"__e_{name}"))
            good = fast_col.is_not_null() & problem_col.is_null()
            if not spec.required and _empty_is_null(column):
                ok.append(good | source.is_null() | (source == ""))
                values[name] = pl.when(good).then(fast_col).cast(spec.dtype, strict=False)
            else:
                ok.append(good)
                values[name] = fast_col.cast(spec.dtype, strict=False)
        elif spec.kind == "text" and spec.parse is None and not mapping.value_map(name):
            first_stage.append(null_tokens(source.str.strip_chars()).alias(f"__f_{name}"))
            values[name] = fast_col.cast(spec.dtype, strict=False)
            if spec.required:
                ok.append(fast_col.is_not_null())
        else:
            return None
    slow = ~pl.all_horizontal(ok) if ok else pl.lit(False)
    if EXTRA_FIELD in schema:
        slow = slow | (pl.col(EXTRA_FIELD).fill_null("") != "")
    if read_columns is not None:
        slow = slow | pl.col(read_columns[0]).is_not_null()
    layout = outputs_of(lazy).collect_schema()
    dtypes = {s.name: s.dtype for s in specs(table)}
    out: dict[str, pl.Expr] = {}
    for s in specs(table):
        if s.name in values:
            out[s.name] = values[s.name]
        elif not omit_absent:
            out[s.name] = pl.lit(None, dtype=s.dtype)
    if hash_on:
        out["_hash"] = pl.struct(
            [out[n].cast(dtypes[n]).alias(n) for n in hash_on if n in out]
        ).hash(seed=0)
    for name, src in mapping.extras.items():
        if src in schema:
            out[name] = clean_text(pl.col(src).cast(pl.String))
    out[FILE] = pl.lit(file_index, dtype=pl.UInt32)
    out[LINE] = pl.col(LINE)
    selected = [
        (out[name] if name in out else pl.lit(None, dtype=dtype)).cast(dtype).alias(name)
        for name, dtype in layout.items()
    ]
    carried = [pl.col(name).alias(SOURCE_PREFIX + name) for name in schema.names()]

    def lane(source_frame: pl.LazyFrame) -> pl.LazyFrame:
        return source_frame.with_columns(parsed).with_columns(first_stage).with_columns(problems).select(
            *selected, slow.alias(SLOW), *carried
        )

    return lane


# The value of a canonical column that is neither mapped nor derived (compared by identity).
_ABSENT = pl.lit(None)


def _value(by_name: dict[str, _Column], name: str) -> pl.Expr:
    return pl.col(f"__v_{name}") if name in by_name else pl.lit(None)


def _values_with_derivations(table: str, rules: dict[str, ColumnRule], by_name: dict[str, _Column]) -> dict[str, pl.Expr]:
    """Canonical column → its value expression, derived columns filled where not mapped."""
    out: dict[str, pl.Expr] = {}
    for spec in specs(table):
        if spec.name in by_name:
            out[spec.name] = pl.col(f"__v_{spec.name}")
        else:
            out[spec.name] = _ABSENT  # a typed null in the output (or left out, omit_absent)
    if "birth_date" in by_name and "birth_year" not in by_name:
        out["birth_year"] = pl.col("__v_birth_date").dt.year().cast(pl.Int32)
    if "birth_year" in by_name and table == "customers":
        band = pl.col("__s_birth_year").cast(pl.String).str.extract(r"^\s*(\d0|\d5|00)\s*后", 1)
        out["age_band"] = pl.coalesce(out["age_band"], pl.when(band.is_not_null()).then(band + pl.lit("后")))
    if "category_path" in by_name:
        parts = (
            pl.col("__v_category_path").str.replace_all(CATEGORY_SEPARATORS, "/").str.strip_chars("/").str.split("/")
        )
        for level in (1, 2, 3):
            name = f"category_l{level}"
            if name not in by_name:
                part = parts.list.get(level - 1, null_on_oob=True).str.strip_chars()
                out[name] = pl.when(part != "").then(part)
    if _derives_address(by_name):
        if "province" not in by_name:
            out["province"] = pl.col("__addr_province")
        if "city" not in by_name:
            out["city"] = pl.col("__addr_city")
    return out


def _derives_address(by_name: dict[str, _Column]) -> bool:
    return "address" in by_name and ("province" not in by_name or "city" not in by_name)


def _derived_problems(
    table: str, rules: dict[str, ColumnRule], by_name: dict[str, _Column]
) -> dict[str, tuple[pl.Expr, pl.Expr]]:
    """Field problems of derived columns (the address a city could not be found in)."""
    out: dict[str, tuple[pl.Expr, pl.Expr]] = {}
    if _derives_address(by_name):
        out["address"] = (pl.col("__addr_problem"), pl.col("__v_address"))
    return out


def field_columns(names: list[str]) -> list[str]:
    """The canonical columns that have field-problem columns in an intermediate frame."""
    return [n[len(FIELD_REASON):] for n in names if n.startswith(FIELD_REASON)]
