"""What recommend reads, prepared once: paid order lines with product fields, in local time.

The order lines stay lazy (a Parquet scan in the workspace adapter): every analysis reads one of
a few aggregates, each made by one streaming group-by over the lines and kept for the run —
per SKU (``sku_table``), per SKU and week (``sku_week``) and per category and day
(``category_day``). Memory grows with those groups, not with the lines. The per (user, SKU)
aggregate grows with the lines, so it is never kept: ``user_sku`` is a lazy query that its
readers collect one user-hash partition (``user_parts``) or one category at a time.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from c2m_cli import contract

CATEGORY_LEVELS = ("category_l1", "category_l2", "category_l3")
LINE_COLUMNS = ("order_id", "user_id", "sku", "ts", "qty", "unit_price", "status", "presale")
# per-user aggregates are computed a user-hash partition at a time, one partition per this many
# sales lines (a partition's (user, SKU) groups then take a few hundred MB at most)
LINES_PER_PART = 2_000_000
USER_HASH_SEED = 17


def _collect(lf: pl.LazyFrame) -> pl.DataFrame:
    return lf.collect(engine="streaming")


@dataclass
class Inputs:
    """The workspace's tables (None when absent) and derived frames shared by the analyses.

    ``lines`` are the sales lines (``prepare_lines`` or ``sales_scan``), eager or lazy; the
    aggregates below are computed from them on first use and cached."""

    orders: pl.DataFrame | pl.LazyFrame
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
    lines: pl.DataFrame | pl.LazyFrame = field(default_factory=pl.DataFrame)
    start: dt.date = dt.date(1970, 1, 1)
    end: dt.date = dt.date(1970, 1, 1)
    _cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def scan(self) -> pl.LazyFrame:
        """The sales lines as a lazy frame (order_id, user_id, sku, qty, unit_price, date, week)."""
        return self.lines.lazy()

    def category_levels(self) -> list[str]:
        """Category columns of the products (coarse to fine)."""
        if self.products is None:
            return []
        return [c for c in CATEGORY_LEVELS if c in self.products.columns]

    def main_level(self) -> str | None:
        """The level products are compared at: category_l2 when the sold products have one, else category_l1."""
        if "main_level" not in self._cache:
            skus = self.sku_table()
            levels = [c for c in self.category_levels() if skus[c].drop_nulls().len()]
            self._cache["main_level"] = "category_l2" if "category_l2" in levels else (levels[0] if levels else None)
        return self._cache["main_level"]  # type: ignore[no-any-return]

    def sku_categories(self) -> pl.DataFrame:
        """(sku, category levels…): one row per product (the first when a SKU repeats)."""
        if "sku_categories" not in self._cache:
            keep = ["sku", *self.category_levels()]
            self._cache["sku_categories"] = (self.products.select(keep).unique("sku", keep="first", maintain_order=True)
                                             if self.products is not None else pl.DataFrame(schema={"sku": pl.String}))
        return self._cache["sku_categories"]  # type: ignore[no-any-return]

    def sku_table(self) -> pl.DataFrame:
        """Per sold SKU: units (all sales lines), the median paid price and the units over lines
        with a positive quantity and price (``price``, ``paid_units``, ``paid_lines``), the first
        and last sale day, and the SKU's category levels."""
        if "sku_table" not in self._cache:
            self.prefetch()
        return self._cache["sku_table"]  # type: ignore[no-any-return]

    def sku_week(self) -> pl.DataFrame:
        """(sku, week, qty): units of every SKU in every week it sold."""
        if "sku_week" not in self._cache:
            self.prefetch()
        return self._cache["sku_week"]  # type: ignore[no-any-return]

    def _marked(self) -> pl.LazyFrame:
        """The sales lines with what the aggregates sum: the paid price, units of lines with a
        positive quantity (``q_pos``), with a positive quantity and price (``q_paid``, ``n_paid``)."""
        paid = (pl.col("qty") > 0) & (pl.col("unit_price") > 0)
        names = self.scan().collect_schema().names()
        return self.scan().select(
            pl.col("user_id").cast(pl.String), "sku", "date", "week", "qty",
            *([pl.col("order_id")] if "order_id" in names else []),
            price=pl.when(paid).then(pl.col("unit_price")),
            q_pos=pl.when(pl.col("qty") > 0).then(pl.col("qty")).otherwise(0.0),
            q_paid=pl.when(paid).then(pl.col("qty")).otherwise(0.0),
            n_paid=paid.cast(pl.UInt32))

    def user_parts(self) -> int:
        """How many user-hash partitions the per-user aggregates are computed in, one after the
        other: one per ``LINES_PER_PART`` sales lines, so a partition's groups stay bounded."""
        self.sku_table()
        return max(1, -(-int(self._cache.get("lines", 0)) // LINES_PER_PART))

    def user_sku(self, part: tuple[int, int] | None = None, skus: pl.DataFrame | None = None) -> pl.LazyFrame:
        """(user_id, sku): units of all lines (``qty``), of lines with a positive quantity
        (``q_pos``) and of lines with a positive quantity and price (``q_paid``, ``n_paid`` lines),
        lazily: of the users in partition ``part`` = (k, n) (``in_part``), of the products in
        ``skus`` (sku,) when given. Collect it with the streaming engine, a part at a time."""
        lines = self._marked()
        if part is not None and part[1] > 1:
            lines = lines.filter(in_part("user_id", part))
        if skus is not None:
            lines = lines.join(skus.lazy().select("sku"), on="sku", how="semi")
        return lines.group_by("user_id", "sku").agg(pl.col("qty", "q_pos", "q_paid", "n_paid").sum())

    def _guess_level(self) -> str | None:
        """``main_level`` as the products (not only the sold ones) suggest it, before any line is read."""
        if self.products is None:
            return None
        levels = [c for c in self.category_levels() if self.products[c].drop_nulls().len()]
        return "category_l2" if "category_l2" in levels else (levels[0] if levels else None)

    def prefetch(self) -> None:
        """The line aggregates, by streaming group-bys run together (one read of the lines): per
        SKU, per (SKU, week) and per (category, day) at the likely main level."""
        marked = self._marked()
        queries = [
            marked.group_by("sku").agg(
                units=pl.col("qty").sum(), paid_units=pl.col("q_paid").sum(),
                paid_lines=pl.col("n_paid").sum(), first=pl.col("date").min(), last=pl.col("date").max(),
                lines=pl.len()),
            marked.group_by("sku", "week").agg(pl.col("qty").sum()),
        ]
        guess = self._guess_level()
        if guess is not None:
            cats = self.sku_categories().select("sku", pl.col(guess).alias("category")).filter(pl.col("category").is_not_null())
            queries.append(marked.select("sku", "date", "qty").join(cats.lazy(), on="sku")
                           .group_by("category", "date").agg(pl.col("qty").sum().alias("units")))
        frames = pl.collect_all(queries, engine="streaming")
        sku, sku_week = frames[:2]
        self._cache["lines"] = int(sku["lines"].sum())
        # a median holds every price of its group (no streaming form): it is taken over SKU-hash
        # partitions of the lines one after the other, each partition's SKUs whole (exact)
        n = max(1, -(-int(self._cache["lines"]) // LINES_PER_PART))
        prices = pl.concat([
            (marked.filter(pl.col("sku").cast(pl.String).hash(seed=USER_HASH_SEED) % n == k) if n > 1 else marked)
            .group_by("sku").agg(price=pl.col("price").median()).collect(engine="streaming")
            for k in range(n)])
        sku = sku.join(prices, on="sku", how="left").select("sku", "units", "price", "paid_units", "paid_lines", "first", "last")
        self._cache["sku_table"] = sku.join(self.sku_categories(), on="sku", how="left").sort("sku")
        self._cache["sku_week"] = sku_week
        rest = frames[2:]
        if guess is not None:
            self._cache[f"category_day|{guess}"] = rest.pop(0)

    def basket_counts(self) -> tuple[int, pl.DataFrame] | None:
        """(baskets, (item, n) baskets per item) of the sales lines, when they have an order_id,
        counted a basket-hash partition at a time (``bundles.count_baskets``)."""
        if "order_id" not in self.scan().collect_schema().names():
            return None
        if "basket_counts" not in self._cache:
            from c2m_cli.recommend.bundles import baskets_of, count_baskets

            self._cache["basket_counts"] = count_baskets(baskets_of(self.scan()), self.user_parts())
        return self._cache["basket_counts"]  # type: ignore[no-any-return]

    def category_day(self) -> pl.DataFrame:
        """(category, date, units) at the main level, for lines of a product with that category."""
        level = self.main_level()
        if level is None:
            return pl.DataFrame(schema={"category": pl.String, "date": pl.Date, "units": pl.Float64})
        key = f"category_day|{level}"
        if key not in self._cache:
            cats = self.sku_categories().select("sku", pl.col(level).alias("category")).filter(pl.col("category").is_not_null())
            self._cache[key] = _collect(self.scan().select("sku", "date", "qty").join(cats.lazy(), on="sku")
                                        .group_by("category", "date").agg(pl.col("qty").sum().alias("units")))
        return self._cache[key]  # type: ignore[no-any-return]

    def category_skus(self, category: str | None) -> pl.DataFrame:
        """(sku,) of the sold products of ``category`` at the main level, else at whichever level names it."""
        level = self.main_level()
        skus = self.sku_table()
        if category is None or level is None:
            return skus.head(0).select("sku")
        own = skus.filter(pl.col(level) == category)
        if own.height == 0:
            levels = self.category_levels()
            own = skus.filter(pl.any_horizontal(pl.col(c) == category for c in levels)) if levels else own
        return own.select("sku")

    def attributes(self) -> pl.DataFrame:
        """``product_attributes(products)``, parsed once."""
        if "attributes" not in self._cache:
            self._cache["attributes"] = product_attributes(self.products)
        return self._cache["attributes"]  # type: ignore[no-any-return]


def in_part(col: str, part: tuple[int, int]) -> pl.Expr:
    """Whether ``col`` (a user id as string) falls in partition k of n (a fixed hash)."""
    k, n = part
    return pl.col(col).cast(pl.String).hash(seed=USER_HASH_SEED) % n == k


def local_date(col: str, tz: str) -> pl.Expr:
    return contract.local_date(col, tz)


def sales_scan(orders: pl.DataFrame | pl.LazyFrame, tz: str) -> pl.LazyFrame:
    """Paid (not cancelled/returned) order lines, lazily, with local date, week and amount."""
    names = orders.collect_schema().names()
    frame = contract.sales_lines(orders.lazy().select([c for c in LINE_COLUMNS if c in names]))
    return frame.with_columns(
        date=local_date("ts", tz),
        amount=pl.col("qty").cast(pl.Float64) * pl.col("unit_price").cast(pl.Float64),
    ).with_columns(week=pl.col("date").dt.truncate("1w"))


def prepare_lines(orders: pl.DataFrame, products: pl.DataFrame | None, tz: str) -> pl.DataFrame:
    """Paid (not cancelled/returned) order lines with local date, week, amount and categories."""
    frame = sales_scan(orders, tz).collect()
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


def complete_weeks(weeks: list[dt.date], start: dt.date, end: dt.date) -> np.ndarray:
    """Which weeks (Mondays) lie wholly inside [start, end]: a week the data covers for a day or
    two (the data starting on a Sunday) would read as a collapse of demand in a trend test."""
    return np.array([w >= start and w + dt.timedelta(days=6) <= end for w in weeks], dtype=bool)

