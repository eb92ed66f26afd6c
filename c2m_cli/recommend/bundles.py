"""Bundles: association rules X → y (|X| = 1 or 2) from order baskets, with lift.

Frequent items, pairs and triples are counted Apriori-style on integer codes, basket chunk by
basket chunk (memory grows with a chunk, not with the data). A rule is kept when it is
significant — a one-sided hypergeometric test of its co-occurrence count, Benjamini–Hochberg
over all candidate rules at ``alpha`` — and not redundant: a rule {a, b} → c is dropped when its
lift does not exceed the lift of a → c or of b → c (the bigger antecedent adds nothing).
"""

from __future__ import annotations

import numpy as np
import polars as pl
from scipy import sparse

from c2m_cli.recommend._stats import benjamini_hochberg, hypergeom_sf

BUNDLE_SCHEMA: dict[str, pl.DataType] = {
    "antecedent": pl.List(pl.String),
    "consequent": pl.List(pl.String),
    "support": pl.Float64(),
    "confidence": pl.Float64(),
    "lift": pl.Float64(),
    "baskets": pl.UInt32(),
    "p_value": pl.Float64(),
    "q_value": pl.Float64(),
}


def baskets_of(lines: pl.DataFrame | pl.LazyFrame, basket: str = "order_id", item: str = "sku") -> pl.LazyFrame:
    """(basket, item) pairs with the item as string, lazily; an item repeated in a basket is
    counted once by ``mine_bundles``."""
    return (
        lines.lazy()
        .select(pl.col(basket).cast(pl.String).alias("basket"), pl.col(item).cast(pl.String).alias("item"))
        .drop_nulls()
    )


def _hashed(pairs: pl.LazyFrame) -> pl.LazyFrame:
    return (pairs.select(pl.col("basket").cast(pl.String), pl.col("item").cast(pl.String)).drop_nulls()
            .select(pl.col("basket").hash(seed=1).alias("b"), "item"))


def count_baskets(pairs: pl.LazyFrame, parts: int = 1) -> tuple[int, pl.DataFrame]:
    """(baskets, (item, n): baskets holding each item) of (basket, item) pairs, by streaming
    group-bys over ``parts`` basket-hash partitions one after the other (a partition's distinct
    (basket, item) pairs are all that is held); the partitions' counts add up exactly."""
    hashed = _hashed(pairs)
    n_baskets, frames = 0, []
    for k in range(parts):
        part = hashed.filter(pl.col("b") % parts == k) if parts > 1 else hashed
        n_frame, items = pl.collect_all([part.select(pl.col("b").n_unique()),
                                         part.unique().group_by("item").agg(pl.len().alias("n"))], engine="streaming")
        n_baskets += int(n_frame.item())
        frames.append(items)
    return n_baskets, pl.concat(frames).group_by("item").agg(pl.col("n").sum()) if parts > 1 else frames[0]


def _incidence(chunk: pl.DataFrame, n_items: int) -> sparse.csr_matrix:
    """Baskets × frequent items (0/1) of one chunk of distinct (b, i) rows."""
    codes = chunk.select(pl.col("b").rank("dense").cast(pl.Int64) - 1, pl.col("i").cast(pl.Int64))
    rows, cols = codes["b"].to_numpy(), codes["i"].to_numpy()
    n_rows = int(rows.max()) + 1 if rows.size else 0
    return sparse.csr_matrix((np.ones(rows.size, dtype=np.uint8), (rows, cols)), shape=(n_rows, n_items))


