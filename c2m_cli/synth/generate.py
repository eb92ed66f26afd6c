"""Vectorised generation of one chunk of users: customers, orders, events, reviews and truth.

Days are indices into the window (0 = start date, local time); times are seconds since the
window's first local midnight, converted to UTC only when the frames are built.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from c2m_cli.calendar import festival_days
from c2m_cli.synth import text
from c2m_cli.synth.catalog import Catalog
from c2m_cli.synth.world import (
    BUNDLE,
    CATEGORIES,
    CHANNELS,
    CITIES,
    CONSUMER_TYPES,
    FESTIVAL_MULTIPLIER,
    FESTIVAL_PEAK,
    GENERATION_YEARS,
    GENERATIONS,
    LIFESTYLES,
    MICRO_DEMAND,
    MOTIVES,
    NICHE,
    ONE_TIME_SHARE,
    PRESALE,
    PRICE_BAND,
    REACTIVATED_SHARE,
    REGULAR_SHARE,
    SHARES,
    SLOWING_SHARE,
    SPRING_PAUSE,
    STAGES,
    SUPER_USER_SHARE,
    TIERS,
    UTC_OFFSET_HOURS,
    WEEKDAY,
)

DAY = 86_400
T = len(CONSUMER_TYPES)
K = len(CATEGORIES)


@dataclass
class Calendar:
    start: dt.date
    end: dt.date
    days: int
    festival: np.ndarray  # multiplier ≥ 1 of shopping festivals per day
    pause: np.ndarray  # Spring Festival logistics pause multiplier per day
    weekday: np.ndarray
    windows: dict[str, list[tuple[int, int]]]
    cdf: np.ndarray  # (T, days + 1) cumulative order intensity per consumer type
    discount_day: np.ndarray  # bool: a festival day (deeper discounts)

    @property
    def base_epoch_s(self) -> int:
        return (self.start - dt.date(1970, 1, 1)).days * DAY - UTC_OFFSET_HOURS * 3600


def build_calendar(start: dt.date, end: dt.date) -> Calendar:
    days = (end - start).days + 1
    fest = np.ones(days)
    pause = np.ones(days)
    windows: dict[str, list[tuple[int, int]]] = {}
    table = festival_days(start, end, market="cn")
    for day, name, is_peak in table.iter_rows():
        d = (day - start).days
        if name == "春节":
            pause[d] = SPRING_PAUSE
            continue
        mult = FESTIVAL_PEAK.get(name, FESTIVAL_MULTIPLIER[name]) if is_peak else FESTIVAL_MULTIPLIER[name]
        fest[d] = max(fest[d], mult)
    spans = table.group_by("festival", (pl.col("date").dt.year()).alias("year")).agg(
        pl.col("date").min().alias("a"), pl.col("date").max().alias("b")
    ).sort("festival", "a")
    for name, _year, a, b in spans.iter_rows():
        windows.setdefault(name, []).append(((a - start).days, (b - start).days))
    weekday = np.array([WEEKDAY[(start + dt.timedelta(days=d)).weekday()] for d in range(days)])
    cdf = np.zeros((T, days + 1))
    for t, ctype in enumerate(CONSUMER_TYPES):
        lam = weekday * pause * fest**ctype.festival_sensitivity
        cdf[t, 1:] = np.cumsum(lam)
    return Calendar(start, end, days, fest, pause, weekday, windows, cdf, fest > 1.0)


def _categorical(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One draw per row of a (n, k) matrix of non-negative weights."""
    cum = np.cumsum(probs, axis=1)
    u = rng.random(probs.shape[0]) * cum[:, -1]
    return np.minimum((u[:, None] >= cum).sum(axis=1), probs.shape[1] - 1)


def _norm(rows: list[list[float]] | np.ndarray) -> np.ndarray:
    arr = np.asarray(rows, dtype=float)
    return arr / arr.sum(axis=1, keepdims=True)


# Per-type matrices (built once).
_GEN_P = _norm([list(c.generation) for c in CONSUMER_TYPES])
_TIER_P = _norm([list(c.tier) for c in CONSUMER_TYPES])
_CHANNEL_P = _norm([list(c.channels) for c in CONSUMER_TYPES])
_HOUR_P = _norm([[c.hours.get(h, 0.2) for h in range(24)] for c in CONSUMER_TYPES])
_CAT_P = np.array([[c.categories.get(cat.l2, 0.05) for cat in CATEGORIES] for c in CONSUMER_TYPES])
_SHARE_P = np.array([c.share for c in CONSUMER_TYPES]) / sum(c.share for c in CONSUMER_TYPES)
_CITY_TIER = np.array([TIERS.index(c[2]) for c in CITIES])
_CITIES_BY_TIER = [np.flatnonzero(_CITY_TIER == i) for i in range(len(TIERS))]


