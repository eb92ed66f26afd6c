"""Segment profiles: size, value, lifecycle mix, per-feature centroid and z-score, over-indexed
tags, categories and brands, and a name, description, campaign and product mix in the language
of the data (Chinese when its category and tag values are Chinese, English otherwise).

Every number comes from the data: a segment's centroid is the mean of each raw feature over its
members, its z-score that mean minus the base mean over the base standard deviation, a lift the
segment's share (of users with a trait, or of spend in a category) over the whole base's share.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import polars as pl

STAGES = ("new", "active", "sleeping", "dormant", "lost")
STAGE_ZH = {"new": "新客", "active": "活跃客", "sleeping": "沉睡客", "dormant": "休眠客", "lost": "流失客"}
STAGE_EN = {"new": "new", "active": "active", "sleeping": "sleeping", "dormant": "dormant", "lost": "lost"}
# the order in which families lend a word to a segment's name
NAME_FAMILIES = ("demo", "geo", "lifestyle", "motive", "occasion", "attitude", "behavior", "value")
DISPLAY = {"男": "男性", "女": "女性", "m": "men", "f": "women", "male": "men", "female": "women"}
_CJK = re.compile(r"[\u4e00-\u9fff]")

MIN_TRAIT_SHARE = 0.35  # a trait names a segment when at least this share of it has it…
MIN_TRAIT_LIFT = 1.25  # …and it is this much more common than in the whole base
MIN_NOTABLE_SHARE = 0.10  # …or, to be mentioned at all in a description, this share
MIN_CATEGORY_SHARE = 0.02  # a category over-indexes only with this share of the segment's spend


def data_language(labels: pl.DataFrame, tags: pl.DataFrame | None, products: pl.DataFrame | None) -> str:
    """``zh`` when the data's category/tag values are Chinese, else ``en``."""
    values: list[str] = []
    for name, dtype in labels.schema.items():
        if name in ("user_id", "lifecycle_stage") or dtype != pl.String:
            continue
        values += labels[name].drop_nulls().unique().head(50).to_list()
    if tags is not None and "tag" in tags.columns:
        values += tags["tag"].cast(pl.String).drop_nulls().unique().head(200).to_list()
    if products is not None:
        for col in ("category_l1", "name"):
            if col in products.columns:
                values += products[col].cast(pl.String).drop_nulls().head(200).to_list()
    return "zh" if any(_CJK.search(v) for v in values if v) else "en"


def _trait_label(spec: dict[str, Any], lang: str) -> str:
    if spec["kind"] == "onehot":
        value = str(spec["value"])
        return DISPLAY.get(value.lower(), DISPLAY.get(value, value))
    if spec["kind"] == "tag":
        return str(spec["tag"])
    if spec["kind"] == "mix":
        return str(spec["value"])
    column = spec["column"].split("_", 1)[-1] if "_" in spec["column"] else spec["column"]
    return column.replace("_", " ")


def _spend_lifts(
    orders: pl.DataFrame | None,
    products: pl.DataFrame | None,
    assignment: pl.DataFrame,
    column: str,
    k: int,
    top: int = 3,
) -> list[list[dict[str, Any]]]:
    """Per segment, the ``column`` values (category_l1, brand) whose spend share over-indexes most."""
    empty: list[list[dict[str, Any]]] = [[] for _ in range(k)]
    if orders is None or products is None or column not in products.columns:
        return empty
    if not {"user_id", "sku", "qty", "unit_price"} <= set(orders.columns):
        return empty
    lines = orders.lazy()
    if "status" in orders.columns:
        lines = lines.filter(pl.col("status").is_null() | pl.col("status").is_in(["paid", "presale"]))
    lines_frame = (
        lines.select(
            pl.col("user_id").cast(pl.String),
            pl.col("sku").cast(pl.String),
            (pl.col("qty").cast(pl.Float64) * pl.col("unit_price").cast(pl.Float64)).alias("spend"),
        )
        .join(
            products.lazy().select(pl.col("sku").cast(pl.String), pl.col(column).cast(pl.String).alias("value")).unique("sku", keep="first", maintain_order=True),
            on="sku",
            how="inner",
            maintain_order="left",
        )
        .filter(pl.col("value").is_not_null() & (pl.col("spend") > 0))
        .join(assignment.lazy(), on="user_id", how="inner", maintain_order="left")
        .select("seg", pl.col("value").rank("dense").cast(pl.Int64).alias("code") - 1, "value", "spend")
        .collect()
    )
    if lines_frame.height == 0:
        return empty
    # sums by bincount in row order (bit-reproducible, unlike a parallel group-by)
    codes = lines_frame["code"].to_numpy()
    nv = int(codes.max()) + 1
    sums = np.bincount(
        lines_frame["seg"].to_numpy().astype(np.int64) * nv + codes,
        weights=lines_frame["spend"].to_numpy(),
        minlength=k * nv,
    ).reshape(k, nv)
    values = lines_frame.select("code", "value").unique("code").sort("code")["value"].to_list()
    seg_tot = sums.sum(axis=1, keepdims=True)
    share = np.divide(sums, seg_tot, out=np.zeros_like(sums), where=seg_tot > 0)
    base_share = sums.sum(axis=0) / sums.sum()
    lift = np.divide(share, base_share, out=np.zeros_like(share), where=base_share > 0)
    for j in range(k):
        ok = np.flatnonzero(share[j] >= MIN_CATEGORY_SHARE)
        ranked = sorted(ok, key=lambda c: (-lift[j, c], values[c]))[:top]
        empty[j] = [{"value": values[c], "spend_share": float(share[j, c]), "lift": float(lift[j, c])} for c in ranked]
    return empty


