"""Built-in layouts of known public data sets: ``completejourney`` and ``cdnow``.

completejourney (84.51° The Complete Journey, as the R/Python packages ship it):
  transactions → orders: basket_id → order_id, household_id → user_id, product_id → sku,
  transaction_timestamp → ts, quantity → qty, store_id, unit_price = sales_value / quantity,
  discount = retail_disc + coupon_disc + coupon_match_disc (amounts off, positive).
  The 8,869 lines with quantity 0 (voids and weighed items without a count; sales_value is
  almost always 0) are kept, with qty 0 and unit_price = sales_value, so baskets stay whole.
  The timestamps are naive UTC (store traffic peaks at 22:00 UTC, 17:00 US Eastern); the
  data's zone is recorded as America/New_York.
  products → products: department / product_category / product_type → category_l1/l2/l3,
  brand, attrs = {"manufacturer_id", "package_size"}.
  demographics → customers: age → age_band, income → income_band, household_comp → household,
  country US, and home_ownership, marital_status, household_size, kids_count kept as extra text.
cdnow (the whitespace text of Fader, Hardie & Lee): customer_id, date (YYYYMMDD),
  number_of_cds → qty, unit_price = dollar_value / number_of_cds (dollar_value when 0 CDs),
  order_id = customer_id-date-line, sku ``CD``. CDNOW records are purchases without an id:
  identical records on one day are separate purchases (255 in CDNOW_master.txt), so each
  record is its own order and none is a duplicate. CDNOW_master.txt has a header and 4 columns;
  CDNOW_sample.txt has no header and an extra within-sample id (5 columns).
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from c2m_cli.errors import UsageError
from c2m_cli.ingest.mapping import ColumnRule, Mapping, TableMapping
from c2m_cli.ingest.readers import LINE

Helper = Callable[[str], pl.Expr]


def _per_unit(value: str, quantity: str) -> ColumnRule:
    def derive(number: Helper, column: Helper) -> pl.Expr:
        qty = number(quantity)
        return pl.when(qty != 0).then(number(value) / qty).otherwise(number(value))

    return ColumnRule(derive=derive, needs=(value, quantity))


def _sum_of(*names: str) -> ColumnRule:
    def derive(number: Helper, column: Helper) -> pl.Expr:
        return pl.sum_horizontal([number(n) for n in names])

    return ColumnRule(derive=derive, needs=names)


def _json_of(*names: str) -> ColumnRule:
    def derive(number: Helper, column: Helper) -> pl.Expr:
        return pl.struct([column(n).cast(pl.String).alias(n) for n in names]).struct.json_encode()

    return ColumnRule(derive=derive, needs=names)


def _joined(*names: str) -> ColumnRule:
    """``a-b-…`` of source columns; ``_line`` (the source line) may be one of them."""

    def derive(number: Helper, column: Helper) -> pl.Expr:
        return pl.concat_str([column(n).cast(pl.String).str.strip_chars() for n in names], separator="-")

    return ColumnRule(derive=derive, needs=names)


def completejourney() -> Mapping:
    orders = TableMapping(
        columns={
            "order_id": ColumnRule(source="basket_id"),
            "user_id": ColumnRule(source="household_id"),
            "sku": ColumnRule(source="product_id"),
            "ts": ColumnRule(source="transaction_timestamp"),
            "qty": ColumnRule(source="quantity"),
            "unit_price": _per_unit("sales_value", "quantity"),
            "discount": _sum_of("retail_disc", "coupon_disc", "coupon_match_disc"),
            "store_id": ColumnRule(source="store_id"),
        },
        auto=False,
    )
    products = TableMapping(
        columns={
            "sku": ColumnRule(source="product_id"),
            "category_l1": ColumnRule(source="department"),
            "category_l2": ColumnRule(source="product_category"),
            "category_l3": ColumnRule(source="product_type"),
            "brand": ColumnRule(source="brand"),
            "attrs": _json_of("manufacturer_id", "package_size"),
        },
        auto=False,
    )
    customers = TableMapping(
        columns={
            "user_id": ColumnRule(source="household_id"),
            "age_band": ColumnRule(source="age"),
            "income_band": ColumnRule(source="income"),
            "household": ColumnRule(source="household_comp"),
            "country": ColumnRule(value="US"),
        },
        extras={
            name: name for name in ("home_ownership", "marital_status", "household_size", "kids_count")
        },
        auto=False,
    )
    return Mapping(
        tables={"orders": orders, "products": products, "customers": customers},
        timezone="UTC",
        data_timezone="America/New_York",
        market="us",
        name="completejourney",
    )


CDNOW_COLUMNS = {
    4: ["customer_id", "date", "number_of_cds", "dollar_value"],
    5: ["customer_id", "sample_id", "date", "number_of_cds", "dollar_value"],
}


def cdnow() -> Mapping:
    orders = TableMapping(
        columns={
            "order_id": _joined("customer_id", "date", LINE),
            "user_id": ColumnRule(source="customer_id"),
            "sku": ColumnRule(value="CD"),
            "ts": ColumnRule(source="date", format="%Y%m%d"),
            "qty": ColumnRule(source="number_of_cds"),
            "unit_price": _per_unit("dollar_value", "number_of_cds"),
        },
        read={"delimiter": "whitespace", "header": "auto", "names": CDNOW_COLUMNS},
        auto=False,
    )
    return Mapping(tables={"orders": orders}, timezone="UTC", data_timezone="UTC", market="us", name="cdnow")


PRESETS: dict[str, Callable[[], Mapping]] = {"completejourney": completejourney, "cdnow": cdnow}


def preset(name: str) -> Mapping:
    try:
        return PRESETS[name.strip().lower()]()
    except KeyError:
        raise UsageError(f"unknown preset {name!r}; presets are {', '.join(PRESETS)}") from None