@dataclass
class Stats:
    """Accumulated across chunks, to write the realised truth."""

    daily_orders: np.ndarray
    niche_daily: np.ndarray
    laptop_daily: np.ndarray
    counts: dict[str, float] = field(default_factory=dict)

    def add(self, key: str, value: float) -> None:
        self.counts[key] = self.counts.get(key, 0.0) + float(value)


def new_stats(days: int) -> Stats:
    return Stats(np.zeros(days), np.zeros(days), np.zeros(days))


@dataclass
class Chunk:
    customers: pl.DataFrame
    users: pl.DataFrame  # truth
    orders: pl.DataFrame
    events: pl.DataFrame
    reviews: pl.DataFrame


def generate_chunk(
    rng: np.random.Generator,
    n: int,
    user_offset: int,
    order_offset: int,
    review_offset: int,
    cal: Calendar,
    cat: Catalog,
    stats: Stats,
    user_width: int,
) -> Chunk:
    D = cal.days
    # ---------------------------------------------------------------- who
    ctype = rng.choice(T, size=n, p=_SHARE_P)
    gen = _categorical(rng, _GEN_P[ctype])
    female = rng.random(n) < np.array([c.female for c in CONSUMER_TYPES])[ctype]
    tier = _categorical(rng, _TIER_P[ctype])
    city = np.empty(n, dtype=np.int64)
    for i, members in enumerate(_CITIES_BY_TIER):
        mask = tier == i
        weights = 1.0 / np.arange(1, len(members) + 1) ** 0.5
        city[mask] = members[rng.choice(len(members), size=int(mask.sum()), p=weights / weights.sum())]
    lo = np.array([GENERATION_YEARS[g][0] for g in GENERATIONS])
    hi = np.array([GENERATION_YEARS[g][1] for g in GENERATIONS])
    birth_year = lo[gen] + (rng.random(n) * (hi[gen] - lo[gen] + 1)).astype(np.int64)
    own_life = ctype.copy()
    swap = rng.random(n) < 0.12
    own_life[swap] = rng.integers(0, T, int(swap.sum()))
    own_motive = ctype.copy()
    swap = rng.random(n) < 0.18
    own_motive[swap] = rng.integers(0, T, int(swap.sum()))
    super_user = rng.random(n) < SUPER_USER_SHARE

    # ---------------------------------------------------------------- lifecycle plan
    stage_p = np.array([SHARES[s] for s in STAGES])
    stage = rng.choice(len(STAGES), size=n, p=stage_p / stage_p.sum())
    stage[super_user] = 1
    reactivated = (stage == 1) & (rng.random(n) < REACTIVATED_SHARE / SHARES["active"]) & ~super_user
    regular = (rng.random(n) < REGULAR_SHARE) | super_user
    gap = np.where(regular, rng.uniform(12, 30, n), rng.uniform(45, 150, n))
    gap = np.where(super_user, np.maximum(3.0, gap / 3.0), gap)
    one_time = (stage != 0) & (rng.random(n) < ONE_TIME_SHARE) & ~super_user & ~reactivated
    slowing = (stage == 1) & ~reactivated & ~super_user & (rng.random(n) < SLOWING_SHARE)
    last_idx = D - 1
    recency = np.zeros(n, dtype=np.int64)
    first_age = np.zeros(n, dtype=np.int64)  # days between first order and end
    # new
    m = stage == 0
    first_age[m] = rng.integers(0, 30, int(m.sum()))
    recency[m] = (rng.random(int(m.sum())) * (first_age[m] + 1)).astype(np.int64)
    # active
    m = stage == 1
    cap = np.where(rng.random(n) < 0.85, np.minimum(75, 2 * gap), 90.0)
    recency[m] = (rng.random(int(m.sum())) * (cap[m] + 1)).astype(np.int64)
    for s, (low, high) in ((2, (91, 180)), (3, (181, 365)), (4, (366, D - 30))):
        m = stage == s
        recency[m] = rng.integers(low, high + 1, int(m.sum()))
    # many customers were already buying before the window opens (left-censored histories)
    span = rng.uniform(40, 800, n).astype(np.int64)
    span = np.where(super_user, rng.uniform(500, 1200, n).astype(np.int64), span)
    nonnew = stage != 0
    first_age[nonnew] = recency[nonnew] + span[nonnew]
    first_age = np.where(one_time, recency, first_age)
    first_day = last_idx - first_age
    last_day = last_idx - recency

    # segments: (user, a, b, count); reactivated users have two with a > 180-day hole between
    seg_user = np.arange(n)
    seg_a = first_day.copy()
    seg_b = last_day.copy()
    seg_n = 1 + rng.poisson((last_day - np.maximum(first_day, 0)) / gap)
    seg_n = np.where(one_time, 1, seg_n)
    seg_n = np.where((stage == 0), np.minimum(seg_n, 1 + rng.poisson(0.6, n)), seg_n)
    r = np.flatnonzero(reactivated)
    hole_a = np.full(n, D + 1)
    hole_b = np.full(n, D + 1)
    if r.size:
        recency[r] = rng.integers(0, 46, r.size)
        last_day[r] = last_idx - recency[r]
        h2 = last_day[r] - rng.integers(0, 61, r.size)
        h1 = h2 - rng.integers(190, 301, r.size)
        first_day[r] = h1 - rng.integers(30, 401, r.size)
        first_age[r] = last_idx - first_day[r]
        seg_a[r], seg_b[r] = first_day[r], h1
        seg_n[r] = 2 + rng.poisson((h1 - np.maximum(first_day[r], 0)) / gap[r])
        late_n = 2 + rng.poisson((last_day[r] - h2) / gap[r])
        hole_a[r], hole_b[r] = h1, h2
        seg_user = np.concatenate([seg_user, r])
        seg_a = np.concatenate([seg_a, h2])
        seg_b = np.concatenate([seg_b, last_day[r]])
        seg_n = np.concatenate([seg_n, late_n])

    # ---------------------------------------------------------------- orders (one row per order)
    o_seg = np.repeat(np.arange(seg_n.size), seg_n)
    starts = np.concatenate([[0], np.cumsum(seg_n)[:-1]])
    k = np.arange(o_seg.size) - starts[o_seg]
    o_user = seg_user[o_seg]
    a, b, cnt = seg_a[o_seg], seg_b[o_seg], seg_n[o_seg]
    # a segment's last order is its end; its first is its start when that lies in the window;
    # the orders between follow the consumer type's calendar intensity
    head = (k == 0) & (cnt > 1) & (a >= 0)
    tail = k == cnt - 1
    o_day = np.where(head, a, b)
    middle = ~head & ~tail
    a = np.maximum(a, 0)
    o_type = ctype[o_user]
    for t in range(T):
        sel = np.flatnonzero(middle & (o_type == t))
        if not sel.size:
            continue
        c = cal.cdf[t]
        lo_c, hi_c = c[a[sel]], c[b[sel] + 1]
        v = rng.random(sel.size)
        v = np.where(slowing[o_user[sel]], v**2.2, v)
        d = np.searchsorted(c, lo_c + v * (hi_c - lo_c), side="right") - 1
        o_day[sel] = np.clip(d, a[sel], b[sel])
    endpoint = ~middle
    o_kind = np.zeros(o_day.size, dtype=np.int8)  # 0 ordinary, 1 early adopter, 2 presale, 3 post-launch

    # super users: early buyers of the products launched inside the window
    new_products = np.flatnonzero(cat.is_new)
    su = np.flatnonzero(super_user)
    fixed_sku = np.full(o_day.size, -1)
    extra_user, extra_day, extra_sku, extra_kind = [], [], [], []
    if su.size and new_products.size:
        grid_u, grid_p = np.meshgrid(su, new_products, indexing="ij")
        uu, pp = grid_u.ravel(), grid_p.ravel()
        day = cat.launch_day[pp] + rng.integers(0, 14, uu.size)
        keep = (rng.random(uu.size) < 0.5) & (day >= first_day[uu]) & (day <= last_day[uu])
        extra_user.append(uu[keep])
        extra_day.append(day[keep])
        extra_sku.append(pp[keep])
        extra_kind.append(np.full(int(keep.sum()), 1))
    # pre-sale: deposits in the 30 days before launch; the reference product also sells after it
    phone_pref = _CAT_P[:, next(i for i, c in enumerate(CATEGORIES) if c.l2 == PRESALE["category"])]
    p_pre = 0.2 * phone_pref[ctype] / phone_pref.max() + 0.02 * super_user
    def buy_in_window(start: int, end: int, probability: Any, sku_idx: int, kind: int) -> None:
        """Users active in [start, end] buy sku_idx once, with ``probability``, on a uniform day."""
        lo_d, hi_d = np.maximum(start, first_day), np.minimum(end, last_day)
        ok = (lo_d <= hi_d) & (rng.random(n) < probability)
        users = np.flatnonzero(ok)
        day = lo_d[users] + (rng.random(users.size) * (hi_d[users] - lo_d[users] + 1)).astype(np.int64)
        extra_user.append(users)
        extra_day.append(day)
        extra_sku.append(np.full(users.size, sku_idx))
        extra_kind.append(np.full(users.size, kind))

    for sku_idx in (cat.reference_sku, cat.presale_sku):
        launch = int(cat.launch_day[sku_idx])
        buy_in_window(launch - int(PRESALE["presale_days"]), launch - 1, p_pre, sku_idx, 2)
        if sku_idx == cat.reference_sku:
            # eligible users in the launch window buy at the rate that gives the planted conversion
            rate = p_pre * (float(PRESALE["conversion"]) - 1.0)
            buy_in_window(launch, launch + int(PRESALE["horizon_days"]) - 1, rate, sku_idx, 3)
    if extra_user:
        eu, ed = np.concatenate(extra_user), np.concatenate(extra_day)
        es, ek = np.concatenate(extra_sku), np.concatenate(extra_kind).astype(np.int8)
        outside = (ed <= hole_a[eu]) | (ed >= hole_b[eu])  # keep the reactivated users' silence
        eu, ed, es, ek = eu[outside], ed[outside], es[outside], ek[outside]
        o_user = np.concatenate([o_user, eu])
        o_day = np.concatenate([o_day, ed])
        fixed_sku = np.concatenate([fixed_sku, es])
        o_kind = np.concatenate([o_kind, ek])
        endpoint = np.concatenate([endpoint, np.zeros(eu.size, dtype=bool)])
    o_type = ctype[o_user]
    n_orders = o_day.size
    o_hour = _categorical(rng, _HOUR_P[o_type])
    o_sec = o_day * DAY + o_hour * 3600 + rng.integers(0, 3600, n_orders)
    o_channel = _categorical(rng, _CHANNEL_P[o_type])
    status = rng.choice(3, size=n_orders, p=[0.93, 0.04, 0.03])  # paid, cancelled, returned
    status[endpoint | (o_kind == 1) | (o_kind == 3)] = 0
    status[o_kind == 2] = 3  # presale

    # ---------------------------------------------------------------- lines
    n_lines = np.where(
        fixed_sku >= 0, 1,
        1 + np.minimum(rng.poisson(np.array([c.basket for c in CONSUMER_TYPES])[o_type] + super_user[o_user]), 6),
    )
    l_order = np.repeat(np.arange(n_orders), n_lines)
    l_user = o_user[l_order]
    l_day = o_day[l_order]
    l_type = ctype[l_user]
    trend = np.ones((K, cal.days))
    laptop = next(i for i, c in enumerate(CATEGORIES) if c.l2 == NICHE["category"])
    trend[laptop] = np.linspace(float(NICHE["trend_start"]), float(NICHE["trend_end"]), cal.days)
    weights = _CAT_P[l_type] * trend[:, l_day].T
    l_cat = _categorical(rng, weights)
    l_sku = np.full(l_order.size, -1)
    fixed_line = fixed_sku[l_order] >= 0
    l_sku[fixed_line] = fixed_sku[l_order][fixed_line]
    band_target = (gen == GENERATIONS.index(str(PRICE_BAND["generation"]))) & (
        tier == TIERS.index(str(PRICE_BAND["city_tier"]))
    )
    ref_open = int(cat.launch_day[cat.reference_sku]) + int(PRESALE["horizon_days"])
    for kk in range(K):
        sel = np.flatnonzero((l_cat == kk) & ~fixed_line)
        members = np.flatnonzero(cat.l2_index == kk)
        if not sel.size:
            continue
        w = np.broadcast_to(cat.popularity[members], (sel.size, members.size)).copy()
        launched = cat.launch_day[members][None, :] <= l_day[sel][:, None]
        w *= launched
        sellable = cat.sellable[members].copy()
        w[:, ~sellable] = 0.0
        if cat.reference_sku in members:  # the reference pre-sale phone sells normally later
            j = int(np.flatnonzero(members == cat.reference_sku)[0])
            w[:, j] = np.where(l_day[sel] >= ref_open, 0.6, 0.0)
        band = cat.in_band[members]
        if band.any():
            factor = np.where(band_target[l_user[sel]], float(PRICE_BAND["target_weight"]),
                              float(PRICE_BAND["other_weight"]))
            w[:, band] *= factor[:, None]
        sup = super_user[l_user[sel]]
        if sup.any():
            tilt = (cat.price[members] / np.median(cat.price[members])) ** 1.5
            w[sup] *= tilt[None, :]
        l_sku[sel] = members[_categorical(rng, w)]
    # the co-purchase pair: sku_b joins many orders holding sku_a
    has_a = np.zeros(n_orders, dtype=bool)
    has_a[l_order[l_sku == cat.bundle_a]] = True
    attach = np.flatnonzero(has_a & (rng.random(n_orders) < float(BUNDLE["attach_rate"])))
    l_order = np.concatenate([l_order, attach])
    l_sku = np.concatenate([l_sku, np.full(attach.size, cat.bundle_b)])
    # one line per (order, sku)
    key = l_order.astype(np.int64) * 100_000 + l_sku
    _, first = np.unique(key, return_index=True)
    first.sort()
    l_order, l_sku = l_order[first], l_sku[first]
    l_user, l_day = o_user[l_order], o_day[l_order]
    l_type = ctype[l_user]
    n_l = l_order.size
    qty_extra = np.array([c.qty_extra for c in CATEGORIES])[cat.l2_index[l_sku]]
    qty = (1 + rng.poisson(qty_extra)).astype(np.float64)
    qty[o_kind[l_order] > 0] = 1.0
    coupon = rng.random(n_l) < np.array([c.coupon for c in CONSUMER_TYPES])[l_type]
    discount = np.where(cal.discount_day[np.minimum(l_day, cal.days - 1)], rng.uniform(0.10, 0.25, n_l),
                        rng.uniform(0.0, 0.08, n_l)) + 0.05 * coupon
    discount = np.where(o_kind[l_order] >= 2, 0.0, np.round(discount, 2))
    unit_price = np.round(cat.price[l_sku] * (1.0 - discount), 2)

    # order ids: chronological within the chunk
    order_rank = np.empty(n_orders, dtype=np.int64)
    order_rank[np.lexsort((o_user, o_sec))] = np.arange(n_orders)
    order_num = order_offset + 1 + order_rank

    # ---------------------------------------------------------------- stats for the truth
    paid_orders = (status != 1)
    np.add.at(stats.daily_orders, o_day[paid_orders & (o_kind == 0)], 1)
    laptop_lines = cat.l2_index[l_sku] == laptop
    np.add.at(stats.laptop_daily, l_day[laptop_lines], qty[laptop_lines])
    in_a = np.zeros(n_orders, dtype=bool)
    in_b = np.zeros(n_orders, dtype=bool)
    in_a[l_order[l_sku == cat.bundle_a]] = True
    in_b[l_order[l_sku == cat.bundle_b]] = True
    stats.add("orders", n_orders)
    stats.add("orders_a", in_a.sum())
    stats.add("orders_b", in_b.sum())
    stats.add("orders_ab", (in_a & in_b).sum())
    band_lines = cat.in_band[l_sku]
    band_buyers = np.unique(l_user[band_lines])
    stats.add("band_buyers", band_buyers.size)
    stats.add("band_buyers_target", band_target[band_buyers].sum())
    cat_band = cat.l2_index[l_sku] == cat.l2_index[np.flatnonzero(cat.in_band)[0]]
    cat_buyers = np.unique(l_user[cat_band])
    stats.add("band_category_buyers", cat_buyers.size)
    stats.add("band_category_buyers_target", band_target[cat_buyers].sum())
    for sku_idx, name in ((cat.reference_sku, "reference"), (cat.presale_sku, "presale")):
        pre = (l_sku == sku_idx) & (o_kind[l_order] == 2)
        stats.add(f"{name}_presale_orders", np.unique(l_order[pre]).size)
        stats.add(f"{name}_presale_units", qty[pre].sum())
    post = (l_sku == cat.reference_sku) & (o_kind[l_order] == 3)
    stats.add("reference_post_units", qty[post].sum())
    stats.add("early_orders", int((o_kind == 1).sum()))

    # ---------------------------------------------------------------- events
    ev_user, ev_sec, ev_kind, ev_sku, ev_cat, ev_query = [], [], [], [], [], []
    line_sec = o_sec[l_order]
    l_cat = cat.l2_index[l_sku]
    view_sec = line_sec - rng.integers(60, 3 * 3600, n_l)

    def add(users: np.ndarray, secs: np.ndarray, kind: int, sku: np.ndarray, cats: np.ndarray,
            query: np.ndarray | None = None) -> None:
        ev_user.append(users)
        ev_sec.append(secs)
        ev_kind.append(np.full(users.size, kind, dtype=np.int8))
        ev_sku.append(sku)
        ev_cat.append(cats)
        ev_query.append(np.full(users.size, -1) if query is None else query)

    add(l_user, view_sec, 1, l_sku, l_cat)
    m = rng.random(n_l) < 0.35
    add(l_user[m], line_sec[m] - rng.integers(20, 1800, int(m.sum())), 2, l_sku[m], l_cat[m])
    m = rng.random(n_l) < 0.12
    add(l_user[m], view_sec[m] + rng.integers(1, 60, int(m.sum())), 3, l_sku[m], l_cat[m])
    m = np.flatnonzero(rng.random(n_l) < 0.55)
    q_of_cat = _QUERY_START[l_cat[m]] + (rng.random(m.size) * _QUERY_COUNT[l_cat[m]]).astype(np.int64)
    add(l_user[m], view_sec[m] - rng.integers(10, 900, m.size), 0, np.full(m.size, -1), l_cat[m], q_of_cat)
    # browsing: views of other products of the same category that were not bought
    m = np.flatnonzero(rng.random(n_l) < 0.8)
    old = _old_members(cat)
    table, sizes = _padded(old)
    pick = (rng.random(m.size) * sizes[l_cat[m]]).astype(np.int64)
    alt = table[l_cat[m], pick]
    add(l_user[m], view_sec[m] - rng.integers(300, 3 * DAY, m.size), 1, alt, l_cat[m])
    # pre-sale reservations: every deposit, and as many reservations again without one
    pre_lines = np.flatnonzero(o_kind[l_order] == 2)
    add(l_user[pre_lines], line_sec[pre_lines] - 30, 4, l_sku[pre_lines], l_cat[pre_lines])
    extra = pre_lines[rng.random(pre_lines.size) < 0.6]
    add(l_user[extra], line_sec[extra] - rng.integers(DAY, 5 * DAY, extra.size), 4, l_sku[extra], l_cat[extra])
    # the niche query: searched more and more, nothing serves it
    type_factor = np.array([{"Z世代玩家": 4.0, "都市白领": 0.8, "小镇青年": 0.6}.get(c.name, 0.2) for c in CONSUMER_TYPES])
    lam = float(NICHE["search_rate"]) * type_factor[ctype] / float(np.dot(type_factor, _SHARE_P))
    count = rng.poisson(lam)
    nu = np.repeat(np.arange(n), count)
    rise = float(NICHE["search_rise"])
    x = (np.sqrt(1.0 + rng.random(nu.size) * (rise**2 - 1.0)) - 1.0) / (rise - 1.0)
    nd = np.minimum((x * cal.days).astype(np.int64), cal.days - 1)
    keep = nd >= first_day[nu]
    nu, nd = nu[keep], nd[keep]
    nsec = nd * DAY + _categorical(rng, _HOUR_P[ctype[nu]]) * 3600 + rng.integers(0, 3600, nu.size)
    add(nu, nsec, 0, np.full(nu.size, -1), np.full(nu.size, laptop), np.full(nu.size, _NICHE_QUERY))
    np.add.at(stats.niche_daily, nd, 1)
    m = rng.random(nu.size) < 0.5
    laptops = old[laptop]
    add(nu[m], nsec[m] + rng.integers(5, 600, int(m.sum())), 1,
        laptops[rng.integers(0, laptops.size, int(m.sum()))], np.full(int(m.sum()), laptop))
    e_user = np.concatenate(ev_user)
    e_sec = np.concatenate(ev_sec)
    e_kind = np.concatenate(ev_kind)
    e_sku = np.concatenate(ev_sku)
    e_cat = np.concatenate(ev_cat)
    e_query = np.concatenate(ev_query)
    inside = (e_sec >= 0) & (e_sec < cal.days * DAY)
    e_user, e_sec, e_kind, e_sku, e_cat, e_query = (
        x[inside] for x in (e_user, e_sec, e_kind, e_sku, e_cat, e_query)
    )

    # ---------------------------------------------------------------- reviews
    rate = np.array([c.review_rate for c in CONSUMER_TYPES])[l_type]
    is_super_line = super_user[l_user]
    rate = np.where(is_super_line, 0.85, rate)
    r_line = np.flatnonzero((status[l_order] == 0) & (rng.random(n_l) < rate))
    r_sec = line_sec[r_line] + rng.integers(2 * DAY, 15 * DAY, r_line.size)
    r_line = r_line[r_sec < cal.days * DAY]
    r_sec = r_sec[r_sec < cal.days * DAY]
    nr = r_line.size
    ru = l_user[r_line]
    rating = rng.choice(5, size=nr, p=[0.04, 0.04, 0.10, 0.27, 0.55]) + 1
    rating = np.where(super_user[ru], np.where(rng.random(nr) < 0.93, 5, 4), rating)
    on_micro = l_sku[r_line] == cat.micro_sku
    complaint = on_micro & (rng.random(nr) < float(MICRO_DEMAND["share"]))
    rating = np.where(complaint, rng.choice([2, 3, 4], size=nr, p=[0.4, 0.45, 0.15]), rating)
    milk = cat.l2_index[l_sku[r_line]] == cat.l2_index[cat.micro_sku]
    good_lid = milk & ~complaint & (rng.random(nr) < 0.02)
    stats.add("micro_reviews", on_micro.sum())
    stats.add("micro_complaints", complaint.sum())
    tone = np.where(rating >= 4, 0, np.where(rating == 3, 1, 2))
    review_text = _compose(rng, tone, own_life[ru], own_motive[ru], complaint, good_lid)

    # ---------------------------------------------------------------- frames
    uid = _ids("U", user_offset + 1 + np.arange(n), user_width)
    base = cal.base_epoch_s
    city_arr = np.array([c[0] for c in CITIES], dtype=object)
    prov_arr = np.array([c[1] for c in CITIES], dtype=object)
    gender = _lk(("M", "F"), female.astype(np.int64))
    signup_day = first_day - np.where(stage == 0, rng.integers(0, 10, n), rng.integers(0, 400, n))
    customers = pl.DataFrame(
        {
            "user_id": uid,
            "gender": gender,
            "birth_year": birth_year.astype(np.int32),
            "province": _lk(prov_arr, city),
            "city": _lk(city_arr, city),
            "city_tier": _lk(TIERS, tier),
            "country": _lk(("中国",), np.zeros(n, dtype=np.int64)),
            "signup_ts": _ts(base + signup_day * DAY + rng.integers(0, DAY, n)),
        },
        schema_overrides={"birth_year": pl.Int32},
    )
    n_user_orders = np.bincount(o_user, minlength=n)
    seen_first = np.full(n, cal.days, dtype=np.int64)
    np.minimum.at(seen_first, o_user, o_day)
    first_age = np.where(first_day >= 0, last_idx - seen_first, first_age)
    clear = _clear(stage, recency, first_age, regular, one_time, n_user_orders)
    truth_users = pl.DataFrame(
        {
            "user_id": uid,
            "consumer_type": ctype.astype(np.int32),
            "consumer_type_name": _lk([c.name for c in CONSUMER_TYPES], ctype),
            "consumer_type_en": _lk([c.name_en for c in CONSUMER_TYPES], ctype),
            "generation": _lk(GENERATIONS, gen),
            "gender": gender,
            "province": _lk(prov_arr, city),
            "city": _lk(city_arr, city),
            "city_tier": _lk(TIERS, tier),
            "lifecycle_stage": _lk(STAGES, stage),
            "lifecycle_clear": clear,
            "reactivated": reactivated,
            "slowing": slowing,
            "regular": regular,
            "typical_gap_days": np.round(gap, 1),
            "customer_since": _dates(cal.start, first_day),
            "first_order_date": _dates(cal.start, seen_first),
            "last_order_date": _dates(cal.start, last_day),
            "orders": n_user_orders.astype(np.int32),
            "is_super_user": super_user,
            "lifestyle": _lk(LIFESTYLES, own_life),
            "motive": _lk(MOTIVES, own_motive),
        },
        schema_overrides={"consumer_type": pl.Int32, "orders": pl.Int32},
    )
    status_names = np.array(["paid", "cancelled", "returned", "presale"], dtype=object)
    # an order ships to the customer's city, now and then to another one (gifts, travel)
    ship = np.where(rng.random(n_orders) < 0.05, rng.integers(0, len(CITIES), n_orders), city[o_user])
    orders = pl.DataFrame(
        {
            "order_id": _ids("O", order_num[l_order], 9),
            "user_id": uid[l_user],
            "sku": _lk(cat.sku, l_sku),
            "ts": _ts(base + line_sec),
            "qty": qty,
            "unit_price": unit_price,
            "status": _lk(status_names, status[l_order]),
            "channel": _lk(CHANNELS, o_channel[l_order]),
            "province": _lk(prov_arr, ship[l_order]),
            "city": _lk(city_arr, ship[l_order]),
            "presale": o_kind[l_order] == 2,
            "discount": discount,
        }
    ).sort("ts", "order_id", "sku")
    event_names = np.array(["search", "view", "cart", "fav", "presale"], dtype=object)
    cat_names = np.array([c.l2 for c in CATEGORIES], dtype=object)
    sku_or_null = _lk(cat.sku, e_sku)
    query = _lk(_QUERIES, e_query)
    events = pl.DataFrame(
        {
            "user_id": uid[e_user],
            "ts": _ts(base + e_sec),
            "event": _lk(event_names, e_kind),
            "sku": sku_or_null,
            "category": _lk(cat_names, e_cat),
            "query": query,
        }
    ).sort("ts", "user_id", "event", "sku", "query", nulls_last=True)
    reviews = pl.DataFrame(
        {
            "review_id": _ids("R", review_offset + 1 + np.arange(nr), 9),
            "user_id": uid[ru],
            "sku": _lk(cat.sku, l_sku[r_line]),
            "category": _lk(cat_names, cat.l2_index[l_sku[r_line]]),
            "ts": _ts(base + r_sec),
            "rating": rating.astype(np.int32),
            "text": review_text,
        },
        schema_overrides={"rating": pl.Int32},
    )
    return Chunk(customers, truth_users, orders, events, reviews)


