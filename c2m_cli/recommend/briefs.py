"""One-page briefs for a manufacturer, one per top opportunity (briefs.parquet + briefs/*.md).

A brief names the need and its variants; the target segment by name and size (the segment most
over-represented among the need's searchers, else among the category's buyers); the price band
where that segment's purchases of the category sit; the category's own attributes (whole words
from its searches) and its product micro-demands; a demand estimate of its own (``demand``: a need
without a product from its searches × the search→purchase conversion of the category's products;
a product from its forecast; a price band or a category from its recent units); and a launch
window from the workspace market's calendar. Everything in the data's language.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from c2m_cli.calendar import festival_calendar_between, festival_name
from c2m_cli.recommend import demand as dem
from c2m_cli.recommend import wording
from c2m_cli.recommend.data import Inputs
from c2m_cli.recommend.price_bands import band_text, over_indexed, trait_value

BRIEF_SCHEMA: dict[str, pl.DataType] = {
    "brief_id": pl.String(),
    "opportunity_id": pl.String(),
    "kind": pl.String(),
    "category": pl.String(),
    "sku": pl.String(),
    "subject": pl.String(),
    "variants": pl.List(pl.String),
    "segment_id": pl.String(),
    "segment_name": pl.String(),
    "segment_size": pl.Int64(),
    "portrait": pl.String(),
    "price_band": pl.String(),
    "attributes": pl.List(pl.String),
    "micro_demands": pl.List(pl.String),
    "demand_p10": pl.Float64(),
    "demand_p50": pl.Float64(),
    "demand_p90": pl.Float64(),
    "demand_method": pl.String(),
    "launch_window": pl.String(),
    "presale_plan": pl.String(),
}


@dataclass
class BriefContext:
    """What briefs read beyond the opportunities (all optional)."""

    market: str
    horizon_weeks: int = 8
    seed: int = 0
    band_table: pl.DataFrame = field(default_factory=pl.DataFrame)
    sku_band: pl.DataFrame = field(default_factory=pl.DataFrame)
    portrait: pl.DataFrame = field(default_factory=pl.DataFrame)
    micro: pl.DataFrame = field(default_factory=pl.DataFrame)
    uplift: pl.DataFrame = field(default_factory=pl.DataFrame)
    queries: pl.DataFrame = field(default_factory=pl.DataFrame)  # query, category, searches, phrases, need
    need_weekly: dict[str, np.ndarray] = field(default_factory=dict)
    category_weekly_searches: dict[str, np.ndarray] = field(default_factory=dict)
    need_searchers: pl.DataFrame = field(default_factory=pl.DataFrame)  # need, user_id
    gap_needs: set[str] = field(default_factory=set)  # needs that are search or attribute gaps


def _segment_for(ins: Inputs, users: pl.DataFrame) -> tuple[str | None, str | None, int | None, float]:
    """The segment most over-represented among ``users`` (lift over its overall share)."""
    if ins.segments is None or users.height == 0:
        return None, None, None, 0.0
    seg = ins.segments.select(pl.col("user_id").cast(pl.String), pl.col("segment_id").cast(pl.String))
    overall = seg.group_by("segment_id").agg(pl.len().alias("n")).with_columns(p_all=pl.col("n") / pl.col("n").sum())
    among = users.select(pl.col("user_id").cast(pl.String)).unique().join(seg, on="user_id").group_by("segment_id").agg(pl.len().alias("k"))
    if among.height == 0:
        return None, None, None, 0.0
    best = (among.join(overall, on="segment_id").with_columns(lift=(pl.col("k") / pl.col("k").sum()) / pl.col("p_all"))
            .filter(pl.col("k") >= 5).sort(["lift", "segment_id"], descending=[True, False]).head(1))
    if best.height == 0:
        return None, None, None, 0.0
    sid = str(best["segment_id"][0])
    name, size = sid, int(best["n"][0])
    if ins.segment_profiles is not None and "segment_name" in ins.segment_profiles.columns:
        prof = ins.segment_profiles.filter(pl.col("segment_id").cast(pl.String) == sid)
        if prof.height:
            name = str(prof["segment_name"][0])
            if "size" in prof.columns:
                size = int(prof["size"][0])
    return sid, name, size, float(best["lift"][0])


def _category_user_sku(ins: Inputs, category: str | None) -> pl.DataFrame:
    """(user_id, sku, qty …) of the category's sold products (``Inputs.category_skus``), by a
    streaming group-by of the category's lines; only the latest brief's category is kept."""
    cached = ins._cache.get("brief_user_sku")
    if cached is None or cached[0] != category:
        frame = ins.user_sku(skus=ins.category_skus(category)).collect(engine="streaming")
        cached = ins._cache["brief_user_sku"] = (category, frame)
    return cached[1]  # type: ignore[no-any-return]


def _category_weeks(ins: Inputs, category: str | None) -> pl.DataFrame:
    """(sku, week, qty) of the category's sold products, once per category."""
    key = f"brief_sku_week|{category}"
    if key not in ins._cache:
        ins._cache[key] = ins.sku_week().join(ins.category_skus(category), on="sku")
    return ins._cache[key]  # type: ignore[no-any-return]


