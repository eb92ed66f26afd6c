"""`c2m forecast` end to end on small planted worlds: tables, coherence, festivals, errors."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from c2m_cli.forecast import run_forecast
from c2m_cli.forecast.intervals import QUANTILE_COLUMNS
from c2m_cli.workspace import Workspace
from tests.forecast.helpers import orders_frame, planted_world, write_workspace

PINNED_FORECAST = ["level", "unique_id", "ds", "model", "y_hat", "q0.05", "q0.1", "q0.5", "q0.9", "q0.95"]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, dict]:
    # ends on Sunday 2024-10-20: the 8 weeks ahead hold the 双11 window (10-31 … 11-11)
    ws = planted_world(tmp_path_factory.mktemp("fc") / "ws", days=658)
    summary = run_forecast(ws, levels="total,category_l1,sku,channel")
    return ws, summary


def test_tables_and_pinned_columns(world: tuple[Workspace, dict]) -> None:
    ws, summary = world
    forecast = ws.read("forecast")
    assert forecast.columns[: len(PINNED_FORECAST)] == PINNED_FORECAST
    assert forecast.schema["ds"] == pl.Date
    assert sorted(forecast["ds"].unique().to_list())[0] == dt.date(2024, 10, 21)  # a Monday
    assert forecast["ds"].n_unique() == 8
    sel = forecast.filter(pl.col("model") == "selected")
    assert sel.group_by("level").agg(pl.col("unique_id").n_unique()).sort("level").rows() == [
        ("category_l1", 4), ("channel", 2), ("sku", 24), ("total", 1)
    ]
    backtest = ws.read("backtest")
    assert backtest.columns == ["level", "unique_id", "cutoff", "ds", "model", "y", "y_hat"]
    assert backtest["cutoff"].n_unique() >= 3
    assert (backtest["ds"] > backtest["cutoff"]).all()
    metrics = ws.read("forecast_metrics")
    assert metrics.columns == ["level", "unique_id", "model", "metric", "value"]
    assert set(metrics["metric"].unique()) == {"MASE", "sMAPE", "WAPE", "bias", "coverage_80", "coverage_90"}
    assert summary["rows"]["forecast"] == forecast.height
    step = ws.manifest()["steps"][-1]
    assert step["command"] == "forecast"
    assert step["parameters"]["levels"] == "total,category_l1,sku,channel"


def test_levels_add_up_and_quantiles_are_ordered(world: tuple[Workspace, dict]) -> None:
    ws, _ = world
    sel = ws.read("forecast").filter(pl.col("model") == "selected")
    total = sel.filter(pl.col("level") == "total").select("ds", "y_hat").sort("ds")
    for level in ("category_l1", "sku", "channel"):
        summed = sel.filter(pl.col("level") == level).group_by("ds").agg(pl.col("y_hat").sum()).sort("ds")
        np.testing.assert_allclose(summed["y_hat"].to_numpy(), total["y_hat"].to_numpy(), rtol=1e-9)
    forecast = ws.read("forecast")
    q = forecast.select(QUANTILE_COLUMNS).to_numpy()
    assert (q >= 0).all() and (forecast["y_hat"] >= 0).all()
    assert (np.diff(q, axis=1) >= -1e-9).all()


def test_planted_festival_uplift_is_forecast(world: tuple[Workspace, dict]) -> None:
    ws, summary = world
    # planted: demand × 3 on every 双11 window day (2 extra plain days per festival day)
    assert summary["festival_effects"]["双11"] == pytest.approx(2.0, abs=0.35)
    assert summary["festival_effects"]["618"] == pytest.approx(1.5, abs=0.35)
    total = ws.read("forecast").filter((pl.col("level") == "total") & (pl.col("model") == "selected")).sort("ds")
    y = total["y_hat"].to_numpy()
    festival_week = total["ds"].to_list().index(dt.date(2024, 11, 4))  # Nov 4–10: all window days
    others = np.delete(y, [festival_week, festival_week - 1, festival_week + 1])
    assert y[festival_week] >= 2.5 * np.median(others)


def test_backtest_coverage_is_near_nominal(world: tuple[Workspace, dict]) -> None:
    _, summary = world
    sku = summary["backtest"]["sku"]
    assert sku["coverage_80"] == pytest.approx(0.80, abs=0.07)
    assert sku["coverage_90"] == pytest.approx(0.90, abs=0.07)
    # one series: its interval residuals are filled up from the closest level below it (2 series)
    assert summary["interval_pooling"] == {"total": ["channel"]}
    assert summary["backtest"]["total"]["coverage_80"] == pytest.approx(0.80, abs=0.08)


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    hashes = []
    for name in ("a", "b"):
        ws = planted_world(tmp_path / name, n_sku=6, days=400)
        run_forecast(ws, levels="total,sku", reconcile="mint_shrink")
        hashes.append({o["path"]: o["sha256"] for o in ws.manifest()["steps"][-1]["outputs"]})
    assert hashes[0] == hashes[1]


def test_mint_shrink_is_coherent(tmp_path: Path) -> None:
    ws = planted_world(tmp_path / "ws", n_sku=8, days=400)
    run_forecast(ws, levels="total,category_l1,sku", reconcile="mint_shrink")
    sel = ws.read("forecast").filter(pl.col("model") == "selected")
    by_level = sel.group_by("level", "ds").agg(pl.col("y_hat").sum()).pivot(on="level", index="ds", values="y_hat")
    np.testing.assert_allclose(by_level["sku"].to_numpy(), by_level["total"].to_numpy(), rtol=1e-9)
    np.testing.assert_allclose(by_level["category_l1"].to_numpy(), by_level["total"].to_numpy(), rtol=1e-9)
    assert set(sel.filter(pl.col("level") == "total")["method"]) == {"mint_shrink"}


def test_new_short_and_odd_series_fall_back(tmp_path: Path) -> None:
    ws = planted_world(tmp_path / "ws", n_sku=4, days=400)
    extra = orders_frame(
        [
            # a new product: sold in the last 3 weeks only → share of its category
            ("NEW", "2024-01-22T10:00:00", 4, "paid"),
            ("NEW", "2024-01-29T10:00:00", 4, "paid"),
            ("NEW", "2024-01-30T10:00:00", 2, "paid"),
            # one sale a year ago, then nothing: retired, dropped from the future
            ("OLD", "2023-02-01T10:00:00", 5, "paid"),
            # a product that was only ever refunded
            ("NEG", "2023-06-01T10:00:00", -2, "paid"),
        ]
    )
    orders = pl.concat([ws.read("orders"), extra], how="diagonal_relaxed")
    products = pl.concat([ws.read("products"), pl.DataFrame({"sku": ["NEW", "OLD", "NEG"], "category_l1": ["品类0"] * 3})])
    ws = write_workspace(tmp_path / "ws", orders, products)
    summary = run_forecast(ws, levels="total,category_l1,sku", net_returns=True)
    sel = ws.read("forecast").filter((pl.col("level") == "sku") & (pl.col("model") == "selected"))
    new = sel.filter(pl.col("unique_id") == "NEW")
    assert set(new["method"]) == {"category_share"}
    assert new["y_hat"].min() > 0
    assert sel.filter(pl.col("unique_id") == "OLD").height == 0
    assert summary["retired_products"] >= 1 and summary["new_products"] == 1
    assert sel.filter(pl.col("unique_id") == "NEG")["y_hat"].to_list() in ([], [0.0] * 8)


def test_one_period_of_history_forecasts_its_level(tmp_path: Path) -> None:
    orders = orders_frame([("A", "2024-01-01T10:00:00", 3, "paid"), ("A", "2024-01-07T10:00:00", 4, "paid")])
    ws = write_workspace(tmp_path / "ws", orders)
    summary = run_forecast(ws, levels="total,sku", horizon=3)
    assert summary["periods"] == 1 and summary["cutoffs"] == []
    sel = ws.read("forecast").filter(pl.col("model") == "selected")
    assert sel["y_hat"].to_list() == [7.0] * 6
    assert ws.read("backtest").height == 0


def test_cli_errors_and_json(tmp_path: Path, c2m) -> None:  # type: ignore[no-untyped-def]
    empty = tmp_path / "empty"
    empty.mkdir()
    done = c2m("forecast", empty)
    assert done.exit_code == 4
    assert "Error: orders.parquet is not in workspace" in done.stderr
    assert "(needed by c2m forecast)" in done.stderr
    ws = write_workspace(tmp_path / "ws", orders_frame([("A", "2024-01-01T10:00:00", 3, "paid")]))
    done = c2m("forecast", ws.root, "--freq", "Q")
    assert done.exit_code == 2
    assert "Error: --freq must be one of D, W, M, got 'Q'" in done.stderr
    done = c2m("forecast", ws.root, "--levels", "total,brand")
    assert done.exit_code == 2
    assert "--levels: unknown level 'brand'" in done.stderr
    done = c2m("forecast", ws.root, "--levels", "province")
    assert done.exit_code == 3
    assert "orders.parquet: level 'province' asked for but the orders have no province column" in done.stderr
    done = c2m("forecast", ws.root, "--horizon", "2", "--freq", "D", "--json")
    assert done.exit_code == 0, done.stderr
    payload = json.loads(done.stdout)
    assert payload["command"] == "forecast" and payload["ok"] is True
    assert payload["rows"]["forecast"] > 0


def test_presale_is_a_leading_signal_learned_from_a_launched_product(tmp_path: Path) -> None:
    ws = planted_world(tmp_path / "ws", n_sku=4, days=406)  # 2023-01-02 … 2024-02-11 (Sunday)
    lines = [
        # reference REF: 10 units pre-sold before its launch on 2023-09-04, then 30 paid units
        # in the 8 weeks (56 days) after launch → conversion 3 paid units per pre-sold unit
        *[("REF", "2023-08-20T10:00:00", 1, "presale")] * 10,
        *[("REF", f"2023-09-{d:02d}T10:00:00", 3, "paid") for d in range(4, 14)],
        # upcoming UP: 20 units pre-sold, launching Monday 2024-02-26 (week 3 of the horizon)
        *[("UP", "2024-02-01T10:00:00", 2, "presale")] * 10,
    ]
    orders = pl.concat([ws.read("orders"), orders_frame(lines)], how="diagonal_relaxed")
    products = pl.concat(
        [
            ws.read("products").with_columns(pl.lit(None, dtype=pl.Date).alias("launch_date")),
            pl.DataFrame(
                {"sku": ["REF", "UP"], "category_l1": ["品类0", "品类1"], "launch_date": [dt.date(2023, 9, 4), dt.date(2024, 2, 26)]}
            ),
        ]
    )
    ws = write_workspace(tmp_path / "ws", orders, products)
    summary = run_forecast(ws, levels="total,category_l1,sku", horizon=8)
    assert summary["presale_conversion"] == pytest.approx(3.0)
    assert summary["presale_reference_skus"] == ["REF"] and summary["presale_upcoming_skus"] == ["UP"]
    forecast = ws.read("forecast").filter(pl.col("model") == "selected")
    up = forecast.filter(pl.col("unique_id") == "UP").sort("ds")
    # 2 weeks before launch: nothing; launch week: 20 shipped + 3 × 20 × 7/56; then 7.5 a week
    assert up["y_hat"].to_list() == pytest.approx([0, 0, 20 + 7.5, 7.5, 7.5, 7.5, 7.5, 7.5])
    assert up["q0.95"].to_list()[:2] == [0.0, 0.0]
    by_level = forecast.group_by("level", "ds").agg(pl.col("y_hat").sum()).pivot(on="level", index="ds", values="y_hat")
    np.testing.assert_allclose(by_level["sku"].to_numpy(), by_level["total"].to_numpy(), rtol=1e-9)
    np.testing.assert_allclose(by_level["category_l1"].to_numpy(), by_level["total"].to_numpy(), rtol=1e-9)


def test_daily_forecast_keeps_the_weekday_pattern(tmp_path: Path) -> None:
    ws = planted_world(tmp_path / "ws", n_sku=6, days=364, uplift={}, weekend=2.0)
    summary = run_forecast(ws, levels="total,sku", freq="D", horizon=14)
    effects = summary["weekday_effects"]  # Monday … Sunday, averaging 1
    assert effects[5] / effects[2] == pytest.approx(2.0, rel=0.12)
    assert effects[6] / effects[0] == pytest.approx(2.0, rel=0.12)
    total = ws.read("forecast").filter((pl.col("level") == "total") & (pl.col("model") == "selected")).sort("ds")
    by_day = dict(zip(total["ds"].dt.weekday().to_list(), total["y_hat"].to_list(), strict=False))  # 1 = Monday
    assert by_day[6] / by_day[3] == pytest.approx(2.0, rel=0.15)


def test_all_zero_and_all_negative_demand(tmp_path: Path, c2m) -> None:  # type: ignore[no-untyped-def]
    netted_out = orders_frame(
        [("A", "2024-01-01T10:00:00", 2, "paid"), ("A", "2024-01-02T10:00:00", -2, "paid"), ("A", "2024-01-14T10:00:00", 0, "paid")]
    )
    ws = write_workspace(tmp_path / "zero", netted_out)
    done = c2m("forecast", ws.root, "--net-returns", "--levels", "total,sku")
    assert done.exit_code == 3
    assert "Error: orders.parquet: the paid quantities are zero in every period (after netting returns): nothing to forecast" in done.stderr
    # only refunds: demand below zero is no demand; the forecast is zero, not negative
    refunds = orders_frame([("A", "2024-01-01T10:00:00", -2, "paid"), ("A", "2024-01-14T10:00:00", -1, "paid")])
    ws = write_workspace(tmp_path / "negative", refunds)
    summary = run_forecast(ws, levels="total,sku", net_returns=True, horizon=2)
    assert summary["series"] == {"total": 1, "sku": 1}
    assert ws.read("forecast")["y_hat"].max() == 0.0
