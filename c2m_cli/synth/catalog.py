"""The product catalogue of the synthetic world (deterministic from the seed)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

import numpy as np
import polars as pl

from c2m_cli.synth.world import CATEGORIES, PRESALE, PRICE_BAND

# Explicit prices for the price-band category so that the band holds a few products.
_BAND_PRICES = (129.0, 169.0, 229.0, 299.0, 369.0, 459.0, 760.0, 1080.0, 1580.0)
_SERIES = ("经典款", "升级款", "Pro", "Max", "青春版", "旗舰款", "Plus", "Air", "mini", "S")


@dataclass
class Catalog:
    products: pl.DataFrame  # canonical products table
    sku: np.ndarray  # sku ids (object array), index = product index
    l2_index: np.ndarray  # category index of each product
    price: np.ndarray
    launch_day: np.ndarray  # day index of the launch (relative to the window start; may be < 0)
    popularity: np.ndarray
    sellable: np.ndarray  # takes part in ordinary orders
    is_new: np.ndarray  # launched inside the window (early-adopter products)
    in_band: np.ndarray
    micro_sku: int
    bundle_a: int
    bundle_b: int
    presale_sku: int
    reference_sku: int


def build_catalog(rng: np.random.Generator, start: dt.date, days: int) -> Catalog:
    rows: list[dict[str, object]] = []
    l2_index: list[int] = []
    launch_day: list[int] = []
    popularity: list[float] = []
    sellable: list[bool] = []
    number = 0
    for k, cat in enumerate(CATEGORIES):
        for rank in range(cat.skus):
            number += 1
            brand = cat.brands[rank % len(cat.brands)]
            l3 = cat.l3[rank % len(cat.l3)]
            if cat.l2 == PRICE_BAND["category"]:
                price = _BAND_PRICES[rank % len(_BAND_PRICES)]
                brand = (cat.brands[rank % 3] if price < PRICE_BAND["low"] else cat.brands[3 + rank % 3])
            else:
                low, high = cat.price
                price = float(np.exp(rng.uniform(np.log(low), np.log(high))))
                price = round(price / 10) * 10 - 1 if price > 50 else round(price, 1)
            # rank 0 and 1 are long-standing products; about one in six others is new in the window
            new = rank >= 2 and rng.random() < 0.18
            day = int(rng.integers(60, days - 60)) if new else -int(rng.integers(90, 1200))
            attrs = {key: values[int(rng.integers(len(values)))] for key, values in cat.attrs.items()}
            if cat.unit:
                attrs["单位"] = cat.unit
            series = _SERIES[(rank + k) % len(_SERIES)]
            rows.append(
                {
                    "sku": f"SKU{number:05d}",
                    "name": f"{brand} {l3} {series}",
                    "category_l1": cat.l1,
                    "category_l2": cat.l2,
                    "category_l3": l3,
                    "brand": brand,
                    "list_price": float(price),
                    "launch_date": start + dt.timedelta(days=day),
                    "attrs": json.dumps(attrs, ensure_ascii=False, sort_keys=True),
                }
            )
            l2_index.append(k)
            launch_day.append(day)
            popularity.append(1.0 / (rank + 1) ** 0.8)
            sellable.append(True)
    # The pre-sale products: a reference launched inside the window, and a new one after its end.
    phone = next(k for k, c in enumerate(CATEGORIES) if c.l2 == PRESALE["category"])
    ref_day = (PRESALE["reference_launch"] - start).days
    new_day = days - 1 + int(PRESALE["launch_after_end_days"])
    extra = []
    for label, day, price in (("Pro 预售首发", ref_day, 3999.0), ("Ultra 新一代旗舰 预售", new_day, 5499.0)):
        number += 1
        extra.append(number)
        rows.append(
            {
                "sku": f"SKU{number:05d}",
                "name": f"{PRESALE['brand']} 5G手机 {label}",
                "category_l1": CATEGORIES[phone].l1,
                "category_l2": CATEGORIES[phone].l2,
                "category_l3": CATEGORIES[phone].l3[0],
                "brand": str(PRESALE["brand"]),
                "list_price": price,
                "launch_date": start + dt.timedelta(days=day),
                "attrs": json.dumps({"存储": "256GB", "预售": "是"}, ensure_ascii=False, sort_keys=True),
            }
        )
        l2_index.append(phone)
        launch_day.append(day)
        popularity.append(0.6)
        sellable.append(False)
    products = pl.DataFrame(
        rows,
        schema={
            "sku": pl.String, "name": pl.String, "category_l1": pl.String, "category_l2": pl.String,
            "category_l3": pl.String, "brand": pl.String, "list_price": pl.Float64,
            "launch_date": pl.Date, "attrs": pl.String,
        },
    )
    l2 = np.array(l2_index)
    price_arr = products["list_price"].to_numpy()
    launch = np.array(launch_day)
    band_k = next(k for k, c in enumerate(CATEGORIES) if c.l2 == PRICE_BAND["category"])
    in_band = (l2 == band_k) & (price_arr >= PRICE_BAND["low"]) & (price_arr < PRICE_BAND["high"])

    def first_of(l2_name: str, rank: int) -> int:
        k = next(i for i, c in enumerate(CATEGORIES) if c.l2 == l2_name)
        return int(np.flatnonzero(l2 == k)[rank])

    from c2m_cli.synth.world import BUNDLE, MICRO_DEMAND

    is_new = (launch >= 0) & np.array(sellable)
    return Catalog(
        products=products,
        sku=products["sku"].to_numpy().astype(object),
        l2_index=l2,
        price=price_arr,
        launch_day=launch,
        popularity=np.array(popularity),
        sellable=np.array(sellable),
        is_new=is_new,
        in_band=in_band,
        micro_sku=first_of(str(MICRO_DEMAND["category"]), 0),
        bundle_a=first_of(str(BUNDLE["category_a"]), 0),
        bundle_b=first_of(str(BUNDLE["category_b"]), 1),
        presale_sku=extra[1] - 1,
        reference_sku=extra[0] - 1,
    )
