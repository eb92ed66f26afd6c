"""Frequent pairs and triples from order baskets (Apriori pruning, polars joins), with lift."""

from __future__ import annotations

import polars as pl

BUNDLE_SCHEMA: dict[str, pl.DataType] = {
    "antecedent": pl.List(pl.String),
    "consequent": pl.List(pl.String),
    "support": pl.Float64(),
    "confidence": pl.Float64(),
    "lift": pl.Float64(),
    "baskets": pl.UInt32(),
}


def baskets_of(lines: pl.DataFrame | pl.LazyFrame, basket: str = "order_id", item: str = "sku") -> pl.LazyFrame:
    """Distinct (basket, item) pairs with the item as string."""
    return (
        lines.lazy()
        .select(pl.col(basket).cast(pl.String).alias("basket"), pl.col(item).cast(pl.String).alias("item"))
        .drop_nulls()
        .unique()
    )


def mine_bundles(
    pairs: pl.LazyFrame,
    *,
    min_support: float = 0.001,
    min_count: int = 5,
    min_confidence: float = 0.0,
    min_lift: float = 1.0,
    max_size: int = 3,
) -> tuple[pl.DataFrame, dict]:
    """Association rules X → y (|X| = 1 or 2) over baskets with lift above ``min_lift`` (bundles)."""
    data = pairs.collect()
    n_baskets = data["basket"].n_unique()
    note = {"baskets": n_baskets, "min_support": min_support, "min_count": min_count}
    if n_baskets == 0:
        return pl.DataFrame(schema=BUNDLE_SCHEMA), note
    threshold = max(min_count, min_support * n_baskets)
    item_count = data.group_by("item").agg(pl.len().alias("n_item")).filter(pl.col("n_item") >= threshold)
    frequent = data.join(item_count.select("item"), on="item")
    # baskets with at least two frequent items
    multi = frequent.group_by("basket").agg(pl.len().alias("k")).filter(pl.col("k") >= 2).select("basket")
    frequent = frequent.join(multi, on="basket")
    pair_counts = (
        frequent.join(frequent, on="basket", suffix="_b")
        .filter(pl.col("item") < pl.col("item_b"))
        .group_by("item", "item_b")
        .agg(pl.len().alias("n_pair"))
        .filter(pl.col("n_pair") >= threshold)
    )
    counts = item_count.rename({"item": "c_item", "n_item": "c_n"})
    rules = [
        _rules(pair_counts.rename({"item": "a", "item_b": "c", "n_pair": "n"}), item_count, counts, n_baskets),
        _rules(pair_counts.rename({"item_b": "a", "item": "c", "n_pair": "n"}), item_count, counts, n_baskets),
    ]
    note["frequent_items"] = item_count.height
    note["frequent_pairs"] = pair_counts.height
    if max_size >= 3 and pair_counts.height:
        pair_items = pl.concat([pair_counts.select("item"), pair_counts.select(pl.col("item_b").alias("item"))]).unique()
        f3 = frequent.join(pair_items, on="item")
        tri = (
            f3.join(pair_counts.select("item", "item_b", "n_pair"), how="inner", left_on="item", right_on="item")
            .join(f3.rename({"item": "item_b"}), on=["basket", "item_b"])
            .join(f3.rename({"item": "item_c"}), on="basket")
            .filter(pl.col("item_c") > pl.col("item_b"))
            .group_by("item", "item_b", "item_c")
            .agg(pl.len().alias("n"))
            .filter(pl.col("n") >= threshold)
        )
        note["frequent_triples"] = tri.height
        if tri.height:
            pc = pair_counts.select(pl.col("item").alias("x1"), pl.col("item_b").alias("x2"), pl.col("n_pair").alias("n_x"))
            for a1, a2, c in (("item", "item_b", "item_c"), ("item", "item_c", "item_b"), ("item_b", "item_c", "item")):
                r = (
                    tri.select(pl.col(a1).alias("x1"), pl.col(a2).alias("x2"), pl.col(c).alias("c_item"), "n")
                    .join(pc, on=["x1", "x2"])
                    .join(counts, on="c_item")
                    .select(
                        pl.concat_list("x1", "x2").alias("antecedent"),
                        pl.concat_list("c_item").alias("consequent"),
                        (pl.col("n") / n_baskets).alias("support"),
                        (pl.col("n") / pl.col("n_x")).alias("confidence"),
                        (pl.col("n") * n_baskets / (pl.col("n_x") * pl.col("c_n"))).alias("lift"),
                        pl.col("n").cast(pl.UInt32).alias("baskets"),
                    )
                )
                rules.append(r)
    out = (
        pl.concat(rules)
        .filter((pl.col("confidence") >= min_confidence) & (pl.col("lift") > min_lift))
        .with_columns(_a=pl.col("antecedent").list.join(","), _c=pl.col("consequent").list.join(","))
        .sort(["lift", "support", "_a", "_c"], descending=[True, True, False, False])
        .drop("_a", "_c")
    )
    return out.select(list(BUNDLE_SCHEMA)).cast(BUNDLE_SCHEMA), note  # type: ignore[arg-type]


def _rules(pairs: pl.DataFrame, items: pl.DataFrame, counts: pl.DataFrame, n: int) -> pl.DataFrame:
    return (
        pairs.join(items.rename({"item": "a", "n_item": "a_n"}), on="a")
        .join(counts.rename({"c_item": "c"}), on="c")
        .select(
            pl.concat_list("a").alias("antecedent"),
            pl.concat_list("c").alias("consequent"),
            (pl.col("n") / n).alias("support"),
            (pl.col("n") / pl.col("a_n")).alias("confidence"),
            (pl.col("n") * n / (pl.col("a_n") * pl.col("c_n"))).alias("lift"),
            pl.col("n").cast(pl.UInt32).alias("baskets"),
        )
    )
