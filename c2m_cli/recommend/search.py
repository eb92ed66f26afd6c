"""search_gap and attribute_gap: needs searched for that the category's products do not serve.

One opportunity per need (see ``needs``). A need whose queries stand alone (游戏本) is a
*search_gap*: a product to build; a need whose queries modify a category word (无谷 in 无谷猫粮)
is an *attribute_gap*: an attribute the category's products lack. A need is a gap when no product
of its category carries its phrase (name, category names or attributes) or when its searches
outnumber the purchases of the products that do. Brand queries (立白洗衣液) are brand demand,
reported as such, never a new product.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl

from c2m_cli.recommend import scoring, wording
from c2m_cli.recommend.data import Inputs, complete_weeks, dense_weekly, product_text
from c2m_cli.recommend.needs import NeedOptions, group_needs, query_table
from c2m_cli.recommend.trends import half_growth, mann_kendall


@dataclass
class SearchResult:
    needs: pl.DataFrame  # one row per need with trend statistics (trend_q filled later)
    queries: pl.DataFrame  # one row per query with its need
    brand_demand: pl.DataFrame  # category, brand, searches, queries
    weekly: np.ndarray  # needs × weeks (festival-adjusted)
    searches: pl.DataFrame  # one row per search: user_id, week, norm, need, category


def analyse(ins: Inputs, vocab: object, factors: np.ndarray | None, *, min_searches: int = 20,
            opts: NeedOptions | None = None) -> SearchResult:
    """Queries → needs, with volume, trend test, supply and purchases of each need."""
    opts = opts or NeedOptions()
    assert ins.events is not None
    level = ins.main_level()
    queries, searches, clicks = query_table(ins.events, vocab, ins.products, level, opts)  # type: ignore[arg-type]
    queries = group_needs(queries, clicks, opts)
    brand = (
        queries.filter((pl.col("core") == "") & (pl.col("brands").list.len() > 0))
        .explode("brands")
        .group_by("category", pl.col("brands").alias("brand"))
        .agg(pl.col("searches").sum().cast(pl.Int64), pl.col("query").sort().alias("queries"))
        .sort(["searches", "brand"], descending=[True, False])
    )
    per_need = (
        queries.filter(pl.col("need").is_not_null())
        .group_by("need")
        .agg(
            pl.col("category").first(),
            pl.col("query").sort_by("searches", descending=True).first().alias("representative"),
            pl.col("variants").first(),
            pl.col("searches").sum().cast(pl.Float64).alias("volume"),
            pl.col("phrases").list.explode(keep_nulls=False, empty_as_null=False).unique().sort().alias("phrases"),
            # share of the need's searches that name a category word too (modifier vs product)
            ((pl.col("category_words").list.len() > 0).cast(pl.Float64) * pl.col("searches")).sum().alias("_mod"),
        )
        .with_columns(modifier=pl.col("_mod") / pl.col("volume"))
        .filter(pl.col("volume") >= min_searches)
        .sort("need")
    )
    if per_need.height == 0:
        return SearchResult(per_need, queries, brand, np.zeros((0, 0)), pl.DataFrame())
    need_of = queries.select(pl.col("query").alias("norm"), "need", pl.col("category").alias("q_category"))
    tz = ins.timezone
    every = searches.join(need_of, on="norm", how="left").with_columns(
        week=pl.col("ts").dt.convert_time_zone(tz).dt.date().dt.truncate("1w"), one=pl.lit(1.0)
    ).select(*[c for c in ("user_id",) if c in searches.columns], "week", "norm", "need", "q_category", "one")
    s = every.filter(pl.col("need").is_in(per_need["need"].implode()))
    keys, weeks, matrix = dense_weekly(s, "need", "one", ins.start, ins.end)
    if factors is not None and factors.size == matrix.shape[1]:
        matrix = matrix / factors[None, :]
    tested = matrix[:, complete_weeks(weeks, ins.start, ins.end)]  # partial first/last weeks left out
    res = mann_kendall(tested)
    growth, days = half_growth(tested)
    trend = pl.DataFrame({"need": keys, "trend_z": res.z, "trend_p": res.p, "growth": growth,
                          "growth_days": np.full(len(keys), days)})
    # supply: products of the need's category whose text carries one of its phrases
    ptext = product_text(ins.products)
    cat_of = _category_of_products(ins)
    units = ins.sku_table().select("sku", "units")
    pairs = per_need.select("need", "category", "phrases").explode("phrases").drop_nulls("phrases")
    cand = ptext.join(cat_of, on="sku", how="left")
    matches = (
        pairs.join(cand, on="category", how="left")
        .filter(pl.col("text").str.contains(pl.col("phrases"), literal=True))
        .select("need", "sku").unique()
    )
    supply = matches.join(units, on="sku", how="left").group_by("need").agg(
        pl.col("sku").n_unique().alias("products"), pl.col("units").fill_null(0).sum().alias("purchases")
    )
    needs = (
        per_need.join(trend, on="need", how="left")
        .join(supply, on="need", how="left")
        .with_columns(pl.col("products").fill_null(0), pl.col("purchases").fill_null(0.0))
        .with_columns(gap=pl.col("volume") / (pl.col("volume") + pl.col("purchases")))
        .sort("need")
    )
    order = {k: i for i, k in enumerate(keys)}
    weekly = matrix[[order[n] for n in needs["need"].to_list()]] if keys else np.zeros((0, 0))
    return SearchResult(needs, queries, brand, weekly, every.rename({"q_category": "category"}))


def _category_of_products(ins: Inputs) -> pl.DataFrame:
    level = ins.main_level()
    if ins.products is None or level is None or level not in ins.products.columns:
        return pl.DataFrame(schema={"sku": pl.String, "category": pl.String})
    return ins.products.select(pl.col("sku").cast(pl.String), pl.col(level).cast(pl.String).alias("category"))


def opportunities(result: SearchResult, zh: bool, *, alpha: float = 0.05) -> pl.DataFrame:
    """search_gap / attribute_gap rows (one per need that is a gap)."""
    needs = result.needs
    if needs.height == 0:
        return scoring.empty()
    gaps = needs.filter((pl.col("products") == 0) | (pl.col("gap") >= 0.5))
    if gaps.height == 0:
        return scoring.empty()
    vol = scoring.pct_rank(gaps["volume"].to_numpy().astype(float))
    rows = []
    for i, r in enumerate(gaps.iter_rows(named=True)):
        kind = "attribute_gap" if r["modifier"] >= 0.5 else "search_gap"
        phrase = r["representative"] if kind == "search_gap" else (r["phrases"][0] if r["phrases"] else r["representative"])
        cat = r["category"]
        q = r.get("trend_q")
        trend = wording.trend_words(r["trend_z"], q if q is not None else r["trend_p"], r["growth"], int(r["growth_days"]), zh)
        if zh:
            subject = f"满足「{phrase}」需求的新品" if kind == "search_gap" else f"为「{cat}」加入「{phrase}」"
            supply = (f"品类内无商品提供「{phrase}」" if r["products"] == 0
                      else f"提供「{phrase}」的商品 {r['products']} 个，仅售出 {r['purchases']:,.0f} 件")
            ev = wording.join([f"搜索 {r['volume']:,.0f} 次", trend, supply,
                               f"同义搜索：{wording.items(r['variants'], zh)}" if r["variants"] else ""], zh)
        else:
            subject = f"a product for '{phrase}'" if kind == "search_gap" else f"add '{phrase}' to '{cat}'"
            supply = (f"no product of the category offers '{phrase}'" if r["products"] == 0
                      else f"{r['products']} products offer '{phrase}', {r['purchases']:,.0f} units sold")
            ev = wording.join([f"{r['volume']:,.0f} searches", trend, supply,
                               f"same need searched as: {wording.items(r['variants'], zh)}" if r["variants"] else ""], zh)
        z = float(r["trend_z"] or 0.0)
        sig = 1.0 if (q is not None and q < alpha and z > 0) else 0.0
        rows.append({
            "kind": kind, "category": cat, "sku": None, "subject": subject, "evidence": ev,
            "variants": list(r["variants"] or []), "need": r["need"], "volume": r["volume"],
            "trend_z": r["trend_z"], "trend_p": r["trend_p"], "trend_q": q, "growth": r["growth"],
            "c_volume": float(vol[i]), "c_rising": max(0.0, min(1.0, z / 4.0)), "c_significant": sig,
            "c_gap": float(r["gap"]), "c_supply": 1.0 / (1.0 + r["products"]),
        })
    return scoring.frame(rows)


def search_volume_by_need(result: SearchResult, end: dt.date, weeks: int) -> dict[str, float]:
    """Searches of each need over its last ``weeks`` weeks (festival-adjusted)."""
    if result.weekly.size == 0:
        return {}
    recent = result.weekly[:, -weeks:].sum(axis=1)
    return dict(zip(result.needs["need"].to_list(), recent.tolist(), strict=True))
