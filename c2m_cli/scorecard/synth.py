"""Scorecard of the synthetic world itself: is each planted signal present in the tables?

Each figure is measured in the canonical tables (c2m_cli.synth.checks); the truth only names
what was planted (which sku, which query) and the lifecycle stages to compare with.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, cast

import polars as pl

from c2m_cli.synth import checks
from c2m_cli.workspace import Workspace


def _row(check: str, value: Any, target: str, passed: bool | None, detail: str) -> dict[str, Any]:
    return {"check": check, "value": value, "target": target, "passed": passed, "detail": detail}


def score(ws: Workspace) -> list[dict[str, Any]]:
    truth_dir = ws.root / "truth"
    world_path = truth_dir / "world.json"
    if not world_path.exists():
        return [_row("synthetic world", None, "truth/world.json", False, "no planted truth in this workspace")]
    world = json.loads(world_path.read_text(encoding="utf-8"))
    tz = str(ws.manifest().get("data_timezone") or "UTC")
    orders, customers, products = ws.read("orders"), ws.read("customers"), ws.read("products")
    events, reviews = ws.read("events"), ws.read("reviews")
    users = pl.read_parquet(truth_dir / "users.parquet")
    rows: list[dict[str, Any]] = []

    # consumer types: each type's most over-indexed category is one of its planted favourites
    lines = orders.join(products.select("sku", "category_l2"), on="sku").join(
        users.select("user_id", "consumer_type"), on="user_id"
    )
    share = lines.group_by("consumer_type", "category_l2").agg(pl.len()).with_columns(
        type_share=pl.col("len") / pl.col("len").sum().over("consumer_type"),
        all_share=pl.col("len").sum().over("category_l2") / pl.col("len").sum(),
    ).with_columns(index=pl.col("type_share") / pl.col("all_share"))
    top = share.sort("index", descending=True).group_by("consumer_type", maintain_order=True).first()
    planted = {t["consumer_type"]: list(t["category_weights"]) for t in world["consumer_types"]}
    hits = sum(1 for t, c in top.select("consumer_type", "category_l2").iter_rows() if c in planted.get(t, []))
    n_types = len(planted)
    rows.append(_row("consumer types distinct", f"{hits}/{n_types}", "each type over-indexes most on one of its planted categories",
                     hits == n_types and 5 <= n_types <= 7, "most over-indexed category_l2 per type"))

    # lifecycle: stages recomputed from the orders with the default thresholds
    as_of = dt.date.fromisoformat(world["end_date"])
    stages = checks.lifecycle_from_orders(orders, as_of, tz).join(
        users.filter("lifecycle_clear").select("user_id", "lifecycle_stage"), on="user_id"
    )
    acc = float(cast("float | None", (stages["stage"] == stages["lifecycle_stage"]).mean()) or 0.0)
    rows.append(_row("lifecycle stages plantable", acc, "≥ 0.95 of clear users", acc >= 0.95,
                     f"{stages.height} clear users, stage by recency from orders"))

    for name, minimum in (("双11", 1.5), ("618", 1.3), ("双12", 1.1), ("年货节", 1.05)):
        up = checks.festival_uplift(orders, name, tz)
        rows.append(_row(f"festival uplift {name}", up, f"≥ {minimum}", up is not None and up >= minimum,
                         "daily orders in window / 28 ordinary days before"))
    dip = checks.festival_uplift(orders, "春节", tz)
    rows.append(_row("Spring Festival dip", dip, "≤ 0.8", dip is not None and dip <= 0.8,
                     "daily orders in the logistics pause / days before"))

    niche = world["niche"]
    trend = checks.niche_trend(events, orders, products, niche["query"], niche["category"], tz=tz)
    rise = trend["searches_last"] / max(trend["searches_first"], 1.0)
    fall = trend["units_last"] / max(trend["units_first"], 1.0)
    rows.append(_row(f"niche query {niche['query']} rising", rise, "last/first 90 days ≥ 3", rise >= 3.0,
                     f"{trend['searches_first']:.0f} → {trend['searches_last']:.0f} searches"))
    rows.append(_row(f"{niche['category']} sales falling", fall, "≤ 0.8", fall <= 0.8,
                     f"units {trend['units_first']:.0f} → {trend['units_last']:.0f}; "
                     f"{trend['products_serving']:.0f} products serve the query"))

    micro = world["micro_demand"]
    md = checks.micro_demand(reviews, micro["sku"], micro["phrases"], micro["category"])
    rows.append(_row(f"micro-demand {micro['aspect']}", md["share"], "≥ 0.15 of the sku's reviews, ≥ 5 phrasings",
                     md["share"] >= 0.15 and md["phrasings_used"] >= 5 and md["peer_share"] < 0.02,
                     f"{md['phrasings_used']:.0f} phrasings in {md['reviews']:.0f} reviews; peers {md['peer_share']:.3f}"))

    band = world["price_band"]
    pb = checks.price_band_share(orders, customers, products, band)
    rows.append(_row(f"price band {band['category']} {band['low']:.0f}–{band['high']:.0f}", pb["band_share"],
                     "target demographic ≥ 0.6 of band buyers and ≥ 2× its category share",
                     pb["band_share"] >= 0.6 and pb["band_share"] >= 2 * pb["category_share"],
                     f"{band['generation']}·{band['city_tier']}: {pb['band_share']:.2f} of band buyers vs "
                     f"{pb['category_share']:.2f} of category buyers"))

    pre = checks.presale(orders, events, products, world["presale"]["sku"])
    rows.append(_row("pre-sale orders", pre["orders"], "> 0, all before launch, none sold before",
                     pre["orders"] > 0 and pre["before_launch"] == pre["orders"] and pre["sold_before"] == 0,
                     f"{pre['units']:.0f} units, {pre['events']} presale events"))

    bundle = world["bundle"]
    lift = checks.bundle_lift(orders, bundle["sku_a"], bundle["sku_b"])
    rows.append(_row(f"bundle {bundle['sku_a']}+{bundle['sku_b']}", lift, "lift ≥ 5", lift is not None and lift >= 5,
                     "order-level lift"))

    su = checks.super_users(orders, reviews, products, users.select("user_id", "is_super_user"))
    rows.append(_row("super users", su["spend_ratio"], "spend ≥ 3× others, ≥ 80% 5-star, ≥ 25% of early buys",
                     su["spend_ratio"] >= 3 and su["five_star_share"] >= 0.8 and su["early_share"] >= 0.25,
                     f"{su['user_share']:.3f} of users; 5★ {su['five_star_share']:.2f} vs "
                     f"{su['five_star_share_others']:.2f}; early buys {su['early_share']:.2f}"))
    return rows
