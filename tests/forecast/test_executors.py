"""Local serial, the 2-process pool and a real Dask cluster give byte-identical forecasts."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from c2m_cli.forecast import engine, run_forecast
from tests.forecast.helpers import planted_world


def _hashes(ws_root: Path) -> dict[str, str]:
    from c2m_cli.workspace import Workspace

    outputs = Workspace(ws_root).manifest()["steps"][-1]["outputs"]
    return {o["path"]: o["sha256"] for o in outputs}


def test_process_pool_and_dask_match_serial(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    distributed = pytest.importorskip("distributed")
    # small batches so that the work is really split over several tasks
    monkeypatch.setattr(engine, "BATCH_ROWS", 4)
    serial = planted_world(tmp_path / "serial", n_sku=10, days=400)
    monkeypatch.setattr(engine, "PARALLEL_CELLS", 10**12)
    run_forecast(serial, levels="total,category_l1,sku", global_model=True)

    pooled = planted_world(tmp_path / "pooled", n_sku=10, days=400)
    monkeypatch.setattr(engine, "PARALLEL_CELLS", 0)  # always use the process pool
    run_forecast(pooled, levels="total,category_l1,sku", global_model=True)

    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, protocol="tcp", dashboard_address=":0"
    ) as cluster:
        address = cluster.scheduler_address.replace("tcp://", "dask://")
        dask_ws = planted_world(tmp_path / "dask", n_sku=10, days=400)
        run_forecast(dask_ws, levels="total,category_l1,sku", global_model=True, executor=address)
        assert dask_ws.manifest()["steps"][-1]["parameters"]["executor"] == address

    expected = _hashes(serial.root)
    assert set(expected) == {"forecast.parquet", "backtest.parquet", "forecast_metrics.parquet", "forecast_model.json"}
    assert _hashes(pooled.root) == expected
    assert _hashes(dask_ws.root) == expected
    forecast = serial.read("forecast")
    assert forecast.filter(pl.col("model") == "global_hgb")["unique_id"].n_unique() == 10  # the sku level
