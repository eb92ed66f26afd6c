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
strongest terms with the clause that stated each, e.g.
``reviewed 送给 ×1 「买来送给女朋友的」; searched 游戏本 ×7``. A term counts only where its
clause states it: not negated (不是送礼用的, 我没有养猫也没有孩子, 从来不打游戏), not
hypothetical (如果/要是/假如), not asked (吗, ？ — except in a search query); stock texts
written for a buyer who wrote nothing (此用户没有填写评价, 系统默认好评, 好评！ alone) are ignored.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from typing import Any

import polars as pl

from c2m_cli.contract import placeholder_review
from c2m_cli.errors import C2MError
from c2m_cli.labels.base import fx_sum, fx_value
from c2m_cli.resources import read_seed

FAMILIES = ("motive", "attitude", "lifestyle")
HIT_SCHEMA = {"user_id": pl.String, "source": pl.String, "text": pl.String, "clause": pl.String, "family": pl.String, "tag": pl.String, "term": pl.String, "weight": pl.Float64, "n": pl.Float64}
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


# --- what a clause says about the writer ---------------------------------------------------
# A lexicon term counts only when the clause states it: not negated, not hypothetical, not
# asked. Negation runs from the negator to the end of the clause (punctuation, or a contrast
# word: 但/但是/可是/不过/然而/只是/however/but, which open a new clause); two negators
# close together cancel (不是不喜欢, 没有不满意). The terms are jieba tokens, so 非常 or 不错
# (tokens of their own) never negate; a token glued to its negator (不方便, 没孩子) is split.
NEGATORS = frozenset(
    "不 没 没有 无 非 别 未 勿 甭 莫 免 毫无 从不 从来不 从没 从没有 从未 从来没 从来没有 并不 并非 并没有 并没 "
    "不是 不要 不用 不想 不会 不必 不需要 无需 无须 绝不 决不 不再 不算 没法 不太 不怎么".split()
)
# longest first: a token starting with one of these and ending in a lexicon term is split
NEGATOR_PREFIXES = tuple(sorted((n for n in NEGATORS if len(n) <= 2), key=len, reverse=True))
# tokens that start like a negation but are not one (kept whole by the tokenizer)
# words kept whole so that a lexicon term inside them does not fire (有机会 is not 有机)
INERT_WORDS = ("有机会", "有机器", "补充点评", "爱不释手")
NOT_NEGATION = ("没想到", "想不到", "不得不", "不仅", "不但", "不光", "不只", "不止", "不管", "无论", "不论",
                "不少", "不久", "不断", "毫不犹豫", "不错", "非常", "无比", "免费", "不禁", "不由得", "忍不住")
CONTRAST = frozenset("但 但是 可是 不过 然而 只是 可惜".split())
HYPOTHETICAL = frozenset("如果 要是 假如 假设 倘若 若是 万一 如若 的话".split())
QUESTION = frozenset("是否 要不要 能不能 会不会 可不可以 有没有 难道 吗 么".split())
EN_NEGATION = re.compile(r"\b(?:not|no|never|don't|doesn't|didn't|isn't|wasn't|aren't|won't|without|nor|nothing)\b|n't\b")
EN_HYPOTHETICAL = re.compile(r"\b(?:if|whether|would|unless|wish)\b")
EN_CONTRAST = re.compile(r",|\b(?:but|however|although|though)\b")
CLAUSE = r"[^\s，。！？；、,.!?;:：~～…()（）【】\[\]「」“”\"]+[?？]?"
# Reviews that say nothing: what shops write when the buyer wrote nothing (the text is
# compared after NFKC, lower case, without spaces and punctuation)
def is_placeholder(text: str | None) -> bool:
    """True for an empty review or a stock text a shop writes for the buyer
    (``c2m_cli.contract.placeholder_review``, the one rule; scalar form)."""
    return bool(pl.select(placeholder_review(pl.lit(text, dtype=pl.String))).item())


@cache
def _tokenizer() -> Any:
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    words = set(lexicon().filter(pl.col("term").str.contains(r"[\u3400-\u9fff]"))["term"].unique().to_list())
    for term in sorted(words | set(NOT_NEGATION) | set(INERT_WORDS) | NEGATORS | CONTRAST | HYPOTHETICAL | QUESTION):
        tokenizer.add_word(term, freq=200_000)
    return tokenizer


