"""price_band: price bands of a category, on paid prices on both sides, with a buyer portrait.

A product's price is the median price its buyers paid; bands are cut at unit-weighted quintiles
of those prices (rounded to two significant digits), so every band holds products and a
discount cannot create a band of demand without supply. A band's demand is the units of its
products; shares are smoothed (half a product, and half an average product's units, per band).
A band's buyers are compared with the buyers of the rest of its category, trait by trait
(generation, gender, city tier, income, lifestyle and motive tags): the relative risk with a 95 %
interval on the log scale. A band ranks by its size and by how distinct its portrait is (the
lower bound of its strongest over-indexed trait), not by thinness alone.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl

from c2m_cli.recommend import scoring, wording
from c2m_cli.recommend.data import Inputs, in_part

# a paid unit price below one minor currency unit (a cent, a fen) is no shelf price: the line's
# quantity measures something else (fuel volume, coupon points), so the product gets no band
MIN_PRICE = 0.01
# a category's bands need at least this many products with a real price, over this many paid lines
MIN_PRODUCTS = 2
MIN_LINES = 30

# a portrait whose strongest trait value differs from the rest of the category by this much in
# share (e.g. 70 % of the band's buyers against 20 % of the others) counts as fully distinct
DISTINCT_FULL = 0.5
# the tag families a buyer portrait reads (tags.parquet's others are not traits of a buyer)
TAG_FAMILIES = ("lifestyle", "motive")


def _nice(x: float) -> float:
    if x <= 0 or not math.isfinite(x):
        return 0.0
    mag = 10 ** (math.floor(math.log10(x)) - 1)
    return float(round(x / mag) * mag)


def buyer_traits(ins: Inputs) -> pl.DataFrame:
    """Long (user_id, trait, value): generation, gender, city tier, income, lifestyle, motive (once per run)."""
    if "buyer_traits" not in ins._cache:
        ins._cache["buyer_traits"] = _buyer_traits(ins)
    return ins._cache["buyer_traits"]  # type: ignore[no-any-return]


def _buyer_traits(ins: Inputs) -> pl.DataFrame:
    frames = []
    if ins.customers is not None:
        c = ins.customers.with_columns(pl.col("user_id").cast(pl.String))
        if "birth_year" in c.columns:
            gen = (pl.col("birth_year").cast(pl.Int32) // 10 % 10 * 10).cast(pl.String)
            frames.append(c.filter(pl.col("birth_year").is_not_null()).select(
                "user_id", pl.lit("generation").alias("trait"),
                pl.when(pl.col("birth_year") >= 2000).then(pl.lit("00后")).otherwise(gen + "后").alias("value")))
        elif "age_band" in c.columns:
            frames.append(c.select("user_id", pl.lit("age_band").alias("trait"), pl.col("age_band").cast(pl.String).alias("value")))
        for col in ("gender", "city_tier", "income_band"):
            if col in c.columns:
                frames.append(c.select("user_id", pl.lit(col).alias("trait"), pl.col(col).cast(pl.String).alias("value")))
    if ins.tags is not None and {"family", "tag", "user_id"} <= set(ins.tags.columns):
        t = ins.tags.filter(pl.col("family").is_in(list(TAG_FAMILIES)))
        if "score" in t.columns:
            t = t.filter(pl.col("score") >= 0.5)
        frames.append(t.select(pl.col("user_id").cast(pl.String), pl.col("family").alias("trait"), pl.col("tag").cast(pl.String).alias("value")))
    if not frames:
        return pl.DataFrame(schema={"user_id": pl.String, "trait": pl.String, "value": pl.String})
    return pl.concat(frames).filter(pl.col("value").is_not_null()).unique().sort("user_id", "trait", "value")


def _user_band(ins: Inputs, sku_band: pl.DataFrame, part: tuple[int, int]) -> pl.DataFrame:
    """(category, user_id, band): units with a positive quantity (q_pos), paid units and lines
    (q_paid, n_paid) of each buyer of user partition ``part`` in each band."""
    return (ins.user_sku(part).join(sku_band.lazy().select("category", "sku", "band"), on="sku")
            .group_by("category", "user_id", "band").agg(pl.col("q_pos", "q_paid", "n_paid").sum())
            .collect(engine="streaming"))


def _band_sums(ins: Inputs, sku_band: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """Sums over buyers that the bands and their portraits read, one user partition at a time
    (``Inputs.user_parts``) and added up, so no per-buyer table of the whole shop is held:
    ``buyers`` (category, band: paid units, buyers who paid in it) and, when buyers have traits,
    the portrait's ``trait`` (category, band, trait: Σf, Σf², buyers in it, buyers wholly in it),
    ``value`` (category, band, trait, value: Σf), ``known`` (category, trait: buyers with the trait
    known) and ``valued`` (category, trait, value: buyers with that value). Computed once per ``sku_band``."""
    cached = ins._cache.get("band_sums")
    if cached is not None and cached[0] is sku_band:
        return cached[1]  # type: ignore[no-any-return]
    traits = buyer_traits(ins)
    n = ins.user_parts()
    parts: dict[str, list[pl.DataFrame]] = {"buyers": [], "trait": [], "value": [], "known": [], "valued": []}
    for k in range(n):
        ub_all = _user_band(ins, sku_band, (k, n))
        parts["buyers"].append(ub_all.filter(pl.col("n_paid") > 0).group_by("category", "band")
                               .agg(pl.col("q_paid").sum().alias("units"), pl.len().alias("buyers")))
        if traits.height == 0:
            continue
        own = traits.filter(in_part("user_id", (k, n))) if n > 1 else traits
        # a buyer without any known trait weighs in no share: only buyers with traits are kept
        ub = (ub_all.filter(pl.col("q_pos") > 0).join(own.select("user_id").unique(), on="user_id", how="semi")
              .select("category", "user_id", "band", pl.col("q_pos").alias("qty")))
        del ub_all
        tot = ub.group_by("category", "user_id").agg(pl.col("qty").sum().alias("tot")).filter(pl.col("tot") > 0)
        w = (ub.join(tot, on=["category", "user_id"])
             .with_columns(f=(pl.col("qty") / pl.col("tot")).clip(0.0, 1.0))
             .select("category", "band", "user_id", "f"))
        known = own.select("user_id", "trait").unique()
        users = tot.select("category", "user_id")
        parts["known"].append(users.join(known, on="user_id").group_by("category", "trait").agg(pl.len().alias("_n")))
        parts["valued"].append(users.join(own, on="user_id").group_by("category", "trait", "value").agg(pl.len().alias("_m")))
        parts["trait"].append(w.join(known, on="user_id").group_by("category", "band", "trait")
                              .agg(w1=pl.col("f").sum(), s1=(pl.col("f") ** 2).sum(), n_band=(pl.col("f") > 0).sum(),
                                   _full=(pl.col("f") >= 1).sum()))
        parts["value"].append(w.join(own, on="user_id").group_by("category", "band", "trait", "value").agg(k1=pl.col("f").sum()))
    keys = {"buyers": ["category", "band"], "trait": ["category", "band", "trait"], "value": ["category", "band", "trait", "value"],
            "known": ["category", "trait"], "valued": ["category", "trait", "value"]}
    sums = {name: pl.concat(frames).group_by(keys[name]).agg(pl.all().sum()) for name, frames in parts.items() if frames}
    ins._cache["band_sums"] = (sku_band, sums)
    return sums


def band_support(ins: Inputs, *, min_price: float = MIN_PRICE, min_products: int = MIN_PRODUCTS,
                 min_lines: int = MIN_LINES) -> pl.DataFrame:
    """Per category (main level): its sold products, those with a real price (median paid unit
    price ≥ ``min_price``), those priced below it, their paid lines, and ``known``: whether the
    category has ``min_products`` really priced products over ``min_lines`` paid lines."""
    level = ins.main_level()
    schema = {"category": pl.String, "products": pl.UInt32, "priced": pl.UInt32, "below_min": pl.UInt32,
              "priced_lines": pl.UInt32, "known": pl.Boolean}
    if level is None:
        return pl.DataFrame(schema=schema)
    paid = pl.col("paid_lines") > 0
    real = paid & (pl.col("price") >= min_price)
    return (
        ins.sku_table().filter(pl.col(level).is_not_null())
        .group_by(pl.col(level).alias("category"))
        .agg(products=pl.len(), priced=real.sum(), below_min=(paid & (pl.col("price") < min_price)).sum(),
             priced_lines=pl.col("paid_lines").filter(real).sum().cast(pl.UInt32))
        .with_columns(known=(pl.col("priced") >= min_products) & (pl.col("priced_lines") >= min_lines))
        .select(list(schema)).sort("category")
    )


def band_table(ins: Inputs, *, bands: int = 5, min_price: float = MIN_PRICE, min_products: int = MIN_PRODUCTS,
               min_lines: int = MIN_LINES) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(bands, sku_band): per category and band its products, units, buyers and smoothed shares.

    Only products with a real price count (see ``band_support``); a category without enough of
    them has no bands (its price bands are unknown)."""
    level = ins.main_level()
    empty = pl.DataFrame()
    if level is None:
        return empty, empty
    known = band_support(ins, min_price=min_price, min_products=min_products, min_lines=min_lines).filter("known")
    # a product's price: the median over its lines with a positive price and quantity (sku_table)
    sku = (ins.sku_table().filter(pl.col(level).is_not_null() & (pl.col("paid_lines") > 0) & (pl.col("price") >= min_price))
           .select(pl.col(level).alias("category"), "sku", "price", pl.col("paid_units").alias("units"))
           .join(known.select("category"), on="category"))
    rows = []
    for (cat,), g in sku.sort("category", "price", "sku").group_by(["category"], maintain_order=True):
        prices, units = g["price"].to_numpy(), g["units"].to_numpy().astype(float)
        cum = np.cumsum(units) / max(units.sum(), 1e-12)
        cuts: list[float] = []
        for q in [i / bands for i in range(1, bands)]:
            k = int(np.searchsorted(cum, q))
            if k + 1 < prices.size:
                edge = _nice((prices[k] + prices[k + 1]) / 2)
                if edge > prices[0] and (not cuts or edge > cuts[-1] * 1.1):
                    cuts.append(edge)
        for i, (lo, hi) in enumerate(zip([0.0, *cuts], [*cuts, math.inf], strict=True)):
            rows.append({"category": str(cat), "band": i, "low": lo, "high": hi})
    edges = pl.DataFrame(rows, schema={"category": pl.String, "band": pl.Int32, "low": pl.Float64, "high": pl.Float64})
    sku_band = sku.join(edges, on="category").filter((pl.col("price") >= pl.col("low")) & (pl.col("price") < pl.col("high"))).select(
        "category", "sku", "band", "price")
    # every product of a band has paid lines: its products are its SKUs; its buyers, who paid in it
    buyers = (_band_sums(ins, sku_band)["buyers"]
              .join(sku_band.group_by("category", "band").agg(pl.len().alias("skus")), on=["category", "band"]))
    table = (
        edges.join(buyers, on=["category", "band"], how="inner")
        .with_columns(
            n_bands=pl.len().over("category"),
            u_tot=pl.col("units").sum().over("category"),
            s_tot=pl.col("skus").sum().over("category"),
        )
        .with_columns(a_u=0.5 * pl.col("u_tot") / pl.col("s_tot"))
        .with_columns(
            unit_share=(pl.col("units") + pl.col("a_u")) / (pl.col("u_tot") + pl.col("a_u") * pl.col("n_bands")),
            sku_share=(pl.col("skus") + 0.5) / (pl.col("s_tot") + 0.5 * pl.col("n_bands")),
        )
        .with_columns(thinness=pl.col("unit_share") / pl.col("sku_share"))
        .drop("a_u", "u_tot", "s_tot", "n_bands")
        .sort("category", "band")
    )
    return table, sku_band


