"""Report strings in Chinese and English, number formats, and the choice of language.

Chinese first: Chinese data gives a Chinese report. ``detect_language`` looks for CJK characters
in the text the data carries (product names and categories, reviews, segment names); ``--lang``
overrides it. Numbers follow the reader's habits: 1,234,567 and 12.3% in English, 123.5万 and
1.2亿 for large amounts in Chinese.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import cast

import polars as pl

LANGS = ("zh", "en")
CJK_PATTERN = r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]"
# Share of non-empty texts holding a CJK character above which the data counts as Chinese.
CJK_SHARE = 0.2

STRINGS: dict[str, dict[str, str]] = {
    "title": {"zh": "C2M 分析报告", "en": "C2M analytics report"},
    "generated": {"zh": "生成于工作区", "en": "Generated from workspace"},
    "contents": {"zh": "目录", "en": "Contents"},
    "missing": {"zh": "尚无数据：运行 {command} 生成{what}", "en": "Not available yet: run {command} to produce {what}"},
    # sections
    "overview": {"zh": "数据与运行", "en": "Data and run"},
    "consumers": {"zh": "消费者", "en": "Consumers"},
    "segments": {"zh": "人群分群", "en": "Segments"},
    "demand": {"zh": "需求预测", "en": "Demand forecasts"},
    "opportunities": {"zh": "C2M 机会", "en": "C2M opportunities"},
    "quantities": {"zh": "建议生产量", "en": "Quantities"},
    "audiences": {"zh": "目标人群", "en": "Audiences"},
    "bundles": {"zh": "组合推荐", "en": "Bundles"},
    "scorecard": {"zh": "演示评分卡（植入真值）", "en": "Demo scorecard (planted truth)"},
    # what each missing step would produce
    "what_orders": {"zh": "规范订单表", "en": "the canonical orders table"},
    "what_labels": {"zh": "消费者标签", "en": "consumer labels"},
    "what_segments": {"zh": "人群分群", "en": "segments"},
    "what_forecast": {"zh": "需求预测", "en": "demand forecasts"},
    "what_recommend": {"zh": "机会、简报、生产量、人群与组合", "en": "opportunities, briefs, quantities, audiences and bundles"},
    "what_scorecard": {"zh": "评分卡", "en": "the scorecard"},
    # overview
    "data_period": {"zh": "数据期间", "en": "Data period"},
    "timezone": {"zh": "数据时区", "en": "Data time zone"},
    "tables": {"zh": "数据表", "en": "Tables"},
    "table": {"zh": "表", "en": "Table"},
    "rows": {"zh": "行数", "en": "Rows"},
    "rejected": {"zh": "拒收行", "en": "Rejected rows"},
    "rejects_why": {"zh": "拒收原因", "en": "Why rows were rejected"},
    "no_rejects": {"zh": "没有拒收行。", "en": "No rows were rejected."},
    "column": {"zh": "列", "en": "Column"},
    "reason": {"zh": "原因", "en": "Reason"},
    "steps": {"zh": "已运行的步骤（manifest.json）", "en": "Steps run (manifest.json)"},
    "command": {"zh": "命令", "en": "Command"},
    "version": {"zh": "版本", "en": "Version"},
    "seed": {"zh": "随机种子", "en": "Seed"},
    "wall_time": {"zh": "耗时（秒）", "en": "Wall time (s)"},
    "outputs": {"zh": "输出", "en": "Outputs"},
    "orders_per_period": {"zh": "每周订单行数", "en": "Order lines per week"},
    "users": {"zh": "消费者", "en": "Consumers"},
    "skus": {"zh": "商品", "en": "Products"},
    "revenue": {"zh": "销售额", "en": "Revenue"},
    # consumers
    "family_coverage": {"zh": "标签族覆盖率", "en": "Label family coverage"},
    "family": {"zh": "标签族", "en": "Family"},
    "columns": {"zh": "列数", "en": "Columns"},
    "coverage": {"zh": "覆盖率", "en": "Coverage"},
    "lifecycle": {"zh": "生命周期分布", "en": "Lifecycle stages"},
    "lifecycle_flows": {"zh": "生命周期流转", "en": "Lifecycle flows"},
    "from_stage": {"zh": "原阶段", "en": "From"},
    "no_flows": {"zh": "标签表没有上期阶段列，无法显示流转。", "en": "The labels carry no previous stage, so flows cannot be shown."},
    "value_dist": {"zh": "未来12个月预期价值（CLV）分布", "en": "Expected value over the next 12 months (CLV)"},
    "value_total": {"zh": "CLV 合计", "en": "Total CLV"},
    "value_median": {"zh": "CLV 中位数", "en": "Median CLV"},
    "value_top10": {"zh": "前10%消费者的价值占比", "en": "Value share of the top 10%"},
    "value_by_stage": {"zh": "各阶段价值", "en": "Value by stage"},
    "stage": {"zh": "阶段", "en": "Stage"},
    "share": {"zh": "占比", "en": "Share"},
    "count": {"zh": "人数", "en": "Count"},
    "p_alive_mean": {"zh": "平均存活概率", "en": "Mean P(alive)"},
    "stage_new": {"zh": "新客", "en": "new"},
    "stage_active": {"zh": "活跃", "en": "active"},
    "stage_sleeping": {"zh": "沉睡", "en": "sleeping"},
    "stage_dormant": {"zh": "休眠", "en": "dormant"},
    "stage_lost": {"zh": "流失", "en": "lost"},
    # segments
    "size": {"zh": "人数", "en": "Size"},
    "value_share": {"zh": "价值占比", "en": "Value share"},
    "top_tags": {"zh": "主要标签", "en": "Top tags"},
    "action": {"zh": "建议行动", "en": "Suggested action"},
    "portrait": {"zh": "画像（与整体相比）", "en": "Portrait (vs everyone)"},
    # demand
    "forecast_for": {"zh": "预测：{level} · {uid}", "en": "Forecast: {level} · {uid}"},
    "history": {"zh": "历史", "en": "History"},
    "forecast": {"zh": "预测（P50）", "en": "Forecast (P50)"},
    "interval80": {"zh": "80% 区间", "en": "80% interval"},
    "interval90": {"zh": "90% 区间", "en": "90% interval"},
    "accuracy": {"zh": "回测准确度（对比季节性朴素基线）", "en": "Backtest accuracy against the seasonal naive baseline"},
    "level": {"zh": "层级", "en": "Level"},
    "selected": {"zh": "所选模型", "en": "Selected"},
    "baseline": {"zh": "季节性朴素", "en": "Seasonal naive"},
    "improvement": {"zh": "WAPE 改善", "en": "WAPE improvement"},
    "no_baseline": {"zh": "无基线", "en": "no baseline"},
    "festival_effects": {"zh": "节日效应（节日期间日均销量 ÷ 节前四周日均）", "en": "Festival effects (daily units during the festival ÷ the four weeks before)"},
    "festival": {"zh": "节日", "en": "Festival"},
    "year": {"zh": "年份", "en": "Year"},
    "uplift": {"zh": "提升倍数", "en": "Uplift ×"},
    "no_festivals": {"zh": "数据期间内没有可比较的节日。", "en": "No festival with a comparable baseline falls in the data period."},
    "festival_not_applicable": {"zh": "工作区没有市场日历（market = none），不计算节日效应。", "en": "The workspace has no market calendar (market none): no festival effects are measured."},
    "units": {"zh": "件数", "en": "Units"},
    # opportunities
    "rank": {"zh": "排名", "en": "Rank"},
    "kind": {"zh": "类型", "en": "Kind"},
    "category": {"zh": "品类", "en": "Category"},
    "subject": {"zh": "机会", "en": "Opportunity"},
    "evidence": {"zh": "证据", "en": "Evidence"},
    "score": {"zh": "得分", "en": "Score"},
    "kind_search_gap": {"zh": "搜索缺口", "en": "search gap"},
    "kind_rising_demand": {"zh": "需求上升", "en": "rising demand"},
    "kind_micro_demand": {"zh": "微需求", "en": "micro-demand"},
    "kind_price_band": {"zh": "价格带", "en": "price band"},
    "kind_attribute_gap": {"zh": "属性缺口", "en": "attribute gap"},
    "kind_festival": {"zh": "节日", "en": "festival"},
    "search_vs_sales": {"zh": "搜索与销量趋势（指数，均值=100）", "en": "Search vs sales trend (index, mean = 100)"},
    "searches": {"zh": "搜索", "en": "Searches"},
    "sales": {"zh": "销量", "en": "Sales"},
    "quotes": {"zh": "消费者原声", "en": "What consumers say"},
    "price_portrait": {"zh": "价格带分布（件数）", "en": "Units by price band"},
    "briefs": {"zh": "产品简报", "en": "Product briefs"},
    # quantities / audiences / bundles
    "sku": {"zh": "商品", "en": "SKU"},
    "brief": {"zh": "简报", "en": "Brief"},
    "presale_orders": {"zh": "预售订单", "en": "Presale orders"},
    "forecast_p50": {"zh": "预测 P50", "en": "Forecast P50"},
    "recommended_qty": {"zh": "建议量", "en": "Recommended qty"},
    "service_level": {"zh": "服务水平", "en": "Service level"},
    "method": {"zh": "方法", "en": "Method"},
    "audience": {"zh": "人群", "en": "Audience"},
    "mean_score": {"zh": "平均得分", "en": "Mean score"},
    "top_reason": {"zh": "主要原因", "en": "Main reason"},
    "ids_hidden": {"zh": "报告不含用户 ID；需要时用 --include-ids 重新生成。", "en": "The report holds no user ids; rerun with --include-ids to list them."},
    "ids_listed": {"zh": "用户 ID（每个人群最多 {n} 个）", "en": "User ids (at most {n} per audience)"},
    "user_id": {"zh": "用户 ID", "en": "User id"},
    "antecedent": {"zh": "购买了", "en": "Bought"},
    "consequent": {"zh": "也会买", "en": "Also buys"},
    "support": {"zh": "支持度", "en": "Support"},
    "confidence": {"zh": "置信度", "en": "Confidence"},
    "lift": {"zh": "提升度", "en": "Lift"},
    # scorecard
    "check": {"zh": "检查项", "en": "Check"},
    "value": {"zh": "结果", "en": "Value"},
    "target": {"zh": "目标", "en": "Target"},
    "passed": {"zh": "通过", "en": "Passed"},
    "detail": {"zh": "说明", "en": "Detail"},
    "yes": {"zh": "是", "en": "yes"},
    "no": {"zh": "否", "en": "no"},
    "na": {"zh": "—", "en": "—"},
    "passed_count": {"zh": "通过 {passed}/{total} 项", "en": "{passed} of {total} checks passed"},
    "more_rows": {"zh": "另有 {n} 行未显示", "en": "{n} more rows not shown"},
    # first screen
    "summary": {"zh": "该做什么", "en": "What to make"},
    "summary_lead": {"zh": "按机会排名的前 {n} 个需求：做什么、为谁、什么价、做多少、何时上市。", "en": "The top {n} needs by rank: what to make, for whom, at which price, how many and when."},
    "summary_lead_opps": {"zh": "按机会排名的前 {n} 个需求（尚无产品简报：运行 c2m recommend 生成）。", "en": "The top {n} needs by rank (no product briefs yet: run c2m recommend)."},
    "what": {"zh": "做什么", "en": "What"},
    "need_kind": {"zh": "类型", "en": "Kind"},
    "for_whom": {"zh": "为谁", "en": "For whom"},
    "price": {"zh": "价格带", "en": "Price band"},
    "how_many": {"zh": "做多少", "en": "How many"},
    "when": {"zh": "何时", "en": "When"},
    "see_brief": {"zh": "查看简报", "en": "Brief"},
    "variants": {"zh": "同类说法", "en": "Also searched as"},
    "make_qty": {"zh": "建议生产 {qty}", "en": "make {qty}"},
    "demand_range": {"zh": "需求 {p10}–{p90}（P10–P90）", "en": "demand {p10}–{p90} (P10–P90)"},
    "people_of": {"zh": "{n}，占 {share}", "en": "{n}, {share} of consumers"},
    "not_available": {"zh": "暂无", "en": "not available"},
    # caveats
    "caveats": {"zh": "注意事项", "en": "Caveats"},
    "caveats_lead": {"zh": "各步骤运行时记录的警告（manifest.json）：这些结论所依据的数据较弱。", "en": "Warnings the steps recorded (manifest.json): results that rest on weak data."},
    "no_warnings": {"zh": "本次运行的各步骤没有记录警告。", "en": "No step of this run recorded a warning."},
    "step": {"zh": "步骤", "en": "Step"},
    "warning_code": {"zh": "代码", "en": "Code"},
    "message": {"zh": "说明", "en": "Message"},
    "rejects_caveat": {"zh": "导入时有 {n} 行数据被拒收（原因见“数据与运行”）。", "en": "{n} rows were rejected at ingest (reasons under “Data and run”)."},
    # units and axes
    "unit_items": {"zh": "件", "en": "units"},
    "unit_people": {"zh": "人", "en": "people"},
    "axis_units_week": {"zh": "销量（件/周）", "en": "Units per week"},
    "axis_units_day": {"zh": "销量（件/天）", "en": "Units per day"},
    "axis_units_month": {"zh": "销量（件/月）", "en": "Units per month"},
    "axis_week": {"zh": "周（周一起）", "en": "Week (starting Monday)"},
    "axis_day": {"zh": "日期", "en": "Date"},
    "axis_month": {"zh": "月份", "en": "Month"},
    "axis_index": {"zh": "指数（均值 = 100）", "en": "Index (mean = 100)"},
    "axis_people": {"zh": "消费者（人）", "en": "Consumers"},
    "axis_clv": {"zh": "未来12个月预期价值（{unit}）", "en": "Expected value over 12 months ({unit})"},
    "axis_price": {"zh": "成交单价（{unit}）", "en": "Unit price paid ({unit})"},
    "axis_units": {"zh": "销量（件）", "en": "Units sold"},
    "festival_window": {"zh": "节日窗口", "en": "Festival window"},
    "forecast_start": {"zh": "预测起点", "en": "Forecast starts"},
    "actual": {"zh": "实际（回测记录）", "en": "Actual (as the backtest recorded it)"},
    "target_band": {"zh": "目标价位段", "en": "Target band"},
    "other_bands": {"zh": "其他价位", "en": "Other prices"},
    "forecast_total": {"zh": "总需求预测", "en": "Total demand forecast"},
    "forecast_series": {"zh": "{level}：{uid} 需求预测", "en": "Demand forecast: {uid} ({level})"},
    "level_total": {"zh": "全部", "en": "total"},
    "level_category_l1": {"zh": "一级品类", "en": "category"},
    "level_category_l2": {"zh": "二级品类", "en": "subcategory"},
    "level_category_l3": {"zh": "三级品类", "en": "sub-subcategory"},
    "level_sku": {"zh": "商品", "en": "product"},
    "level_brand": {"zh": "品牌", "en": "brand"},
    "weekly_sales": {"zh": "每周销量", "en": "Units sold per week"},
    "weekly_sales_note": {"zh": "阴影为{market}节日窗口。", "en": "Shaded: festival windows of the {market} calendar."},
    "market_cn": {"zh": "中国", "en": "Chinese"},
    "market_us": {"zh": "美国", "en": "US"},
    # consumers, segments
    "funnel": {"zh": "生命周期漏斗", "en": "Lifecycle funnel"},
    "flows_lead": {"zh": "行：90 天前的阶段；列：现在的阶段；单元格：人数（行内占比）。", "en": "Rows: the stage 90 days ago; columns: the stage now; cells: people (share of the row)."},
    "flows_new": {"zh": "（90 天前尚未购买）", "en": "(not yet a buyer 90 days ago)"},
    "flows_summary": {"zh": "90 天前活跃的 {n}中，{kept} 仍活跃，{slept} 转为沉睡、休眠或流失。", "en": "Of the {n} active 90 days ago, {kept} are still active and {slept} have gone to sleep, dormant or lost."},
    "heat": {"zh": "分群 × 品类：各分群消费额的品类构成", "en": "Segment × category: where each segment spends"},
    "heat_lead": {"zh": "单元格为该分群消费额中该品类的占比；颜色为相对全体的倍数（橙 = 偏多，蓝 = 偏少）。", "en": "Cells: the category's share of the segment's spend; colour: against everyone (orange = more, blue = less)."},
    "everyone": {"zh": "全体", "en": "Everyone"},
    "segment": {"zh": "分群", "en": "Segment"},
    "avg_clv": {"zh": "人均预期价值", "en": "Mean expected value"},
    "value_range": {"zh": "CLV 合计区间（P10–P90 之和）", "en": "Total CLV range (sums of P10–P90)"},
    "volume": {"zh": "规模", "en": "Volume"},
    "trend": {"zh": "趋势", "en": "Trend"},
    "target_segment": {"zh": "目标分群", "en": "Target segment"},
    "attributes": {"zh": "应具备的属性", "en": "Attributes to have"},
    "micro_demands": {"zh": "要解决的微需求", "en": "Micro-demands to fix"},
    "expected_demand": {"zh": "预期需求（件）", "en": "Expected demand (units)"},
    "launch_window": {"zh": "上市窗口", "en": "Launch window"},
    "presale_plan": {"zh": "预售计划", "en": "Pre-sale plan"},
    "portrait_brief": {"zh": "人群画像（相对品类的倍数）", "en": "Buyer portrait (× the category)"},
    "product": {"zh": "商品", "en": "Product"},
    "item": {"zh": "商品 / 简报", "en": "Product / brief"},
    "fill_rate": {"zh": "预期满足率", "en": "Expected fill rate"},
    "leftover": {"zh": "预期剩余（件）", "en": "Expected leftover (units)"},
    "demand_p10_p90": {"zh": "需求 P10–P90（件）", "en": "Demand P10–P90 (units)"},
    "data_run": {"zh": "数据与运行", "en": "Data and run"},
    "accuracy_note": {"zh": "WAPE：加权绝对百分比误差（越低越好）；MASE：相对朴素预测的误差（< 1 即优于朴素）；区间列为实际值落入 80% / 90% 预测区间的比例（理想值 80% / 90%）。", "en": "WAPE: weighted absolute percentage error (lower is better); MASE: error relative to a naive forecast (< 1 beats it); interval columns: share of actuals inside the 80% / 90% intervals (ideal 80% / 90%)."},
    "no_heat": {"zh": "没有分群、订单和商品品类，无法画分群 × 品类图。", "en": "Segments, orders and product categories are needed for the segment × category map."},
}


def t(key: str, lang: str, **values: object) -> str:
    """The ``lang`` string for ``key``, with ``{name}`` placeholders filled in."""
    text = STRINGS[key][lang]
    return text.format(**values) if values else text


def has_cjk(texts: Iterable[str | None]) -> float:
    """Share of the non-empty ``texts`` that hold at least one CJK character."""
    series = pl.Series("t", list(texts), dtype=pl.String).drop_nulls()
    series = series.filter(series.str.len_chars() > 0)
    if series.len() == 0:
        return 0.0
    return float(cast("float | None", series.str.contains(CJK_PATTERN).mean()) or 0.0)


def detect_language(samples: Iterable[pl.Series]) -> str:
    """``zh`` when the data's text is Chinese, else ``en``; the first series with text decides."""
    for series in samples:
        texts = series.cast(pl.String, strict=False).drop_nulls()
        texts = texts.filter(texts.str.len_chars() > 0)
        if texts.len() == 0:
            continue
        return "zh" if has_cjk(texts.to_list()) >= CJK_SHARE else "en"
    return "en"


