"""Small declarative worlds for the forecast tests."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl

from c2m_cli.calendar import festival_days
from c2m_cli.workspace import Workspace

START = dt.date(2023, 1, 2)  # a Monday


def orders_frame(rows: list[tuple[str, str, float, str | None]]) -> pl.DataFrame:
    """(sku, ISO timestamp in UTC, qty, status) → a canonical orders table."""
    return pl.DataFrame(
        {
            "order_id": [f"o{i}" for i in range(len(rows))],
            "user_id": "u1",
            "sku": [r[0] for r in rows],
            "ts": [dt.datetime.fromisoformat(r[1]) for r in rows],
            "qty": [float(r[2]) for r in rows],
            "unit_price": 1.0,
            "status": [r[3] for r in rows],
        },
        schema_overrides={"status": pl.String},
    ).with_columns(pl.col("ts").dt.replace_time_zone("UTC"))


def write_workspace(root: Path, orders: pl.DataFrame, products: pl.DataFrame | None = None, market: str = "cn") -> Workspace:
    """A workspace holding these tables, of ``market`` (the planted worlds are Chinese shops)."""
    ws = Workspace(root)
    ws.set_manifest_field("market", market)
    orders.write_parquet(ws.root / "orders.parquet")
    if products is not None:
        products.write_parquet(ws.root / "products.parquet")
    return ws


def planted_world(
    root: Path,
    *,
    n_sku: int = 24,
    days: int = 728,
    uplift: dict[str, float] | None = None,
    weekend: float = 1.0,
    seed: int = 0,
) -> Workspace:
    """Poisson daily demand per SKU in 4 categories; on each planted festival's window days
    demand is multiplied by its uplift, and on Saturdays and Sundays by ``weekend``. Two years
    from START (a Monday), timestamps in UTC."""
    uplift = {"双11": 3.0, "618": 2.5} if uplift is None else uplift
    rng = np.random.default_rng(seed)
    dates = pl.date_range(START, START + dt.timedelta(days=days - 1), "1d", eager=True)
    mult = np.where(np.arange(days) % 7 >= 5, weekend, 1.0)
    windows = festival_days(dates[0], dates[-1], market="cn")
    for name, factor in uplift.items():
        hit = windows.filter(pl.col("festival") == name)["date"]
        idx = np.array([(d - START).days for d in hit.to_list()], dtype=int)
        mult[idx] = factor
    skus = [f"S{i:03d}" for i in range(n_sku)]
    rate = rng.gamma(2.0, 1.0, size=n_sku)
    qty = rng.poisson(rate[:, None] * mult[None, :])
    s_i, d_i = np.nonzero(qty)
    orders = pl.DataFrame(
        {
            "order_id": [f"o{i}" for i in range(s_i.size)],
            "user_id": "u1",
            "sku": np.array(skus)[s_i],
            "ts": (np.datetime64(START) + d_i.astype("timedelta64[D]")).astype("datetime64[us]")
            + np.timedelta64(4, "h"),
            "qty": qty[s_i, d_i].astype(float),
            "unit_price": 1.0,
            "status": "paid",
            "channel": np.where(s_i % 2 == 0, "天猫", "京东"),
        }
    ).with_columns(pl.col("ts").dt.replace_time_zone("UTC"))
    products = pl.DataFrame(
        {"sku": skus, "category_l1": [f"品类{i % 4}" for i in range(n_sku)]}
    )
    return write_workspace(root, orders, products)


def no_fork(job, items, meanwhile=None, fork_one=False):  # type: ignore[no-untyped-def]
    """engine.forked_map where nothing can fork: runs ``meanwhile``, the caller runs the jobs."""
    if meanwhile is not None:
        meanwhile()
    return None