def _clear(stage: np.ndarray, recency: np.ndarray, first_age: np.ndarray, regular: np.ndarray,
           one_time: np.ndarray, n_orders: np.ndarray) -> np.ndarray:
    """Stage unambiguous: ≥ 15 days from every threshold, and a regular rhythm to judge by."""
    rhythm = regular & ~one_time & (n_orders >= 3)
    new = (stage == 0) & (first_age <= 15)
    active = (stage == 1) & (recency <= 75) & (first_age >= 45) & rhythm
    sleeping = (stage == 2) & (recency >= 106) & (recency <= 165) & rhythm
    dormant = (stage == 3) & (recency >= 196) & (recency <= 350) & rhythm
    lost = (stage == 4) & (recency >= 381) & rhythm
    return new | active | sleeping | dormant | lost


def _lk(values: object, idx: np.ndarray) -> pl.Series:
    """Strings looked up by index; a negative index gives null."""
    table = pl.Series([str(v) for v in values], dtype=pl.String)  # type: ignore[attr-defined]
    idx = np.asarray(idx, dtype=np.int64)
    out = table.gather(np.maximum(idx, 0))
    if (idx < 0).any():
        out = pl.select(pl.when(pl.Series(idx >= 0)).then(out)).to_series()
    return out


def _ids(prefix: str, numbers: np.ndarray, width: int) -> pl.Series:
    series = pl.Series("n", np.asarray(numbers, dtype=np.int64))
    return pl.select(pl.lit(prefix) + series.cast(pl.String).str.zfill(width)).to_series()


