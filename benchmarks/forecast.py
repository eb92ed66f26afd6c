"""Benchmark c2m's forecast against statsforecast, side by side, one process per data set.

Data sets (real, /work/shared/data; see its README):
- ``walmart``: Walmart's 7 weekly store-department series (2010-02 – 2012-10), the last 52 weeks
  held out (the Christmas run-up included);
- ``seasonal``: every monthly series of ``seasonal/`` (souvenirs, canadian_gas, the 148
  us_employment series), the last 12 months of each held out;
- ``cj``: Complete Journey, weekly demand of the top products by units, the last 13 weeks held out.

c2m runs its library core (``compute_forecast``: series from order lines, every candidate, the
rolling backtest, selection, intervals) on order lines made of the series — one line per period,
dated on the period's date, as a weekly or monthly report exports them (``c2m ingest`` of such a
file gives the same lines; the periodic input is recognised, no period is dropped as partial).
The market: ``us`` for Walmart and Complete Journey (US retailers), ``none`` for the monthly sets.
statsforecast fits AutoETS, AutoTheta and SeasonalNaive (season 52 weekly / 12 monthly; 1 for
Complete Journey's single year) with ``n_jobs=1``. Each side is warmed on one series before it is
timed (statsforecast's JIT compilation; c2m's imports and the market's calendar).

Accuracy on the held-out periods: MASE per series, scaled by the in-sample seasonal naive error
(lag 52 / 12; lag 1 for Complete Journey), the geometric mean over series of c2m's MASE over
AutoETS's, and the share of series where c2m beats seasonal naive. Peak memory (max RSS) of each
run's process is printed.

    .venv/bin/python benchmarks/forecast.py                 # every data set, one process each
    .venv/bin/python benchmarks/forecast.py --only seasonal # one
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any, cast

import numpy as np
import polars as pl

DATA = Path(os.environ.get("C2M_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
CJ = DATA / "completejourney" / "transactions.parquet"
# c2m and AutoETS timed alternately this many times per data set (the medians compared): the host's
# speed drifts by tens of percent within a minute; the monthly set's round takes ~50 s, so once
ROUNDS = {"walmart": 3, "seasonal": 1, "cj": 5}


def load(name: str, top: int) -> tuple[pl.DataFrame, str, int, int, str]:
    """(series frame unique_id, ds, y), freq, season, holdout, market."""
    if name == "walmart":
        raw = pl.read_csv(DATA / "walmart" / "walmart_sales_weekly.csv", try_parse_dates=True)
        frame = raw.select(pl.col("id").cast(pl.String).alias("unique_id"), pl.col("Date").alias("ds"), pl.col("Weekly_Sales").alias("y"))
        return frame, "W", 52, 52, "us"
    if name == "seasonal":
        base = DATA / "seasonal"
        parts = [
            pl.read_csv(base / f"{n}.csv", try_parse_dates=True).select(pl.lit(n).alias("unique_id"), "ds", pl.col("value").alias("y"))
            for n in ("souvenirs", "canadian_gas")
        ]
        emp = pl.read_csv(base / "us_employment.csv", try_parse_dates=True)
        parts.append(emp.select(pl.col("series_id").alias("unique_id"), "ds", pl.col("value").alias("y")))
        frame = pl.concat(parts).with_columns(pl.col("ds").cast(pl.Date), pl.col("y").cast(pl.Float64))
        return frame, "M", 12, 12, "none"
    tx = pl.scan_parquet(CJ).filter(pl.col("quantity") > 0)
    best = (
        tx.group_by("product_id").agg(pl.col("quantity").sum().alias("units"))
        .sort(["units", "product_id"], descending=[True, False]).head(top).select("product_id")
    )
    lines = tx.join(best, on="product_id").select(
        pl.col("product_id").cast(pl.String).alias("sku"),
        pl.col("transaction_timestamp").dt.cast_time_unit("us").dt.replace_time_zone("UTC").alias("ts"),
        pl.col("quantity").cast(pl.Float64).alias("qty"),
    )
    from c2m_cli.forecast.series import build_series

    series = build_series(lines, None, levels=("sku",), freq="W", timezone="UTC").frame
    return series.select("unique_id", "ds", "y"), "W", 1, 13, "us"


def as_orders(frame: pl.DataFrame) -> pl.LazyFrame:
    """One order line per series and period, dated on the period's date (midnight UTC)."""
    return frame.select(
        pl.col("unique_id").alias("sku"),
        pl.col("ds").cast(pl.Datetime("us")).dt.replace_time_zone("UTC").alias("ts"),
        pl.col("y").alias("qty"),
    ).lazy()


