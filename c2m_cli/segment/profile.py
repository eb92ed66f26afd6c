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


def spend_sums(
    orders: Orders | None,
    products: pl.DataFrame | None,
    assignment: pl.DataFrame,
    columns: tuple[str, ...],
    k: int,
) -> dict[str, tuple[list[str], np.ndarray, np.ndarray]]:
    """Per ``columns`` entry (category_l1, brand): every product value (sorted), the spend of
    each segment on each value (k × values) and the purchase lines per value. One pass over the
    order lines of ``assignment``'s users (user_id, seg) for every column: each line's product
    values are looked up once, as integer codes (the values' sorted order); sums by bincount in
    line order (bit-reproducible, unlike a parallel group-by), so the sums of user partitions add
    up to those of everyone."""
    out: dict[str, tuple[list[str], np.ndarray, np.ndarray]] = {}
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
        nv = len(names[column])
        rows = frame.filter(pl.col(f"_c{q}").is_not_null())
        codes = rows[f"_c{q}"].to_numpy().astype(np.int64) - 1
        seg = rows["seg"].to_numpy().astype(np.int64)
        sums = np.bincount(seg * nv + codes, weights=rows["spend"].to_numpy(), minlength=k * nv).reshape(k, nv)
        out[column] = (names[column], sums, np.bincount(codes, minlength=nv))
    return out


def spend_lifts(
    sums: dict[str, tuple[list[str], np.ndarray, np.ndarray]], columns: tuple[str, ...], k: int, top: int = 3
) -> dict[str, list[list[dict[str, Any]]]]:
    """Per column and segment, the values whose spend share over-indexes most (from ``spend_sums``,
    added up over partitions): only the values bought enter the shares."""
    out: dict[str, list[list[dict[str, Any]]]] = {c: [[] for _ in range(k)] for c in columns}
    for column, (names, spend, lines) in sums.items():
        used = np.flatnonzero(lines > 0)
        if used.size == 0:
            continue
        out[column] = _lifts_of(np.ascontiguousarray(spend[:, used]), [names[c] for c in used], k, top)
    return out


def _lifts_of(sums: np.ndarray, values: list[str], k: int, top: int) -> list[list[dict[str, Any]]]:
    """Spend share and lift of each value per segment, the ``top`` over-indexed ones."""
    result: list[list[dict[str, Any]]] = [[] for _ in range(k)]
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


LIFT_COLUMNS = ("category_l1", "brand")


def partition_stats(
    *,
    labels: pl.DataFrame,
    raw: pl.DataFrame,
    specs: list[FeatureSpec],
    seg: np.ndarray,
    k: int,
    orders: Orders | None = None,
    products: pl.DataFrame | None = None,
    growth: pl.DataFrame | None = None,
) -> dict[str, Any]:
    """The sums a profile is made of, over one partition of users (``labels``, ``raw`` and
    ``growth`` in the same row order, ``seg`` their 0-based segments): per segment the users,
    the sums of every raw feature, of tag carriers, of value, of lifecycle stages and of growth
    rungs; over the partition the feature totals and squared deviations (for the base standard
    deviation); the spend per segment and product value. ``combine_stats`` adds partitions up;
    with one partition the figures are those of one pass over everyone."""
    n = raw.height
    p = len(specs)
    fcols = [f"f{i}" for i in range(p)]
    R = raw.select(fcols).to_numpy().astype(np.float64) if p else np.zeros((n, 0))
    total = R.sum(axis=0)
    # the squared deviations from the partition's mean, as numpy's std computes them
    dev = R - R.sum(axis=0, keepdims=True) / n if n else R
    m2 = (dev * dev).sum(axis=0)
    del dev
    tag_idx = [i for i, s in enumerate(specs) if s.kind == "tag"]
    T = (R[:, tag_idx] > 0).astype(np.float64)
    out: dict[str, Any] = {
        "n": n,
        "sizes": np.bincount(seg, minlength=k),
        "sums": _group_sums(R, seg, k),
        "total": total,
        "m2": m2,
        "tag_sums": _group_sums(T, seg, k),
        "tag_total": T.sum(axis=0),
    }
    del R, T
    if "value_clv" in labels.columns:
        v = labels["value_clv"].cast(pl.Float64).fill_null(0.0).clip(lower_bound=0.0).to_numpy()
        out["value_sums"] = np.bincount(seg, weights=v, minlength=k)
        out["value_total"] = float(v.sum())
    if "lifecycle_stage" in labels.columns:
        stage = labels["lifecycle_stage"].cast(pl.String)
        out["stages"] = np.stack(
            [np.bincount(seg, weights=(stage == s).fill_null(False).to_numpy().astype(np.float64), minlength=k) for s in STAGES],
            axis=1,
        )
    if growth is not None:
        known, counts = [], []
        for col in GROWTH_COLUMNS:
            flags = growth[col]
            known.append(flags.null_count() != flags.len())
            counts.append(np.bincount(seg, weights=flags.fill_null(False).cast(pl.Float64).to_numpy(), minlength=k))
        out["growth_known"] = np.asarray(known, dtype=bool)
        out["growth"] = np.stack(counts, axis=1)
    assignment = labels.select(pl.col("user_id").cast(pl.String)).with_columns(pl.Series("seg", seg, dtype=pl.Int32))
    out["spend"] = spend_sums(orders, products, assignment, LIFT_COLUMNS, k)
    return out


