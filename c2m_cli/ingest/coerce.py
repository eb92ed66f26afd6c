"""Value coercion as polars expressions: text from real exports → canonical types.

Every coercion yields null where a value cannot be read, and a *problem* expression names why
(null when the value is fine or absent), so a pipeline keeps the raw text beside the result and
gives the reason of every rejected row or nulled field, lazily, without Python per row.
The rules (docs/ingest.md):

* "unknown" placeholders (保密, 未知, 不详, 无, -, —, N/A, null, blank …) are null, not errors;
* numbers: currency symbols (¥ ￥ $ …), full-width digits, ``万``/``亿``, ``(5.00)`` negatives,
  thousands groups and a decimal separator that is ``.`` or ``,`` by convention of the column
  (declared ``decimal``, else found in the data); a value that reads differently under the two
  conventions (``1,5`` in a ``.`` column) is *ambiguous* and rejected, never guessed;
* timestamps: Chinese and ISO text, offsets kept, naive values read in the given zone; numbers
  by magnitude — an Excel serial day (< 10⁶), epoch seconds, milliseconds or microseconds —
  never silently 1970; outside [1950-01-01, today + 5 years] a timestamp is implausible;
* ids: text kept exactly (integers beyond int64 too), integral floats without ``.0``, scientific
  notation (an id a spreadsheet rounded) rejected.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl

from c2m_cli.errors import UsageError

UTC_US = pl.Datetime("us", "UTC")

# Text that means "no value" or "unknown" in exports (compared trimmed, in these spellings and
# their upper/title case).
UNKNOWN_TOKENS = [
    "", "null", "none", "nan", "na", "n/a", "#n/a", "nil", "-", "--", "---", "—", "——", "－", "\\n",
    "无", "空", "保密", "未知", "不详", "不明", "暂无", "未填写", "未设置", "/", "?", "？",
]


def _case_variants(tokens: list[str]) -> list[str]:
    out: list[str] = []
    for token in tokens:
        for variant in (token, token.upper(), token.title(), token.capitalize()):
            if variant not in out:
                out.append(variant)
    return out


NULL_TOKENS = _case_variants(UNKNOWN_TOKENS)

# Full-width forms (U+FF01–U+FF5E) and the ideographic space → ASCII; a few other look-alikes.
_FULLWIDTH: dict[str, str] = {chr(0xFF01 + i): chr(0x21 + i) for i in range(0x5E)}
_FULLWIDTH.update({"\u3000": " ", "、": ",", "。": ".", "\u00a0": " "})
_DIGITS_ONLY = {chr(0xFF10 + i): str(i) for i in range(10)}
_DIGITS_ONLY.update({"．": ".", "，": ",", "－": "-", "＋": "+", "：": ":", "／": "/", "\u3000": " ",
                     "（": "(", "）": ")", "Ｔ": "T", "Ｚ": "Z"})
# Removed before a number is read: currency symbols and words, spaces.
_NUMBER_NOISE = ["¥", "￥", "$", "＄", "€", "£", "RMB", "CNY", "USD", "EUR", "人民币", "元", " ", "'", "\u00a0"]

DECIMALS = (".", ",")

# Datetime formats tried on text; detection keeps the fewest that read a sample.
_DATES = ["%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日"]
_TIMES = [" %H:%M:%S", " %H:%M:%S%.f", " %H:%M", "T%H:%M:%S", "T%H:%M:%S%.f", "%H:%M:%S", "%H:%M", ""]
DATETIME_FORMATS: list[str] = [
    "%Y-%m-%dT%H:%M:%S%#z",
    "%Y-%m-%dT%H:%M:%S%.f%#z",
    "%Y-%m-%d %H:%M:%S%#z",
    "%Y-%m-%d %H:%M:%S%.f%#z",
    "%Y-%m-%d %H:%M%#z",
    *[d + t for d in _DATES for t in _TIMES if not (t.startswith("T") and d != "%Y-%m-%d")
      and not (t and not t.startswith((" ", "T")) and d != "%Y年%m月%d日")],
    "%Y%m%d%H%M%S",
    "%Y%m%d",
]
EPOCH_SECONDS = "epoch_s"
EPOCH_MILLIS = "epoch_ms"
NUMERIC_TIME = "number"  # an Excel serial day or epoch s/ms/µs, by magnitude
SPECIAL_FORMATS = (EPOCH_SECONDS, EPOCH_MILLIS, NUMERIC_TIME)

# chrono directives accepted in a mapping's ``format`` (anything else is a usage error).
_DIRECTIVES = set("YCymbBhdeaAwuUWjDxFvHkIlPpMSfzZTRrsGgVX%n t") | {".f", ".3f", ".6f", ".9f", "3f", "6f", "9f",
                                                                    ":z", "#z", "::z", ":::z", "-d", "-m", "-H", "-M"}
_DIRECTIVE = re.compile(r"%(\.?[369]?f|:{1,3}z|#z|-[dmHM]|.?)")

EARLIEST = datetime(1950, 1, 1, tzinfo=UTC)
FUTURE_YEARS = 5


def latest_plausible(today: date | None = None) -> datetime:
    """Five years after today (UTC): later timestamps are implausible."""
    day = today or datetime.now(UTC).date()
    try:
        return datetime(day.year + FUTURE_YEARS, day.month, day.day, tzinfo=UTC)
    except ValueError:  # 29 February
        return datetime(day.year + FUTURE_YEARS, day.month, 28, tzinfo=UTC)


def check_format(fmt: str) -> str | None:
    """None when ``fmt`` is a usable strptime format, else what is wrong with it."""
    if fmt in SPECIAL_FORMATS:
        return None
    found = _DIRECTIVE.findall(fmt)
    if not found:
        return "has no % directive (or use epoch_s / epoch_ms / number)"
    for directive in found:
        if directive not in _DIRECTIVES:
            return f"has an unknown directive %{directive}" if directive else "ends with a lone %"
    date_parts = {"Y", "y", "C", "m", "b", "B", "h", "d", "e", "j", "D", "F", "x", "s", "G", "g"}
    if not any(d in date_parts for d in found):
        return "has no date directive (%Y, %m, %d …)"
    return None


def null_tokens(text: pl.Expr) -> pl.Expr:
    """Trimmed text with the placeholders for "no value" / "unknown" nulled (best on a column)."""
    return pl.when(text.is_in(NULL_TOKENS)).then(None).otherwise(text)


def clean_text(expr: pl.Expr) -> pl.Expr:
    """Trim, and turn the usual placeholders for "no value" / "unknown" into null."""
    return null_tokens(expr.cast(pl.String).str.strip_chars())


def to_halfwidth(expr: pl.Expr) -> pl.Expr:
    """Full-width digits and punctuation → ASCII, e.g. ``１２３`` → ``123``."""
    return expr.str.replace_many(list(_DIGITS_ONLY), list(_DIGITS_ONLY.values()))


def normalise_key(expr: pl.Expr) -> pl.Expr:
    """How vocabulary keys and data are compared: half-width, without spaces, lower case."""
    return (
        expr.str.replace_many(list(_FULLWIDTH), list(_FULLWIDTH.values()))
        .str.replace_all(r"\s+", "")
        .str.to_lowercase()
    )


_KEY_TABLE = str.maketrans(_FULLWIDTH)


def normalise_key_text(text: str) -> str:
    """``normalise_key`` for one Python string (mapping keys): the same rules."""
    return re.sub(r"\s+", "", str(text).translate(_KEY_TABLE)).lower()


# Stripped from both ends before the fast read of a number (``¥63.49``, ``99元``).
CURRENCY_EDGES = "¥￥$＄€£元 \u00a0\t\r\n\u3000"

_NUMBER_PREP = {**_DIGITS_ONLY, **dict.fromkeys(_NUMBER_NOISE, "")}


def prepare_number(text: pl.Expr) -> pl.Expr:
    """Half-width, without currency symbols or spaces (separators are kept); one pass."""
    return text.str.replace_many(list(_NUMBER_PREP), list(_NUMBER_PREP.values()))


# A number body (after sign/parentheses/unit are set apart) under each decimal convention.
_PLAIN = r"^[+-]?\d+(\.\d+)?([eE][+-]?\d+)?$"
_DOT_GROUPED = r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$"
_COMMA_DECIMAL = r"^[+-]?\d+(,\d+)?$"
_COMMA_GROUPED = r"^[+-]?\d{1,3}(\.\d{3})+(,\d+)?$"
_ANY_SEPARATED = r"^[+-]?[\d.,]*\d$"
NOT_A_NUMBER = "not a number"
AMBIGUOUS = "ambiguous decimal separator (declare decimal = \".\" or \",\" in [TABLE.read])"
NOT_FINITE = "not a finite number"


def _number_body(s: pl.Expr) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """(negative in parentheses, unit scale, digits) of prepared number text."""
    negative_paren = s.str.starts_with("(") & s.str.ends_with(")")
    body = s.str.strip_chars("()")
    unit = body.str.slice(-1)
    scale = pl.when(unit == "万").then(1e4).when(unit == "亿").then(1e8).otherwise(1.0)
    digits = pl.when(unit.is_in(["万", "亿"])).then(body.str.slice(0, body.str.len_chars() - 1)).otherwise(body)
    return negative_paren, scale, digits


def fast_number(s: pl.Expr, decimal: str) -> pl.Expr:
    """Most numbers of an export, read by a cast after stripping currency signs and spaces;
    null for the others, NaN included (``number_value`` reads those, on a column that is null
    elsewhere). ``s`` may be untrimmed source text."""
    return _fast_number(s.str.strip_chars(CURRENCY_EDGES), decimal).fill_nan(None)


def _fast_number(s: pl.Expr, decimal: str) -> pl.Expr:
    """The plain numbers (most values) read by a cast; null where the full rules are needed."""
    if decimal == ".":
        return s.cast(pl.Float64, strict=False)
    return pl.when(~s.str.contains(r"[.,]")).then(s.cast(pl.Float64, strict=False))


def _slow_number(digits: pl.Expr, decimal: str) -> tuple[pl.Expr, pl.Expr]:
    """(number text, ambiguous?) under a decimal convention, for values a cast did not read."""
    if decimal == ".":
        grouped = digits.str.contains(_DOT_GROUPED)
        text = pl.when(grouped).then(digits.str.replace_all(",", "", literal=True)).otherwise(digits)
        other = digits.str.contains(_ANY_SEPARATED) & digits.str.contains(",", literal=True) & ~grouped
    else:
        grouped = digits.str.contains(_COMMA_GROUPED)
        plain_comma = digits.str.contains(_COMMA_DECIMAL)
        text = (
            pl.when(grouped).then(digits.str.replace_all(".", "", literal=True).str.replace(",", ".", literal=True))
            .when(plain_comma).then(digits.str.replace(",", ".", literal=True))
            .otherwise(pl.lit(None, dtype=pl.String))
        )
        other = digits.str.contains(_ANY_SEPARATED) & ~grouped & ~plain_comma
    return text, other


def number_value(s: pl.Expr, decimal: str) -> pl.Expr:
    """Float64 (maybe not finite) from prepared text ``s``; null when not a number or ambiguous.

    Plain numbers are read by a cast; only the others (thousands groups, decimal commas, 万,
    parentheses) go through the rules, on a column that is null elsewhere, so the costly string
    work touches few values.
    """
    fast = _fast_number(s, decimal)
    rest = pl.when(fast.is_null()).then(s)
    negative_paren, scale, digits = _number_body(rest)
    text, _other = _slow_number(digits, decimal)
    base = text.cast(pl.Float64, strict=False)
    slow = pl.when(negative_paren).then(-base * scale).otherwise(base * scale)
    return pl.coalesce(fast, slow)


def number_problem(s: pl.Expr, value: pl.Expr, decimal: str) -> pl.Expr:
    """Why prepared text ``s`` gave no usable number ``value`` (a column of ``number_value``)."""
    rest = pl.when(value.is_null()).then(s)
    _negative, _scale, digits = _number_body(rest)
    _text, other = _slow_number(digits, decimal)
    return (
        pl.when(s.is_null()).then(pl.lit(None, dtype=pl.String))
        .when(other.fill_null(False)).then(pl.lit(AMBIGUOUS))
        .when(value.is_null()).then(pl.lit(NOT_A_NUMBER))
        .when(~value.is_finite()).then(pl.lit(NOT_FINITE))
    )


def number_problem_and_value(s: pl.Expr, decimal: str) -> tuple[pl.Expr, pl.Expr]:
    """(value, problem) from prepared text ``s`` under a decimal convention ``.`` or ``,``.

    (Expressions, for small frames and tests; the ingest pipeline stages them as columns.)
    """
    raw = number_value(s, decimal)
    problem = number_problem(s, raw, decimal)
    return pl.when(raw.is_finite()).then(raw), problem


def finish_number(s: pl.Expr, decimal: str = ".") -> pl.Expr:
    """Float64 from prepared text (null when not a number, ambiguous or not finite)."""
    return number_problem_and_value(s, decimal)[0]


def parse_number(text: pl.Expr, decimal: str = ".") -> pl.Expr:
    """``¥1,299.00`` → 1299.0, ``1.2万`` → 12000.0, ``(5.00)`` → -5.0; null when not a number."""
    return finish_number(prepare_number(text), decimal)


def detect_decimal(sample: pl.Series) -> str | None:
    """``,`` when a text sample of numbers is written with decimal commas, ``.`` when with
    decimal points, None when it does not tell (only integers, or thousands-like ``1,234``)."""
    values = pl.DataFrame({"s": sample.cast(pl.String)}).select(
        prepare_number(clean_text(pl.col("s"))).str.strip_chars("()万亿").alias("s")
    )["s"].drop_nulls()
    if values.len() == 0:
        return None
    comma = values.str.contains(r"^[+-]?\d+,(\d{1,2}|\d{4,})$") | values.str.contains(r"\d\.\d{3},\d")
    dot = values.str.contains(r"^[+-]?\d+\.(\d{1,2}|\d{4,})$") | values.str.contains(r"\d,\d{3}\.\d")
    n_comma, n_dot = int(comma.sum()), int(dot.sum())
    if n_comma and not n_dot:
        return ","
    if n_dot and not n_comma:
        return "."
    return None


def number_from(expr: pl.Expr, dtype: pl.DataType, decimal: str = ".") -> pl.Expr:
    """A Float64 from a source column of any type (text is parsed, numbers cast)."""
    if dtype.is_numeric():
        value = expr.cast(pl.Float64)
        return pl.when(value.is_finite()).then(value)
    if dtype == pl.Boolean:
        return expr.cast(pl.Float64)
    return parse_number(clean_text(expr), decimal)


BOOL_VOCAB: dict[str, bool] = {
    "是": True, "否": False, "true": True, "false": False, "t": True, "f": False,
    "yes": True, "no": False, "y": True, "n": False, "1": True, "0": False,
    "1.0": True, "0.0": False, "真": True, "假": False, "有": True, "没有": False,
}


def lookup(key: pl.Expr, table: Mapping[Any, Any], dtype: pl.DataType) -> pl.Expr:
    """``table[key]`` or null, as an elementwise when-chain over the distinct values.

    (``replace`` and ``replace_strict`` are not elementwise in polars' streaming engine: they
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
    true_keys = [k for k, v in BOOL_VOCAB.items() if v]
    false_keys = [k for k, v in BOOL_VOCAB.items() if not v]
    return pl.when(key.is_in(true_keys)).then(True).when(key.is_in(false_keys)).then(False)


def parse_vocab(text: pl.Expr, vocab: Mapping[str, str]) -> pl.Expr:
    """Map text through a vocabulary (keys and text normalised alike); null if unknown."""
    normalised = {normalise_key_text(k): v for k, v in vocab.items()}
    return lookup(normalise_key(text), normalised, pl.String())


# Ratings: ``五星``, ``5星``, ``5分``, ``★★★★★``, ``4.0`` → 1–5.
_RATING_WORDS = {"一": "1", "二": "2", "两": "2", "三": "3", "四": "4", "五": "5", "壹": "1", "贰": "2", "叁": "3",
                 "肆": "4", "伍": "5"}


def rating_text(text: pl.Expr) -> pl.Expr:
    """Rating text → number text: Chinese numerals and star glyphs counted, units dropped."""
    half = to_halfwidth(text)
    stars = half.str.count_matches("★")
    words = half.str.replace_many(list(_RATING_WORDS), list(_RATING_WORDS.values()))
    digits = words.str.replace(r"^\s*([0-9.]+)\s*(颗星|星级|星|分|stars?|points?|/5|/ 5)?\s*$", "${1}")
    return pl.when(half.str.contains(r"^[★☆\s]+$")).then(stars.cast(pl.String)).otherwise(digits)


def year_text(text: pl.Expr) -> pl.Expr:
    """``1995年`` / ``1995`` / ``1995-03-02`` → ``1995``; a generation band (``95后``) is left as is."""
    half = to_halfwidth(text)
    return half.str.replace(r"^\s*((?:19|20)\d\d)\s*(年.*|[-/.]\d{1,2}([-/.]\d{1,2})?.*)?$", "${1}")


AGE_BAND = r"^\s*(\d0|\d5|00)\s*后\s*$"


@lru_cache(maxsize=64)
def _fixed_since(timezone: str) -> tuple[datetime, int] | None:
    """(local wall time after which ``timezone`` has one UTC offset up to the latest plausible
    date, that offset in seconds), or None when it keeps changing (daylight saving time)."""
    zone = ZoneInfo(timezone)
    end = latest_plausible().replace(tzinfo=None)
    day = end
    offset = zone.utcoffset(end)
    step = timedelta(days=1)
    earliest = datetime(1900, 1, 1)
    while day > earliest and zone.utcoffset(day - step) == offset:
        day -= step
    if (end - day).days < 366 or offset is None:
        return None
    return day + step, int(offset.total_seconds())


def _localize(naive: pl.Expr, timezone: str) -> pl.Expr:
    if timezone == "UTC":
        return naive.dt.replace_time_zone("UTC")

    def full(values: pl.Expr) -> pl.Expr:
        return values.dt.replace_time_zone(timezone, ambiguous="earliest", non_existent="null").dt.convert_time_zone("UTC")

    fixed = _fixed_since(timezone)
    if fixed is None:
        return full(naive)
    # Since its last change the zone is a fixed offset (Asia/Shanghai since 1991): subtract it,
    # and look the zone up only for older wall times (a column null elsewhere: cheap).
    since, seconds = fixed
    recent = naive >= pl.lit(since, dtype=pl.Datetime("us"))
    shifted = (naive - pl.duration(seconds=seconds)).dt.replace_time_zone("UTC")
    return pl.coalesce(pl.when(recent).then(shifted), full(pl.when(~recent).then(naive)))


EXCEL_EPOCH = datetime(1899, 12, 30)


def numeric_time(number: pl.Expr, timezone: str) -> pl.Expr:
    """A number read as a timestamp by its magnitude.

    < 10⁶: an Excel serial day (days since 1899-12-30, fraction = time of day), a local wall
    time like a naive text; 10⁸–10¹¹: epoch seconds; 10¹¹–10¹⁴: milliseconds; 10¹⁴–10¹⁷:
    microseconds (epochs are instants, UTC). Anything else is null.
    """
    magnitude = number.abs()
    excel_us = (number * 86_400_000_000).round(0).cast(pl.Int64, strict=False)
    excel = _localize(
        (pl.lit(EXCEL_EPOCH, dtype=pl.Datetime("us")) + pl.duration(microseconds=excel_us)), timezone
    )
    micros = (
        pl.when(magnitude < 1e11).then(number * 1_000_000)
        .when(magnitude < 1e14).then(number * 1_000)
        .otherwise(number)
    ).round(0).cast(pl.Int64, strict=False)
    epoch = micros.cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    return (
        pl.when(magnitude < 1e6).then(excel)
        .when((magnitude >= 1e8) & (magnitude < 1e17)).then(epoch)
        .otherwise(pl.lit(None, dtype=UTC_US))
    )


def _epoch(text: pl.Expr, unit: str) -> pl.Expr:
    number = text.cast(pl.Float64, strict=False)
    scale = 1_000_000 if unit == EPOCH_SECONDS else 1_000
    micros = (number * scale).round(0).cast(pl.Int64, strict=False)
    return micros.cast(pl.Datetime("us")).dt.replace_time_zone("UTC")


def naive_format(fmt: str) -> bool:
    """A strptime format without an offset: its values are wall times to localise."""
    return fmt not in SPECIAL_FORMATS and not any(z in fmt for z in ("%z", "%#z", "%:z"))


def parse_naive(text: pl.Expr, fmt: str) -> pl.Expr:
    return text.str.strptime(pl.Datetime("us"), fmt, strict=False)


def localize(naive: pl.Expr, timezone: str) -> pl.Expr:
    """Naive wall times in ``timezone`` → UTC (best on a column: it is referenced twice)."""
    return _localize(naive, timezone)


def fast_datetime(text: pl.Expr, fmt: str, timezone: str) -> pl.Expr:
    """The first detected format on text as it is (no half-width pass): most values."""
    return _with_format(text, fmt, timezone)


def _with_format(raw: pl.Expr, fmt: str, timezone: str) -> pl.Expr:
    if fmt == NUMERIC_TIME:
        is_number = raw.str.contains(r"^-?\d+(\.\d+)?$")
        return pl.when(is_number).then(numeric_time(raw.cast(pl.Float64, strict=False), timezone))
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
    """The fewest formats that read the text sample, the one reading most values first.

    A greedy cover: the format reading most sampled values is taken, then the one reading most
    of those left, and so on (ties go to the earlier, more specific format; numbers last).
    """
    values = sample.drop_nulls()
    if values.len() == 0:
        return [*DATETIME_FORMATS, NUMERIC_TIME]
    frame = pl.DataFrame({"raw": values.cast(pl.String)}).select(to_halfwidth(pl.col("raw").str.strip_chars()))
    candidates = [*DATETIME_FORMATS, NUMERIC_TIME]
    hits = frame.select(
        [_with_format(pl.col("raw"), fmt, "UTC").is_not_null().alias(fmt) for fmt in candidates]
    )
    chosen: list[str] = []
    left = pl.Series([True] * hits.height)
    while True:
        counts = {fmt: int((hits[fmt] & left).sum()) for fmt in candidates if fmt not in chosen}
        best = max(counts.items(), key=lambda kv: kv[1], default=(None, 0))
        if best[0] is None or best[1] == 0:
            break
        chosen.append(best[0])
        left = left & ~hits[best[0]]
    return chosen or [*DATETIME_FORMATS, NUMERIC_TIME]


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
        return numeric_time(expr.cast(pl.Float64), timezone)
    return parse_datetime(clean_text(expr), formats=formats or [*DATETIME_FORMATS, NUMERIC_TIME], timezone=timezone)


def plausibility_problem(value: pl.Expr, earliest: datetime, latest: datetime) -> pl.Expr:
    """"implausible date (…)" for a timestamp outside [earliest, latest], else null."""
    return (
        pl.when(value < pl.lit(earliest, dtype=UTC_US))
        .then(pl.lit(f"implausible date (before {earliest:%Y-%m-%d})"))
        .when(value > pl.lit(latest, dtype=UTC_US))
        .then(pl.lit(f"implausible date (after {latest:%Y-%m-%d})"))
    )


SCIENTIFIC = r"^[+-]?\d+(\.\d+)?[eE][+-]?\d+$"
SCIENTIFIC_ID = "scientific notation (a spreadsheet rounded this id; export the column as text)"
FLOAT_ID = "too large for a float column (digits lost; export the column as text)"


def id_from(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """Ids are text: integers as digits, integral floats (Excel) without ``.0``."""
    if dtype.is_float():
        integral = (expr == expr.round(0)) & (expr.abs() < 2.0**53)
        return pl.when(integral).then(expr.cast(pl.Int64, strict=False).cast(pl.String)).otherwise(
            pl.when(expr.abs() < 2.0**53).then(expr.cast(pl.String))
        )
    if dtype == pl.String:
        return clean_text(expr)
    return expr.cast(pl.String)


def id_problem(value: pl.Expr, source: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    if dtype.is_float():
        return pl.when(source.is_not_null() & (source.abs() >= 2.0**53)).then(pl.lit(FLOAT_ID))
    if dtype == pl.String:
        return pl.when(value.str.contains(SCIENTIFIC)).then(pl.lit(SCIENTIFIC_ID))
    return pl.lit(None, dtype=pl.String)