def portraits(ins: Inputs, sku_band: pl.DataFrame, *, min_buyers: int = 30) -> pl.DataFrame:
    """Per (category, band, trait, value): the share among the band's buyers against the share
    among the rest of the category's buyers, its relative risk ``lift`` with a 95 % interval, and
    the trait's ``distinct`` (largest gap in share over its values, less the sampling gap).

    Each buyer of the category counts in the band by the share f of their units of the category
    bought in it, and in the rest by 1 − f: a heavy buyer spread over every band weighs the same
    on both sides, so traits that merely follow how much someone buys (tags) do not pass for a
    portrait. Intervals use the effective sample sizes of those weights.
    """
    traits = buyer_traits(ins)
    level = ins.main_level()
    if traits.height == 0 or sku_band.height == 0 or level is None:
        return pl.DataFrame()
    # f > 0 only where a buyer bought in the band: the sums over the category's other buyers
    # (f = 0) follow from counts — Σ(1 − f) = N − Σf, Σ(1 − f)² = N − 2Σf + Σf²
    sums = _band_sums(ins, sku_band)
    if "trait" not in sums:
        return pl.DataFrame()
    n_known = sums["known"].select("category", "trait", pl.col("_n").cast(pl.Float64))
    n_value = sums["valued"].select("category", "trait", "value", pl.col("_m").cast(pl.Float64))
    per_trait = (
        sums["trait"].join(n_known, on=["category", "trait"])
        .select("category", "band", "trait", "w1", w0=pl.col("_n") - pl.col("w1"), s1="s1",
                s0=pl.col("_n") - 2 * pl.col("w1") + pl.col("s1"), n_band="n_band",
                n_rest=(pl.col("_n") - pl.col("_full")).cast(pl.UInt32))
    )
    k1 = sums["value"]
    per_value = (
        per_trait.select("category", "band", "trait").join(n_value, on=["category", "trait"])
        .join(k1, on=["category", "band", "trait", "value"], how="left")
        .with_columns(pl.col("k1").fill_null(0.0))
        .select("category", "band", "trait", "value", "k1", k0=pl.col("_m") - pl.col("k1"))
    )
    return (
        per_value.join(per_trait, on=["category", "band", "trait"])
        .filter((pl.col("n_band") >= min_buyers) & (pl.col("n_rest") >= min_buyers) & (pl.col("w1") > 0) & (pl.col("w0") > 0))
        .with_columns(p_band=pl.col("k1") / pl.col("w1"), p_rest=pl.col("k0") / pl.col("w0"),
                      e1=pl.col("w1") ** 2 / pl.col("s1"), e0=pl.col("w0") ** 2 / pl.col("s0"))
        .with_columns(lift=(pl.col("p_band") * pl.col("e1") + 0.5) / (pl.col("e1") + 0.5)
                      / ((pl.col("p_rest") * pl.col("e0") + 0.5) / (pl.col("e0") + 0.5)))
        .with_columns(se=(1 / (pl.col("p_band") * pl.col("e1") + 0.5) - 1 / (pl.col("e1") + 0.5)
                          + 1 / (pl.col("p_rest") * pl.col("e0") + 0.5) - 1 / (pl.col("e0") + 0.5)).clip(lower_bound=0).sqrt())
        .with_columns(lift_lo=pl.col("lift") * (-1.96 * pl.col("se")).exp(), lift_hi=pl.col("lift") * (1.96 * pl.col("se")).exp())
        .with_columns(
            # the largest gap in share over the trait's values, less what sampling alone gives
            # (E|p̂1 − p̂0| with no difference); one value's gap, so multi-valued tags are not summed
            _d=(pl.col("p_band") - pl.col("p_rest")).abs(),
            _p0=(pl.col("k1") + pl.col("k0")) / (pl.col("w1") + pl.col("w0")),
        )
        .with_columns(_null=(2 / math.pi) ** 0.5 * (pl.col("_p0") * (1 - pl.col("_p0")) * (1 / pl.col("e1") + 1 / pl.col("e0"))).sqrt())
        .with_columns(distinct=(pl.col("_d") - pl.col("_null")).clip(lower_bound=0).max().over("category", "band", "trait"))
        .drop("_d", "_p0", "_null", "s1", "s0")
        .with_columns(pl.col(c).fill_nan(None) for c in ("lift", "lift_lo", "lift_hi", "distinct"))
        .filter(pl.col("lift").is_not_null())
        .sort("category", "band", "trait", "value")
    )


