"""Opportunities a manufacturer could build on, each with numbers as evidence and a 0–1 score.

Kinds: search_gap (searched, rising, little supply), rising_demand (significant sales growth of a
category or product attribute), price_band (price bands with thin supply and an over-indexed
buyer portrait), attribute_gap (searched words no product of the category carries) and festival
(which festival lifts which category, and by how much). micro_demand comes from reviews.py.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl

from c2m_cli.calendar import festival_days
from c2m_cli.recommend import _text
from c2m_cli.recommend.data import Inputs, dense_weekly, product_attributes, product_text
from c2m_cli.recommend.trends import mann_kendall

OPPORTUNITY_SCHEMA = {
    "kind": pl.String,
    "category": pl.String,
    "sku": pl.String,
    "subject": pl.String,
    "evidence": pl.String,
    "score": pl.Float64,
    "segment_id": pl.String,
    "volume": pl.Float64,
    "trend_z": pl.Float64,
    "trend_p": pl.Float64,
}


def empty_opportunities() -> pl.DataFrame:
    return pl.DataFrame(schema=OPPORTUNITY_SCHEMA)


def _frame(rows: list[dict]) -> pl.DataFrame:
    if not rows:
        return empty_opportunities()
    return pl.DataFrame(rows, schema=OPPORTUNITY_SCHEMA)


def _pct_rank(values: np.ndarray) -> np.ndarray:
    if values.size == 0:
        return values
    order = np.argsort(np.argsort(values, kind="stable"), kind="stable")
    return (order + 1) / values.size


def _w(zh: bool, chinese: str, english: str) -> str:
    return chinese if zh else english


# -- search_gap ----------------------------------------------------------------------------------
def query_groups(events: pl.DataFrame) -> pl.DataFrame:
    """Searches with their normalised query and group key (sorted jieba tokens)."""
    searches = events.filter((pl.col("event") == "search") & pl.col("query").is_not_null())
    searches = searches.with_columns(
        norm=pl.col("query").str.to_lowercase().str.strip_chars().str.replace_all(r"\s+", " ")
    ).filter(pl.col("norm") != "")
    unique = searches["norm"].unique().sort().to_list()
    keys = [" ".join(sorted(set(_text.tokens(q)))) for q in unique]
    mapping = pl.DataFrame({"norm": unique, "group": keys}).filter(pl.col("group") != "")
    return searches.join(mapping, on="norm", how="inner")


def _category_of_groups(
    ins: Inputs, searches: pl.DataFrame, matches: pl.DataFrame
) -> pl.DataFrame:
    """(group, category, level): the category searches name, else that of matching products."""
    levels = ins.category_levels()
    rows = []
    if "category" in searches.columns and searches["category"].drop_nulls().len():
        named = (
            searches.filter(pl.col("category").is_not_null())
            .group_by("group", "category")
            .len()
            .sort(["group", "len", "category"], descending=[False, True, False])
            .unique("group", keep="first")
            .select("group", "category")
        )
        rows.append(named)
    if matches.height and ins.products is not None and levels:
        level = ins.main_level() or levels[0]
        by_product = (
            matches.join(ins.products.select("sku", pl.col(level).alias("category")), on="sku")
            .filter(pl.col("category").is_not_null())
            .group_by("group", "category")
            .len()
            .sort(["group", "len", "category"], descending=[False, True, False])
            .unique("group", keep="first")
            .select("group", "category")
        )
        rows.append(by_product)
    if not rows:
        return pl.DataFrame(schema={"group": pl.String, "category": pl.String})
    return pl.concat(rows).unique("group", keep="first", maintain_order=True)


def _group_matches(groups: list[str], ptext: pl.DataFrame, partial: bool) -> pl.DataFrame:
    """(group, sku) pairs: products whose text has all (or, if partial, any) of the tokens."""
    frames = []
    for group in groups:
        toks = group.split(" ")
        exprs = [pl.col("text").str.contains(t, literal=True) for t in toks]
        cond = pl.any_horizontal(exprs) if partial else pl.all_horizontal(exprs)
        hit = ptext.filter(cond).select(pl.lit(group).alias("group"), "sku")
        frames.append(hit)
    if not frames:
        return pl.DataFrame(schema={"group": pl.String, "sku": pl.String})
    return pl.concat(frames)


def category_trends(ins: Inputs) -> pl.DataFrame:
    """Mann-Kendall of weekly units for every category value at every level."""
    out = []
    for level in ins.category_levels():
        keys, _, matrix = dense_weekly(ins.lines, level, "qty", ins.start, ins.end)
        if not keys:
            continue
        res = mann_kendall(matrix)
        mean = matrix.mean(axis=1)
        out.append(
            pl.DataFrame(
                {
                    "level": level,
                    "category": keys,
                    "units": matrix.sum(axis=1),
                    "weeks": matrix.shape[1],
                    "z": res.z,
                    "p": res.p,
                    "growth": np.where(mean > 0, res.sen_slope * matrix.shape[1] / np.maximum(mean, 1e-9), 0.0),
                }
            )
        )
    if not out:
        return pl.DataFrame(
            schema={"level": pl.String, "category": pl.String, "units": pl.Float64, "weeks": pl.Int64,
                    "z": pl.Float64, "p": pl.Float64, "growth": pl.Float64}
        )
    return pl.concat(out)


def search_gap(ins: Inputs, *, min_searches: int = 20, max_groups: int = 300) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Queries searched often and increasingly, with few matching products or purchases.

    Returns the opportunities and the per-group table (used by attribute_gap and briefs).
    """
    zh = ins.chinese
    assert ins.events is not None
    searches = query_groups(ins.events).with_columns(
        week=pl.col("ts").dt.convert_time_zone(ins.timezone).dt.date().dt.truncate("1w"), one=pl.lit(1.0)
    )
    if searches.height == 0:
        return empty_opportunities(), pl.DataFrame()
    volume = (
        searches.group_by("group")
        .agg(pl.len().alias("searches"), pl.col("norm").mode().sort().first().alias("example"))
        .filter(pl.col("searches") >= min_searches)
        .sort(["searches", "group"], descending=[True, False])
        .head(max_groups)
    )
    if volume.height == 0:
        return empty_opportunities(), pl.DataFrame()
    groups = volume["group"].to_list()
    searches = searches.filter(pl.col("group").is_in(groups))
    keys, _, matrix = dense_weekly(searches, "group", "one", ins.start, ins.end)
    res = mann_kendall(matrix)
    trend = pl.DataFrame({"group": keys, "z": res.z, "p": res.p})
    half = matrix.shape[1] // 2
    recent = pl.DataFrame(
        {"group": keys, "early": matrix[:, :half].sum(axis=1), "late": matrix[:, half:].sum(axis=1)}
    )
    ptext = product_text(ins.products)
    matches = _group_matches(groups, ptext, partial=False)
    loose = _group_matches(groups, ptext, partial=True)
    n_products = matches.group_by("group").agg(pl.col("sku").n_unique().alias("products"))
    bought = (
        matches.join(ins.lines.group_by("sku").agg(pl.col("qty").sum().alias("units")), on="sku")
        .group_by("group")
        .agg(pl.col("units").sum().alias("purchases"))
    )
    cats = _category_of_groups(ins, searches, loose)
    cat_trend = category_trends(ins).unique("category", keep="first", maintain_order=True)
    table = (
        volume.join(trend, on="group", how="left")
        .join(recent, on="group", how="left")
        .join(n_products, on="group", how="left")
        .join(bought, on="group", how="left")
        .join(cats, on="group", how="left")
        .join(
            cat_trend.select("category", pl.col("z").alias("cat_z"), pl.col("p").alias("cat_p"),
                             pl.col("units").alias("cat_units")),
            on="category",
            how="left",
        )
        .with_columns(
            pl.col("products").fill_null(0),
            pl.col("purchases").fill_null(0.0),
            pl.col("cat_z").fill_null(0.0),
        )
        .with_columns(gap=pl.col("searches") / (pl.col("searches") + pl.col("purchases")))
        .sort("group")
    )
    vol_pct = _pct_rank(table["searches"].to_numpy().astype(float))
    z = table["z"].to_numpy()
    rising = np.clip(z / 4.0, 0.0, 1.0)
    divergence = np.clip((z - table["cat_z"].to_numpy()) / 6.0, 0.0, 1.0)
    gap = table["gap"].to_numpy()
    supply = 1.0 / (1.0 + table["products"].to_numpy())
    score = 0.25 * vol_pct + 0.25 * rising + 0.2 * divergence + 0.2 * gap + 0.1 * supply
    score = np.where(z > 0, score, score * 0.3)
    table = table.with_columns(score=pl.Series(score))
    rows = []
    for r in table.iter_rows(named=True):
        cat = r["category"] or ""
        trend_text = _w(
            zh,
            f"搜索 {r['searches']:,} 次（前半段 {r['early']:.0f} → 后半段 {r['late']:.0f}，Mann-Kendall z={r['z']:.2f}, p={r['p']:.3g}）",
            f"{r['searches']:,} searches (first half {r['early']:.0f} → second half {r['late']:.0f}; Mann-Kendall z={r['z']:.2f}, p={r['p']:.3g})",
        )
        supply_text = _w(
            zh,
            f"匹配商品 {r['products']} 个、购买 {r['purchases']:.0f} 件，无供给搜索占比 {r['gap']:.0%}",
            f"{r['products']} matching products, {r['purchases']:.0f} units bought; searches without supply {r['gap']:.0%}",
        )
        cat_text = (
            _w(zh, f"；所属品类「{cat}」销量趋势 z={r['cat_z']:.2f}", f"; category '{cat}' sales trend z={r['cat_z']:.2f}")
            if cat
            else ""
        )
        rows.append(
            {
                "kind": "search_gap",
                "category": cat or None,
                "sku": None,
                "subject": _w(zh, f"满足「{r['example']}」需求的新品", f"a product for '{r['example']}'"),
                "evidence": f"{trend_text}；{supply_text}{cat_text}" if zh else f"{trend_text}; {supply_text}{cat_text}",
                "score": float(r["score"]),
                "segment_id": None,
                "volume": float(r["searches"]),
                "trend_z": float(r["z"]),
                "trend_p": float(r["p"]),
            }
        )
    return _frame(rows), table


