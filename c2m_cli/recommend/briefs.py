"""One-page briefs for a manufacturer, one per top opportunity (briefs.parquet + briefs/*.md)."""

from __future__ import annotations

import datetime as dt
import math
from typing import cast

import polars as pl
from scipy import stats

from c2m_cli.calendar import festival_calendar
from c2m_cli.recommend.data import Inputs

BRIEF_SCHEMA: dict[str, pl.DataType] = {
    "brief_id": pl.String(),
    "opportunity_id": pl.String(),
    "kind": pl.String(),
    "category": pl.String(),
    "sku": pl.String(),
    "subject": pl.String(),
    "segment_id": pl.String(),
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


def expected_demand(ins: Inputs, category: str | None, horizon_weeks: int = 8) -> tuple[float, float, float, str]:
    """P10/P50/P90 units over the horizon: the forecast of the category if any, else history."""
    if category and ins.forecast is not None and {"unique_id", "model", "q0.1", "q0.5", "q0.9"} <= set(ins.forecast.columns):
        fc = ins.forecast.filter((pl.col("model") == "selected") & (pl.col("unique_id") == category))
        if fc.height:
            p50 = float(fc["q0.5"].sum())
            sd = math.sqrt(float((((fc["q0.9"] - fc["q0.1"]) / 2.563) ** 2).sum()))
            return max(0.0, p50 - 1.2816 * sd), p50, p50 + 1.2816 * sd, f"forecast (selected model), {fc.height} periods"
    if not category:
        return 0.0, 0.0, 0.0, "no category: no demand estimate"
    levels = ins.category_levels()
    cat_lines = ins.lines.filter(pl.any_horizontal(pl.col(c) == category for c in levels)) if levels else ins.lines.head(0)
    weekly = cat_lines.filter(pl.col("week") >= ins.end - dt.timedelta(weeks=horizon_weeks)).group_by("week").agg(pl.col("qty").sum())
    if weekly.height == 0:
        return 0.0, 0.0, 0.0, "no recent sales of the category"
    mean = float(weekly["qty"].sum()) / horizon_weeks * horizon_weeks
    sd = float(cast("float | None", weekly["qty"].std()) or 0.0) * math.sqrt(horizon_weeks)
    sd = max(sd, math.sqrt(mean))
    q = float(stats.norm.ppf(0.9))
    return max(0.0, mean - q * sd), mean, mean + q * sd, f"history: the last {horizon_weeks} weeks repeated (no forecast)"


def next_launch_window(uplift: pl.DataFrame, category: str | None, after: dt.date, zh: bool) -> str:
    cal = festival_calendar("cn").filter(pl.col("start") > after).sort("start")
    if category and uplift.height:
        best = uplift.filter((pl.col("category") == category) & (pl.col("uplift") >= 1.1)).sort(["uplift", "festival"], descending=[True, False])
        for r in best.iter_rows(named=True):
            nxt = cal.filter(pl.col("festival") == r["festival"]).head(1)
            if nxt.height:
                s, e = nxt["start"][0], nxt["end"][0]
                return (f"{r['festival']}（{s}–{e}，该品类销量 ×{r['uplift']:.2f}）" if zh
                        else f"{r['festival']} ({s} to {e}; lifts the category ×{r['uplift']:.2f})")
    nxt = cal.filter(pl.col("festival") != "春节").head(1)
    if nxt.height:
        return (f"{nxt['festival'][0]}（{nxt['start'][0]}–{nxt['end'][0]}）" if zh
                else f"{nxt['festival'][0]} ({nxt['start'][0]} to {nxt['end'][0]})")
    return ""


def build_briefs(
    ins: Inputs,
    opportunities: pl.DataFrame,
    *,
    top: int,
    band_table: pl.DataFrame,
    portrait: pl.DataFrame,
    micro: pl.DataFrame,
    uplift: pl.DataFrame,
    attribute_words: pl.DataFrame,
) -> tuple[pl.DataFrame, dict[str, str]]:
    zh = ins.chinese
    rows, docs = [], {}
    chosen = opportunities.filter(pl.col("kind") != "festival").head(top)
    for i, opp in enumerate(chosen.iter_rows(named=True), start=1):
        brief_id = f"B{i:02d}"
        cat = opp["category"]
        band_text, portrait_text = "", ""
        if cat and band_table.height:
            bands = band_table.filter(pl.col("category") == cat).sort(["thinness", "band"], descending=[True, False])
            if bands.height:
                b = bands.row(0, named=True)
                hi = "∞" if not math.isfinite(b["high"]) else f"{b['high']:g}"
                band_text = f"{b['low']:g}–{hi}"
                if portrait.height:
                    over = portrait.filter((pl.col("category") == cat) & (pl.col("band") == b["band"]) & (pl.col("lift_lo") > 1)).sort(
                        ["lift", "value"], descending=[True, False]).head(5)
                    portrait_text = ("、" if zh else ", ").join(
                        f"{o['value']} ×{o['lift']:.2f}" for o in over.iter_rows(named=True)
                    )
        micro_list: list[str] = []
        if micro.height:
            m = micro.filter((pl.col("category") == cat) | (pl.col("sku") == opp["sku"]) if opp["sku"] else (pl.col("category") == cat))
            micro_list = m.sort(["mentions", "aspect"], descending=[True, False])["aspect"].unique(maintain_order=True).head(5).to_list()
        attrs: list[str] = []
        if attribute_words.height and cat:
            attrs = attribute_words.filter(pl.col("category") == cat)["word"].head(5).to_list()
        p10, p50, p90, method = expected_demand(ins, cat)
        window = next_launch_window(uplift, cat, ins.end, zh)
        presale = (
            f"上市前 30 天开放定金预售，按预售单与预测 P90 之间排产（见 quantities.parquet 的 {brief_id}）" if zh
            else f"open deposits 30 days before launch; produce between the pre-sale count and the P90 (quantities.parquet, {brief_id})"
        )
        row = {
            "brief_id": brief_id, "opportunity_id": opp["opportunity_id"], "kind": opp["kind"], "category": cat,
            "sku": opp["sku"], "subject": opp["subject"], "segment_id": opp["segment_id"], "portrait": portrait_text,
            "price_band": band_text, "attributes": attrs, "micro_demands": micro_list, "demand_p10": p10,
            "demand_p50": p50, "demand_p90": p90, "demand_method": method, "launch_window": window, "presale_plan": presale,
        }
        rows.append(row)
        docs[f"briefs/{brief_id}.md"] = _markdown(row, opp, zh)
    return pl.DataFrame(rows, schema=BRIEF_SCHEMA), docs


def _markdown(row: dict, opp: dict, zh: bool) -> str:
    none = "—"
    if zh:
        lines = [
            f"# {row['brief_id']}：{row['subject']}", "",
            f"- 机会：{opp['kind']}（排名 {opp['rank']}，得分 {opp['score']:.2f}）", f"- 依据：{opp['evidence']}",
            f"- 品类：{row['category'] or none}" + (f"，商品 {row['sku']}" if row["sku"] else ""), "",
            "## 做什么", f"- 应具备的属性：{'、'.join(row['attributes']) or none}",
            f"- 要解决的微需求：{'、'.join(row['micro_demands']) or none}", "",
            "## 为谁", f"- 目标人群画像（相对品类的倍数）：{row['portrait'] or none}",
            f"- 分群：{row['segment_id'] or none}", "",
            "## 价格与数量", f"- 价格带：{row['price_band'] or none}",
            f"- 预期需求（件）：P10 {row['demand_p10']:,.0f} / P50 {row['demand_p50']:,.0f} / P90 {row['demand_p90']:,.0f}（{row['demand_method']}）", "",
            "## 何时", f"- 上市窗口：{row['launch_window'] or none}", f"- 预售计划：{row['presale_plan']}", "",
        ]
    else:
        lines = [
            f"# {row['brief_id']}: {row['subject']}", "",
            f"- Opportunity: {opp['kind']} (rank {opp['rank']}, score {opp['score']:.2f})", f"- Evidence: {opp['evidence']}",
            f"- Category: {row['category'] or none}" + (f", product {row['sku']}" if row["sku"] else ""), "",
            "## What to build", f"- Attributes: {', '.join(row['attributes']) or none}",
            f"- Micro-demands to fix: {', '.join(row['micro_demands']) or none}", "",
            "## For whom", f"- Portrait (lift vs the category): {row['portrait'] or none}", f"- Segment: {row['segment_id'] or none}", "",
            "## Price and quantity", f"- Price band: {row['price_band'] or none}",
            f"- Expected demand (units): P10 {row['demand_p10']:,.0f} / P50 {row['demand_p50']:,.0f} / P90 {row['demand_p90']:,.0f} ({row['demand_method']})", "",
            "## When", f"- Launch window: {row['launch_window'] or none}", f"- Pre-sale plan: {row['presale_plan']}", "",
        ]
    return "\n".join(lines)
