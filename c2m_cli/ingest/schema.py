"""The canonical tables of DESIGN.md: columns, types, which are required, how values are read.

Other steps import ``canonical_schema`` and ``validate_table`` to check the frames they read.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from c2m_cli.errors import InvalidDataError

UTC_US = pl.Datetime("us", "UTC")


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    kind: str  # id | text | number | integer | bool | datetime | date | vocab | json
    required: bool = False
    vocab: str | None = None  # name of the built-in vocabulary for kind "vocab"
    minimum: float | None = None
    maximum: float | None = None
    # How text is read beyond the kind: "rating" (五星, ★★★★★), "year" (1995年, 95后 → age band),
    # "birth" (a date before 1950 is plausible), "address" (source of province / city).
    parse: str | None = None

    @property
    def dtype(self) -> pl.DataType:
        return KIND_DTYPES[self.kind]


KIND_DTYPES: dict[str, pl.DataType] = {
    "id": pl.String(),
    "text": pl.String(),
    "number": pl.Float64(),
    "integer": pl.Int32(),
    "bool": pl.Boolean(),
    "datetime": UTC_US,
    "date": pl.Date(),
    "vocab": pl.String(),
    "json": pl.String(),
}

# Sane bounds: a quantity beyond a million units or an amount beyond a billion in the source
# currency is an export error (1e308, a row number in the wrong column), rejected at ingest.
QTY_BOUND = 1e6
MONEY_BOUND = 1e9

TABLES: dict[str, tuple[ColumnSpec, ...]] = {
    "orders": (
        ColumnSpec("order_id", "id", required=True),
        ColumnSpec("user_id", "id", required=True),
        ColumnSpec("sku", "id", required=True),
        ColumnSpec("ts", "datetime", required=True),
        ColumnSpec("qty", "number", required=True, minimum=-QTY_BOUND, maximum=QTY_BOUND),
        ColumnSpec("unit_price", "number", required=True, minimum=0.0, maximum=MONEY_BOUND),
        ColumnSpec("status", "vocab", vocab="status"),
        ColumnSpec("channel", "text"),
        ColumnSpec("province", "text"),
        ColumnSpec("city", "text"),
        ColumnSpec("presale", "bool"),
        ColumnSpec("discount", "number", minimum=-MONEY_BOUND, maximum=MONEY_BOUND),
        ColumnSpec("store_id", "id"),
        ColumnSpec("address", "text", parse="address"),
    ),
    "customers": (
        ColumnSpec("user_id", "id", required=True),
        ColumnSpec("gender", "vocab", vocab="gender"),
        ColumnSpec("birth_year", "integer", minimum=1900, maximum=2100, parse="year"),
        ColumnSpec("birth_date", "date", parse="birth"),
        ColumnSpec("age_band", "text"),
        ColumnSpec("income_band", "text"),
        ColumnSpec("household", "text"),
        ColumnSpec("province", "text"),
        ColumnSpec("city", "text"),
        ColumnSpec("city_tier", "text"),
        ColumnSpec("country", "text"),
        ColumnSpec("signup_ts", "datetime"),
        ColumnSpec("address", "text", parse="address"),
    ),
    "products": (
        ColumnSpec("sku", "id", required=True),
        ColumnSpec("name", "text"),
        ColumnSpec("category_l1", "text"),
        ColumnSpec("category_l2", "text"),
        ColumnSpec("category_l3", "text"),
        ColumnSpec("brand", "text"),
        ColumnSpec("list_price", "number", minimum=0.0, maximum=MONEY_BOUND),
        ColumnSpec("launch_date", "date"),
        ColumnSpec("attrs", "json"),
        ColumnSpec("category_path", "text"),
    ),
    "events": (
        ColumnSpec("user_id", "id", required=True),
        ColumnSpec("ts", "datetime", required=True),
        ColumnSpec("event", "vocab", required=True, vocab="event"),
        ColumnSpec("sku", "id"),
        ColumnSpec("category", "text"),
        ColumnSpec("query", "text"),
    ),
    "reviews": (
        ColumnSpec("text", "text", required=True),
        ColumnSpec("review_id", "id"),
        ColumnSpec("user_id", "id"),
        ColumnSpec("sku", "id"),
        ColumnSpec("category", "text"),
        ColumnSpec("ts", "datetime"),
        ColumnSpec("rating", "integer", minimum=1, maximum=5, parse="rating"),
    ),
}

TABLE_NAMES: tuple[str, ...] = tuple(TABLES)

# The key whose repeated values would break a join (later rows with a key seen before are
# rejected); orders instead count and reject exact duplicate lines.
KEYS: dict[str, str] = {"customers": "user_id", "products": "sku"}


def specs(table: str) -> tuple[ColumnSpec, ...]:
    try:
        return TABLES[table]
    except KeyError:
        raise KeyError(f"unknown canonical table {table!r}; tables are {', '.join(TABLES)}") from None


def canonical_schema(table: str, *, required_only: bool = False) -> dict[str, pl.DataType]:
    """Column name → polars dtype of a canonical table, in canonical order."""
    return {s.name: s.dtype for s in specs(table) if s.required or not required_only}


def required_columns(table: str) -> list[str]:
    return [s.name for s in specs(table) if s.required]


def validate_table(frame: pl.DataFrame | pl.LazyFrame, table: str, *, source: str = "") -> None:
    """Raise InvalidDataError naming every missing required column and every wrong dtype.

    Columns beyond the canonical ones are allowed (later steps may add their own).
    """
    schema = frame.collect_schema() if isinstance(frame, pl.LazyFrame) else frame.schema
    where = f"{source}: " if source else ""
    missing = [c for c in required_columns(table) if c not in schema]
    if missing:
        raise InvalidDataError(
            f"{where}{table} is missing required column(s) {', '.join(missing)}"
            f" (has: {', '.join(schema.names())})"
        )
    wrong = [
        f"{name} is {schema[name]}, expected {dtype}"
        for name, dtype in canonical_schema(table).items()
        if name in schema and schema[name] != dtype and schema[name] != pl.Null
    ]
    if wrong:
        raise InvalidDataError(f"{where}{table} has columns of the wrong type: {'; '.join(wrong)}")
