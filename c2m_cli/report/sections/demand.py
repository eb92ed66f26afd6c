"""Demand: the selected forecast of the biggest series per level with its 80% / 90% intervals, the
actuals the backtest recorded before it (the forecast step's own history, not recomputed here),
backtest accuracy against the seasonal naive baseline, and the festival effects seen in the data."""

from __future__ import annotations

import datetime as dt
from typing import Any, TypedDict, cast

import polars as pl

from c2m_cli.report.sections.base import (
    Context,
    as_float,
    require_columns,
    scan_table,
    sku_name,
)
from c2m_cli.report.sections.measures import daily_units, festival_uplift

SERIES_PER_LEVEL = {"total": 1, "sku": 2}
HISTORY = {"D": 90, "W": 52, "M": 24}


class Point(TypedDict):
    ds: str
    p50: float | None
    lo80: float | None
    hi80: float | None
    lo90: float | None
    hi90: float | None


class Festival(TypedDict):
    festival: str
    start: str
    end: str


class SeriesChart(TypedDict):
    level: str
    unique_id: str
    label: str
    history: list[dict[str, Any]]
    forecast: list[Point]
    festivals: list[Festival]


class DemandData(TypedDict, total=False):
    missing: str
    freq: str
    market: str
    charts: list[SeriesChart]
    accuracy: list[dict[str, Any]] | None
    festivals: list[dict[str, Any]] | None


def forecast_freq(ctx: Context, forecast: pl.DataFrame) -> str:
    for step in reversed(ctx.ws.manifest().get("steps", [])):
        if step.get("command") == "forecast" and step.get("parameters", {}).get("freq") in ("D", "W", "M"):
            return str(step["parameters"]["freq"])
    days = forecast.select(pl.col("ds").unique().sort().diff().dt.total_days().median()).item()
    if days is None or days <= 1:
        return "D"
    return "W" if days <= 7 else "M"


def festival_windows(market: str, first: dt.date, last: dt.date) -> list[Festival]:
    """The market's festival windows that overlap [first, last] (none for a market without a calendar)."""
    from c2m_cli.calendar import festival_calendar_between

    calendar = festival_calendar_between(market, first, last)
    if calendar.height == 0:
        return []
    hits = calendar.filter((pl.col("end") >= first) & (pl.col("start") <= last)).sort("start")
    return [{"festival": f, "start": s.isoformat(), "end": e.isoformat()} for f, s, e in hits.select("festival", "start", "end").iter_rows()]


