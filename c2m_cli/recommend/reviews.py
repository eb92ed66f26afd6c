"""Micro-demands from reviews: aspects people complain about or ask for, per product or category.

A clause (reviews split at punctuation) yields an *aspect* when a noun (or a two-character verb
used as a noun, 散热) is followed within three words by an opinion word, or follows a request
word (希望/建议/没有 …). A clause is negative when it holds a negative or request word, or the
review is negative (rating ≤ 2, or the label step's sentiment model says so). Per group (a SKU,
else a category, else a category guessed from keywords, else one pool) each aspect's share of
reviews with a negative mention is contrasted with its share in the other groups (log odds
ratio z); significant, frequent aspects become micro-demands, with a monthly Mann-Kendall trend
and verbatim quotes.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import cast

import numpy as np
import polars as pl

from c2m_cli.contract import placeholder_review
from c2m_cli.recommend import _text
from c2m_cli.recommend.trends import mann_kendall

NEGATIVE_WORDS = frozenset(
    "不好 差 太差 很差 较差 一般 不行 慢 卡 烫 发烫 难 费劲 费力 麻烦 失望 不满意 问题 坏 坏了 贵 吵 噪音 "
    "打不开 不方便 不灵 不准 不够 缺 缺少 可惜 遗憾 垃圾 退货 后悔 无法 不能 不了 太紧 太硬 太小 太大 太短 太重 "
    "太慢 太吵 太贵 偏小 偏大 偏贵 不足 短 弱 粗糙 松 紧 硬 漏 掉 脱落 异味 味道大 破 破损 断 不稳 死机 蓝屏 "
    "发热 耗电 不耐用 不清楚 模糊 暗 刺眼 闪屏 划痕 失灵 难用 难开 难打开 费事 别扭 残次 不适 过敏 难闻 臭".split()
)
REQUEST_WORDS = frozenset("希望 建议 要是 如果 最好 能不能 能否 没有 缺少 期待 加个 增加".split())
NEGATORS = frozenset("不 没 没有 无 无法 不能 别".split())
# reviews split into clauses at a time
REVIEWS_PER_CHUNK = 200_000
OPINION_TAGS = ("a", "ad", "an", "ag", "al")
NOUN_TAGS = ("n", "nz", "ng", "vn", "nr", "ns", "nt", "nl", "eng")
ASPECT_STOP = frozenset(
    "东西 问题 时候 感觉 质量 价格 商品 产品 宝贝 性价比 朋友 大家 评价 用户 此用户 好评 差评 中评 "
    "一次 第一次 地方 样子 效果 服务 总体 整体 总的来说 时间 价钱 店家 京东 淘宝 天猫 亲 机器 电脑 手机 "
    "酒店 书 本书 房间 宝宝 孩子 品牌 型号 东东 缺点 优点 不足 方面 好像 可能 不算 使用 评论 儿子 女儿 "
    "父母 老公 老婆 妈妈 爸爸 家人 同事 机子 本本 笔记本 内容 发现 起来 等待 觉得 知道 开始 "
    "老人 老年人 小孩 婴儿 宝妈 自己 单手 双手".split()
)

# Categories guessed from words, for reviews that carry neither sku nor category.
CATEGORY_KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("酒店", ("酒店", "宾馆", "前台", "入住", "房间", "早餐", "服务员")),
    ("笔记本电脑", ("笔记本", "本本", "上网本", "显卡", "触摸板", "键盘", "驱动", "散热", "风扇", "电脑")),
    ("手机", ("手机", "机子", "通话", "信号", "充电器", "耳机", "触屏", "按键")),
    ("母婴", ("宝宝", "奶粉", "尿", "婴儿", "孩子")),
    ("图书", ("书", "作者", "出版", "阅读", "故事", "读")),
)


def guess_category(texts: pl.Series) -> pl.Series:
    """The first category whose keywords a text contains (None when none does)."""
    expr = pl.lit(None, dtype=pl.String)
    for name, words in reversed(CATEGORY_KEYWORDS):
        pattern = "|".join(words)
        expr = pl.when(pl.col("t").str.contains(pattern)).then(pl.lit(name)).otherwise(expr)
    return pl.DataFrame({"t": texts}).select(expr.alias("category"))["category"]


def _negative_clause(tagged: list[tuple[str, str]]) -> bool:
    for i, (word, _tag) in enumerate(tagged):
        if word in NEGATIVE_WORDS or word in REQUEST_WORDS:
            return True
        if word in NEGATORS and any(t.startswith(("a", "v")) for _, t in tagged[i + 1 : i + 3]):
            return True
    return False


def clause_aspects(text: str) -> tuple[list[str], bool]:
    """Aspects named in one clause, and whether the clause is negative or a request."""
    tagged = _text.tagged(text)
    words = [w for w, _ in tagged]
    tags = [t for _, t in tagged]
    found: list[str] = []
    n = len(tagged)
    i = 0
    while i < n:
        word, tag = words[i], tags[i]
        is_noun = tag.startswith(NOUN_TAGS) and len(word) >= 2
        is_verb_aspect = tag == "v" and len(word) == 2
        if is_noun or is_verb_aspect:
            j = i
            if is_noun:  # merge consecutive nouns (挂绳 + 孔)
                while (
                    j + 1 < n
                    and tags[j + 1].startswith(NOUN_TAGS)
                    and tags[j + 1] != "eng"
                    and words[j + 1] not in NEGATIVE_WORDS
                    and not words[j + 1].startswith(("太", "很", "不", "没"))
                ):
                    j += 1
            aspect = "".join(words[i : j + 1])
            window = tagged[j + 1 : j + 4]
            opinion = any(t.startswith(OPINION_TAGS) or w in NEGATIVE_WORDS for w, t in window)
            requested = any(w in REQUEST_WORDS for w in words[max(0, i - 3) : i])
            if (
                (opinion or (requested and is_noun))
                and aspect not in ASPECT_STOP
                and aspect not in _text.STOPWORDS
                and aspect not in NEGATIVE_WORDS
                and aspect not in REQUEST_WORDS
            ):
                if not (is_verb_aspect and not opinion):
                    found.append(aspect)
            i = j + 1
        else:
            i += 1
    return sorted(set(found)), _negative_clause(tagged)


def drop_placeholders(reviews: pl.DataFrame) -> pl.DataFrame:
    """Reviews with real text: nulls, blanks and platform placeholders (此用户没有填写评价,
    系统默认好评 …; ``c2m_cli.contract.placeholder_review``) removed before any mining."""
    return reviews.filter(~placeholder_review(pl.col("text")))


def review_sentiment(texts: list[str]) -> np.ndarray | None:
    """P(positive) per review from the label step's model, or None if it is not installed."""
    try:
        from c2m_cli.labels.sentiment import load_model

        model = load_model()
    except Exception:  # noqa: BLE001 - any failure means: no model, use the lexicon alone
        return None
    return np.asarray(model.predict_proba(texts))