def build_profiles(
    *,
    labels: pl.DataFrame,
    raw: pl.DataFrame,
    specs: list[dict[str, Any]],
    seg: np.ndarray,
    k: int,
    segment_ids: list[str],
    jaccard: np.ndarray,
    lang: str,
    orders: pl.DataFrame | None = None,
    products: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """One row per segment (see module doc); ``seg`` holds 0-based segment indices per user."""
    n = raw.height
    p = len(specs)
    fcols = [f"f{i}" for i in range(p)]
    seg_s = pl.Series("seg", seg, dtype=pl.Int32)
    # sums in numpy, in row order: polars' parallel group-by sums are not bit-reproducible
    sizes = np.bincount(seg, minlength=k)
    R = raw.select(fcols).to_numpy().astype(np.float64)
    order = np.argsort(seg, kind="stable")
    starts = np.searchsorted(seg[order], np.arange(k))
    seg_means = np.full((k, p), np.nan)
    nonempty = sizes > 0
    if p:
        sums = np.add.reduceat(R[order], starts[nonempty], axis=0)
        seg_means[nonempty] = sums / sizes[nonempty, None]
    base_mean = R.mean(axis=0)
    base_std = R.std(axis=0, ddof=1) if n > 1 else np.full(p, np.nan)
    base_std = np.where(np.isfinite(base_std) & (base_std > 1e-12), base_std, np.nan)
    z = (seg_means - base_mean) / base_std
    del R

    # value and lifecycle
    value_col = "value_clv" if "value_clv" in labels.columns else None
    frame = labels.select(pl.col("user_id").cast(pl.String)).with_columns(seg_s)
    value_share = np.full(k, np.nan)
    avg_value = np.full(k, np.nan)
    if value_col:
        v = labels[value_col].cast(pl.Float64).fill_null(0.0).clip(lower_bound=0.0).to_numpy()
        v_sums = np.bincount(seg, weights=v, minlength=k)
        total = float(v.sum())
        if total > 0:
            value_share = v_sums / total
        avg_value = np.divide(v_sums, sizes, out=np.full(k, np.nan), where=nonempty)
    stage_mix = np.full((k, len(STAGES)), np.nan)
    if "lifecycle_stage" in labels.columns:
        stage = labels["lifecycle_stage"].cast(pl.String)
        for q, s_name in enumerate(STAGES):
            hits = (stage == s_name).fill_null(False).to_numpy().astype(np.float64)
            stage_mix[:, q] = np.divide(np.bincount(seg, weights=hits, minlength=k), sizes, out=np.full(k, np.nan), where=nonempty)

    assignment = frame.select("user_id", "seg")
    top_categories = _spend_lifts(orders, products, assignment, "category_l1", k)
    top_brands = _spend_lifts(orders, products, assignment, "brand", k)

    trait_idx = [i for i, s in enumerate(specs) if s["kind"] in ("onehot", "tag", "bool")]
    rows: list[dict[str, Any]] = []
    names: list[str] = []
    for j in range(k):
        share = sizes[j] / n if n else 0.0
        # over-indexed traits (one-hot values, tags, flags): lift = segment share / base share
        traits: list[dict[str, Any]] = []
        for i in trait_idx:
            if base_mean[i] <= 0 or not np.isfinite(seg_means[j, i]):
                continue
            lift = seg_means[j, i] / base_mean[i]
            traits.append(
                {
                    "feature": specs[i]["name"],
                    "family": specs[i]["family"],
                    "label": _trait_label(specs[i], lang),
                    "share": float(seg_means[j, i]),
                    "lift": float(lift),
                    "kind": specs[i]["kind"],
                }
            )
        traits.sort(key=lambda t: (-t["lift"], t["feature"]))
        strong = [t for t in traits if t["lift"] >= MIN_TRAIT_LIFT and t["share"] >= MIN_TRAIT_SHARE and t["family"] != "lifecycle"]
        top_tags = [t for t in traits if t["kind"] == "tag" and t["lift"] > 1.0][:5]
        over = [t for t in traits if t["lift"] > 1.0 and t["family"] != "lifecycle"][:8]

        value_index = value_share[j] / share if share > 0 and np.isfinite(value_share[j]) else np.nan
        mix = {s: float(stage_mix[j, q]) for q, s in enumerate(STAGES) if np.isfinite(stage_mix[j, q])}
        name = _name(strong, specs, z[j], value_index, mix, lang)
        names.append(name)
        notable = [t for t in over if t["lift"] >= MIN_TRAIT_LIFT and t["share"] >= MIN_NOTABLE_SHARE]
        desc, campaign, product_mix = _texts(
            share, value_share[j], value_index, strong or notable[:3], mix, top_categories[j], top_tags, lang
        )
        rows.append(
            {
                "segment_id": segment_ids[j],
                "segment_name": name,
                "size": int(sizes[j]),
                "share": float(share),
                "value_share": None if not np.isfinite(value_share[j]) else float(value_share[j]),
                "value_index": None if not np.isfinite(value_index) else float(value_index),
                "avg_clv": None if not np.isfinite(avg_value[j]) else float(avg_value[j]),
                **{f"lifecycle_{s}": mix.get(s) for s in STAGES},
                "stability_jaccard": None if not np.isfinite(jaccard[j]) else float(jaccard[j]),
                "features": [
                    {
                        "feature": specs[i]["name"],
                        "family": specs[i]["family"],
                        "centroid": float(seg_means[j, i]),
                        "base_mean": float(base_mean[i]),
                        "z": None if not np.isfinite(z[j, i]) else float(z[j, i]),
                    }
                    for i in range(p)
                ],
                "top_traits": [{"trait": t["feature"], "share": t["share"], "lift": t["lift"]} for t in over],
                "top_tags": [t["label"] for t in top_tags],
                "top_categories": [c["value"] for c in top_categories[j]],
                "category_lifts": [{"category": c["value"], "spend_share": c["spend_share"], "lift": c["lift"]} for c in top_categories[j]],
                "top_brands": [c["value"] for c in top_brands[j]],
                "description": desc,
                "campaign": campaign,
                "product_mix": product_mix,
                "suggested_action": f"{campaign}；{product_mix}" if lang == "zh" else f"{campaign}; {product_mix}",
            }
        )
    # unique names: a repeated name gets its segment id
    seen: dict[str, int] = {}
    for name in names:
        seen[name] = seen.get(name, 0) + 1
    for row in rows:
        if seen[row["segment_name"]] > 1:
            row["segment_name"] = f"{row['segment_name']} ({row['segment_id']})"
    feature_struct = pl.List(
        pl.Struct({"feature": pl.String, "family": pl.String, "centroid": pl.Float64, "base_mean": pl.Float64, "z": pl.Float64})
    )
    schema: dict[str, Any] = {
        "segment_id": pl.String,
        "segment_name": pl.String,
        "size": pl.Int64,
        "share": pl.Float64,
        "value_share": pl.Float64,
        "value_index": pl.Float64,
        "avg_clv": pl.Float64,
        **{f"lifecycle_{s}": pl.Float64 for s in STAGES},
        "stability_jaccard": pl.Float64,
        "features": feature_struct,
        "top_traits": pl.List(pl.Struct({"trait": pl.String, "share": pl.Float64, "lift": pl.Float64})),
        "top_tags": pl.List(pl.String),
        "top_categories": pl.List(pl.String),
        "category_lifts": pl.List(pl.Struct({"category": pl.String, "spend_share": pl.Float64, "lift": pl.Float64})),
        "top_brands": pl.List(pl.String),
        "description": pl.String,
        "campaign": pl.String,
        "product_mix": pl.String,
        "suggested_action": pl.String,
    }
    return pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)


