"""Rendering the gathered sections as one self-contained HTML page.

No script, no external font, stylesheet or image: the page is complete offline and safe to
forward. Every value from the data goes through ``safe.text`` (escaped, formulas neutralised);
strings the report writes itself go through ``safe.esc``. The page opens on the answer (what to
make, for whom, at which price, how many, when), each need linking to its brief; the data and the
run come last. It holds no workspace path or name (a renamed copy renders the same page).
The layout reads on a laptop and a phone (one column under 700 px, tables scroll in their own box)
and prints.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from typing import Any

from c2m_cli.calendar import festival_name
from c2m_cli.report import charts
from c2m_cli.report.i18n import (
    fmt_axis,
    fmt_date,
    fmt_int,
    fmt_money,
    fmt_month,
    fmt_num,
    fmt_pct,
    fmt_people,
    fmt_signed_pct,
    fmt_units,
    kind_name,
    level_name,
    stage_name,
    t,
)
from c2m_cli.report.safe import esc, text
from c2m_cli.report.sections.base import audience_name, currency_unit

SECTION_ORDER = (
    "summary",
    "consumers",
    "segments",
    "demand",
    "opportunities",
    "briefs",
    "quantities",
    "audiences",
    "bundles",
    "caveats",
    "overview",
    "scorecard",
)
# The command that produces each section's inputs, and what it produces (i18n key).
PRODUCER = {
    "orders": ("c2m ingest WORKSPACE --orders SRC", "what_orders"),
    "labels": ("c2m label WORKSPACE", "what_labels"),
    "segment_profiles": ("c2m segment WORKSPACE", "what_segments"),
    "forecast": ("c2m forecast WORKSPACE", "what_forecast"),
    "opportunities": ("c2m recommend WORKSPACE", "what_recommend"),
    "briefs": ("c2m recommend WORKSPACE", "what_recommend"),
    "quantities": ("c2m recommend WORKSPACE", "what_recommend"),
    "audiences": ("c2m recommend WORKSPACE", "what_recommend"),
    "bundles": ("c2m recommend WORKSPACE", "what_recommend"),
}

CSS = """
:root{--ink:#1f2430;--muted:#5b6270;--line:#dfe3ea;--bg:#f6f7f9;--card:#fff;--accent:#1f5fa8;--good:#2e7d4f;--bad:#b5443b}
*{box-sizing:border-box}
body{margin:0;font:15px/1.55 -apple-system,"PingFang SC","Hiragino Sans GB","Microsoft YaHei","Noto Sans CJK SC",
"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:var(--ink);background:var(--bg);-webkit-text-size-adjust:100%}
header{background:#1f2d44;color:#fff;padding:18px 24px}
header h1{margin:0 0 4px;font-size:24px}
header p{margin:0;color:#d5dcea;font-size:13px}
nav{position:sticky;top:0;z-index:2;background:#fff;border-bottom:1px solid var(--line);padding:6px 24px;display:flex;flex-wrap:wrap;gap:2px 16px}
nav a{color:var(--accent);text-decoration:none;font-size:14px;line-height:1.9}
main{max-width:1120px;margin:0 auto;padding:8px 16px 40px}
section{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:16px 20px;margin:18px 0;scroll-margin-top:48px}
section h2{margin:0 0 10px;font-size:20px}
h3{font-size:16px;margin:18px 0 8px}
h4{font-size:15px;margin:12px 0 4px}
p.lead{color:var(--muted);margin:0 0 10px}
.missing{color:var(--muted);background:#fff8e6;border-left:4px solid #e0a800;padding:10px 12px;margin:0}
code{background:#f1f1f1;padding:1px 4px;border-radius:3px;overflow-wrap:anywhere}
.kpis{display:grid;grid-template-columns:repeat(auto-fit,minmax(160px,1fr));gap:10px;margin:8px 0 14px}
.kpi{border:1px solid var(--line);border-radius:6px;padding:8px 12px}
.kpi b{display:block;font-size:19px}
.kpi span{color:var(--muted);font-size:12px}
.needs{display:grid;grid-template-columns:repeat(auto-fill,minmax(320px,1fr));gap:12px}
.need{border:1px solid var(--line);border-left:4px solid var(--accent);border-radius:8px;padding:10px 14px}
.need h3{margin:0 0 6px;font-size:16px}
.need dl{display:grid;grid-template-columns:5.2em 1fr;gap:3px 8px;margin:0 0 6px;font-size:14px}
.need dt{color:var(--muted)}.need dd{margin:0}
.need a,.brief a{color:var(--accent)}
.rank{display:inline-block;min-width:1.8em;background:var(--accent);color:#fff;border-radius:4px;text-align:center;margin-right:6px;font-size:13px}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;width:100%;font-size:13px;margin:6px 0 10px}
th,td{border-bottom:1px solid var(--line);padding:5px 8px;text-align:left;vertical-align:top;min-width:4.5em}
th{background:#f0f3f7;font-weight:600}
td.long,th.long{min-width:15em}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.heat{text-align:center;white-space:nowrap;font-variant-numeric:tabular-nums}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:12px}
.card{border:1px solid var(--line);border-radius:8px;padding:12px 14px;break-inside:avoid;page-break-inside:avoid;margin:10px 0}
.cards .card{margin:0}
.card h3{margin:0 0 6px}
.meta{color:var(--muted);font-size:13px}
.tag{display:inline-block;background:#eef3fb;color:#234;border-radius:10px;padding:1px 8px;margin:2px 4px 2px 0;font-size:12px}
.nowrap{white-space:nowrap}.pos{color:var(--good)}.neg{color:var(--bad)}
.fig{margin:8px 0 16px}
figcaption{font-weight:600;font-size:14px;margin:0 0 4px}
svg.chart{width:100%;height:auto;max-width:820px;display:block}
svg text{font-size:12px;fill:#3d4452}
svg .axis-title{font-size:12px;fill:#1f2430;font-weight:600}
svg .grid{stroke:#e6e9ef;stroke-width:1}
svg .axis{stroke:#9aa3b1;stroke-width:1}
svg .marker{stroke:#555;stroke-dasharray:3 3}
svg .fest-label{font-size:11px;fill:#8a5a14}
svg .marker-label{font-size:11px;fill:#555}
.legend{font-size:13px;color:var(--muted);margin-top:4px}
.legend .key{margin-right:14px;white-space:nowrap;display:inline-block}
.legend i{display:inline-block;width:18px;height:12px;margin-right:5px;vertical-align:-1px}
.legend i.key-box{background:var(--c);border-radius:2px}
.legend i.key-line{height:0;border-top:3px solid var(--c);vertical-align:3px}
.legend i.key-dash{height:0;border-top:3px dashed var(--c);vertical-align:3px}
.chart-note{font-size:13px;color:var(--muted);margin:2px 0 0}
.bars{max-width:820px}
.bar-row{display:grid;grid-template-columns:minmax(6em,13em) 1fr minmax(5.5em,auto);gap:8px;align-items:center;font-size:13px;margin:3px 0}
.bar-label{text-align:right;overflow-wrap:anywhere}
.bar-track{background:#f0f2f5;border-radius:2px;height:16px}
.bar{display:block;height:16px;border-radius:2px;min-width:1px}
.bar-value{font-variant-numeric:tabular-nums;white-space:nowrap}
blockquote{margin:6px 0;padding:6px 10px;border-left:3px solid var(--line);color:#333;background:#fafbfc}
.brief{border:1px solid var(--line);border-radius:8px;padding:10px 14px;margin:12px 0;scroll-margin-top:48px}
.brief h3{margin:0 0 6px}
.brief dl{display:grid;grid-template-columns:9em 1fr;gap:4px 10px;margin:0;font-size:14px}
.brief dt{color:var(--muted)}.brief dd{margin:0}
.ok{color:var(--good);font-weight:600}.fail{color:var(--bad);font-weight:600}
footer{color:var(--muted);font-size:12px;text-align:center;padding:10px}
@media (max-width:700px){
main{padding:4px 8px}section{padding:12px}header{padding:14px}nav{position:static;padding:6px 12px}
svg.chart text{font-size:21px}svg.chart .axis-title{font-size:21px}svg.chart .fest-label,svg.chart .marker-label{font-size:20px}
.card{padding:10px 8px}
svg.chart .minor{display:none}
.bar-row{grid-template-columns:minmax(5em,8em) 1fr auto;font-size:13px}
.need dl{grid-template-columns:4.6em 1fr}.brief dl{grid-template-columns:1fr}.brief dt{margin-top:4px}
.needs,.cards{grid-template-columns:1fr}
}
@media print{nav{display:none}body{background:#fff}section{border:none;break-inside:auto}.card,.fig,table,.brief,.need{break-inside:avoid}}
"""


def render(sections: dict[str, Any], *, lang: str, generated: str) -> str:
    """The complete report page for the gathered ``sections``."""
    shown = [name for name in SECTION_ORDER if name in sections]
    nav = "".join(f'<a href="#{name}">{esc(t(name, lang))}</a>' for name in shown)
    body = "".join(_section(name, sections[name], lang) for name in shown)
    html_lang = "zh-CN" if lang == "zh" else "en"
    overview = sections.get("overview", {})
    period = ""
    if overview.get("first"):
        colon = "：" if lang == "zh" else ": "
        period = f"{esc(t('data_period', lang))}{colon}{esc(fmt_date(overview['first'], lang))} – {esc(fmt_date(overview['last'], lang))} · "
    return (
        f'<!DOCTYPE html>\n<html lang="{html_lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">"
        f"<title>{esc(t('title', lang))}</title><style>{CSS}</style></head><body>"
        f"<header><h1>{esc(t('title', lang))}</h1><p>{period}{esc(generated)}</p></header>"
        f'<nav aria-label="{esc(t("contents", lang))}">{nav}</nav><main>{body}</main>'
        f"<footer>c2m · {esc(generated)}</footer></body></html>\n"
    )


def _section(name: str, data: dict[str, Any], lang: str) -> str:
    keep = name in ("overview",)
    inner = _missing(data["missing"], lang) if "missing" in data and not keep else RENDERERS[name](data, lang)
    return f'<section id="{name}" data-section="{name}"><h2>{esc(t(name, lang))}</h2>{inner}</section>'


def _missing(table: str, lang: str) -> str:
    command, what = PRODUCER.get(table, (f"c2m ... ({table})", "what_recommend"))
    message = esc(t("missing", lang, command="\x00", what=t(what, lang)))
    return f'<p class="missing">{message.replace(chr(0), f"<code>{esc(command)}</code>")}</p>'


Header = tuple[str, str]  # (escaped label, css class: "" | "num" | "long")


def _table(headers: Sequence[Header], rows: Sequence[Sequence[str]]) -> str:
    """A table from pre-escaped cells; each header carries its column's class."""
    head = "".join(f'<th class="{css}">{h}</th>' if css else f"<th>{h}</th>" for h, css in headers)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="{headers[i][1]}">{cell}</td>' if headers[i][1] else f"<td>{cell}</td>"
            for i, cell in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _h(key: str, lang: str, css: str = "") -> Header:
    return esc(t(key, lang)), css


def _kpis(items: Sequence[tuple[str, str]]) -> str:
    return '<div class="kpis">' + "".join(f'<div class="kpi"><b>{v}</b><span>{k}</span></div>' for k, v in items) + "</div>"


def _more(total: int, shown: int, lang: str) -> str:
    return f'<p class="meta">{esc(t("more_rows", lang, n=fmt_int(total - shown, lang)))}</p>' if total > shown else ""


def _ordinal(iso: str) -> float:
    return float(dt.date.fromisoformat(iso).toordinal())


def date_ticks(isos: Sequence[str], lang: str, count: int = 6) -> list[tuple[float, str]]:
    """About ``count`` dated ticks, each labelled with its year (month, or day for short series)."""
    if not isos:
        return []
    span = _ordinal(isos[-1]) - _ordinal(isos[0])
    with_day = span <= 120
    step = max(1, round(len(isos) / count))
    picked = list(isos[::step])
    return [(_ordinal(d), fmt_month(d, lang, day=with_day)) for d in picked]


def _spans(festivals: Sequence[dict[str, Any]], lang: str) -> list[charts.Span]:
    return [
        charts.Span(festival_name(f["festival"], lang), _ordinal(f["start"]), _ordinal(f["end"]) + 1)
        for f in festivals
    ]


def _colon(lang: str) -> str:
    return "：" if lang == "zh" else ": "


def _sep(lang: str) -> str:
    return "、" if lang == "zh" else ", "


def _paren(inner: str, lang: str) -> str:
    """``inner`` in brackets as the reader writes them: （…） in Chinese, (…) in English."""
    return f"（{inner}）" if lang == "zh" else f" ({inner})"


def _name(value: Any, lang: str) -> str:
    return text(value) if value not in (None, "") else esc(t("not_available", lang))


# -- the first screen --------------------------------------------------------------------------


def _summary(data: dict[str, Any], lang: str) -> str:
    unit = data.get("currency", "")
    parts = []
    kpis = []
    if data.get("first"):
        kpis.append((esc(t("data_period", lang)), f"{esc(fmt_date(data['first'], lang))} – {esc(fmt_date(data['last'], lang))}"))
    if data.get("users") is not None:
        kpis.append((esc(t("users", lang)), esc(fmt_people(data["users"], lang))))
    if data.get("revenue") is not None:
        kpis.append((esc(t("revenue", lang)), esc(fmt_money(data["revenue"], lang, unit))))
    if kpis:
        parts.append(_kpis(kpis))
    if "missing" in data:
        parts.append(_missing(data["missing"], lang))
        return "".join(parts)
    needs = data["needs"]
    lead = "summary_lead" if data.get("from_briefs") else "summary_lead_opps"
    parts.append(f'<p class="lead">{esc(t(lead, lang, n=len(needs)))}</p>')
    cards = []
    for need in needs:
        rank = f'<span class="rank">{esc(need["rank"])}</span>' if need["rank"] is not None else ""
        what = " · ".join(x for x in (text(kind_name(need["kind"], lang)) if need["kind"] else "", text(need["category"] or "")) if x)
        if need["attributes"]:
            what += f'<br>{esc(t("attributes", lang))}{_colon(lang)}' + "".join(f'<span class="tag">{text(a)}</span>' for a in need["attributes"][:5])
        if need["micro_demands"]:
            what += f'<br>{esc(t("micro_demands", lang))}{_colon(lang)}' + "".join(f'<span class="tag">{text(m)}</span>' for m in need["micro_demands"][:5])
        if need["variants"]:
            what += f'<br><span class="meta">{esc(t("variants", lang))}{_colon(lang)}{text(_sep(lang).join(need["variants"][:4]))}</span>'
        whom = _name(need["segment"], lang)
        if need["segment"] and need["segment_size"]:
            whom += f' <span class="meta">{_paren(esc(fmt_people(need["segment_size"], lang)), lang)}</span>'
        price = esc(t("not_available", lang))
        if need["price_band"]:
            price = text(_with_unit(need["price_band"], unit, lang))
        many = esc(t("not_available", lang))
        if need["quantity"] is not None:
            many = f"<b>{esc(t('make_qty', lang, qty=fmt_units(need['quantity'], lang)))}</b>"
        if need["demand_p10"] is not None and need["demand_p90"] is not None:
            rng = esc(t("demand_range", lang, p10=fmt_num(need["demand_p10"], lang, 0), p90=fmt_units(need["demand_p90"], lang)))
            many = f"{many}<br><span class=\"meta\">{rng}</span>" if need["quantity"] is not None else rng
        link = f'<a href="#{esc(need["anchor"])}">{esc(t("see_brief", lang))} →</a>' if need["anchor"] else ""
        cards.append(
            f'<div class="need"><h3>{rank}{text(need["subject"])}</h3><dl>'
            f"<dt>{esc(t('need_kind', lang))}</dt><dd>{what}</dd>"
            f"<dt>{esc(t('for_whom', lang))}</dt><dd>{whom}</dd>"
            f"<dt>{esc(t('price', lang))}</dt><dd>{price}</dd>"
            f"<dt>{esc(t('how_many', lang))}</dt><dd>{many}</dd>"
            f"<dt>{esc(t('when', lang))}</dt><dd>{_name(need['launch_window'], lang)}</dd>"
            f"</dl>{link}</div>"
        )
    parts.append(f'<div class="needs">{"".join(cards)}</div>')
    return "".join(parts)


def _with_unit(band: str, unit: str, lang: str) -> str:
    """A price band with its currency ("1600–3600" → "1600–3600 元", "¥1600–3600")."""
    if unit and unit in band or unit.startswith(("（", "(")):
        return band
    if unit in ("¥", "$"):
        return f"{unit}{band}"
    return f"{band} {unit}" if unit else band


# -- consumers ---------------------------------------------------------------------------------


STAGE_COLORS = {"new": "#4aa3b5", "active": "#2e7d4f", "sleeping": "#e0a800", "dormant": "#e07b39", "lost": "#b5443b"}


def _consumers(data: dict[str, Any], lang: str) -> str:
    unit = data.get("currency", "")
    stages = data["stages"]
    parts = [
        charts.bar_chart(
            t("funnel", lang),
            [
                charts.Bar(
                    stage_name(s["stage"], lang),
                    s["count"],
                    f"{fmt_people(s['count'], lang)} · {fmt_pct(s['share'], lang)}",
                    STAGE_COLORS.get(s["stage"], charts.PALETTE[0]),
                )
                for s in stages
            ],
        ),
        _table(
            [_h("stage", lang), _h("count", lang, "num"), _h("share", lang, "num"), (esc(t("value_total", lang)) + _paren(esc(unit.strip("（）()")), lang), "num"), _h("value_share", lang, "num"), _h("p_alive_mean", lang, "num")],
            [
                [text(stage_name(s["stage"], lang)), esc(fmt_people(s["count"], lang)), esc(fmt_pct(s["share"], lang)), esc(fmt_money(s["clv"], lang, unit)), esc(fmt_pct(s["clv_share"], lang)), esc(fmt_pct(s["p_alive"], lang))]
                for s in stages
            ],
        ),
        f"<h3>{esc(t('lifecycle_flows', lang))}</h3>",
    ]
    flows = data.get("flows")
    parts.append(_flows(flows, stages, lang) if flows else f'<p class="meta">{esc(t("no_flows", lang))}</p>')
    value = data.get("value")
    if value:
        parts.append(f"<h3>{esc(t('value_dist', lang))}</h3>")
        kpis = [
            (esc(t("value_total", lang)), esc(fmt_money(value["total"], lang, unit))),
            (esc(t("value_median", lang)), esc(fmt_money(value["median"], lang, unit))),
            (esc(t("value_top10", lang)), esc(fmt_pct(value["top10_share"], lang))),
        ]
        if value.get("total_p10") is not None and value.get("total_p90") is not None:
            kpis.append((esc(t("value_range", lang)), f"{esc(fmt_money(value['total_p10'], lang, unit))} – {esc(fmt_money(value['total_p90'], lang, unit))}"))
        parts.append(_kpis(kpis))
        hist = value["histogram"]
        if hist:
            labels = [("≥" if b["open"] else "") + fmt_num(b["low"], lang, 0) for b in hist]
            parts.append(
                charts.column_chart(
                    t("value_dist", lang),
                    labels,
                    [float(b["count"]) for b in hist],
                    y_format=lambda v: fmt_axis(v, lang),
                    y_title=t("axis_people", lang),
                    x_title=t("axis_clv", lang, unit=unit.strip("（）()")),
                )
            )
    parts.append(
        charts.bar_chart(
            t("family_coverage", lang),
            [charts.Bar(f"{c['family']}_（{c['columns']}）" if lang == "zh" else f"{c['family']}_ ({c['columns']})", c["coverage"], fmt_pct(c["coverage"], lang)) for c in data["coverage"]],
        )
    )
    return "".join(parts)


def _flows(flows: list[dict[str, Any]], stages: list[dict[str, Any]], lang: str) -> str:
    columns = list(dict.fromkeys([*(s["stage"] for s in stages), *(r["to"] for r in flows)]))
    sources = [s for s in [*(x["stage"] for x in stages), None] if any(r["from"] == s for r in flows)]
    sources += [s for s in dict.fromkeys(r["from"] for r in flows) if s not in sources]
    counts = {(r["from"], r["to"]): r["count"] for r in flows}
    rows = []
    for src in sources:
        total = sum(counts.get((src, c), 0) for c in columns)
        label = text(stage_name(src, lang)) if src is not None else esc(t("flows_new", lang))
        cells = []
        for c in columns:
            n = counts.get((src, c), 0)
            share = n / total if total else 0.0
            color = charts.heat_color(1 + 2 * share) if n else "#ffffff"
            cells.append(f'<span style="display:block;background:{color};padding:0 4px">{esc(fmt_int(n, lang))} <span class="meta">({esc(fmt_pct(share, lang, 0))})</span></span>')
        rows.append([label, *cells])
    table = _table([_h("from_stage", lang), *((text(stage_name(c, lang)), "num") for c in columns)], rows)
    active = [r for r in flows if r["from"] == "active"]
    n = sum(r["count"] for r in active)
    note = ""
    if n:
        kept = sum(r["count"] for r in active if r["to"] == "active") / n
        slept = sum(r["count"] for r in active if r["to"] in ("sleeping", "dormant", "lost")) / n
        note = f"<p>{esc(t('flows_summary', lang, n=fmt_people(n, lang), kept=fmt_pct(kept, lang), slept=fmt_pct(slept, lang)))}</p>"
    return f'<p class="meta">{esc(t("flows_lead", lang))}</p>{table}{note}'


# -- segments ----------------------------------------------------------------------------------


def _segments(data: dict[str, Any], lang: str) -> str:
    unit = data.get("currency", "")
    cards = []
    for i, card in enumerate(data["cards"]):
        portrait = " · ".join(
            f'<span class="{"pos" if p["z"] > 0 else "neg"}">{text(p["feature"])} {esc(format(p["z"], "+.1f"))}σ</span>'
            for p in card["portrait"]
        )
        tags = "".join(f'<span class="tag">{text(tag)}</span>' for tag in card["tags"])
        stats = [f"{esc(t('size', lang))} {esc(fmt_people(card['size'], lang))}", f"{esc(t('share', lang))} {esc(fmt_pct(card['share'], lang))}"]
        if card["value_share"] is not None:
            stats.append(f"{esc(t('value_share', lang))} {esc(fmt_pct(card['value_share'], lang))}")
        if card["avg_clv"] is not None:
            stats.append(f"{esc(t('avg_clv', lang))} {esc(fmt_money(card['avg_clv'], lang, unit))}")
        cards.append(
            f'<div class="card" style="border-top:4px solid {charts.PALETTE[i % 8]}"><h3>{text(card["name"])}</h3>'
            f'<p class="meta">{" · ".join(stats)}</p>'
            + (f"<p>{text(card['description'])}</p>" if card["description"] else "")
            + (f'<p class="meta">{esc(t("portrait", lang))}: {portrait}</p>' if portrait else "")
            + (f'<p>{esc(t("top_tags", lang))}: {tags}</p>' if tags else "")
            + (f'<p><b>{esc(t("action", lang))}:</b> {text(card["action"])}</p>' if card["action"] else "")
            + "</div>"
        )
    bars = [
        charts.Bar(c["name"], c["size"], f"{fmt_people(c['size'], lang)} · {fmt_pct(c['share'], lang)}" + (f" · {t('value_share', lang)} {fmt_pct(c['value_share'], lang)}" if c["value_share"] is not None else ""), charts.PALETTE[i % 8])
        for i, c in enumerate(data["cards"])
    ]
    out = charts.bar_chart(t("segments", lang), bars) if bars else ""
    out += f"<h3>{esc(t('heat', lang))}</h3>" + (_heat(data["heat"], lang) if data.get("heat") else f'<p class="meta">{esc(t("no_heat", lang))}</p>')
    return out + f'<div class="cards">{"".join(cards)}</div>'


def _heat(heat: dict[str, Any], lang: str) -> str:
    headers: list[Header] = [_h("segment", lang), *((text(c), "num") for c in heat["categories"])]
    rows = []
    for row in heat["rows"]:
        cells = [
            f'<span style="display:block;background:{charts.heat_color(ix)};padding:0 4px">{esc(fmt_pct(share, lang, 0))}</span>'
            for share, ix in zip(row["shares"], row["index"], strict=True)
        ]
        rows.append([text(row["segment"]), *cells])
    rows.append([f"<b>{esc(t('everyone', lang))}</b>", *(f"<b>{esc(fmt_pct(s, lang, 0))}</b>" for s in heat["overall"])])
    return f'<p class="meta">{esc(t("heat_lead", lang))}</p>' + _table(headers, rows)


# -- demand ------------------------------------------------------------------------------------


def _demand(data: dict[str, Any], lang: str) -> str:
    freq = data.get("freq", "W")
    y_title = t({"D": "axis_units_day", "W": "axis_units_week", "M": "axis_units_month"}[freq], lang)
    x_title = t({"D": "axis_day", "W": "axis_week", "M": "axis_month"}[freq], lang)
    parts = []
    for chart in data["charts"]:
        hist, future = chart["history"], chart["forecast"]
        lines = []
        if hist:
            lines.append(charts.Line(t("actual", lang), [_ordinal(h["ds"]) for h in hist], [h["y"] for h in hist], charts.INK))
        fx = [_ordinal(f["ds"]) for f in future]
        lines.append(charts.Line(t("forecast", lang), fx, [f["p50"] for f in future], charts.FORECAST, dashed=True))
        bands = []
        for lo, hi, key, color in (("lo90", "hi90", "interval90", charts.BAND90), ("lo80", "hi80", "interval80", charts.BAND80)):
            if future and all(f[lo] is not None and f[hi] is not None for f in future):
                bands.append(charts.Band(t(key, lang), fx, [f[lo] for f in future], [f[hi] for f in future], color))
        isos = [h["ds"] for h in hist] + [f["ds"] for f in future]
        if chart["level"] == "total":
            title = t("forecast_total", lang)
        else:
            title = t("forecast_series", lang, level=level_name(chart["level"], lang), uid=chart["label"])
        parts.append(
            charts.line_chart(
                title,
                lines,
                bands,
                x_labels=date_ticks(isos, lang),
                y_format=lambda v: fmt_axis(v, lang),
                y_title=y_title,
                x_title=x_title,
                spans=_spans(chart["festivals"], lang) if freq != "M" else [],
                span_name=t("festival_window", lang),
                marker_x=fx[0] if fx and hist else None,
                marker_label=t("forecast_start", lang) if fx and hist else "",
            )
        )
    accuracy = data.get("accuracy")
    if accuracy:
        parts.append(f"<h3>{esc(t('accuracy', lang))}</h3>")
        parts.append(
            _table(
                [_h("level", lang), ("WAPE", "num"), (esc(t("baseline", lang)) + " WAPE", "num"), _h("improvement", lang, "num"), ("MASE", "num"), (esc(t("baseline", lang)) + " MASE", "num"), (esc(t("interval80", lang)), "num"), (esc(t("interval90", lang)), "num")],
                [
                    [
                        text(level_name(a["level"], lang)),
                        esc(fmt_pct(a["wape"], lang)),
                        esc(fmt_pct(a["wape_baseline"], lang)) if a["baseline_model"] else esc(t("no_baseline", lang)),
                        _signed(a["improvement"], lang),
                        esc(fmt_num(a["mase"], lang, 2)),
                        esc(fmt_num(a["mase_baseline"], lang, 2)),
                        esc(fmt_pct(a["coverage_80"], lang)),
                        esc(fmt_pct(a["coverage_90"], lang)),
                    ]
                    for a in accuracy
                ],
            )
        )
        parts.append(f'<p class="meta">{esc(t("accuracy_note", lang))}</p>')
    festivals = data.get("festivals")
    if not festivals:
        parts.append(f"<h3>{esc(t('festival_effects', lang))}</h3>")
    if festivals is None:
        parts.append(f'<p class="meta">{esc(t("festival_not_applicable", lang))}</p>')
    elif not festivals:
        parts.append(f'<p class="meta">{esc(t("no_festivals", lang))}</p>')
    else:
        parts.append(
            charts.bar_chart(
                t("festival_effects", lang),
                [
                    charts.Bar(f"{festival_name(f['festival'], lang)} {f['year']}", f["uplift"], f"×{f['uplift']:.2f}", charts.HIGHLIGHT if f["uplift"] >= 1 else charts.PLAIN)
                    for f in festivals
                ],
            )
        )
    return "".join(parts)


def _signed(value: float | None, lang: str) -> str:
    if value is None:
        return "—"
    css = "pos" if value > 0 else "neg"
    return f'<span class="{css}">{esc(fmt_signed_pct(value, lang))}</span>'


# -- opportunities and briefs ------------------------------------------------------------------

VOLUME_UNIT = {
    "search_gap": ("次搜索", "searches"),
    "rising_demand": ("次搜索", "searches"),
    "price_band": ("件", "units"),
    "micro_demand": ("条评价", "reviews"),
    "attribute_gap": ("次搜索", "searches"),
    "festival": ("件", "units"),
}


def _volume(value: float | None, kind: str, lang: str) -> str:
    if value is None:
        return "—"
    unit = VOLUME_UNIT.get(kind, ("", ""))[0 if lang == "zh" else 1]
    return esc(f"{fmt_num(value, lang, 0)} {unit}".strip())


def _opportunities(data: dict[str, Any], lang: str) -> str:
    unit = data.get("currency", "")
    rows = data["rows"]
    parts = [
        _table(
            [_h("rank", lang, "num"), _h("kind", lang), _h("category", lang), _h("subject", lang, "long"), _h("volume", lang, "num"), _h("trend", lang), _h("target_segment", lang), _h("score", lang, "num"), _h("evidence", lang, "long")],
            [
                [
                    esc(r["rank"]),
                    f'<span class="nowrap">{text(kind_name(r["kind"], lang))}</span>',
                    f'<span class="nowrap">{text(r["category"])}</span>',
                    text(r["subject"]) + (f'<br><span class="meta">{esc(t("variants", lang))}{_colon(lang)}{text(_sep(lang).join(r["variants"][:5]))}</span>' if r.get("variants") else ""),
                    _volume(r.get("volume"), r["kind"], lang),
                    text(r.get("trend") or "—"),
                    text(r.get("segment") or "—"),
                    esc(fmt_num(r["score"], lang, 2)),
                    text(r["evidence"]),
                ]
                for r in rows
            ],
        ),
        _more(data["total"], len(rows), lang),
    ]
    for r in rows:
        evidence = r.get("charts") or {}
        if not any(evidence.values()):
            continue
        parts.append(f'<div class="card"><h3><span class="rank">{esc(r["rank"])}</span>{text(r["subject"])}</h3><p class="meta">{text(kind_name(r["kind"], lang))} · {text(r["category"])}</p>')
        trend = evidence.get("trend")
        if trend:
            isos = [p["week"] for p in trend]
            xs = [_ordinal(d) for d in isos]
            parts.append(
                charts.line_chart(
                    t("search_vs_sales", lang),
                    [
                        *(
                            [charts.Line(t("searches", lang), xs, [p["searches"] for p in trend], charts.HIGHLIGHT)]
                            if any(p["searches"] for p in trend)
                            else []
                        ),
                        charts.Line(t("sales", lang), xs, [p["sales"] for p in trend], charts.FORECAST),
                    ],
                    x_labels=date_ticks(isos, lang),
                    y_format=lambda v: f"{v:.0f}",
                    y_title=t("axis_index", lang),
                    x_title=t("axis_week", lang),
                )
            )
        quotes = evidence.get("quotes")
        if quotes:
            parts.append(f"<h4>{esc(t('quotes', lang))}</h4>" + "".join(f"<blockquote>{text(q)}</blockquote>" for q in quotes))
        prices = evidence.get("prices")
        if prices and prices["bins"]:
            low, high = prices["low"], prices["high"]
            highlight = [low is not None and (high is None or b["low"] < high) and b["high"] > low for b in prices["bins"]]
            band = f"{fmt_num(low, lang, 0)}–{'∞' if high is None else fmt_num(high, lang, 0)}" if low is not None else ""
            parts.append(
                charts.column_chart(
                    t("price_portrait", lang),
                    [fmt_num(b["low"], lang, 0) for b in prices["bins"]],
                    [b["units"] for b in prices["bins"]],
                    highlight=highlight,
                    highlight_name=f"{t('target_band', lang)} {_with_unit(band, unit, lang)}".strip(),
                    plain_name=t("other_bands", lang),
                    y_format=lambda v: fmt_axis(v, lang),
                    y_title=t("axis_units", lang),
                    x_title=t("axis_price", lang, unit=unit.strip("（）()")),
                )
            )
        parts.append("</div>")
    return "".join(parts)


def _briefs(data: dict[str, Any], lang: str) -> str:
    unit = data.get("currency", "")
    parts = []
    for b in data["rows"]:
        if b["markdown"] is not None:
            parts.append(f'<div class="brief" id="{esc(b["anchor"])}"><h3>{text(b["id"])}</h3>{markdown_to_html(b["markdown"])}</div>')
            continue
        items: list[tuple[str, str]] = []
        what = text(b["subject"])
        if b["product"]:
            what += f' <span class="meta">{_paren(esc(t("product", lang)) + _colon(lang) + text(b["product"]), lang)}</span>'
        items.append((t("what", lang), what))
        if b["variants"]:
            items.append((t("variants", lang), text(_sep(lang).join(b["variants"]))))
        if b["evidence"]:
            items.append((t("evidence", lang), text(b["evidence"])))
        whom = _name(b["segment"], lang)
        if b["segment"] and b["segment_size"]:
            share = fmt_pct(b["segment_share"], lang) if b["segment_share"] is not None else None
            size = t("people_of", lang, n=fmt_people(b["segment_size"], lang), share=share) if share else fmt_people(b["segment_size"], lang)
            whom += f' <span class="meta">{_paren(esc(size), lang)}</span>'
        items.append((t("target_segment", lang), whom))
        if b["portrait"]:
            items.append((t("portrait_brief", lang), text(b["portrait"])))
        items.append((t("price", lang), text(_with_unit(b["price_band"], unit, lang)) if b["price_band"] else esc(t("not_available", lang))))
        items.append((t("attributes", lang), "".join(f'<span class="tag">{text(a)}</span>' for a in b["attributes"]) or "—"))
        items.append((t("micro_demands", lang), "".join(f'<span class="tag">{text(m)}</span>' for m in b["micro_demands"]) or "—"))
        if b["demand_p50"] is not None:
            items.append((t("expected_demand", lang), esc(f"P10 {fmt_num(b['demand_p10'], lang, 0)} / P50 {fmt_num(b['demand_p50'], lang, 0)} / P90 {fmt_num(b['demand_p90'], lang, 0)} {t('unit_items', lang)}")))
        if b["quantity"] is not None:
            level = _paren(f"{t('service_level', lang)} {fmt_pct(b['service_level'], lang, 0)}", lang) if b["service_level"] is not None else ""
            items.append((t("how_many", lang), f"<b>{esc(t('make_qty', lang, qty=fmt_units(b['quantity'], lang)))}</b>{esc(level)}"))
        items.append((t("launch_window", lang), _name(b["launch_window"], lang)))
        if b["presale_plan"]:
            items.append((t("presale_plan", lang), text(b["presale_plan"])))
        rank = f'<span class="rank">{esc(b["rank"])}</span>' if b["rank"] is not None else ""
        kind = " · ".join(x for x in (text(kind_name(b["kind"], lang)) if b["kind"] else "", text(b["category"] or "")) if x)
        parts.append(
            f'<div class="brief" id="{esc(b["anchor"])}"><h3>{rank}{text(b["subject"])}</h3>'
            + (f'<p class="meta">{kind}</p>' if kind else "")
            + "<dl>" + "".join(f"<dt>{esc(k)}</dt><dd>{v}</dd>" for k, v in items) + "</dl></div>"
        )
    return "".join(parts) + _more(data["total"], len(data["rows"]), lang)


METHODS = {
    "newsvendor": {"zh": "报童模型：按需求分布的分位数", "en": "newsvendor: from the demand distribution's quantiles"},
    "history": {"zh": "按近期历史销量（无预测）", "en": "from recent sales history (no forecast)"},
    "presale": {"zh": "按预售订单", "en": "from pre-sale orders"},
    "search": {"zh": "按搜索量与转化率", "en": "from searches and conversion"},
    "forecast": {"zh": "按预测", "en": "from the forecast"},
}


def method_name(method: Any, lang: str) -> str:
    """A method in the reader's language when it is one c2m knows; the data's own text otherwise."""
    if method is None:
        return "—"
    value = str(method)
    key = value.split(":", 1)[0].strip().lower()
    if lang == "zh" and key in METHODS and not re.search(r"[\u4e00-\u9fff]", value):
        return METHODS[key]["zh"]
    return value


def _quantities(data: dict[str, Any], lang: str) -> str:
    rows = data["rows"]
    return _table(
        [_h("item", lang, "long"), _h("presale_orders", lang, "num"), _h("demand_p10_p90", lang, "num"), (esc(t("forecast_p50", lang)), "num"), _h("recommended_qty", lang, "num"), _h("service_level", lang, "num"), _h("fill_rate", lang, "num"), _h("leftover", lang, "num"), _h("method", lang, "long")],
        [
            [
                (f'<a href="#{esc(r["anchor"])}">{text(r["item"])}</a>' if r["anchor"] else text(r["item"])),
                esc(fmt_num(r["presale_orders"], lang, 0)),
                esc(f"{fmt_num(r['p10'], lang, 0)}–{fmt_num(r['p90'], lang, 0)}"),
                esc(fmt_units(r["p50"], lang)),
                f"<b>{esc(fmt_units(r['recommended_qty'], lang))}</b>",
                esc(fmt_pct(r["service_level"], lang, 0)),
                esc(fmt_pct(r["fill_rate"], lang)),
                esc(fmt_num(r["leftover"], lang, 0)),
                text(method_name(r["method"], lang)),
            ]
            for r in rows
        ],
    ) + _more(data["total"], len(rows), lang)


def _audiences(data: dict[str, Any], lang: str) -> str:
    rows = data["rows"]
    parts = [
        charts.bar_chart(t("audiences", lang), [charts.Bar(r["name"], r["users"], fmt_people(r["users"], lang), charts.PALETTE[i % 8]) for i, r in enumerate(rows)]),
        _table(
            [_h("audience", lang), _h("count", lang, "num"), _h("mean_score", lang, "num"), _h("top_reason", lang, "long")],
            [[text(r["name"]), esc(fmt_people(r["users"], lang)), esc(fmt_num(r["score"], lang, 2)), text(r["reason"])] for r in rows],
        ),
    ]
    if data["include_ids"]:
        from c2m_cli.report.sections.audiences import IDS_PER_AUDIENCE

        parts.append(f"<h3>{esc(t('ids_listed', lang, n=IDS_PER_AUDIENCE))}</h3>")
        for r in rows:
            parts.append(f"<p><b>{text(audience_name(r['audience'], lang))}</b>: " + ", ".join(text(u) for u in r["user_ids"]) + "</p>")
    else:
        parts.append(f'<p class="meta">{esc(t("ids_hidden", lang))}</p>')
    return "".join(parts)


def _bundles(data: dict[str, Any], lang: str) -> str:
    rows = data["rows"]
    return _table(
        [_h("antecedent", lang, "long"), _h("consequent", lang, "long"), _h("support", lang, "num"), _h("confidence", lang, "num"), (esc(t("lift", lang)) + " ×", "num")],
        [
            [" + ".join(text(a) for a in r["antecedent"]), " + ".join(text(c) for c in r["consequent"]), esc(fmt_pct(r["support"], lang, 2)), esc(fmt_pct(r["confidence"], lang)), esc(fmt_num(r["lift"], lang, 2))]
            for r in rows
        ],
    ) + _more(data["total"], len(rows), lang)


# -- caveats, data, scorecard ------------------------------------------------------------------


def _caveats(data: dict[str, Any], lang: str) -> str:
    parts = [f'<p class="lead">{esc(t("caveats_lead", lang))}</p>']
    if data["warnings"]:
        parts.append(
            _table(
                [_h("step", lang), _h("warning_code", lang), _h("message", lang, "long")],
                [[text(w["step"]), f"<code>{text(w['code'])}</code>", text(w["message"])] for w in data["warnings"]],
            )
        )
    else:
        parts.append(f"<p>{esc(t('no_warnings', lang))}</p>")
    rejected = data.get("rejected") or 0
    if rejected:
        parts.append(f"<p>{esc(t('rejects_caveat', lang, n=fmt_int(rejected, lang)))}</p>")
    return "".join(parts)


def _overview(data: dict[str, Any], lang: str) -> str:
    parts = []
    unit = data.get("currency", "")
    if "missing" in data:
        parts.append(_missing(data["missing"], lang))
    else:
        parts.append(
            _kpis(
                [
                    (esc(t("data_period", lang)), f"{esc(fmt_date(data['first'], lang))} – {esc(fmt_date(data['last'], lang))}"),
                    (esc(t("users", lang)), esc(fmt_people(data["users"], lang))),
                    (esc(t("skus", lang)), esc(fmt_int(data["skus"], lang))),
                    (esc(t("revenue", lang)), esc(fmt_money(data["revenue"], lang, unit))),
                    (esc(t("timezone", lang)), text(data["timezone"])),
                ]
            )
        )
        weekly = data.get("weekly") or []
        if weekly:
            isos = [w["week"] for w in weekly]
            market = data.get("market", "none")
            spans = _spans(data.get("festivals") or [], lang)
            note = t("weekly_sales_note", lang, market=t(f"market_{market}", lang)) if spans and f"market_{market}" in _KNOWN else ""
            parts.append(
                charts.line_chart(
                    t("weekly_sales", lang),
                    [charts.Line(t("sales", lang), [_ordinal(d) for d in isos], [float(w["units"]) for w in weekly], charts.FORECAST)],
                    x_labels=date_ticks(isos, lang),
                    y_format=lambda v: fmt_axis(v, lang),
                    y_title=t("axis_units_week", lang),
                    x_title=t("axis_week", lang),
                    spans=spans,
                    span_name=t("festival_window", lang),
                    note=note,
                )
            )
    rejected = {r["table"]: r["rows"] for r in data["rejects"]}
    parts.append(f"<h3>{esc(t('tables', lang))}</h3>")
    parts.append(
        _table(
            [_h("table", lang), _h("rows", lang, "num"), _h("rejected", lang, "num")],
            [
                [text(r["table"]), esc(fmt_int(r["rows"], lang)), esc(fmt_int(rejected.get(r["table"], 0), lang)) if r["canonical"] else ""]
                for r in data["tables"]
            ],
        )
    )
    parts.append(f"<h3>{esc(t('rejects_why', lang))}</h3>")
    why = [(r["table"], w) for r in data["rejects"] for w in r["why"]]
    if not data["rejects"] or not any(r["rows"] for r in data["rejects"]):
        parts.append(f'<p class="meta">{esc(t("no_rejects", lang))}</p>')
    else:
        parts.append(
            _table(
                [_h("table", lang), _h("column", lang), _h("reason", lang, "long"), _h("rows", lang, "num")],
                [[text(tb), text(w["column"]), text(w["reason"]), esc(fmt_int(w["rows"], lang))] for tb, w in why]
                or [[text(r["table"]), "", "", esc(fmt_int(r["rows"], lang))] for r in data["rejects"]],
            )
        )
    if data["steps"]:
        parts.append(f"<h3>{esc(t('steps', lang))}</h3>")
        parts.append(
            _table(
                [_h("command", lang), _h("version", lang), _h("seed", lang, "num"), _h("outputs", lang, "long")],
                [
                    [
                        text(s["command"]) + (f' <span class="meta">({text(s["via"])})</span>' if s["via"] else ""),
                        text(s["version"]),
                        esc(s["seed"]),
                        text(s["outputs"]),
                    ]
                    for s in data["steps"]
                ],
            )
        )
    return "".join(parts)


_KNOWN = {"market_cn", "market_us"}


def _scorecard(data: dict[str, Any], lang: str) -> str:
    rows = data["rows"]

    def verdict(value: Any) -> str:
        if value is True:
            return f'<span class="ok">✔ {esc(t("yes", lang))}</span>'
        if value is False:
            return f'<span class="fail">✘ {esc(t("no", lang))}</span>'
        return esc(t("na", lang))

    def shown(value: Any) -> str:
        if isinstance(value, float):
            return esc(fmt_num(value, lang, 3))
        return text(value)

    judged = data["passed"] + data["failed"]
    return f"<p><b>{esc(t('passed_count', lang, passed=data['passed'], total=judged))}</b></p>" + _table(
        [_h("step", lang), _h("check", lang, "long"), _h("value", lang, "num"), _h("target", lang), _h("passed", lang), _h("detail", lang, "long")],
        [[text(r["step"]), text(r["check"]), shown(r["value"]), text(r["target"]), verdict(r["passed"]), text(r["detail"])] for r in rows],
    )


RENDERERS: dict[str, Callable[[dict[str, Any], str], str]] = {
    "summary": _summary,
    "overview": _overview,
    "consumers": _consumers,
    "segments": _segments,
    "demand": _demand,
    "opportunities": _opportunities,
    "briefs": _briefs,
    "quantities": _quantities,
    "audiences": _audiences,
    "bundles": _bundles,
    "caveats": _caveats,
    "scorecard": _scorecard,
}


_BOLD = re.compile(r"\*\*(.+?)\*\*")


def markdown_to_html(markdown: str) -> str:
    """A safe subset of Markdown (headings, lists, quotes, bold, paragraphs): escaped first."""
    out: list[str] = []
    in_list = False
    for raw in markdown.splitlines():
        line = raw.rstrip()
        bullet = line.lstrip().startswith(("- ", "* "))
        if in_list and not bullet:
            out.append("</ul>")
            in_list = False
        if not line.strip():
            continue
        if line.startswith("#"):
            level = min(len(line) - len(line.lstrip("#")) + 3, 6)
            out.append(f"<h{level}>{_inline(line.lstrip('#').strip())}</h{level}>")
        elif bullet:
            if not in_list:
                out.append("<ul>")
                in_list = True
            out.append(f"<li>{_inline(line.lstrip()[2:])}</li>")
        elif line.startswith(">"):
            out.append(f"<blockquote>{_inline(line[1:].strip())}</blockquote>")
        else:
            out.append(f"<p>{_inline(line)}</p>")
    if in_list:
        out.append("</ul>")
    return "".join(out)


def _inline(line: str) -> str:
    return _BOLD.sub(r"<b>\1</b>", text(line))


__all__ = ["SECTION_ORDER", "currency_unit", "markdown_to_html", "method_name", "render"]
