"""`c2m label`: the eight label families, lifecycle and customer value for every consumer.

Reads orders (required) and customers, products, events, reviews (optional); writes
``labels.parquet`` (one row per user in orders ∪ customers, ``user_id`` first, columns prefixed
by family), ``tags.parquet`` (long: user_id, family, tag, score, evidence),
``value_model.json`` (BG/NBD and Gamma-Gamma parameters, weeks) and, when there are reviews,
``review_sentiment.parquet`` (one sentiment score per review).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from c2m_cli.errors import InvalidDataError, UsageError
from c2m_cli.labels.base import LabelOptions, fx_sum, fx_value, parse_as_of, prepare_orders
from c2m_cli.labels.behavior import behavior_labels, purchase_rhythm
from c2m_cli.labels.demographics import demographics_labels
from c2m_cli.labels.geography import geography_labels
from c2m_cli.labels.lifecycle import lifecycle_labels
from c2m_cli.labels.occasion import occasion_labels
from c2m_cli.labels.text import (
    TAG_SCHEMA,
    behaviour_hits,
    score_tags,
    term_hits,
    text_documents,
    wide_tags,
)
from c2m_cli.labels.value import rfm_scores, value_labels

__all__ = ["LabelOptions", "compute_labels", "run_label"]

FAMILY_ORDER = ("geo_", "demo_", "value_", "occasion_", "behavior_", "motive_", "attitude_", "lifestyle_", "lifecycle_")


def _review_sentiment(reviews: pl.DataFrame | None) -> pl.DataFrame | None:
    if reviews is None or "text" not in reviews.columns or reviews.is_empty():
        return None
    from c2m_cli.labels.sentiment import load_model

    model = load_model()
    cols = [c for c in ("review_id", "user_id", "sku", "category", "rating") if c in reviews.columns]
    frame = reviews.select(*cols, pl.col("text").cast(pl.String).fill_null(""))
    unique = frame.select("text").unique().sort("text")
    unique = unique.with_columns(pl.Series("sentiment", model.predict_proba(unique["text"].to_list())).round(6))
    return frame.join(unique, on="text", how="left").drop("text")


def _flat_model(model: dict[str, Any]) -> dict[str, Any]:
    """DESIGN names r, alpha, a, b, p, q, v and the log-likelihood: also give them at the top level
    (null when a model could not be fitted); the nested blocks keep the details."""
    bg, gg = model.get("bgnbd") or {}, model.get("gamma_gamma") or {}
    flat = {k: bg.get(k) for k in ("r", "alpha", "a", "b")} | {k: gg.get(k) for k in ("p", "q", "v")}
    flat["log_likelihood"] = bg.get("log_likelihood")
    return {**model, **flat}


@dataclass(frozen=True)
class PartitionTask:
    """One partition of users (by a stable hash of user_id): the parquet files holding its rows."""

    index: int
    lines: tuple[str, ...]
    customers: tuple[str, ...]
    events: tuple[str, ...]
    reviews: tuple[str, ...]
    products: str | None
    timezone: str
    as_of: dt.date
    options: LabelOptions


def _read(paths: tuple[str, ...]) -> pl.DataFrame | None:
    """A partition's rows back in their original order (streaming sinks do not keep it, and
    float sums depend on it: the order is what makes outputs byte-identical)."""
    if not paths:
        return None
    return pl.read_parquet(list(paths)).sort(ROW).drop(ROW)


def label_partition(task: PartitionTask) -> dict[str, Any]:
    """Every per-user family for the users of one partition (pure: reads only ``task``'s files)."""
    options, as_of = task.options, task.as_of
    lines_df = _read(task.lines)
    lines = (lines_df if lines_df is not None else pl.DataFrame(schema=LINE_SCHEMA)).lazy()
    customers = _read(task.customers)
    products = pl.read_parquet(task.products) if task.products else None
    events_df = _read(task.events)
    events = events_df.lazy() if events_df is not None else None
    reviews = _read(task.reviews)
    if customers is not None and "signup_ts" in customers.columns:
        customers = customers.with_columns(
            _signup_day=pl.col("signup_ts").cast(pl.Datetime("us", "UTC")).dt.convert_time_zone(task.timezone).dt.date()
        )
    ids = [lines.select("user_id").unique().collect()]
    if customers is not None:
        ids.append(customers.select("user_id").unique())
    users = pl.concat(ids).unique().sort("user_id")

    behavior = users.join(behavior_labels(lines, products, as_of), on="user_id", how="left").with_columns(
        pl.col("behavior_orders", "behavior_purchase_days", "behavior_returns").fill_null(0),
        pl.col("behavior_total_spend").fill_null(0.0),
        pl.col("behavior_presale_buyer").fill_null(False),
    )
    occasion = users.join(occasion_labels(lines, as_of, options.festival_buyer_share), on="user_id", how="left")
    geo = geography_labels(users, customers, lines)
    demo = demographics_labels(users, customers.drop("_signup_day", strict=False) if customers is not None else None, as_of)

    sentiment = _review_sentiment(reviews)
    review_stats = None
    if sentiment is not None and "user_id" in sentiment.columns:
        positive = pl.col("sentiment") >= 0.6
        negative = pl.col("sentiment") < 0.4
        if "rating" in sentiment.columns:
            rating = pl.col("rating").cast(pl.Float64)
            positive = pl.when(rating.is_not_null()).then(rating >= 4).otherwise(positive)
            negative = pl.when(rating.is_not_null()).then(rating <= 2).otherwise(negative)
        review_stats = (
            sentiment.filter(pl.col("user_id").is_not_null())
            .with_columns(pl.col("user_id").cast(pl.String))
            .group_by("user_id")
            .agg(
                pl.len().alias("attitude_reviews"),
                fx_value(fx_sum(pl.col("sentiment")) / pl.len()).alias("attitude_sentiment"),
                positive.sum().alias("_positive_reviews"),
                negative.sum().alias("_negative_reviews"),
            )
        )
    view_counts = None
    if events is not None and "event" in events.collect_schema().names():
        view_counts = (
            events.filter(pl.col("event") == "view")
            .group_by(pl.col("user_id").cast(pl.String))
            .agg(pl.len().alias("_views"))
            .collect()
        )
    docs = text_documents(reviews, events, lines, products)
    hits = pl.concat([term_hits(docs), behaviour_hits(behavior, review_stats, view_counts, options.loyal_orders)])
    tags = score_tags(hits, options.tag_saturation)
    text_wide = wide_tags(users, tags, options.min_tag_score)
    if review_stats is not None:
        text_wide = text_wide.join(
            review_stats.select("user_id", "attitude_reviews", "attitude_sentiment"), on="user_id", how="left"
        ).with_columns(pl.col("attitude_reviews").fill_null(0))
    else:
        text_wide = text_wide.with_columns(
            attitude_reviews=pl.lit(0, pl.UInt32), attitude_sentiment=pl.lit(None, pl.Float64)
        )
    rhythm = purchase_rhythm(
        lines,
        as_of,
        active_days=options.active_days,
        sleeping_days=options.sleeping_days,
        rhythm_multiple=options.rhythm_multiple,
    )
    extra = users.join(rhythm, on="user_id", how="left").join(
        review_stats.select("user_id", "_positive_reviews")
        if review_stats is not None
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


LINE_SCHEMA = pl.Schema({  # type: ignore[arg-type]
    "user_id": pl.String, "order_id": pl.String, "sku": pl.String, "ts_local": pl.Datetime("us"),
    "qty": pl.Float64, "amount": pl.Float64, "status": pl.String, "is_presale": pl.Boolean,
    "is_discounted": pl.Boolean, "channel": pl.String, "province": pl.String, "city": pl.String,
    "day": pl.Date, "is_purchase": pl.Boolean, "is_return": pl.Boolean, "is_cancelled": pl.Boolean,
})
ROW = "_c2m_row"
HASH_SEED = 20240618  # fixed: the partition of a user never depends on --seed


def _partition_files(frame: pl.LazyFrame, directory: Path, partitions: int) -> dict[int, tuple[str, ...]]:
    """Stream ``frame`` into ``partitions`` sets of parquet files by a stable hash of user_id."""
    directory.mkdir(parents=True, exist_ok=True)
    frame = frame.with_row_index(ROW)
    if partitions == 1:
        frame.sink_parquet(directory / "part.parquet")
        return {0: (str(directory / "part.parquet"),)}
    keyed = frame.with_columns(
        _part=(pl.col("user_id").cast(pl.String).hash(HASH_SEED) % partitions).cast(pl.Int32)
    )
    keyed.sink_parquet(pl.PartitionBy(directory, key="_part", include_key=False))
    found: dict[int, tuple[str, ...]] = {}
    for k in range(partitions):
        found[k] = tuple(sorted(str(p) for p in (directory / f"_part={k}").glob("*.parquet")))
    return found


def compute_labels(
    *,
    orders: pl.LazyFrame,
    customers: pl.LazyFrame | pl.DataFrame | None,
    products: pl.LazyFrame | pl.DataFrame | None,
    events: pl.LazyFrame | pl.DataFrame | None,
    reviews: pl.LazyFrame | pl.DataFrame | None,
    timezone: str,
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
    computed over the whole population. Results do not depend on the partitioning."""
    from c2m_cli.executor import get_executor

    lazy = lambda f: None if f is None else (f.lazy() if isinstance(f, pl.DataFrame) else f)  # noqa: E731
    customers_l, products_l, events_l, reviews_l = lazy(customers), lazy(products), lazy(events), lazy(reviews)
    if customers_l is not None and "user_id" not in customers_l.collect_schema().names():
        raise InvalidDataError("customers.parquet: missing required column user_id")
    lines, as_of = prepare_orders(orders, timezone, as_of)
    n_lines = int(lines.select(pl.len()).collect(engine="streaming").item())
    partitions = max(1, -(-n_lines // max(partition_rows, 1)))

    value, model = value_labels(lines.filter(pl.col("is_purchase")), as_of, options, seed)

    def with_user(frame: pl.LazyFrame | None) -> pl.LazyFrame | None:
        if frame is None or "user_id" not in frame.collect_schema().names():
            return None
        return frame.with_columns(pl.col("user_id").cast(pl.String)).filter(pl.col("user_id").is_not_null())

    parts = {
        "lines": _partition_files(lines, workdir / "lines", partitions),
        "customers": _partition_files(c, workdir / "customers", partitions) if (c := with_user(customers_l)) is not None else {},
        "events": _partition_files(e, workdir / "events", partitions) if (e := with_user(events_l)) is not None else {},
        "reviews": _partition_files(r, workdir / "reviews", partitions) if (r := with_user(reviews_l)) is not None else {},
    }
    products_path = None
    if products_l is not None:
        products_path = str(workdir / "products.parquet")
        products_l.sink_parquet(products_path)
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
        )
        for k in range(partitions)
    ]
    runner = get_executor(executor)
    try:
        results = runner.map(label_partition, tasks, parallel=executor != "local")
    finally:
        runner.close()
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
        "lifecycle_typical_gap_days", "lifecycle_stretch", "_return_day", "_positive_reviews", "_signup_day",
    ).join(value.select("user_id", "value_p_alive", "value_tier", "value_clv_percentile"), on="user_id", how="left")
    lifecycle = lifecycle_labels(life_in, options, as_of)

    labels = per_user.drop("lifecycle_typical_gap_days", "lifecycle_stretch").join(value, on="user_id", how="left").join(
        lifecycle, on="user_id", how="left"
    )
    ordered = ["user_id"] + [c for prefix in FAMILY_ORDER for c in labels.columns if c.startswith(prefix)]
    labels = labels.select(ordered).sort("user_id")
    return {
        "labels": labels,
        "tags": tags.cast(TAG_SCHEMA),  # type: ignore[arg-type]
        "value_model": _flat_model({**model, "partitions": partitions}),
        "review_sentiment": sentiment,
        "as_of": as_of,
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
    p_alive_floor: float = 0.05,
    loyal_orders: int = 4,
    super_share: float = 0.02,
    clv_months: int = 12,
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
    options = LabelOptions(
        new_days=new_days,
        active_days=active_days,
        sleeping_days=sleeping_days,
        dormant_days=dormant_days,
        rhythm_multiple=rhythm_multiple,
        p_alive_floor=p_alive_floor,
        loyal_orders=loyal_orders,
        super_share=super_share,
        clv_months=clv_months,
        fit_sample=fit_sample,
        tag_saturation=tag_saturation,
        min_tag_score=min_tag_score,
    )
    _validate(options)
    as_of_date = parse_as_of(as_of)
    if partition_rows < 1:
        raise UsageError("--partition-rows must be at least 1")
    parameters = {"as_of": as_of, **options.as_parameters(), "partition_rows": partition_rows, "executor": executor}
    timezone = str(ws.manifest().get("data_timezone") or "UTC")
    with ws.step("label", parameters=parameters, seed=seed, argv=argv, via=via) as step:
        orders = step.scan("orders")
        customers, products, events, reviews = (
            step.scan(name) if ws.has(name) else None for name in ("customers", "products", "events", "reviews")
        )
        try:
            result = compute_labels(
                orders=orders,
                customers=customers,
                products=products,
                events=events,
                reviews=reviews,
                timezone=timezone,
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
        labels: pl.DataFrame = result["labels"]
        step.write_table("labels", labels)
        step.write_table("tags", result["tags"])
        step.write_json("value_model.json", result["value_model"])
        if result["review_sentiment"] is not None:
            step.write_table("review_sentiment", result["review_sentiment"])
        else:
            step.remove_output("review_sentiment.parquet")
        summary = summarise(labels, result["tags"], result["value_model"], result["as_of"], timezone)
    return summary


def _validate(options: LabelOptions) -> None:
    from c2m_cli.errors import UsageError

    if not 0 < options.new_days <= options.active_days < options.sleeping_days < options.dormant_days:
        raise UsageError(
            "lifecycle thresholds must satisfy 0 < --new-days <= --active-days < --sleeping-days < --dormant-days"
        )
    if not 0 <= options.super_share <= 1:
        raise UsageError("--super-share must be between 0 and 1")
    if options.fit_sample < 2:
        raise UsageError("--fit-sample must be at least 2")
    if options.tag_saturation <= 0 or not 0 <= options.min_tag_score < 1:
        raise UsageError("--tag-saturation must be > 0 and --min-tag-score in [0, 1)")


def summarise(labels: pl.DataFrame, tags: pl.DataFrame, model: dict[str, Any], as_of: dt.date, timezone: str) -> dict[str, Any]:
    stages = labels["lifecycle_stage"].value_counts().sort("lifecycle_stage")
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
