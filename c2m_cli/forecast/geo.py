"""The geographic tree of the forecast: total → province → province × city tier → city.

Levels and their keys (``unique_id``):

- ``province``: the province's short name as ``seeds/city_tiers.csv`` writes it (广东, 新疆), from
  the order's province, else from its city (昆山市 → 江苏); ``未知`` when neither tells.
- ``city_tier``: ``province/tier`` (广东/一线, 广东/三线): the province's cities of one commercial
  tier (一线, 新一线, 二线 … 五线, from ``seeds/city_tiers.csv``); ``province/未知`` holds the
  cities the seed does not know and the lines without a city.
- ``city``: ``province/city`` (广东/深圳): the prefecture-level city. A county-level city or a
  district maps to its prefecture (江苏 + 昆山市 → 江苏/苏州, 广东 + 南山区 → 广东/深圳, 北京 +
  朝阳区 → 北京/北京); a name the divisions do not know keeps its name (tier 未知); no city →
  ``province/未知``.

The province is part of the tier and city keys so that every node has exactly one parent, the
unknown ones included, and the sums are exact. The names are resolved with the shared lookups,
not re-derived: ``c2m_cli.ingest.address`` (province and prefecture of a place name, the same
reading ingest gives an address) and ``c2m_cli.labels.geography.city_table`` (a city's tier and
province from ``seeds/city_tiers.csv``). Only the distinct (province, city) pairs are resolved:
the lines are first summed per raw pair and period (one group-by over the lines), the keys joined
to those sums (series.build_series).

Reconciliation (engine.reconcile_tree, with the total as anchor): the geo tree shares its root
with the product tree, and the total is the product tree's (its own forecast when no product
level lies below it). The bottom geo level's forecasts — kept (bottom_up) or MinT-combined with
every geo node's own (mint_shrink) — are scaled per period to that total and summed into every
geo level above: provinces add up to the total, tier cells to their province, cities to their
tier cell.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from c2m_cli.forecast.reconcile import summing_matrix

GEO_LEVELS = ("province", "city_tier", "city")
UNKNOWN_KEY = "未知"
SEPARATOR = "/"
_P, _C = "__geo_province_raw", "__geo_city_raw"
RAW_PAIR = (_P, _C)


def _blank_null(expr: pl.Expr) -> pl.Expr:
    text = expr.cast(pl.String).str.strip_chars()
    return pl.when(text.str.len_chars() > 0).then(text)


def geo_keys(pairs: pl.DataFrame, province: str = "province", city: str = "city") -> pl.DataFrame:
    """For each (raw province, raw city) row of ``pairs`` (either may be null): its keys
    ``geo_province``, ``geo_city_tier``, ``geo_city`` (see the module) and ``geo_tier`` (the bare
    tier, 未知 when unknown), beside the two raw columns (stripped, blank → null), sorted by them."""
    from c2m_cli.ingest.address import address_frame
    from c2m_cli.labels.geography import city_key, city_table, province_key

    seed = city_table().select(
        "_key", pl.col("city_short").alias("_s_city"), pl.col("province").alias("_s_prov"), pl.col("tier").alias("_s_tier")
    )
    frame = pairs.lazy().with_columns(_blank_null(pl.col(province)).alias(_P), _blank_null(pl.col(city)).alias(_C))
    # the address reading of "province + city": county-level units → their prefecture
    text = pl.concat_str([pl.col(_P).fill_null(""), pl.col(_C).fill_null("")])
    read = address_frame(frame.with_columns(text.alias("__geo_text")).select(_P, _C, "__geo_text"), "__geo_text")
    read = read.select(_P, _C, pl.col("province").alias("_a_prov"), pl.col("city").alias("_a_city"))
    # the seed's own names (short, full, English) for a city the address reading did not place
    direct = read.with_columns(city_key(pl.col(_C)).alias("_key")).join(seed.lazy(), on="_key", how="left")
    named = direct.with_columns(
        pl.coalesce("_a_prov", _blank_null(province_key(pl.col(_P))), "_s_prov").fill_null(UNKNOWN_KEY).alias("geo_province")
    ).with_columns(
        pl.coalesce(
            "_a_city",
            pl.when(pl.col("_s_prov") == pl.col("geo_province")).then("_s_city"),
            pl.col(_C),
        ).fill_null(UNKNOWN_KEY).alias("_city")
    )
    # the tier is a function of the final (province, city) keys: one parent per city node
    tiered = named.drop("_key", "_s_city", "_s_prov", "_s_tier").with_columns(city_key(pl.col("_city")).alias("_key")).join(
        seed.lazy(), on="_key", how="left"
    )
    tier = pl.when(pl.col("_s_prov") == pl.col("geo_province")).then("_s_tier").otherwise(pl.lit(UNKNOWN_KEY))
    out = tiered.select(
        pl.col(_P).alias(province),
        pl.col(_C).alias(city),
        "geo_province",
        (pl.col("geo_province") + SEPARATOR + tier).alias("geo_city_tier"),
        (pl.col("geo_province") + SEPARATOR + pl.col("_city")).alias("geo_city"),
        tier.alias("geo_tier"),
    ).sort(province, city, nulls_last=True).collect()
    return out


def raw_pair(schema: pl.Schema) -> list[pl.Expr]:
    """The order's province and city (stripped, blank → null; null when the column is absent),
    as the two columns the keys are looked up by (``RAW_PAIR``)."""
    return [
        (_blank_null(pl.col(name)) if name in schema else pl.lit(None, dtype=pl.String)).alias(alias)
        for name, alias in zip(("province", "city"), RAW_PAIR, strict=True)
    ]


def with_keys(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` (with the ``RAW_PAIR`` columns, e.g. demand summed per raw pair and period)
    with those replaced by its ``province``, ``city_tier`` and ``city`` keys: each distinct pair
    is resolved once (``geo_keys``) and joined back."""
    keys = geo_keys(frame.select(*RAW_PAIR).unique(), _P, _C).select(
        _P, _C, pl.col("geo_province").alias("province"), pl.col("geo_city_tier").alias("city_tier"),
        pl.col("geo_city").alias("city"),
    )
    return frame.join(keys, on=list(RAW_PAIR), how="left", nulls_equal=True).drop(*RAW_PAIR)