def _segment_band(ins: Inputs, ctx: BriefContext, category: str | None, segment_id: str | None,
                  own_band: int | None = None) -> tuple[str, str]:
    """(price band, portrait): the opportunity's own band, else the band where the segment's
    purchases of the category concentrate."""
    if category is None or ctx.sku_band.height == 0:
        return "", ""
    bands = ctx.band_table.filter(pl.col("category") == category)
    if bands.height == 0:
        return "", ""
    if own_band is not None:
        return _band_portrait(ins, ctx, category, bands, own_band)
    lines = _category_user_sku(ins, category).join(ctx.sku_band.filter(pl.col("category") == category).select("sku", "band"), on="sku")
    if segment_id is not None and ins.segments is not None:
        members = ins.segments.filter(pl.col("segment_id").cast(pl.String) == segment_id).select(pl.col("user_id").cast(pl.String))
        seg_lines = lines.join(members, on="user_id")
        if seg_lines.height:
            lines = seg_lines
    by_band = lines.group_by("band").agg(pl.col("qty").sum()).sort(["qty", "band"], descending=[True, False])
    if by_band.height == 0:
        return "", ""
    return _band_portrait(ins, ctx, category, bands, int(by_band["band"][0]))


def _band_portrait(ins: Inputs, ctx: BriefContext, category: str, bands: pl.DataFrame, band: int) -> tuple[str, str]:
    row = bands.filter(pl.col("band") == band)
    if row.height == 0:
        return "", ""
    over = over_indexed(ctx.portrait, category, band, k=5)
    portrait = wording.items([f"{trait_value(o['value'], ins.chinese)} ×{o['lift']:.1f}" for o in over.iter_rows(named=True)],
                             ins.chinese) if over.height else ""
    return band_text(float(row["low"][0]), float(row["high"][0])), portrait


def _attributes(ins: Inputs, ctx: BriefContext, category: str | None, opp: dict, segment_id: str | None) -> list[str]:
    """Whole words of the category itself: the need's own phrases, the phrases of the category's
    other unserved needs, then the product attributes (attrs) the target segment over-buys."""
    if category is None:
        return []
    out: list[str] = []
    if ctx.queries.height and "need" in ctx.queries.columns:
        q = ctx.queries.filter((pl.col("category") == category) & (pl.col("phrases").list.len() > 0))
        own = q.filter(pl.col("need") == opp.get("need")) if opp.get("need") else q.head(0)
        gaps = q.filter(pl.col("need").is_in(list(ctx.gap_needs)))
        for frame in (own, gaps):
            ranked = (frame.explode("phrases").group_by("phrases").agg(pl.col("searches").sum())
                      .filter(pl.col("phrases").str.len_chars() >= 2).sort(["searches", "phrases"], descending=[True, False]))
            out += [p for p in ranked["phrases"].to_list() if p not in out]
    attrs = ins.attributes()
    lines = _category_user_sku(ins, category)
    if attrs.height and lines.height and segment_id is not None and ins.segments is not None:
        members = ins.segments.filter(pl.col("segment_id").cast(pl.String) == segment_id).select(
            pl.col("user_id").cast(pl.String), pl.lit(True).alias("_m"))
        units = (lines.join(attrs, on="sku").join(members, on="user_id", how="left")
                 .with_columns(pl.col("_m").fill_null(False))
                 .group_by("attribute", "value").agg(pl.col("qty").filter(pl.col("_m")).sum().alias("seg"), pl.col("qty").sum().alias("all")))
        tot_seg, tot_all = float(lines.join(members, on="user_id")["qty"].sum()), float(lines["qty"].sum())
        if tot_seg > 0:
            over = (units.with_columns(lift=(pl.col("seg") / tot_seg) / (pl.col("all") / tot_all))
                    .filter((pl.col("lift") > 1.1) & (pl.col("seg") >= 5))
                    .sort(["lift", "attribute", "value"], descending=[True, False, False])
                    .unique("attribute", keep="first", maintain_order=True))
            out += [f"{a} {v}" for a, v in over.select("attribute", "value").iter_rows()]
    return [w for w in out if len(w) >= 2][:6]


