"""Needs, not strings: synonymous queries and variant phrasings grouped into one need.

A query is split with the data's own vocabulary (products' brands and category names, see
``_text.Vocabulary``) into the brands it names, the category words it names and the phrases left
over. A query of brands and category words only is not a need: with a brand it is *brand demand*
(a fact about a competitor or an own brand), without one it is the category itself. Queries with
phrases are grouped, inside their category, by average-linkage clustering on a similarity that is
the larger of

- the cosine of character 1–3-gram TF-IDF vectors of the phrases (游戏本 ~ 高刷游戏本 ~ 游戏本 rtx4060),
- the cosine of positive-PMI vectors of the products clicked after the query (电竞本 ~ 游戏本 when the
  same gaming laptops are clicked; PMI against the category's click mix, so queries that merely
  lead to the same category are not alike), when both queries have at least ``min_clicks`` clicks.

Queries are joined when the average similarity is at least ``threshold`` (0.3, measured on a
hand-built set of real query variants in tests/recommend/test_needs.py: see docs/recommend.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from c2m_cli.recommend._text import Vocabulary

QUERY_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "query": pl.String, "category": pl.String, "searches": pl.UInt32, "brands": pl.List(pl.String),
    "category_words": pl.List(pl.String), "phrases": pl.List(pl.String), "core": pl.String,
}


@dataclass(frozen=True)
class NeedOptions:
    threshold: float = 0.3
    min_clicks: int = 10
    click_window_s: int = 1800
    max_queries: int = 3000
    min_query_searches: int = 3


def normalised_searches(events: pl.DataFrame) -> pl.DataFrame:
    """Search events with ``norm``: the lowercased, space-collapsed query."""
    cols = [c for c in ("user_id", "ts", "query", "category") if c in events.columns]
    return (
        events.filter((pl.col("event") == "search") & pl.col("query").is_not_null())
        .select(cols)
        .with_columns(norm=pl.col("query").str.to_lowercase().str.strip_chars().str.replace_all(r"\s+", " "))
        .filter(pl.col("norm") != "")
    )


def clicks_after_search(events: pl.DataFrame, searches: pl.DataFrame, window_s: int) -> pl.DataFrame:
    """(norm, sku): the first product a user viewed, carted or bought within ``window_s`` of a search."""
    if "sku" not in events.columns or "user_id" not in searches.columns:
        return pl.DataFrame(schema={"norm": pl.String, "sku": pl.String})
    acts = (
        events.filter(pl.col("event").is_in(["view", "cart", "fav"]) & pl.col("sku").is_not_null())
        .select("user_id", pl.col("ts").alias("ts_click"), pl.col("sku").cast(pl.String))
        .sort("ts_click")
    )
    if acts.height == 0:
        return pl.DataFrame(schema={"norm": pl.String, "sku": pl.String})
    s = searches.select("user_id", "ts", "norm").sort("ts")
    joined = s.join_asof(
        acts, left_on="ts", right_on="ts_click", by="user_id", strategy="forward",
        tolerance=f"{window_s}s", check_sortedness=False,
    )
    return joined.filter(pl.col("sku").is_not_null()).select("norm", "sku")


def split_queries(norms: list[str], vocab: Vocabulary) -> pl.DataFrame:
    rows = {"query": [], "brands": [], "category_words": [], "phrases": [], "core": []}  # type: dict[str, list]
    for q in norms:
        brands, cats, phrases = vocab.split_query(q)
        rows["query"].append(q)
        rows["brands"].append(brands)
        rows["category_words"].append(cats)
        rows["phrases"].append(phrases)
        rows["core"].append(" ".join(phrases))
    schema: dict[str, pl.DataType | type[pl.DataType]] = {k: QUERY_SCHEMA[k] for k in rows}  # type: ignore[misc]
    return pl.DataFrame(rows, schema=schema)


def query_table(events: pl.DataFrame, vocab: Vocabulary, products: pl.DataFrame | None, level: str | None,
                opts: NeedOptions) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(queries, searches, clicks): one row per distinct query with its category and parts."""
    searches = normalised_searches(events)
    counts = (
        searches.group_by("norm").agg(pl.len().cast(pl.UInt32).alias("searches"))
        .filter(pl.col("searches") >= opts.min_query_searches)
        .sort(["searches", "norm"], descending=[True, False]).head(opts.max_queries)
    )
    searches = searches.join(counts.select("norm"), on="norm")
    clicks = clicks_after_search(events, searches, opts.click_window_s)
    parts = split_queries(counts["norm"].to_list(), vocab).rename({"query": "norm"})
    table = counts.join(parts, on="norm", how="left")
    cats = []
    if "category" in searches.columns and searches["category"].drop_nulls().len():
        cats.append(_mode(searches.filter(pl.col("category").is_not_null()), "category"))
    cat_of_word = pl.DataFrame(
        {"w": list(vocab.categories), "category": list(vocab.categories.values())}, schema={"w": pl.String, "category": pl.String}
    ).filter(pl.col("category") != "")
    named = table.select("norm", pl.col("category_words").alias("w")).explode("w").join(cat_of_word, on="w")
    cats.append(_mode(named, "category"))
    if products is not None and level is not None and level in products.columns and clicks.height:
        clicked = clicks.join(products.select(pl.col("sku").cast(pl.String), pl.col(level).cast(pl.String).alias("category")), on="sku")
        cats.append(_mode(clicked.drop_nulls("category"), "category"))
    category = pl.concat(cats).unique("norm", keep="first", maintain_order=True) if cats else pl.DataFrame(
        schema={"norm": pl.String, "category": pl.String})
    table = table.join(category, on="norm", how="left").rename({"norm": "query"})
    return table, searches, clicks


