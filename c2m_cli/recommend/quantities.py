"""How many to make: a newsvendor quantity on one demand distribution per row.

Demand for a pre-sale product = confirmed deposits + launch sales. Launch sales come, in order
of preference, from (1) the forecast's periods for the SKU over the horizon from launch, (2) the
pre-sale-to-sales ratio observed on earlier pre-sale launches in the same data, (3) the stated
deposit conversion alone. Confirmed deposits = deposits × (1 − cancel rate) × deposit
conversion; they are a floor under the forecast (which reads deposits as a leading signal) and
the whole demand when nothing else is known. Each row's P10/P50/P90 and quantity are read off
the same draws (``demand.Demand``); the quantity is the quantile at the critical ratio
((price − cost)/(price − salvage) when prices are given, else the service level). A minimum order
quantity above it is recommended only when its expected profit is positive; otherwise the row
is flagged (``moq_flag``) and keeps the newsvendor quantity.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import cast

import numpy as np
import polars as pl

from c2m_cli import contract
from c2m_cli.recommend.demand import Demand, from_forecast, from_normal

QUANTITY_SCHEMA = {
    "sku": pl.String,
    "brief_id": pl.String,
    "presale_orders": pl.Float64,
    "forecast_p10": pl.Float64,
    "forecast_p50": pl.Float64,
    "forecast_p90": pl.Float64,
    "expected_demand": pl.Float64,
    "newsvendor_qty": pl.Float64,
    "recommended_qty": pl.Float64,
    "service_level": pl.Float64,
    "expected_fill_rate": pl.Float64,
    "expected_leftover": pl.Float64,
    "expected_profit": pl.Float64,
    "moq_flag": pl.String,
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
    seed: int = 0

    @property
    def priced(self) -> bool:
        return self.unit_cost is not None and self.unit_price is not None

    def critical_ratio(self) -> float:
        if self.unit_cost is not None and self.unit_price is not None and self.unit_price > self.salvage:
            return min(0.999, max(0.001, (self.unit_price - self.unit_cost) / (self.unit_price - self.salvage)))
        return self.service_level


def newsvendor(demand: Demand, eco: Economics) -> dict[str, float | str | None]:
    """Quantity at the critical ratio of ``demand``, and the MOQ decision with its reason."""
    ratio = eco.critical_ratio()
    qty = demand.quantile(ratio)
    recommended, flag = qty, None
    if eco.moq > qty:
        if eco.unit_price is not None and eco.unit_cost is not None:
            at_moq = demand.expected_profit(eco.moq, eco.unit_price, eco.unit_cost, eco.salvage)
            if at_moq > 0:
                recommended, flag = eco.moq, "moq-profitable"
            else:
                flag = "moq-loses-money"
        else:
            # without prices a MOQ cannot be judged: it is applied, and flagged beyond the P90
            recommended = eco.moq
            flag = "moq-above-p90" if eco.moq > demand.quantile(0.9) else "moq-applied"
    mean = demand.mean
    sales = demand.expected_sales(recommended)
    profit = None
    if eco.unit_price is not None and eco.unit_cost is not None:
        profit = demand.expected_profit(recommended, eco.unit_price, eco.unit_cost, eco.salvage)
    return {
        "newsvendor_qty": qty,
        "recommended_qty": float(recommended),
        "service_level": ratio,
        "expected_fill_rate": float(sales / mean) if mean > 0 else 1.0,
        "expected_leftover": float(max(0.0, recommended - sales)),
        "expected_profit": profit,
        "moq_flag": flag,
    }


def quantity_row(demand: Demand, eco: Economics, *, sku: str | None, brief_id: str | None, presale: float) -> dict:
    """One quantities row: every figure read off ``demand``."""
    return {"sku": sku, "brief_id": brief_id, "presale_orders": presale, "forecast_p10": demand.quantile(0.1),
            "forecast_p50": demand.quantile(0.5), "forecast_p90": demand.quantile(0.9), "expected_demand": demand.mean,
            **newsvendor(demand, eco), "method": demand.method}


def _order_lines(orders: pl.DataFrame | pl.LazyFrame, tz: str) -> pl.LazyFrame:
    names = orders.collect_schema().names()
    keep = [c for c in ("sku", "ts", "qty", "unit_price", "status", "presale") if c in names]
    return orders.lazy().select(keep).with_columns(date=contract.local_date("ts", tz))


def presale_table(orders: pl.DataFrame | pl.LazyFrame, events: pl.DataFrame | None, products: pl.DataFrame | None,
                  tz: str) -> pl.DataFrame:
    """Per pre-sale SKU: deposits (units), first deposit date, launch date (product or first sale)."""
    marked = _order_lines(orders, tz)
    pre = (
        contract.presale_lines(marked)  # deposits, not cancelled or returned (c2m_cli.contract)
        .group_by("sku")
        .agg(pl.col("qty").sum().alias("presale_orders"), pl.col("date").max().alias("last_deposit"))
        .collect(engine="streaming")
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
        contract.sales_lines(marked).join(pre.lazy().select("sku"), on="sku")
        .group_by("sku").agg(pl.col("date").min().alias("first_sale")).collect(engine="streaming")
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
    orders: pl.DataFrame | pl.LazyFrame,
    events: pl.DataFrame | None,
    products: pl.DataFrame | None,
    forecast: pl.DataFrame | None,
    *,
    tz: str,
    end: dt.date,
    eco: Economics,
    chinese: bool = False,
) -> tuple[pl.DataFrame, dict]:
    """One row per pre-sale SKU (briefs add theirs with ``quantity_row``); ``method`` in the
    data's language."""
    pre = presale_table(orders, events, products, tz)
    note: dict = {"presale_skus": pre.height}
    if pre.height == 0:
        return pl.DataFrame(schema=QUANTITY_SCHEMA), note
    marked = contract.sales_lines(_order_lines(orders, tz))
    # references: launched with a complete horizon inside the data
    h = eco.horizon_days
    refs = pre.filter(pl.col("launch") + pl.duration(days=h - 1) <= end)
    ratio = None
    if refs.height:
        post = (
            marked.join(refs.lazy().select("sku", "launch"), on="sku")
            .filter((pl.col("date") >= pl.col("launch")) & (pl.col("date") < pl.col("launch") + pl.duration(days=h)))
            .group_by("sku")
            .agg(pl.col("qty").sum().alias("post"))
            .collect(engine="streaming")
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
        confirmed = p * (1 - eco.cancel_rate) * eco.deposit_conversion
        series = fc.filter(pl.col("unique_id") == r["sku"]) if fc is not None else None
        window = _launch_window_forecast(series, r["launch"], h) if series is not None and series.height else None
        key = f"presale|{r['sku']}"
        if window is not None:
            p10s, p50s, p90s, note_text = window
            demand = from_forecast(p10s, p50s, p90s, floor=confirmed, seed=eco.seed, key=key, method=(
                f"报童模型：该商品上市后 {h} 天的预测（定金是预测的先行信号；确认定金 {confirmed:,.0f} = {p:,.0f} × "
                f"(1 − {eco.cancel_rate:g}) × {eco.deposit_conversion:g} 为下限{'；超出预测期的天数按上市后日均' if note_text else ''}）"
                if chinese else
                f"newsvendor on the SKU's forecast over the {h} days from launch (deposits are the forecast's "
                f"leading signal; {confirmed:,.0f} confirmed deposits = {p:,.0f} × (1 − {eco.cancel_rate:g}) × "
                f"{eco.deposit_conversion:g} as a floor{note_text})"))
        elif ratio is not None:
            per, post_ref, p_ref = ratio
            m = confirmed * per
            sd = math.sqrt(m + m * m * (1 / max(post_ref, 1) + 1 / max(p_ref, 1)))
            demand = from_normal(confirmed + m, sd, floor=confirmed, seed=eco.seed, key=key, method=(
                f"报童模型：确认定金 × (1 + {per:.2f})，即此前 {len(note['reference_skus'])} 次预售上市 {h} 天内每笔定金带来的销量"
                if chinese else
                f"newsvendor: confirmed deposits × (1 + {per:.2f} launch sales per deposit observed on "
                f"{len(note['reference_skus'])} earlier pre-sale launch(es) over {h} days)"))
        else:
            demand = from_normal(confirmed, math.sqrt(max(confirmed, 1.0)), floor=0.0, seed=eco.seed, key=key, method=(
                f"报童模型：定金 × (1 − {eco.cancel_rate:g}) × {eco.deposit_conversion:g}；无预测，无此前预售" if chinese else
                f"newsvendor: deposits × (1 − {eco.cancel_rate:g}) × {eco.deposit_conversion:g}; "
                "no forecast, no earlier pre-sale"))
        rows.append(quantity_row(demand, eco, sku=r["sku"], brief_id=None, presale=p))
    return pl.DataFrame(rows, schema=QUANTITY_SCHEMA), note


def _launch_window_forecast(
    series: pl.DataFrame, launch: dt.date, days: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, str] | None:
    """Per-period q0.1/q0.5/q0.9 over ``days`` from launch, from the SKU's forecast periods.

    Periods starting inside the window count whole; when the forecast horizon ends before the
    window does, the remaining days continue at the forecast's post-launch daily rate (one more
    period, scaled to the missing days).
    """
    series = series.sort("ds")
    ds = series["ds"].to_list()
    period = (ds[1] - ds[0]).days if len(ds) > 1 else 7
    launch_period = max((d for d in ds if d <= launch), default=ds[0])
    end = launch + dt.timedelta(days=days)
    inside = series.filter((pl.col("ds") >= launch_period) & (pl.col("ds") < end))
    if inside.height == 0:
        return None
    cols = {c: inside[c].to_numpy().astype(float) for c in ("q0.1", "q0.5", "q0.9")}
    covered_end = cast(dt.date, inside["ds"].max()) + dt.timedelta(days=period)
    missing_days = (end - covered_end).days
    note = ""
    after = inside.filter(pl.col("ds") > launch_period)
    if missing_days > 0 and after.height:
        scale = missing_days / (after.height * period)
        for c in cols:
            cols[c] = np.append(cols[c], float(after[c].sum()) * scale)
        note = f"; the last {missing_days} days beyond the forecast horizon at its post-launch daily rate"
    return cols["q0.1"], cols["q0.5"], cols["q0.9"], note
