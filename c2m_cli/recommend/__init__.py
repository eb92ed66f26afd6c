"""`c2m recommend`: what to build, for whom, at which price, how many, and for whom to market it.

``compute_recommend(inputs, …)`` is the pure core (frames in, frames and texts out, warnings
collected in a ``WarningLog``); ``run_recommend(ws, …)`` is the workspace adapter: it validates
options, reads the tables, calls the core and writes the outputs. Each analysis whose input is
missing is skipped and the summary says why.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import polars as pl

from c2m_cli.diagnostics import WarningLog
from c2m_cli.errors import InvalidDataError, UsageError
from c2m_cli.market import workspace_market
from c2m_cli.recommend import audiences as aud
from c2m_cli.recommend import price_bands
from c2m_cli.recommend._text import is_chinese
from c2m_cli.recommend.briefs import BriefContext, build_briefs
from c2m_cli.recommend.bundles import baskets_of, mine_bundles
from c2m_cli.recommend.data import Inputs, dense_weekly, sales_scan
from c2m_cli.recommend.opportunities import assemble
from c2m_cli.recommend.quantities import QUANTITY_SCHEMA, Economics, plan_quantities, quantity_row
from c2m_cli.recommend.rising import MIN_WEEKS as RISING_MIN_WEEKS
from c2m_cli.workspace import Workspace, mask_argv

REQUIRED_ORDER_COLUMNS = ("order_id", "user_id", "sku", "ts", "qty", "unit_price")
TABLES = ("products", "customers", "events", "reviews", "labels", "tags", "segments", "segment_profiles", "forecast")


@dataclass
class RecommendResult:
    tables: dict[str, pl.DataFrame]
    texts: dict[str, str]
    summary: dict[str, Any]
    warnings: WarningLog = field(default_factory=WarningLog)


def check_options(*, service_level: float, min_support: float, top: int, cancel_rate: float, deposit_conversion: float,
                  moq: float, unit_cost: float | None, unit_price: float | None, salvage: float, hash_ids: bool,
                  salt: str, horizon_days: int) -> None:
    """Usage errors (exit 2) before anything is read."""
    if not 0 < service_level < 1:
        raise UsageError(f"--service-level must be between 0 and 1 (exclusive), got {service_level}")
    if not 0 < min_support < 1:
        raise UsageError(f"--min-support must be between 0 and 1 (exclusive), got {min_support}")
    if top < 1:
        raise UsageError(f"--top must be at least 1, got {top}")
    if not 0 <= cancel_rate < 1:
        raise UsageError(f"--cancel-rate must be in [0, 1), got {cancel_rate}")
    if deposit_conversion <= 0:
        raise UsageError(f"--deposit-conversion must be positive, got {deposit_conversion}")
    if moq < 0:
        raise UsageError(f"--moq must not be negative, got {moq}")
    if horizon_days < 7:
        raise UsageError(f"horizon_days must be at least 7, got {horizon_days}")
    if (unit_cost is None) != (unit_price is None):
        given, missing = ("--unit-cost", "--unit-price") if unit_price is None else ("--unit-price", "--unit-cost")
        raise UsageError(f"{given} needs {missing} too (the critical ratio uses both)")
    if unit_cost is not None and unit_price is not None:
        if unit_cost < 0:
            raise UsageError(f"--unit-cost must not be negative, got {unit_cost}")
        if unit_price <= unit_cost:
            raise UsageError(f"--unit-price ({unit_price}) must exceed --unit-cost ({unit_cost})")
        if not 0 <= salvage < unit_cost:
            raise UsageError(f"--salvage must be in [0, --unit-cost), got {salvage}")
    if hash_ids and not salt:
        raise UsageError("--hash-ids needs --salt (a secret kept outside the workspace; it is never recorded)")


def inputs_from(orders: pl.DataFrame | pl.LazyFrame, tables: dict[str, pl.DataFrame | None], timezone: str) -> Inputs:
    """Inputs for the core; exit 3 when no order line is a sale. ``orders`` may be a lazy scan:
    the lines stay lazy and are read by the aggregates' streaming group-bys."""
    names = orders.collect_schema().names()
    missing = [c for c in REQUIRED_ORDER_COLUMNS if c not in names]
    if missing:
        raise InvalidDataError(f"orders.parquet lacks column(s): {', '.join(missing)}")
    n_orders = int(orders.lazy().select(pl.len()).collect().item())
    if n_orders == 0:
        raise InvalidDataError("orders.parquet has no rows")
    lines = sales_scan(orders, timezone)  # sales only (contract.sales_lines)
    texts: list[str] = []
    products = tables.get("products")
    if products is not None:
        texts += [str(v) for c in ("name", "category_l1", "category_l2") if c in products.columns for v in products[c].head(200).to_list()]
    reviews = tables.get("reviews")
    if reviews is not None and "text" in reviews.columns:
        texts += reviews["text"].drop_nulls().head(200).to_list()
    ins = Inputs(orders=orders, timezone=timezone, chinese=is_chinese(texts), lines=lines,
                 **{k: v for k, v in tables.items() if k in TABLES})  # type: ignore[arg-type]
    skus = ins.sku_table()
    if skus.height == 0:
        statuses = (dict(sorted(orders.lazy().group_by("status").len().collect().iter_rows()))
                    if "status" in names else {})
        raise InvalidDataError(f"orders.parquet has no paid order lines ({n_orders:,} lines; by status: {statuses})")
    ins.start, ins.end = cast(dt.date, skus["first"].min()), cast(dt.date, skus["last"].max())
    return ins


