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
from pathlib import Path
from typing import Any

import polars as pl

from c2m_cli.diagnostics import WarningLog
from c2m_cli.errors import InvalidDataError, UsageError
from c2m_cli.labels.attitude import attitude_columns, behaviour_hits, review_sentiment, review_stats
from c2m_cli.labels.base import LabelOptions, has_values, parse_as_of, prepare_orders
from c2m_cli.labels.behavior import behavior_labels, brands_informative
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
    read_partition,
    read_results,
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
    per_user = users
    for part in (geo, demo, occasion, behavior, text_wide, extra):
        per_user = per_user.join(part, on="user_id", how="left")
    return {"users": per_user, "tags": tags, "sentiment": sentiment}


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
    labels: pl.DataFrame, events: pl.LazyFrame | None, reviews: pl.DataFrame | None
) -> pl.DataFrame:
    """The 5CM ladder per user (``c2m_cli.growth``): ``lifecycle_growth_1cm`` … ``_5cm`` (null where
    the workspace holds no evidence for that rung), ``lifecycle_growth_cm`` (highest rung reached)
    and ``lifecycle_growth_known_to`` (the highest rung this workspace can show at all)."""
    from c2m_cli.growth import user_rungs

    searches = None
    if events is not None and {"user_id", "event"} <= set(events.collect_schema().names()):
        searches = events.filter(pl.col("event") == "search").select(pl.col("user_id").cast(pl.String)).collect()
    rungs, evidence = user_rungs(labels, searches=searches, reviews=reviews)
    known_to = f"{evidence.known_to}CM" if evidence.known_to else "none"
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
    festivals and gift seasons. Returns the tables, the model and the ``warnings`` (a WarningLog)."""
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
    parts = {
        "lines": partition_files(lines, workdir / "lines", partitions),
        "customers": partition_files(c, workdir / "customers", partitions) if (c := with_user(customers_l)) is not None else {},
        "events": partition_files(e, workdir / "events", partitions) if (e := with_user(events_l)) is not None else {},
        "reviews": partition_files(r, workdir / "reviews", partitions) if (r := with_user(reviews_l)) is not None else {},
    }
    staged = pl.scan_parquet([path for k in sorted(parts["lines"]) for path in parts["lines"][k]], schema=LINE_SCHEMA | {ROW: pl.get_index_type()})
    purchases = staged.drop(ROW).filter(pl.col("is_purchase"))
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
        )
        for k in range(partitions)
    ]
    runner = get_executor(executor)
    try:
        written = runner.map(label_partition_files, tasks, parallel=executor != "local")
    finally:
        runner.close()
    results: list[dict[str, Any]] = [read_results(paths) for paths in written]
    per_user = pl.concat([r["users"] for r in results], how="vertical_relaxed").sort("user_id")
    if per_user.is_empty():
        raise InvalidDataError("orders.parquet: no user to label (no order line with a user_id on or before the as-of date)")
    tags = pl.concat([r["tags"] for r in results], how="vertical_relaxed").sort(
        "user_id", "family", "score", "tag", descending=[False, False, True, False]
    )
    sentiments = [r["sentiment"] for r in results if r["sentiment"] is not None]
    sentiment = None
    if sentiments:
        sentiment = pl.concat(sentiments, how="vertical_relaxed")
        sentiment = sentiment.sort(*[c for c in ("review_id", "user_id") if c in sentiment.columns], maintain_order=True)

    value = per_user.select("user_id").join(value, on="user_id", how="left")
    value = value.join(rfm_scores(per_user, value, options), on="user_id", how="left")
    life_in = per_user.select(
        "user_id", "behavior_recency_days", "behavior_first_purchase", "behavior_purchase_days",
        "lifecycle_typical_gap_days", "lifecycle_gaps", "lifecycle_stretch", "_return_day", "_positive_reviews", "_signup_day",
    ).join(value.select("user_id", "value_p_alive", "value_tier", "value_clv_percentile"), on="user_id", how="left")
    lifecycle = lifecycle_labels(life_in, options, as_of).join(
        previous_stage(purchases.select("user_id", "day"), options, as_of, bg.p_alive if bg is not None else None),
        on="user_id",
        how="left",
    )

    labels = per_user.drop("lifecycle_typical_gap_days", "lifecycle_gaps", "lifecycle_stretch").join(value, on="user_id", how="left").join(
        lifecycle, on="user_id", how="left"
    )
    labels = labels.join(growth_labels(labels, events_l, sentiment), on="user_id", how="left")
    ordered = ["user_id"] + [c for prefix in FAMILY_ORDER for c in labels.columns if c.startswith(prefix)]
    labels = labels.select(ordered).sort("user_id")
    return {
        "labels": labels,
        "tags": tags.cast(TAG_SCHEMA),  # type: ignore[arg-type]
        "value_model": _flat_model({**model, "partitions": partitions, "market": market}),
        "review_sentiment": sentiment,
        "as_of": as_of,
        "warnings": log,
    }


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
    from c2m_cli.executor import usage_mark, usage_since
    from c2m_cli.market import workspace_market

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
        labels: pl.DataFrame = result["labels"]
        step.write_table("labels", labels)
        step.write_table("tags", result["tags"])
        step.write_json("value_model.json", result["value_model"])
        if result["review_sentiment"] is not None:
            step.write_table("review_sentiment", result["review_sentiment"])
        else:
            step.remove_output("review_sentiment.parquet")
        summary = summarise(labels, result["tags"], result["value_model"], result["as_of"], timezone)
        summary["market"] = market
        summary["executor"] = usage_since(mark)  # what ran where (not in any output file)
    return summary


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


def summarise(labels: pl.DataFrame, tags: pl.DataFrame, model: dict[str, Any], as_of: dt.date, timezone: str) -> dict[str, Any]:
    stages = labels["lifecycle_stage"].fill_null("never_bought").value_counts().sort("lifecycle_stage")
    bg = model.get("bgnbd") or {}
    gg = model.get("gamma_gamma") or {}
    return {
        "users": labels.height,
        "as_of": str(as_of),
        "data_timezone": timezone,
        "tags": tags.height,
        "lifecycle": {row["lifecycle_stage"]: row["count"] for row in stages.iter_rows(named=True)},
        "reactivated": int(labels["lifecycle_reactivated"].sum()),
        "bgnbd": {k: round(v, 4) for k, v in bg.items() if k in ("r", "alpha", "a", "b")},
        "gamma_gamma": {k: round(v, 4) for k, v in gg.items() if k in ("p", "q", "v")},
        "mean_clv": None if labels["value_clv"].null_count() == labels.height else round(float(labels["value_clv"].mean()), 2),  # type: ignore[arg-type]
        "city_tier_known": int((labels["geo_city_tier"] != "unknown").sum()),
    }