def mine_aspects(reviews: pl.DataFrame) -> tuple[pl.DataFrame, str]:
    """Long (rid, group, category, sku, month, aspect, negative, clause) mentions and the grouping."""
    frame = drop_placeholders(reviews).with_row_index("rid")
    has_sku = "sku" in frame.columns and frame["sku"].drop_nulls().len() > 0
    has_cat = "category" in frame.columns and frame["category"].drop_nulls().len() > 0
    if has_sku:
        mode = "sku"
        frame = frame.with_columns(group=pl.col("sku").cast(pl.String))
    elif has_cat:
        mode = "category"
        frame = frame.with_columns(group=pl.col("category").cast(pl.String))
    else:
        mode = "guessed_category"
        frame = frame.with_columns(group=guess_category(frame["text"]).fill_null("其他"))
    if "category" not in frame.columns:
        frame = frame.with_columns(category=pl.col("group") if mode != "sku" else pl.lit(None, pl.String))
    if "sku" not in frame.columns:
        frame = frame.with_columns(sku=pl.lit(None, pl.String))
    frame = frame.with_columns(
        month=pl.col("ts").dt.truncate("1mo").dt.date() if "ts" in frame.columns else pl.lit(None, pl.Date)
    )
    negative_review = pl.lit(False)
    if "rating" in frame.columns:
        negative_review = pl.col("rating").fill_null(3) <= 2
    else:
        proba = review_sentiment(frame["text"].to_list())
        if proba is not None:
            frame = frame.with_columns(_p=pl.Series(proba))
            negative_review = pl.col("_p") < 0.3
    frame = frame.with_columns(neg_review=negative_review)

    def clauses_of(part: pl.DataFrame, *cols: str) -> pl.DataFrame:
        return (part.select(*cols, pl.col("text").str.replace_all(r"[，。！？!?,;；、\n\r~～…]+|\.{2,}|\s{2,}", "|")
                            .str.split("|").alias("clause"))
                .explode("clause")
                .with_columns(pl.col("clause").str.strip_chars())
                .filter(pl.col("clause").str.len_chars() >= 2))

    # the reviews are split into clauses a chunk at a time (millions of reviews make tens of
    # millions of clauses): first the distinct clauses, then each chunk's mentions, each clause
    # held as a code into the sorted distinct clauses (an Enum in that order sorts the same)
    chunks = [frame.slice(i, REVIEWS_PER_CHUNK) for i in range(0, max(frame.height, 1), REVIEWS_PER_CHUNK)]
    distinct = pl.Series("clause", [], dtype=pl.String)
    for part in chunks:
        distinct = pl.concat([distinct, clauses_of(part.select("text"))["clause"]]).unique()
    unique = distinct.sort().to_list()
    del distinct
    parsed = [clause_aspects(c) for c in unique]
    lookup = pl.DataFrame(
        {"clause": unique, "aspect": [p[0] for p in parsed], "neg_clause": [p[1] for p in parsed]},
        schema={"clause": pl.String, "aspect": pl.List(pl.String), "neg_clause": pl.Boolean},
    ).filter(pl.col("aspect").list.len() > 0)
    # a negative review's clause counts only if the clause itself does not read as positive
    clause_p = review_sentiment(lookup["clause"].to_list())
    lookup = lookup.with_columns(
        positive_clause=pl.Series(clause_p >= 0.5) if clause_p is not None else pl.lit(False)
    )
    codes = pl.Enum(unique)
    lookup = lookup.with_columns(pl.col("clause").cast(codes))
    del unique, parsed
    mentions = pl.concat([
        clauses_of(part, "rid", "group", "category", "sku", "month", "neg_review")
        .with_columns(pl.col("clause").cast(codes))
        .join(lookup, on="clause", maintain_order="left")
        .explode("aspect")
        .filter(pl.col("aspect").is_not_null())
        # "XP" and "xp" are one aspect; Chinese text is unaffected
        .with_columns(pl.col("aspect").str.to_lowercase())
        .with_columns(negative=pl.col("neg_clause") | (pl.col("neg_review") & ~pl.col("positive_clause")))
        .select("rid", "group", "category", "sku", "month", "aspect", "negative", "clause")
        for part in chunks
    ])
    totals = frame.group_by("group").agg(pl.len().alias("reviews"), pl.col("category").drop_nulls().first())
    return mentions.join(totals.select("group", "reviews"), on="group"), mode


