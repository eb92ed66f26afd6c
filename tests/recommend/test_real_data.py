"""recommend on the real public data sets (skipped when ../shared/data is absent)."""

from __future__ import annotations

import time
from pathlib import Path

import polars as pl
import pytest

from c2m_cli.recommend._text import is_service_aspect
from c2m_cli.recommend.bundles import baskets_of, mine_bundles
from c2m_cli.recommend.reviews import guess_category, micro_demand_opportunities, micro_demands

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


def test_reviews_zh_laptop_micro_demands_are_product_aspects_and_placeholders_are_not_mined(shared_data: Path) -> None:
    reviews = pl.read_csv(shared_data / "reviews_zh" / "reviews.csv")
    guessed = reviews.with_columns(category=guess_category(reviews["text"]))
    laptop = guessed.filter(pl.col("category") == "笔记本电脑")
    others = guessed.filter(pl.col("category").is_in(["酒店", "图书", "母婴", "手机"])).sample(n=4000, seed=0)
    # platform placeholders as Taobao / JD exports carry them, mixed into the laptop reviews
    filler = pl.DataFrame({"text": ["此用户没有填写评价。", "系统默认好评", "评价方未及时做出评价,系统默认好评!"] * 200,
                           "category": ["笔记本电脑"] * 600})
    pool = pl.concat([laptop.select("text", "category"), filler, others.select("text", "category")])
    table, note = micro_demands(pool, min_share=0.004)
    assert note["placeholders_dropped"] == 600
    assert not table["quotes"].list.eval(pl.element().str.contains("填写评价|默认好评")).list.any().any()
    assert not table["aspect"].is_in(["评价", "用户", "此用户", "好评", "默认好评"]).any()
    mine = table.filter(pl.col("group") == "笔记本电脑")
    product = mine.filter(pl.col("scope") == "product")["aspect"].to_list()
    service = mine.filter(pl.col("scope") == "service")["aspect"].to_list()
    assert not [a for a in product if is_service_aspect(a)], product
    assert not set(product) & {"发货", "物流", "快递", "客服", "态度", "售后", "包装"}, product
    assert {"散热", "键盘", "驱动", "电池", "屏幕"} <= set(product[:30]), product
    # the few service complaints of these reviews (送货, 售后, 服务态度, 包装: 2–3 mentions each)
    # are below the mention floor; any that pass are kept apart, never a product micro-demand
    assert all(is_service_aspect(a) for a in service)
    assert all(is_service_aspect(a) for a in ("送货", "售后", "服务态度", "包装", "客服态度", "发货速度"))
    opp = micro_demand_opportunities(table)
    assert not opp["subject"].str.contains("客服|物流|快递|发货|售后").any()


def test_complete_journey_bundles_significant_non_redundant_in_seconds(shared_data: Path) -> None:
    started = time.perf_counter()
    tx = pl.scan_parquet(shared_data / "completejourney" / "transactions.parquet")
    rules, note = mine_bundles(baskets_of(tx, "basket_id", "product_id"))
    elapsed = time.perf_counter() - started
    assert note["baskets"] > 150_000
    assert rules.height > 100
    assert (rules["lift"] > 1).all() and rules["lift"].max() > 10
    assert (rules["q_value"] < 0.05).all()
    assert note["insignificant_rules"] > 0  # the filter does filter on real baskets
    # no kept two-item rule is beaten by one of its one-item rules
    single = {(a[0], c[0]): lift for a, c, lift in rules.filter(pl.col("antecedent").list.len() == 1)
              .select("antecedent", "consequent", "lift").iter_rows()}
    for a, c, lift in rules.filter(pl.col("antecedent").list.len() == 2).select("antecedent", "consequent", "lift").iter_rows():
        assert lift > max(single.get((a[0], c[0]), 0.0), single.get((a[1], c[0]), 0.0))
    assert elapsed < 60
