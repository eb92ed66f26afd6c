"""Demand motive, attitude/personality and lifestyle from text, with scores and evidence.

Text comes from review texts ("reviewed"), search queries ("searched") and the names and
categories of purchased products ("bought"). Chinese text is segmented with jieba, the lexicon
terms loaded as a user dictionary so that 游戏本 or 性价比 stay whole; English terms (also
multi-word ones) are matched case-insensitively on word boundaries. Lexicons are editable CSVs
in ``seeds/`` (``lexicon_motive.csv``, ``lexicon_lifestyle.csv``, ``lexicon_attitude.csv``:
term, tag, weight, lang). Attitudes also draw on behaviour (negative reviews and returns → 挑剔,
pre-sale buying → 尝鲜, one dominant brand over many orders → 忠诚, many views per order → 理性对比).

A tag's score is ``1 − exp(−Σ_documents weight × source weight × log2(1 + repeats) / saturation)``
in [0, 1), the source weights being reviewed 1, searched 0.5, bought 0.25 (what users write
about themselves weighs most); its evidence lists the
strongest terms, e.g. ``searched 游戏本 ×7; bought 机械键盘 ×2``.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from typing import Any

import polars as pl

from c2m_cli.errors import C2MError
from c2m_cli.labels.base import fx_sum, fx_value
from c2m_cli.resources import read_seed

FAMILIES = ("motive", "attitude", "lifestyle")
HIT_SCHEMA = {"user_id": pl.String, "source": pl.String, "text": pl.String, "family": pl.String, "tag": pl.String, "term": pl.String, "weight": pl.Float64, "n": pl.Float64}
TAG_SCHEMA = {"user_id": pl.String, "family": pl.String, "tag": pl.String, "score": pl.Float64, "evidence": pl.String}
# What a user writes about themselves weighs more than what a search or a basket implies.
SOURCE_WEIGHTS = {"reviewed": 1.0, "searched": 0.5, "bought": 0.25, "behaviour": 1.0}


@cache
def lexicon() -> pl.DataFrame:
    """All three lexicons: family, term (NFKC, lower case), tag, weight, lang."""
    frames = []
    for family in FAMILIES:
        seed = read_seed(f"lexicon_{family}.csv")
        missing = {"term", "tag", "weight", "lang"} - set(seed.columns)
        if missing:
            raise C2MError(f"seeds/lexicon_{family}.csv: missing column(s) {', '.join(sorted(missing))}")
        frames.append(
            seed.select(
                pl.lit(family).alias("family"),
                pl.col("term").cast(pl.String).map_elements(_norm, return_dtype=pl.String).alias("term"),
                pl.col("tag").cast(pl.String).str.strip_chars(),
                pl.col("weight").cast(pl.Float64),
                pl.col("lang").cast(pl.String),
            )
        )
    return pl.concat(frames).drop_nulls(["term", "tag"]).unique(["family", "term", "tag"], keep="first").sort("family", "tag", "term")


def tags_of(family: str) -> list[str]:
    return sorted(lexicon().filter(pl.col("family") == family)["tag"].unique().to_list())


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip().lower()


@cache
def _tokenizer() -> Any:
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    for term in lexicon().filter(pl.col("term").str.contains(r"[\u3400-\u9fff]"))["term"].unique().sort().to_list():
        tokenizer.add_word(term, freq=200_000)
    return tokenizer


def segment(texts: list[str]) -> list[list[str]]:
    """jieba segmentation (lexicon-aware) of each text, tokens lower-cased."""
    tokenizer = _tokenizer()
    return [[tok for tok in tokenizer.lcut(_norm(t), HMM=False) if tok.strip()] for t in texts]


def term_hits(docs: pl.DataFrame) -> pl.DataFrame:
    """``docs`` (user_id, source, text, n) → one hit per document and lexicon term found in it:
    (user_id, source, text, family, tag, term, weight, n)."""
    empty = pl.DataFrame(schema=HIT_SCHEMA)
    docs = docs.filter(pl.col("text").is_not_null() & (pl.col("text").str.len_chars() > 0))
    if docs.is_empty():
        return empty
    lex = lexicon()
    texts = docs.select("text").unique().sort("text")
    zh_lex = lex.filter(pl.col("lang") == "zh")
    # jieba runs on the distinct clauses that contain a lexicon term at all: it splits text
    # at punctuation anyway, so the tokens are those of the whole text, at a fraction of the cost
    clauses = (
        texts.with_columns(pl.col("text").str.extract_all(r"[^\s，。！？；、,.!?;:：~～…]+").alias("clause"))
        .explode("clause")
        .drop_nulls("clause")
    )
    zh_terms = zh_lex["term"].unique().sort().to_list()
    candidates = (
        clauses.select("clause").unique()
        .filter(pl.col("clause").str.to_lowercase().str.contains_any(zh_terms))
        .sort("clause")
    )
    tokens = (
        pl.DataFrame(
            {
                "clause": candidates["clause"],
                "term": pl.Series(segment(candidates["clause"].to_list()), dtype=pl.List(pl.String)),
            }
        )
        .explode("term")
        .join(clauses, on="clause", how="inner")
        .select("text", "term")
    )
    hits_zh = tokens.join(zh_lex, on="term", how="inner")
    en_terms = lex.filter(pl.col("lang") != "zh")["term"].unique().sort(descending=True).to_list()
    hits_en = pl.DataFrame(schema={"text": pl.String, "term": pl.String})
    if en_terms:
        pattern = r"\b(?:" + "|".join(re.escape(t) for t in sorted(en_terms, key=len, reverse=True)) + r")\b"
        hits_en = (
            texts.with_columns(
                pl.col("text")
                .map_elements(_norm, return_dtype=pl.String)
                .str.extract_all(pattern)
                .alias("term")
            )
            .explode("term")
            .drop_nulls("term")
        )
    hits_en = hits_en.join(lex.filter(pl.col("lang") != "zh"), on="term", how="inner")
    hits = pl.concat([hits_zh.select(hits_en.columns), hits_en]) if hits_zh.height else hits_en
    if hits.is_empty():
        return empty
    return (
        docs.join(hits.unique(["text", "family", "tag", "term"]), on="text", how="inner")
        .select(empty.columns)
        .cast(empty.schema)  # type: ignore[arg-type]
    )


def score_tags(hits: pl.DataFrame, saturation: float) -> pl.DataFrame:
    """Long tags (user_id, family, tag, score, evidence) from term hits.

    A document (a review, a distinct search query, a bought product) counts once per tag, with
    its strongest term's weight, times its source's weight, times ``log2(1 + n)`` for a document
    repeated ``n`` times (the seventh identical search adds less than the second)."""
    if hits.is_empty():
        return pl.DataFrame(schema=TAG_SCHEMA)
    source_weight = pl.col("source").replace_strict(SOURCE_WEIGHTS, default=1.0, return_dtype=pl.Float64)
    per_doc = (
        hits.group_by("user_id", "family", "tag", "source", "text")
        .agg(pl.col("weight").max(), pl.col("n").max())
        .with_columns((pl.col("weight") * source_weight * (1.0 + pl.col("n")).log(2)).alias("_w"))
        .group_by("user_id", "family", "tag")
        .agg(fx_value(fx_sum(pl.col("_w"))).alias("_total"))
    )
    per_term = (
        hits.group_by("user_id", "family", "tag", "source", "term")
        .agg(pl.col("n").sum(), pl.col("weight").first())
        .with_columns((pl.col("weight") * pl.col("n") * source_weight).alias("_rank"))
        .with_columns(
            (pl.col("source") + pl.lit(" ") + pl.col("term") + pl.lit(" ×") + pl.col("n").round(0).cast(pl.Int64).cast(pl.String)).alias("_ev")
        )
        .sort(["user_id", "family", "tag", "_rank", "source", "term"], descending=[False, False, False, True, False, False])
        .group_by("user_id", "family", "tag", maintain_order=True)
        .agg(pl.col("_ev").head(3).str.join("; ").alias("evidence"))
    )
    return (
        per_doc.join(per_term, on=["user_id", "family", "tag"], how="inner")
        .with_columns(score=1.0 - (-pl.col("_total") / saturation).exp())
        .select("user_id", "family", "tag", "score", "evidence")
        .sort("user_id", "family", pl.col("score"), "tag", descending=[False, False, True, False])
    )


def wide_tags(users: pl.DataFrame, tags: pl.DataFrame, min_score: float) -> pl.DataFrame:
    """Per family: ``<family>_top``, ``<family>_tags`` (list, best first) and one score column per tag."""
    frame = users.select("user_id")
    for family in FAMILIES:
        fam = tags.filter(pl.col("family") == family)
        strong = fam.filter(pl.col("score") >= min_score)
        summary = strong.group_by("user_id", maintain_order=True).agg(
            pl.col("tag").first().alias(f"{family}_top"), pl.col("tag").alias(f"{family}_tags")
        )
        tag_names = tags_of(family)
        scores = (
            fam.pivot(on="tag", index="user_id", values="score", aggregate_function="first")
            if fam.height
            else pl.DataFrame(schema={"user_id": pl.String})
        )
        for tag in tag_names:
            if tag not in scores.columns:
                scores = scores.with_columns(pl.lit(None, pl.Float64).alias(tag))
        scores = scores.select("user_id", *[pl.col(t).alias(f"{family}_{t}") for t in tag_names])
        frame = (
            frame.join(summary, on="user_id", how="left")
            .join(scores, on="user_id", how="left")
            .with_columns(
                pl.col(f"{family}_top").fill_null("unknown"),
                pl.col(f"{family}_tags").fill_null(pl.lit([], dtype=pl.List(pl.String))),
                *[pl.col(f"{family}_{t}").fill_null(0.0) for t in tag_names],
            )
        )
    return frame


def text_documents(
    reviews: pl.DataFrame | None,
    events: pl.LazyFrame | None,
    lines: pl.LazyFrame,
    products: pl.DataFrame | None,
) -> pl.DataFrame:
    """(user_id, source, text, n): reviews, search queries and bought products' names/categories."""
    parts: list[pl.DataFrame] = []
    schema = {"user_id": pl.String, "source": pl.String, "text": pl.String, "n": pl.Float64}
    if reviews is not None and "user_id" in reviews.columns and "text" in reviews.columns:
        parts.append(
            reviews.filter(pl.col("user_id").is_not_null())
            .group_by(pl.col("user_id").cast(pl.String), pl.col("text").cast(pl.String))
            .agg(pl.len().cast(pl.Float64).alias("n"))
            .select("user_id", pl.lit("reviewed").alias("source"), "text", "n")
        )
    if events is not None:
        names = events.collect_schema().names()
        if "query" in names and "event" in names:
            parts.append(
                events.filter((pl.col("event") == "search") & pl.col("query").is_not_null())
                .group_by(pl.col("user_id").cast(pl.String), pl.col("query").cast(pl.String).alias("text"))
                .agg(pl.len().cast(pl.Float64).alias("n"))
                .select("user_id", pl.lit("searched").alias("source"), "text", "n")
                .collect()
            )
    if products is not None and "sku" in products.columns:
        text_cols = [c for c in ("category_l1", "category_l2", "category_l3", "name") if c in products.columns]
        if text_cols:
            prod = products.select(
                pl.col("sku").cast(pl.String),
                pl.concat_str([pl.col(c).cast(pl.String) for c in text_cols], separator=" ", ignore_nulls=True).alias("text"),
            ).unique("sku", keep="first")
            parts.append(
                lines.filter(pl.col("is_purchase"))
                .group_by("user_id", "sku")
                .agg(pl.col("order_id").n_unique().cast(pl.Float64).alias("n"))
                .collect()
                .join(prod, on="sku", how="inner")
                .group_by("user_id", "text")
                .agg(pl.col("n").sum())
                .select("user_id", pl.lit("bought").alias("source"), "text", "n")
            )
    if not parts:
        return pl.DataFrame(schema=schema)
    return pl.concat([p.select(list(schema)).cast(schema) for p in parts]).sort("user_id", "source", "text")  # type: ignore[arg-type]