def _name(
    strong: list[dict[str, Any]],
    specs: list[dict[str, Any]],
    z: np.ndarray,
    value_index: float,
    mix: dict[str, float],
    lang: str,
) -> str:
    parts: list[str] = []
    used_families: set[str] = set()
    for family in NAME_FAMILIES:
        for t in strong:
            if t["family"] == family and family not in used_families and t["kind"] != "bool":
                parts.append(t["label"])
                used_families.add(family)
                break
        if len(parts) >= 3:
            break
    if len(parts) < 3:
        for t in strong:
            if t["family"] not in used_families and t["kind"] != "bool" and len(parts) < 3:
                parts.append(t["label"])
                used_families.add(t["family"])
    if np.isfinite(value_index) and value_index >= 1.5:
        parts.insert(0, "高价值" if lang == "zh" else "high-value")
    elif np.isfinite(value_index) and value_index <= 0.5:
        parts.insert(0, "低价值" if lang == "zh" else "low-value")
    if len(parts) < 2:
        # few categorical traits stand out: the numeric feature furthest from the base
        zz = np.where(np.isfinite(z), z, 0.0)
        numeric = [i for i, s in enumerate(specs) if s["kind"] == "numeric" and s["family"] != "value"]
        if numeric:
            i = max(numeric, key=lambda q: (abs(zz[q]), -q))
            if abs(zz[i]) >= 0.25:
                label = _trait_label(specs[i], lang)
                if lang == "zh":
                    parts.append(("高" if zz[i] > 0 else "低") + label)
                else:
                    parts.append(("high " if zz[i] > 0 else "low ") + label)
    stage = max(mix, key=lambda s: (mix[s], s)) if mix else None
    if stage and stage != "active" and mix[stage] >= 0.5:
        parts.append(STAGE_ZH[stage] if lang == "zh" else f"{STAGE_EN[stage]} customers")
    elif lang == "zh":
        parts.append("人群")
    else:
        parts.append("customers")
    return " ".join(parts)


