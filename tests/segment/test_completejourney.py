"""Complete Journey (84.51°, 2,469 households, 2017): segments described from the real data.

Labels are built here from the raw transactions and demographics (spend, baskets, basket
value, discount and private-label shares; age and income bands where known — 801 of 2,469
households — left missing otherwise), orders and products as canonical tables, so the profile
numbers can be recomputed independently and compared.
"""

from __future__ import annotations

import re

import polars as pl
import pytest

from c2m_cli.segment import run_segment
from c2m_cli.workspace import Workspace

pytestmark = pytest.mark.real_data


@pytest.fixture(scope="module")
def cj(tmp_path_factory: pytest.TempPathFactory, shared_data_module) -> tuple[Workspace, dict, pl.DataFrame, pl.DataFrame]:
    src = shared_data_module / "completejourney"
    tx = pl.read_parquet(
        src / "transactions.parquet",
        columns=["household_id", "basket_id", "product_id", "sales_value", "retail_disc", "coupon_disc", "transaction_timestamp"],
    )
    products = pl.read_parquet(src / "products.parquet", columns=["product_id", "department", "brand"])
    demo = pl.read_parquet(src / "demographics.parquet", columns=["household_id", "age", "income"])
    end = tx["transaction_timestamp"].max()
    per = (
        tx.join(products, on="product_id", how="left")
        .group_by("household_id")
        .agg(
            pl.col("sales_value").sum().alias("value_clv"),
            pl.col("basket_id").n_unique().alias("behavior_baskets"),
            (-(pl.col("retail_disc") + pl.col("coupon_disc")).sum() / pl.col("sales_value").sum().clip(lower_bound=0.01)).alias("behavior_discount_rate"),
            (pl.col("sales_value").filter(pl.col("brand") == "Private").sum() / pl.col("sales_value").sum().clip(lower_bound=0.01)).alias("behavior_private_share"),
            pl.col("product_id").n_unique().alias("behavior_distinct_products"),
            ((end - pl.col("transaction_timestamp").max()).dt.total_days()).alias("recency"),
        )
        .with_columns((pl.col("value_clv") / pl.col("behavior_baskets")).alias("behavior_avg_basket"))
    )
    # spend share of the six largest departments: what a household buys, not only how much
    depts = (
        tx.join(products, on="product_id").group_by("department").agg(pl.col("sales_value").sum())
        .sort("sales_value", descending=True).head(6)["department"].to_list()
    )
    shares = (
        tx.join(products, on="product_id", how="left")
        .group_by("household_id")
        .agg(
            (pl.col("sales_value").filter(pl.col("department") == d).sum() / pl.col("sales_value").sum().clip(lower_bound=0.01))
            .alias(f"behavior_share_{d.lower().replace(' ', '_').replace('-', '_')}")
            for d in depts
        )
    )
    per = per.join(shares, on="household_id")
    labels = (
        per.join(demo, on="household_id", how="left")
        .select(
            pl.col("household_id").cast(pl.String).alias("user_id"),
            "value_clv", "behavior_baskets", "behavior_avg_basket", "behavior_discount_rate",
            "behavior_private_share", "behavior_distinct_products", pl.col("^behavior_share_.*$"),
            pl.col("age").alias("demo_age"), pl.col("income").alias("demo_income"),
            pl.when(pl.col("recency") <= 90).then(pl.lit("active"))
            .when(pl.col("recency") <= 180).then(pl.lit("sleeping"))
            .otherwise(pl.lit("dormant")).alias("lifecycle_stage"),
        )
        .sort("user_id")
    )
    orders = tx.select(
        pl.col("basket_id").cast(pl.String).alias("order_id"),
        pl.col("household_id").cast(pl.String).alias("user_id"),
        pl.col("product_id").cast(pl.String).alias("sku"),
        pl.col("transaction_timestamp").dt.replace_time_zone("UTC").dt.cast_time_unit("us").alias("ts"),
        pl.lit(1.0).alias("qty"),
        pl.col("sales_value").alias("unit_price"),
    )
    canon_products = products.select(
        pl.col("product_id").cast(pl.String).alias("sku"),
        pl.col("department").alias("category_l1"),
        "brand",
    )
    root = tmp_path_factory.mktemp("cj")
    labels.write_parquet(root / "labels.parquet")
    orders.write_parquet(root / "orders.parquet")
    canon_products.write_parquet(root / "products.parquet")
    ws = Workspace(root)
    summary = run_segment(ws, k="auto", seed=0, n_boot=3)
    return ws, summary, labels, orders.join(canon_products, on="sku", how="left")