def _micro(ctx: BriefContext, category: str | None, zh: bool) -> list[str]:
    if category is None or ctx.micro.height == 0:
        return []
    m = ctx.micro.filter((pl.col("category") == category) & (pl.col("scope") == "product")).sort(
        ["mentions", "aspect"], descending=[True, False])
    out = []
    for r in m.head(5).iter_rows(named=True):
        where = r.get("product") or r["category"]
        out.append(f"{r['aspect']}（{where}）" if zh else f"{r['aspect']} ({where})")
    return out


def expected_demand(ins: Inputs, ctx: BriefContext, opp: dict) -> dem.Demand:
    """The brief's own demand distribution over the horizon (see the module docstring)."""
    zh, h, key = ins.chinese, ctx.horizon_weeks, str(opp["opportunity_id"])
    cat, kind = opp["category"], opp["kind"]
    weekly_units = _weekly(_category_weeks(ins, cat), ins.end, h)
    if kind in ("search_gap", "attribute_gap") and opp.get("need") in ctx.need_weekly:
        need_recent = float(ctx.need_weekly[opp["need"]][-h:].sum())
        cat_searches = float(ctx.category_weekly_searches.get(cat, np.zeros(0))[-h:].sum())
        cat_units = float(weekly_units.sum())
        if cat_searches > 0:
            conv = cat_units / cat_searches
            method = (f"新品需求：该需求近 {h} 周搜索 {need_recent:,.0f} 次 × 同品类商品的搜索转化（每次搜索 {conv:.2f} 件），"
                      f"未来 {h} 周" if zh else
                      f"new product: {need_recent:,.0f} searches of the need in the last {h} weeks × the category's "
                      f"search→purchase conversion ({conv:.2f} units a search), next {h} weeks")
            return dem.from_search(need_recent, h, h, cat_units, cat_searches, seed=ctx.seed, key=key, method=method)
    if opp.get("sku") and ins.forecast is not None and {"unique_id", "model", "q0.1", "q0.5", "q0.9"} <= set(ins.forecast.columns):
        fc = ins.forecast.filter((pl.col("model") == "selected") & (pl.col("unique_id") == opp["sku"])).sort("ds").head(h)
        if fc.height:
            method = (f"现有商品：其预测（{fc.height} 期）" if zh else f"existing product: its forecast ({fc.height} periods)")
            return dem.from_forecast(fc["q0.1"].to_numpy(), fc["q0.5"].to_numpy(), fc["q0.9"].to_numpy(), floor=0.0,
                                     seed=ctx.seed, key=key, method=method)
    lines = _category_weeks(ins, cat)
    what = "品类" if zh else "the category"
    if opp.get("sku"):
        lines = lines.filter(pl.col("sku") == opp["sku"])
        what = "该商品" if zh else "the product"
    elif kind == "price_band" and ctx.sku_band.height and opp.get("need", "").startswith("band|"):
        band = int(str(opp["need"]).split("|")[1])
        lines = lines.join(ctx.sku_band.filter((pl.col("category") == cat) & (pl.col("band") == band)).select("sku"), on="sku")
        what = "该价位段" if zh else "the price band"
    weekly = _weekly(lines, ins.end, h)
    method = (f"{what}近 {h} 周的周销量（含周间波动），未来 {h} 周" if zh
              else f"{what}'s weekly units over the last {h} weeks (with their week-to-week spread), next {h} weeks")
    return dem.from_history(weekly, h, seed=ctx.seed, key=key, method=method)