def _mode(frame: pl.DataFrame, col: str) -> pl.DataFrame:
    return (
        frame.group_by("norm", col).len()
        .sort(["norm", "len", col], descending=[False, True, False])
        .unique("norm", keep="first", maintain_order=True)
        .select("norm", pl.col(col).cast(pl.String).alias("category"))
    )


def similarity(cores: list[str], click_matrix: np.ndarray | None, click_counts: np.ndarray | None,
               min_clicks: int) -> np.ndarray:
    """Pairwise similarity: max of phrase char-n-gram cosine and click PPMI cosine."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    n = len(cores)
    if n == 1:
        return np.ones((1, 1))
    vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), lowercase=True, sublinear_tf=True)
    x = vec.fit_transform([c.replace(" ", "") or "_" for c in cores])
    text = (x @ x.T).toarray()
    sim = text
    if click_matrix is not None and click_counts is not None and click_matrix.sum() > 0:
        total = click_matrix.sum()
        p_sku = click_matrix.sum(axis=0) / total
        rows = np.maximum(click_matrix.sum(axis=1, keepdims=True), 1e-12)
        with np.errstate(divide="ignore", invalid="ignore"):
            pmi = np.log((click_matrix / rows) / np.maximum(p_sku, 1e-12))
        ppmi = np.where(np.isfinite(pmi) & (pmi > 0), pmi, 0.0)
        norm = np.linalg.norm(ppmi, axis=1, keepdims=True)
        unit = np.divide(ppmi, norm, out=np.zeros_like(ppmi), where=norm > 0)
        click = unit @ unit.T
        ok = click_counts >= min_clicks
        click = np.where(ok[:, None] & ok[None, :], click, 0.0)
        sim = np.maximum(text, click)
    np.fill_diagonal(sim, 1.0)
    return np.clip(sim, 0.0, 1.0)


def cluster(sim: np.ndarray, threshold: float) -> np.ndarray:
    """Average-linkage clusters (labels 0..k-1 in order of first member) at similarity ≥ threshold."""
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform

    n = sim.shape[0]
    if n == 1:
        return np.zeros(1, dtype=np.int64)
    dist = squareform(1.0 - sim, checks=False)
    labels = fcluster(linkage(dist, method="average"), t=1.0 - threshold, criterion="distance")
    _, first = np.unique(labels, return_index=True)
    order = {labels[i]: k for k, i in enumerate(sorted(first))}
    return np.array([order[v] for v in labels], dtype=np.int64)


def group_needs(queries: pl.DataFrame, clicks: pl.DataFrame, opts: NeedOptions) -> pl.DataFrame:
    """Assign ``need`` (category|representative) to every query with phrases; brand-only and
    category-only queries get need null. Adds ``variants`` of the need and its total searches."""
    q = queries.with_columns(pl.col("category").fill_null(""))
    phr = q.filter(pl.col("core") != "").sort(["category", "searches", "query"], descending=[False, True, False])
    frames = []
    for cat_rows in phr.partition_by("category", maintain_order=True):
        names = cat_rows["query"].to_list()
        cm = cc = None
        if clicks.height:
            c = clicks.filter(pl.col("norm").is_in(names))
            if c.height:
                skus = sorted(c["sku"].unique().to_list())
                idx = {s: i for i, s in enumerate(skus)}
                qi = {s: i for i, s in enumerate(names)}
                counts = c.group_by("norm", "sku").len()
                cm = np.zeros((len(names), len(skus)))
                cm[[qi[v] for v in counts["norm"].to_list()], [idx[v] for v in counts["sku"].to_list()]] = counts["len"].to_numpy()
                cc = cm.sum(axis=1)
        labels = cluster(similarity(cat_rows["core"].to_list(), cm, cc, opts.min_clicks), opts.threshold)
        frames.append(cat_rows.with_columns(_label=pl.Series(labels)))
    if not frames:
        return q.with_columns(need=pl.lit(None, pl.String), variants=pl.lit(None, pl.List(pl.String)),
                              need_searches=pl.lit(None, pl.UInt32))
    grouped = pl.concat(frames)
    rep = (
        grouped.sort(["category", "_label", "searches", "query"], descending=[False, False, True, False])
        .group_by("category", "_label", maintain_order=True)
        .agg(
            pl.col("query").first().alias("representative"),
            pl.col("query").slice(1).alias("variants"),
            pl.col("searches").sum().alias("need_searches"),
        )
        .with_columns(need=pl.concat_str([pl.col("category"), pl.col("representative")], separator="|"))
    )
    grouped = grouped.join(rep, on=["category", "_label"]).drop("_label", "representative")
    rest = q.filter(pl.col("core") == "").with_columns(
        need=pl.lit(None, pl.String), variants=pl.lit(None, pl.List(pl.String)), need_searches=pl.lit(None, pl.UInt32)
    )
    return pl.concat([grouped.select(rest.columns), rest]).with_columns(
        pl.when(pl.col("category") == "").then(None).otherwise(pl.col("category")).alias("category")
    )


def pair_quality(predicted: list[int], truth: list[int]) -> dict[str, float]:
    """Pairwise precision and recall, and purity, of a clustering against true labels."""
    p, t = np.asarray(predicted), np.asarray(truth)
    same_p = p[:, None] == p[None, :]
    same_t = t[:, None] == t[None, :]
    iu = np.triu_indices(len(p), k=1)
    tp = float((same_p & same_t)[iu].sum())
    precision = tp / max(float(same_p[iu].sum()), 1.0)
    recall = tp / max(float(same_t[iu].sum()), 1.0)
    purity = sum(np.bincount(t[p == k]).max() for k in np.unique(p)) / len(p)
    return {"precision": precision, "recall": recall, "purity": float(purity)}
