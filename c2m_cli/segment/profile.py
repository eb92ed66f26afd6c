"""Segment profiles — the statistics: size, value, lifecycle mix, the 5CM growth ladder,
per-feature centroid and z-score, the features that set each segment apart from the rest,
over-indexed traits, categories and brands. Names and sentences are made from these figures by
``c2m_cli.segment.wording``; nothing here writes words.

Every number comes from the data: a segment's centroid is the mean of each raw feature over its
members, its z-score that mean minus the base mean over the base standard deviation; how
*distinctive* a feature is for a segment is the standardised difference between the segment and
the rest of the users, d = (mean in segment − mean in the rest) / base standard deviation
(Cohen's d with the base spread), ranked by |d|; a lift is the segment's share (of users with a
trait, or of spend in a category) over the share among the rest (traits, ``distinctive``) or the
whole base (``top_traits``, categories).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from c2m_cli import contract
from c2m_cli.growth import COLUMNS as GROWTH_COLUMNS
from c2m_cli.growth import RUNGS
from c2m_cli.segment import wording
from c2m_cli.segment.features import FeatureSpec, Orders, order_columns

STAGES = ("new", "active", "sleeping", "dormant", "lost")
LAPSED = ("sleeping", "dormant", "lost")
MIN_CATEGORY_SHARE = 0.02  # a category over-indexes only with this share of the segment's spend
MIN_DISTINCT_D = 0.2  # |d| from which a feature is "distinctive" (Cohen's small effect)
MAX_DISTINCT = 20  # kept per segment (the description says the first few)
# families not used as distinctive features: value is shown as value share / index, lifecycle
# as the stage mix
NOT_DISTINCTIVE = ("value", "lifecycle")
_SHARE_KINDS = ("onehot", "tag", "bool", "mix")


@dataclass
class Distinct:
    """One feature that sets a segment apart: its mean in the segment and in the rest."""

    spec: FeatureSpec
    segment: float
    rest: float
    d: float
    lift: float | None

    def as_row(self) -> dict[str, Any]:
        return {"feature": self.spec.name, "family": self.spec.family, "kind": self.spec.kind,
                "segment": self.segment, "rest": self.rest, "d": self.d, "lift": self.lift}


@dataclass
class SegmentFacts:
    """Everything wording needs about one segment (figures only)."""

    segment_id: str
    size: int
    share: float
    value_share: float | None
    value_index: float | None
    stage_mix: dict[str, float]
    distinctive: list[Distinct]
    traits: list[dict[str, Any]]  # over-indexed binary traits vs the base: feature, family, kind, spec, share, lift
    categories: list[dict[str, Any]]
    growth: dict[str, float | None] = field(default_factory=dict)

    @property
    def lapsed(self) -> float:
        return sum(self.stage_mix.get(s, 0.0) for s in LAPSED)

    @property
    def engaged(self) -> float:
        return self.stage_mix.get("active", 0.0) + self.stage_mix.get("new", 0.0)


def _spend_lifts(
    orders: Orders | None,
    products: pl.DataFrame | None,
    assignment: pl.DataFrame,
    columns: tuple[str, ...],
    k: int,
    top: int = 3,
) -> dict[str, list[list[dict[str, Any]]]]:
    """Per ``columns`` entry (category_l1, brand) and segment, the values whose spend share
    over-indexes most. One pass over the order lines for every column: each line's product
    values are looked up once, as integer codes (the values' sorted order)."""
    out: dict[str, list[list[dict[str, Any]]]] = {c: [[] for _ in range(k)] for c in columns}
    if orders is None or products is None:
        return out
    if not {"user_id", "sku", "qty", "unit_price"} <= set(order_columns(orders)):
        return out
    present = [c for c in columns if c in products.columns]
    if not present:
        return out
    first = (
        products.lazy()
        .select(pl.col("sku").cast(pl.String), *(pl.col(c).cast(pl.String) for c in present))
        .unique("sku", keep="first", maintain_order=True)
        .collect()
    )
    names = {c: first[c].drop_nulls().unique().sort().to_list() for c in present}
    # a dense code per value, in the values' sorted order (null stays null)
    prod = first.select("sku", *(pl.col(c).rank("dense").cast(pl.Int64).alias(f"_c{q}") for q, c in enumerate(present)))
    lines = contract.purchase_lines(orders.lazy())  # sales and pre-sales (c2m_cli.contract)
    frame = (
        lines.select(
            pl.col("user_id").cast(pl.String),
            pl.col("sku").cast(pl.String),
            (pl.col("qty").cast(pl.Float64) * pl.col("unit_price").cast(pl.Float64)).alias("spend"),
        )
        .join(prod.lazy(), on="sku", how="inner", maintain_order="left")
        .filter(pl.col("spend") > 0)
        .join(assignment.lazy(), on="user_id", how="inner", maintain_order="left")
        .select("seg", "spend", *(f"_c{q}" for q in range(len(present))))
        .collect()
    )
    for q, column in enumerate(present):
        rows = frame.filter(pl.col(f"_c{q}").is_not_null())
        if rows.height == 0:
            continue
        # the values bought, numbered densely in sorted order (the per-column frame's own ranks)
        raw_codes = rows[f"_c{q}"].to_numpy() - 1
        used = np.unique(raw_codes)
        codes = np.searchsorted(used, raw_codes)
        values = [names[column][c] for c in used]
        out[column] = _lifts_of(codes, rows["seg"].to_numpy(), rows["spend"].to_numpy(), values, k, top)
    return out


def _lifts_of(
    codes: np.ndarray, seg: np.ndarray, spend: np.ndarray, values: list[str], k: int, top: int
) -> list[list[dict[str, Any]]]:
    """Spend share and lift of each value per segment, the ``top`` over-indexed ones."""
    result: list[list[dict[str, Any]]] = [[] for _ in range(k)]
    # sums by bincount in row order (bit-reproducible, unlike a parallel group-by)
    nv = len(values)
    sums = np.bincount(seg.astype(np.int64) * nv + codes, weights=spend, minlength=k * nv).reshape(k, nv)
    seg_tot = sums.sum(axis=1, keepdims=True)
    share = np.divide(sums, seg_tot, out=np.zeros_like(sums), where=seg_tot > 0)
    base_share = sums.sum(axis=0) / sums.sum()
    lift = np.divide(share, base_share, out=np.zeros_like(share), where=base_share > 0)
    for j in range(k):
        ok = np.flatnonzero(share[j] >= MIN_CATEGORY_SHARE)
        ranked = sorted(ok, key=lambda c: (-lift[j, c], values[c]))[:top]
        result[j] = [{"value": values[c], "spend_share": float(share[j, c]), "lift": float(lift[j, c])} for c in ranked]
    return result


def _group_sums(M: np.ndarray, seg: np.ndarray, k: int) -> np.ndarray:
    """Per-segment column sums in row order (polars' parallel group sums are not bit-reproducible)."""
    out = np.zeros((k, M.shape[1]))
    if M.shape[1] == 0:
        return out
    order = np.argsort(seg, kind="stable")
    sizes = np.bincount(seg, minlength=k)
    starts = np.searchsorted(seg[order], np.arange(k))
    nonempty = sizes > 0
    out[nonempty] = np.add.reduceat(M[order], starts[nonempty], axis=0)
    return out


def _ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.divide(a, b, out=np.full(np.broadcast_shapes(a.shape, b.shape), np.nan), where=b > 0)


def build_profiles(
    *,
    labels: pl.DataFrame,
    raw: pl.DataFrame,
    specs: list[FeatureSpec],
    seg: np.ndarray,
    k: int,
    segment_ids: list[str],
    jaccard: np.ndarray,
    lang: str,
    orders: Orders | None = None,
    products: pl.DataFrame | None = None,
    growth: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """One row per segment (see module doc); ``seg`` holds 0-based segment indices per user;
    ``growth`` the per-user 5CM rungs of ``c2m_cli.growth.user_rungs`` (same row order)."""
    n = raw.height
    p = len(specs)
    fcols = [f"f{i}" for i in range(p)]
    sizes = np.bincount(seg, minlength=k)
    nonempty = sizes > 0
    R = raw.select(fcols).to_numpy().astype(np.float64) if p else np.zeros((n, 0))
    sums = _group_sums(R, seg, k)
    seg_means = _ratio(sums, sizes[:, None].astype(np.float64))
    rest_n = (n - sizes)[:, None].astype(np.float64)
    rest_means = _ratio(R.sum(axis=0)[None, :] - sums, rest_n)
    base_mean = R.mean(axis=0)
    base_std = R.std(axis=0, ddof=1) if n > 1 else np.full(p, np.nan)
    base_std = np.where(np.isfinite(base_std) & (base_std > 1e-12), base_std, np.nan)
    z = (seg_means - base_mean) / base_std
    d = (seg_means - rest_means) / base_std
    # tags: share of users carrying the tag (score > 0), for words and lifts
    tag_idx = [i for i, s in enumerate(specs) if s.kind == "tag"]
    share_seg = seg_means.copy()
    share_rest = rest_means.copy()
    if tag_idx:
        T = (R[:, tag_idx] > 0).astype(np.float64)
        t_sums = _group_sums(T, seg, k)
        share_seg[:, tag_idx] = _ratio(t_sums, sizes[:, None].astype(np.float64))
        share_rest[:, tag_idx] = _ratio(T.sum(axis=0)[None, :] - t_sums, rest_n)
    del R

    frame = labels.select(pl.col("user_id").cast(pl.String)).with_columns(pl.Series("seg", seg, dtype=pl.Int32))
    value_share = np.full(k, np.nan)
    avg_value = np.full(k, np.nan)
    if "value_clv" in labels.columns:
        v = labels["value_clv"].cast(pl.Float64).fill_null(0.0).clip(lower_bound=0.0).to_numpy()
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
    growth_share: dict[str, np.ndarray] = {}
    if growth is not None:
        for col in GROWTH_COLUMNS:
            flags = growth[col]
            if flags.null_count() == flags.len():
                continue  # the data cannot show this rung: unknown, not 0
            hits = flags.fill_null(False).cast(pl.Float64).to_numpy()
            growth_share[col] = np.divide(np.bincount(seg, weights=hits, minlength=k), sizes, out=np.full(k, np.nan), where=nonempty)

    assignment = frame.select("user_id", "seg")
    lifts = _spend_lifts(orders, products, assignment, ("category_l1", "brand"), k)
    top_categories, top_brands = lifts["category_l1"], lifts["brand"]

    trait_idx = [i for i, s in enumerate(specs) if s.kind in ("onehot", "tag", "bool")]
    candidates = [i for i, s in enumerate(specs) if s.family not in NOT_DISTINCTIVE]
    facts: list[SegmentFacts] = []
    extra: list[dict[str, Any]] = []
    for j in range(k):
        share = sizes[j] / n if n else 0.0
        traits: list[dict[str, Any]] = []
        for i in trait_idx:
            if base_mean[i] <= 0 or not np.isfinite(seg_means[j, i]):
                continue
            traits.append(
                {"feature": specs[i].name, "family": specs[i].family, "kind": specs[i].kind, "spec": specs[i],
                 "share": float(share_seg[j, i]), "lift": float(seg_means[j, i] / base_mean[i])}
            )
        traits.sort(key=lambda t: (-t["lift"], t["feature"]))
        over = [t for t in traits if t["lift"] > 1.0 and t["family"] != "lifecycle"]
        distinctive: list[Distinct] = []
        for i in sorted(
            (i for i in candidates if np.isfinite(d[j, i]) and abs(d[j, i]) >= MIN_DISTINCT_D),
            key=lambda i: (-abs(d[j, i]), specs[i].name),
        )[:MAX_DISTINCT]:
            kind = specs[i].kind
            seg_v = float(share_seg[j, i] if kind in _SHARE_KINDS else seg_means[j, i])
            rest_v = float(share_rest[j, i] if kind in _SHARE_KINDS else rest_means[j, i])
            lift = seg_v / rest_v if kind in _SHARE_KINDS and rest_v > 0 else None
            distinctive.append(Distinct(specs[i], seg_v, rest_v, float(d[j, i]), lift))
        value_index = value_share[j] / share if share > 0 and np.isfinite(value_share[j]) else np.nan
        mix = {s: float(stage_mix[j, q]) for q, s in enumerate(STAGES) if np.isfinite(stage_mix[j, q])}
        facts.append(
            SegmentFacts(
                segment_id=segment_ids[j], size=int(sizes[j]), share=float(share),
                value_share=None if not np.isfinite(value_share[j]) else float(value_share[j]),
                value_index=None if not np.isfinite(value_index) else float(value_index),
                stage_mix=mix, distinctive=distinctive, traits=over, categories=top_categories[j],
                growth={r.code: (float(growth_share[c][j]) if c in growth_share and np.isfinite(growth_share[c][j]) else None)
                        for r, c in zip(RUNGS, GROWTH_COLUMNS, strict=True)},
            )
        )
        extra.append(
            {
                "avg_clv": None if not np.isfinite(avg_value[j]) else float(avg_value[j]),
                "stability_jaccard": None if not np.isfinite(jaccard[j]) else float(jaccard[j]),
                "features": [
                    {"feature": specs[i].name, "family": specs[i].family, "centroid": float(seg_means[j, i]),
                     "base_mean": float(base_mean[i]), "z": None if not np.isfinite(z[j, i]) else float(z[j, i])}
                    for i in range(p)
                ],
                "top_traits": [{"trait": t["feature"], "share": t["share"], "lift": t["lift"]} for t in over[:8]],
                "top_tags": wording.tag_words([t for t in over if t["kind"] == "tag"], lang)[:5],
                "top_brands": [c["value"] for c in top_brands[j]],
            }
        )

    texts = wording.write(facts, lang)
    rows: list[dict[str, Any]] = []
    for f, e, t in zip(facts, extra, texts, strict=True):
        rows.append(
            {
                "segment_id": f.segment_id,
                "segment_name": t.name,
                "size": f.size,
                "share": f.share,
                "value_share": f.value_share,
                "value_index": f.value_index,
                "avg_clv": e["avg_clv"],
                **{f"lifecycle_{s}": f.stage_mix.get(s) for s in STAGES},
                **{col: f.growth[r.code] for r, col in zip(RUNGS, GROWTH_COLUMNS, strict=True)},
                "stability_jaccard": e["stability_jaccard"],
                "features": e["features"],
                "distinctive": [x.as_row() for x in f.distinctive],
                "top_traits": e["top_traits"],
                "top_tags": e["top_tags"],
                "top_categories": [c["value"] for c in f.categories],
                "category_lifts": [{"category": c["value"], "spend_share": c["spend_share"], "lift": c["lift"]} for c in f.categories],
                "top_brands": e["top_brands"],
                "description": t.description,
                "action_kind": t.action_kind,
                "campaign": t.campaign,
                "product_mix": t.product_mix,
                "suggested_action": t.suggested_action,
            }
        )
    return pl.DataFrame(rows, schema=SCHEMA, orient="row") if rows else pl.DataFrame(schema=SCHEMA)


SCHEMA: dict[str, Any] = {
    "segment_id": pl.String,
    "segment_name": pl.String,
    "size": pl.Int64,
    "share": pl.Float64,
    "value_share": pl.Float64,
    "value_index": pl.Float64,
    "avg_clv": pl.Float64,
    **{f"lifecycle_{s}": pl.Float64 for s in STAGES},
    **{col: pl.Float64 for col in GROWTH_COLUMNS},
    "stability_jaccard": pl.Float64,
    "features": pl.List(
        pl.Struct({"feature": pl.String, "family": pl.String, "centroid": pl.Float64, "base_mean": pl.Float64, "z": pl.Float64})
    ),
    "distinctive": pl.List(
        pl.Struct({"feature": pl.String, "family": pl.String, "kind": pl.String, "segment": pl.Float64,
                   "rest": pl.Float64, "d": pl.Float64, "lift": pl.Float64})
    ),
    "top_traits": pl.List(pl.Struct({"trait": pl.String, "share": pl.Float64, "lift": pl.Float64})),
    "top_tags": pl.List(pl.String),
    "top_categories": pl.List(pl.String),
    "category_lifts": pl.List(pl.Struct({"category": pl.String, "spend_share": pl.Float64, "lift": pl.Float64})),
    "top_brands": pl.List(pl.String),
    "description": pl.String,
    "action_kind": pl.String,
    "campaign": pl.String,
    "product_mix": pl.String,
    "suggested_action": pl.String,
}