def micro_demands(
    reviews: pl.DataFrame,
    *,
    products: pl.DataFrame | None = None,
    min_mentions: int = 5,
    min_share: float = 0.03,
    z_min: float = 2.0,
    chinese: bool = True,
) -> tuple[pl.DataFrame, dict]:
    """Micro-demand table (one row per group and aspect) and a note on how reviews were grouped."""
    kept = drop_placeholders(reviews)
    mentions, mode = mine_aspects(kept)
    note: dict = {"grouped_by": mode, "reviews": reviews.height, "placeholders_dropped": reviews.height - kept.height}
    if mentions.height == 0:
        return pl.DataFrame(), note
    neg = mentions.filter(pl.col("negative")).unique(["rid", "aspect"], keep="first", maintain_order=True)
    totals = mentions.select("group", "reviews").unique()
    counts = neg.group_by("group", "aspect").agg(pl.len().alias("mentions"))
    all_reviews = float(kept.height)
    aspect_all = counts.group_by("aspect").agg(pl.col("mentions").sum().alias("aspect_total"))
    table = (
        counts.join(totals, on="group")
        .join(aspect_all, on="aspect")
        .with_columns(
            share=pl.col("mentions") / pl.col("reviews"),
            other_mentions=pl.col("aspect_total") - pl.col("mentions"),
            other_reviews=pl.lit(all_reviews) - pl.col("reviews"),
        )
        .with_columns(
            other_share=pl.col("other_mentions") / pl.col("other_reviews").clip(lower_bound=1),
            # log odds ratio with 0.5 pseudo-counts, and its z
            log_or=(
                ((pl.col("mentions") + 0.5) / (pl.col("reviews") - pl.col("mentions") + 0.5)).log()
                - ((pl.col("other_mentions") + 0.5) / (pl.col("other_reviews") - pl.col("other_mentions") + 0.5)).log()
            ),
            se=(
                1 / (pl.col("mentions") + 0.5)
                + 1 / (pl.col("reviews") - pl.col("mentions") + 0.5)
                + 1 / (pl.col("other_mentions") + 0.5)
                + 1 / (pl.col("other_reviews") - pl.col("other_mentions") + 0.5)
            ).sqrt(),
        )
        .with_columns(z=pl.col("log_or") / pl.col("se"), lift=pl.col("share") / ((pl.col("other_mentions") + 0.5) / (pl.col("other_reviews") + 1)))
        .filter((pl.col("mentions") >= min_mentions) & (pl.col("share") >= min_share) & (pl.col("z") >= z_min))
        .sort(["group", "mentions", "aspect"], descending=[False, True, False])
    )
    if table.height == 0:
        return pl.DataFrame(), note
    # trend of monthly negative mentions
    months = neg.filter(pl.col("month").is_not_null())
    table = table.with_columns(trend_z=pl.lit(0.0), trend_p=pl.lit(1.0))
    if months.height:
        keyed = months.join(table.select("group", "aspect"), on=["group", "aspect"]).with_columns(
            key=pl.concat_str(["group", "aspect"], separator="\x1f"), one=pl.lit(1.0)
        )
        all_months = pl.date_range(cast(dt.date, months["month"].min()), cast(dt.date, months["month"].max()), interval="1mo", eager=True)
        keys = sorted(keyed["key"].unique().to_list())
        if keys and all_months.len() >= 3:
            idx = pl.DataFrame({"key": keys, "_k": range(len(keys))})
            midx = pl.DataFrame({"month": all_months, "_m": range(all_months.len())})
            cells = keyed.group_by("key", "month").agg(pl.col("one").sum()).join(idx, on="key").join(midx, on="month")
            matrix = np.zeros((len(keys), all_months.len()))
            matrix[cells["_k"].to_numpy(), cells["_m"].to_numpy()] = cells["one"].to_numpy()
            res = mann_kendall(matrix)
            trend = pl.DataFrame({"key": keys, "trend_z": res.z, "trend_p": res.p})
            table = (
                table.drop("trend_z", "trend_p")
                .with_columns(key=pl.concat_str(["group", "aspect"], separator="\x1f"))
                .join(trend, on="key", how="left")
                .drop("key")
                .with_columns(pl.col("trend_z").fill_null(0.0), pl.col("trend_p").fill_null(1.0))
            )
    quotes = (
        neg.join(table.select("group", "aspect"), on=["group", "aspect"])
        .with_columns(pl.col("clause").cast(pl.String))
        .with_columns(length=pl.col("clause").str.len_chars())
        .unique(["group", "aspect", "clause"])
        .sort(["group", "aspect", "length", "clause"])
        .group_by("group", "aspect", maintain_order=True)
        .agg(pl.col("clause").head(3).alias("quotes"))
    )
    meta = mentions.select("group", "category", "sku").unique("group", keep="first", maintain_order=True)
    table = table.join(quotes, on=["group", "aspect"], how="left").join(meta, on="group", how="left")
    if mode == "sku" and products is not None:
        levels = [c for c in ("category_l2", "category_l1") if c in products.columns]
        if levels:
            table = table.drop("category").join(
                products.select("sku", pl.col(levels[0]).alias("category")), on="sku", how="left"
            )
    if mode == "sku" and products is not None and "name" in products.columns:
        table = table.join(products.select(pl.col("sku").cast(pl.String), pl.col("name").cast(pl.String).alias("product")),
                           on="sku", how="left")
    else:
        table = table.with_columns(product=pl.lit(None, pl.String))
    table = table.with_columns(
        scope=pl.col("aspect").map_elements(lambda a: "service" if _text.is_service_aspect(a) else "product", return_dtype=pl.String)
    )
    note["micro_demands"] = int((table["scope"] == "product").sum())
    note["service_issues"] = int((table["scope"] == "service").sum())
    return table.sort(["group", "mentions", "aspect"], descending=[False, True, False]), note


