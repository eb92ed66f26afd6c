"""What each section of the report shows, gathered from the workspace into plain dicts.

One ``gather_<section>`` per section reads what the earlier steps wrote (through the running
``Step``, so the manifest records the report's inputs) and returns a dict of plain values; a
section whose inputs are absent returns ``{"missing": command}`` so the report says which command
to run. The computations (histograms, coverage, uplift, trends) are pure functions over polars
frames, tested on their own. Nothing here holds a user id unless ``include_ids`` asks for it.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import polars as pl

from c2m_cli.errors import InvalidDataError
from c2m_cli.workspace import Step, Workspace

CANONICAL = ("orders", "customers", "products", "events", "reviews")
FAMILIES = ("geo", "demo", "value", "occasion", "behavior", "motive", "attitude", "lifestyle")
STAGES = ("new", "active", "sleeping", "dormant", "lost")
PREV_STAGE_COLUMNS = ("lifecycle_stage_prev", "lifecycle_prev_stage", "previous_lifecycle_stage", "lifecycle_from")
NOT_SOLD = ("cancelled", "returned")
MAX_TABLE_ROWS = 30
IDS_PER_AUDIENCE = 50
SERIES_PER_LEVEL = 3
QUOTES = 3


@dataclass
class Context:
    ws: Workspace
    step: Step
    lang: str
    data_lang: str
    timezone: str
    include_ids: bool = False


def _first(columns: list[str] | pl.DataFrame, candidates: tuple[str, ...]) -> str | None:
    names = columns.columns if isinstance(columns, pl.DataFrame) else columns
    return next((c for c in candidates if c in names), None)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def read_table(ctx: Context, name: str) -> pl.DataFrame | None:
    """A step's table if present, recorded as an input; an unreadable file is invalid data."""
    try:
        return ctx.step.read_optional(name)
    except (pl.exceptions.ComputeError, OSError) as exc:  # a corrupt Parquet file
        raise InvalidDataError(f"{ctx.ws.table_path(name)}: not a readable Parquet file ({exc})") from exc


