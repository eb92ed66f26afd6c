"""The tables stage in bounded memory gives the same tables: candidates' backtests spilled to
memory maps, forecast/backtest row groups written straight into the output files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from c2m_cli.forecast import engine
from tests.forecast.helpers import no_fork, planted_world


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
    spilled = tmp_path / "b" / "backtests"
    assert list(spilled.glob("sku-*.f64"))  # spilled indeed: written there by the candidates stage
    assert not list(spilled.glob("sku-*.npy"))  # and mapped again, not written out a second time
    for a, b in zip(ref, got, strict=True):
        assert a.height > 0
        assert a.equals(b)


def test_backtest_detail_keeps_selected_rows_and_every_candidates_aggregate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Above DETAIL_SERIES series (auto) a level's backtest rows and per-series metrics are
    selected's only; every candidate keeps its aggregate (``*``) metrics, equal to those of
    ``all``; the levels below the limit keep every candidate's rows."""
    from c2m_cli.errors import UsageError
    from c2m_cli.workspace import Workspace

    ws = Workspace(planted_world(tmp_path / "ws", days=300).root)
    orders, products = pl.scan_parquet(ws.root / "orders.parquet"), ws.read("products")
    levels = ("total", "category_l1", "sku")  # 1, 4 and 24 series
    monkeypatch.setattr(engine, "DETAIL_SERIES", 10)
    runs = {d: engine.compute_forecast(orders, products, levels=levels, market="cn", backtest_detail=d) for d in ("all", "auto", "selected")}
    assert runs["auto"].summary["backtest_detail"] == {"total": "all", "category_l1": "all", "sku": "selected"}
    assert runs["all"].summary["backtest_detail"] == dict.fromkeys(levels, "all")
    assert runs["selected"].summary["backtest_detail"] == dict.fromkeys(levels, "selected")
    full, auto = runs["all"], runs["auto"]
    candidates = set(full.backtest.filter(pl.col("level") == "sku")["model"].unique().to_list()) - {"selected"}
    assert len(candidates) >= 8
    key = ["level", "unique_id", "cutoff", "ds", "model"]
    for level in ("total", "category_l1"):  # below the limit: every row kept
        assert auto.backtest.filter(pl.col("level") == level).sort(key).equals(full.backtest.filter(pl.col("level") == level).sort(key))
    sku_auto = auto.backtest.filter(pl.col("level") == "sku")
    assert sku_auto["model"].unique().to_list() == ["selected"]
    sku_full = full.backtest.filter((pl.col("level") == "sku") & (pl.col("model") == "selected"))
    assert sku_auto.sort(key).equals(sku_full.sort(key))
    assert full.rows["backtest"] - auto.rows["backtest"] == full.backtest.filter((pl.col("level") == "sku") & (pl.col("model") != "selected")).height
    m_full, m_auto = full.metrics, auto.metrics
    sku_rows = m_auto.filter((pl.col("level") == "sku") & (pl.col("unique_id") != "*"))
    assert sku_rows["model"].unique().to_list() == ["selected"] and sku_rows["unique_id"].n_unique() == 24
    agg = ["level", "model", "metric"]
    star_full = m_full.filter(pl.col("unique_id") == "*").sort(agg)
    assert m_auto.filter(pl.col("unique_id") == "*").sort(agg).equals(star_full)  # every candidate, the same numbers
    assert set(star_full.filter(pl.col("level") == "sku")["model"].to_list()) == candidates | {"selected"}
    assert runs["selected"].metrics.filter(pl.col("unique_id") != "*")["model"].unique().to_list() == ["selected"]
    assert full.forecast.equals(auto.forecast)  # the forecast table does not depend on it
    with pytest.raises(UsageError, match="--backtest-detail must be one of auto, all, selected"):
        engine.compute_forecast(orders, products, levels=levels, market="cn", backtest_detail="some")


def _assert_same_tables(a: engine.ForecastResult, b: engine.ForecastResult) -> None:
    for x, y in ((a.forecast, b.forecast), (a.backtest, b.backtest), (a.metrics, b.metrics)):
        assert x.height > 0 and x.equals(y)


@pytest.mark.parametrize("intervals", ["per_level", "coherent"])
def test_candidates_summarised_in_worker_processes_change_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, intervals: str) -> None:
    """A big level's candidates' intervals and aggregate metrics computed in forked workers (and
    selected's held-out tables here meanwhile, its metrics rows put back in model order) give the
    serial run's tables; so does the same path where nothing can fork (selected first, then the
    candidates serially)."""
    from c2m_cli.workspace import Workspace

    ws = Workspace(planted_world(tmp_path / "ws", days=300).root)
    orders, products = pl.scan_parquet(ws.root / "orders.parquet"), ws.read("products")
    monkeypatch.setattr(engine, "DETAIL_SERIES", 10)
    calls: list[str] = []
    summary = engine._candidate_summaries

    def spy(resid: engine.Residuals, level: str, names: list[str], axis: engine.Axis, meanwhile=None) -> dict:  # type: ignore[type-arg,no-untyped-def]
        out = summary(resid, level, names, axis, meanwhile)
        calls.extend(out)
        return out

    monkeypatch.setattr(engine, "_candidate_summaries", spy)
    runs = []
    for limit in (10**9, 10):
        monkeypatch.setattr(engine, "PARALLEL_TABLE_SERIES", limit)
        runs.append(engine.compute_forecast(orders, products, levels=("total", "category_l1", "sku"), market="cn", intervals=intervals))
    assert len(calls) >= 8 and "selected" not in calls  # the sku candidates, in workers
    monkeypatch.setattr(engine, "forked_map", no_fork)
    runs.append(engine.compute_forecast(orders, products, levels=("total", "category_l1", "sku"), market="cn", intervals=intervals))
    serial, forked, unforked = runs
    _assert_same_tables(serial, forked)
    _assert_same_tables(serial, unforked)