def gather(ctx: Context) -> DemandData:
    # Lazy reads: with SKU levels the forecast and backtest tables hold every candidate model of
    # tens of thousands of series; the page needs the selected forecast and a few series' history.
    scan = scan_table(ctx, "forecast")
    if scan is None:
        return {"missing": "forecast"}
    names = scan.collect_schema().names()
    require_columns(pl.DataFrame(schema=dict.fromkeys(names, pl.Null)), "forecast", ("level", "unique_id", "ds", "model", "y_hat"))
    scan = scan.with_columns(pl.col("ds").cast(pl.Date), pl.col("unique_id").cast(pl.String))
    chosen = scan.filter(pl.col("model") == "selected").collect()
    if chosen.height == 0:
        first_model = scan.select(pl.col("model").min()).collect().item()
        chosen = scan.filter(pl.col("model") == first_model).collect()
    freq = forecast_freq(ctx, chosen)
    backtest = scan_table(ctx, "backtest")
    actuals_scan = None
    if backtest is not None and {"level", "unique_id", "ds", "y"} <= set(backtest.collect_schema().names()):
        actuals_scan = backtest.select(
            "level", pl.col("unique_id").cast(pl.String), pl.col("ds").cast(pl.Date), "y"
        )
    levels = chosen["level"].unique().to_list()
    charts: list[SeriesChart] = []
    tops: dict[str, list[str]] = {}
    for level in ["total"] + sorted(lv for lv in levels if lv != "total"):
        if level not in levels:
            continue
        tops[level] = (
            chosen.filter(pl.col("level") == level)
            .group_by("unique_id")
            .agg(pl.col("y_hat").sum())
            .sort(["y_hat", "unique_id"], descending=[True, False])
            .head(SERIES_PER_LEVEL.get(level, 3))["unique_id"]
            .to_list()
        )
    actuals = None
    if actuals_scan is not None:
        wanted = pl.any_horizontal(
            [(pl.col("level") == lv) & pl.col("unique_id").is_in(ids) for lv, ids in tops.items()] or [pl.lit(False)]
        )
        actuals = actuals_scan.filter(wanted).group_by("level", "unique_id", "ds").agg(pl.col("y").first()).collect()
    for level, top in tops.items():
        part = chosen.filter(pl.col("level") == level)
        for uid in top:
            series = part.filter(pl.col("unique_id") == uid).sort("ds")
            start = series["ds"].min()
            past: list[dict[str, Any]] = []
            if actuals is not None:
                hist = (
                    actuals.filter((pl.col("level") == level) & (pl.col("unique_id") == uid) & (pl.col("ds") < start))
                    .sort("ds")
                    .tail(HISTORY[freq])
                )
                past = [{"ds": d.isoformat(), "y": float(y)} for d, y in hist.select("ds", "y").iter_rows() if y is not None]
            future: list[Point] = [
                {
                    "ds": row["ds"].isoformat(),
                    "p50": as_float(row.get("q0.5")) if row.get("q0.5") is not None else as_float(row["y_hat"]),
                    "lo80": as_float(row.get("q0.1")),
                    "hi80": as_float(row.get("q0.9")),
                    "lo90": as_float(row.get("q0.05")),
                    "hi90": as_float(row.get("q0.95")),
                }
                for row in series.iter_rows(named=True)
            ]
            days = [cast(dt.date, d) for d in series["ds"].to_list()]
            first = dt.date.fromisoformat(past[0]["ds"]) if past else days[0]
            last = days[-1] + dt.timedelta(days={"D": 0, "W": 6, "M": 30}[freq])
            label = (sku_name(ctx, uid) or uid) if level == "sku" else uid
            charts.append(
                {
                    "level": level,
                    "unique_id": uid,
                    "label": label,
                    "history": past,
                    "forecast": future,
                    "festivals": festival_windows(ctx.market, first, last),
                }
            )
    out: DemandData = {
        "freq": freq,
        "market": ctx.market,
        "charts": charts,
        "accuracy": accuracy(_level_metrics(ctx)),
        "festivals": None,
    }
    orders = scan_table(ctx, "orders")
    if orders is not None and ctx.market != "none":
        from c2m_cli.calendar import festival_calendar, festival_calendar_between

        daily = daily_units(orders, ctx.timezone)
        # the data's years (only windows within the data are measured, only its days count)
        span = [cast(dt.date, daily["date"].min()), cast(dt.date, daily["date"].max())] if daily.height else None
        calendar = festival_calendar_between(ctx.market, *span) if span else festival_calendar(ctx.market)
        if calendar.height:
            uplift = festival_uplift(daily, calendar)
            out["festivals"] = [{"festival": f, "year": int(y), "uplift": float(u)} for f, y, _s, u in uplift.iter_rows()]
    return out


def _level_metrics(ctx: Context) -> pl.DataFrame | None:
    """The levels' aggregate rows of forecast_metrics (unique_id ``*``), read lazily."""
    metrics = scan_table(ctx, "forecast_metrics")
    if metrics is None:
        return None
    if "unique_id" not in metrics.collect_schema().names():
        return metrics.collect()
    return metrics.filter(pl.col("unique_id").cast(pl.String) == "*").collect()


def accuracy(metrics: pl.DataFrame | None) -> list[dict[str, Any]] | None:
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
