"""What every section reads with: the running step, the reader's language, the market's units,
and the names that replace ids (segments, products, audiences, opportunity kinds).

A section reads a table through ``read_table`` (recorded as an input of the report step; an
unreadable file is invalid data) and checks its pinned columns with ``require_columns``; an
optional column that an older or newer step did not write is simply absent (``None``), never a crash.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import polars as pl

from c2m_cli import contract
from c2m_cli.errors import InvalidDataError
from c2m_cli.workspace import Step, Workspace

MAX_TABLE_ROWS = 30


@dataclass
class Context:
    ws: Workspace
    step: Step
    lang: str
    data_lang: str
    timezone: str
    include_ids: bool = False
    market: str = "none"
    _cache: dict[str, Any] = field(default_factory=dict)

    @property
    def currency(self) -> str:
        """The money unit of the data, as the reader writes it: 元 / ¥ for China, $ for the US."""
        return currency_unit(self.market, self.lang)


def currency_unit(market: str, lang: str) -> str:
    if market == "cn":
        return "元" if lang == "zh" else "¥"
    if market == "us":
        return "美元" if lang == "zh" else "$"
    return "（数据币种）" if lang == "zh" else "(data currency)"


def first_of(columns: list[str] | pl.DataFrame, candidates: tuple[str, ...]) -> str | None:
    names = columns.columns if isinstance(columns, pl.DataFrame) else columns
    return next((c for c in candidates if c in names), None)


def as_float(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number else None


def read_table(ctx: Context, name: str) -> pl.DataFrame | None:
    """A step's table if present, recorded as an input; an unreadable file is invalid data."""
    if name in ctx._cache:
        return ctx._cache[name]  # type: ignore[no-any-return]
    try:
        frame = ctx.step.read_optional(name)
    except (pl.exceptions.ComputeError, OSError) as exc:  # a corrupt Parquet file
        raise InvalidDataError(f"{ctx.ws.table_path(name)}: not a readable Parquet file ({exc})") from exc
    ctx._cache[name] = frame
    return frame


def scan_table(ctx: Context, name: str) -> pl.LazyFrame | None:
    return ctx.step.scan(name) if ctx.ws.has(name) else None


def require_columns(frame: pl.DataFrame, name: str, columns: tuple[str, ...]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InvalidDataError(f"{name}.parquet lacks column(s) {', '.join(missing)} needed by the report")


def local_ts(tz: str) -> pl.Expr:
    return pl.col("ts").dt.convert_time_zone(tz)


def sold_orders(orders: pl.LazyFrame) -> pl.LazyFrame:
    """Order lines that count as sales (the one rule of ``c2m_cli.contract.sales_lines``)."""
    return contract.sales_lines(orders)


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, pl.Series):
        return value.to_list()
    return list(value) if isinstance(value, list | tuple) else [value]


# -- names instead of ids ----------------------------------------------------------------------


def sku_names(ctx: Context) -> dict[str, str]:
    if "sku_names" not in ctx._cache:
        products = read_table(ctx, "products")
        names: dict[str, str] = {}
        if products is not None and "name" in products.columns:
            frame = products.select(pl.col("sku").cast(pl.String), pl.col("name").cast(pl.String)).drop_nulls()
            names = dict(frame.iter_rows())
        ctx._cache["sku_names"] = names
    return ctx._cache["sku_names"]  # type: ignore[no-any-return]


def sku_name(ctx: Context, sku: Any) -> str | None:
    if sku is None:
        return None
    return sku_names(ctx).get(str(sku), str(sku))


def segment_lookup(ctx: Context) -> dict[str, dict[str, Any]]:
    """segment_id → {name, size, share} from segment_profiles (empty when segment has not run)."""
    if "segments" not in ctx._cache:
        profiles = read_table(ctx, "segment_profiles")
        out: dict[str, dict[str, Any]] = {}
        if profiles is not None and {"segment_id", "segment_name"} <= set(profiles.columns):
            for row in profiles.iter_rows(named=True):
                out[str(row["segment_id"])] = {
                    "name": str(row["segment_name"]),
                    "size": int(row["size"]) if row.get("size") is not None else None,
                    "share": as_float(row.get("share")),
                }
        ctx._cache["segments"] = out
    return ctx._cache["segments"]  # type: ignore[no-any-return]


AUDIENCE_NAMES = {
    "reactivation": {"zh": "唤醒召回", "en": "Reactivation"},
    "super_users": {"zh": "超级用户", "en": "Super users"},
    "early_adopters": {"zh": "新品尝鲜者", "en": "Early adopters"},
    "presale": {"zh": "预售意向", "en": "Pre-sale intent"},
    "winback": {"zh": "流失挽回", "en": "Win-back"},
    "loyal": {"zh": "忠诚客", "en": "Loyal customers"},
}


def audience_name(audience: Any, lang: str) -> str:
    key = str(audience)
    if key in AUDIENCE_NAMES:
        return AUDIENCE_NAMES[key][lang]
    # an audience per brief or segment ("early_adopters:B01")
    base, _, rest = key.partition(":")
    if rest and base in AUDIENCE_NAMES:
        return f"{AUDIENCE_NAMES[base][lang]} · {rest}"
    return key.replace("_", " ")