def _examples(frame: pl.DataFrame, text: pl.Expr, k: int = 5) -> str:
    items = frame.select(text.alias("t"))["t"].to_list()
    return ", ".join(items[:k]) + (f" and {len(items) - k} more" if len(items) > k else "")


def _warn_trends_and_bands(ins: Inputs, assembled: Any, log: WarningLog) -> None:
    """Warnings on what the data cannot support: trends on under two years, unknown price bands."""
    if "rising_demand" in assembled.skipped:
        weeks = assembled.notes.get("complete_weeks", 0)
        log.warn("recommend-trend-one-year", f"the order lines hold {weeks} complete weeks ({ins.start} to {ins.end}): no "
                 f"rising_demand opportunity, since a rise cannot be told from the yearly season on less than two years "
                 f"({RISING_MIN_WEEKS} complete weeks)")
    support = assembled.band_support
    if support.height:
        unknown = support.filter(~pl.col("known"))
        below = support.filter(pl.col("below_min") > 0)
        parts = []
        if unknown.height:
            parts.append(f"{unknown.height} of {support.height} categories have no price bands (fewer than "
                         f"{price_bands.MIN_PRODUCTS} products with a real paid price over {price_bands.MIN_LINES} lines: "
                         + _examples(unknown, pl.format("{} ({} of {} priced)", "category", "priced", "products")) + ")")
        if below.height:
            parts.append(f"{int(below['below_min'].sum())} products paid below {price_bands.MIN_PRICE:g} a unit (a quantity "
                         "that is not an item count, e.g. fuel volume or coupon points) have no price band: "
                         + _examples(below, pl.format("{} {}", "category", "below_min")))
        if parts:
            log.warn("recommend-price-band-unknown", "; ".join(parts))


def _release(ins: Inputs, *names: str) -> None:
    """Drop input tables (and what was derived from them) no later stage reads, so their memory
    is free for the next stage (a 50-million-line shop has millions of reviews and tags)."""
    for name in names:
        setattr(ins, name, None)
    for key in ("buyer_traits", "band_sums") if "tags" in names else ():
        ins._cache.pop(key, None)