def test_a_big_level_ranked_in_worker_processes_changes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A level of many series ranks its candidates in chunks of series in forked workers
    (engine._ranked) and makes its picks' means in two shares (engine._pick_mean_shared):
    rankings, selection and every table are those of the serial run."""
    from c2m_cli.workspace import Workspace

    ws = Workspace(planted_world(tmp_path / "ws", days=300).root)
    orders, products = pl.scan_parquet(ws.root / "orders.parquet"), ws.read("products")
    chunks: list[slice] = []
    forked = engine.forked_map

    def spy(job, items, meanwhile=None, fork_one=False):  # type: ignore[no-untyped-def]
        out = forked(job, items, meanwhile, fork_one)
        if out is not None and all(isinstance(i, slice) for i in items):
            chunks.extend(items)
        return out

    monkeypatch.setattr(engine, "forked_map", spy)
    runs = []
    for limit in (10**9, 10):
        monkeypatch.setattr(engine, "PARALLEL_RANK_SERIES", limit)
        runs.append(engine.compute_forecast(orders, products, levels=("total", "category_l1", "sku"), market="cn"))
    assert len(chunks) >= 8  # the sku level (and the categories), in chunks of series
    serial, forked_run = runs
    assert serial.summary == forked_run.summary
    _assert_same_tables(serial, forked_run)


def test_forked_map_keeps_item_order_and_runs_meanwhile_once() -> None:
    """engine.forked_map: results in item order from forked workers (a closure runs there: it is
    inherited, not pickled); ``meanwhile`` runs once in this process, also when nothing forks
    (one item: None, the caller runs it)."""
    import os

    calls: list[int] = []
    base = 10
    out = engine.forked_map(lambda x: (x * x + base, os.getpid()), [3, 1, 2, 5], meanwhile=lambda: calls.append(os.getpid()))
    assert out is not None and [v for v, _ in out] == [19, 11, 14, 35]
    assert calls == [os.getpid()] and all(pid != os.getpid() for _, pid in out)
    assert engine.forked_map(lambda x: x, [7], meanwhile=lambda: calls.append(0)) is None and calls[-1] == 0


def _forecast_rows(n: int, start: int = 0) -> pl.DataFrame:
    import datetime as dt

    ids = pl.Series("unique_id", [f"p{i:03d}" for i in range(start, start + n)], dtype=pl.String)
    point, quantiles = np.ones((n, 2)), np.ones((n, 2, len(engine.QUANTILE_COLUMNS)))
    days = [dt.date(2024, 1, 1), dt.date(2024, 1, 8)]
    return engine._forecast_frame("sku", ids, days, "naive", point, quantiles, ["naive"] * n, np.ones(n, dtype=bool))


def test_table_sink_writes_its_targets_in_order_in_the_background_and_finishes_before_a_fork(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Frames handed to a target are written by one background thread, in order; a fork waits
    until none is being written (os.register_at_fork); the file holds every frame once."""
    import os
    import threading
    import time

    writers: list[str] = []
    write = engine.TableSink._write

    def slow_write(self: engine.TableSink, table: str, frame: pl.DataFrame) -> None:
        writers.append(threading.current_thread().name)
        time.sleep(0.05)
        write(self, table, frame)

    monkeypatch.setattr(engine.TableSink, "_write", slow_write)
    monkeypatch.setattr(engine, "WRITES_PENDING", 10)
    sink = engine.TableSink(None, {"forecast": tmp_path / "forecast.parquet"})
    frames = [_forecast_rows(5, 5 * i) for i in range(4)]
    for frame in frames:
        sink.add("forecast", frame)
    assert sink.pending  # still being written
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    assert not sink.pending  # the fork waited for every write
    os.waitpid(pid, 0)
    sink.tables()
    assert set(writers) == {writers[0]} and writers[0].startswith("c2m-tables")
    assert pl.read_parquet(tmp_path / "forecast.parquet").equals(pl.concat(frames))


def test_table_sink_raises_a_failed_background_write(tmp_path: Path) -> None:
    sink = engine.TableSink(None, {"forecast": tmp_path / "missing" / "forecast.parquet"})
    sink.add("forecast", _forecast_rows(3))  # its directory does not exist: the write fails
    with pytest.raises(OSError):
        sink.tables()
    assert sink.thread is None and not sink.writers
