"""The workspace contract as data and code: every table's columns, and the shared order-line rules.

Tables (DESIGN.md, "Canonical tables" and "Outputs of later steps"): :data:`TABLES` maps a table
name to its :class:`Table` -- columns with a kind (``id``, ``text``, ``number``, ``integer``,
``bool``, ``datetime``, ``date``, ``strings``), required or optional -- and, for ``labels``, the
prefix families its other columns must carry. The canonical tables come from
``c2m_cli.ingest.schema`` (ingest's own, with value vocabularies and bounds), so there is one list.

``validate_schema`` is what the workspace runs on every table a step writes (``Step.write_table``
/ ``sink_table``: every required column, the kinds, the label families) and reads (``Step.scan``:
the key columns and the kinds of the columns present). A violation is one ``InvalidDataError``
naming the table and the column.

Order-line rules, one definition each, used by every step:

``line_kind(lf)``: each order line is exactly one of

- ``cancelled``: status ``cancelled`` -- counts for nothing, anywhere;
- ``returned``: status ``returned`` -- it was sold, then sent back;
- ``refund``: quantity or amount below zero (a refund or correction line, not cancelled);
- ``presale``: status ``presale`` or the ``presale`` flag -- a paid deposit on a product not shipped;
- ``void``: quantity and amount both zero -- nothing changed hands;
- ``sale``: everything else, i.e. status ``paid`` or no status (a table without ``status`` is all
  paid), quantity and amount not negative.

``sales_lines(lf, returns=...)`` keeps the sales: ``"exclude"`` (default, net sales: returned lines
are not sales), ``"include"`` (demand as ordered: returned lines count too), ``"net"`` (returned
lines out, refund lines kept so their negative quantities net against sales). ``presale_lines(lf)``
keeps the pre-sale deposits. A *purchase* by a customer (labels) is a sale or a pre-sale:
``purchase_lines``.

Time: ``ts`` is stored in UTC; ``local_ts``/``local_date``/``local_hour`` give it in the data's zone
(``manifest.json`` ``data_timezone``). ``period_start(expr, freq)`` labels a period by its first day:
D the day, W the Monday of the week, M the first of the month.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import polars as pl

from c2m_cli.errors import InvalidDataError, UsageError
from c2m_cli.ingest import schema as canonical

# -- tables ------------------------------------------------------------------------------------
KINDS = ("id", "text", "number", "integer", "bool", "datetime", "date", "strings")


@dataclass(frozen=True)
class Column:
    name: str
    kind: str
    required: bool = False
    key: bool = False  # checked on read too: a consumer cannot work without it


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    prefixes: tuple[str, ...] = ()  # other columns must start with one of these (labels)
    exact: bool = False  # dtypes exactly the canonical ones when written (ingest's tables)

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def dtypes(self) -> dict[str, pl.DataType]:
        """Column → the dtype producers write (the dtype test fixtures get)."""
        exact = canonical.canonical_schema(self.name) if self.exact else {}
        return {c.name: exact.get(c.name, KIND_DTYPE[c.kind]) for c in self.columns}


KIND_DTYPE: dict[str, pl.DataType] = {
    "id": pl.String(),
    "text": pl.String(),
    "number": pl.Float64(),
    "integer": pl.Int64(),
    "bool": pl.Boolean(),
    "datetime": pl.Datetime("us", "UTC"),
    "date": pl.Date(),
    "strings": pl.List(pl.String()),
}
_CANONICAL_KIND = {"vocab": "text", "json": "text"}


def _c(name: str, kind: str, required: bool = True, key: bool = False) -> Column:
    return Column(name, kind, required, key)


def _canonical(table: str) -> Table:
    specs = canonical.specs(table)
    key = canonical.KEYS.get(table)
    columns = tuple(
        Column(
            s.name,
            _CANONICAL_KIND.get(s.kind, s.kind),
            s.required,
            key=s.required or s.name == key,
        )
        for s in specs
    )
    return Table(table, columns, exact=True)


LABEL_FAMILIES = ("geo_", "demo_", "value_", "occasion_", "behavior_", "motive_", "attitude_", "lifestyle_", "lifecycle_")
LIFECYCLE_STAGES = ("new", "active", "sleeping", "dormant", "lost")
QUANTILE_COLUMNS = ("q0.05", "q0.1", "q0.5", "q0.9", "q0.95")

TABLES: dict[str, Table] = {
    **{name: _canonical(name) for name in canonical.TABLE_NAMES},
    "labels": Table(
        "labels",
        (
            _c("user_id", "id", key=True),
            _c("lifecycle_stage", "text"),
            _c("lifecycle_prev_stage", "text", required=False),
            _c("value_clv", "number"),
            _c("value_p_alive", "number"),
        ),
        prefixes=LABEL_FAMILIES,
    ),
    "tags": Table(
        "tags",
        (_c("user_id", "id", key=True), _c("family", "text"), _c("tag", "text"), _c("score", "number"), _c("evidence", "text")),
    ),
    "segments": Table(
        "segments",
        (_c("user_id", "id", key=True), _c("segment_id", "id", key=True), _c("segment_name", "text"), _c("distance", "number")),
    ),
    "segment_profiles": Table(
        "segment_profiles",
        (_c("segment_id", "id", key=True), _c("segment_name", "text"), _c("size", "integer"), _c("share", "number")),
    ),
    "forecast": Table(
        "forecast",
        (
            _c("level", "text", key=True),
            _c("unique_id", "id", key=True),
            _c("ds", "date", key=True),
            _c("model", "text", key=True),
            _c("y_hat", "number"),
            *(_c(q, "number") for q in QUANTILE_COLUMNS),
        ),
    ),
    "backtest": Table(
        "backtest",
        (
            _c("level", "text", key=True),
            _c("unique_id", "id", key=True),
            _c("cutoff", "date"),
            _c("ds", "date", key=True),
            _c("model", "text", key=True),
            _c("y", "number"),
            _c("y_hat", "number"),
        ),
    ),
    "forecast_metrics": Table(
        "forecast_metrics",
        (
            _c("level", "text", key=True),
            _c("unique_id", "id", key=True),
            _c("model", "text", key=True),
            _c("metric", "text", key=True),
            _c("value", "number"),
        ),
    ),
    "opportunities": Table(
        "opportunities",
        (
            _c("opportunity_id", "id", key=True),
            _c("rank", "integer"),
            _c("kind", "text"),
            _c("category", "text"),
            _c("sku", "id"),
            _c("subject", "text"),
            _c("evidence", "text"),
            _c("score", "number"),
            _c("segment_id", "id"),
            _c("variants", "strings", required=False),
        ),
    ),
    "briefs": Table(
        "briefs",
        (_c("brief_id", "id", key=True), _c("opportunity_id", "id"), _c("category", "text"), _c("sku", "id")),
    ),
    "quantities": Table(
        "quantities",
        (
            _c("sku", "id"),
            _c("brief_id", "id"),
            _c("presale_orders", "number"),
            _c("forecast_p10", "number"),
            _c("forecast_p50", "number"),
            _c("forecast_p90", "number"),
            _c("recommended_qty", "number"),
            _c("service_level", "number"),
            _c("method", "text"),
        ),
    ),
    "audiences": Table(
        "audiences",
        (_c("user_id", "id", key=True), _c("audience", "text", key=True), _c("reason", "text"), _c("score", "number")),
    ),
    "bundles": Table(
        "bundles",
        (
            _c("antecedent", "strings", key=True),
            _c("consequent", "strings", key=True),
            _c("support", "number"),
            _c("confidence", "number"),
            _c("lift", "number"),
        ),
    ),
}


def table(name: str) -> Table:
    try:
        return TABLES[name]
    except KeyError:
        raise KeyError(f"no contract for table {name!r}; tables are {', '.join(TABLES)}") from None


def _kind_ok(kind: str, dtype: Any) -> bool:
    """Whether ``dtype`` is of ``kind`` (a column of nulls only is of every kind)."""
    if dtype == pl.Null:
        return True
    if kind in ("id", "text"):
        return dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Enum)
    if kind == "number":
        return dtype.is_numeric()
    if kind == "integer":
        return dtype.is_integer()
    if kind == "bool":
        return dtype == pl.Boolean
    if kind == "datetime":
        return isinstance(dtype, pl.Datetime)
    if kind == "date":
        return dtype == pl.Date
    if kind == "strings":
        return isinstance(dtype, pl.List) and _kind_ok("text", dtype.inner)
    raise ValueError(f"unknown column kind {kind!r}")


def validate_schema(name: str, schema: pl.Schema | dict[str, pl.DataType], *, writing: bool = False) -> None:
    """Check a table's schema against the contract; tables without one (e.g. truth/*) pass.

    Writing: every required column present, every contract column of its kind (ingest's tables
    with exactly the canonical dtype), every other ``labels`` column in a family. Reading: the key
    columns present and the contract columns present of their kind.
    """
    spec = TABLES.get(name)
    if spec is None:
        return
    columns = dict(schema)
    where = f"{name}.parquet"
    needed = spec.required if writing else [c.name for c in spec.columns if c.key]
    missing = [c for c in needed if c not in columns]
    if missing:
        raise InvalidDataError(
            f"{where}: missing required column {', '.join(missing)} (has: {', '.join(columns) or 'none'})"
        )
    exact = canonical.canonical_schema(name) if spec.exact and writing else {}
    for column in spec.columns:
        if column.name not in columns:
            continue
        dtype = columns[column.name]
        wanted = exact.get(column.name)
        if wanted is not None and dtype not in (wanted, pl.Null):
            raise InvalidDataError(f"{where}: column {column.name} is {dtype}, expected {wanted}")
        if not _kind_ok(column.kind, dtype):
            raise InvalidDataError(f"{where}: column {column.name} is {dtype}, expected {column.kind} ({KIND_DTYPE[column.kind]})")
    if writing and spec.prefixes:
        known = {c.name for c in spec.columns}
        stray = [c for c in columns if c not in known and not c.startswith(spec.prefixes)]
        if stray:
            raise InvalidDataError(
                f"{where}: column {stray[0]} has no family prefix ({', '.join(p.rstrip('_') for p in spec.prefixes)})"
            )


def empty_frame(name: str) -> pl.DataFrame:
    """An empty frame with the contract's columns and dtypes (fixtures start from this)."""
    return pl.DataFrame(schema=table(name).dtypes())