def segment(texts: list[str]) -> list[list[str]]:
    """jieba segmentation (lexicon-aware) of each text, tokens lower-cased."""
    tokenizer = _tokenizer()
    return [[tok for tok in tokenizer.lcut(_norm(t), HMM=False) if tok.strip()] for t in texts]


def stated_terms_zh(clause: str, terms: frozenset[str], *, questions: bool = True) -> list[tuple[str, str]]:
    """The lexicon ``terms`` a Chinese clause states, each with the part of the clause it was
    stated in: negated, hypothetical and (with ``questions``) asked terms are left out."""
    tokens = segment([clause])[0]
    found: list[tuple[str, str]] = []
    start = 0
    negated, last_negator = False, -10
    asked = questions and clause.endswith(("?", "？"))
    hypothetical = asked
    words: list[str] = []

    def negate(at: int) -> None:
        nonlocal negated, last_negator
        negated = not negated if negated and at - last_negator <= 2 else True
        last_negator = at

    pending: list[tuple[int, str, bool]] = []  # (token index, term, negated)
    for i, token in enumerate(tokens):
        if token in CONTRAST:
            found += [(t, "".join(tokens[start:i])) for _, t, neg in pending if not (neg or hypothetical)]
            pending, start, negated, last_negator = [], i + 1, False, -10
            hypothetical = asked
            continue
        words.append(token)
        if token in HYPOTHETICAL or (questions and token in QUESTION):
            hypothetical = True
        if token in terms:
            pending.append((i, token, negated))
        elif token in NEGATORS:
            negate(i)
        else:
            for prefix in NEGATOR_PREFIXES:
                if token.startswith(prefix) and token[len(prefix):] in terms:
                    negate(i)
                    pending.append((i, token[len(prefix):], negated))
                    break
    found += [(t, "".join(tokens[start:])) for _, t, neg in pending if not (neg or hypothetical)]
    return found


def stated_terms_en(clause: str, pattern: re.Pattern[str], *, questions: bool = True) -> list[tuple[str, str]]:
    """The lexicon terms an English clause states (same rules as Chinese: a negation before
    the term in its clause, a hypothetical or (with ``questions``) a question leave it out)."""
    found: list[tuple[str, str]] = []
    for part in EN_CONTRAST.split(clause):
        if EN_HYPOTHETICAL.search(part) or (questions and part.rstrip().endswith("?")):
            continue
        for match in pattern.finditer(part):
            if not EN_NEGATION.search(part[: match.start()]):
                found.append((match.group(0), part.strip()))
    return found


def term_hits(docs: pl.DataFrame, *, questions_count: bool = False, by_text: pl.DataFrame | None = None) -> pl.DataFrame:
    """``docs`` (user_id, source, text, n) → one hit per document, lexicon term and the clause
    that states it: (user_id, source, text, clause, family, tag, term, weight, n).

    Placeholder reviews are dropped; a term counts only where its clause states it (not
    negated, hypothetical or asked — a search query, being a question by nature, keeps its
    questions). ``by_text``: the hits of each text (``text_hits``) when already known for a
    superset of the documents' texts."""
    empty = pl.DataFrame(schema=HIT_SCHEMA)
    docs = usable_documents(docs)
    if docs.is_empty():
        return empty
    hits = text_hits(docs.select("text", "source").unique()) if by_text is None else by_text
    if hits.is_empty():
        return empty
    return (
        docs.join(hits, on=["text", "source"], how="inner")
        .select(empty.columns)
        .cast(empty.schema)  # type: ignore[arg-type]
        .sort("user_id", "source", "text", "family", "tag", "term")
    )


def usable_documents(docs: pl.DataFrame) -> pl.DataFrame:
    """The documents that can state anything: a non-empty text that is no placeholder review."""
    docs = docs.filter(pl.col("text").is_not_null() & (pl.col("text").str.len_chars() > 0))
    if "source" in docs.columns:
        docs = docs.filter(~stock_review(docs))
    return docs


