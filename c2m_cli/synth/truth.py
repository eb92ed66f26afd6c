"""The planted truth of a generated world: ``truth/world.json`` (users go to truth/users.parquet)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np

from c2m_cli.calendar import SHOPPING_FESTIVALS
from c2m_cli.synth.catalog import Catalog
from c2m_cli.synth.generate import Calendar, Stats
from c2m_cli.synth.world import (
    BUNDLE,
    CATEGORIES,
    CONSUMER_TYPES,
    DATA_TIMEZONE,
    FESTIVAL_MULTIPLIER,
    FESTIVAL_PEAK,
    MICRO_DEMAND,
    NICHE,
    PRESALE,
    PRICE_BAND,
    SPRING_PAUSE,
    SUPER_USER_SHARE,
)

BASELINE_DAYS = 28


def festival_ratio(daily: np.ndarray, cal: Calendar, name: str) -> float | None:
    """Mean daily orders in the festival's windows over the mean of the 28 ordinary days before.

    Ordinary days are those outside every festival and the Spring Festival pause; the ratio is
    averaged over the windows (years) that have a full baseline inside the data.
    """
    ordinary = (cal.festival <= 1.0) & (cal.pause >= 1.0)
    ratios = []
    for a, b in cal.windows.get(name, []):
        base_days = np.arange(max(0, a - BASELINE_DAYS * 2), a)
        base_days = base_days[ordinary[base_days]][-BASELINE_DAYS:]
        if base_days.size < BASELINE_DAYS // 2 or b >= cal.days:
            continue
        base = daily[base_days].mean()
        if base > 0:
            ratios.append(daily[a : b + 1].mean() / base)
    return round(float(np.mean(ratios)), 4) if ratios else None


def world_truth(
    *, users: int, seed: int, cal: Calendar, cat: Catalog, stats: Stats, stage_counts: dict[str, int],
    super_users: int,
) -> dict[str, Any]:
    c = stats.counts
    days = cal.days
    start = cal.start
    uplift = {name: festival_ratio(stats.daily_orders, cal, name) for name in SHOPPING_FESTIVALS}
    spring = festival_ratio(stats.daily_orders, cal, "春节")
    window = 90
    niche_first, niche_last = stats.niche_daily[:window].sum(), stats.niche_daily[-window:].sum()
    lap_first, lap_last = stats.laptop_daily[:window].sum(), stats.laptop_daily[-window:].sum()
    n_orders = c.get("orders", 0.0)
    lift = (
        c["orders_ab"] * n_orders / (c["orders_a"] * c["orders_b"])
        if c.get("orders_a") and c.get("orders_b")
        else None
    )
    ref_pre = c.get("reference_presale_units", 0.0)
    ref_final = ref_pre + c.get("reference_post_units", 0.0)
    presale_units = c.get("presale_presale_units", 0.0)
    products = cat.products
    band_skus = products.filter(
        (products["category_l2"] == PRICE_BAND["category"])
        & (products["list_price"] >= PRICE_BAND["low"])
        & (products["list_price"] < PRICE_BAND["high"])
    )["sku"].to_list()
    return {
        "start_date": start.isoformat(),
        "end_date": cal.end.isoformat(),
        "data_timezone": DATA_TIMEZONE,
        "users": users,
        "seed": seed,
        "consumer_types": [
            {
                "consumer_type": i,
                "name": t.name,
                "name_en": t.name_en,
                "share": t.share,
                "lifestyle": t.lifestyle,
                "motive": t.motive,
                "top_categories": sorted(t.categories, key=lambda k: -t.categories[k])[:3],
                "favourite_categories": sorted(k for k, w in t.categories.items() if w >= 3.0),
                "category_weights": dict(sorted(t.categories.items())),
                "festival_sensitivity": t.festival_sensitivity,
                "peak_hours": sorted(t.hours, key=lambda h: -t.hours[h])[:3],
            }
            for i, t in enumerate(CONSUMER_TYPES)
        ],
        "lifecycle": {
            "stage_counts": stage_counts,
            "thresholds_days": {"new": 30, "active": 90, "sleeping": 180, "dormant": 365},
            "clear_margin_days": 15,
        },
        "festival_uplift": uplift,
        "festival_uplift_definition": (
            "mean daily orders (not cancelled) over the festival window / mean over the 28 "
            "ordinary days before it, averaged over the years in the data (local dates)"
        ),
        "festival_uplift_planted": {
            name: {"window": FESTIVAL_MULTIPLIER[name], "peak": FESTIVAL_PEAK.get(name)}
            for name in FESTIVAL_MULTIPLIER
        },
        "spring_festival": {"ratio": spring, "planted_multiplier": SPRING_PAUSE},
        "niche": {
            "query": NICHE["query"],
            "category": NICHE["category"],
            "category_l1": NICHE["category_l1"],
            "category_level": NICHE["category_level"],
            "products_serving": int(products["name"].str.contains(str(NICHE["query"])).sum()),
            "searches_first_90d": int(niche_first),
            "searches_last_90d": int(niche_last),
            "category_units_first_90d": float(lap_first),
            "category_units_last_90d": float(lap_last),
        },
        "micro_demand": {
            "sku": str(cat.sku[cat.micro_sku]),
            "category": MICRO_DEMAND["category"],
            "aspect": MICRO_DEMAND["aspect"],
            "aspect_en": MICRO_DEMAND["aspect_en"],
            "phrases": list(MICRO_DEMAND["phrases"]),
            "share": MICRO_DEMAND["share"],
            "reviews": int(c.get("micro_reviews", 0)),
            "complaints": int(c.get("micro_complaints", 0)),
            "share_realized": round(c["micro_complaints"] / c["micro_reviews"], 4) if c.get("micro_reviews") else None,
        },
        "price_band": {
            "category": PRICE_BAND["category"],
            "category_level": "category_l2",
            "low": PRICE_BAND["low"],
            "high": PRICE_BAND["high"],
            "skus": band_skus,
            "generation": PRICE_BAND["generation"],
            "city_tier": PRICE_BAND["city_tier"],
            "buyers": int(c.get("band_buyers", 0)),
            "target_share_of_band_buyers": _ratio(c.get("band_buyers_target"), c.get("band_buyers")),
            "target_share_of_category_buyers": _ratio(
                c.get("band_category_buyers_target"), c.get("band_category_buyers")
            ),
        },
        "presale": {
            "sku": str(cat.sku[cat.presale_sku]),
            "launch_date": (start + dt.timedelta(days=int(cat.launch_day[cat.presale_sku]))).isoformat(),
            "presale_orders": int(c.get("presale_presale_orders", 0)),
            "presale_units": float(presale_units),
            "conversion": PRESALE["conversion"],
            "horizon_days": PRESALE["horizon_days"],
            "final_demand": int(round(presale_units * float(PRESALE["conversion"]))),
            "reference": {
                "sku": str(cat.sku[cat.reference_sku]),
                "launch_date": PRESALE["reference_launch"].isoformat(),
                "presale_units": float(ref_pre),
                "final_demand": float(ref_final),
                "ratio": round(ref_final / ref_pre, 4) if ref_pre else None,
            },
        },
        "bundle": {
            "sku_a": str(cat.sku[cat.bundle_a]),
            "sku_b": str(cat.sku[cat.bundle_b]),
            "attach_rate": BUNDLE["attach_rate"],
            "orders_with_a": int(c.get("orders_a", 0)),
            "orders_with_both": int(c.get("orders_ab", 0)),
            "lift": round(float(lift), 4) if lift else None,
        },
        "super_users": {
            "count": super_users,
            "planted_share": SUPER_USER_SHARE,
            "early_adopter_orders": int(c.get("early_orders", 0)),
            "new_products": [str(s) for s in cat.sku[cat.is_new]],
        },
        "categories": [{"category_l1": x.l1, "category_l2": x.l2} for x in CATEGORIES],
        "days": days,
    }


def _ratio(num: float | None, den: float | None) -> float | None:
    return round(float(num) / float(den), 4) if num is not None and den else None
