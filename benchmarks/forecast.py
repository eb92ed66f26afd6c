"""Benchmark `c2m forecast` against statsforecast in the same run (a bench-only dependency).

Data sets:
- Complete Journey (84.51°, 2017 grocery transactions; /work/shared/data/completejourney):
  weekly demand of the top products by units, the last 13 complete weeks held out;
- the demo world (c2m_cli.synth, two years, festivals): weekly demand per SKU, 13 weeks held out.

For each: wall time of c2m's whole forecast (series from order lines, every model, the rolling
backtest, selection, intervals) single-process and with the 2-process pool, against
statsforecast AutoETS fit + forecast on the prepared series with one core; accuracy on the
held-out weeks (MASE with the in-sample naive scale, sMAPE, WAPE) of c2m's ``selected`` against
AutoETS and seasonal naive (naive where a year of history is missing).

    .venv/bin/python benchmarks/forecast.py            # both data sets
    .venv/bin/python benchmarks/forecast.py --top 500  # a quicker Complete Journey run
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import tempfile
import time
import warnings
from pathlib import Path

import polars as pl

from c2m_cli.forecast import engine
from c2m_cli.forecast.series import build_series

HOLDOUT = 13
CJ = Path(os.environ.get("C2M_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")) / "completejourney" / "transactions.parquet"


def cj_orders(top: int) -> pl.LazyFrame:
    tx = pl.scan_parquet(CJ).filter(pl.col("quantity") > 0)
    best = (
        tx.group_by("product_id").agg(pl.col("quantity").sum().alias("units"))
        .sort(["units", "product_id"], descending=[True, False]).head(top).select("product_id")
    )
    return tx.join(best, on="product_id").select(
        pl.col("product_id").cast(pl.String).alias("sku"),
        pl.col("transaction_timestamp").dt.cast_time_unit("us").dt.replace_time_zone("UTC").alias("ts"),
        pl.col("quantity").cast(pl.Float64).alias("qty"),
    )


def world_orders(users: int) -> tuple[pl.LazyFrame, str]:
    from c2m_cli.synth import generate_world
    from c2m_cli.workspace import Workspace

    root = Path(tempfile.mkdtemp(prefix="c2m-bench-"))
    ws = Workspace(root)
    generate_world(ws, users=users, seed=0)
    return pl.read_parquet(ws.table_path("orders")).lazy(), str(ws.manifest().get("data_timezone", "UTC"))


def split(orders: pl.LazyFrame, timezone: str) -> tuple[pl.LazyFrame, pl.DataFrame, dt.date]:
    """Training order lines (before the holdout) and the held-out weekly actuals per sku."""
    full = build_series(orders, None, levels=("sku",), freq="W", timezone=timezone)
    first_test = full.periods[-HOLDOUT]
    last_day = full.periods[-1] + dt.timedelta(days=6)
    cut = dt.datetime.combine(first_test, dt.time()).replace(tzinfo=dt.UTC)
    local = pl.col("ts").dt.convert_time_zone(timezone).dt.replace_time_zone("UTC")
    train = orders.filter(local < cut)
    test = full.frame.filter(pl.col("ds") >= first_test).select("unique_id", "ds", "y")
    # keep only complete weeks in the training data: drop lines after the last complete week
    train = train.filter(local < dt.datetime.combine(last_day + dt.timedelta(days=1), dt.time()).replace(tzinfo=dt.UTC))
    return train, test, first_test


def run_c2m(train: pl.LazyFrame, timezone: str, parallel: bool, global_model: bool = False) -> tuple[pl.DataFrame, float]:
    engine.PARALLEL_CELLS = 0 if parallel else 10**15
    started = time.perf_counter()
    result = engine.compute_forecast(
        train, None, horizon=HOLDOUT, freq="W", levels=("sku",), timezone=timezone, global_model=global_model
    )
    elapsed = time.perf_counter() - started
    fc = result.forecast.filter(pl.col("level") == "sku").select("unique_id", "ds", "model", "y_hat")
    return fc, elapsed


def run_statsforecast(train_series: pl.DataFrame, season: int) -> tuple[pl.DataFrame, float, float]:
    import pandas as pd
    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS, Naive, SeasonalNaive

    df = train_series.select("unique_id", pl.col("ds").cast(pl.Datetime("ns")), "y").to_pandas()
    warm = df[df["unique_id"] == df["unique_id"].iloc[0]]
    StatsForecast(models=[AutoETS(season_length=1)], freq="W-MON", n_jobs=1).forecast(df=warm, h=2)  # JIT
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        started = time.perf_counter()
        ets = StatsForecast(models=[AutoETS(season_length=season)], freq="W-MON", n_jobs=1, fallback_model=Naive()).forecast(df=df, h=HOLDOUT)
        ets_time = time.perf_counter() - started
        started = time.perf_counter()
        StatsForecast(models=[AutoETS(season_length=season)], freq="W-MON", n_jobs=2, fallback_model=Naive()).forecast(df=df, h=HOLDOUT)
        ets_time_2 = time.perf_counter() - started
        base = StatsForecast(models=[Naive(), SeasonalNaive(season_length=52)], freq="W-MON", n_jobs=1).forecast(df=df, h=HOLDOUT)
    out = pd.concat(
        [
            ets.rename(columns={"AutoETS": "y_hat"}).assign(model="AutoETS")[["unique_id", "ds", "model", "y_hat"]],
            base.rename(columns={"Naive": "y_hat"}).assign(model="Naive")[["unique_id", "ds", "model", "y_hat"]],
            base.rename(columns={"SeasonalNaive": "y_hat"}).assign(model="SeasonalNaive")[["unique_id", "ds", "model", "y_hat"]],
        ]
    )
    frame = pl.from_pandas(out.reset_index(drop=True)).with_columns(pl.col("ds").cast(pl.Date), pl.col("unique_id").cast(pl.String))
    return frame, ets_time, ets_time_2


def accuracy(forecasts: pl.DataFrame, test: pl.DataFrame, train_series: pl.DataFrame) -> pl.DataFrame:
    scale = (
        train_series.sort("unique_id", "ds")
        .group_by("unique_id")
        .agg(pl.col("y").diff().abs().mean().alias("scale"), pl.col("y").abs().mean().alias("level"))
        .with_columns(
            pl.when(pl.col("scale") > 0).then("scale").when(pl.col("level") > 0).then("level").otherwise(1.0).alias("scale")
        )
    )
    # every series of the holdout × week × model: a series a model did not forecast (c2m drops
    # retired products from the future) counts as a forecast of zero
    grid = (
        train_series.select("unique_id").unique()
        .join(test.select("ds").unique(), how="cross")
        .join(forecasts.select("model").unique(), how="cross")
    )
    joined = (
        grid.join(forecasts, on=["unique_id", "ds", "model"], how="left")
        .join(test, on=["unique_id", "ds"], how="left")
        .with_columns(pl.col("y").fill_null(0.0), pl.col("y_hat").fill_null(0.0).clip(0.0))
        .join(scale, on="unique_id")
    )
    per_series = joined.group_by("model", "unique_id").agg(
        ((pl.col("y") - pl.col("y_hat")).abs().mean() / pl.col("scale").first()).alias("MASE"),
        pl.when((pl.col("y").abs() + pl.col("y_hat").abs()) > 0)
        .then(200 * (pl.col("y") - pl.col("y_hat")).abs() / (pl.col("y").abs() + pl.col("y_hat").abs()))
        .otherwise(0.0).mean().alias("sMAPE"),
        (pl.col("y") - pl.col("y_hat")).abs().sum().alias("ae"),
        pl.col("y").abs().sum().alias("ay"),
    )
    return per_series.group_by("model").agg(
        pl.col("MASE").mean(), pl.col("sMAPE").mean(), (pl.col("ae").sum() / pl.col("ay").sum()).alias("WAPE"), pl.len().alias("series")
    ).sort("MASE")


def bench(name: str, orders: pl.LazyFrame, timezone: str, season: int) -> dict[str, float]:
    train, test, first_test = split(orders, timezone)
    train = pl.LazyFrame(train.collect())
    train_series = build_series(train, None, levels=("sku",), freq="W", timezone=timezone).frame
    fc1, t1 = run_c2m(train, timezone, parallel=False)
    fc2, t2 = run_c2m(train, timezone, parallel=True)
    assert fc1.equals(fc2), "pool and serial differ"
    fcg, tg = run_c2m(train, timezone, parallel=True, global_model=True)
    fcg = fcg.filter(pl.col("model").is_in(["selected", "global_hgb"])).with_columns(
        pl.when(pl.col("model") == "selected").then(pl.lit("selected+global")).otherwise(pl.col("model")).alias("model")
    )
    sf, ets_time, ets_time_2 = run_statsforecast(train_series, season)
    acc = accuracy(pl.concat([fc1, fcg, sf]), test, train_series)
    keep = ["selected", "selected+global", "global_hgb", "ensemble", "damped", "ses", "theta", "sba", "seasonal_naive", "AutoETS", "SeasonalNaive", "Naive"]
    acc = acc.filter(pl.col("model").is_in(keep) & pl.col("MASE").is_not_nan())
    n = train_series["unique_id"].n_unique()
    print(f"\n== {name}: {n} weekly series, {train_series['ds'].n_unique()} training weeks, holdout {HOLDOUT} weeks from {first_test}")
    print(f"wall time  c2m 1 process {t1:6.2f} s | c2m 2 processes {t2:6.2f} s | AutoETS(season={season}) 1 core {ets_time:6.2f} s, 2 cores {ets_time_2:6.2f} s")
    print(f"           c2m with --global-model, 2 processes {tg:6.2f} s ({tg / ets_time:.2f}× AutoETS single)")
    print(f"ratio      c2m/AutoETS single: {t1 / ets_time:.2f}×   c2m 2 proc / AutoETS single: {t2 / ets_time:.2f}×")
    with pl.Config(tbl_rows=20, float_precision=4):
        print(acc)
    m = dict(zip(acc["model"].to_list(), acc["MASE"].to_list(), strict=True))
    snaive = m.get("SeasonalNaive") if season > 1 else m.get("Naive")
    print(
        f"MASE       selected {m['selected']:.4f} vs AutoETS {m['AutoETS']:.4f} (ratio {m['selected'] / m['AutoETS']:.3f}); "
        f"vs {'seasonal naive' if season > 1 else 'naive'} {snaive:.4f} (ratio {m['selected'] / snaive:.3f})"
    )
    return {"t1": t1, "t2": t2, "ets": ets_time}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--top", type=int, default=2000, help="Complete Journey products (by units)")
    parser.add_argument("--users", type=int, default=20000, help="demo world users")
    parser.add_argument("--only", choices=["cj", "world"], default=None)
    args = parser.parse_args()
    if args.only in (None, "cj"):
        if CJ.is_file():
            bench(f"Complete Journey top {args.top}", cj_orders(args.top), "UTC", 1)
        else:
            print(f"Complete Journey not found at {CJ}: skipped")
    if args.only in (None, "world"):
        orders, tz = world_orders(args.users)
        bench(f"demo world ({args.users} users)", orders, tz, 52)


if __name__ == "__main__":
    main()