def _pct(x: float) -> str:
    return f"{x * 100:.0f}%"


def _texts(
    share: float,
    value_share: float,
    value_index: float,
    traits: list[dict[str, Any]],
    mix: dict[str, float],
    categories: list[dict[str, Any]],
    top_tags: list[dict[str, Any]],
    lang: str,
) -> tuple[str, str, str]:
    """The one-line description, the suggested campaign and the product mix."""
    zh = lang == "zh"
    trait_words = [t["label"] for t in traits[:3]]
    stage = max(mix, key=lambda s: (mix[s], s)) if mix else None
    lapsed = sum(mix.get(s, 0.0) for s in ("sleeping", "dormant", "lost"))
    if zh:
        desc = f"占用户{_pct(share)}"
        if np.isfinite(value_share):
            desc += f"、贡献{_pct(value_share)}的预期价值"
        if trait_words:
            desc += f"；{'、'.join(trait_words)}明显偏多"
        if stage:
            desc += f"；以{STAGE_ZH[stage]}为主（{_pct(mix[stage])}）"
    else:
        desc = f"{_pct(share)} of users"
        if np.isfinite(value_share):
            desc += f" and {_pct(value_share)} of expected value"
        if trait_words:
            desc += f"; over-indexed on {', '.join(trait_words)}"
        if stage:
            desc += f"; mostly {STAGE_EN[stage]} ({_pct(mix[stage])})"

    if mix.get("new", 0.0) >= 0.4:
        campaign = "新客培育：首单后7天内复购券与新人专享组合" if zh else "Welcome series: a second-order coupon within 7 days and a starter bundle"
    elif lapsed >= 0.5:
        campaign = "唤醒召回：定向优惠券加偏好品类新品推送" if zh else "Win-back: a targeted coupon plus new arrivals in their favourite categories"
    elif np.isfinite(value_index) and value_index >= 1.5:
        campaign = "会员专享：新品预售抢先购与高端礼遇" if zh else "VIP programme: early access to presales and premium perks"
    elif np.isfinite(value_index) and value_index <= 0.6:
        campaign = "满减与组合促销，提升客单价" if zh else "Threshold discounts and bundles to lift basket size"
    else:
        campaign = "兴趣种草：按偏好标签的内容营销加节日大促" if zh else "Always-on content on their interests plus festival promotions"

    cats = [c["value"] for c in categories]
    tags = [t["label"] for t in top_tags[:3]]
    if zh:
        product_mix = "主推" + ("、".join(cats) if cats else "全品类畅销款")
        if tags:
            product_mix += f"；围绕{'、'.join(tags)}选品"
    else:
        product_mix = "Lead with " + (", ".join(cats) if cats else "best-sellers across categories")
        if tags:
            product_mix += f"; pick products around {', '.join(tags)}"
    return desc, campaign, product_mix
