"""`c2m label`: the eight label families, lifecycle and customer value for every consumer.

Reads orders (required) and customers, products, events, reviews (optional); writes
``labels.parquet`` (one row per user in orders ∪ customers, ``user_id`` first, columns prefixed
by family), ``tags.parquet`` (long: user_id, family, tag, score, evidence),
``value_model.json`` (BG/NBD and Gamma-Gamma parameters, weeks, with standard errors) and,
when there are reviews, ``review_sentiment.parquet`` (one sentiment score per review).

``compute_labels`` is the pure core (frames in, frames and warnings out); ``run_label`` is the
thin adapter that reads the workspace, threads its market and time zone, and writes the outputs.
The families live in their own modules (geography, demographics, value/clv, occasion,
behavior, text + attitude, lifecycle); ``partitions`` splits users for the executor.
"""

from __future__ import annotations

import datetime as dt
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from c2m_cli.diagnostics import WarningLog
from c2m_cli.errors import InvalidDataError, UsageError
from c2m_cli.labels.attitude import attitude_columns, behaviour_hits, review_sentiment, review_stats
from c2m_cli.labels.base import LabelOptions, has_values, parse_as_of, prepare_orders
from c2m_cli.labels.behavior import behavior_labels, brands_informative
from c2m_cli.labels.clv import BetaGeoModel
from c2m_cli.labels.demographics import demographics_labels
from c2m_cli.labels.geography import geography_labels
from c2m_cli.labels.lifecycle import lifecycle_labels, previous_stage, purchase_rhythm
from c2m_cli.labels.occasion import occasion_labels
from c2m_cli.labels.partitions import (
    LINE_SCHEMA,
    ROW,
    STAGING,
    DataFacts,
    PartitionTask,
    partition_files,
    range_bounds,
    read_partition,
    read_range,
    user_range,
    write_results,
)
from c2m_cli.labels.text import (
    TAG_SCHEMA,
    product_texts,
    score_tags,
    stock_review,
    term_hits,
    text_documents,
    text_hits,
    usable_documents,
    wide_tags,
)
from c2m_cli.labels.value import rfm_scores, value_labels

__all__ = ["LabelOptions", "compute_labels", "label_partition", "run_label"]

ONE_ROW_GROUP = 163_840  # the most rows polars' write_parquet puts in one row group
ROW_GROUP = 131_072
FAMILY_ORDER = ("geo_", "demo_", "value_", "occasion_", "behavior_", "motive_", "attitude_", "lifestyle_", "lifecycle_")


def _flat_model(model: dict[str, Any]) -> dict[str, Any]:
    """DESIGN names r, alpha, a, b, p, q, v and the log-likelihood: also give them at the top level
    (null when a model could not be fitted); the nested blocks keep the details."""
    bg, gg = model.get("bgnbd") or {}, model.get("gamma_gamma") or {}
    flat = {k: bg.get(k) for k in ("r", "alpha", "a", "b")} | {k: gg.get(k) for k in ("p", "q", "v")}
    flat["log_likelihood"] = bg.get("log_likelihood")
    return {**model, **flat}


