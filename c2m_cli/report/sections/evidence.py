"""Evidence in words a category manager reads: the statistics behind an opportunity are kept in
numbers (columns of the table) and said in plain words, never as test statistics or p-values."""

from __future__ import annotations

import re

# "Mann-Kendall z=12.43, p=1.78e-35" (inside brackets or not) → the direction in words
_MK = re.compile(r"[,，;；]?\s*Mann[- ]Kendall\s*z\s*=\s*(-?[\d.]+)\s*,\s*p\s*=\s*([\d.eE+-]+)")
_Z = re.compile(r"(销量|sales)?\s*趋势\s*z\s*=\s*(-?[\d.]+)|trend\s*z\s*=\s*(-?[\d.]+)")
_P = re.compile(r"[,，]?\s*\bp\s*[=<]\s*[\d.eE+-]+")
_RATIO = re.compile(r"[（(]\s*(需求/供给|demand/supply)\s*([\d.]+)\s*[）)]")
_LONG = re.compile(r"(\d+\.\d{3,})")
_PARQUET = re.compile(r"\s*[（(][^（）()]*\.parquet[^（）()]*[）)]")
_CI = re.compile(r"\s*\[\s*-?[\d.]+\s*,\s*-?[\d.]+\s*\]")
_EMPTY = re.compile(r"[（(]\s*[,，]?\s*[）)]")

WORDS = {
    "up": {"zh": "显著上升", "en": "rising clearly"},
    "down": {"zh": "显著下降", "en": "falling clearly"},
    "flat": {"zh": "无明显趋势", "en": "no clear trend"},
    "ratio": {"zh": "需求远超现有供给", "en": "demand far above current supply"},
}


def trend_word(z: float | None, p: float | None, lang: str, alpha: float = 0.05) -> str | None:
    if z is None:
        return None
    if p is not None and p >= alpha:
        return WORDS["flat"][lang]
    if p is None and abs(z) < 1.96:
        return WORDS["flat"][lang]
    return WORDS["up" if z > 0 else "down"][lang]


def plain(text: str | None, lang: str) -> str:
    """``text`` with test statistics turned into words, huge ratios into a phrase, file names dropped."""
    if not text:
        return ""

    def mk(match: re.Match[str]) -> str:
        z, p = float(match.group(1)), _number(match.group(2))
        word = trend_word(z, p, lang)
        return f"，{word}" if lang == "zh" else f", {word}"

    out = _MK.sub(mk, text)

    def zonly(match: re.Match[str]) -> str:
        value = match.group(2) or match.group(3)
        word = trend_word(float(value), None, lang)
        prefix = match.group(1) or ""
        return f"{prefix}{'趋势' if lang == 'zh' else 'trend '}{word}"

    out = _Z.sub(zonly, out)
    out = _P.sub("", out)

    def ratio(match: re.Match[str]) -> str:
        value = float(match.group(2))
        if value > 20:
            return f"（{WORDS['ratio'][lang]}）" if lang == "zh" else f" ({WORDS['ratio'][lang]})"
        return f"（{match.group(1)} {value:.1f}）" if lang == "zh" else f" ({match.group(1)} {value:.1f})"

    out = _RATIO.sub(ratio, out)
    out = _PARQUET.sub("", out)
    out = _CI.sub("", out)
    out = _LONG.sub(lambda m: f"{float(m.group(1)):.2f}", out)
    out = _EMPTY.sub("", out)
    return out.replace("（，", "（").replace("(, ", "(").strip()


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None