def _ts(seconds: np.ndarray) -> pl.Series:
    return (
        pl.Series(np.asarray(seconds, dtype=np.int64) * 1_000_000)
        .cast(pl.Datetime("us"))
        .dt.replace_time_zone("UTC")
    )


def _dates(start: dt.date, days: np.ndarray) -> pl.Series:
    epoch = (start - dt.date(1970, 1, 1)).days
    return pl.Series(np.asarray(days, dtype=np.int64) + epoch).cast(pl.Int32).cast(pl.Date)


def _build_queries() -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    queries: list[str] = []
    start, count = [], []
    for c in CATEGORIES:
        own = [c.l2, *c.l3, *(f"{b}{c.l2}" for b in c.brands), *text.EXTRA_QUERIES.get(c.l2, ())]
        own = list(dict.fromkeys(q for q in own if q != NICHE["query"]))
        start.append(len(queries))
        count.append(len(own))
        queries.extend(own)
    queries.append(str(NICHE["query"]))
    return np.array(queries, dtype=object), np.array(start), np.array(count), len(queries) - 1


_QUERIES, _QUERY_START, _QUERY_COUNT, _NICHE_QUERY = _build_queries()


def _old_members(cat: Catalog) -> list[np.ndarray]:
    return [np.flatnonzero((cat.l2_index == k) & (cat.launch_day < 0) & cat.sellable) for k in range(K)]