# -- order lines ---------------------------------------------------------------------------------
LINE_KINDS = ("sale", "returned", "refund", "presale", "cancelled", "void")
Returns = Literal["exclude", "include", "net"]
Frame = TypeVar("Frame", pl.DataFrame, pl.LazyFrame)


def _names(lf: pl.LazyFrame | pl.DataFrame) -> list[str]:
    return lf.collect_schema().names()


def line_kind(lf: pl.LazyFrame | pl.DataFrame) -> pl.Expr:
    """The kind of each order line (see the module docstring); a String expression."""
    names = _names(lf)
    status = pl.col("status").cast(pl.String).str.to_lowercase() if "status" in names else pl.lit(None, pl.String)
    flag = pl.col("presale").cast(pl.Boolean, strict=False).fill_null(False) if "presale" in names else pl.lit(False)
    qty = pl.col("qty").cast(pl.Float64, strict=False) if "qty" in names else pl.lit(None, pl.Float64)
    amount = qty * pl.col("unit_price").cast(pl.Float64, strict=False) if "unit_price" in names else qty
    return (
        pl.when(status == "cancelled").then(pl.lit("cancelled"))
        .when(status == "returned").then(pl.lit("returned"))
        .when((qty < 0) | (amount < 0)).then(pl.lit("refund"))
        .when((qty == 0) & (amount == 0)).then(pl.lit("void"))
        .when((status == "presale") | flag).then(pl.lit("presale"))
        .when(status.is_null() | (status == "paid")).then(pl.lit("sale"))
        .otherwise(pl.lit("void"))  # an unknown status (a vocabulary gap) sells nothing
        .alias("line_kind")
    )