def require_columns(frame: pl.DataFrame, name: str, columns: tuple[str, ...]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InvalidDataError(f"{name}.parquet lacks column(s) {', '.join(missing)} needed by the report")


def local_ts(tz: str) -> pl.Expr:
    return pl.col("ts").dt.convert_time_zone(tz)


def sold_orders(orders: pl.LazyFrame) -> pl.LazyFrame:
    """Order lines that count as sales: not cancelled, not returned."""
    if "status" in orders.collect_schema().names():
        return orders.filter(pl.col("status").is_null() | ~pl.col("status").is_in(NOT_SOLD))
    return orders


# -- pure computations -------------------------------------------------------------------------


def _informative(column: str, dtype: pl.DataType) -> pl.Expr:
    value = pl.col(column)
    if dtype == pl.String:
        return value.is_not_null() & ~value.str.to_lowercase().is_in(["", "unknown", "未知"])
    if dtype.is_numeric():
        return value.is_not_null() & (value != 0)
    if isinstance(dtype, pl.List):
        return value.list.len() > 0
    return value.is_not_null()


def family_coverage(labels: pl.DataFrame) -> list[dict[str, Any]]:
    """Per label family: its columns and the share of users with at least one informative value
    in them (not null, not "unknown"/未知, not a zero score, not an empty tag list)."""
    rows = []
    for family in FAMILIES:
        columns = [c for c in labels.columns if c.startswith(f"{family}_")]
        if columns and labels.height:
            known = (_informative(c, labels.schema[c]) for c in columns)
            covered = labels.select(pl.any_horizontal(known).fill_null(False).mean()).item()
        else:
            covered = 0.0
        rows.append({"family": family, "columns": len(columns), "coverage": float(covered or 0.0)})
    return rows


def stage_counts(labels: pl.DataFrame) -> list[dict[str, Any]]:
    """Users, share, total and share of CLV, mean P(alive) per lifecycle stage, in funnel order."""
    total = labels.height
    value = "value_clv" if "value_clv" in labels.columns else None
    alive = "value_p_alive" if "value_p_alive" in labels.columns else None
    grouped = labels.group_by("lifecycle_stage").agg(
        pl.len().alias("count"),
        (pl.col(value).sum() if value else pl.lit(None, pl.Float64)).alias("clv"),
        (pl.col(alive).mean() if alive else pl.lit(None, pl.Float64)).alias("p_alive"),
    )
    clv_total = float(labels[value].sum()) if value else 0.0
    by_stage = {row["lifecycle_stage"]: row for row in grouped.iter_rows(named=True)}
    order = list(STAGES) + sorted(str(s) for s in by_stage if s not in STAGES and s is not None)
    out = []
    for stage in order:
        row = by_stage.get(stage, {"count": 0, "clv": None, "p_alive": None})
        out.append(
            {
                "stage": stage,
                "count": int(row["count"]),
                "share": row["count"] / total if total else 0.0,
                "clv": _float(row["clv"]),
                "clv_share": (row["clv"] / clv_total) if (value and clv_total and row["clv"] is not None) else None,
                "p_alive": _float(row["p_alive"]),
            }
        )
    return out


def stage_flows(labels: pl.DataFrame, previous: str) -> list[dict[str, Any]]:
    """Counts of users by (previous stage, current stage)."""
    flows = (
        labels.group_by(previous, "lifecycle_stage")
        .agg(pl.len().alias("count"))
        .sort(previous, "lifecycle_stage", nulls_last=True)
    )
    return [
        {"from": row[previous], "to": row["lifecycle_stage"], "count": int(row["count"])}
        for row in flows.iter_rows(named=True)
    ]


def bin_index(expr: pl.Expr, edges: list[float]) -> pl.Expr:
    """The bin of each value for equally spaced ``edges`` (left-closed; outside → first/last)."""
    step = edges[1] - edges[0]
    last = len(edges) - 2
    return ((expr - edges[0]) / step + 1e-9).floor().clip(0, last).cast(pl.Int64)


def value_histogram(values: pl.Series, bins: int = 10) -> list[dict[str, Any]]:
    """Equal-width bins from 0 (or the minimum) to the 99th percentile; the last bin is open.

    Every non-null value falls in exactly one bin, so the counts add up to the users valued.
    """
    from c2m_cli.report.charts import nice_ticks

    clean = values.cast(pl.Float64).drop_nulls().drop_nans()
    if clean.len() == 0:
        return []
    low = min(0.0, float(clean.min()))  # type: ignore[arg-type]
    high = float(clean.quantile(0.99) or 0.0)
    if high <= low:
        high = float(clean.max()) if float(clean.max()) > low else low + 1.0  # type: ignore[arg-type]
    edges = nice_ticks(low, high, bins)
    index = (
        clean.to_frame("v")
        .with_columns(
            bin_index(pl.col("v"), edges).alias("bin")
        )
        .group_by("bin")
        .agg(pl.len().alias("count"))
    )
    counts = dict(zip(index["bin"].to_list(), index["count"].to_list(), strict=True))
    out = []
    for i in range(len(edges) - 1):
        out.append(
            {"low": edges[i], "high": edges[i + 1], "open": i == len(edges) - 2, "count": int(counts.get(i, 0))}
        )
    return out


def top_share(values: pl.Series, fraction: float = 0.1) -> float | None:
    """Share of the total held by the top ``fraction`` of the values."""
    clean = values.cast(pl.Float64).drop_nulls().drop_nans()
    total = float(clean.sum()) if clean.len() else 0.0
    if clean.len() == 0 or total <= 0:
        return None
    top = max(1, int(round(clean.len() * fraction)))
    return float(clean.sort(descending=True).head(top).sum()) / total


def daily_units(orders: pl.LazyFrame, tz: str) -> pl.DataFrame:
    """Units sold per local calendar day, with days without sales as zero."""
    per_day = (
        sold_orders(orders)
        .group_by(local_ts(tz).dt.date().alias("date"))
        .agg(pl.col("qty").sum().alias("units"))
        .collect()
    )
    if per_day.height == 0:
        return pl.DataFrame(schema={"date": pl.Date, "units": pl.Float64})
    days = pl.DataFrame({"date": pl.date_range(cast(dt.date, per_day["date"].min()), cast(dt.date, per_day["date"].max()), "1d", eager=True)})
    return days.join(per_day, on="date", how="left").with_columns(pl.col("units").fill_null(0.0).cast(pl.Float64))


def festival_uplift(daily: pl.DataFrame, calendar: pl.DataFrame, baseline_days: int = 28) -> pl.DataFrame:
    """Mean daily units during each festival ÷ mean over the ``baseline_days`` before it.

    Festival days inside the baseline window are left out of it; only festivals whose whole
    window and baseline lie inside the data are measured.
    """
    schema = {"festival": pl.String, "year": pl.Int32, "start": pl.Date, "uplift": pl.Float64}
    if daily.height == 0:
        return pl.DataFrame(schema=schema)
    first, last = daily["date"].min(), daily["date"].max()
    occurrences = calendar.filter(
        (pl.col("start") - pl.duration(days=baseline_days) >= first) & (pl.col("end") <= last)
    ).select("festival", "year", "start", "end")
    if occurrences.height == 0:
        return pl.DataFrame(schema=schema)
    festive_days = (
        calendar.select(pl.date_ranges("start", "end", interval="1d").alias("date")).explode("date").unique()
    )
    keys = ["festival", "year", "start"]
    during = (
        occurrences.with_columns(pl.date_ranges("start", "end", interval="1d").alias("date"))
        .explode("date")
        .join(daily, on="date", how="inner")
        .group_by(keys)
        .agg(pl.col("units").mean().alias("during"))
    )
    quiet = daily.join(festive_days, on="date", how="anti")
    before = (
        occurrences.with_columns(
            pl.date_ranges(
                pl.col("start") - pl.duration(days=baseline_days),
                pl.col("start") - pl.duration(days=1),
                interval="1d",
            ).alias("date")
        )
        .explode("date")
        .join(quiet, on="date", how="inner")
        .group_by(keys)
        .agg(pl.col("units").mean().alias("before"))
    )
    return (
        during.join(before, on=["festival", "year", "start"], how="inner")
        .filter(pl.col("before") > 0)
        .select(
            "festival",
            pl.col("year").cast(pl.Int32),
            "start",
            (pl.col("during") / pl.col("before")).alias("uplift"),
        )
        .sort("start", "festival")
    )


def period_start(expr: pl.Expr, freq: str) -> pl.Expr:
    """The first day of the period (D, W from Monday, M) holding each date."""
    if freq == "W":
        return expr.dt.truncate("1w")
    if freq == "M":
        return expr.dt.truncate("1mo")
    return expr


def search_sales_trend(
    events: pl.LazyFrame | None,
    orders: pl.LazyFrame,
    products: pl.DataFrame | None,
    category: str,
    tz: str,
) -> list[dict[str, Any]]:
    """Weekly searches and units for one category, each indexed to its own mean (= 100)."""
    cat_cols = [c for c in ("category_l1", "category_l2", "category_l3") if products is not None and c in products.columns]
    skus = (
        products.filter(pl.any_horizontal(pl.col(c) == category for c in cat_cols)).select("sku")
        if products is not None and cat_cols
        else pl.DataFrame(schema={"sku": pl.String})
    )
    sales = (
        sold_orders(orders)
        .join(skus.lazy(), on="sku", how="semi")
        .group_by(local_ts(tz).dt.date().dt.truncate("1w").alias("week"))
        .agg(pl.col("qty").sum().alias("sales"))
        .collect()
    )
    searches = pl.DataFrame(schema={"week": pl.Date, "searches": pl.UInt32})
    if events is not None:
        names = events.collect_schema().names()
        match = pl.lit(False)
        if "category" in names:
            match = match | (pl.col("category") == category)
        if "query" in names:
            match = match | pl.col("query").str.contains(category, literal=True).fill_null(False)
        if "sku" in names:
            match = match | pl.col("sku").is_in(skus["sku"].implode())
        searches = (
            events.filter((pl.col("event") == "search") & match.fill_null(False))
            .group_by(local_ts(tz).dt.date().dt.truncate("1w").alias("week"))
            .agg(pl.len().alias("searches"))
            .collect()
        )
    trend = sales.join(searches, on="week", how="full", coalesce=True).sort("week")
    if trend.height == 0:
        return []
    trend = trend.with_columns(pl.col("sales", "searches").cast(pl.Float64).fill_null(0.0))
    trend = trend.with_columns(
        (pl.col(c) / pl.col(c).mean() * 100).alias(f"{c}_index") for c in ("sales", "searches")
    )
    return [
        {
            "week": row["week"].isoformat(),
            "searches": row["searches_index"] if row["searches_index"] == row["searches_index"] else None,
            "sales": row["sales_index"] if row["sales_index"] == row["sales_index"] else None,
        }
        for row in trend.iter_rows(named=True)
    ]


def price_histogram(orders: pl.LazyFrame, skus: pl.DataFrame, bins: int = 12) -> list[dict[str, Any]]:
    """Units sold by unit-price bin for the given SKUs."""
    from c2m_cli.report.charts import nice_ticks

    lines = sold_orders(orders).join(skus.lazy(), on="sku", how="semi").select("unit_price", "qty").collect()
    prices = lines["unit_price"].drop_nulls()
    if prices.len() == 0:
        return []
    low = float(prices.quantile(0.01) or 0.0)
    high = float(prices.quantile(0.99) or 0.0)
    edges = nice_ticks(low, high if high > low else low + 1.0, bins)
    binned = (
        lines.with_columns(
            bin_index(pl.col("unit_price"), edges).alias("bin")
        )
        .group_by("bin")
        .agg(pl.col("qty").sum().alias("units"))
    )
    units = dict(zip(binned["bin"].to_list(), binned["units"].to_list(), strict=True))
    return [
        {"low": edges[i], "high": edges[i + 1], "units": float(units.get(i, 0.0))} for i in range(len(edges) - 1)
    ]


# -- sections ----------------------------------------------------------------------------------


def gather_overview(ctx: Context) -> dict[str, Any]:
    ws = ctx.ws
    tables = []
    for name in ws.tables():
        rows = int(pl.scan_parquet(ws.table_path(name)).select(pl.len()).collect().item())
        tables.append({"table": name, "rows": rows, "canonical": name in CANONICAL})
    tables.sort(key=lambda r: (not r["canonical"], CANONICAL.index(r["table"]) if r["canonical"] else 0, r["table"]))
    rejects = []
    reject_dir = ws.root / "_rejects"
    for path in sorted(reject_dir.glob("*.parquet")) if reject_dir.is_dir() else []:
        frame = pl.read_parquet(path)
        reason = _first(frame, ("reason", "error", "cause"))
        column = _first(frame, ("column", "field"))
        keys = [c for c in (column, reason) if c]
        why: list[dict[str, Any]] = []
        if keys and frame.height:
            grouped = frame.group_by(keys).agg(pl.len().alias("rows")).sort(["rows", *keys], descending=[True] + [False] * len(keys))
            why = [
                {"column": row.get(column) if column else None, "reason": row.get(reason) if reason else None, "rows": int(row["rows"])}
                for row in grouped.head(10).iter_rows(named=True)
            ]
        rejects.append({"table": path.stem, "rows": frame.height, "why": why})
    steps = [
        {
            "command": s.get("command"),
            "version": s.get("c2m_version"),
            "seed": s.get("seed"),
            "via": s.get("via"),
            "outputs": ", ".join(f"{o.get('path')} ({o.get('rows')})" if o.get("rows") is not None else str(o.get("path")) for o in s.get("outputs", [])),
        }
        for s in ws.manifest().get("steps", [])
        # earlier reports and wall times are left out: the page must not change when only they do
        if s.get("command") != "report"
    ]
    out: dict[str, Any] = {"tables": tables, "rejects": rejects, "steps": steps, "timezone": ctx.timezone}
    if not ws.has("orders"):
        out["missing"] = "orders"
        return out
    orders = ctx.step.scan("orders")
    names = orders.collect_schema().names()
    require = [c for c in ("ts", "qty", "unit_price", "user_id", "sku") if c not in names]
    if require:
        raise InvalidDataError(f"orders.parquet lacks column(s) {', '.join(require)} needed by the report")
    stats = (
        orders.select(
            local_ts(ctx.timezone).min().dt.date().alias("first"),
            local_ts(ctx.timezone).max().dt.date().alias("last"),
            pl.col("user_id").n_unique().alias("users"),
            pl.col("sku").n_unique().alias("skus"),
            pl.len().alias("lines"),
        )
        .collect()
        .row(0, named=True)
    )
    revenue = sold_orders(orders).select((pl.col("qty") * pl.col("unit_price")).sum()).collect().item()
    weekly = (
        orders.group_by(local_ts(ctx.timezone).dt.date().dt.truncate("1w").alias("week"))
        .agg(pl.len().alias("lines"))
        .sort("week")
        .collect()
    )
    out.update(
        first=stats["first"].isoformat() if stats["first"] else None,
        last=stats["last"].isoformat() if stats["last"] else None,
        users=int(stats["users"]),
        skus=int(stats["skus"]),
        lines=int(stats["lines"]),
        revenue=float(revenue or 0.0),
        weekly=[{"week": w.isoformat(), "lines": int(n)} for w, n in weekly.iter_rows()],
    )
    return out


def gather_consumers(ctx: Context) -> dict[str, Any]:
    labels = read_table(ctx, "labels")
    if labels is None:
        return {"missing": "labels"}
    require_columns(labels, "labels", ("user_id", "lifecycle_stage"))
    out: dict[str, Any] = {
        "users": labels.height,
        "coverage": family_coverage(labels),
        "stages": stage_counts(labels),
    }
    previous = _first(labels, PREV_STAGE_COLUMNS)
    out["flows"] = stage_flows(labels, previous) if previous else None
    if "value_clv" in labels.columns:
        clv = labels["value_clv"]
        out["value"] = {
            "histogram": value_histogram(clv),
            "total": float(clv.sum() or 0.0),
            "median": _float(clv.median()),
            "top10_share": top_share(clv),
        }
    return out


def gather_segments(ctx: Context) -> dict[str, Any]:
    profiles = read_table(ctx, "segment_profiles")
    if profiles is None:
        return {"missing": "segment_profiles"}
    require_columns(profiles, "segment_profiles", ("segment_id", "segment_name", "size"))
    value_share = _first(profiles, ("value_share", "clv_share"))
    shares: dict[Any, float] = {}
    if value_share is None and ctx.ws.has("segments") and ctx.ws.has("labels"):
        segments = read_table(ctx, "segments")
        labels = read_table(ctx, "labels")
        if segments is not None and labels is not None and "value_clv" in labels.columns:
            joined = segments.join(labels.select("user_id", "value_clv"), on="user_id", how="left")
            total = float(joined["value_clv"].sum() or 0.0)
            if total > 0:
                per = joined.group_by("segment_id").agg(pl.col("value_clv").sum())
                shares = {k: float(v) / total for k, v in per.iter_rows()}
    describe = _first(profiles, ("description", "portrait", "summary", "segment_description"))
    action = _first(profiles, ("suggested_action", "action", "recommended_action"))
    tags = _first(profiles, ("top_tags", "tags"))
    z_columns = [c for c in profiles.columns if c.startswith("z_") or c.endswith("_z") or c.endswith("_zscore")]
    total_size = float(profiles["size"].sum() or 0)
    cards = []
    for row in profiles.sort("size", "segment_id", descending=[True, False]).iter_rows(named=True):
        pairs: list[tuple[str | None, Any]] = [(_feature_name(c), row[c]) for c in z_columns]
        if isinstance(row.get("features"), list):  # long form: [{feature, z, …}]
            pairs += [(f.get("feature"), f.get("z")) for f in row["features"] if isinstance(f, dict)]
        zs = sorted(
            ((str(f), float(z)) for f, z in pairs if isinstance(z, int | float) and z == z and f is not None),
            key=lambda item: (-abs(item[1]), item[0]),
        )[:5]
        tag_value = row[tags] if tags else None
        if isinstance(tag_value, str):
            tag_text = tag_value
            try:
                parsed = json.loads(tag_text)
                tag_value = parsed if isinstance(parsed, list) else [tag_text]
            except json.JSONDecodeError:
                tag_value = [t.strip() for t in tag_text.replace("，", ",").split(",") if t.strip()]
        cards.append(
            {
                "id": row["segment_id"],
                "name": row["segment_name"],
                "size": int(row["size"]),
                "share": _float(row.get("share")) if "share" in row else (row["size"] / total_size if total_size else None),
                "value_share": _float(row[value_share]) if value_share else shares.get(row["segment_id"]),
                "description": row[describe] if describe else None,
                "action": row[action] if action else None,
                "tags": [str(t) for t in (tag_value or [])][:8],
                "portrait": [{"feature": f, "z": z} for f, z in zs],
            }
        )
    return {"cards": cards}


def _feature_name(column: str) -> str:
    for prefix in ("z_",):
        if column.startswith(prefix):
            return column[len(prefix) :]
    for suffix in ("_zscore", "_z"):
        if column.endswith(suffix):
            return column[: -len(suffix)]
    return column


def _forecast_freq(ctx: Context, forecast: pl.DataFrame) -> str:
    for step in reversed(ctx.ws.manifest().get("steps", [])):
        if step.get("command") == "forecast" and step.get("parameters", {}).get("freq") in ("D", "W", "M"):
            return str(step["parameters"]["freq"])
    days = forecast.select(pl.col("ds").unique().sort().diff().dt.total_days().median()).item()
    if days is None or days <= 1:
        return "D"
    return "W" if days <= 7 else "M"


def history_series(
    orders: pl.LazyFrame, products: pl.DataFrame | None, level: str, uids: list[str], freq: str, tz: str
) -> pl.DataFrame | None:
    """Units sold per period and series for a forecast level (total, sku or a product column)."""
    lines = sold_orders(orders).with_columns(period_start(local_ts(tz).dt.date(), freq).alias("ds"))
    if level == "total":
        keyed = lines.with_columns(pl.lit("total").alias("unique_id"))
    elif level == "sku":
        keyed = lines.with_columns(pl.col("sku").cast(pl.String).alias("unique_id"))
    elif products is not None and level in products.columns:
        keyed = lines.join(
            products.lazy().select("sku", pl.col(level).cast(pl.String).alias("unique_id")), on="sku", how="inner"
        )
    else:
        return None
    return (
        keyed.filter(pl.col("unique_id").is_in(uids))
        .group_by("unique_id", "ds")
        .agg(pl.col("qty").sum().alias("y"))
        .collect()
    )


def gather_demand(ctx: Context) -> dict[str, Any]:
    forecast = read_table(ctx, "forecast")
    if forecast is None:
        return {"missing": "forecast"}
    require_columns(forecast, "forecast", ("level", "unique_id", "ds", "model", "y_hat"))
    forecast = forecast.with_columns(pl.col("ds").cast(pl.Date), pl.col("unique_id").cast(pl.String))
    freq = _forecast_freq(ctx, forecast)
    chosen = forecast.filter(pl.col("model") == "selected")
    if chosen.height == 0:
        chosen = forecast.filter(pl.col("model") == forecast["model"].min())
    backtest = read_table(ctx, "backtest")
    orders = ctx.step.scan("orders") if ctx.ws.has("orders") else None
    products = read_table(ctx, "products")
    names = _sku_names(products)
    level_order = ["total"] + sorted(lv for lv in chosen["level"].unique().to_list() if lv != "total")
    charts = []
    for level in level_order:
        if level not in chosen["level"].to_list():
            continue
        part = chosen.filter(pl.col("level") == level)
        top = (
            part.group_by("unique_id")
            .agg(pl.col("y_hat").sum())
            .sort(["y_hat", "unique_id"], descending=[True, False])
            .head(SERIES_PER_LEVEL)["unique_id"]
            .to_list()
        )
        history = history_series(orders, products, level, top, freq, ctx.timezone) if orders is not None else None
        if history is not None and backtest is not None and not _agrees(history, backtest, level):
            history = None
        if history is None and backtest is not None and {"y", "ds"} <= set(backtest.columns):
            history = (
                backtest.filter(pl.col("level") == level)
                .with_columns(pl.col("ds").cast(pl.Date), pl.col("unique_id").cast(pl.String))
                .filter(pl.col("unique_id").is_in(top))
                .group_by("unique_id", "ds")
                .agg(pl.col("y").first())
            )
        for uid in top:
            series = part.filter(pl.col("unique_id") == uid).sort("ds")
            start = series["ds"].min()
            past: list[dict[str, Any]] = []
            if history is not None:
                keep = {"D": 90, "W": 52, "M": 24}[freq]
                hist = history.filter((pl.col("unique_id") == uid) & (pl.col("ds") < start)).sort("ds").tail(keep)
                past = [{"ds": d.isoformat(), "y": float(y)} for d, y in hist.select("ds", "y").iter_rows()]
            future = []
            for row in series.iter_rows(named=True):
                future.append(
                    {
                        "ds": row["ds"].isoformat(),
                        "p50": _float(row.get("q0.5", row["y_hat"])) if row.get("q0.5") is not None else float(row["y_hat"]),
                        "lo80": _float(row.get("q0.1")),
                        "hi80": _float(row.get("q0.9")),
                        "lo90": _float(row.get("q0.05")),
                        "hi90": _float(row.get("q0.95")),
                    }
                )
            label = names.get(uid, uid) if level == "sku" else uid
            charts.append({"level": level, "unique_id": uid, "label": label, "history": past, "forecast": future})
    out: dict[str, Any] = {"freq": freq, "charts": charts, "accuracy": _accuracy(read_table(ctx, "forecast_metrics"))}
    out["festivals"] = None
    if ctx.data_lang == "zh" and orders is not None:
        from c2m_cli.calendar import festival_calendar

        uplift = festival_uplift(daily_units(orders, ctx.timezone), festival_calendar("cn"))
        out["festivals"] = [
            {"festival": f, "year": int(y), "uplift": float(u)} for f, y, _s, u in uplift.iter_rows()
        ]
    return out


def _agrees(history: pl.DataFrame, backtest: pl.DataFrame, level: str) -> bool:
    """Whether units from orders match the forecast's own actuals (else its y is a different measure)."""
    if not {"y", "ds", "level", "unique_id"} <= set(backtest.columns):
        return True
    actual = (
        backtest.filter(pl.col("level") == level)
        .with_columns(pl.col("ds").cast(pl.Date), pl.col("unique_id").cast(pl.String))
        .group_by("unique_id", "ds")
        .agg(pl.col("y").first().alias("y_bt"))
    )
    both = history.join(actual, on=["unique_id", "ds"], how="inner")
    if both.height == 0:
        return True
    gap = both.select((pl.col("y") - pl.col("y_bt")).abs().sum() / pl.col("y_bt").abs().sum().clip(1e-9)).item()
    return bool(gap is not None and gap <= 0.05)


def _accuracy(metrics: pl.DataFrame | None) -> list[dict[str, Any]] | None:
    """Per level: the selected model's aggregate metrics beside the seasonal naive baseline's."""
    if metrics is None:
        return None
    require_columns(metrics, "forecast_metrics", ("level", "unique_id", "model", "metric", "value"))
    agg = metrics.filter(pl.col("unique_id").cast(pl.String) == "*")
    models = agg["model"].unique().to_list()
    baseline = next(
        (m for m in sorted(models) if "naive" in m.lower() and "season" in m.lower()),
        next((m for m in sorted(models) if "naive" in m.lower()), None),
    )
    rows = []
    for level in ["total"] + sorted(lv for lv in agg["level"].unique().to_list() if lv != "total"):
        part = agg.filter(pl.col("level") == level)
        if part.height == 0:
            continue

        def value(model: str | None, metric: str, part: pl.DataFrame = part) -> float | None:
            if model is None:
                return None
            hit = part.filter((pl.col("model") == model) & (pl.col("metric") == metric))["value"]
            return float(hit[0]) if hit.len() and hit[0] is not None else None

        selected = "selected" if "selected" in models else None
        wape, base = value(selected, "WAPE"), value(baseline, "WAPE")
        rows.append(
            {
                "level": level,
                "baseline_model": baseline,
                "wape": wape,
                "wape_baseline": base,
                "mase": value(selected, "MASE"),
                "mase_baseline": value(baseline, "MASE"),
                "improvement": (1 - wape / base) if (wape is not None and base) else None,
                "coverage_80": value(selected, "coverage_80"),
                "coverage_90": value(selected, "coverage_90"),
            }
        )
    return rows


def _sku_names(products: pl.DataFrame | None) -> dict[str, str]:
    if products is None or "name" not in products.columns:
        return {}
    frame = products.select(pl.col("sku").cast(pl.String), pl.col("name").cast(pl.String)).drop_nulls()
    return dict(frame.iter_rows())


def gather_opportunities(ctx: Context) -> dict[str, Any]:
    opportunities = read_table(ctx, "opportunities")
    if opportunities is None:
        return {"missing": "opportunities"}
    require_columns(opportunities, "opportunities", ("opportunity_id", "rank", "kind", "category", "subject", "evidence", "score"))
    top = opportunities.sort("rank", "opportunity_id").head(MAX_TABLE_ROWS)
    orders = ctx.step.scan("orders") if ctx.ws.has("orders") else None
    events = ctx.step.scan("events") if ctx.ws.has("events") else None
    products = read_table(ctx, "products")
    reviews = read_table(ctx, "reviews")
    rows = []
    for i, row in enumerate(top.iter_rows(named=True)):
        item = {
            "id": row["opportunity_id"],
            "rank": row["rank"],
            "kind": row["kind"],
            "category": row["category"],
            "sku": row.get("sku"),
            "subject": row["subject"],
            "evidence": row["evidence"],
            "score": _float(row["score"]),
        }
        if i < 5:
            item["charts"] = _opportunity_evidence(row, orders, events, products, reviews, ctx.timezone)
        rows.append(item)
    briefs = _briefs(ctx)
    return {"rows": rows, "total": opportunities.height, "briefs": briefs}


def _opportunity_evidence(
    row: dict[str, Any],
    orders: pl.LazyFrame | None,
    events: pl.LazyFrame | None,
    products: pl.DataFrame | None,
    reviews: pl.DataFrame | None,
    tz: str,
) -> dict[str, Any]:
    kind, category = row["kind"], row["category"]
    out: dict[str, Any] = {}
    if kind in ("search_gap", "rising_demand", "festival") and orders is not None and category:
        out["trend"] = search_sales_trend(events, orders, products, str(category), tz)
    if kind in ("micro_demand", "attribute_gap") and reviews is not None:
        out["quotes"] = _quotes(row, reviews, products)
    if kind == "price_band" and orders is not None and products is not None and category:
        cols = [c for c in ("category_l1", "category_l2", "category_l3") if c in products.columns]
        if cols:
            skus = products.filter(pl.any_horizontal(pl.col(c) == category for c in cols)).select("sku")
            low = _first(list(row), ("price_low", "band_low", "low"))
            high = _first(list(row), ("price_high", "band_high", "high"))
            out["prices"] = {
                "bins": price_histogram(orders, skus),
                "low": _float(row[low]) if low else None,
                "high": _float(row[high]) if high else None,
            }
    return out


def _quotes(row: dict[str, Any], reviews: pl.DataFrame, products: pl.DataFrame | None) -> list[str]:
    """Up to three review texts behind an opportunity: its own quotes, or the SKU's lowest-rated."""
    own = _first(list(row), ("quotes", "examples"))
    if own and row[own] is not None:
        values = row[own]
        values = json.loads(values) if isinstance(values, str) and values.startswith("[") else values
        values = values if isinstance(values, list) else [values]
        return [str(v)[:200] for v in values[:QUOTES]]
    pool = reviews
    if row.get("sku") is not None and "sku" in reviews.columns:
        pool = reviews.filter(pl.col("sku") == row["sku"])
    elif row.get("category") is not None and "category" in reviews.columns:
        pool = reviews.filter(pl.col("category") == row["category"])
    phrases_col = _first(list(row), ("phrases", "aspect"))
    phrases = row.get(phrases_col) if phrases_col else None
    if isinstance(phrases, str):
        phrases = [phrases]
    if phrases:
        pool = pool.filter(pl.any_horizontal(pl.col("text").str.contains(p, literal=True) for p in phrases))
    order = ["rating", "text"] if "rating" in pool.columns else ["text"]
    return [str(v)[:200] for v in pool.sort(order, nulls_last=True).head(QUOTES)["text"].to_list()]


def _briefs(ctx: Context) -> list[dict[str, Any]]:
    briefs = read_table(ctx, "briefs")
    folder = ctx.ws.root / "briefs"
    out = []
    if briefs is not None:
        for row in briefs.sort("brief_id").head(10).iter_rows(named=True):
            path = folder / f"{row['brief_id']}.md"
            out.append({"id": row["brief_id"], "category": row.get("category"), "markdown": _read_md(ctx, path)})
    elif folder.is_dir():
        for path in sorted(folder.glob("*.md"))[:10]:
            out.append({"id": path.stem, "category": None, "markdown": _read_md(ctx, path)})
    return out


def _read_md(ctx: Context, path: Path) -> str | None:
    if not path.is_file():
        return None
    ctx.step.note_input_file(path)
    return path.read_text(encoding="utf-8", errors="replace")


def gather_quantities(ctx: Context) -> dict[str, Any]:
    frame = read_table(ctx, "quantities")
    if frame is None:
        return {"missing": "quantities"}
    names = _sku_names(read_table(ctx, "products"))
    order = [c for c in ("recommended_qty",) if c in frame.columns]
    frame = frame.sort(order, descending=True, nulls_last=True) if order else frame
    rows = []
    for row in frame.head(MAX_TABLE_ROWS).iter_rows(named=True):
        sku = row.get("sku")
        rows.append(
            {
                "sku": names.get(str(sku), sku) if sku is not None else None,
                "brief_id": row.get("brief_id"),
                "presale_orders": _float(row.get("presale_orders")),
                "forecast_p50": _float(row.get("forecast_p50")),
                "recommended_qty": _float(row.get("recommended_qty")),
                "service_level": _float(row.get("service_level")),
                "method": row.get("method"),
            }
        )
    return {"rows": rows, "total": frame.height}


def gather_audiences(ctx: Context) -> dict[str, Any]:
    frame = read_table(ctx, "audiences")
    if frame is None:
        return {"missing": "audiences"}
    require_columns(frame, "audiences", ("user_id", "audience"))
    score = pl.col("score").mean() if "score" in frame.columns else pl.lit(None, pl.Float64)
    reason = (
        pl.col("reason").drop_nulls().mode().sort().first() if "reason" in frame.columns else pl.lit(None, pl.String)
    )
    summary = frame.group_by("audience").agg(pl.len().alias("users"), score.alias("score"), reason.alias("reason")).sort("audience")
    rows = []
    for row in summary.iter_rows(named=True):
        item: dict[str, Any] = {
            "audience": row["audience"],
            "users": int(row["users"]),
            "score": _float(row["score"]),
            "reason": row["reason"],
        }
        if ctx.include_ids:
            part = frame.filter(pl.col("audience") == row["audience"])
            part = part.sort(["score", "user_id"], descending=[True, False]) if "score" in part.columns else part.sort("user_id")
            item["user_ids"] = [str(u) for u in part["user_id"].head(IDS_PER_AUDIENCE).to_list()]
        rows.append(item)
    return {"rows": rows, "include_ids": ctx.include_ids}


def gather_bundles(ctx: Context) -> dict[str, Any]:
    frame = read_table(ctx, "bundles")
    if frame is None:
        return {"missing": "bundles"}
    require_columns(frame, "bundles", ("antecedent", "consequent", "support", "confidence", "lift"))
    names = _sku_names(read_table(ctx, "products"))
    rows = []
    for row in frame.sort(["lift", "support"], descending=True).head(MAX_TABLE_ROWS).iter_rows(named=True):
        rows.append(
            {
                "antecedent": [names.get(str(s), str(s)) for s in _as_list(row["antecedent"])],
                "consequent": [names.get(str(s), str(s)) for s in _as_list(row["consequent"])],
                "support": _float(row["support"]),
                "confidence": _float(row["confidence"]),
                "lift": _float(row["lift"]),
            }
        )
    return {"rows": rows, "total": frame.height}


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def gather_scorecard(ctx: Context) -> dict[str, Any] | None:
    """The planted-truth scorecard of ``c2m demo`` (None when the workspace is not a demo)."""
    path = ctx.ws.root / "demo_scorecard.json"
    if not path.is_file():
        if not (ctx.ws.root / "truth" / "world.json").is_file():
            return None
        return {"rows": live_scorecard(ctx.ws)}
    ctx.step.note_input_file(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InvalidDataError(f"{path}: not valid JSON ({exc})") from exc
    return {"rows": scorecard_rows(data)}


def live_scorecard(ws: Workspace) -> list[dict[str, Any]]:
    """Score a demo world now (before `c2m demo` writes its scorecard), steps taken from the manifest."""
    from c2m_cli import scorecard

    ran = {s.get("command") for s in ws.manifest().get("steps", [])}
    statuses = {
        step: {"status": "ok" if step in ran or step == "synth" else "not run", "error": None}
        for step in scorecard.STEP_ORDER
    }
    return [row for row in scorecard.collect(ws, statuses) if row["step"] != "report"]


def scorecard_rows(data: Any) -> list[dict[str, Any]]:
    """Flatten a scorecard (a list of checks, ``{"checks": [...]}`` or ``{step: [...]}``)."""
    if isinstance(data, dict) and isinstance(data.get("checks"), list):
        data = data["checks"]
    if isinstance(data, dict):
        items = []
        for step, checks in sorted(data.items()):
            if isinstance(checks, list):
                items += [{"step": step, **c} for c in checks if isinstance(c, dict)]
        data = items
    if not isinstance(data, list):
        return []
    keys = ("step", "check", "value", "target", "passed", "detail")
    return [{k: c.get(k) for k in keys} for c in data if isinstance(c, dict)]


def data_period_dates(overview: dict[str, Any]) -> tuple[dt.date | None, dt.date | None]:
    first, last = overview.get("first"), overview.get("last")
    return (
        dt.date.fromisoformat(first) if first else None,
        dt.date.fromisoformat(last) if last else None,
    )