def _padded(groups: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    sizes = np.array([g.size for g in groups])
    table = np.zeros((len(groups), max(1, int(sizes.max()))), dtype=np.int64)
    for i, g in enumerate(groups):
        table[i, : g.size] = g
    return table, sizes


def _pick(rng: np.random.Generator, options: tuple[str, ...] | list[str], size: int) -> np.ndarray:
    return np.array(options, dtype=object)[rng.integers(0, len(options), size)]


def _compose(rng: np.random.Generator, tone: np.ndarray, life: np.ndarray, motive: np.ndarray,
             complaint: np.ndarray, good_lid: np.ndarray) -> pl.Series:
    n = tone.size
    opening = np.empty(n, dtype=object)
    aspect = np.empty(n, dtype=object)
    for i, key in enumerate(("pos", "mid", "neg")):
        m = tone == i
        opening[m] = _pick(rng, text.OPENINGS[key], int(m.sum()))
        aspect[m] = _pick(rng, text.ASPECTS_NEG if key == "neg" else text.ASPECTS_POS, int(m.sum()))
    life_cue = np.full(n, "", dtype=object)
    motive_cue = np.full(n, "", dtype=object)
    with_life = rng.random(n) < 0.65
    with_motive = rng.random(n) < 0.6
    for t in range(T):
        m = with_life & (life == t)
        life_cue[m] = _pick(rng, [f"，{s}" for s in text.LIFESTYLE_CUES[LIFESTYLES[t]]], int(m.sum()))
        m = with_motive & (motive == t)
        motive_cue[m] = _pick(rng, [f"，{s}" for s in text.MOTIVE_CUES[MOTIVES[t]]], int(m.sum()))
    extra = np.full(n, "", dtype=object)
    extra[complaint] = _pick(rng, [f"，{p}" for p in MICRO_DEMAND["phrases"]], int(complaint.sum()))
    extra[good_lid] = _pick(rng, [f"，{p}" for p in text.GOOD_LID], int(good_lid.sum()))
    frame = pl.DataFrame({"o": opening, "a": aspect, "l": life_cue, "m": motive_cue, "x": extra},
                         schema={c: pl.String for c in "oalmx"})
    return frame.select(
        pl.concat_str([pl.col("o"), pl.lit("，"), pl.col("a"), pl.col("l"), pl.col("m"), pl.col("x"), pl.lit("。")])
        .alias("text")
    ).to_series()