def mine_bundles(
    pairs: pl.LazyFrame,
    *,
    min_support: float = 0.001,
    min_count: int = 5,
    min_confidence: float = 0.0,
    min_lift: float = 1.0,
    max_size: int = 3,
    alpha: float = 0.05,
    rows_per_chunk: int = 2_000_000,
    counts: tuple[int, pl.DataFrame] | None = None,
) -> tuple[pl.DataFrame, dict]:
    """Significant, non-redundant rules with lift above ``min_lift``, best lift first.

    Items are counted by streaming group-bys; the baskets holding two or more frequent items are
    split by basket hash into chunks of about ``rows_per_chunk`` (basket, item) rows, and each
    chunk's baskets × items incidence matrix X gives its pair counts (XᵀX) and, for the frequent
    pairs (a, b), its triple counts ((X_a ∘ X_b)ᵀ X): sums over chunks are the counts.
    ``counts`` = (baskets, baskets per item) when already counted (``count_baskets``)."""
    hashed = _hashed(pairs)
    n_baskets, item_all = count_baskets(pairs) if counts is None else counts
    note: dict = {"baskets": n_baskets, "min_support": min_support, "min_count": min_count}
    if n_baskets == 0:
        return pl.DataFrame(schema=BUNDLE_SCHEMA), note
    threshold = max(min_count, min_support * n_baskets)
    item_count = item_all.filter(pl.col("n") >= threshold).sort("item")
    codes = item_count.with_columns(i=pl.int_range(pl.len(), dtype=pl.UInt32))
    names = codes["item"].to_list()
    n_item = codes["n"].to_numpy()
    note["frequent_items"] = len(names)
    n_rows = int(n_item.sum())  # (basket, frequent item) rows: an upper bound of the incidences
    n_chunks = max(1, int(np.ceil(n_rows / rows_per_chunk)))
    frequent = hashed.join(codes.lazy().select("item", "i"), on="item").select("b", "i")

    def chunk(k: int) -> pl.DataFrame:
        # the chunk's baskets are picked before the de-duplication, so only a chunk is ever held
        part = frequent.filter(pl.col("b") % n_chunks == k) if n_chunks > 1 else frequent
        return part.unique().filter(pl.len().over("b") >= 2).collect(engine="streaming")

    # kept as 0/1 bytes (a 50-million-line shop has tens of millions of incidences); counted in int64
    chunks = [_incidence(chunk(k), len(names)) for k in range(n_chunks)] if n_rows else []
    counts = sparse.csr_matrix((len(names), len(names)), dtype=np.int64)
    for x in chunks:
        x64 = x.astype(np.int64)
        counts = counts + (x64.T @ x64).tocsr()
    upper = sparse.triu(counts, k=1).tocoo()
    pc = pl.DataFrame({"i": upper.row.astype(np.uint32), "i2": upper.col.astype(np.uint32),
                       "n": upper.data.astype(np.uint32)}).filter(pl.col("n") >= threshold).sort("i", "i2")
    note["frequent_pairs"] = pc.height
    rules = []
    if pc.height:
        a, c, n = pc["i"].to_numpy(), pc["i2"].to_numpy(), pc["n"].to_numpy().astype(float)
        for ante, cons in ((a, c), (c, a)):
            rules.append({"a1": ante, "a2": np.full(ante.size, -1), "c": cons, "n": n, "n_a": n_item[ante].astype(float)})
    if max_size >= 3 and pc.height:
        pa, pb = pc["i"].to_numpy().astype(np.int64), pc["i2"].to_numpy().astype(np.int64)
        triple = sparse.csr_matrix((pc.height, len(names)), dtype=np.int64)
        for x in chunks:
            x64 = x.astype(np.int64)
            xc = x64.tocsc()
            both = xc[:, pa].multiply(xc[:, pb]).tocsc()  # baskets × frequent pairs (0/1)
            triple = triple + (both.T @ x64).tocsr()
        t = triple.tocoo()
        tri = (pl.DataFrame({"i": pa[t.row].astype(np.uint32), "i2": pb[t.row].astype(np.uint32),
                             "i3": t.col.astype(np.uint32), "n": t.data.astype(np.uint32)})
               .filter((pl.col("i3") > pl.col("i2")) & (pl.col("n") >= threshold))
               .select("i", "i2", "i3", "n").sort("i", "i2", "i3"))
        note["frequent_triples"] = tri.height
        if tri.height:
            pair_n = {(int(x), int(y)): float(v) for x, y, v in pc.iter_rows()}
            t1, t2, t3 = (tri[k].to_numpy() for k in ("i", "i2", "i3"))
            tn = tri["n"].to_numpy().astype(float)
            for x1, x2, cc in ((t1, t2, t3), (t1, t3, t2), (t2, t3, t1)):
                n_x = np.array([pair_n[(int(p), int(q))] for p, q in zip(x1, x2, strict=True)])
                rules.append({"a1": x1, "a2": x2, "c": cc, "n": tn, "n_a": n_x})
    else:
        note["frequent_triples"] = 0
    if not rules:
        return pl.DataFrame(schema=BUNDLE_SCHEMA), note
    cat = {k: np.concatenate([r[k] for r in rules]) for k in ("a1", "a2", "c", "n", "n_a")}
    n_c = n_item[cat["c"]].astype(float)
    support = cat["n"] / n_baskets
    confidence = cat["n"] / cat["n_a"]
    lift = cat["n"] * n_baskets / (cat["n_a"] * n_c)
    # P(X ≥ n) when the antecedent's baskets are drawn at random from all baskets
    p = hypergeom_sf(cat["n"] - 1, n_baskets, n_c, cat["n_a"])
    q = benjamini_hochberg(p)
    keep = (confidence >= min_confidence) & (lift > min_lift) & (q < alpha)
    # redundancy: a two-item antecedent must beat both of its one-item rules' lift
    single = {(int(x), int(y)): float(v) for x, y, v, s in zip(cat["a1"], cat["c"], lift, cat["a2"], strict=True) if s < 0}
    two = cat["a2"] >= 0
    best_single = np.array([max(single.get((int(x1), int(cc)), np.inf), single.get((int(x2), int(cc)), np.inf))
                            if t else 0.0 for x1, x2, cc, t in zip(cat["a1"], cat["a2"], cat["c"], two, strict=True)])
    redundant = two & (lift <= best_single)
    note["redundant_rules"] = int((keep & redundant).sum())
    note["insignificant_rules"] = int(((confidence >= min_confidence) & (lift > min_lift) & ~(q < alpha)).sum())
    keep &= ~redundant
    idx = np.flatnonzero(keep)
    antecedents = [[names[int(cat["a1"][k])]] + ([names[int(cat["a2"][k])]] if cat["a2"][k] >= 0 else []) for k in idx]
    out = pl.DataFrame({
        "antecedent": antecedents, "consequent": [[names[int(cat["c"][k])]] for k in idx],
        "support": support[idx], "confidence": confidence[idx], "lift": lift[idx],
        "baskets": cat["n"][idx].astype(np.uint32), "p_value": p[idx], "q_value": q[idx],
    }, schema=BUNDLE_SCHEMA)
    out = (out.with_columns(_a=pl.col("antecedent").list.join(","), _c=pl.col("consequent").list.join(","))
           .sort(["lift", "support", "_a", "_c"], descending=[True, True, False, False]).drop("_a", "_c"))
    return out, note