def sales_lines(lf: Frame, *, returns: Returns = "exclude") -> Frame:
    """The order lines that count as sales (one definition for every step).

    ``returns="exclude"``: net sales, returned lines are not sales. ``"include"``: demand as
    ordered, returned lines count. ``"net"``: returned lines out, refund lines in (their negative
    quantities net against sales). Cancelled, pre-sale and void lines are never sales.
    """
    kinds = {"exclude": ["sale"], "include": ["sale", "returned"], "net": ["sale", "refund"]}
    if returns not in kinds:
        raise UsageError(f"returns must be one of {', '.join(kinds)}, got {returns!r}")
    return lf.filter(line_kind(lf).is_in(kinds[returns]))


def presale_lines(lf: Frame) -> Frame:
    """Pre-sale deposits: status ``presale`` or the ``presale`` flag, not cancelled or returned."""
    return lf.filter(line_kind(lf) == "presale")


def purchase_lines(lf: Frame) -> Frame:
    """What a customer bought, for labelling people: sales and pre-sale deposits."""
    return lf.filter(line_kind(lf).is_in(["sale", "presale"]))


def is_sale(lf: pl.LazyFrame | pl.DataFrame, *, returns: Returns = "exclude") -> pl.Expr:
    """The boolean form of ``sales_lines`` for steps that flag rather than filter."""
    kinds = {"exclude": ["sale"], "include": ["sale", "returned"], "net": ["sale", "refund"]}
    return line_kind(lf).is_in(kinds[returns])


