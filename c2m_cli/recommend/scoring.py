"""One scoring table for every kind of opportunity, and the diverse ranking built on it.

Each kind module fills the component columns it knows (each in [0, 1]); a kind's score is the
weighted sum of its components times the kind's weight (how directly a manufacturer can act on
it). The ranking is greedy: each next place goes to the highest score after a decay for every
opportunity of the same kind and category already placed, so the top of the list spans needs
and kinds instead of repeating one (a decay of 0.8 per earlier opportunity of the same kind and
category, and of 0.9 per earlier one of the same kind).
"""

from __future__ import annotations

import hashlib

import numpy as np
import polars as pl

# kind → (kind weight, {component: weight}); components of a kind sum to 1.
SCORING: dict[str, tuple[float, dict[str, float]]] = {
    # a need nobody serves: volume, a significant rise, little supply and little buying
    "search_gap": (1.0, {"c_volume": 0.30, "c_rising": 0.25, "c_significant": 0.10, "c_gap": 0.20, "c_supply": 0.15}),
    # a searched attribute the category's products lack
    "attribute_gap": (0.85, {"c_volume": 0.35, "c_rising": 0.15, "c_significant": 0.05, "c_gap": 0.25, "c_supply": 0.20}),
    # a product aspect buyers complain about, far more than about other products
    "micro_demand": (0.9, {"c_share": 0.40, "c_distinct": 0.30, "c_volume": 0.20, "c_rising": 0.10}),
    # a price band whose buyers differ clearly from the rest of the category
    "price_band": (0.8, {"c_distinct": 0.60, "c_size": 0.30, "c_thin": 0.10}),
    # a category or attribute whose sales rise significantly (festivals removed)
    "rising_demand": (0.7, {"c_growth": 0.40, "c_significant": 0.30, "c_volume": 0.30}),
    # when to launch: a festival that lifts the category
    "festival": (0.5, {"c_uplift": 0.70, "c_years": 0.30}),
}
COMPONENTS = sorted({c for _, parts in SCORING.values() for c in parts})
SAME_KIND_CATEGORY_DECAY = 0.8
SAME_KIND_DECAY = 0.9

OPPORTUNITY_SCHEMA: dict[str, pl.DataType] = {
    "kind": pl.String(), "category": pl.String(), "sku": pl.String(), "subject": pl.String(), "evidence": pl.String(),
    "segment_id": pl.String(), "variants": pl.List(pl.String), "need": pl.String(), "volume": pl.Float64(),
    "trend_z": pl.Float64(), "trend_p": pl.Float64(), "trend_q": pl.Float64(), "growth": pl.Float64(),
    **{c: pl.Float64() for c in COMPONENTS},
}
OUTPUT_COLUMNS = ("opportunity_id", "rank", "kind", "category", "sku", "subject", "evidence", "score", "segment_id",
                  "variants", "need", "volume", "trend_z", "trend_p", "trend_q", "growth")


def empty() -> pl.DataFrame:
    return pl.DataFrame(schema=OPPORTUNITY_SCHEMA)


def frame(rows: list[dict]) -> pl.DataFrame:
    if not rows:
        return empty()
    full = [{k: r.get(k) for k in OPPORTUNITY_SCHEMA} for r in rows]
    return pl.DataFrame(full, schema=OPPORTUNITY_SCHEMA)


def pct_rank(values: np.ndarray) -> np.ndarray:
    """Percentile rank in (0, 1] (ties share the average rank)."""
    if values.size == 0:
        return values
    return np.asarray(pl.Series(values).rank("average").to_numpy() / values.size, dtype=float)


def score(table: pl.DataFrame) -> pl.DataFrame:
    """Add ``score`` from the scoring table."""
    expr = pl.lit(0.0)
    for kind, (weight, parts) in SCORING.items():
        total = pl.sum_horizontal([pl.col(c).fill_null(0.0).clip(0.0, 1.0) * w for c, w in parts.items()])
        expr = pl.when(pl.col("kind") == kind).then(total * weight).otherwise(expr)
    return table.with_columns(score=expr.round(6))


def rank(table: pl.DataFrame) -> pl.DataFrame:
    """Diverse greedy ranking; rank 1 = best; a stable opportunity_id from kind/category/need."""
    key = pl.concat_str([pl.col(c).fill_null("") for c in ("kind", "category", "sku", "need", "subject")], separator="|")
    t = table.with_columns(_key=key).sort(["score", "kind", "_key"], descending=[True, False, False])
    kinds = t["kind"].to_list()
    base = t["score"].to_numpy().astype(float)
    # integer codes of each row's kind and (kind, category): the decays are counted per code
    k_code = t.select(pl.col("kind").rank("dense") - 1)["kind"].to_numpy().astype(np.int64)
    kc_code = t.select(pl.struct(pl.col("kind"), pl.col("category").fill_null("")).rank("dense") - 1).to_series().to_numpy().astype(np.int64)
    seen_k = np.zeros(int(k_code.max()) + 1 if t.height else 0)
    seen_kc = np.zeros(int(kc_code.max()) + 1 if t.height else 0)
    left = np.ones(t.height, dtype=bool)
    order: list[int] = []
    for _ in range(min(200, t.height)):
        value = np.where(left, base * SAME_KIND_CATEGORY_DECAY ** seen_kc[kc_code] * SAME_KIND_DECAY ** seen_k[k_code], -np.inf)
        # the first row (in score order) within 1e-12 of the best
        best = int(np.flatnonzero(value >= value.max() - 1e-12)[0])
        order.append(best)
        left[best] = False
        seen_kc[kc_code[best]] += 1
        seen_k[k_code[best]] += 1
    # past the first 200 the plain score orders the rest
    rest = np.flatnonzero(left)
    order.extend(sorted(rest.tolist(), key=lambda i: (-base[i], kinds[i])))
    ranked = t[order].with_row_index("rank", offset=1).with_columns(pl.col("rank").cast(pl.Int32))
    ids = [("O" + hashlib.sha1(k.encode()).hexdigest()[:10]) for k in ranked["_key"].to_list()]
    return ranked.with_columns(opportunity_id=pl.Series(ids, dtype=pl.String)).select(list(OUTPUT_COLUMNS))