def _weekly(lines: pl.DataFrame, end: dt.date, weeks: int) -> np.ndarray:
    last = end - dt.timedelta(days=end.weekday())  # the last (maybe partial) week is left out
    first = last - dt.timedelta(weeks=weeks)
    w = lines.filter((pl.col("week") >= first) & (pl.col("week") < last)).group_by("week").agg(pl.col("qty").sum())
    frame = pl.DataFrame({"week": pl.date_range(first, last - dt.timedelta(weeks=1), interval="1w", eager=True)})
    return frame.join(w, on="week", how="left")["qty"].fill_null(0.0).to_numpy().astype(float)


def next_launch_window(market: str, uplift: pl.DataFrame, category: str | None, after: dt.date, zh: bool) -> str:
    # every festival's next window starting after ``after`` + 30 days lies within the two years after it
    cal = festival_calendar_between(market, after, after + dt.timedelta(days=730)).filter(pl.col("start") > after + dt.timedelta(days=30)).sort("start")
    lang = "zh" if zh else "en"
    if cal.height == 0:
        return ""
    if category and uplift.height:
        best = uplift.filter((pl.col("category") == category) & (pl.col("uplift") >= 1.1)).sort(["uplift", "festival"], descending=[True, False])
        for r in best.iter_rows(named=True):
            nxt = cal.filter(pl.col("festival") == r["festival"]).head(1)
            if nxt.height:
                s, e, name = nxt["start"][0], nxt["end"][0], festival_name(r["festival"], lang)
                return (f"{name}（{s}–{e}，该品类销量为平时的 {r['uplift']:.1f} 倍）" if zh
                        else f"{name} ({s} to {e}; the category sells {r['uplift']:.1f} times its usual)")
    nxt = cal.head(1)
    name = festival_name(str(nxt["festival"][0]), lang)
    return f"{name}（{nxt['start'][0]}–{nxt['end'][0]}）" if zh else f"{name} ({nxt['start'][0]} to {nxt['end'][0]})"


def choose(opportunities: pl.DataFrame, top: int) -> pl.DataFrame:
    """The top opportunities that get a brief: not festivals (a launch window, not a product),
    the best one of each category, at most ``top``."""
    return opportunities.filter(pl.col("kind") != "festival").unique("category", keep="first", maintain_order=True).head(top)


def build_briefs(ins: Inputs, opportunities: pl.DataFrame, ctx: BriefContext, *, top: int
                 ) -> tuple[pl.DataFrame, dict[str, str], dict[str, dem.Demand]]:
    zh = ins.chinese
    rows, docs, demands = [], {}, {}
    for i, opp in enumerate(choose(opportunities, top).iter_rows(named=True), start=1):
        brief_id = f"B{i:02d}"
        cat = opp["category"]
        users = pl.DataFrame(schema={"user_id": pl.String})
        if opp.get("need") and ctx.need_searchers.height:
            users = ctx.need_searchers.filter(pl.col("need") == opp["need"]).select("user_id")
        if users.height == 0:
            users = _category_user_sku(ins, cat).select(pl.col("user_id").cast(pl.String))
        sid, sname, ssize, _ = _segment_for(ins, users)
        own_band = int(str(opp["need"]).split("|")[1]) if opp["kind"] == "price_band" and opp.get("need") else None
        band, portrait = _segment_band(ins, ctx, cat, sid, own_band)
        demand = expected_demand(ins, ctx, opp)
        demands[brief_id] = demand
        presale = (f"上市前 30 天开放定金预售，按预售单与需求 P90 之间排产（见 quantities.parquet 的 {brief_id}）" if zh
                   else f"open deposits 30 days before launch; produce between the pre-sale count and the P90 (quantities.parquet, {brief_id})")
        row = {
            "brief_id": brief_id, "opportunity_id": opp["opportunity_id"], "kind": opp["kind"], "category": cat,
            "sku": opp["sku"], "subject": opp["subject"], "variants": list(opp.get("variants") or []),
            "segment_id": sid, "segment_name": sname, "segment_size": ssize, "portrait": portrait, "price_band": band,
            "attributes": _attributes(ins, ctx, cat, opp, sid), "micro_demands": _micro(ctx, cat, zh),
            "demand_p10": demand.quantile(0.1), "demand_p50": demand.quantile(0.5), "demand_p90": demand.quantile(0.9),
            "demand_method": demand.method, "launch_window": next_launch_window(ctx.market, ctx.uplift, cat, ins.end, zh),
            "presale_plan": presale,
        }
        rows.append(row)
        docs[f"briefs/{brief_id}.md"] = _markdown(row, opp, zh)
    return pl.DataFrame(rows, schema=BRIEF_SCHEMA), docs, demands