def text_hits(texts: pl.DataFrame) -> pl.DataFrame:
    """Distinct (text, source) pairs (usable documents) → the lexicon terms each states, one row
    per (text, source, family, tag, term) with the clause that states it: (text, source,
    clause, family, tag, term, weight). A text's hits depend on that text alone."""
    schema = {"text": pl.String, "source": pl.String, "clause": pl.String, "family": pl.String, "tag": pl.String, "term": pl.String, "weight": pl.Float64}
    if texts.is_empty():
        return pl.DataFrame(schema=schema)
    lex = lexicon()
    zh_lex = lex.filter(pl.col("lang") == "zh")
    en_lex = lex.filter(pl.col("lang") != "zh")
    zh_terms = frozenset(zh_lex["term"].to_list())
    texts = texts.select("text", "source").unique().sort("text", "source")
    clauses = (
        texts.with_columns(pl.col("text").map_elements(_norm, return_dtype=pl.String).str.extract_all(CLAUSE).alias("clause"))
        .explode("clause")
        .drop_nulls("clause")
        .with_columns(
            # a search query keeps its question mark's meaning: drop the mark
            pl.when(pl.col("source") == "searched").then(pl.col("clause").str.strip_chars_end("?？")).otherwise(pl.col("clause")).alias("clause")
        )
        .filter(pl.col("clause").str.len_chars() > 0)
    )
    found: list[tuple[str, bool, str, str]] = []  # (clause, query?, term, part)
    clauses = clauses.with_columns((pl.col("source") == "searched").alias("_query"))
    zh_candidates = (
        clauses.select("clause", "_query").unique().filter(pl.col("clause").str.contains_any(sorted(zh_terms))).sort("clause", "_query")
    )
    for clause, query in zh_candidates.iter_rows():
        found += [(clause, query, term, part) for term, part in stated_terms_zh(clause, zh_terms, questions=not query)]
    en_terms = sorted(en_lex["term"].unique().to_list(), key=len, reverse=True)
    if en_terms:
        pattern = re.compile(r"\b(?:" + "|".join(re.escape(t) for t in en_terms) + r")\b")
        sentences = texts.with_columns(
            pl.col("text").map_elements(_sentences, return_dtype=pl.List(pl.String)).alias("clause")
        )
        sentences = (
            sentences.explode("clause")
            .drop_nulls("clause")
            .filter(pl.col("clause").str.contains(pattern.pattern))
            .with_columns((pl.col("source") == "searched").alias("_query"))
        )
        for clause, query in sentences.select("clause", "_query").unique().sort("clause", "_query").iter_rows():
            found += [(clause, query, term, part) for term, part in stated_terms_en(clause, pattern, questions=not query)]
        clauses = pl.concat(
            [clauses.select("text", "source", "clause", "_query"), sentences.select("text", "source", "clause", "_query")]
        ).unique()
    if not found:
        return pl.DataFrame(schema=schema)
    stated = pl.DataFrame(
        found, schema={"clause": pl.String, "_query": pl.Boolean, "term": pl.String, "part": pl.String}, orient="row"
    )
    return (
        clauses.join(stated, on=["clause", "_query"], how="inner")
        .join(lex, on="term", how="inner")
        .sort("text", "source", "family", "tag", "term", "part")
        .unique(["text", "source", "family", "tag", "term"], keep="first")
        .select("text", "source", pl.col("part").alias("clause"), "family", "tag", "term", "weight")
    )


def stock_review(docs: pl.DataFrame) -> pl.Expr:
    """True for the rows of ``docs`` (source, text) that are placeholder reviews (a null text
    included), the rule (``placeholder_review``) evaluated once per distinct reviewed text rather
    than on every row: most documents are bought products, never placeholders."""
    reviewed = pl.col("source") == "reviewed"
    texts = docs.filter(reviewed).select(pl.col("text").cast(pl.String)).unique()
    stock = texts.filter(placeholder_review(pl.col("text")))["text"]
    return (reviewed & (pl.col("text").is_null() | pl.col("text").is_in(stock.drop_nulls().implode()))).fill_null(False)


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?;:\n])", _norm(text)) if s.strip()]


def document_tags(texts: list[str], source: str = "reviewed") -> pl.DataFrame:
    """Which tags each text states on its own (text, family, tag, term, clause): the text
    labeller without users, for checking it against hand-labelled texts."""
    docs = pl.DataFrame(
        {"user_id": [str(i) for i in range(len(texts))], "source": [source] * len(texts), "text": texts, "n": [1.0] * len(texts)},
        schema={"user_id": pl.String, "source": pl.String, "text": pl.String, "n": pl.Float64},
    )
    return term_hits(docs).select("text", "family", "tag", "term", "clause")