GENDER_ZH = {"M": "男", "F": "女", "m": "男", "f": "女", "male": "男", "female": "女"}
GENDER_EN = {"男": "men", "女": "women", "M": "men", "F": "women"}


def trait_value(value: str, zh: bool) -> str:
    """A trait value in the data's language (gender codes M/F read 男/女 in Chinese)."""
    return GENDER_ZH.get(value, value) if zh else GENDER_EN.get(value, value)


def band_text(low: float, high: float) -> str:
    return f"{low:g}–{'∞' if not math.isfinite(high) else f'{high:g}'}"


def over_indexed_all(portrait: pl.DataFrame, k: int = 3) -> pl.DataFrame:
    """Per (category, band): its ``k`` most over-indexed traits (lift's lower bound above 1),
    the strongest value of each trait, strongest first."""
    if portrait.height == 0:
        return pl.DataFrame()
    return (portrait.filter(pl.col("lift_lo") > 1.0)
            .sort(["category", "band", "lift_lo", "value", "trait"], descending=[False, False, True, False, False])
            .unique(["category", "band", "trait"], keep="first", maintain_order=True)
            .filter(pl.int_range(pl.len()).over("category", "band") < k))


def over_indexed(portrait: pl.DataFrame, category: str, band: int, k: int = 3) -> pl.DataFrame:
    if portrait.height == 0:
        return pl.DataFrame()
    return over_indexed_all(portrait.filter((pl.col("category") == category) & (pl.col("band") == band)), k)


