"""recommend on the real public data sets (skipped when ../shared/data is absent)."""

from __future__ import annotations

import time
from pathlib import Path

import polars as pl
import pytest

from c2m_cli.recommend.audiences import super_users
from c2m_cli.recommend.bundles import baskets_of, mine_bundles
from c2m_cli.recommend.reviews import guess_category, micro_demands

pytestmark = pytest.mark.real_data


def test_reviews_zh_laptop_micro_demands_are_recognisable(shared_data: Path) -> None:
    reviews = pl.read_csv(shared_data / "reviews_zh" / "reviews.csv")
    guessed = reviews.with_columns(category=guess_category(reviews["text"]))
    # laptops and phones against a sample of the other domains as contrast
    pool = pl.concat([
        guessed.filter(pl.col("category").is_in(["笔记本电脑", "手机"])),
        guessed.filter(pl.col("category").is_in(["酒店", "图书", "母婴"])).sample(n=4000, seed=0),
    ])
    table, note = micro_demands(pool.select("text", "category"), min_share=0.01)
    assert note["grouped_by"] == "category"
    laptop = table.filter(pl.col("group") == "笔记本电脑")["aspect"].to_list()
    # what a person would recognise as a laptop's weak points, among the first ten
    assert {"散热", "键盘", "驱动"} <= set(laptop[:10]), laptop
    quotes = table.filter((pl.col("group") == "笔记本电脑") & (pl.col("aspect") == "散热"))["quotes"][0]
    assert all("散热" in q for q in quotes)
    # a lower share floor brings the rest of a laptop buyer's usual complaints
    wide, _ = micro_demands(pool.select("text", "category"), min_share=0.004)
    laptop_wide = wide.filter(pl.col("group") == "笔记本电脑")["aspect"].to_list()
    assert {"电池", "屏幕", "触摸板", "风扇"} <= set(laptop_wide[:30]), laptop_wide
    assert "xp" in laptop_wide and "XP" not in laptop_wide
    phone = table.filter(pl.col("group") == "手机")["aspect"].to_list()
    assert phone, "phone reviews yield at least one micro-demand"


def test_complete_journey_bundles_and_super_users_in_seconds(shared_data: Path) -> None:
    started = time.perf_counter()
    tx = pl.scan_parquet(shared_data / "completejourney" / "transactions.parquet")
    rules, note = mine_bundles(baskets_of(tx, "basket_id", "product_id"))
    elapsed = time.perf_counter() - started
    assert note["baskets"] > 150_000
    assert rules.height > 100
    assert (rules["lift"] > 1).all() and rules["lift"].max() > 10
    assert elapsed < 30
    lines = tx.select(
        pl.col("household_id").cast(pl.String).alias("user_id"),
        pl.col("product_id").cast(pl.String).alias("sku"),
        pl.col("transaction_timestamp").dt.date().alias("date"),
        pl.col("sales_value").alias("amount"),
    ).collect()
    top = super_users(lines, None, None, share=0.03, chinese=False)
    assert top.height == round(0.03 * lines["user_id"].n_unique())
    spend = lines.group_by("user_id").agg(pl.col("amount").sum())
    assert spend.join(top, on="user_id")["amount"].median() > 3 * spend["amount"].median()
