"""Evidence in words a manager reads, in the data's language; the statistics stay in columns."""

from __future__ import annotations

import math


def pct(x: float) -> str:
    """+92 % (a growth or a share change), or 'new' when the base is zero."""
    if not math.isfinite(x):
        return "+∞"
    return f"{x * 100:+.0f} %"


def share(x: float) -> str:
    return f"{x * 100:.0f} %"


def span_words(days: int, zh: bool) -> str:
    if 170 <= days <= 190:
        return "半年" if zh else "in 6 months"
    if 350 <= days <= 380:
        return "一年" if zh else "in a year"
    weeks = round(days / 7)
    return f"{weeks} 周" if zh else f"in {weeks} weeks"


def trend_words(z: float | None, q: float | None, growth: float | None, days: int, zh: bool, alpha: float = 0.05) -> str:
    """显著上升，+92 % 半年 / rising significantly, +92 % in 6 months."""
    if z is None or q is None or not math.isfinite(q):
        return ""
    significant = q < alpha
    if significant and z > 0:
        head = "显著上升" if zh else "rising significantly"
    elif significant and z < 0:
        head = "显著下降" if zh else "falling significantly"
    else:
        head = "无显著趋势" if zh else "no significant trend"
    if growth is None or days <= 0:
        return head
    if not math.isfinite(growth):
        return f"{head}，近{span_words(days, zh)}新出现" if zh else f"{head}, new {span_words(days, zh)}"
    return f"{head}，{pct(growth)} {span_words(days, zh)}" if zh else f"{head}, {pct(growth)} {span_words(days, zh)}"


def join(parts: list[str], zh: bool) -> str:
    parts = [p for p in parts if p]
    return ("；" if zh else "; ").join(parts)


def items(values: list[str], zh: bool) -> str:
    return ("、" if zh else ", ").join(values)


def quote(text: str, zh: bool) -> str:
    return f"「{text}」" if zh else f"'{text}'"