KIND_ZH = {"search_gap": "搜索缺口", "attribute_gap": "属性缺口", "micro_demand": "微需求", "price_band": "价位段",
           "rising_demand": "需求上升", "festival": "节日"}


def _md(text: object) -> str:
    """Data text made inert in Markdown (no links, images or markup)."""
    s = str(text)
    for ch in "\\`*_[]<>!#|":
        s = s.replace(ch, "\\" + ch)
    return s


def _markdown(row: dict, opp: dict, zh: bool) -> str:
    none = "—"
    seg = (f"{_md(row['segment_name'])}（{row['segment_size']:,} 人）" if zh else f"{_md(row['segment_name'])} ({row['segment_size']:,} people)") \
        if row["segment_name"] else none
    demand = (f"P10 {row['demand_p10']:,.0f} / P50 {row['demand_p50']:,.0f} / P90 {row['demand_p90']:,.0f}")
    if zh:
        lines = [
            f"# {row['brief_id']}：{_md(row['subject'])}", "",
            f"- 机会：{KIND_ZH.get(opp['kind'], opp['kind'])}（排名 {opp['rank']}，得分 {opp['score']:.2f}）",
            f"- 依据：{_md(opp['evidence'])}",
            f"- 同义需求：{_md('、'.join(row['variants'])) or none}",
            f"- 品类：{_md(row['category'] or none)}", "",
            "## 做什么", f"- 应具备的属性：{_md('、'.join(row['attributes'])) or none}",
            f"- 要解决的微需求：{_md('、'.join(row['micro_demands'])) or none}", "",
            "## 为谁", f"- 目标人群：{seg}", f"- 人群画像（相对品类其他买家的倍数）：{_md(row['portrait']) or none}", "",
            "## 价格与数量", f"- 价格带（元）：{row['price_band'] or none}",
            f"- 预期需求（件）：{demand}（{_md(row['demand_method'])}）", "",
            "## 何时", f"- 上市窗口：{_md(row['launch_window']) or none}", f"- 预售计划：{row['presale_plan']}", "",
        ]
    else:
        lines = [
            f"# {row['brief_id']}: {_md(row['subject'])}", "",
            f"- Opportunity: {opp['kind']} (rank {opp['rank']}, score {opp['score']:.2f})", f"- Evidence: {_md(opp['evidence'])}",
            f"- Same need searched as: {_md(', '.join(row['variants'])) or none}",
            f"- Category: {_md(row['category'] or none)}", "",
            "## What to build", f"- Attributes: {_md(', '.join(row['attributes'])) or none}",
            f"- Micro-demands to fix: {_md(', '.join(row['micro_demands'])) or none}", "",
            "## For whom", f"- Target segment: {seg}", f"- Portrait (times the rest of the category): {_md(row['portrait']) or none}", "",
            "## Price and quantity", f"- Price band: {row['price_band'] or none}",
            f"- Expected demand (units): {demand} ({_md(row['demand_method'])})", "",
            "## When", f"- Launch window: {_md(row['launch_window']) or none}", f"- Pre-sale plan: {row['presale_plan']}", "",
        ]
    return "\n".join(lines)