# -- numbers ---------------------------------------------------------------------------------


def _finite(value: object) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def fmt_int(value: object, lang: str) -> str:
    """A count: 1,234,567 (en) or 123.5万 / 1.2亿 from ten thousand up (zh)."""
    number = _finite(value)
    if number is None:
        return "—"
    number = round(number)
    if lang == "zh" and abs(number) >= 100_000_000:
        return f"{number / 100_000_000:.2f}亿"
    if lang == "zh" and abs(number) >= 10_000:
        return f"{number / 10_000:.1f}万"
    return f"{number:,.0f}"


def fmt_num(value: object, lang: str, digits: int = 2) -> str:
    """A measure with ``digits`` decimals (large amounts abbreviated in Chinese)."""
    number = _finite(value)
    if number is None:
        return "—"
    if lang == "zh" and abs(number) >= 10_000:
        return fmt_int(number, lang)
    if abs(number) >= 1000:
        return f"{number:,.0f}"
    return f"{number:,.{digits}f}"


def fmt_pct(value: object, lang: str, digits: int = 1) -> str:
    """A share (0–1) as a percentage."""
    number = _finite(value)
    if number is None:
        return "—"
    return f"{number * 100:.{digits}f}%"


def fmt_signed_pct(value: object, lang: str) -> str:
    number = _finite(value)
    if number is None:
        return "—"
    return f"{number * 100:+.1f}%"