# -- time ----------------------------------------------------------------------------------------
def local_ts(column: str, timezone: str) -> pl.Expr:
    """A UTC timestamp column in the data's zone (time-zone aware)."""
    return pl.col(column).cast(pl.Datetime("us", "UTC")).dt.convert_time_zone(timezone)


def local_date(column: str, timezone: str) -> pl.Expr:
    """The calendar day in the data's zone (an order at 01:00 Shanghai is that day, not the one before)."""
    return local_ts(column, timezone).dt.date()


def local_hour(column: str, timezone: str) -> pl.Expr:
    return local_ts(column, timezone).dt.hour()


# Reviews a platform or shop writes for a buyer who wrote nothing (此用户没有填写评价, 系统默认好评,
# 好评！ alone, "no comment" …): never text to label or mine. Matched on the whole review after
# NFKC, lower case, and with spaces and punctuation removed.
PLACEHOLDER_REVIEW = (
    r"^(?:此用户(?:没有|未)填写(?:评价|评论)(?:内容)?"
    r"|(?:该|此)?(?:买家|用户|评价方)?(?:没有|未)(?:及时)?(?:做出|填写)?评价(?:系统)?(?:默认)?(?:好评)?"
    r"|系统默认(?:好评|评价|五星好评)|默认(?:好评|评价|五星好评)|五星好评|haoping|(?:系统|默认)?(?:好评)+"
    r"|该用户觉得商品较好|nocomment|na|thisuserdidnot(?:write|leave)areview)$"
)


def placeholder_review(text: pl.Expr) -> pl.Expr:
    """True for an empty review or a stock placeholder text (the one rule; vectorised)."""
    bare = text.str.normalize("NFKC").str.to_lowercase().str.replace_all(r"[\s\W_]+", "")
    return (text.is_null() | (bare.str.len_chars() == 0) | bare.str.contains(PLACEHOLDER_REVIEW)).fill_null(True)


FREQS = {"D": "1d", "W": "1w", "M": "1mo"}


def period_start(expr: pl.Expr, freq: str) -> pl.Expr:
    """The first day of the period holding each date: D the day, W its Monday, M the 1st."""
    if freq not in FREQS:
        raise UsageError(f"--freq must be D, W or M, got {freq!r}")
    return expr.dt.truncate(FREQS[freq])