def label_partition(task: PartitionTask) -> dict[str, Any]:
    """Every per-user family for the users of one partition (pure: reads only ``task``'s files)."""
    options, as_of, facts = task.options, task.as_of, task.facts
    lines_df = read_partition(task.lines)
    lines = (lines_df if lines_df is not None else pl.DataFrame(schema=LINE_SCHEMA)).lazy()
    customers = read_partition(task.customers)
    products = pl.read_parquet(task.products) if task.products else None
    events_df = read_partition(task.events)
    events = events_df.lazy() if events_df is not None else None
    reviews = read_partition(task.reviews)
    if customers is not None and "signup_ts" in customers.columns:
        customers = customers.with_columns(
            _signup_day=pl.col("signup_ts").cast(pl.Datetime("us", "UTC")).dt.convert_time_zone(task.timezone).dt.date()
        )
    ids = [lines.select("user_id").unique().collect()]
    if customers is not None:
        ids.append(customers.select("user_id").unique())
    users = pl.concat(ids).unique().sort("user_id")

    behavior = users.join(
        behavior_labels(lines, products, as_of, brands=facts.brands_informative), on="user_id", how="left"
    ).with_columns(
        pl.col("behavior_orders", "behavior_purchase_days", "behavior_returns").fill_null(0),
        pl.col("behavior_total_spend").fill_null(0.0),
        pl.col("behavior_presale_buyer").fill_null(False),
    )
    occasion = users.join(
        occasion_labels(lines, as_of, options.festival_buyer_share, market=facts.market, has_hours=facts.has_hours),
        on="user_id",
        how="left",
    )
    geo = geography_labels(users, customers, lines)
    demo = demographics_labels(users, customers.drop("_signup_day", strict=False) if customers is not None else None, as_of)

    sentiment = review_sentiment(reviews)
    stats = review_stats(sentiment)
    view_counts = None
    if events is not None and "event" in events.collect_schema().names():
        view_counts = (
            events.filter(pl.col("event") == "view")
            .group_by(pl.col("user_id").cast(pl.String))
            .agg(pl.len().alias("_views"))
            .collect()
        )
    # the lexicon is matched once per distinct text (a review, a query, a product's categories
    # and name); a purchase becomes a document only when its product's text states something
    said = text_documents(reviews, events, lines, None)
    prod_texts = product_texts(products)
    texts = usable_documents(said).select("text", "source")
    if prod_texts is not None:
        texts = pl.concat([texts, usable_documents(prod_texts.select("text", source=pl.lit("bought")))])
    by_text = text_hits(texts.unique())
    stating = by_text.filter(pl.col("source") == "bought")["text"].unique()
    docs = pl.concat([said, text_documents(None, None, lines, products, bought_texts=stating)])
    hits = pl.concat([term_hits(docs, by_text=by_text), behaviour_hits(behavior, stats, view_counts, options.loyal_orders)])
    tags = score_tags(hits, options.tag_saturation)
    # a user with no text at all (no review, query or bought product with a name): the text
    # families are unknown for them (null scores), not "scored 0"
    writers = [said.filter(pl.col("text").is_not_null() & ~stock_review(said)).select("user_id")]
    if prod_texts is not None:
        writers.append(
            lines.filter(pl.col("is_purchase") & pl.col("sku").is_in(prod_texts["sku"].implode())).select("user_id").unique().collect()
        )
    with_text = pl.concat(writers).unique()
    text_wide = wide_tags(users, tags, options.min_tag_score, with_text=with_text, behaviour=behavior)
    text_wide = text_wide.join(attitude_columns(users, stats), on="user_id", how="left")
    rhythm = purchase_rhythm(lines, options)
    extra = users.join(rhythm, on="user_id", how="left").join(
        stats.select("user_id", "_positive_reviews")
        if stats is not None
        else pl.DataFrame(schema={"user_id": pl.String, "_positive_reviews": pl.UInt32}),
        on="user_id",
        how="left",
    )
    if customers is not None and "_signup_day" in customers.columns:
        extra = extra.join(customers.select("user_id", "_signup_day").unique("user_id", keep="first"), on="user_id", how="left")
    else:
        extra = extra.with_columns(_signup_day=pl.lit(None, pl.Date))
    # what the passes over everyone need from a partition: whether the user searched (growth
    # ladder) and the stage 90 days ago (P(alive) from the model fitted over everyone)
    searched = users.select("user_id").with_columns(_searched=pl.lit(False))
    if events is not None and {"event"} <= set(events.collect_schema().names()):
        searchers = events.filter(pl.col("event") == "search").select("user_id").unique().collect()
        searched = searched.with_columns(_searched=pl.col("user_id").is_in(searchers["user_id"].implode()))
    p_alive = None
    if task.bgnbd is not None:
        params = np.asarray(task.bgnbd, dtype=np.float64)
        p_alive = partial(BetaGeoModel().p_alive, params=params)
    prev = previous_stage(lines.filter(pl.col("is_purchase")).select("user_id", "day"), options, as_of, p_alive)
    extra = extra.join(searched, on="user_id", how="left").join(
        prev.rename({"lifecycle_prev_stage": "_prev_stage"}), on="user_id", how="left"
    )
    per_user = users
    for part in (geo, demo, occasion, behavior, text_wide, extra):
        per_user = per_user.join(part, on="user_id", how="left")
    return {"users": per_user.sort("user_id"), "tags": tags, "sentiment": sentiment}


def label_partition_files(task: PartitionTask) -> dict[str, str | None]:
    """One executor task: label the partition's users from its files and write the result
    tables next to them (``task.results``); returns only their paths."""
    return write_results(task, label_partition(task))


