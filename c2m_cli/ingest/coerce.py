"""Value coercion as polars expressions: text from real exports → canonical types.

Every coercion is an expression that yields null where a value cannot be read, so a pipeline
can keep the raw text beside the result and name the reason of every rejected row, lazily.
What is read: currency symbols and thousands separators (``¥1,299.00``, ``1.2万``), full-width
digits (``１２３``), 是/否 / true/false / Y/N booleans, Chinese and ISO dates
(``2024/11/11 20:15``, ``2024年11月11日``, ``2024-11-11T12:15:00+08:00``) and epoch seconds or
milliseconds. Naive timestamps are read in a given zone; all are returned in UTC.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

from c2m_cli.errors import UsageError

UTC_US = pl.Datetime("us", "UTC")

# Text that means "no value" in exports, compared after trimming and lower-casing.
NULL_TOKENS = ["", "null", "none", "nan", "na", "n/a", "#n/a", "-", "--", "\\n", "无", "空"]

# Full-width characters of numbers and dates → ASCII (a literal multi-replace: fast).
_FULLWIDTH = {chr(0xFF10 + i): str(i) for i in range(10)}
_FULLWIDTH.update({"．": ".", "，": ",", "－": "-", "＋": "+", "：": ":", "／": "/", "　": " ",
                   "（": "(", "）": ")", "Ｔ": "T", "Ｚ": "Z"})
# Removed before a number is read: currency symbols and words, thousands separators, spaces.
_NUMBER_NOISE = ["¥", "￥", "$", "＄", "€", "£", "RMB", "CNY", "USD", "EUR", "人民币", "元", ",", " ", "'"]

# Datetime formats tried on text; format detection keeps those that read a sample.
_DATES = ["%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日"]
_TIMES = [" %H:%M:%S%.f", " %H:%M", "T%H:%M:%S%.f", "%H:%M:%S%.f", "%H:%M", ""]
DATETIME_FORMATS: list[str] = [
    "%Y-%m-%dT%H:%M:%S%.f%#z",
    "%Y-%m-%d %H:%M:%S%.f%#z",
    "%Y-%m-%d %H:%M%#z",
    *[d + t for d in _DATES for t in _TIMES if not (t.startswith("T") and d != "%Y-%m-%d")
      and not (t and not t.startswith((" ", "T")) and d != "%Y年%m月%d日")],
    "%Y%m%d%H%M%S",
    "%Y%m%d",
]
EPOCH_SECONDS = "epoch_s"
EPOCH_MILLIS = "epoch_ms"
SPECIAL_FORMATS = (EPOCH_SECONDS, EPOCH_MILLIS)


def clean_text(expr: pl.Expr) -> pl.Expr:
    """Trim, and turn the usual placeholders for "no value" into null."""
    text = expr.cast(pl.String).str.strip_chars()
    return pl.when(text.str.to_lowercase().is_in(NULL_TOKENS)).then(None).otherwise(text)


def to_halfwidth(expr: pl.Expr) -> pl.Expr:
    """Full-width digits and punctuation → ASCII, e.g. ``１２３`` → ``123``."""
    return expr.str.replace_many(list(_FULLWIDTH), list(_FULLWIDTH.values()))


def prepare_number(text: pl.Expr) -> pl.Expr:
    """Half-width, without currency symbols, thousands separators or spaces."""
    return to_halfwidth(text).str.replace_many(_NUMBER_NOISE, [""] * len(_NUMBER_NOISE))


def finish_number(s: pl.Expr) -> pl.Expr:
    """Float64 from prepared text (best a column: it is referenced several times)."""
    negative_paren = s.str.starts_with("(") & s.str.ends_with(")")
    body = s.str.strip_chars("()")
    base = body.str.strip_suffix("万").str.strip_suffix("亿").cast(pl.Float64, strict=False)
    base = pl.when(base.is_finite()).then(base)
    scaled = pl.when(body.str.ends_with("万")).then(base * 1e4).when(body.str.ends_with("亿")).then(base * 1e8).otherwise(base)
    return pl.when(negative_paren).then(-scaled).otherwise(scaled)


def parse_number(text: pl.Expr) -> pl.Expr:
    """``¥1,299.00`` → 1299.0, ``1.2万`` → 12000.0, ``(5.00)`` → -5.0; null when not a number."""
    return finish_number(prepare_number(text))


def number_from(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """A Float64 from a source column of any type (text is parsed, numbers cast)."""
    if dtype.is_numeric():
        value = expr.cast(pl.Float64)
        return pl.when(value.is_finite()).then(value)
    if dtype == pl.Boolean:
        return expr.cast(pl.Float64)
    return parse_number(clean_text(expr))


BOOL_VOCAB: dict[str, bool] = {
    "是": True, "否": False, "true": True, "false": False, "t": True, "f": False,
    "yes": True, "no": False, "y": True, "n": False, "1": True, "0": False,
    "1.0": True, "0.0": False, "真": True, "假": False, "有": True, "没有": False,
}


def lookup(key: pl.Expr, table: Mapping[Any, Any], dtype: pl.DataType) -> pl.Expr:
    """``table[key]`` or null, as an elementwise when-chain over the distinct values.

    (``replace_strict`` with a default is not elementwise in polars' streaming engine: it
    would hold whole columns in memory.)
    """
    by_value: dict[Any, list[Any]] = {}
    for k, v in table.items():
        by_value.setdefault(v, []).append(k)
    expr: Any = None
    for value, keys in by_value.items():
        cond = key.is_in(keys) if len(keys) > 1 else key == keys[0]
        out = pl.lit(value, dtype=dtype)
        expr = pl.when(cond).then(out) if expr is None else expr.when(cond).then(out)
    if expr is None:
        return pl.lit(None, dtype=dtype)
    return expr.otherwise(pl.lit(None, dtype=dtype))


def parse_bool(text: pl.Expr) -> pl.Expr:
    key = to_halfwidth(text).str.to_lowercase()
    return lookup(key, BOOL_VOCAB, pl.Boolean())


def parse_vocab(text: pl.Expr, vocab: Mapping[str, str]) -> pl.Expr:
    """Map text through a vocabulary (keys compared trimmed and lower-cased); null if unknown."""
    lowered = {str(k).strip().lower(): v for k, v in vocab.items()}
    key = to_halfwidth(text).str.to_lowercase()
    return lookup(key, lowered, pl.String())


def _localize(naive: pl.Expr, timezone: str) -> pl.Expr:
    if timezone == "UTC":
        return naive.dt.replace_time_zone("UTC")
    return naive.dt.replace_time_zone(
        timezone, ambiguous="earliest", non_existent="null"
    ).dt.convert_time_zone("UTC")


def _epoch(text: pl.Expr, unit: str) -> pl.Expr:
    number = text.cast(pl.Float64, strict=False)
    scale = 1_000_000 if unit == EPOCH_SECONDS else 1_000
    micros = (number * scale).round(0).cast(pl.Int64, strict=False)
    return micros.cast(pl.Datetime("us")).dt.replace_time_zone("UTC")


def _with_format(raw: pl.Expr, fmt: str, timezone: str) -> pl.Expr:
    if fmt in SPECIAL_FORMATS:
        digits = raw.str.contains(r"^\d{9,10}(\.\d+)?$" if fmt == EPOCH_SECONDS else r"^\d{12,13}$")
        return pl.when(digits).then(_epoch(raw, fmt))
    parsed = raw.str.strptime(pl.Datetime("us"), fmt, strict=False)
    if "%z" in fmt or "%#z" in fmt or "%:z" in fmt:
        return parsed.cast(UTC_US)
    return _localize(parsed, timezone)


def check_timezone(timezone: str) -> str:
    try:
        pl.Series([0]).cast(pl.Datetime("us")).dt.replace_time_zone(timezone)
    except Exception as exc:  # polars raises ComputeError/InvalidOperationError
        raise UsageError(f"unknown time zone {timezone!r} (use an IANA name such as Asia/Shanghai)") from exc
    return timezone


def detect_datetime_formats(sample: pl.Series) -> list[str]:
    """The formats (most frequent first) that read at least one value of a text sample."""
    values = sample.drop_nulls()
    if values.len() == 0:
        return list(DATETIME_FORMATS)
    frame = pl.DataFrame({"raw": values.cast(pl.String)})
    checks = [
        _with_format(to_halfwidth(pl.col("raw")), fmt, "UTC")
        .is_not_null()
        .sum()
        .alias(fmt)
        for fmt in [*SPECIAL_FORMATS, *DATETIME_FORMATS]
    ]
    counts = frame.select(checks).row(0, named=True)
    found = sorted((fmt for fmt, n in counts.items() if n), key=lambda f: -counts[f])
    return found or list(DATETIME_FORMATS)


def parse_datetime(
    text: pl.Expr, *, formats: list[str], timezone: str, prepared: bool = False
) -> pl.Expr:
    """Datetime(us, UTC) from text, trying ``formats`` in order; naive values are in ``timezone``.

    ``prepared``: the text is already half-width (a column computed once).
    """
    raw = text if prepared else to_halfwidth(text)
    attempts = [_with_format(raw, fmt, timezone) for fmt in formats]
    return attempts[0] if len(attempts) == 1 else pl.coalesce(attempts)


def datetime_from(
    expr: pl.Expr, dtype: pl.DataType, *, formats: list[str] | None, timezone: str
) -> pl.Expr:
    """Datetime(us, UTC) from a source column of any type."""
    if isinstance(dtype, pl.Datetime):
        value = expr.cast(pl.Datetime("us", dtype.time_zone))
        if dtype.time_zone is None:
            return _localize(value, timezone)
        return value.dt.convert_time_zone("UTC")
    if dtype == pl.Date:
        return _localize(expr.cast(pl.Datetime("us")), timezone)
    if dtype.is_integer() or dtype.is_float():
        number = expr.cast(pl.Float64)
        unit_ms = number.abs() >= 1e11
        micros = pl.when(unit_ms).then(number * 1_000).otherwise(number * 1_000_000)
        return micros.round(0).cast(pl.Int64).cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    return parse_datetime(clean_text(expr), formats=formats or DATETIME_FORMATS, timezone=timezone)


def id_from(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """Ids are text: integers as digits, integral floats (Excel) without ``.0``."""
    if dtype.is_float():
        integral = expr == expr.round(0)
        return pl.when(integral).then(expr.cast(pl.Int64, strict=False).cast(pl.String)).otherwise(
            expr.cast(pl.String)
        )
    if dtype == pl.String:
        return clean_text(expr)
    return expr.cast(pl.String)