def combine_stats(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """The statistics of the union of partitions (in the order given): sums added, squared
    deviations pooled (Chan et al.: M2 = Σ M2ₚ + nₚ (meanₚ − mean)²), rungs known where any
    partition knows them. With one partition, its own figures, unchanged."""
    n = sum(int(q["n"]) for q in parts)
    first = parts[0]
    out: dict[str, Any] = {"n": n}
    for key in ("sizes", "sums", "total", "tag_sums", "tag_total", "value_sums", "stages", "growth"):
        if key in first:
            acc = np.array(first[key], copy=True)  # not zeros + …: a −0.0 stays −0.0
            for q in parts[1:]:
                acc = acc + q[key]
            out[key] = acc
    if "value_total" in first:
        out["value_total"] = float(sum(q["value_total"] for q in parts))
    if "growth_known" in first:
        out["growth_known"] = np.logical_or.reduce([np.asarray(q["growth_known"], dtype=bool) for q in parts])
    mean = out["total"] / n if n else out["total"]
    m2 = np.zeros_like(np.asarray(first["m2"], dtype=np.float64))
    for q in parts:
        nq = int(q["n"])
        if nq:
            gap = q["total"] / nq - mean
            m2 = m2 + q["m2"] + nq * (gap * gap)
    out["m2"] = m2
    spend: dict[str, tuple[list[str], np.ndarray, np.ndarray]] = {}
    for column, (names, sums, lines) in first["spend"].items():
        spend[column] = (
            names, sum((q["spend"][column][1] for q in parts[1:]), sums), sum((q["spend"][column][2] for q in parts[1:]), lines)
        )
    out["spend"] = spend
    return out


def reorder_stats(stats: dict[str, Any], remap: np.ndarray) -> dict[str, Any]:
    """The statistics with segment j renumbered ``remap[j]`` (rows of every per-segment array moved)."""
    def move(a: np.ndarray) -> np.ndarray:
        out = np.empty_like(a)
        out[remap] = a
        return out

    moved = dict(stats)
    for key in ("sizes", "sums", "tag_sums", "value_sums", "stages", "growth"):
        if key in stats:
            moved[key] = move(np.asarray(stats[key]))
    moved["spend"] = {c: (names, move(s), lines) for c, (names, s, lines) in stats["spend"].items()}
    return moved


def build_profiles(
    *,
    stats: dict[str, Any],
    specs: list[FeatureSpec],
    k: int,
    segment_ids: list[str],
    jaccard: np.ndarray,
    lang: str,
) -> pl.DataFrame:
    """One row per segment (see module doc), from the statistics of ``partition_stats`` (added
    up over the partitions by ``combine_stats``)."""
    n = int(stats["n"])
    p = len(specs)
    sizes = np.asarray(stats["sizes"])
    nonempty = sizes > 0
    sums = stats["sums"]
    total = stats["total"]
    seg_means = _ratio(sums, sizes[:, None].astype(np.float64))
    rest_n = (n - sizes)[:, None].astype(np.float64)
    rest_means = _ratio(total[None, :] - sums, rest_n)
    base_mean = total / n
    base_std = np.sqrt(stats["m2"] / (n - 1)) if n > 1 else np.full(p, np.nan)
    base_std = np.where(np.isfinite(base_std) & (base_std > 1e-12), base_std, np.nan)
    z = (seg_means - base_mean) / base_std
    d = (seg_means - rest_means) / base_std
    # tags: share of users carrying the tag (score > 0), for words and lifts
    tag_idx = [i for i, s in enumerate(specs) if s.kind == "tag"]
    share_seg = seg_means.copy()
    share_rest = rest_means.copy()
    if tag_idx:
        t_sums = stats["tag_sums"]
        share_seg[:, tag_idx] = _ratio(t_sums, sizes[:, None].astype(np.float64))
        share_rest[:, tag_idx] = _ratio(stats["tag_total"][None, :] - t_sums, rest_n)

    value_share = np.full(k, np.nan)
    avg_value = np.full(k, np.nan)
    if "value_sums" in stats:
        v_sums = stats["value_sums"]
        total_value = float(stats["value_total"])
        if total_value > 0:
            value_share = v_sums / total_value
        avg_value = np.divide(v_sums, sizes, out=np.full(k, np.nan), where=nonempty)
    stage_mix = np.full((k, len(STAGES)), np.nan)
    if "stages" in stats:
        for q in range(len(STAGES)):
            stage_mix[:, q] = np.divide(stats["stages"][:, q], sizes, out=np.full(k, np.nan), where=nonempty)
    growth_share: dict[str, np.ndarray] = {}
    if "growth" in stats:
        for q, col in enumerate(GROWTH_COLUMNS):
            if not stats["growth_known"][q]:
                continue  # the data cannot show this rung: unknown, not 0
            growth_share[col] = np.divide(stats["growth"][:, q], sizes, out=np.full(k, np.nan), where=nonempty)

    lifts = spend_lifts(stats["spend"], LIFT_COLUMNS, k)
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