def line_counts(lines: pl.LazyFrame) -> tuple[int, bool]:
    """The number of prepared order lines and whether any has a time of day (one pass)."""
    clock = pl.col("ts_local")
    timed = (clock.dt.hour() != 0) | (clock.dt.minute() != 0) | (clock.dt.second() != 0) | (clock.dt.microsecond() != 0)
    n, any_timed = lines.select(pl.len(), timed.any()).collect(engine="streaming").row(0)
    return int(n), bool(any_timed)


def data_facts(
    n_lines: int, timed: bool, orders: pl.LazyFrame, products: pl.LazyFrame | None, market: str, log: WarningLog
) -> DataFacts:
    """What the data as a whole can tell (see ``DataFacts``), with a warning for each gap;
    ``n_lines`` and ``timed`` come from ``line_counts``."""
    from c2m_cli.calendar import festivals

    has_hours = timed or n_lines == 0
    if not has_hours:
        log.warn("label-date-only", "every order timestamp is at 00:00 local time (dates only): peak hour and daypart are unknown")
    brands = brands_informative(products)
    if products is not None and has_values(products, "brand") and not brands:
        sample = (
            products.select(pl.col("brand").cast(pl.String)).drop_nulls().unique().sort("brand").head(5).collect()["brand"].to_list()
        )
        log.warn(
            "label-brand-not-brands",
            f"the products' brand field holds too few brand names ({', '.join(sample) or 'none'}): brand loyalty is unknown",
        )
    if not festivals(market):
        log.warn(
            "label-no-festival-calendar",
            f"market {market!r} has no shopping-festival calendar: festival and gift-season occasion labels are unknown",
        )
    return DataFacts(
        market=market,
        has_hours=has_hours,
        has_discount=has_values(orders, "discount"),
        brands_informative=brands,
    )


def growth_labels(
    labels: pl.DataFrame,
    events: pl.LazyFrame | None,
    reviews: pl.DataFrame | None,
    *,
    searches: pl.DataFrame | None = None,
    known: dict[int, bool] | None = None,
) -> pl.DataFrame:
    """The 5CM ladder per user (``c2m_cli.growth``): ``lifecycle_growth_1cm`` … ``_5cm`` (null where
    the workspace holds no evidence for that rung), ``lifecycle_growth_cm`` (highest rung reached)
    and ``lifecycle_growth_known_to`` (the highest rung this workspace can show at all).

    For a range of the users (``labels`` holding only them): ``searches`` gives the user_id of
    each of their searches instead of ``events``, and ``known`` which rungs the workspace as a
    whole can show (rung → bool, see ``_growth_evidence``): a rung known there is false, not
    unknown, for users of a range that holds no evidence of it."""
    from c2m_cli.growth import COLUMNS, user_rungs

    if searches is None and events is not None and {"user_id", "event"} <= set(events.collect_schema().names()):
        searches = events.filter(pl.col("event") == "search").select(pl.col("user_id").cast(pl.String)).collect()
    rungs, evidence = user_rungs(labels, searches=searches, reviews=reviews)
    levels = {level for level, why in evidence.missing.items() if why is None}
    if known is not None:
        fill = [COLUMNS[level - 1] for level, ok in sorted(known.items()) if ok and level not in levels]
        if fill:
            rungs = rungs.with_columns(pl.col(fill).fill_null(False))
        levels = {level for level, ok in known.items() if ok}
    known_to = f"{max(levels)}CM" if levels else "none"
    return rungs.rename({c: f"lifecycle_{c}" for c in rungs.columns if c != "user_id"}).with_columns(
        pl.lit(known_to).alias("lifecycle_growth_known_to")
    )