# -- rising_demand --------------------------------------------------------------------------------
def rising_demand(ins: Inputs, *, alpha: float = 0.05, min_units: float = 30.0) -> pl.DataFrame:
    """Categories and product attributes whose weekly units rise significantly (Mann-Kendall)."""
    zh = ins.chinese
    trends = category_trends(ins).with_columns(dimension=pl.col("category"), sku_attr=pl.lit(None, pl.String))
    attrs = product_attributes(ins.products)
    if attrs.height and ins.category_levels():
        level = ins.main_level() or ins.category_levels()[0]
        keyed = ins.lines.join(attrs, on="sku").with_columns(
            key=pl.concat_str([pl.col(level).fill_null(""), "attribute", "value"], separator="|")
        )
        keys, _, matrix = dense_weekly(keyed, "key", "qty", ins.start, ins.end)
        if keys:
            res = mann_kendall(matrix)
            mean = matrix.mean(axis=1)
            parts = [k.split("|", 2) for k in keys]
            attr_trends = pl.DataFrame(
                {
                    "level": "attribute",
                    "category": [p[0] for p in parts],
                    "units": matrix.sum(axis=1),
                    "weeks": matrix.shape[1],
                    "z": res.z,
                    "p": res.p,
                    "growth": np.where(mean > 0, res.sen_slope * matrix.shape[1] / np.maximum(mean, 1e-9), 0.0),
                    "dimension": [f"{p[1]}={p[2]}" for p in parts],
                    "sku_attr": [f"{p[1]}={p[2]}" for p in parts],
                }
            )
            trends = pl.concat([trends, attr_trends], how="vertical_relaxed")
    sig = trends.filter((pl.col("p") < alpha) & (pl.col("z") > 0) & (pl.col("units") >= min_units)).sort(
        "level", "category", "dimension"
    )
    rows = []
    for r in sig.iter_rows(named=True):
        growth = max(r["growth"], 0.0)
        score = 0.6 * (1 - r["p"]) * min(1.0, growth / 2.0) + 0.1
        what = r["dimension"] if r["level"] != "attribute" else f"{r['category']} {r['dimension']}"
        rows.append(
            {
                "kind": "rising_demand",
                "category": r["category"] or None,
                "sku": None,
                "subject": _w(zh, f"扩充「{what}」", f"more of '{what}'"),
                "evidence": _w(
                    zh,
                    f"{r['weeks']} 周销量 {r['units']:,.0f} 件，增长 {growth:+.0%}（Sen 斜率），Mann-Kendall z={r['z']:.2f}, p={r['p']:.3g}",
                    f"{r['units']:,.0f} units over {r['weeks']} weeks, growth {growth:+.0%} (Sen slope), Mann-Kendall z={r['z']:.2f}, p={r['p']:.3g}",
                ),
                "score": float(score),
                "segment_id": None,
                "volume": float(r["units"]),
                "trend_z": float(r["z"]),
                "trend_p": float(r["p"]),
            }
        )
    return _frame(rows)