@pytest.fixture(scope="module")
def shared_data_module():
    from tests.conftest import SHARED_DATA

    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not present at {SHARED_DATA}")
    return SHARED_DATA


def test_every_household_is_segmented_and_described_in_english(cj):
    ws, summary, labels, _ = cj
    assert summary["users"] == labels.height == 2469
    assert 3 <= summary["k"] <= 12 and summary["language"] == "en"
    profiles = ws.read("segment_profiles")
    assert profiles["size"].sum() == 2469
    assert profiles["segment_name"].n_unique() == profiles.height
    for text in profiles["segment_name"].to_list() + profiles["description"].to_list() + profiles["campaign"].to_list():
        assert not re.search(r"[\u4e00-\u9fff]", text)
    assert all(re.match(r"^\d+% of users and \d+% of expected value", d) for d in profiles["description"])


def test_profile_numbers_are_recomputed_from_the_data(cj):
    ws, _, labels, lines = cj
    segments = ws.read("segments")
    profiles = ws.read("segment_profiles").sort("segment_id")
    joined = labels.join(segments, on="user_id")
    expect = (
        joined.group_by("segment_id")
        .agg(
            pl.len().alias("size"),
            pl.col("value_clv").sum().alias("clv"),
            pl.col("behavior_avg_basket").mean().alias("basket"),
            (pl.col("demo_age") == "65+").fill_null(False).mean().alias("age65"),
            (pl.col("lifecycle_stage") == "active").mean().alias("active"),
        )
        .sort("segment_id")
    )
    assert profiles["size"].to_list() == expect["size"].to_list()
    assert profiles["value_share"].to_list() == pytest.approx((expect["clv"] / labels["value_clv"].sum()).to_list())
    assert profiles["lifecycle_active"].to_list() == pytest.approx(expect["active"].to_list())
    feats = profiles.select("segment_id", "features").explode("features").unnest("features")
    basket = feats.filter(pl.col("feature") == "behavior_avg_basket").sort("segment_id")
    assert basket["centroid"].to_list() == pytest.approx(expect["basket"].to_list())
    age = feats.filter(pl.col("feature") == "demo_age=65+").sort("segment_id")
    assert age["centroid"].to_list() == pytest.approx(expect["age65"].to_list())  # unknown ages count as not 65+
    # the top over-indexed department of each segment, recomputed from the transactions
    spend = (
        lines.join(segments, on="user_id").filter(pl.col("unit_price") > 0)
        .group_by("segment_id", "category_l1").agg(pl.col("unit_price").sum().alias("s"))
        .drop_nulls("category_l1")
        .with_columns(
            (pl.col("s") / pl.col("s").sum().over("segment_id")).alias("share"),
            (pl.col("s").sum().over("category_l1") / pl.col("s").sum()).alias("base"),
        )
    )
    for row in profiles.iter_rows(named=True):
        top = row["category_lifts"][0]
        e = spend.filter((pl.col("segment_id") == row["segment_id"]) & (pl.col("category_l1") == top["category"])).row(0, named=True)
        assert top["spend_share"] == pytest.approx(e["share"])
        assert top["lift"] == pytest.approx(e["share"] / e["base"])