def fmt_date(value: object, lang: str) -> str:
    """A date: 2024年11月11日 (zh) or 2024-11-11 (en)."""
    if value is None:
        return "—"
    text = str(value)[:10]
    if lang == "zh" and len(text) == 10 and text[4] == "-" and text[7] == "-":
        return f"{int(text[:4])}年{int(text[5:7])}月{int(text[8:10])}日"
    return text


def stage_name(stage: object, lang: str) -> str:
    key = f"stage_{stage}"
    return t(key, lang) if key in STRINGS else str(stage)


def kind_name(kind: object, lang: str) -> str:
    key = f"kind_{kind}"
    return t(key, lang) if key in STRINGS else str(kind)


def fmt_money(value: object, lang: str, unit: str) -> str:
    """An amount with its currency: 5287.0万元 / ¥52,870,000 / $1,234 / 1,234（数据币种）."""
    number = fmt_num(value, lang, 0)
    if number == "—":
        return number
    if unit in ("¥", "$"):
        return f"-{unit}{number[1:]}" if number.startswith("-") else f"{unit}{number}"
    if unit.startswith(("（", "(")):
        return f"{number} {unit}" if lang == "en" else f"{number}{unit}"
    return f"{number}{unit}" if lang == "zh" else f"{number} {unit}"