# -- price_band ----------------------------------------------------------------------------------
def _nice(x: float) -> float:
    if x <= 0 or not math.isfinite(x):
        return 0.0
    mag = 10 ** (math.floor(math.log10(x)) - 1)
    return float(round(x / mag) * mag)


def buyer_traits(ins: Inputs) -> pl.DataFrame:
    """Long (user_id, trait, value) portrait: generation, gender, city tier, lifestyle, motive."""
    frames = []
    if ins.customers is not None:
        c = ins.customers
        if "birth_year" in c.columns:
            gen = (pl.col("birth_year").cast(pl.Int32) // 10 % 10 * 10).cast(pl.String)
            frames.append(
                c.filter(pl.col("birth_year").is_not_null()).select(
                    "user_id", pl.lit("generation").alias("trait"),
                    pl.when(pl.col("birth_year") >= 2000).then(pl.lit("00后")).otherwise(gen + "后").alias("value"),
                )
            )
        elif "age_band" in c.columns:
            frames.append(c.select("user_id", pl.lit("age_band").alias("trait"), pl.col("age_band").cast(pl.String).alias("value")))
        for col in ("gender", "city_tier", "income_band"):
            if col in c.columns:
                frames.append(c.select("user_id", pl.lit(col).alias("trait"), pl.col(col).cast(pl.String).alias("value")))
    if ins.tags is not None and {"family", "tag"} <= set(ins.tags.columns):
        t = ins.tags.filter(pl.col("family").is_in(["lifestyle", "motive"]))
        if "score" in t.columns:
            t = t.filter(pl.col("score") >= 0.5)
        frames.append(t.select("user_id", pl.col("family").alias("trait"), pl.col("tag").cast(pl.String).alias("value")))
    if not frames:
        return pl.DataFrame(schema={"user_id": pl.String, "trait": pl.String, "value": pl.String})
    return pl.concat(frames).filter(pl.col("value").is_not_null()).unique()


def price_bands(ins: Inputs, *, bands: int = 5, min_buyers: int = 30) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Per category: price bands, their demand vs supply, and the over-indexed buyer portrait.

    Returns (opportunities, band table, portrait table with lift and 95% CI).
    """
    zh = ins.chinese
    level = ins.main_level()
    if level is None:
        return empty_opportunities(), pl.DataFrame(), pl.DataFrame()
    lines = ins.lines.filter(pl.col(level).is_not_null() & (pl.col("unit_price") > 0)).with_columns(
        category=pl.col(level)
    )
    qs = [i / bands for i in range(1, bands)]
    edges = lines.group_by("category").agg(
        [pl.col("unit_price").quantile(q, interpolation="linear").alias(f"e{i}") for i, q in enumerate(qs)]
    ).sort("category")
    edge_rows = {}
    for r in edges.iter_rows(named=True):
        cut = sorted({_nice(r[f"e{i}"]) for i in range(len(qs))} - {0.0})
        edge_rows[r["category"]] = cut
    band_frame = pl.DataFrame(
        [
            {"category": c, "band": i, "low": lo, "high": hi}
            for c, cut in sorted(edge_rows.items())
            for i, (lo, hi) in enumerate(zip([0.0, *cut], [*cut, float("inf")], strict=True))
        ],
        schema={"category": pl.String, "band": pl.Int32, "low": pl.Float64, "high": pl.Float64},
    )
    if band_frame.height == 0:
        return empty_opportunities(), pl.DataFrame(), pl.DataFrame()
    banded = lines.join(band_frame, on="category").filter(
        (pl.col("unit_price") >= pl.col("low")) & (pl.col("unit_price") < pl.col("high"))
    )
    sku_price = banded.group_by("category", "sku").agg(pl.col("unit_price").median().alias("price"))
    supply = (
        sku_price.join(band_frame, on="category")
        .filter((pl.col("price") >= pl.col("low")) & (pl.col("price") < pl.col("high")))
        .group_by("category", "band")
        .agg(pl.col("sku").n_unique().alias("skus"))
    )
    demand = banded.group_by("category", "band", "low", "high").agg(
        pl.col("qty").sum().alias("units"), pl.col("user_id").n_unique().alias("buyers")
    )
    table = (
        demand.join(supply, on=["category", "band"], how="left")
        .with_columns(pl.col("skus").fill_null(0))
        .with_columns(
            unit_share=pl.col("units") / pl.col("units").sum().over("category"),
            sku_share=pl.col("skus") / pl.col("skus").sum().over("category"),
        )
        .with_columns(thinness=pl.col("unit_share") / pl.col("sku_share").clip(lower_bound=1e-9))
        .sort("category", "band")
    )
    traits = buyer_traits(ins)
    portrait = pl.DataFrame()
    if traits.height:
        cat_buyers = banded.select("category", "user_id").unique()
        band_buyers = banded.select("category", "band", "user_id").unique()
        cat_n = cat_buyers.join(traits.select("user_id", "trait").unique(), on="user_id").group_by(
            "category", "trait"
        ).agg(pl.len().alias("n_cat"))
        cat_k = cat_buyers.join(traits, on="user_id").group_by("category", "trait", "value").agg(
            pl.len().alias("k_cat")
        )
        band_n = band_buyers.join(traits.select("user_id", "trait").unique(), on="user_id").group_by(
            "category", "band", "trait"
        ).agg(pl.len().alias("n_band"))
        band_k = band_buyers.join(traits, on="user_id").group_by("category", "band", "trait", "value").agg(
            pl.len().alias("k_band")
        )
        portrait = (
            band_k.join(band_n, on=["category", "band", "trait"])
            .join(cat_k, on=["category", "trait", "value"])
            .join(cat_n, on=["category", "trait"])
            .filter(pl.col("n_band") >= min_buyers)
            .with_columns(
                p_band=pl.col("k_band") / pl.col("n_band"), p_cat=pl.col("k_cat") / pl.col("n_cat")
            )
            .with_columns(lift=pl.col("p_band") / pl.col("p_cat"))
            .with_columns(
                se=(1 / pl.col("k_band") - 1 / pl.col("n_band") + 1 / pl.col("k_cat") - 1 / pl.col("n_cat"))
                .clip(lower_bound=0)
                .sqrt()
            )
            .with_columns(
                lift_lo=pl.col("lift") * (-1.96 * pl.col("se")).exp(),
                lift_hi=pl.col("lift") * (1.96 * pl.col("se")).exp(),
            )
            .sort("category", "band", "trait", "value")
        )
    rows = []
    for r in table.filter(pl.col("buyers") >= min_buyers).iter_rows(named=True):
        over = pl.DataFrame()
        if portrait.height:
            over = portrait.filter(
                (pl.col("category") == r["category"]) & (pl.col("band") == r["band"]) & (pl.col("lift_lo") > 1.0)
            ).sort(["lift", "value"], descending=[True, False]).head(3)
        traits_text = "、".join(f"{o['value']}（×{o['lift']:.2f} [{o['lift_lo']:.2f}, {o['lift_hi']:.2f}]）" for o in over.iter_rows(named=True)) if zh else ", ".join(
            f"{o['value']} (×{o['lift']:.2f} [{o['lift_lo']:.2f}, {o['lift_hi']:.2f}])" for o in over.iter_rows(named=True)
        )
        thin = r["thinness"] if math.isfinite(r["thinness"]) else 10.0
        portrait_strength = min(1.0, over.height / 3) * (min(1.0, (over["lift"].max() - 1.0)) if over.height else 0.0)  # type: ignore[operator]
        score = 0.35 * min(1.0, max(0.0, math.log2(max(thin, 1e-9))) / 2.0) + 0.25 * portrait_strength + 0.1 * min(1.0, r["unit_share"] * 3)
        hi = "∞" if not math.isfinite(r["high"]) else f"{r['high']:g}"
        band_text = f"{r['low']:g}–{hi}"
        rows.append(
            {
                "kind": "price_band",
                "category": r["category"],
                "sku": None,
                "subject": _w(zh, f"「{r['category']}」{band_text} 元价位段", f"'{r['category']}' priced {band_text}"),
                "evidence": _w(
                    zh,
                    f"该价位段占销量 {r['unit_share']:.0%}、商品数 {r['sku_share']:.0%}（需求/供给 {thin:.2f}），买家 {r['buyers']:,} 人"
                    + (f"；偏好人群：{traits_text}" if traits_text else ""),
                    f"band has {r['unit_share']:.0%} of units but {r['sku_share']:.0%} of products (demand/supply {thin:.2f}), {r['buyers']:,} buyers"
                    + (f"; over-indexed: {traits_text}" if traits_text else ""),
                ),
                "score": float(score),
                "segment_id": None,
                "volume": float(r["units"]),
                "trend_z": None,
                "trend_p": None,
            }
        )
    return _frame(rows), table, portrait


# -- attribute_gap --------------------------------------------------------------------------------
def attribute_gap(ins: Inputs, search_table: pl.DataFrame, *, min_searches: int = 20) -> pl.DataFrame:
    """Searched words that no product of the searched category carries (name or attributes)."""
    zh = ins.chinese
    if search_table.height == 0 or ins.products is None:
        return empty_opportunities()
    ptext = product_text(ins.products)
    levels = [c for c in ins.category_levels() if c in ins.products.columns]
    words = (
        search_table.select("group", "category", "searches")
        .with_columns(word=pl.col("group").str.split(" "))
        .explode("word")
        .group_by("category", "word")
        .agg(pl.col("searches").sum())
        .filter(pl.col("searches") >= min_searches)
        .sort("category", "word", nulls_last=True)
    )
    rows = []
    for r in words.iter_rows(named=True):
        scope = ptext
        if r["category"] is not None and levels:
            in_cat = ins.products.filter(pl.any_horizontal(pl.col(c) == r["category"] for c in levels)).select("sku")
            if in_cat.height == 0:
                continue
            scope = ptext.join(in_cat, on="sku")
            if r["category"].lower() in r["word"] or r["word"] in r["category"].lower():
                continue
        carrying = scope.filter(pl.col("text").str.contains(r["word"], literal=True)).height
        if carrying:
            continue
        rows.append(
            {
                "kind": "attribute_gap",
                "category": r["category"],
                "sku": None,
                "subject": _w(zh, f"加入「{r['word']}」属性", f"add '{r['word']}'"),
                "evidence": _w(
                    zh,
                    f"含「{r['word']}」的搜索 {r['searches']:,} 次，品类内 {scope.height} 个商品均无此属性",
                    f"{r['searches']:,} searches mention '{r['word']}'; none of the category's {scope.height} products has it",
                ),
                "score": 0.0,
                "segment_id": None,
                "volume": float(r["searches"]),
                "trend_z": None,
                "trend_p": None,
            }
        )
    frame = _frame(rows)
    if frame.height:
        frame = frame.with_columns(score=pl.Series(0.15 + 0.45 * _pct_rank(frame["volume"].to_numpy())))
    return frame


# -- festival ------------------------------------------------------------------------------------
def festival_uplift(ins: Inputs, *, baseline_days: int = 28) -> pl.DataFrame:
    """Per category and festival: mean daily units on festival days ÷ the 28 days before."""
    levels = ins.category_levels()
    empty = pl.DataFrame(
        schema={"category": pl.String, "festival": pl.String, "uplift": pl.Float64, "years": pl.UInt32,
                "festival_units": pl.Float64, "baseline_units": pl.Float64}
    )
    level = ins.main_level()
    if not levels or level is None:
        return empty
    days = festival_days(ins.start, ins.end, market="cn").with_columns(year=pl.col("date").dt.year())
    if days.height == 0:
        return empty
    windows = days.group_by("festival", "year").agg(pl.col("date").min().alias("first"), pl.col("date").max().alias("last"))
    daily = ins.lines.filter(pl.col(level).is_not_null()).group_by(pl.col(level).alias("category"), "date").agg(
        pl.col("qty").sum().alias("units")
    )
    cats = daily.select("category").unique()
    all_days = pl.DataFrame({"date": pl.date_range(ins.start, ins.end, interval="1d", eager=True)})
    dense = cats.join(all_days, how="cross").join(daily, on=["category", "date"], how="left").with_columns(
        pl.col("units").fill_null(0.0)
    )
    festival_any = days.select("date").unique().with_columns(in_festival=pl.lit(True))
    dense = dense.join(festival_any, on="date", how="left").with_columns(pl.col("in_festival").fill_null(False))
    win = windows.with_columns(base_first=pl.col("first") - pl.duration(days=baseline_days)).filter(
        pl.col("base_first") >= ins.start
    )
    fest = (
        dense.join(days.select("date", "festival", "year"), on="date")
        .group_by("category", "festival", "year")
        .agg(pl.col("units").mean().alias("festival_units"))
    )
    base = (
        dense.filter(~pl.col("in_festival"))
        .join(win, how="cross")
        .filter((pl.col("date") >= pl.col("base_first")) & (pl.col("date") < pl.col("first")))
        .group_by("category", "festival", "year")
        .agg(pl.col("units").mean().alias("baseline_units"))
    )
    return (
        fest.join(base, on=["category", "festival", "year"])
        .group_by("category", "festival")
        .agg(
            pl.col("festival_units").mean(),
            pl.col("baseline_units").mean(),
            pl.len().cast(pl.UInt32).alias("years"),
        )
        .with_columns(uplift=pl.col("festival_units") / pl.col("baseline_units").clip(lower_bound=1e-9))
        .filter(pl.col("baseline_units") > 0)
        .select(empty.columns)
        .sort("category", "festival")
    )


def festival_opportunities(ins: Inputs, uplift: pl.DataFrame, *, min_uplift: float = 1.3) -> pl.DataFrame:
    zh = ins.chinese
    rows = []
    for r in uplift.filter(pl.col("uplift") >= min_uplift).iter_rows(named=True):
        rows.append(
            {
                "kind": "festival",
                "category": r["category"],
                "sku": None,
                "subject": _w(zh, f"在{r['festival']}前上新「{r['category']}」", f"launch '{r['category']}' before {r['festival']}"),
                "evidence": _w(
                    zh,
                    f"{r['festival']}期间日均销量 {r['festival_units']:.1f} 件，为节前 28 天的 {r['uplift']:.2f} 倍（{r['years']} 年）",
                    f"{r['festival']} days sell {r['festival_units']:.1f} units/day, ×{r['uplift']:.2f} the 28 days before ({r['years']} year(s))",
                ),
                "score": float(min(0.55, 0.1 + 0.15 * math.log2(r["uplift"]))),
                "segment_id": None,
                "volume": float(r["festival_units"]),
                "trend_z": None,
                "trend_p": None,
            }
        )
    return _frame(rows)