def compute_labels(
    *,
    orders: pl.LazyFrame,
    customers: pl.LazyFrame | pl.DataFrame | None,
    products: pl.LazyFrame | pl.DataFrame | None,
    events: pl.LazyFrame | pl.DataFrame | None,
    reviews: pl.LazyFrame | pl.DataFrame | None,
    timezone: str,
    market: str,
    as_of: dt.date | None,
    options: LabelOptions,
    workdir: Path,
    seed: int = 0,
    partition_rows: int = 2_000_000,
    executor: str = "local",
) -> dict[str, Any]:
    """Label every user: value is fitted and scored over everyone, the per-user families run
    partition by partition (users split by a stable hash, ``partition_rows`` order lines per
    partition) on the executor, then ranks (RFM, value tier, super users) and lifecycle are
    computed over the whole population. Results do not depend on the partitioning.
    ``market`` is the workspace's (``c2m_cli.market``): its calendar, and no other, places
    festivals and gift seasons. Returns the part files of labels and tags (in ``workdir``, in
    user_id order: see ``_assemble``), one summary row per user (``per_user``), the number of
    tags, the review sentiment table, the model and the ``warnings`` (a WarningLog)."""
    from c2m_cli import progress
    from c2m_cli.executor import get_executor

    log = WarningLog()
    lazy = lambda f: None if f is None else (f.lazy() if isinstance(f, pl.DataFrame) else f)  # noqa: E731
    customers_l, products_l, events_l, reviews_l = lazy(customers), lazy(products), lazy(events), lazy(reviews)
    if customers_l is not None and "user_id" not in customers_l.collect_schema().names():
        raise InvalidDataError("customers.parquet: missing required column user_id")
    lines, as_of = prepare_orders(orders, timezone, as_of)
    n_lines, timed = line_counts(lines)
    partitions = max(1, -(-n_lines // max(partition_rows, 1)))
    facts = data_facts(n_lines, timed, orders, products_l, market, log)

    def with_user(frame: pl.LazyFrame | None) -> pl.LazyFrame | None:
        if frame is None or "user_id" not in frame.collect_schema().names():
            return None
        return frame.with_columns(pl.col("user_id").cast(pl.String)).filter(pl.col("user_id").is_not_null())

    # the prepared lines are computed once, into the partitions; the passes over all users
    # (value, previous stage) read them back instead of preparing orders.parquet again
    with progress.task("label: order lines staged by user hash"):
        parts = {
            "lines": partition_files(lines, workdir / "lines", partitions),
            "customers": partition_files(c, workdir / "customers", partitions) if (c := with_user(customers_l)) is not None else {},
            "events": partition_files(e, workdir / "events", partitions) if (e := with_user(events_l)) is not None else {},
            "reviews": partition_files(r, workdir / "reviews", partitions) if (r := with_user(reviews_l)) is not None else {},
        }
    staged = pl.scan_parquet([path for k in sorted(parts["lines"]) for path in parts["lines"][k]], schema=LINE_SCHEMA | {ROW: pl.get_index_type()})
    purchases = staged.drop(ROW).filter(pl.col("is_purchase"))
    with progress.task("label: customer value (BG/NBD, Gamma-Gamma, CLV intervals)"):
        value, model, bg = value_labels(purchases, as_of, options, seed, log)
    products_path = None
    if products_l is not None:
        products_path = str(workdir / "products.parquet")
        products_l.sink_parquet(products_path, **STAGING)
    tasks = [
        PartitionTask(
            index=k,
            lines=parts["lines"].get(k, ()),
            customers=parts["customers"].get(k, ()),
            events=parts["events"].get(k, ()),
            reviews=parts["reviews"].get(k, ()),
            products=products_path,
            timezone=timezone,
            as_of=as_of,
            options=options,
            facts=facts,
            results=str(workdir / "results"),
            bgnbd=None if bg is None else (bg.r_, bg.alpha_, bg.a_, bg.b_),
        )
        for k in range(partitions)
    ]
    runner = get_executor(executor)
    try:
        with progress.task("label: partitions", len(tasks)):
            written = runner.map(label_partition_files, tasks, parallel=executor != "local")
    finally:
        runner.close()
    with progress.task("label: ranks, lifecycle and growth over everyone"):
        return _assemble(written, value, model, bg, facts, events_l, options, as_of, workdir, partitions, market, log)


# what the passes over everyone read of the partitions' per-user tables (one narrow row per user)
NARROW = (
    "user_id", "behavior_recency_days", "behavior_orders", "behavior_total_spend", "behavior_first_purchase",
    "behavior_purchase_days", "lifecycle_typical_gap_days", "lifecycle_gaps", "lifecycle_stretch",
    "_return_day", "_positive_reviews", "_signup_day", "_prev_stage", "geo_city_tier",
)


def _assemble(
    written: list[dict[str, str | None]],
    value: pl.DataFrame,
    model: dict[str, Any],
    bg: Any,
    facts: DataFacts,
    events: pl.LazyFrame | None,
    options: LabelOptions,
    as_of: dt.date,
    workdir: Path,
    partitions: int,
    market: str,
    log: WarningLog,
) -> dict[str, Any]:
    """The passes over everyone, on one narrow row per user (RFM and value ranks, lifecycle and
    the growth ladder's evidence); then labels.parquet and tags.parquet assembled range of users
    by range (sorted by user_id), each range read from every partition's result files and
    written to a part file of its own: memory holds one range of wide rows, not everyone."""
    user_files = [w["users"] for w in written if w["users"] is not None]
    tag_files = [w["tags"] for w in written if w["tags"] is not None]
    narrow = pl.concat([pl.read_parquet(path, columns=list(NARROW)) for path in user_files], how="vertical_relaxed").sort("user_id")
    if narrow.is_empty():
        raise InvalidDataError("orders.parquet: no user to label (no order line with a user_id on or before the as-of date)")
    sentiments = [pl.read_parquet(w["sentiment"]) for w in written if w["sentiment"] is not None]
    sentiment = None
    if sentiments:
        sentiment = pl.concat(sentiments, how="vertical_relaxed")
        sentiment = sentiment.sort(*[c for c in ("review_id", "user_id") if c in sentiment.columns], maintain_order=True)

    value = narrow.select("user_id").join(value, on="user_id", how="left")
    value = value.join(rfm_scores(narrow, value, options), on="user_id", how="left")
    life_in = narrow.select(
        "user_id", "behavior_recency_days", "behavior_first_purchase", "behavior_purchase_days",
        "lifecycle_typical_gap_days", "lifecycle_gaps", "lifecycle_stretch", "_return_day", "_positive_reviews", "_signup_day",
    ).join(value.select("user_id", "value_p_alive", "value_tier", "value_clv_percentile"), on="user_id", how="left")
    lifecycle = lifecycle_labels(life_in, options, as_of).join(
        narrow.select("user_id", pl.col("_prev_stage").alias("lifecycle_prev_stage")), on="user_id", how="left"
    )
    ranked = value.join(lifecycle, on="user_id", how="left")
    del value, life_in, lifecycle
    narrow = narrow.select("user_id", "geo_city_tier")  # the rest is in ``ranked`` now
    known = _growth_evidence(user_files, events, sentiment)
    bounds = range_bounds(narrow["user_id"], partitions)
    label_parts: list[str] = []
    tag_parts: list[str] = []
    tag_rows = 0
    out = workdir / "assembled"
    out.mkdir(parents=True, exist_ok=True)
    ids = ranked["user_id"]
    for r, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
        per_user = read_range(user_files, lo, hi).sort("user_id")
        first = 0 if lo is None else int(ids.search_sorted(lo, side="left"))
        last = ids.len() if hi is None else int(ids.search_sorted(hi, side="left"))
        labels = per_user.drop("lifecycle_typical_gap_days", "lifecycle_gaps", "lifecycle_stretch").join(
            ranked.slice(first, last - first), on="user_id", how="left"
        )
        searches = per_user.filter(pl.col("_searched").fill_null(False)).select("user_id")
        reviews = sentiment.filter(user_range(lo, hi)) if sentiment is not None else None
        labels = labels.join(growth_labels(labels, None, reviews, searches=searches, known=known), on="user_id", how="left")
        ordered = ["user_id"] + [c for prefix in FAMILY_ORDER for c in labels.columns if c.startswith(prefix)]
        label_parts.append(str(out / f"labels-{r:05d}.parquet"))
        labels.select(ordered).sort("user_id").write_parquet(label_parts[-1], **STAGING)
        tags = read_range(tag_files, lo, hi) if tag_files else pl.DataFrame(schema=TAG_SCHEMA)
        tags = tags.sort("user_id", "family", "score", "tag", descending=[False, False, True, False]).cast(TAG_SCHEMA)  # type: ignore[arg-type]
        tag_parts.append(str(out / f"tags-{r:05d}.parquet"))
        tags.write_parquet(tag_parts[-1], **STAGING)
        tag_rows += tags.height
    per_user_summary = ranked.select("user_id", "lifecycle_stage", "lifecycle_reactivated", "value_clv").with_columns(
        narrow["geo_city_tier"]
    )
    return {
        "labels": label_parts,
        "tags": tag_parts,
        "per_user": per_user_summary,
        "tag_rows": tag_rows,
        "value_model": _flat_model({**model, "partitions": partitions, "market": market}),
        "review_sentiment": sentiment,
        "as_of": as_of,
        "warnings": log,
    }


def _growth_evidence(user_files: list[str], events: pl.LazyFrame | None, sentiment: pl.DataFrame | None) -> dict[int, bool]:
    """Which rungs of the growth ladder the workspace as a whole can show (``growth.Evidence``
    over everyone): rung 1 from each partition's profile columns, 3–5 from the searches and
    reviews. A range of users without that evidence of its own still has these rungs known."""
    from c2m_cli.growth import user_rungs

    any_profile = False
    for path in user_files:
        names = pl.read_parquet_schema(path)
        profile = [c for c in names if c.split("_", 1)[0] in ("demo", "geo")]
        _, evidence = user_rungs(pl.read_parquet(path, columns=["user_id", *profile]))
        if evidence.missing[1] is None:
            any_profile = True
            break
    searches = False
    if events is not None and {"user_id", "event"} <= set(events.collect_schema().names()):
        searches = bool(events.filter(pl.col("event") == "search").select(pl.len()).collect(engine="streaming").item())
    reviews = sentiment is not None and "user_id" in sentiment.columns and sentiment.height > 0
    return {1: any_profile, 2: True, 3: reviews or searches, 4: reviews, 5: reviews}


def run_label(
    ws: Any,
    *,
    as_of: str | None = None,
    new_days: int = 30,
    active_days: int = 90,
    sleeping_days: int = 180,
    dormant_days: int = 365,
    rhythm_multiple: float = 2.0,
    rhythm_min_gaps: int = 3,
    rhythm_max_stretch: float = 3.0,
    p_alive_floor: float = 0.05,
    p_alive_keep: float = 0.5,
    loyal_orders: int = 4,
    super_share: float = 0.02,
    clv_months: int = 12,
    discount_rate: float = 0.10,
    margin: float = 1.0,
    clv_draws: int = 200,
    fit_sample: int = 100_000,
    tag_saturation: float = 3.0,
    min_tag_score: float = 0.5,
    partition_rows: int = 2_000_000,
    seed: int = 0,
    executor: str = "local",
    argv: list[str] | None = None,
    via: str | None = None,
) -> dict[str, Any]:
    """Label every user of the workspace; see the module docstring for the outputs."""
    from c2m_cli.executor import preload, usage_mark, usage_since
    from c2m_cli.labels import clv
    from c2m_cli.market import workspace_market

    preload(clv.FIT_MODULES, name="c2m-preload-scipy")  # the value models' SciPy, while the orders are read

    options = LabelOptions(
        new_days=new_days,
        active_days=active_days,
        sleeping_days=sleeping_days,
        dormant_days=dormant_days,
        rhythm_multiple=rhythm_multiple,
        rhythm_min_gaps=rhythm_min_gaps,
        rhythm_max_stretch=rhythm_max_stretch,
        p_alive_floor=p_alive_floor,
        p_alive_keep=p_alive_keep,
        loyal_orders=loyal_orders,
        super_share=super_share,
        clv_months=clv_months,
        discount_rate=discount_rate,
        margin=margin,
        clv_draws=clv_draws,
        fit_sample=fit_sample,
        tag_saturation=tag_saturation,
        min_tag_score=min_tag_score,
    )
    _validate(options)
    as_of_date = parse_as_of(as_of)
    if partition_rows < 1:
        raise UsageError("--partition-rows must be at least 1")
    parameters = {"as_of": as_of, **options.as_parameters(), "partition_rows": partition_rows, "executor": executor}
    manifest = ws.manifest()
    timezone = str(manifest.get("data_timezone") or "UTC")
    market = workspace_market(manifest)
    with ws.step("label", parameters=parameters, seed=seed, argv=argv, via=via) as step:
        orders = step.scan("orders")
        customers, products, events, reviews = (
            step.scan(name) if ws.has(name) else None for name in ("customers", "products", "events", "reviews")
        )
        mark = usage_mark()
        try:
            result = compute_labels(
                orders=orders,
                customers=customers,
                products=products,
                events=events,
                reviews=reviews,
                timezone=timezone,
                market=market,
                as_of=as_of_date,
                options=options,
                workdir=step.staging / "_partitions",
                seed=seed,
                partition_rows=partition_rows,
                executor=executor,
            )
        except (pl.exceptions.ComputeError, pl.exceptions.SchemaError, pl.exceptions.InvalidOperationError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise InvalidDataError(f"label: the workspace tables cannot be used as they are: {first}") from exc
        step.warnings.extend(result["warnings"])
        _write_parts(step, "labels", result["labels"])
        _write_parts(step, "tags", result["tags"])
        step.write_json("value_model.json", result["value_model"])
        if result["review_sentiment"] is not None:
            step.write_table("review_sentiment", result["review_sentiment"])
        else:
            step.remove_output("review_sentiment.parquet")
        summary = summarise(result["per_user"], result["tag_rows"], result["value_model"], result["as_of"], timezone)
        summary["market"] = market
        summary["executor"] = usage_since(mark)  # what ran where (not in any output file)
    return summary


def _write_parts(step: Any, name: str, parts: list[str]) -> None:
    """Stream the part files (in order) into the staged ``<name>.parquet``: the bytes
    ``write_parquet`` gives the whole table in memory up to ``ONE_ROW_GROUP`` rows (one row
    group), row groups of ``ROW_GROUP`` rows above, however the parts were cut."""
    import pyarrow.parquet as pq

    from c2m_cli import contract

    scan = pl.scan_parquet(parts)
    contract.validate_schema(name, scan.collect_schema(), writing=True)
    rows = sum(pq.ParquetFile(part).metadata.num_rows for part in parts)
    group = max(rows, 1) if rows <= ONE_ROW_GROUP else ROW_GROUP
    scan.sink_parquet(step.staged(f"{name}.parquet"), compression="zstd", statistics=True, row_group_size=group)


def _validate(options: LabelOptions) -> None:
    if not 0 < options.new_days <= options.active_days < options.sleeping_days < options.dormant_days:
        raise UsageError(
            "lifecycle thresholds must satisfy 0 < --new-days <= --active-days < --sleeping-days < --dormant-days"
        )
    if options.rhythm_min_gaps < 1 or options.rhythm_max_stretch < 1:
        raise UsageError("--rhythm-min-gaps must be at least 1 and --rhythm-max-stretch at least 1")
    if not 0 <= options.super_share <= 1:
        raise UsageError("--super-share must be between 0 and 1")
    if options.fit_sample < 2:
        raise UsageError("--fit-sample must be at least 2")
    if not 0 <= options.discount_rate < 10:
        raise UsageError(f"--discount-rate is an annual rate between 0 and 10 (0.10 = 10 %), got {options.discount_rate}")
    if not 0 < options.margin <= 1:
        raise UsageError(f"--margin is the share of revenue kept, in (0, 1], got {options.margin}")
    if options.clv_draws < 0:
        raise UsageError("--clv-draws must be at least 0 (0: no interval)")
    if options.tag_saturation <= 0 or not 0 <= options.min_tag_score < 1:
        raise UsageError("--tag-saturation must be > 0 and --min-tag-score in [0, 1)")


def summarise(labels: pl.DataFrame, tag_rows: int, model: dict[str, Any], as_of: dt.date, timezone: str) -> dict[str, Any]:
    """The --json summary from one row per user (user_id, lifecycle_stage, lifecycle_reactivated,
    value_clv, geo_city_tier) and the number of tags."""
    stages = labels["lifecycle_stage"].fill_null("never_bought").value_counts().sort("lifecycle_stage")
    bg = model.get("bgnbd") or {}
    gg = model.get("gamma_gamma") or {}
    return {
        "users": labels.height,
        "as_of": str(as_of),
        "data_timezone": timezone,
        "tags": tag_rows,
        "lifecycle": {row["lifecycle_stage"]: row["count"] for row in stages.iter_rows(named=True)},
        "reactivated": int(labels["lifecycle_reactivated"].sum()),
        "bgnbd": {k: round(v, 4) for k, v in bg.items() if k in ("r", "alpha", "a", "b")},
        "gamma_gamma": {k: round(v, 4) for k, v in gg.items() if k in ("p", "q", "v")},
        "mean_clv": None if labels["value_clv"].null_count() == labels.height else round(float(labels["value_clv"].mean()), 2),  # type: ignore[arg-type]
        "city_tier_known": int((labels["geo_city_tier"] != "unknown").sum()),
    }