@dataclass(frozen=True)
class GeoTree:
    """The geo levels present, top first (province, city_tier, city, those asked for), the
    bottom one last, and each upper level's 0/1 summing matrix (its nodes × bottom nodes, rows
    and columns in the order of the given ids). The root, ``total``, is not in it: it is the
    anchor the bottom is scaled to (the product tree's total)."""

    levels: tuple[str, ...] = ()
    matrices: dict[str, np.ndarray] = field(default_factory=dict)
    n_bottom: int = 0

    @property
    def bottom(self) -> str:
        return self.levels[-1]

    def rooted(self) -> tuple[list[str], dict[str, np.ndarray]]:
        """The same tree with ``total`` on top (its row sums every bottom node): for the
        coherent quantiles when no product tree holds the total."""
        return ["total", *self.levels], {"total": np.ones((1, self.n_bottom)), **self.matrices}


def geo_tree(hierarchy: pl.DataFrame, ids: dict[str, list[str]]) -> GeoTree:
    """The tree over the geo levels that have series in ``ids`` (level → node ids, in the
    order of the forecast's rows). ``hierarchy``: the distinct (province, city_tier, city) keys
    of the order lines (``SeriesSet.geo``). A bottom node missing from the hierarchy would get
    an all-zero column; series built from the same lines cannot."""
    present = [lv for lv in GEO_LEVELS if ids.get(lv)]
    if not present:
        return GeoTree()
    bottom = present[-1]
    mapping = hierarchy.select(*present).unique(bottom, keep="first")
    mats: dict[str, np.ndarray] = {}
    for level in present[:-1]:
        lookup = dict(zip(mapping[bottom].to_list(), mapping[level].to_list(), strict=True))
        parent_of = np.array([lookup.get(u, "") for u in ids[bottom]], dtype=object)
        mats[level] = summing_matrix(parent_of, np.array(ids[level], dtype=object))
    return GeoTree(tuple(present), mats, len(ids[bottom]))
