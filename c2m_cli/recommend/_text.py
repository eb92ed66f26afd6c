"""Shared text helpers: language detection, jieba tokenising with dictionary POS tags."""

from __future__ import annotations

import re
from functools import cache

_CJK = re.compile(r"[\u4e00-\u9fff]")
_WORD = re.compile(r"[\u4e00-\u9fffA-Za-z0-9]")

STOPWORDS = frozenset(
    "的 了 是 我 也 就 都 还 很 太 有 在 和 与 及 或 这 那 个 吧 啊 呢 吗 嘛 哦 呀 "
    "一个 这个 那个 什么 怎么 没有 不是 就是 还是 但是 而且 因为 所以 如果 可以 感觉 觉得 "
    "东西 时候 自己 我们 他们 你们 一下 一点 有点 比较 非常 真的 还有 已经 然后 之后 "
    "the a an and or of for to in on with is are be it this that".split()
)


def is_chinese(texts: list[str]) -> bool:
    """Whether most non-empty texts contain Chinese characters."""
    sample = [t for t in texts if t][:200]
    if not sample:
        return False
    return sum(1 for t in sample if _CJK.search(t)) * 2 >= len(sample)


@cache
def _jieba():  # type: ignore[no-untyped-def]
    import logging

    import jieba
    import jieba.posseg

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba, jieba.posseg.dt.word_tag_tab


def tokens(text: str) -> list[str]:
    """Word tokens of ``text`` (lowercased; punctuation and stopwords dropped)."""
    jieba, _ = _jieba()
    out = []
    for word in jieba.lcut(text.lower(), HMM=False):
        word = word.strip()
        if word and _WORD.search(word) and word not in STOPWORDS:
            out.append(word)
    return out


def tagged(text: str) -> list[tuple[str, str]]:
    """(word, POS tag) pairs, tags from jieba's dictionary ('x' for punctuation, 'eng', 'm')."""
    jieba, tags = _jieba()
    out = []
    for word in jieba.lcut(text, HMM=False):
        if not word.strip():
            continue
        tag = tags.get(word)
        if tag is None:
            if not _WORD.search(word):
                tag = "x"
            elif word.isascii():
                tag = "eng" if word.isalpha() else "m"
            else:
                tag = "un"
        out.append((word, tag))
    return out


# Service and logistics words: complaints about them go to the seller or the carrier, not the factory.
SERVICE_WORDS = frozenset(
    "发货 物流 快递 客服 态度 服务态度 包装 外包装 破损 包装破损 送货 配送 到货 售后 退货 退款 换货 卖家 商家 店家 "
    "京东 淘宝 天猫 快递员 速度 发票 赠品 客服态度 物流速度 发货速度 送货速度 邮费 运费 差价 价保 "
    "shipping delivery courier seller refund packaging".split()
)


def is_service_aspect(aspect: str) -> bool:
    """Whether an aspect is about the seller's service or logistics rather than the product."""
    a = aspect.lower()
    return a in SERVICE_WORDS or any(a.startswith(w) or a.endswith(w) for w in SERVICE_WORDS if len(w) >= 2)


class Vocabulary:
    """The data's own words: brands, category names and product words, added to a jieba tokenizer.

    Built from products (brand, category_l1..l3, name, attribute values); a query is split into
    the brands it names, the category words it names and the *phrases* left over (whole words
    only: a leftover of one character is not a phrase).
    """

    def __init__(self, brands: dict[str, str], categories: dict[str, str], words: set[str]) -> None:
        jieba, _ = _jieba()
        import jieba.posseg as posseg

        self.brands = {b.lower(): c for b, c in brands.items() if len(b) >= 2}
        self.categories = {c.lower(): v for c, v in categories.items() if len(c) >= 2}
        self._tk = jieba.Tokenizer()
        self._tk.initialize()
        for w in sorted(words | set(self.brands) | set(self.categories)):
            if len(w) >= 2:
                tag = "nz" if w in self.brands else "n"
                self._tk.add_word(w, freq=2000, tag=tag)
        self._pos = posseg.POSTokenizer(self._tk)
        # longest first, so 笔记本电脑 is taken before 笔记本
        self._known = sorted(set(self.brands) | set(self.categories), key=lambda w: (-len(w), w))

    def tagged(self, text: str) -> list[tuple[str, str]]:
        return [(p.word, p.flag) for p in self._pos.lcut(text) if p.word.strip()]

    def split_query(self, query: str) -> tuple[list[str], list[str], list[str]]:
        """(brands, category words, phrases) of a normalised query."""
        rest = query.lower()
        brands: list[str] = []
        cats: list[str] = []
        for w in self._known:
            if w in rest:
                (brands if w in self.brands else cats).append(w)
                rest = rest.replace(w, " ")
        phrases = []
        for span in re.split(r"[\s,，/|+]+", rest):
            span = span.strip()
            if not span or not _WORD.search(span):
                continue
            words = [(w, t) for w, t in self.tagged(span) if w not in STOPWORDS]
            # a span is a phrase when it holds a content word and is not one character
            if len(span) >= 2 and any(t.startswith(("n", "a", "v", "eng", "l", "i", "b", "m", "x")) for _, t in words):
                phrases.append(span)
        return sorted(set(brands)), sorted(set(cats)), phrases


def vocabulary_of(products: object) -> Vocabulary:
    """A Vocabulary from a products frame (polars), or an empty one."""
    import polars as pl

    if not isinstance(products, pl.DataFrame):
        return Vocabulary({}, {}, set())
    levels = [c for c in ("category_l3", "category_l2", "category_l1") if c in products.columns]
    main = next((c for c in ("category_l2", "category_l1") if c in products.columns), None)
    brands: dict[str, str] = {}
    if "brand" in products.columns:
        frame = products.select(pl.col("brand").cast(pl.String), pl.col(main).cast(pl.String) if main else pl.lit(None, pl.String).alias("c"))
        for b, c in frame.drop_nulls("brand").unique("brand", keep="first", maintain_order=True).iter_rows():
            brands[str(b)] = str(c) if c is not None else ""
    categories: dict[str, str] = {}
    for level in levels:
        pairs = products.select(pl.col(level).cast(pl.String).alias("v"), (pl.col(main) if main else pl.col(level)).cast(pl.String).alias("c"))
        seen: dict[str, set[str]] = {}
        for v, c in pairs.drop_nulls().unique().sort("v", "c").iter_rows():
            seen.setdefault(str(v), set()).add(str(c))
        for v, cs in seen.items():
            categories.setdefault(v, next(iter(cs)) if len(cs) == 1 else "")
    # the words of a category name (笔记本电脑 → 笔记本) name it too, when they name no other
    parts: dict[str, set[str]] = {}
    jieba, _ = _jieba()
    coarse = {str(v) for level in levels if level != "category_l3" for v in products[level].drop_nulls().unique().to_list()}
    for v, c in list(categories.items()):
        if not c or v not in coarse:
            continue
        for w in jieba.lcut_for_search(v.lower(), HMM=False):
            if len(w) >= 2 and w != v.lower():
                parts.setdefault(w, set()).add(c)
    for w, cs in parts.items():
        categories.setdefault(w, next(iter(cs)) if len(cs) == 1 else "")
    words: set[str] = set()
    return Vocabulary(brands, categories, words)