def fmt_units(value: object, lang: str) -> str:
    """A quantity of goods: 1,234 件 / 1,234 units."""
    number = fmt_num(value, lang, 0)
    if number == "—":
        return number
    return f"{number} 件" if lang == "zh" else f"{number} units"


def fmt_people(value: object, lang: str) -> str:
    number = fmt_int(value, lang)
    if number == "—":
        return number
    return f"{number} 人" if lang == "zh" else f"{number} people"


def fmt_month(iso: str, lang: str, *, day: bool = False) -> str:
    """A tick label with its year: 2025年3月 / Mar 2025 (with the day: 3月17日 2025 → 2025-03-17)."""
    year, month, dd = int(iso[:4]), int(iso[5:7]), int(iso[8:10])
    if day:
        return f"{year}年{month}月{dd}日" if lang == "zh" else iso[:10]
    names = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    return f"{year}年{month}月" if lang == "zh" else f"{names[month - 1]} {year}"


def level_name(level: object, lang: str) -> str:
    key = f"level_{level}"
    return t(key, lang) if key in STRINGS else str(level)


def fmt_axis(value: object, lang: str) -> str:
    """A compact axis tick: 4M, 250k (en) or 400万, 1.2亿 (zh); small values as they are."""
    number = _finite(value)
    if number is None:
        return ""
    size = abs(number)
    if lang == "zh":
        if size >= 100_000_000:
            return f"{number / 100_000_000:g}亿"
        if size >= 10_000:
            return f"{number / 10_000:g}万"
    else:
        if size >= 1_000_000:
            return f"{number / 1_000_000:g}M"
        if size >= 10_000:
            return f"{number / 1_000:g}k"
    if number == int(number):
        return f"{int(number):,}"
    return f"{number:,.2f}".rstrip("0").rstrip(".")