def test_segments_differ_meaningfully(cj):
    ws, _, _, _ = cj
    profiles = ws.read("segment_profiles")
    # segments are built on what and how households buy (department mix, shopping hours), not on
    # how much: every segment over-indexes on some department of spend, all but one by ≥ 30% …
    top_lifts = sorted(row["category_lifts"][0]["lift"] for row in profiles.iter_rows(named=True))
    assert top_lifts[0] > 1.1 and top_lifts[1] >= 1.3, top_lifts
    # … and value, a descriptor, still differs between them (profiled, not clustered on)
    index = profiles["value_index"]
    assert index.max() / index.min() >= 1.5
    # every two segments differ by at least half a standard deviation on some feature
    z = (
        profiles.select("segment_id", "features").explode("features").unnest("features")
        .pivot(on="segment_id", index="feature", values="z")
        .drop("feature")
        .fill_null(0.0)
    )
    ids = z.columns
    for i, a in enumerate(ids):
        for b in ids[i + 1 :]:
            assert (z[a] - z[b]).abs().max() >= 0.5, (a, b)
    assert profiles["stability_jaccard"].min() > 0.5


@pytest.fixture(scope="module")
def cj_chain(tmp_path_factory: pytest.TempPathFactory, shared_data_module) -> tuple[Workspace, dict]:
    """The chain a user runs: c2m ingest --preset completejourney, c2m label, c2m segment --k auto."""
    from tests.conftest import run_c2m

    src = shared_data_module / "completejourney"
    root = tmp_path_factory.mktemp("cj_chain") / "ws"
    ingest = run_c2m(
        "ingest", root, "--preset", "completejourney", "--orders", src / "transactions.parquet",
        "--products", src / "products.parquet", "--customers", src / "demographics.parquet", "--quiet",
    )
    assert ingest.exit_code == 0, ingest.stderr
    label = run_c2m("label", root, "--quiet")
    assert label.exit_code == 0, label.stderr
    out = run_c2m("segment", root, "--k", "auto", "--json")
    assert out.exit_code == 0, out.stderr
    return Workspace(root), out.json


def test_chain_segments_are_english_distinct_and_honest_about_stability(cj_chain):
    from tests.segment.test_wording import _assert_distinct_texts

    ws, summary = cj_chain
    assert summary["language"] == "en" and summary["users"] == 2469
    profiles = ws.read("segment_profiles")
    _assert_distinct_texts(profiles)
    for column in ("segment_name", "description", "campaign", "product_mix", "suggested_action"):
        for text in profiles[column]:
            assert not re.search(r"[\u3400-\u4dbf\u4e00-\u9fff]", text), (column, text)
    # the summary's ok and warnings say what the selection table shows
    chosen = next(r for r in summary["selection"] if r["chosen"])
    codes = [w["code"] for w in summary["warnings"]]
    stable = any(r["stability_ari"] >= 0.8 for r in summary["selection"])
    assert summary["ok"] is stable and ("segment-unstable" in codes) is (not stable)
    assert ("segment-weak-structure" in codes) is (chosen["silhouette"] < 0.1)
    # no reviews, no searches: rungs 3CM–5CM are unknown, not "no" (and not "loyal")
    for col in ("growth_3cm", "growth_4cm", "growth_5cm"):
        assert profiles[col].null_count() == profiles.height
    ladder = {r["rung"]: r for r in summary["growth_ladder"]}
    assert [ladder[c]["known"] for c in ("1CM", "2CM", "3CM", "4CM", "5CM")] == [True, True, False, False, False]
    # 1CM: households with a known demographic (801 of 2,469 have a demographics row)
    known = (profiles["growth_1cm"] * profiles["size"]).sum() / 2469
    assert 0.2 <= known <= 801 / 2469 + 1e-9


def test_chain_without_a_stable_k_warns_and_shows_the_best(cj_chain):
    from tests.conftest import run_c2m

    ws, _ = cj_chain
    out = run_c2m("segment", ws.root, "--k", "auto", "--min-stability", "0.95", "--json")
    assert out.exit_code == 0, out.stderr
    summary = out.json
    best = max(summary["selection"], key=lambda r: (r["stability_ari"], -r["k"]))
    assert best["stability_ari"] < 0.95
    assert summary["ok"] is False and summary["k"] == best["k"]
    (message,) = [w["message"] for w in summary["warnings"] if w["code"] == "segment-unstable"]
    assert message.startswith(f"no k in 3–12 reached a mean bootstrap ARI of 0.95: the most stable, k = {best['k']}, reached {best['stability_ari']:.2f}")
