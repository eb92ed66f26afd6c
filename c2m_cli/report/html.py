"""Rendering the gathered sections as one self-contained HTML page.

No script, no external font, stylesheet or image: the page is complete offline and safe to
forward. Every value from the data goes through ``safe.text`` (escaped, formulas neutralised);
strings the report writes itself go through ``safe.esc``. Charts are inline SVG (``charts``).
The layout reads on a laptop and a phone (one column under 700 px) and prints (no navigation,
no cards split across pages).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from typing import Any

from c2m_cli.calendar import FESTIVAL_NAMES_EN
from c2m_cli.report import charts
from c2m_cli.report.i18n import (
    fmt_date,
    fmt_int,
    fmt_num,
    fmt_pct,
    fmt_signed_pct,
    kind_name,
    stage_name,
    t,
)
from c2m_cli.report.safe import esc, text

SECTION_ORDER = (
    "overview",
    "consumers",
    "segments",
    "demand",
    "opportunities",
    "quantities",
    "audiences",
    "bundles",
    "scorecard",
)
# The command that produces each section's inputs, and what it produces (i18n key).
PRODUCER = {
    "orders": ("c2m ingest WORKSPACE --orders SRC", "what_orders"),
    "labels": ("c2m label WORKSPACE", "what_labels"),
    "segment_profiles": ("c2m segment WORKSPACE", "what_segments"),
    "forecast": ("c2m forecast WORKSPACE", "what_forecast"),
    "opportunities": ("c2m recommend WORKSPACE", "what_recommend"),
    "quantities": ("c2m recommend WORKSPACE", "what_recommend"),
    "audiences": ("c2m recommend WORKSPACE", "what_recommend"),
    "bundles": ("c2m recommend WORKSPACE", "what_recommend"),
}

CSS = """
:root{--ink:#1f2430;--muted:#5d6472;--line:#dfe3ea;--bg:#f6f7f9;--card:#fff;--accent:#2f6db5;--good:#2e7d4f;--bad:#b5443b}
*{box-sizing:border-box}
body{margin:0;font:15px/1.55 -apple-system,"PingFang SC","Hiragino Sans GB","Microsoft YaHei","Noto Sans CJK SC",
"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:var(--ink);background:var(--bg)}
header{background:#1f2d44;color:#fff;padding:20px 24px}
header h1{margin:0 0 4px;font-size:24px}
header p{margin:0;color:#c9d3e3;font-size:13px}
nav{position:sticky;top:0;z-index:2;background:#fff;border-bottom:1px solid var(--line);padding:8px 24px;overflow-x:auto;white-space:nowrap}
nav a{color:var(--accent);text-decoration:none;margin-right:16px;font-size:14px}
main{max-width:1080px;margin:0 auto;padding:8px 16px 40px}
section{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:16px 20px;margin:18px 0}
section h2{margin:0 0 12px;font-size:20px}
h3{font-size:16px;margin:18px 0 8px}
.missing{color:var(--muted);background:#fff8e6;border-left:4px solid #e0a800;padding:10px 12px;margin:0}
.missing code{background:#f1f1f1;padding:1px 4px;border-radius:3px}
.kpis{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:10px;margin:8px 0 14px}
.kpi{border:1px solid var(--line);border-radius:6px;padding:8px 12px}
.kpi b{display:block;font-size:20px}
.kpi span{color:var(--muted);font-size:12px}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:13px;margin:6px 0 10px}
th,td{border-bottom:1px solid var(--line);padding:5px 8px;text-align:left;vertical-align:top}
th{background:#f0f3f7;font-weight:600}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.grid2{display:grid;grid-template-columns:1fr 1fr;gap:16px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:12px}
.card{border:1px solid var(--line);border-radius:8px;padding:12px 14px;break-inside:avoid;page-break-inside:avoid}
.card h3{margin:0 0 6px}
.meta{color:var(--muted);font-size:13px}
.tag{display:inline-block;background:#eef3fb;color:#234;border-radius:10px;padding:1px 8px;margin:2px 4px 2px 0;font-size:12px}
.pos{color:var(--good)}.neg{color:var(--bad)}
.fig{margin:8px 0 14px}
svg.chart{width:100%;height:auto;max-width:760px;display:block}
svg .grid{stroke:#e6e9ef;stroke-width:1}
svg .marker{stroke:#888;stroke-dasharray:3 3}
svg text{font-size:11px;fill:#4a5160}
svg text.label{font-size:12px;fill:#1f2430}
.legend{font-size:12px;color:var(--muted)}
.legend .key{margin-right:14px;white-space:nowrap}
.legend i{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:4px;vertical-align:-1px}
blockquote{margin:6px 0;padding:6px 10px;border-left:3px solid var(--line);color:#333;background:#fafbfc}
.brief{border-top:1px solid var(--line);padding-top:8px;margin-top:8px}
.brief h4,.brief h5{margin:8px 0 4px}
.ok{color:var(--good);font-weight:600}.fail{color:var(--bad);font-weight:600}
footer{color:var(--muted);font-size:12px;text-align:center;padding:10px}
@media (max-width:700px){.grid2{grid-template-columns:1fr}main{padding:4px 8px}section{padding:12px}header{padding:14px}}
@media print{nav{display:none}body{background:#fff}section{border:none;break-inside:auto}.card,.fig,table{break-inside:avoid}}
"""


def render(sections: dict[str, Any], *, lang: str, workspace_name: str, generated: str) -> str:
    """The complete report page for the gathered ``sections``."""
    shown = [name for name in SECTION_ORDER if name in sections]
    nav = "".join(f'<a href="#{name}">{esc(t(name, lang))}</a>' for name in shown)
    body = "".join(_section(name, sections[name], lang) for name in shown)
    html_lang = "zh-CN" if lang == "zh" else "en"
    return (
        f'<!DOCTYPE html>\n<html lang="{html_lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">"
        f"<title>{esc(t('title', lang))} · {text(workspace_name)}</title><style>{CSS}</style></head><body>"
        f"<header><h1>{esc(t('title', lang))}</h1><p>{esc(t('generated', lang))} {text(workspace_name)} · {esc(generated)}</p></header>"
        f'<nav aria-label="{esc(t("contents", lang))}">{nav}</nav><main>{body}</main>'
        f"<footer>c2m · {esc(generated)}</footer></body></html>\n"
    )


def _section(name: str, data: dict[str, Any], lang: str) -> str:
    inner = _missing(data["missing"], lang) if "missing" in data and name != "overview" else RENDERERS[name](data, lang)
    return f'<section id="{name}" data-section="{name}"><h2>{esc(t(name, lang))}</h2>{inner}</section>'


def _missing(table: str, lang: str) -> str:
    command, what = PRODUCER.get(table, (f"c2m ... ({table})", "what_recommend"))
    message = esc(t("missing", lang, command="\x00", what=t(what, lang)))
    return f'<p class="missing">{message.replace(chr(0), f"<code>{esc(command)}</code>")}</p>'


def _table(headers: Sequence[tuple[str, bool]], rows: Sequence[Sequence[str]]) -> str:
    """A table from pre-escaped cells; ``headers`` are (escaped label, is numeric)."""
    head = "".join(f'<th class="num">{h}</th>' if num else f"<th>{h}</th>" for h, num in headers)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{cell}</td>' if headers[i][1] else f"<td>{cell}</td>" for i, cell in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _h(key: str, lang: str, numeric: bool = False) -> tuple[str, bool]:
    return esc(t(key, lang)), numeric


def _kpis(items: Sequence[tuple[str, str]]) -> str:
    return '<div class="kpis">' + "".join(f'<div class="kpi"><b>{v}</b><span>{k}</span></div>' for k, v in items) + "</div>"


def _more(total: int, shown: int, lang: str) -> str:
    return f'<p class="meta">{esc(t("more_rows", lang, n=fmt_int(total - shown, lang)))}</p>' if total > shown else ""


def _ordinal(iso: str) -> float:
    return float(dt.date.fromisoformat(iso).toordinal())


def _date_labels(isos: Sequence[str], lang: str, count: int = 6) -> list[tuple[float, str]]:
    if not isos:
        return []
    step = max(1, len(isos) // count)
    picked = list(isos[::step])
    return [(_ordinal(d), d[:7] if len(isos) > 60 else d[5:10] if lang == "en" else d[5:10]) for d in picked]


# -- sections --------------------------------------------------------------------------------


def _overview(data: dict[str, Any], lang: str) -> str:
    parts = []
    if "missing" in data:
        parts.append(_missing(data["missing"], lang))
    else:
        parts.append(
            _kpis(
                [
                    (esc(t("data_period", lang)), f"{esc(fmt_date(data['first'], lang))} – {esc(fmt_date(data['last'], lang))}"),
                    (esc(t("users", lang)), esc(fmt_int(data["users"], lang))),
                    (esc(t("skus", lang)), esc(fmt_int(data["skus"], lang))),
                    (esc(t("revenue", lang)), esc(fmt_num(data["revenue"], lang, 0))),
                    (esc(t("timezone", lang)), text(data["timezone"])),
                ]
            )
        )
        weekly = data.get("weekly") or []
        if weekly:
            isos = [w["week"] for w in weekly]
            parts.append(
                charts.line_chart(
                    t("orders_per_period", lang),
                    [charts.Line(t("orders_per_period", lang), [_ordinal(d) for d in isos], [float(w["lines"]) for w in weekly])],
                    x_labels=_date_labels(isos, lang),
                    y_format=lambda v: fmt_int(v, lang),
                )
            )
    rejected = {r["table"]: r["rows"] for r in data["rejects"]}
    parts.append(f"<h3>{esc(t('tables', lang))}</h3>")
    parts.append(
        _table(
            [_h("table", lang), _h("rows", lang, True), _h("rejected", lang, True)],
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
                [_h("table", lang), _h("column", lang), _h("reason", lang), _h("rows", lang, True)],
                [[text(tb), text(w["column"]), text(w["reason"]), esc(fmt_int(w["rows"], lang))] for tb, w in why]
                or [[text(r["table"]), "", "", esc(fmt_int(r["rows"], lang))] for r in data["rejects"]],
            )
        )
    if data["steps"]:
        parts.append(f"<h3>{esc(t('steps', lang))}</h3>")
        parts.append(
            _table(
                [_h("command", lang), _h("version", lang), _h("seed", lang, True), _h("outputs", lang)],
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


def _consumers(data: dict[str, Any], lang: str) -> str:
    parts = [f"<h3>{esc(t('family_coverage', lang))}</h3>"]
    parts.append(
        charts.bar_chart(
            t("family_coverage", lang),
            [charts.Bar(f"{c['family']}_ ({c['columns']})", c["coverage"], fmt_pct(c["coverage"], lang)) for c in data["coverage"]],
        )
    )
    stages = data["stages"]
    parts.append(f"<h3>{esc(t('lifecycle', lang))}</h3>")
    parts.append(
        charts.bar_chart(
            t("lifecycle", lang),
            [
                charts.Bar(stage_name(s["stage"], lang), s["count"], f"{fmt_int(s['count'], lang)} · {fmt_pct(s['share'], lang)}", charts.PALETTE[i % 8])
                for i, s in enumerate(stages)
            ],
        )
    )
    parts.append(
        _table(
            [_h("stage", lang), _h("count", lang, True), _h("share", lang, True), _h("value_total", lang, True), _h("value_share", lang, True), _h("p_alive_mean", lang, True)],
            [
                [text(stage_name(s["stage"], lang)), esc(fmt_int(s["count"], lang)), esc(fmt_pct(s["share"], lang)), esc(fmt_num(s["clv"], lang, 0)), esc(fmt_pct(s["clv_share"], lang)), esc(fmt_pct(s["p_alive"], lang))]
                for s in stages
            ],
        )
    )
    parts.append(f"<h3>{esc(t('lifecycle_flows', lang))}</h3>")
    if data.get("flows"):
        targets = [s for s in (r["to"] for r in data["flows"])]
        columns = [s for s in dict.fromkeys([*(x["stage"] for x in stages), *targets])]
        sources = list(dict.fromkeys(r["from"] for r in data["flows"]))
        counts = {(r["from"], r["to"]): r["count"] for r in data["flows"]}
        parts.append(
            _table(
                [_h("from_stage", lang)] + [(text(stage_name(c, lang)), True) for c in columns],
                [[text(stage_name(src, lang))] + [esc(fmt_int(counts.get((src, c), 0), lang)) for c in columns] for src in sources],
            )
        )
    else:
        parts.append(f'<p class="meta">{esc(t("no_flows", lang))}</p>')
    value = data.get("value")
    if value:
        parts.append(f"<h3>{esc(t('value_dist', lang))}</h3>")
        parts.append(
            _kpis(
                [
                    (esc(t("value_total", lang)), esc(fmt_num(value["total"], lang, 0))),
                    (esc(t("value_median", lang)), esc(fmt_num(value["median"], lang, 2))),
                    (esc(t("value_top10", lang)), esc(fmt_pct(value["top10_share"], lang))),
                ]
            )
        )
        hist = value["histogram"]
        if hist:
            labels = [("≥ " if b["open"] else "") + fmt_num(b["low"], lang, 0) for b in hist]
            parts.append(charts.column_chart(t("value_dist", lang), labels, [float(b["count"]) for b in hist], y_format=lambda v: fmt_int(v, lang)))
    return "".join(parts)


def _segments(data: dict[str, Any], lang: str) -> str:
    cards = []
    for card in data["cards"]:
        portrait = " · ".join(
            f'<span class="{"pos" if p["z"] > 0 else "neg"}">{text(p["feature"])} {esc(format(p["z"], "+.1f"))}σ</span>'
            for p in card["portrait"]
        )
        tags = "".join(f'<span class="tag">{text(tag)}</span>' for tag in card["tags"])
        cards.append(
            f'<div class="card"><h3>{text(card["name"])}</h3>'
            f'<p class="meta">{esc(t("size", lang))} {esc(fmt_int(card["size"], lang))} · {esc(t("share", lang))} {esc(fmt_pct(card["share"], lang))}'
            f' · {esc(t("value_share", lang))} {esc(fmt_pct(card["value_share"], lang))}</p>'
            + (f"<p>{text(card['description'])}</p>" if card["description"] else "")
            + (f'<p class="meta">{esc(t("portrait", lang))}: {portrait}</p>' if portrait else "")
            + (f'<p>{esc(t("top_tags", lang))}: {tags}</p>' if tags else "")
            + (f'<p><b>{esc(t("action", lang))}:</b> {text(card["action"])}</p>' if card["action"] else "")
            + "</div>"
        )
    bars = [
        charts.Bar(c["name"], c["value_share"] or 0.0, fmt_pct(c["value_share"], lang), charts.PALETTE[i % 8])
        for i, c in enumerate(data["cards"])
        if c["value_share"] is not None
    ]
    chart = charts.bar_chart(t("value_share", lang), bars) if bars else ""
    return chart + f'<div class="cards">{"".join(cards)}</div>'


def _demand(data: dict[str, Any], lang: str) -> str:
    parts = []
    for chart in data["charts"]:
        hist, future = chart["history"], chart["forecast"]
        lines = []
        if hist:
            lines.append(charts.Line(t("history", lang), [_ordinal(h["ds"]) for h in hist], [h["y"] for h in hist], charts.PALETTE[0]))
        fx = [_ordinal(f["ds"]) for f in future]
        lines.append(charts.Line(t("forecast", lang), fx, [f["p50"] for f in future], charts.PALETTE[1], dashed=True))
        bands = []
        for lo, hi, key, opacity in (("lo90", "hi90", "interval90", 0.12), ("lo80", "hi80", "interval80", 0.22)):
            if future and all(f[lo] is not None and f[hi] is not None for f in future):
                bands.append(charts.Band(t(key, lang), fx, [f[lo] for f in future], [f[hi] for f in future], charts.PALETTE[1], opacity))
        isos = [h["ds"] for h in hist] + [f["ds"] for f in future]
        title = t("forecast_for", lang, level=chart["level"], uid=chart["label"])
        parts.append(f"<h3>{text(title)}</h3>")
        parts.append(
            charts.line_chart(
                title,
                lines,
                bands,
                x_labels=_date_labels(isos, lang),
                y_format=lambda v: fmt_num(v, lang, 0),
                marker_x=fx[0] if fx and hist else None,
            )
        )
    accuracy = data.get("accuracy")
    if accuracy:
        parts.append(f"<h3>{esc(t('accuracy', lang))}</h3>")
        parts.append(
            _table(
                [_h("level", lang), ("WAPE", True), (esc(t("baseline", lang)) + " WAPE", True), _h("improvement", lang, True), ("MASE", True), (esc(t("baseline", lang)) + " MASE", True), ("cov 80%", True), ("cov 90%", True)],
                [
                    [
                        text(a["level"]),
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
    parts.append(f"<h3>{esc(t('festival_effects', lang))}</h3>")
    festivals = data.get("festivals")
    if festivals is None:
        parts.append(f'<p class="meta">{esc(t("festival_not_applicable", lang))}</p>')
    elif not festivals:
        parts.append(f'<p class="meta">{esc(t("no_festivals", lang))}</p>')
    else:
        parts.append(
            charts.bar_chart(
                t("festival_effects", lang),
                [
                    charts.Bar(f"{_festival(f['festival'], lang)} {f['year']}", f["uplift"], f"×{f['uplift']:.2f}", charts.PALETTE[1] if f["uplift"] >= 1 else charts.PALETTE[0])
                    for f in festivals
                ],
            )
        )
    return "".join(parts)


def _festival(name: str, lang: str) -> str:
    return name if lang == "zh" else FESTIVAL_NAMES_EN.get(name, name)


def _signed(value: float | None, lang: str) -> str:
    if value is None:
        return "—"
    css = "pos" if value > 0 else "neg"
    return f'<span class="{css}">{esc(fmt_signed_pct(value, lang))}</span>'


def _opportunities(data: dict[str, Any], lang: str) -> str:
    rows = data["rows"]
    parts = [
        _table(
            [_h("rank", lang, True), _h("kind", lang), _h("category", lang), _h("subject", lang), _h("evidence", lang), _h("score", lang, True)],
            [
                [esc(r["rank"]), text(kind_name(r["kind"], lang)), text(r["category"]), text(r["subject"]), text(r["evidence"]), esc(fmt_num(r["score"], lang, 2))]
                for r in rows
            ],
        ),
        _more(data["total"], len(rows), lang),
    ]
    for r in rows:
        evidence = r.get("charts") or {}
        if not any(evidence.values()):
            continue
        parts.append(f'<div class="card"><h3>#{esc(r["rank"])} {text(r["subject"])}</h3><p class="meta">{text(kind_name(r["kind"], lang))} · {text(r["category"])}</p>')
        trend = evidence.get("trend")
        if trend:
            isos = [p["week"] for p in trend]
            xs = [_ordinal(d) for d in isos]
            parts.append(
                charts.line_chart(
                    t("search_vs_sales", lang),
                    [
                        charts.Line(t("searches", lang), xs, [p["searches"] for p in trend], charts.PALETTE[1]),
                        charts.Line(t("sales", lang), xs, [p["sales"] for p in trend], charts.PALETTE[0]),
                    ],
                    x_labels=_date_labels(isos, lang),
                    y_format=lambda v: f"{v:.0f}",
                )
            )
        quotes = evidence.get("quotes")
        if quotes:
            parts.append(f"<h4>{esc(t('quotes', lang))}</h4>" + "".join(f"<blockquote>{text(q)}</blockquote>" for q in quotes))
        prices = evidence.get("prices")
        if prices and prices["bins"]:
            low, high = prices["low"], prices["high"]
            highlight = [low is not None and high is not None and b["low"] < high and b["high"] > low for b in prices["bins"]]
            parts.append(
                charts.column_chart(
                    t("price_portrait", lang),
                    [fmt_num(b["low"], lang, 0) for b in prices["bins"]],
                    [b["units"] for b in prices["bins"]],
                    highlight=highlight,
                    y_format=lambda v: fmt_int(v, lang),
                )
            )
        parts.append("</div>")
    if data["briefs"]:
        parts.append(f"<h3>{esc(t('briefs', lang))}</h3>")
        for brief in data["briefs"]:
            body = markdown_to_html(brief["markdown"]) if brief["markdown"] else ""
            parts.append(f'<div class="brief"><h4>{text(brief["id"])} · {text(brief["category"] or "")}</h4>{body}</div>')
    return "".join(parts)


def _quantities(data: dict[str, Any], lang: str) -> str:
    rows = data["rows"]
    return _table(
        [_h("sku", lang), _h("brief", lang), _h("presale_orders", lang, True), _h("forecast_p50", lang, True), _h("recommended_qty", lang, True), _h("service_level", lang, True), _h("method", lang)],
        [
            [text(r["sku"]), text(r["brief_id"]), esc(fmt_num(r["presale_orders"], lang, 0)), esc(fmt_num(r["forecast_p50"], lang, 0)), f"<b>{esc(fmt_num(r['recommended_qty'], lang, 0))}</b>", esc(fmt_pct(r["service_level"], lang)), text(r["method"])]
            for r in rows
        ],
    ) + _more(data["total"], len(rows), lang)


def _audiences(data: dict[str, Any], lang: str) -> str:
    rows = data["rows"]
    parts = [
        charts.bar_chart(t("audiences", lang), [charts.Bar(r["audience"], r["users"], fmt_int(r["users"], lang), charts.PALETTE[i % 8]) for i, r in enumerate(rows)]),
        _table(
            [_h("audience", lang), _h("count", lang, True), _h("mean_score", lang, True), _h("top_reason", lang)],
            [[text(r["audience"]), esc(fmt_int(r["users"], lang)), esc(fmt_num(r["score"], lang, 2)), text(r["reason"])] for r in rows],
        ),
    ]
    if data["include_ids"]:
        from c2m_cli.report.sections import IDS_PER_AUDIENCE

        parts.append(f"<h3>{esc(t('ids_listed', lang, n=IDS_PER_AUDIENCE))}</h3>")
        for r in rows:
            parts.append(f"<p><b>{text(r['audience'])}</b>: " + ", ".join(text(u) for u in r["user_ids"]) + "</p>")
    else:
        parts.append(f'<p class="meta">{esc(t("ids_hidden", lang))}</p>')
    return "".join(parts)


def _bundles(data: dict[str, Any], lang: str) -> str:
    rows = data["rows"]
    return _table(
        [_h("antecedent", lang), _h("consequent", lang), _h("support", lang, True), _h("confidence", lang, True), _h("lift", lang, True)],
        [
            [" + ".join(text(a) for a in r["antecedent"]), " + ".join(text(c) for c in r["consequent"]), esc(fmt_pct(r["support"], lang, 2)), esc(fmt_pct(r["confidence"], lang)), esc(fmt_num(r["lift"], lang, 2))]
            for r in rows
        ],
    ) + _more(data["total"], len(rows), lang)


def _scorecard(data: dict[str, Any], lang: str) -> str:
    rows = data["rows"]
    passed = sum(1 for r in rows if r["passed"] is True)
    judged = sum(1 for r in rows if r["passed"] is not None)

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

    return f"<p><b>{esc(t('passed_count', lang, passed=passed, total=judged))}</b></p>" + _table(
        [("step", False), _h("check", lang), _h("value", lang, True), _h("target", lang), _h("passed", lang), _h("detail", lang)],
        [[text(r["step"]), text(r["check"]), shown(r["value"]), text(r["target"]), verdict(r["passed"]), text(r["detail"])] for r in rows],
    )


RENDERERS: dict[str, Callable[[dict[str, Any], str], str]] = {
    "overview": _overview,
    "consumers": _consumers,
    "segments": _segments,
    "demand": _demand,
    "opportunities": _opportunities,
    "quantities": _quantities,
    "audiences": _audiences,
    "bundles": _bundles,
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