def split(frame: pl.DataFrame, holdout: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    ranked = frame.sort("unique_id", "ds").with_columns(pl.col("ds").rank("ordinal", descending=True).over("unique_id").alias("back"))
    return ranked.filter(pl.col("back") > holdout).drop("back"), ranked.filter(pl.col("back") <= holdout).drop("back")


def run_c2m(train: pl.DataFrame, freq: str, holdout: int, market: str) -> tuple[pl.DataFrame, float]:
    """c2m's selected forecast, the series grouped by their last training date (one grid each)."""
    from c2m_cli.forecast.engine import compute_forecast

    # warmed on one series first, as statsforecast is (its JIT): imports, the market's calendar
    first = train.filter(pl.col("unique_id") == train["unique_id"][0])
    compute_forecast(as_orders(first), None, horizon=holdout, freq=freq, levels=("sku",), timezone="UTC", market=market)
    out = []
    started = time.perf_counter()
    ends = train.group_by("unique_id").agg(pl.col("ds").max().alias("end"))
    for (end,), ids in ends.group_by("end", maintain_order=True):
        part = train.join(ids.select("unique_id"), on="unique_id")
        result = compute_forecast(as_orders(part), None, horizon=holdout, freq=freq, levels=("sku",), timezone="UTC", market=market)
        fc = result.forecast.filter((pl.col("level") == "sku") & (pl.col("model") == "selected"))
        # c2m labels a period by its first day; the test frame by the data's own date
        fc = fc.with_columns(pl.col("ds").rank("ordinal").over("unique_id").alias("step"))
        out.append(fc.select("unique_id", "step", pl.col("y_hat")).with_columns(pl.lit("c2m").alias("model")))
        del end
    return pl.concat(out), time.perf_counter() - started


def statsforecast_frame(train: pl.DataFrame, freq: str) -> tuple[Any, str]:
    """statsforecast's input (pandas) and its frequency; the JIT warmed on one series."""
    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS

    df = train.select("unique_id", pl.col("ds").cast(pl.Datetime("ns")), "y").to_pandas()
    pd_freq = "MS" if freq == "M" else "W"
    # statsforecast needs a regular grid per series: weekly dates keep their weekday
    if freq == "W":
        df["ds"] = df["ds"] - df["ds"].dt.weekday * np.timedelta64(1, "D")
        pd_freq = "W-MON"
    warm = df[df["unique_id"] == df["unique_id"].iloc[0]]
    StatsForecast(models=[AutoETS(season_length=1)], freq=pd_freq, n_jobs=1).forecast(df=warm, h=2)  # JIT
    return df, pd_freq


def run_statsforecast(df: Any, pd_freq: str, name: str, season: int, holdout: int) -> tuple[pl.DataFrame, float]:
    """One statsforecast model's forecast of every series (``n_jobs=1``) and its wall time."""
    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS, AutoTheta, Naive, SeasonalNaive

    model = {"AutoETS": AutoETS, "AutoTheta": AutoTheta, "SeasonalNaive": SeasonalNaive}[name](season_length=season)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        started = time.perf_counter()
        fc: Any = StatsForecast(models=[model], freq=pd_freq, n_jobs=1, fallback_model=Naive()).forecast(df=df, h=holdout)
        took = time.perf_counter() - started
    f = pl.from_pandas(fc.reset_index()).select(pl.col("unique_id").cast(pl.String), "ds", pl.col(name).alias("y_hat"))
    f = f.with_columns(pl.col("ds").rank("ordinal").over("unique_id").alias("step"), pl.lit(name).alias("model"))
    return f.select("unique_id", "step", "y_hat", "model"), took


def timed_side_by_side(
    train: pl.DataFrame, freq: str, season: int, holdout: int, market: str, rounds: int
) -> tuple[pl.DataFrame, list[float], dict[str, list[float]]]:
    """c2m and AutoETS alternately ``rounds`` times (the host's speed drifts: each round times
    both under the same conditions), then AutoTheta and SeasonalNaive once; every forecast,
    c2m's times and statsforecast's times per model. The forecasts are deterministic: those
    of the first round are scored."""
    df, pd_freq = statsforecast_frame(train, freq)
    frames: dict[str, pl.DataFrame] = {}
    c2m_times: list[float] = []
    times: dict[str, list[float]] = {"AutoETS": [], "AutoTheta": [], "SeasonalNaive": []}
    for _ in range(rounds):
        c2m, took = run_c2m(train, freq, holdout, market)
        frames.setdefault("c2m", c2m)
        c2m_times.append(took)
        ets, took = run_statsforecast(df, pd_freq, "AutoETS", season, holdout)
        frames.setdefault("AutoETS", ets)
        times["AutoETS"].append(took)
    for name in ("AutoTheta", "SeasonalNaive"):
        frames[name], took = run_statsforecast(df, pd_freq, name, season, holdout)
        times[name].append(took)
    return pl.concat(frames.values()), c2m_times, times


def score(forecasts: pl.DataFrame, test: pl.DataFrame, train: pl.DataFrame, season: int) -> pl.DataFrame:
    """MASE per series and model (a series a model did not forecast: a forecast of zero)."""
    scale = (
        train.sort("unique_id", "ds").group_by("unique_id", maintain_order=True)
        .agg((pl.col("y") - pl.col("y").shift(season)).abs().mean().alias("scale"), pl.col("y").abs().mean().alias("level"))
        .with_columns(pl.when(pl.col("scale") > 0).then("scale").when(pl.col("level") > 0).then("level").otherwise(1.0).alias("scale"))
    )
    truth = test.sort("unique_id", "ds").with_columns(pl.col("ds").rank("ordinal").over("unique_id").alias("step"))
    grid = truth.select("unique_id", "step", "y").join(forecasts.select("model").unique(), how="cross")
    joined = grid.join(forecasts, on=["unique_id", "step", "model"], how="left").with_columns(pl.col("y_hat").fill_null(0.0).clip(0.0))
    return (
        joined.join(scale, on="unique_id")
        .group_by("model", "unique_id")
        .agg(((pl.col("y") - pl.col("y_hat")).abs().mean() / pl.col("scale").first()).alias("MASE"))
        .sort("model", "unique_id")
    )


def bench(name: str, top: int, rounds: int) -> None:
    frame, freq, season, holdout, market = load(name, top)
    train, test = split(frame, holdout)
    forecasts, c2m_times, times = timed_side_by_side(train, freq, season, holdout, market, rounds)
    mase = score(forecasts, test, train, season)
    wide = mase.pivot(on="model", index="unique_id", values="MASE")
    n = wide.height
    def geo(other: str) -> float:
        both = wide.filter((pl.col("c2m") > 0) & (pl.col(other) > 0))
        return float(both.select((pl.col("c2m") / pl.col(other)).log().mean().exp()).item())

    ratio, ratio_theta = geo("AutoETS"), geo("AutoTheta")
    n_beats = int(wide.select((pl.col("c2m") < pl.col("SeasonalNaive")).sum()).item())
    beats = n_beats / max(n, 1)
    means = {m: float(cast(float, wide[m].mean())) for m in ("c2m", "AutoETS", "AutoTheta", "SeasonalNaive")}
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\n== {name}: {n} series ({freq}), holdout {holdout}, MASE scale lag {season}, market {market}")
    c2m_time, ets_time = float(np.median(c2m_times)), float(np.median(times["AutoETS"]))
    if rounds > 1:
        print(f"rounds      {rounds}, c2m and AutoETS alternately; c2m " + ", ".join(f"{t:.2f}" for t in c2m_times)
              + " s; AutoETS " + ", ".join(f"{t:.2f}" for t in times["AutoETS"]) + " s; ratios "
              + ", ".join(f"{a / b:.2f}" for a, b in zip(c2m_times, times["AutoETS"], strict=True)))
    label = "median " if rounds > 1 else ""
    print(f"wall time   {label}c2m {c2m_time:7.2f} s | {label}AutoETS {ets_time:7.2f} s | "
          + " | ".join(f"{k} {v[0]:7.2f} s" for k, v in times.items() if k != "AutoETS") + f" | c2m/AutoETS {c2m_time / ets_time:.2f}×")
    print("mean MASE   " + " | ".join(f"{k} {v:.4f}" for k, v in means.items()))
    print(f"mean-MASE ratio c2m/AutoETS {means['c2m'] / means['AutoETS']:.3f}")
    print(f"geo-mean MASE ratio c2m/AutoETS {ratio:.3f} | c2m/AutoTheta {ratio_theta:.3f} | c2m better than seasonal naive on {beats:.1%} of series ({n_beats} of {n})")
    print(f"peak memory (max RSS of this process) {peak:.0f} MiB")
    if os.environ.get("C2M_BENCH_DETAIL"):
        with pl.Config(tbl_rows=200):
            print(wide.sort("unique_id"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=["walmart", "seasonal", "cj"], default=None)
    parser.add_argument("--top", type=int, default=2000, help="Complete Journey products (by units)")
    parser.add_argument("--rounds", type=int, default=None, help="c2m and AutoETS timed alternately this many times "
                        f"(medians reported; default {ROUNDS})")
    args = parser.parse_args()
    if args.only:
        bench(args.only, args.top, args.rounds or ROUNDS[args.only])
        return
    for name in ("walmart", "seasonal", "cj"):
        if name == "cj" and not CJ.is_file():
            print(f"Complete Journey not found at {CJ}: skipped")
            continue
        extra = ["--rounds", str(args.rounds)] if args.rounds else []
        subprocess.run([sys.executable, __file__, "--only", name, "--top", str(args.top), *extra], check=True)


if __name__ == "__main__":
    main()
