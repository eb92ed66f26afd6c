"""Bounded memory: per-user aggregates a user-hash partition at a time, baskets counted a basket
partition at a time, the per-user tables read with only the columns and rows recommend uses.
Every partitioned result must equal the one-pass result exactly."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from c2m_cli.recommend import data, price_bands
from c2m_cli.recommend.bundles import baskets_of, count_baskets, mine_bundles
from c2m_cli.recommend.data import Inputs, in_part, prepare_lines


def _world(seed: int = 3, users: int = 600) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Orders over 3 categories × 6 products (random prices, fractional quantities), customers."""
    rng = np.random.default_rng(seed)
    n = users * 6
    user = rng.integers(0, users, n)
    sku = rng.integers(0, 18, n)
    orders = pl.DataFrame({
        "order_id": [f"o{u}-{k}" for u, k in zip(user, rng.integers(0, 3, n), strict=True)],
        "user_id": [f"u{u:04d}" for u in user], "sku": [f"S{s:02d}" for s in sku],
        "ts": [dt.datetime(2025, 1, 1, tzinfo=dt.UTC) + dt.timedelta(days=int(d)) for d in rng.integers(0, 120, n)],
        "qty": np.round(rng.gamma(2.0, 0.7, n), 2), "unit_price": np.round(10 + sku * 7 + rng.normal(0, 3, n), 2),
    })
    products = pl.DataFrame({"sku": [f"S{s:02d}" for s in range(18)], "category_l2": [f"c{s % 3}" for s in range(18)]})
    customers = pl.DataFrame({"user_id": [f"u{u:04d}" for u in range(users)],
                              "gender": rng.choice(["F", "M"], users).tolist(),
                              "birth_year": rng.integers(1960, 2005, users).tolist()})
    return orders, products, customers


def _inputs(orders: pl.DataFrame, products: pl.DataFrame, customers: pl.DataFrame) -> Inputs:
    lines = prepare_lines(orders, products, "UTC")
    return Inputs(orders=orders, products=products, customers=customers, lines=lines,
                  start=lines["date"].min(), end=lines["date"].max(), chinese=True)  # type: ignore[arg-type]


def test_user_partitions_are_disjoint_and_cover_every_user() -> None:
    users = pl.DataFrame({"user_id": [f"u{i}" for i in range(5000)]})
    parts = [users.filter(in_part("user_id", (k, 7))) for k in range(7)]
    assert sum(p.height for p in parts) == 5000
    assert pl.concat(parts)["user_id"].n_unique() == 5000
    assert min(p.height for p in parts) > 5000 / 7 * 0.8  # a hash spreads them


def test_bands_and_portraits_in_partitions_equal_one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    orders, products, customers = _world()
    one = _inputs(orders, products, customers)
    assert one.user_parts() == 1
    table1, sku_band1 = price_bands.band_table(one)
    portrait1 = price_bands.portraits(one, sku_band1, min_buyers=10)
    monkeypatch.setattr(data, "LINES_PER_PART", 700)  # 3,600 lines → 6 partitions
    many = _inputs(orders, products, customers)
    assert many.user_parts() == 6
    table6, sku_band6 = price_bands.band_table(many)
    portrait6 = price_bands.portraits(many, sku_band6, min_buyers=10)
    assert portrait1.height > 20 and table1.height >= 6
    # the median paid price per SKU, taken per SKU partition, is the one-pass median
    assert_frame_equal(one.sku_table(), many.sku_table())
    assert one.sku_table()["price"].null_count() == 0
    assert_frame_equal(sku_band1, sku_band6)
    assert_frame_equal(table1, table6, check_exact=False, rel_tol=1e-12)
    assert_frame_equal(portrait1, portrait6, check_exact=False, rel_tol=1e-12)
    # buyers by hand: distinct users with a paid line in the band
    lines = prepare_lines(orders, products, "UTC").filter((pl.col("qty") > 0) & (pl.col("unit_price") > 0))
    by_hand = (lines.join(sku_band1.select("sku", "category", "band"), on="sku").group_by("category", "band")
               .agg(pl.col("user_id").n_unique().alias("buyers")).sort("category", "band"))
    assert table6.select("category", "band", pl.col("buyers").cast(pl.UInt32)).equals(by_hand.with_columns(pl.col("buyers").cast(pl.UInt32)))


def test_baskets_counted_in_partitions_equal_one_pass_and_by_hand() -> None:
    orders, _, _ = _world(seed=5)
    pairs = baskets_of(orders)
    n1, items1 = count_baskets(pairs)
    n4, items4 = count_baskets(pairs, 4)
    assert n1 == n4 == orders["order_id"].n_unique()
    by_hand = orders.group_by(pl.col("sku").alias("item")).agg(pl.col("order_id").n_unique().alias("n")).sort("item")
    assert_frame_equal(items1.sort("item"), by_hand, check_dtypes=False)
    assert_frame_equal(items4.sort("item"), by_hand, check_dtypes=False)
    rules1, note1 = mine_bundles(pairs, min_support=0.01, min_count=3, alpha=1.0)
    rules_k, note_k = mine_bundles(pairs, min_support=0.01, min_count=3, alpha=1.0, rows_per_chunk=500, counts=(n4, items4))
    assert rules1.height > 0 and note1["frequent_pairs"] > 0
    assert_frame_equal(rules1, rules_k)
    assert note1 == note_k


def test_recommend_reads_only_the_label_and_tag_rows_it_uses(c2m, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    orders, products, _ = _world(users=200)
    ws = tmp_path / "ws"
    ws.mkdir()
    orders.write_parquet(ws / "orders.parquet")
    products.write_parquet(ws / "products.parquet")
    users = sorted(orders["user_id"].unique().to_list())
    stages = ["active", "sleeping", "dormant", "new"]
    pl.DataFrame({
        "user_id": users, "lifecycle_stage": [stages[i % 4] for i in range(len(users))],
        "lifecycle_recency_days": [30 * (i % 4) for i in range(len(users))],
        "lifecycle_ladder": ["super_user" if i % 10 == 0 else "regular" for i in range(len(users))],
        "value_p_alive": [0.5] * len(users), "value_clv": [float(i) for i in range(len(users))],
        "unused_wide_column": ["x" * 50] * len(users),
    }).write_parquet(ws / "labels.parquet")
    result = c2m("recommend", ws, "--json")
    assert result.exit_code == 0, result.stderr
    audiences = pl.read_parquet(ws / "audiences.parquet")
    # every sleeping or dormant user is a reactivation row, every tenth a super user: no more, no less
    assert audiences.filter(pl.col("audience") == "reactivation").height == sum(1 for i in range(len(users)) if i % 4 in (1, 2))
    assert audiences.filter(pl.col("audience") == "super_users").height == len(range(0, len(users), 10))
