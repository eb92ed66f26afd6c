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