def compute_recommend(ins: Inputs, *, market: str, eco: Economics, top: int = 5, min_support: float = 0.001,
                      seed: int = 0, log: WarningLog | None = None, release: bool = False) -> RecommendResult:
    """Opportunities, briefs, quantities, audiences and bundles from prepared inputs (no I/O).
    ``release``: drop each input table from ``ins`` once no later stage reads it (the adapter's
    inputs are used once)."""
    log = log if log is not None else WarningLog()
    assembled = assemble(ins, market)
    if release:
        _release(ins, "reviews", "tags", "customers")
    table = assembled.table
    skipped, notes = dict(assembled.skipped), dict(assembled.notes)
    res = assembled.search
    ctx = BriefContext(market=market, horizon_weeks=max(1, eco.horizon_days // 7), seed=seed,
                       band_table=assembled.band_table, sku_band=assembled.sku_band, portrait=assembled.portrait,
                       micro=assembled.micro, uplift=assembled.uplift)
    if res is not None:
        ctx.queries = res.queries
        ctx.need_weekly = dict(zip(res.needs["need"].to_list(), list(res.weekly), strict=True)) if res.needs.height else {}
        if res.searches.height:
            keys, _, m = dense_weekly(res.searches.filter(pl.col("category").is_not_null()), "category", "one", ins.start, ins.end)
            ctx.category_weekly_searches = dict(zip(keys, list(m), strict=True))
            if "user_id" in res.searches.columns:
                ctx.need_searchers = res.searches.filter(pl.col("need").is_not_null()).select("need", pl.col("user_id").cast(pl.String)).unique()
        ctx.gap_needs = set(table.filter(pl.col("kind").is_in(["search_gap", "attribute_gap"]))["need"].drop_nulls().to_list())
        notes["brand_demand"] = res.brand_demand.head(20).with_columns(pl.col("searches")).to_dicts()
    _warn_trends_and_bands(ins, assembled, log)
    if ins.segments is None:
        skipped["segment_id"] = "no segments.parquet: briefs carry no target segment"
    briefs, docs, demands = build_briefs(ins, table, ctx, top=top)
    # segment of each opportunity: that of its brief, if any
    if briefs.height:
        table = table.join(briefs.select("opportunity_id", pl.col("segment_id").alias("_seg")), on="opportunity_id", how="left").with_columns(
            segment_id=pl.coalesce("segment_id", "_seg")).drop("_seg")
    if ins.forecast is None:
        skipped["forecast"] = "no forecast.parquet: pre-sale quantities from deposits; brief demand from searches or history"
    quantities, notes["quantities"] = plan_quantities(ins.orders, ins.events, ins.products, ins.forecast, tz=ins.timezone,
                                                      end=ins.end, eco=eco, chinese=ins.chinese)
    if release:
        _release(ins, "events", "forecast")
    brief_rows = [quantity_row(demands[b], eco, sku=None, brief_id=b, presale=0.0) for b in briefs["brief_id"].to_list()]
    if brief_rows:
        quantities = pl.concat([quantities, pl.DataFrame(brief_rows, schema=QUANTITY_SCHEMA)])
    for r in quantities.filter(pl.col("moq_flag") == "moq-loses-money").iter_rows(named=True):
        log.warn("recommend-moq-loses-money", f"{r['sku'] or r['brief_id']}: the MOQ of {eco.moq:,.0f} loses money in expectation "
                 f"(demand P50 {r['forecast_p50']:,.0f}, P90 {r['forecast_p90']:,.0f}); {r['recommended_qty']:,.0f} recommended instead")
    for r in quantities.filter(pl.col("moq_flag") == "moq-above-p90").iter_rows(named=True):
        log.warn("recommend-moq-above-demand", f"{r['sku'] or r['brief_id']}: the MOQ of {eco.moq:,.0f} exceeds the demand's P90 "
                 f"({r['forecast_p90']:,.0f}); give --unit-cost and --unit-price to judge it")
    # audiences
    parts = []
    if ins.labels is None:
        skipped["labels"] = "no labels.parquet: no reactivation or super-user audience (run c2m label)"
    else:
        parts += [aud.reactivation(ins.labels, chinese=ins.chinese), aud.super_users(ins.labels, chinese=ins.chinese)]
    if ins.segments is not None:
        pairs = [(b["brief_id"], b["segment_id"]) for b in briefs.iter_rows(named=True) if b["segment_id"]]
        parts.append(aud.early_adopters(ins.lines, ins.segments, pairs, ins.products, per_brief=200, chinese=ins.chinese,
                                        first_sales=ins.sku_table()))
    else:
        skipped["early_adopters"] = "no segments.parquet"
    audiences = (pl.concat([p.cast(aud.AUDIENCE_SCHEMA) for p in parts])  # type: ignore[arg-type]
                 if parts else pl.DataFrame(schema=aud.AUDIENCE_SCHEMA)).sort(["audience", "score", "user_id"], descending=[False, True, False])
    sales = ins.lines.lazy()
    bundles, notes["bundles"] = mine_bundles(baskets_of(sales), min_support=min_support, counts=ins.basket_counts())
    if assembled.tests and not np.isfinite(np.asarray(table["trend_q"].drop_nulls().to_numpy(), dtype=float)).all():
        skipped["trend_q"] = "some trend tests had no q-value"
    summary = {
        "opportunities": table.height,
        "opportunities_by_kind": dict(sorted(table.group_by("kind").len().iter_rows())),
        "top_opportunities": table.head(top).select("rank", "kind", "category", "subject", "score").to_dicts(),
        "briefs": briefs.height,
        "quantities": quantities.select("sku", "brief_id", "presale_orders", "forecast_p50", "recommended_qty", "moq_flag").to_dicts(),
        "audiences": dict(sorted(audiences.group_by("audience").len().iter_rows())),
        "bundles": bundles.height,
        "skipped": dict(sorted(skipped.items())),
        "notes": notes,
    }
    tables = {"opportunities": table, "briefs": briefs, "quantities": quantities, "audiences": audiences, "bundles": bundles}
    return RecommendResult(tables, docs, summary, log)


EVENT_KINDS = ("search", "view", "cart", "fav", "presale")  # searches, clicks after them, deposits
EVENT_COLUMNS = ("event", "user_id", "ts", "query", "category", "sku")


# the columns (and rows) of the per-user tables that recommend reads: the rest of a 50-million-line
# shop's labels (a hundred columns for millions of users) and tags never reach memory
TABLE_COLUMNS = {
    "labels": ("user_id", "lifecycle_stage", "lifecycle_recency_days", "lifecycle_ladder", "value_p_alive", "value_clv"),
    "tags": ("user_id", "family", "tag", "score"),
    "segments": ("user_id", "segment_id"),
    "customers": ("user_id", "birth_year", "age_band", "gender", "city_tier", "income_band"),
    "reviews": ("sku", "category", "ts", "rating", "text"),
}


def _read_table(step: Any, name: str) -> pl.DataFrame | None:
    """An optional table, read with only what recommend uses: the forecast's selected model, the
    events' searches, clicks and deposits, the labels of sleeping, dormant and super users, the
    lifestyle and motive tags (their columns recommend reads)."""
    if not step.workspace.has(name):
        return None
    if name not in ("forecast", "events", *TABLE_COLUMNS):
        return cast(pl.DataFrame | None, step.read_optional(name))
    lazy = step.scan(name)
    names = lazy.collect_schema().names()
    if name == "forecast" and "model" in names:
        lazy = lazy.filter(pl.col("model") == "selected")
    if name == "events":
        lazy = lazy.select([c for c in names if c in EVENT_COLUMNS])
        if "event" in names:
            lazy = lazy.filter(pl.col("event").is_in(EVENT_KINDS))
    if name in TABLE_COLUMNS:
        lazy = lazy.select([c for c in names if c in TABLE_COLUMNS[name]])
    if name == "labels" and {"lifecycle_stage", "lifecycle_ladder"} <= set(names):
        lazy = lazy.filter(pl.col("lifecycle_stage").is_in(list(aud.REACTIVATION_STAGES)) | (pl.col("lifecycle_ladder") == aud.SUPER_RUNG))
    if name == "tags" and {"family", "tag", "user_id"} <= set(names):
        lazy = lazy.filter(pl.col("family").is_in(list(price_bands.TAG_FAMILIES)))
    try:
        return cast(pl.DataFrame, lazy.collect())
    except (pl.exceptions.ComputeError, OSError) as exc:
        raise InvalidDataError(f"{name}.parquet: not a readable Parquet file ({str(exc).splitlines()[0]})") from exc


def run_recommend(
    ws: Workspace,
    *,
    service_level: float = 0.9,
    unit_cost: float | None = None,
    unit_price: float | None = None,
    salvage: float = 0.0,
    moq: float = 0.0,
    deposit_conversion: float = 0.9,
    cancel_rate: float = 0.05,
    horizon_days: int = 56,
    min_support: float = 0.001,
    hash_ids: bool = False,
    salt: str = "",
    top: int = 5,
    super_user_share: float = 0.03,
    seed: int = 0,
    executor: str = "local",
    argv: list[str] | None = None,
    via: str | None = None,
) -> dict[str, Any]:
    check_options(service_level=service_level, min_support=min_support, top=top, cancel_rate=cancel_rate,
                  deposit_conversion=deposit_conversion, moq=moq, unit_cost=unit_cost, unit_price=unit_price,
                  salvage=salvage, hash_ids=hash_ids, salt=salt, horizon_days=horizon_days)
    del super_user_share  # super users are the label step's growth-ladder rung now
    # the salt is never recorded: not its value, not in the command line
    parameters = {
        "service_level": service_level, "unit_cost": unit_cost, "unit_price": unit_price, "salvage": salvage,
        "moq": moq, "deposit_conversion": deposit_conversion, "cancel_rate": cancel_rate,
        "horizon_days": horizon_days, "min_support": min_support, "hash_ids": hash_ids, "top": top, "executor": executor,
    }
    eco = Economics(service_level, unit_cost, unit_price, salvage, moq, deposit_conversion, cancel_rate, horizon_days, seed)
    with ws.step("recommend", parameters=parameters, seed=seed, argv=mask_argv(argv) if argv is not None else None, via=via) as step:
        orders = step.scan("orders")  # lazy: read by streaming group-bys (data.Inputs)
        tables = {n: _read_table(step, n) for n in TABLES}
        tz = str(ws.manifest().get("data_timezone") or "UTC")
        try:
            ins = inputs_from(orders, tables, tz)
        except InvalidDataError as exc:
            raise InvalidDataError(f"{exc} (workspace {ws.root})") from None
        del tables  # the inputs own the tables now, and release them stage by stage
        result = compute_recommend(ins, market=workspace_market(ws.manifest()), eco=eco, top=top,
                                   min_support=min_support, seed=seed, log=step.warnings, release=True)
        for name, frame in result.tables.items():
            step.write_table(name, frame)
        step.write_text("audiences.csv", aud.to_csv(result.tables["audiences"], hash_ids=hash_ids, salt=salt))
        for relpath, text in sorted(result.texts.items()):
            step.write_text(relpath, text)
        old = ws.root / "briefs"
        if old.is_dir():
            for path in sorted(old.glob("*.md")):
                if f"briefs/{path.name}" not in result.texts:
                    step.remove_output(f"briefs/{path.name}")
        summary = {"workspace": str(ws.root), **result.summary}
        step.summary = summary
    return summary
