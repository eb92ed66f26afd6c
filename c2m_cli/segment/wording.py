"""Segment wording: names, descriptions and suggested actions, written from each segment's own
figures (``c2m_cli.segment.profile.SegmentFacts``), in the data's language only.

* Language: Chinese when the data's own text (product names and categories, review texts,
  search queries) is Chinese, English otherwise — never from c2m's own label vocabulary (a
  Chinese lexicon tag on English data says nothing about the data's language). A word that is not
  in the segment's language (a Chinese tag in English text, a column name c2m cannot translate
  into Chinese) is left out of the text; the figures stay in the profile's columns.
* Description: share of users and of expected value, then the segment's most distinctive
  features (ranked by |d| against the rest of the users, see profile.py) in words with their
  figures (``62% vs 9% elsewhere``), then the lifecycle mix. A word appears once per list.
* Action: from the lifecycle mix first (onboarding when ≥ 40 % are new, win-back only when
  ≥ 70 % have lapsed, "keep and remind" when 40–70 % have, growth otherwise), then value (VIP
  when the value index is ≥ 1.5, basket building when ≤ 0.6), naming the segment's own
  over-indexed categories and traits.
* Names: up to three over-indexed traits (share ≥ 35 %, lift ≥ 1.25), one per family in
  ``NAME_FAMILIES`` order, a value prefix and a lifecycle suffix; two segments never share a name
  (the next distinctive word, then the segment id, tells them apart).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from c2m_cli.market import cjk_share

if TYPE_CHECKING:
    from c2m_cli.segment.features import FeatureSpec
    from c2m_cli.segment.profile import Distinct, SegmentFacts

CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
CJK_SHARE_FOR_ZH = 0.2
NAME_FAMILIES = ("demo", "geo", "lifestyle", "motive", "occasion", "attitude", "behavior", "mix")
MIN_TRAIT_SHARE = 0.35  # a trait names a segment when at least this share of it has it…
MIN_TRAIT_LIFT = 1.25  # …and it is this much more common than in the whole base
NEW_FOR_ONBOARDING = 0.4
LAPSED_FOR_WINBACK = 0.7  # a segment 40 % active is not a win-back segment
LAPSED_FOR_REMINDER = 0.4
VIP_INDEX = 1.5
BASKET_INDEX = 0.6
IN_DESCRIPTION = 3
MIN_CATEGORY_LIFT = 1.05  # a category is named in an action only when it over-indexes by 5 %
LEVER_D = 0.3  # a behaviour suggests a lever when it differs from the rest by |d| ≥ this

STAGE_ZH = {"new": "新客", "active": "活跃客", "sleeping": "沉睡客", "dormant": "休眠客", "lost": "流失客"}
DISPLAY_EN = {"m": "men", "f": "women", "male": "men", "female": "women", "男": "men", "女": "women"}
DISPLAY_ZH = {"男": "男性", "女": "女性", "m": "男性", "f": "女性", "male": "男性", "female": "女性",
              "night": "深夜", "evening": "晚间", "afternoon": "下午", "morning": "上午", "noon": "中午",
              "low": "低", "medium": "中", "high": "高", "yes": "是", "no": "否", "true": "是", "false": "否"}
GENERIC = {"low", "medium", "mid", "high", "yes", "no", "true", "false", "none", "other"}
# c2m's own label columns in Chinese (the part after the family prefix)
COLUMN_ZH = {
    "festival_share": "大促节日消费占比", "share_1111": "双11消费占比", "share_618": "618消费占比",
    "share_1212": "双12消费占比", "share_nianhuo": "年货节消费占比", "share_38": "三八节消费占比",
    "weekend_share": "周末消费占比", "gift_share": "送礼消费占比", "peak_hour": "下单高峰时点",
    "daypart": "下单时段", "orders": "订单数", "purchase_days": "购买天数", "total_spend": "总消费",
    "category_breadth": "品类广度", "avg_basket_items": "单均件数", "avg_basket_value": "客单价",
    "brand_loyalty": "品牌忠诚度", "recency_days": "距上次购买天数", "tenure_days": "客龄",
    "discount_share": "折扣订单占比", "presale_share": "预售订单占比", "return_rate": "退货率",
    "returns": "退货次数", "cancel_rate": "取消率", "reviews": "评价数", "sentiment": "评价情感分",
    "night_share": "夜间下单占比", "birth_year": "出生年份", "age": "年龄", "festival_buyer": "大促买家",
    "weekend_buyer": "周末买家", "presale_buyer": "预售买家", "reactivated": "回流",
    "city_tier": "城市等级", "generation": "世代", "gender": "性别", "age_band": "年龄段",
    "income_band": "收入段", "household": "家庭", "channel": "渠道", "top_brand": "首选品牌",
    "top_category": "首选品类",
}
# behaviour columns that suggest how to reach a segment when they stand out: (zh, en) when the
# segment is above the rest, (zh, en) when below (None: no lever)
LEVERS: dict[str, tuple[tuple[str, str] | None, tuple[str, str] | None]] = {
    "discount_share": (("以券促单", "lead with coupons"), ("少用折扣、突出品质", "sell on quality rather than discounts")),
    "presale_share": (("新品预售锁单", "open presales for new lines"), None),
    "weekend_share": (("周末集中触达", "time messages for the weekend"), ("工作日触达", "time messages for weekdays")),
    "festival_share": (("大促节点重点触达", "concentrate on the big sale days"), ("平日常规触达，不必押注大促", "reach them on ordinary days, not only at sales")),
    "gift_share": (("礼盒与送礼场景", "gift packs and gifting occasions"), None),
    "avg_basket_value": (("高端新品与升级款", "premium lines and upgrades"), ("组合装与满减", "bundles and threshold offers")),
    "avg_basket_items": (("多件组合装", "multi-packs"), ("单品精准推荐", "single-item recommendations")),
    "category_breadth": (("跨品类推荐", "cross-category recommendations"), ("深耕主力品类", "depth in their main category")),
    "brand_loyalty": (("品牌会员权益", "brand membership perks"), ("多品牌对比推荐", "side-by-side brand comparisons")),
    "return_rate": (("详尽尺码与说明，降低退货", "clearer product details to cut returns"), None),
    "night_share": (("晚间推送", "evening messages"), None),
}
EN_WORDS = {"avg": "average", "p alive": "P(alive)", "T weeks": "tenure (weeks)"}


def data_language(texts: Iterable[str | None], *, market: str = "none", fallback: Iterable[str | None] = ()) -> str:
    """``zh`` when at least 20 % of the data's own text values (``texts``: product names and
    categories, reviews, queries) are Chinese; without any such text, the same test on
    ``fallback`` (the labels' text values), then ``zh`` for the ``cn`` market; ``en`` otherwise."""
    for values in (texts, fallback):
        share, seen = cjk_share(values)
        if seen:
            return "zh" if share >= CJK_SHARE_FOR_ZH else "en"
    return "zh" if market == "cn" else "en"


def _fits(word: str, lang: str) -> bool:
    """A word can go into text of ``lang``: no Chinese in English text."""
    return bool(word) and (lang == "zh" or not CJK.search(word))


def _column_words(column: str, lang: str) -> str | None:
    rest = column.split("_", 1)[1] if "_" in column else column
    if lang == "zh":
        if rest in COLUMN_ZH:
            return COLUMN_ZH[rest]
        return rest if CJK.search(rest) and "_" not in rest else None
    if CJK.search(rest):
        return None
    text = rest.replace("_", " ")
    for a, b in EN_WORDS.items():
        text = re.sub(rf"\b{re.escape(a)}\b", b, text)
    return text


def family_of_spec(spec: FeatureSpec) -> str:
    return spec.family


def core_word(spec: FeatureSpec) -> str:
    """What a feature is about, for de-duplication (a tag and a category both saying 母婴)."""
    if spec.kind in ("onehot", "mix"):
        return str(spec.value).strip().lower()
    if spec.kind == "tag":
        return str(spec.tag).strip().lower()
    rest = (spec.column or spec.name).split("_", 1)[-1]
    return rest.strip().lower()


def trait_word(spec: FeatureSpec, lang: str) -> str | None:
    """The short word for a binary trait (a one-hot value, a tag, a flag), or None when it
    cannot be said in ``lang``."""
    if spec.kind == "tag":
        word = str(spec.tag)
        return word if _fits(word, lang) else None
    if spec.kind == "onehot":
        value = str(spec.value)
        low = value.lower()
        col = _column_words(spec.column or "", lang)
        if lang == "zh":
            if low in GENERIC or value.replace("-", "").replace("+", "").isdigit():
                shown = DISPLAY_ZH.get(low, value)
                return None if col is None else f"{col}{shown}"
            shown = DISPLAY_ZH.get(low, DISPLAY_ZH.get(value, value))
            if family_of_spec(spec) not in ("demo", "geo") and col is not None:
                return f"{col}为{shown}"
            return shown
        if not _fits(value, lang):
            return None
        if low in GENERIC:
            return None if col is None else f"{low} {col}"
        if value.replace("-", "").replace("+", "").isdigit():
            return None if col is None else f"{col} {value}"
        if family_of_spec(spec) not in ("demo", "geo") and col is not None:
            return f"{col} {value}"
        return DISPLAY_EN.get(low, value)
    if spec.kind == "mix":
        value = str(spec.value)
        if not _fits(value, lang) or value == "other":
            return None
        if spec.by == "hour":
            return f"{int(value)}点下单" if lang == "zh" else f"{int(value)}:00 orders"
        if spec.by == "channel":
            return f"{value}渠道" if lang == "zh" else f"{value} orders"
        return value
    return _column_words(spec.column or spec.name, lang)  # bool flag


def tag_words(traits: list[dict[str, Any]], lang: str) -> list[str]:
    """Tag words in ``lang``, each once."""
    out: list[str] = []
    for t in traits:
        w = trait_word(t["spec"], lang)
        if w and w not in out:
            out.append(w)
    return out


def _pct(x: float) -> str:
    return f"{x * 100:.0f}%"


def _num(x: float) -> str:
    a = abs(x)
    if a >= 100:
        return f"{x:,.0f}"
    if a >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def _is_share(spec: FeatureSpec) -> bool:
    col = (spec.column or "").lower()
    return any(w in col for w in ("share", "rate", "ratio", "loyalty")) or spec.kind in ("bool", "onehot", "tag", "mix")


def phrase(x: Distinct, lang: str) -> str | None:
    """One distinctive feature in words with its figures, or None when it cannot be said in ``lang``."""
    spec = x.spec
    zh = lang == "zh"
    up = x.d > 0
    fmt = _pct if _is_share(spec) else _num
    if spec.kind == "mix":
        word = trait_word(spec, lang)
        if word is None:
            return None
        if spec.by in ("hour", "channel"):
            if zh:
                return f"{word}占比{fmt(x.segment)}（其余{fmt(x.rest)}）"
            where = f"at {int(str(spec.value))}:00" if spec.by == "hour" else f"via {spec.value}"
            return f"{fmt(x.segment)} of orders {where} vs {fmt(x.rest)} elsewhere"
        return (f"{word}消费占比{'' if up else '仅'}{fmt(x.segment)}（其余{fmt(x.rest)}）" if zh
                else f"{'' if up else 'only '}{fmt(x.segment)} of spend on {word} vs {fmt(x.rest)} elsewhere")
    if spec.kind in ("onehot", "tag", "bool"):
        word = trait_word(spec, lang)
        if word is None:
            return None
        if zh:
            who = f"{word}的" if "为" in word else word
            return f"{who}占{fmt(x.segment)}（其余{fmt(x.rest)}）" if up else f"{who}较少（{fmt(x.segment)}，其余{fmt(x.rest)}）"
        return f"{word} {fmt(x.segment)} vs {fmt(x.rest)} elsewhere" if up else f"{word} only {fmt(x.segment)} vs {fmt(x.rest)} elsewhere"
    words = _column_words(spec.column or spec.name, lang)
    if words is None:
        return None
    rest = (spec.column or "").split("_", 1)[-1]
    if rest not in COLUMN_ZH and spec.family in ("motive", "attitude", "lifestyle"):
        words = f"{words}倾向分" if zh else f"{words} score"  # a label family's per-tag score
    if zh:
        return f"{words}{'偏高' if up else '偏低'}（{fmt(x.segment)}，其余{fmt(x.rest)}）"
    return f"{'higher' if up else 'lower'} {words} ({fmt(x.segment)} vs {fmt(x.rest)} elsewhere)"


def _distinct_phrases(f: SegmentFacts, lang: str, limit: int) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()
    for x in f.distinctive:
        core = core_word(x.spec)
        if core in seen:
            continue
        text = phrase(x, lang)
        if text is None:
            continue
        seen.add(core)
        out.append(text)
        if len(out) >= limit:
            break
    return out


def _join(items: list[str], lang: str) -> str:
    if lang == "zh":
        return "、".join(items)
    if len(items) <= 2:
        return " and ".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _lifecycle_clause(f: SegmentFacts, lang: str) -> str | None:
    if not f.stage_mix:
        return None
    active, new, lapsed = f.stage_mix.get("active", 0.0), f.stage_mix.get("new", 0.0), f.lapsed
    lapsed_users = round(lapsed * f.size)
    if lang == "zh":
        return f"活跃客{_pct(active)}、新客{_pct(new)}、沉睡/休眠/流失{_pct(lapsed)}（{lapsed_users:,}人）"
    return f"lifecycle: {_pct(active)} active, {_pct(new)} new, {_pct(lapsed)} lapsed ({lapsed_users:,} users)"


def describe(f: SegmentFacts, lang: str) -> str:
    zh = lang == "zh"
    if zh:
        parts = [f"占用户{_pct(f.share)}" + (f"、贡献{_pct(f.value_share)}的预期价值" if f.value_share is not None else "")]
    else:
        parts = [f"{_pct(f.share)} of users" + (f" and {_pct(f.value_share)} of expected value" if f.value_share is not None else "")]
    phrases = _distinct_phrases(f, lang, IN_DESCRIPTION)
    if phrases:
        parts.append(("突出特征：" if zh else "stands out by ") + _join(phrases, lang))
    else:
        parts.append("与整体无明显差异" if zh else "close to the whole base on every feature")
    life = _lifecycle_clause(f, lang)
    if life:
        parts.append(life)
    return ("；" if zh else "; ").join(parts)


def _categories(f: SegmentFacts, lang: str) -> list[str]:
    out: list[str] = []
    for c in f.categories:
        if float(c["lift"]) < MIN_CATEGORY_LIFT:  # not over-indexed: no reason to lead with it
            continue
        v = str(c["value"])
        if _fits(v, lang) and v not in out:
            out.append(v)
    return out


def _positive_words(f: SegmentFacts, lang: str) -> list[str]:
    """Words of the traits the segment has more of than the rest, most distinctive first."""
    out: list[str] = []
    for x in f.distinctive:
        if x.d > 0 and x.spec.kind in ("onehot", "tag", "mix"):
            w = trait_word(x.spec, lang)
            if w and w not in out:
                out.append(w)
    return out


def _trait_focus(f: SegmentFacts, lang: str, exclude: set[str]) -> list[str]:
    out: list[str] = []
    for t in f.traits:
        if t["kind"] != "tag" or t["lift"] < MIN_TRAIT_LIFT:
            continue
        w = trait_word(t["spec"], lang)
        if w and w.lower() not in exclude and w not in out:
            out.append(w)
        if len(out) >= 2:
            break
    return out


def lever(f: SegmentFacts, lang: str) -> str | None:
    """How to reach the segment, from its most distinctive behaviour with a known lever (with the
    figures that call for it)."""
    zh = lang == "zh"
    for x in f.distinctive:
        if abs(x.d) < LEVER_D:
            break
        if x.spec.kind == "onehot" and (x.spec.column or "").endswith("_daypart") and x.d > 0:
            value = str(x.spec.value)
            return (f"在{DISPLAY_ZH.get(value.lower(), value)}推送（该时段为主的占{_pct(x.segment)}，其余{_pct(x.rest)}）" if zh
                    else f"message them in the {value} ({_pct(x.segment)} mostly buy then vs {_pct(x.rest)} elsewhere)")
        if x.spec.kind == "mix" and x.spec.by == "hour" and x.d > 0 and x.spec.value != "other":
            h = int(str(x.spec.value))
            return (f"在{h}点前后推送（该时段下单{_pct(x.segment)}，其余{_pct(x.rest)}）" if zh
                    else f"message them around {h}:00 ({_pct(x.segment)} of their orders vs {_pct(x.rest)} elsewhere)")
        rest = (x.spec.column or "").split("_", 1)[-1]
        if x.spec.kind not in ("numeric", "bool") or rest not in LEVERS:
            continue
        pick = LEVERS[rest][0 if x.d > 0 else 1]
        if pick is None:
            continue
        fmt = _pct if _is_share(x.spec) else _num
        words = _column_words(x.spec.column or "", lang) or rest
        return (f"{pick[0]}（{words}{fmt(x.segment)}，其余{fmt(x.rest)}）" if zh
                else f"{pick[1]} ({words} {fmt(x.segment)} vs {fmt(x.rest)} elsewhere)")
    return None


def action(f: SegmentFacts, lang: str) -> tuple[str, str, str]:
    """(kind, campaign, product mix): lifecycle first, then value; the segment's own products."""
    zh = lang == "zh"
    cats = _categories(f, lang)
    focus = _trait_focus(f, lang, {c.lower() for c in cats})
    own = cats[:2] or focus or _positive_words(f, lang)[:2]
    cat_text = _join(own, lang) if own else ("偏好品类" if zh else "their favourite categories")
    vi = f.value_index
    new, lapsed, engaged = f.stage_mix.get("new", 0.0), f.lapsed, f.engaged
    if f.stage_mix and new >= NEW_FOR_ONBOARDING:
        kind = "onboard"
        campaign = (f"新客培育：{_pct(new)}是新客，首单后两周内推{cat_text}复购券" if zh
                    else f"Onboard the {_pct(new)} who are new: a second-order offer on {cat_text} within two weeks of the first")
    elif f.stage_mix and lapsed >= LAPSED_FOR_WINBACK:
        kind = "win_back"
        campaign = (f"唤醒召回：{_pct(lapsed)}（{round(lapsed * f.size):,}人）已沉睡或流失，以{cat_text}定向优惠唤回" if zh
                    else f"Win back the {_pct(lapsed)} ({round(lapsed * f.size):,} users) who have lapsed: a reminder with an offer on {cat_text}")
    elif f.stage_mix and lapsed >= LAPSED_FOR_REMINDER:
        kind = "retain_and_remind"
        campaign = (f"保活加提醒：{_pct(engaged)}仍活跃，保持{cat_text}复购节奏，并对{_pct(lapsed)}（{round(lapsed * f.size):,}人）沉睡/流失用户发补货提醒" if zh
                    else f"Keep the {_pct(engaged)} still active buying {cat_text} and send the {_pct(lapsed)} ({round(lapsed * f.size):,} users) who lapsed a replenishment reminder")
    elif vi is not None and vi >= VIP_INDEX:
        kind = "vip"
        campaign = (f"会员礼遇：{_pct(f.share)}的用户贡献{_pct(f.value_share or 0.0)}的预期价值，优先提供{cat_text}新品抢先购" if zh
                    else f"Reward them ({_pct(f.value_share or 0.0)} of expected value from {_pct(f.share)} of users): early access to new {cat_text} lines")
    elif vi is not None and vi <= BASKET_INDEX:
        kind = "basket"
        campaign = (f"提升客单：价值指数{vi:.2f}，以{cat_text}组合装和满减拉高客单" if zh
                    else f"Lift basket size (value index {vi:.2f}): bundles and threshold offers around {cat_text}")
    else:
        kind = "grow"
        about = _join(focus, lang) if focus else cat_text
        campaign = (f"兴趣种草：围绕{about}做内容和新品推荐" if zh
                    else f"Grow share of wallet with content and new products around {about}")
    if kind in ("retain_and_remind", "onboard", "win_back") and vi is not None and vi >= VIP_INDEX:
        campaign += (f"；其价值指数{vi:.2f}，配专属服务" if zh else f"; value index {vi:.2f}: give them premium service")
    how = lever(f, lang)
    if how:
        campaign += ("；" if zh else "; ") + how
    if cats:
        mix = ("主推" + "、".join(cats) + (f"；围绕{'、'.join(focus)}选品" if focus else "") if zh
               else "Lead with " + ", ".join(cats) + (f"; pick products around {', '.join(focus)}" if focus else ""))
    elif own:
        mix = f"围绕{'、'.join(own)}选品" if zh else f"Pick products around {', '.join(own)}"
    else:
        mix = "主推全品类畅销款" if zh else "Lead with best-sellers across categories"
    return kind, campaign, mix


def _said(campaign: str, words: list[str], lang: str) -> set[str]:
    """The words the campaign already names: in English as whole words (MEAT is not MEAT-PCKGD),
    in Chinese (no spaces) as substrings."""
    if lang == "zh":
        return {w for w in words if w in campaign}
    return {w for w in words if re.search(rf"(?<![\w-]){re.escape(w)}(?![\w-])", campaign)}


def suggested(f: SegmentFacts, lang: str, campaign: str) -> str:
    """The campaign plus what the product mix adds to it (no word named twice)."""
    zh = lang == "zh"
    cats = _categories(f, lang)
    focus = _trait_focus(f, lang, {c.lower() for c in cats})
    said = _said(campaign, cats + focus, lang)
    more_cats = [c for c in cats if c not in said]
    more_focus = [t for t in focus if t not in said]
    tail: list[str] = []
    if more_cats:
        lifts = {str(c["value"]): float(c["lift"]) for c in f.categories}
        shown = [f"{c}（消费指数{lifts[c]:.2f}）" if zh else f"{c} (spend lift {lifts[c]:.2f})" for c in more_cats]
        tail.append(("搭配推荐" + "、".join(shown)) if zh else ("also stock " + _join(shown, lang)))
    if more_focus:
        tag_lift: dict[str, float] = {}
        for t in f.traits:
            w = trait_word(t["spec"], lang) if t["kind"] == "tag" else None
            if w and w not in tag_lift:
                tag_lift[w] = float(t["lift"])
        shown_f = [f"{w}（标签指数{tag_lift[w]:.1f}）" if zh else f"{w} (tag lift {tag_lift[w]:.1f})" for w in more_focus]
        tail.append(f"围绕{'、'.join(shown_f)}选品" if zh else f"pick products around {_join(shown_f, lang)}")
    return ("；" if zh else "; ").join([campaign, *tail])


def _name_parts(f: SegmentFacts, lang: str) -> list[str]:
    strong = [
        t for t in f.traits
        if t["lift"] >= MIN_TRAIT_LIFT and t["share"] >= MIN_TRAIT_SHARE and t["kind"] != "bool"
        and t["family"] not in ("value", "lifecycle")  # said by the value prefix and lifecycle suffix
    ]
    parts: list[str] = []
    cores: set[str] = set()
    used: set[str] = set()

    def take(t: dict[str, Any]) -> None:
        word = trait_word(t["spec"], lang)
        core = core_word(t["spec"])
        if word and core not in cores and word not in parts:
            parts.append(word)
            cores.add(core)
            used.add(t["family"])

    for family in NAME_FAMILIES:
        for t in strong:
            if t["family"] == family and family not in used:
                take(t)
                if t["family"] in used:
                    break
        if len(parts) >= 3:
            break
    for t in strong:
        if len(parts) >= 3:
            break
        if t["family"] not in used:
            take(t)
    if len(parts) < 2:
        for x in f.distinctive:  # a numeric feature that stands out
            if x.spec.kind != "numeric" or abs(x.d) < 0.25:
                continue
            words = _column_words(x.spec.column or x.spec.name, lang)
            if words and core_word(x.spec) not in cores:
                parts.append(("高" if x.d > 0 else "低") + words if lang == "zh" else ("high " if x.d > 0 else "low ") + words)
                cores.add(core_word(x.spec))
                break
    return parts


def _name(f: SegmentFacts, lang: str) -> str:
    zh = lang == "zh"
    parts = _name_parts(f, lang)
    vi = f.value_index
    if vi is not None and vi >= VIP_INDEX:
        parts.insert(0, "高价值" if zh else "high-value")
    elif vi is not None and vi <= 0.5:
        parts.insert(0, "低价值" if zh else "low-value")
    if f.stage_mix and f.lapsed >= LAPSED_FOR_WINBACK:
        parts.append("沉睡流失客" if zh else "lapsed customers")
    elif f.stage_mix and f.stage_mix.get("new", 0.0) >= NEW_FOR_ONBOARDING:
        parts.append("新客" if zh else "new customers")
    else:
        parts.append("人群" if zh else "customers")
    return " ".join(parts)


@dataclass
class SegmentText:
    name: str
    description: str
    action_kind: str
    campaign: str
    product_mix: str
    suggested_action: str


def _distinguish(names: list[str], facts: list[SegmentFacts], lang: str) -> list[str]:
    """Two segments never share a name: add each one's next distinctive word, then its id."""
    out = list(names)
    for _ in range(2):
        counts: dict[str, int] = {}
        for n in out:
            counts[n] = counts.get(n, 0) + 1
        if all(c == 1 for c in counts.values()):
            return out
        for j, n in enumerate(out):
            if counts[n] == 1:
                continue
            for x in facts[j].distinctive:
                if x.d <= 0:
                    continue
                w = trait_word(x.spec, lang) if x.spec.kind != "numeric" else _column_words(x.spec.column or "", lang)
                if x.spec.kind == "numeric" and w:
                    w = ("高" if lang == "zh" else "high ") + w
                if w and w not in n:
                    out[j] = f"{n} · {w}"
                    break
    counts = {}
    for n in out:
        counts[n] = counts.get(n, 0) + 1
    return [f"{n} ({f.segment_id})" if counts[n] > 1 else n for n, f in zip(out, facts, strict=True)]


def write(facts: list[SegmentFacts], lang: str) -> list[SegmentText]:
    """Name, description and action of every segment."""
    names = _distinguish([_name(f, lang) for f in facts], facts, lang)
    out = []
    for f, name in zip(facts, names, strict=True):
        kind, campaign, mix = action(f, lang)
        out.append(SegmentText(name, describe(f, lang), kind, campaign, mix, suggested(f, lang, campaign)))
    return out