def opportunities(table: pl.DataFrame, portrait: pl.DataFrame, zh: bool, *, min_buyers: int = 30) -> pl.DataFrame:
    if table.height == 0:
        return scoring.empty()
    t = table.filter(pl.col("buyers") >= min_buyers)
    if t.height == 0:
        return scoring.empty()
    size = scoring.pct_rank(t["buyers"].to_numpy().astype(float))
    over_by: dict[tuple[str, int], list[dict]] = {}
    distinct_by: dict[tuple[str, int], float] = {}
    if portrait.height:
        for o in over_indexed_all(portrait).iter_rows(named=True):
            over_by.setdefault((o["category"], o["band"]), []).append(o)
        distinct_by = {(c, b): float(d) for c, b, d in portrait.group_by("category", "band").agg(pl.col("distinct").max()).iter_rows()
                       if d is not None}
    rows = []
    for i, r in enumerate(t.iter_rows(named=True)):
        over = over_by.get((r["category"], r["band"]), [])
        traits = [f"{trait_value(o['value'], zh)} ×{o['lift']:.1f}（{o['lift_lo']:.1f}–{o['lift_hi']:.1f}）" if zh
                  else f"{o['value']} ×{o['lift']:.1f} ({o['lift_lo']:.1f}–{o['lift_hi']:.1f})" for o in over]
        distinct = distinct_by.get((r["category"], r["band"]), 0.0)
        span = band_text(r["low"], r["high"])
        if zh:
            subject = f"「{r['category']}」{span} 元价位段"
            ev = wording.join([
                f"买家 {r['buyers']:,} 人，占销量 {wording.share(r['unit_share'])}、商品数 {wording.share(r['sku_share'])}",
                f"相比品类其他买家更多是：{wording.items(traits, zh)}" if traits else "买家画像与品类其他买家无显著差异"], zh)
        else:
            subject = f"'{r['category']}' priced {span}"
            ev = wording.join([
                f"{r['buyers']:,} buyers, {wording.share(r['unit_share'])} of units and {wording.share(r['sku_share'])} of products",
                f"over-indexed against the rest of the category: {wording.items(traits, zh)}" if traits else "buyers like the rest of the category"], zh)
        rows.append({
            "kind": "price_band", "category": r["category"], "subject": subject, "evidence": ev, "variants": [],
            "need": f"band|{r['band']}", "volume": float(r["units"]),
            "c_distinct": min(1.0, distinct / DISTINCT_FULL) if over else 0.0,
            "c_size": float(size[i]), "c_thin": min(1.0, max(0.0, math.log2(max(r["thinness"], 1e-9)) / 2.0)),
        })
    return scoring.frame(rows)