def micro_demand_opportunities(table: pl.DataFrame, *, chinese: bool = True) -> pl.DataFrame:
    """One opportunity per product aspect (service and logistics issues are left out: they go to
    the seller, not the factory); the product is named by its name."""
    from c2m_cli.recommend import scoring, wording

    if table.height == 0:
        return scoring.empty()
    product = table.filter(pl.col("scope") == "product")
    rows = []
    for r in product.iter_rows(named=True):
        quotes = r["quotes"] or []
        quoted = " / ".join(f"“{q}”" for q in quotes)
        where = r["product"] or r["category"] or r["group"]
        q = r.get("trend_q")
        trend = wording.trend_words(r["trend_z"], q if q is not None else r["trend_p"], None, 0, chinese)
        if chinese:
            subject = f"改进「{where}」的「{r['aspect']}」"
            evidence = wording.join([
                f"{r['mentions']} 条评价（{wording.share(r['share'])}）抱怨或期望改进「{r['aspect']}」，"
                + (f"是其他商品的 {r['lift']:.1f} 倍" if r["other_mentions"] > 0 else "其他商品的评价无此抱怨"),
                f"月度{trend}" if trend else "", f"例：{quoted}" if quoted else ""], True)
        else:
            subject = f"fix '{r['aspect']}' of '{where}'"
            evidence = wording.join([
                f"{r['mentions']} reviews ({wording.share(r['share'])}) complain about or ask for '{r['aspect']}', "
                + (f"{r['lift']:.1f} times other products" if r["other_mentions"] > 0 else "other products' reviews never do"),
                f"monthly: {trend}" if trend else "", f"e.g. {quoted}" if quoted else ""], False)
        rows.append({
            "kind": "micro_demand", "category": r["category"], "sku": r["sku"], "subject": subject, "evidence": evidence,
            "variants": [], "need": f"aspect|{r['group']}|{r['aspect']}", "volume": float(r["mentions"]),
            "trend_z": r["trend_z"], "trend_p": r["trend_p"], "trend_q": q,
            "c_share": min(1.0, r["share"] / 0.3), "c_distinct": min(1.0, max(0.0, r["z"] / 6.0)),
            "c_volume": min(1.0, math.log10(max(r["mentions"], 1)) / 2), "c_rising": max(0.0, min(1.0, r["trend_z"] / 4.0)),
        })
    return scoring.frame(rows)