def _clip(clause: pl.Expr, limit: int = 24) -> pl.Expr:
    """A quoted clause, cut to ``limit`` characters (… marks the cut)."""
    return pl.when(clause.str.len_chars() > limit).then(clause.str.slice(0, limit) + pl.lit("…")).otherwise(clause)


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
        .agg(pl.col("n").sum(), pl.col("weight").first(), pl.col("clause").drop_nulls().min().alias("_clause"))
        .with_columns((pl.col("weight") * pl.col("n") * source_weight).alias("_rank"))
        .with_columns(
            pl.concat_str(
                pl.col("source"), pl.lit(" "), pl.col("term"), pl.lit(" ×"), pl.col("n").round(0).cast(pl.Int64).cast(pl.String),
                pl.when(pl.col("_clause").is_not_null() & (pl.col("_clause") != pl.col("term")))
                .then(pl.lit(" 「") + _clip(pl.col("_clause")) + pl.lit("」"))
                .otherwise(pl.lit("")),
            ).alias("_ev")
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


def wide_tags(
    users: pl.DataFrame,
    tags: pl.DataFrame,
    min_score: float,
    *,
    with_text: pl.DataFrame | None = None,
    behaviour: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Per family: ``<family>_top``, ``<family>_tags`` (list, best first) and one score column per tag.

    A user with no text at all (``with_text``: the users with a review, query or bought product
    name; None = everyone) has unknown text families: null scores, ``_top`` unknown, no tags.
    Attitude also rests on behaviour: it is known for a buyer (``behaviour`` with
    behavior_orders > 0) even without text."""
    frame = users.select("user_id")
    has_text = pl.lit(True)
    if with_text is not None:
        frame = frame.join(with_text.select("user_id").unique().with_columns(_text=pl.lit(True)), on="user_id", how="left")
        has_text = pl.col("_text").fill_null(False)
    else:
        frame = frame.with_columns(_text=pl.lit(True))
    if behaviour is not None and "behavior_orders" in behaviour.columns:
        frame = frame.join(
            behaviour.select("user_id", (pl.col("behavior_orders").fill_null(0) > 0).alias("_buyer")), on="user_id", how="left"
        ).with_columns(pl.col("_buyer").fill_null(False))
    else:
        frame = frame.with_columns(_buyer=pl.lit(False))
    for family in FAMILIES:
        known = has_text | pl.col("_buyer") if family == "attitude" else has_text
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
                *[
                    pl.when(known | pl.col(f"{family}_{t}").is_not_null()).then(pl.col(f"{family}_{t}").fill_null(0.0))
                    for t in tag_names
                ],
            )
        )
    return frame.drop("_text", "_buyer")


def product_texts(products: pl.DataFrame | None) -> pl.DataFrame | None:
    """sku, text: each product's categories and name in one string (what a purchase says about
    the buyer); None without products or without any such column."""
    if products is None or "sku" not in products.columns:
        return None
    text_cols = [c for c in ("category_l1", "category_l2", "category_l3", "name") if c in products.columns]
    if not text_cols:
        return None
    return products.select(
        pl.col("sku").cast(pl.String),
        pl.concat_str([pl.col(c).cast(pl.String) for c in text_cols], separator=" ", ignore_nulls=True).alias("text"),
    ).unique("sku", keep="first")


def text_documents(
    reviews: pl.DataFrame | None,
    events: pl.LazyFrame | None,
    lines: pl.LazyFrame,
    products: pl.DataFrame | None,
    *,
    bought_texts: pl.Series | None = None,
) -> pl.DataFrame:
    """(user_id, source, text, n): reviews, search queries and bought products' names/categories
    (only the products whose text is in ``bought_texts``, when given: the others state nothing).
    Rows in no particular order."""
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
    prod = product_texts(products)
    if prod is not None:
        if bought_texts is not None:
            prod = prod.filter(pl.col("text").is_in(bought_texts.implode()))
        purchases = lines.filter(pl.col("is_purchase"))
        if bought_texts is not None:  # most lines buy a product whose text states nothing
            purchases = purchases.filter(pl.col("sku").is_in(prod["sku"].implode()))
        parts.append(
            purchases.group_by("user_id", "sku")
            .agg(pl.col("order_id").n_unique().cast(pl.Float64).alias("n"))
            .collect()
            .join(prod, on="sku", how="inner")
            .group_by("user_id", "text")
            .agg(pl.col("n").sum())
            .select("user_id", pl.lit("bought").alias("source"), "text", "n")
        )
    if not parts:
        return pl.DataFrame(schema=schema)
    return pl.concat([p.select(list(schema)).cast(schema) for p in parts])  # type: ignore[arg-type]
