"""How many to make: a newsvendor rule on demand from pre-sale orders and the forecast.

Demand for a pre-sale product = confirmed deposits + launch sales. Launch sales come, in order
of preference, from (1) the forecast's quantiles for the SKU over the horizon, (2) the
pre-sale-to-sales ratio observed on earlier pre-sale launches in the same data, (3) the stated
deposit conversion alone. Demand is taken as normal with the spread the source implies; the
quantity is its quantile at the critical ratio ((price − cost)/(price − salvage) when prices
are given, else the service level), at least the minimum order quantity.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import cast

import polars as pl
from scipy import stats

QUANTITY_SCHEMA = {
    "sku": pl.String,
    "brief_id": pl.String,
    "presale_orders": pl.Float64,
    "forecast_p10": pl.Float64,
    "forecast_p50": pl.Float64,
    "forecast_p90": pl.Float64,
    "expected_demand": pl.Float64,
    "recommended_qty": pl.Float64,
    "service_level": pl.Float64,
    "expected_fill_rate": pl.Float64,
    "expected_leftover": pl.Float64,
    "method": pl.String,
}


@dataclass(frozen=True)
class Economics:
    service_level: float = 0.9
    unit_cost: float | None = None
    unit_price: float | None = None
    salvage: float = 0.0
    moq: float = 0.0
    deposit_conversion: float = 0.9
    cancel_rate: float = 0.05
    horizon_days: int = 56

    def critical_ratio(self) -> float:
        if self.unit_cost is not None and self.unit_price is not None and self.unit_price > self.salvage:
            return min(0.999, max(0.001, (self.unit_price - self.unit_cost) / (self.unit_price - self.salvage)))
        return self.service_level


def newsvendor(mean: float, sd: float, eco: Economics) -> dict[str, float]:
    """Order quantity, expected fill rate and leftover for normal demand N(mean, sd)."""
    ratio = eco.critical_ratio()
    z = float(stats.norm.ppf(ratio))
    qty = max(eco.moq, math.ceil(max(0.0, mean + z * sd)))
    if sd > 0:
        k = (qty - mean) / sd
        loss = float(stats.norm.pdf(k) - k * stats.norm.sf(k))  # E[(D − Q)+] / sd
        sales = mean - sd * loss
    else:
        sales = min(mean, qty)
    return {
        "recommended_qty": float(qty),
        "service_level": ratio,
        "expected_fill_rate": float(sales / mean) if mean > 0 else 1.0,
        "expected_leftover": float(max(0.0, qty - sales)),
    }


def presale_table(orders: pl.DataFrame, events: pl.DataFrame | None, products: pl.DataFrame | None, tz: str) -> pl.DataFrame:
    """Per pre-sale SKU: deposits (units), first deposit date, launch date (product or first sale)."""
    flag = pl.lit(False)
    if "presale" in orders.columns:
        flag = flag | pl.col("presale").fill_null(False)
    if "status" in orders.columns:
        flag = flag | (pl.col("status") == "presale")
    marked = orders.with_columns(_pre=flag, date=pl.col("ts").dt.convert_time_zone(tz).dt.date())
    ok = ~pl.col("status").is_in(["cancelled", "returned"]).fill_null(False) if "status" in orders.columns else pl.lit(True)
    pre = (
        marked.filter(pl.col("_pre") & ok)
        .group_by("sku")
        .agg(pl.col("qty").sum().alias("presale_orders"), pl.col("date").max().alias("last_deposit"))
    )
    if pre.height == 0 and events is not None and "sku" in events.columns:
        pre = (
            events.filter((pl.col("event") == "presale") & pl.col("sku").is_not_null())
            .with_columns(date=pl.col("ts").dt.convert_time_zone(tz).dt.date())
            .group_by("sku")
            .agg(pl.len().cast(pl.Float64).alias("presale_orders"), pl.col("date").max().alias("last_deposit"))
        )
    if pre.height == 0:
        return pl.DataFrame()
    first_sale = (
        marked.filter(~pl.col("_pre") & ok).group_by("sku").agg(pl.col("date").min().alias("first_sale"))
    )
    pre = pre.join(first_sale, on="sku", how="left")
    if products is not None and "launch_date" in products.columns:
        launch = products.select("sku", pl.col("launch_date").cast(pl.Date))
        pre = pre.join(launch, on="sku", how="left").with_columns(
            launch=pl.coalesce("launch_date", "first_sale", pl.col("last_deposit") + pl.duration(days=1))
        )
    else:
        pre = pre.with_columns(launch=pl.coalesce("first_sale", pl.col("last_deposit") + pl.duration(days=1)))
    return pre.select("sku", pl.col("presale_orders").cast(pl.Float64), "launch").sort("sku")


def plan_quantities(
    orders: pl.DataFrame,
    events: pl.DataFrame | None,
    products: pl.DataFrame | None,
    forecast: pl.DataFrame | None,
    *,
    tz: str,
    end: dt.date,
    eco: Economics,
) -> tuple[pl.DataFrame, dict]:
    """One row per pre-sale SKU (briefs add theirs with ``brief_quantity``)."""
    pre = presale_table(orders, events, products, tz)
    note: dict = {"presale_skus": pre.height}
    if pre.height == 0:
        return pl.DataFrame(schema=QUANTITY_SCHEMA), note
    marked = orders.with_columns(date=pl.col("ts").dt.convert_time_zone(tz).dt.date())
    if "status" in orders.columns:
        marked = marked.filter(~pl.col("status").is_in(["cancelled", "returned", "presale"]).fill_null(False))
    if "presale" in orders.columns:
        marked = marked.filter(~pl.col("presale").fill_null(False))
    # references: launched with a complete horizon inside the data
    h = eco.horizon_days
    refs = pre.filter(pl.col("launch") + pl.duration(days=h - 1) <= end)
    ratio = None
    if refs.height:
        post = (
            marked.join(refs.select("sku", "launch"), on="sku")
            .filter((pl.col("date") >= pl.col("launch")) & (pl.col("date") < pl.col("launch") + pl.duration(days=h)))
            .group_by("sku")
            .agg(pl.col("qty").sum().alias("post"))
        )
        refs = refs.join(post, on="sku", how="left").with_columns(pl.col("post").fill_null(0.0))
        p_ref, post_ref = float(refs["presale_orders"].sum()), float(refs["post"].sum())
        if p_ref > 0:
            ratio = (post_ref / p_ref, post_ref, p_ref)
            note["reference_skus"] = refs["sku"].to_list()
            note["reference_post_per_presale"] = round(post_ref / p_ref, 4)
    targets = pre.filter(pl.col("launch") > end - dt.timedelta(days=0)) if refs.height else pre
    if targets.height == 0:
        targets = pre
    fc = None
    if forecast is not None and {"level", "unique_id", "model", "q0.1", "q0.5", "q0.9"} <= set(forecast.columns):
        fc = forecast.filter((pl.col("model") == "selected") & (pl.col("level") == "sku"))
    rows = []
    for r in targets.iter_rows(named=True):
        p = float(r["presale_orders"])
        confirmed = p * (1 - eco.cancel_rate) if ratio is None else p
        series = fc.filter(pl.col("unique_id") == r["sku"]) if fc is not None else None
        window = _launch_window_forecast(series, r["launch"], h) if series is not None and series.height else None
        if window is not None:
            p10, p50, p90, sd, note_text = window
            # the forecast step reads pre-sale orders as a leading signal: its launch period
            # already holds the deposits, so they are a floor here, not an addition
            mean = max(p50, confirmed)
            method = (
                "newsvendor: forecast quantiles of the SKU over the "
                f"{h} days from launch (pre-sale deposits included as the forecast's leading signal{note_text})"
            )
        elif ratio is not None:
            per, post_ref, p_ref = ratio
            m = p * per
            sd = math.sqrt(m + m * m * (1 / max(post_ref, 1) + 1 / max(p_ref, 1)))
            mean = p + m
            p10, p50, p90 = (max(0.0, mean + float(stats.norm.ppf(q)) * sd) for q in (0.1, 0.5, 0.9))
            method = (
                f"newsvendor: pre-sale deposits × (1 + {per:.2f} launch sales per deposit observed on "
                f"{len(note['reference_skus'])} earlier pre-sale launch(es) over {h} days)"
            )
        else:
            mean = confirmed * eco.deposit_conversion
            sd = math.sqrt(max(mean, 1.0))
            p10, p50, p90 = (max(0.0, mean + float(stats.norm.ppf(q)) * sd) for q in (0.1, 0.5, 0.9))
            method = "newsvendor: deposits × conversion × (1 − cancel rate); no forecast, no earlier pre-sale"
        result = newsvendor(mean, sd, eco)
        rows.append(
            {"sku": r["sku"], "brief_id": None, "presale_orders": p, "forecast_p10": p10, "forecast_p50": p50,
             "forecast_p90": p90, "expected_demand": mean, **result, "method": method}
        )
    return pl.DataFrame(rows, schema=QUANTITY_SCHEMA), note


def _launch_window_forecast(
    series: pl.DataFrame, launch: dt.date, days: int
) -> tuple[float, float, float, float, str] | None:
    """P10/P50/P90 and sd of demand over ``days`` from launch, from the SKU's forecast periods.

    Periods starting inside the window count whole; when the forecast horizon ends before the
    window does, the remaining days continue at the forecast's post-launch daily rate.
    """
    series = series.sort("ds")
    ds = series["ds"].to_list()
    period = (ds[1] - ds[0]).days if len(ds) > 1 else 7
    launch_period = max((d for d in ds if d <= launch), default=ds[0])
    end = launch + dt.timedelta(days=days)
    inside = series.filter((pl.col("ds") >= launch_period) & (pl.col("ds") < end))
    if inside.height == 0:
        return None
    sums = {c: float(inside[c].sum()) for c in ("q0.1", "q0.5", "q0.9")}
    variance = float((((inside["q0.9"] - inside["q0.1"]) / 2.563) ** 2).sum())
    covered_end = cast(dt.date, inside["ds"].max()) + dt.timedelta(days=period)
    missing_days = (end - covered_end).days
    note = ""
    after = inside.filter(pl.col("ds") > launch_period)
    if missing_days > 0 and after.height:
        span = after.height * period
        for c in sums:
            sums[c] += float(after[c].sum()) / span * missing_days
        variance += float((((after["q0.9"] - after["q0.1"]) / 2.563) ** 2).sum()) / span * missing_days
        note = f"; the last {missing_days} days beyond the forecast horizon at its post-launch daily rate"
    return sums["q0.1"], sums["q0.5"], sums["q0.9"], math.sqrt(variance), note


def brief_quantity(brief_id: str, p10: float, p50: float, p90: float, method: str, eco: Economics) -> dict:
    sd = max(0.0, (p90 - p10) / 2.563)
    result = newsvendor(p50, sd, eco)
    return {"sku": None, "brief_id": brief_id, "presale_orders": 0.0, "forecast_p10": p10, "forecast_p50": p50,
            "forecast_p90": p90, "expected_demand": p50, **result, "method": method}
