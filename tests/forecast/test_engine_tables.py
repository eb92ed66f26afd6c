"""The tables stage in bounded memory gives the same tables: candidates' backtests spilled to
memory maps, forecast/backtest row groups written straight into the output files."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from c2m_cli.forecast import engine
from tests.forecast.helpers import planted_world


def _run(ws_root: Path, scratch: Path, targets: dict[str, Path] | None) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    from c2m_cli.workspace import Workspace

    ws = Workspace(ws_root)
    scratch.mkdir(parents=True, exist_ok=True)
    result = engine.compute_forecast(
        pl.scan_parquet(ws.root / "orders.parquet"), ws.read("products"), levels=("total", "category_l1", "sku"), market="cn",
        scratch=scratch, targets=targets,
    )
    forecast = pl.read_parquet(targets["forecast"]) if targets else result.forecast.collect()
    backtest = pl.read_parquet(targets["backtest"]) if targets else result.backtest.collect()
    return forecast, backtest, result.metrics


def test_spilled_backtests_and_direct_writes_change_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ws = planted_world(tmp_path / "ws", days=420)
    monkeypatch.setattr(engine, "SPILL_CELLS", 10**12)  # nothing spilled, parts read back
    ref = _run(ws.root, tmp_path / "a", None)
    monkeypatch.setattr(engine, "SPILL_CELLS", 1)  # every candidate's backtest spilled
    targets = {t: tmp_path / f"{t}.parquet" for t in ("forecast", "backtest")}
    got = _run(ws.root, tmp_path / "b", targets)
    assert list((tmp_path / "b" / "backtests").glob("sku-*.npy"))  # spilled indeed
    for a, b in zip(ref, got, strict=True):
        assert a.height > 0
        assert a.equals(b)
