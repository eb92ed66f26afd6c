"""What recommend reads, prepared once: paid order lines with product fields, in local time."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from c2m_cli import contract

CATEGORY_LEVELS = ("category_l1", "category_l2", "category_l3")


@dataclass
class Inputs:
    """The workspace's tables (None when absent) and derived frames shared by the analyses."""

    orders: pl.DataFrame
    products: pl.DataFrame | None = None
    customers: pl.DataFrame | None = None
    events: pl.DataFrame | None = None
    reviews: pl.DataFrame | None = None
    labels: pl.DataFrame | None = None
    tags: pl.DataFrame | None = None
    segments: pl.DataFrame | None = None
    segment_profiles: pl.DataFrame | None = None
    forecast: pl.DataFrame | None = None
    timezone: str = "UTC"
    chinese: bool = False
    lines: pl.DataFrame = field(default_factory=pl.DataFrame)
    start: dt.date = dt.date(1970, 1, 1)
    end: dt.date = dt.date(1970, 1, 1)

    def category_levels(self) -> list[str]:
        """Category columns present on the order lines (coarse to fine)."""
        return [c for c in CATEGORY_LEVELS if c in self.lines.columns]

    def main_level(self) -> str | None:
        """The level products are compared at: category_l2 when present, else category_l1."""
        levels = [c for c in self.category_levels() if self.lines[c].drop_nulls().len()]
        if "category_l2" in levels:
            return "category_l2"
        return levels[0] if levels else None


def local_date(col: str, tz: str) -> pl.Expr:
    return contract.local_date(col, tz)


def prepare_lines(orders: pl.DataFrame, products: pl.DataFrame | None, tz: str) -> pl.DataFrame:
    """Paid (not cancelled/returned) order lines with local date, week, amount and categories."""
    wanted: tuple[str, ...] = ("order_id", "user_id", "sku", "ts", "qty", "unit_price", "status", "presale")
    keep = [c for c in wanted if c in orders.columns]
    frame = contract.sales_lines(orders.select(keep))  # the one sales rule (c2m_cli.contract)
    frame = frame.with_columns(
        date=local_date("ts", tz),
        amount=pl.col("qty").cast(pl.Float64) * pl.col("unit_price").cast(pl.Float64),
    ).with_columns(week=pl.col("date").dt.truncate("1w"))
    if products is not None:
        keep = [c for c in ("sku", *CATEGORY_LEVELS) if c in products.columns]
        frame = frame.join(products.select(keep).unique("sku", keep="first"), on="sku", how="left")
    return frame


def product_attributes(products: pl.DataFrame | None) -> pl.DataFrame:
    """Long (sku, attribute, value) from the products' JSON ``attrs`` column (may be empty)."""
    empty = pl.DataFrame(schema={"sku": pl.String, "attribute": pl.String, "value": pl.String})
    if products is None or "attrs" not in products.columns:
        return empty
    attrs = products.select("sku", "attrs").filter(pl.col("attrs").is_not_null())
    if attrs.height == 0:
        return empty
    if attrs.schema["attrs"] == pl.String:
        attrs = attrs.filter(pl.col("attrs").str.strip_chars().str.starts_with("{"))
        if attrs.height == 0:
            return empty
        import io

        try:
            decoded = pl.read_ndjson(
                io.BytesIO("\n".join(attrs["attrs"].to_list()).encode("utf-8")),
                infer_schema_length=None,
            )
        except pl.exceptions.ComputeError:
            return empty
        wide = pl.concat([attrs.select("sku"), decoded], how="horizontal")
    elif isinstance(attrs.schema["attrs"], pl.Struct):
        wide = attrs.unnest("attrs")
    else:
        return empty
    # identifiers (manufacturer_id, ean …) are not attributes a product could have more of
    value_cols = [c for c in wide.columns if c != "sku" and not (c.lower().endswith("_id") or c.lower() in ("id", "ean", "upc", "barcode"))]
    if not value_cols:
        return empty
    wide = wide.with_columns(pl.col(c).cast(pl.String) for c in value_cols)
    return (
        wide.unpivot(index="sku", on=value_cols, variable_name="attribute", value_name="value")
        .filter(pl.col("value").is_not_null() & (pl.col("value") != ""))
        .sort("sku", "attribute")
    )


def product_text(products: pl.DataFrame | None) -> pl.DataFrame:
    """(sku, text): the lowercased words a search could match a product by."""
    if products is None:
        return pl.DataFrame(schema={"sku": pl.String, "text": pl.String})
    cols = [c for c in ("name", *CATEGORY_LEVELS, "brand") if c in products.columns]
    text = (
        pl.concat_str([pl.col(c).cast(pl.String).fill_null("") for c in cols], separator=" ")
        if cols
        else pl.lit("")
    )
    base = products.select("sku", text.alias("text"))
    attrs = product_attributes(products)
    if attrs.height:
        extra = attrs.group_by("sku").agg(
            pl.concat_str(["attribute", "value"], separator=" ").str.join(" ").alias("attr_text")
        )
        base = base.join(extra, on="sku", how="left").select(
            "sku", pl.concat_str(["text", pl.col("attr_text").fill_null("")], separator=" ").alias("text")
        )
    return base.with_columns(pl.col("text").str.to_lowercase()).unique("sku").sort("sku")


def dense_weekly(
    frame: pl.DataFrame, key: str, value: str, start: dt.date, end: dt.date
) -> tuple[list[str], list[dt.date], np.ndarray]:
    """A (keys × weeks) matrix of ``value`` summed by ``key`` and ``week`` (zeros filled)."""


    weeks = pl.date_range(
        pl.lit(start).dt.truncate("1w"), pl.lit(end).dt.truncate("1w"), interval="1w", eager=True
    )
    agg = (
        frame.group_by(key, "week")
        .agg(pl.col(value).sum().cast(pl.Float64))
        .filter(pl.col(key).is_not_null())
    )
    keys = sorted(agg[key].cast(pl.String).unique().to_list())
    matrix = np.zeros((len(keys), weeks.len()))
    if keys:
        key_index = pl.DataFrame({key: keys, "_k": range(len(keys))})
        week_index = pl.DataFrame({"week": weeks, "_w": range(weeks.len())})
        cells = agg.with_columns(pl.col(key).cast(pl.String)).join(key_index, on=key).join(
            week_index, on="week"
        )
        matrix[cells["_k"].to_numpy(), cells["_w"].to_numpy()] = cells[value].to_numpy()
    return keys, weeks.to_list(), matrix