def behaviour_hits(behavior: pl.DataFrame, review_stats: pl.DataFrame | None, view_counts: pl.DataFrame | None, loyal_orders: int) -> pl.DataFrame:
    """Attitude evidence from behaviour, as hits with source ``behaviour``."""
    rows = []
    b = behavior
    rows.append(
        b.filter(pl.col("behavior_returns") > 0).select(
            "user_id", pl.lit("挑剔").alias("tag"), pl.lit("退货").alias("term"), pl.lit(0.6).alias("weight"), pl.col("behavior_returns").cast(pl.Float64).alias("n")
        )
    )
    pre = b.filter(pl.col("behavior_presale_buyer").fill_null(False))
    rows.append(
        pre.select(
            "user_id", pl.lit("尝鲜").alias("tag"), pl.lit("预售下单").alias("term"), pl.lit(1.0).alias("weight"),
            (pl.col("behavior_presale_share") * pl.col("behavior_orders")).round(0).clip(lower_bound=1).cast(pl.Float64).alias("n"),
        )
    )
    rows.append(
        b.filter((pl.col("behavior_brand_loyalty") >= 0.6) & (pl.col("behavior_orders") >= loyal_orders)).select(
            "user_id", pl.lit("忠诚").alias("tag"), pl.lit("同一品牌复购").alias("term"), pl.lit(1.0).alias("weight"), pl.col("behavior_orders").cast(pl.Float64).alias("n")
        )
    )
    if review_stats is not None and review_stats.height:
        rows.append(
            review_stats.filter(pl.col("_negative_reviews") > 0).select(
                "user_id", pl.lit("挑剔").alias("tag"), pl.lit("差评").alias("term"), pl.lit(1.0).alias("weight"), pl.col("_negative_reviews").cast(pl.Float64).alias("n")
            )
        )
    if view_counts is not None and view_counts.height:
        joined = view_counts.join(b.select("user_id", "behavior_orders"), on="user_id", how="left")
        rows.append(
            joined.filter(pl.col("_views") >= 5 * pl.col("behavior_orders").fill_null(0).clip(lower_bound=1)).select(
                "user_id", pl.lit("理性对比").alias("tag"), pl.lit("多次浏览比较").alias("term"), pl.lit(0.3).alias("weight"), pl.col("_views").cast(pl.Float64).alias("n")
            )
        )
    frame = pl.concat(rows)
    return frame.select(
        "user_id", pl.lit("behaviour").alias("source"), pl.col("term").alias("text"), pl.lit("attitude").alias("family"), "tag", "term", "weight", "n"
    ).cast(HIT_SCHEMA)  # type: ignore[arg-type]
