"""End to end on a small synthetic world: the planted festival uplifts are in the forecast."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from c2m_cli.forecast import run_forecast
from c2m_cli.workspace import Workspace

synth = pytest.importorskip("c2m_cli.synth")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, dict]:
    ws = Workspace(tmp_path_factory.mktemp("world") / "ws")
    synth.generate_world(ws, users=2000, seed=0)
    summary = run_forecast(ws)
    return ws, summary


def test_world_forecast_tables_and_scorecard(world: tuple[Workspace, dict]) -> None:
    from c2m_cli.scorecard.forecast import score

    ws, summary = world
    assert summary["timezone"] == "Asia/Shanghai"
    assert summary["forecast_from"] == "2025-12-01"  # the Monday after the world's last day
    rows = {r["check"]: r for r in score(ws)}
    for key in ("check", "value", "target", "passed", "detail"):
        assert all(key in r for r in rows.values())
    # the planted 双11 uplift, forecast from the history before its window
    double11 = rows["planted 双11 uplift in the forecast (total, festival week / median other weeks)"]
    assert double11["passed"] is True and double11["value"] >= 1.8
    # the window-day effect c2m fitted against the planted one
    assert rows["双11 window-day effect estimated (× a plain day)"]["passed"] is True
    assert rows["618 window-day effect estimated (× a plain day)"]["passed"] is True
    # sku-level intervals hold their nominal coverage in backtest
    assert rows["backtest coverage of the 80 % interval (sku)"]["passed"] is True
    assert rows["backtest coverage of the 90 % interval (sku)"]["passed"] is True
    assert rows["MASE of selected / seasonal naive (sku)"]["passed"] is True
    # the pre-sold product is in the forecast with at least its pre-sold units
    presale = next(r for c, r in rows.items() if c.startswith("pre-sale SKU"))
    assert presale["passed"] is True


def test_world_selected_forecast_is_coherent(world: tuple[Workspace, dict]) -> None:
    ws, _ = world
    sel = ws.read("forecast").filter(pl.col("model") == "selected")
    sums = sel.group_by("level", "ds").agg(pl.col("y_hat").sum()).pivot(on="level", index="ds", values="y_hat")
    assert (sums["sku"] - sums["total"]).abs().max() < 1e-6
    assert (sums["category_l1"] - sums["total"]).abs().max() < 1e-6


def test_scorecard_without_truth_or_forecast(tmp_path: Path) -> None:
    from c2m_cli.scorecard.forecast import score

    rows = score(Workspace(tmp_path / "empty"))
    assert rows == [
        {"check": "forecast truth", "value": None, "target": "truth/world.json present", "passed": False,
         "detail": "no planted truth in this workspace"}
    ]
