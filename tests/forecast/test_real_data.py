"""On real data (Complete Journey, 84.51°, 2017): c2m's `selected` beats the naive forecast
on 13 held-out weeks of the top products, and its intervals cover about what they claim."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from c2m_cli.forecast.engine import compute_forecast
from c2m_cli.forecast.series import build_series

pytestmark = pytest.mark.real_data

HOLDOUT = 13


def test_complete_journey_top_products(shared_data: Path) -> None:
    tx = pl.scan_parquet(shared_data / "completejourney" / "transactions.parquet").filter(pl.col("quantity") > 0)
    top = tx.group_by("product_id").agg(pl.col("quantity").sum()).sort(["quantity", "product_id"], descending=[True, False]).head(300)
    orders = tx.join(top.select("product_id"), on="product_id").select(
        pl.col("product_id").cast(pl.String).alias("sku"),
        pl.col("transaction_timestamp").dt.cast_time_unit("us").dt.replace_time_zone("UTC").alias("ts"),
        pl.col("quantity").cast(pl.Float64).alias("qty"),
    )
    full = build_series(orders, None, levels=("sku",), freq="W")
    first_test = full.periods[-HOLDOUT]
    train = orders.filter(pl.col("ts") < dt.datetime.combine(first_test, dt.time()).replace(tzinfo=dt.UTC))
    result = compute_forecast(train, None, horizon=HOLDOUT, freq="W", levels=("total", "sku"), market="us")
    assert result.summary["forecast_from"] == str(first_test)
    test = full.frame.filter(pl.col("ds") >= first_test).select("unique_id", "ds", "y")
    history = build_series(train, None, levels=("sku",), freq="W").frame
    scale = history.group_by("unique_id").agg(pl.col("y").diff().abs().mean().alias("scale"))
    last = history.sort("ds").group_by("unique_id").agg(pl.col("y").last().alias("naive"))
    fc = result.forecast.filter((pl.col("level") == "sku") & (pl.col("model") == "selected"))
    scored = (
        test.join(last, on="unique_id")
        .join(scale, on="unique_id")
        .join(fc.select("unique_id", "ds", "y_hat", "q0.1", "q0.9"), on=["unique_id", "ds"], how="left")
        .with_columns(pl.col("y_hat", "q0.1", "q0.9").fill_null(0.0))
        .filter(pl.col("scale") > 0)
    )
    mase = scored.group_by("unique_id").agg(
        ((pl.col("y") - pl.col("y_hat")).abs().mean() / pl.col("scale").first()).alias("selected"),
        ((pl.col("y") - pl.col("naive")).abs().mean() / pl.col("scale").first()).alias("naive"),
    )
    assert mase["selected"].mean() < 0.92 * mase["naive"].mean()  # measured: 0.945 vs 1.103
    coverage = scored.select(((pl.col("y") >= pl.col("q0.1")) & (pl.col("y") <= pl.col("q0.9"))).mean()).item()
    assert coverage == pytest.approx(0.80, abs=0.08)  # measured: 0.825 on the held-out weeks
