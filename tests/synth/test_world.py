"""The synthetic world: deterministic, canonical, and every planted signal measurable in the tables.

Each signal is measured here with plain polars on the generated tables; the truth is read only
to compare with what a blind search found (which query, which sku, which pair).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import polars as pl
import pytest

from c2m_cli.errors import UsageError
from c2m_cli.ingest.schema import validate_table
from c2m_cli.synth import generate_world
from c2m_cli.workspace import Workspace

TABLES = ("orders", "customers", "products", "events", "reviews")
TZ = "Asia/Shanghai"
LOCAL_DATE = pl.col("ts").dt.convert_time_zone(TZ).dt.date()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict:
    ws = Workspace(tmp_path_factory.mktemp("world"))
    summary = generate_world(ws, users=3000, seed=0)
    frames = {name: ws.read(name) for name in TABLES}
    frames["users"] = pl.read_parquet(ws.root / "truth" / "users.parquet")
    truth = json.loads((ws.root / "truth" / "world.json").read_text(encoding="utf-8"))
    return {"ws": ws, "summary": summary, "truth": truth, **frames}


def _digests(root: Path) -> dict[str, str]:
    paths = [*(root / f"{t}.parquet" for t in TABLES), root / "truth/users.parquet", root / "truth/world.json"]
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


def test_same_seed_gives_byte_identical_tables_and_another_seed_differs(tmp_path: Path) -> None:
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        generate_world(Workspace(tmp_path / name), users=600, seed=seed)
    a, b, c = (_digests(tmp_path / n) for n in "abc")
    assert a == b
    assert a["orders.parquet"] != c["orders.parquet"]
    assert a["reviews.parquet"] != c["reviews.parquet"]


def test_tables_are_canonical_and_consistent(world: dict) -> None:
    for name in TABLES:
        validate_table(world[name], name, source=f"{name}.parquet")
    orders, customers, products = world["orders"], world["customers"], world["products"]
    assert customers.height == 3000 == customers["user_id"].n_unique()
    assert orders.join(customers, on="user_id", how="anti").height == 0
    assert orders.join(products, on="sku", how="anti").height == 0
    assert world["events"].join(customers, on="user_id", how="anti").height == 0
    assert set(orders["status"].unique()) == {"paid", "cancelled", "returned", "presale"}
    assert orders.group_by("order_id", "sku").len()["len"].max() == 1
    start, end = dt.date(2023, 12, 1), dt.date(2025, 11, 30)
    for name in ("orders", "events", "reviews"):
        dates = world[name].select(LOCAL_DATE.min().alias("lo"), LOCAL_DATE.max().alias("hi")).row(0)
        assert dates[0] >= start and dates[1] <= end, name
    assert world["reviews"]["rating"].is_between(1, 5).all()
    assert world["ws"].manifest()["data_timezone"] == TZ
    # summary row counts are the files' row counts
    assert world["summary"]["rows"] == {n: world[n].height for n in TABLES}


def test_consumer_types_differ_in_demographics_categories_and_hours(world: dict) -> None:
    users, orders, products = world["users"], world["orders"], world["products"]
    assert 5 <= users["consumer_type"].n_unique() <= 7
    lines = orders.join(products.select("sku", "category_l2"), on="sku").join(
        users.select("user_id", "consumer_type"), on="user_id"
    )
    favourite = (
        lines.group_by("consumer_type", "category_l2").len()
        .sort("len", descending=True).group_by("consumer_type", maintain_order=True).first()
    )
    assert favourite["category_l2"].n_unique() == users["consumer_type"].n_unique()
    peak_hour = (
        lines.group_by("consumer_type", pl.col("ts").dt.convert_time_zone(TZ).dt.hour().alias("h")).len()
        .sort("len", descending=True).group_by("consumer_type", maintain_order=True).first()
    )
    assert peak_hour["h"].n_unique() >= 4
    generation = users.group_by("consumer_type", "generation").len().sort("len", descending=True).group_by(
        "consumer_type", maintain_order=True
    ).first()
    assert generation["generation"].n_unique() >= 3


def test_lifecycle_stages_follow_from_the_orders(world: dict) -> None:
    as_of = dt.date(2025, 11, 30)
    seen = world["orders"].filter(pl.col("status") != "cancelled").group_by("user_id").agg(
        first=(pl.lit(as_of) - LOCAL_DATE.min()).dt.total_days(),
        recency=(pl.lit(as_of) - LOCAL_DATE.max()).dt.total_days(),
        dates=LOCAL_DATE.unique().sort(),
    )
    stage = (
        pl.when(pl.col("first") < 30).then(pl.lit("new"))
        .when(pl.col("recency") <= 90).then(pl.lit("active"))
        .when(pl.col("recency") <= 180).then(pl.lit("sleeping"))
        .when(pl.col("recency") <= 365).then(pl.lit("dormant"))
        .otherwise(pl.lit("lost"))
    )
    joined = world["users"].join(seen.with_columns(stage=stage), on="user_id")
    assert joined.height == 3000
    clear = joined.filter("lifecycle_clear")
    assert clear.height > 1500
    assert (clear["stage"] == clear["lifecycle_stage"]).all()
    counts = dict(joined.group_by("lifecycle_stage").len().iter_rows())
    assert set(counts) == {"new", "active", "sleeping", "dormant", "lost"}
    assert min(counts.values()) >= 100
    # reactivated: a silence of more than 180 days, then recent orders
    gaps = joined.filter("reactivated").with_columns(
        longest=pl.col("dates").list.eval(pl.element().diff().dt.total_days()).list.max()
    )
    assert gaps.height >= 50
    assert (gaps["longest"] > 180).all() and (gaps["recency"] <= 90).all()


def _daily(orders: pl.DataFrame) -> pl.DataFrame:
    return orders.filter(pl.col("status") != "cancelled").group_by(LOCAL_DATE.alias("date")).agg(
        pl.col("order_id").n_unique().alias("n")
    )


def _window_mean(daily: pl.DataFrame, a: str, b: str) -> float:
    lo, hi = dt.date.fromisoformat(a), dt.date.fromisoformat(b)
    return float(daily.filter(pl.col("date").is_between(lo, hi))["n"].mean())  # type: ignore[arg-type]


def test_festival_uplift_and_spring_festival_dip(world: dict) -> None:
    daily = _daily(world["orders"])
    for year in (2024, 2025):
        baseline = _window_mean(daily, f"{year}-10-01", f"{year}-10-28")
        assert _window_mean(daily, f"{year}-10-31", f"{year}-11-11") > 1.6 * baseline
        assert _window_mean(daily, f"{year}-11-11", f"{year}-11-11") > 2.2 * baseline
        assert _window_mean(daily, f"{year}-06-01", f"{year}-06-18") > 1.3 * _window_mean(
            daily, f"{year}-05-01", f"{year}-05-28"
        )
    # 春节 2025: 除夕 is 2025-01-28; the logistics pause runs 01-24 … 02-03
    pause = _window_mean(daily, "2025-01-24", "2025-02-03")
    assert pause < 0.7 * _window_mean(daily, "2025-02-10", "2025-02-28")
    assert world["truth"]["festival_uplift"]["双11"] > 1.6


def test_niche_query_rises_while_its_category_falls_and_nothing_serves_it(world: dict) -> None:
    searches = world["events"].filter(pl.col("event") == "search").with_columns(date=LOCAL_DATE)
    halves = searches.group_by("query").agg(
        early=(pl.col("date") < dt.date(2024, 3, 1)).sum(),
        late=(pl.col("date") > dt.date(2025, 9, 1)).sum(),
    ).filter(pl.col("early") + pl.col("late") >= 50)
    rising = halves.with_columns(rise=(pl.col("late") + 1) / (pl.col("early") + 1)).sort("rise", descending=True)
    query = rising["query"][0]
    assert query == world["truth"]["niche"]["query"]
    assert rising["rise"][0] > 4 and rising["rise"][0] > 2.5 * rising["rise"][1]  # far ahead of any other
    products = world["products"]
    assert not products["name"].str.contains(query, literal=True).any()
    assert not products["category_l3"].str.contains(query, literal=True).any()
    category = searches.filter(pl.col("query") == query)["category"].unique().to_list()
    assert category == [world["truth"]["niche"]["category"]]
    skus = products.filter(pl.col("category_l2") == category[0])["sku"]
    units = world["orders"].filter(pl.col("sku").is_in(skus.implode())).with_columns(date=LOCAL_DATE)
    early = units.filter(pl.col("date") < dt.date(2024, 6, 1))["qty"].sum()
    late = units.filter(pl.col("date") >= dt.date(2025, 6, 1))["qty"].sum()
    assert late < 0.7 * early


def test_micro_demand_is_found_blind_in_one_products_reviews(world: dict) -> None:
    reviews = world["reviews"].with_columns(lid=pl.col("text").str.contains("盖"))
    by_sku = reviews.group_by("sku").agg(share=pl.col("lid").mean(), n=pl.len()).filter(pl.col("n") >= 50)
    top = by_sku.sort("share", descending=True)
    planted = world["truth"]["micro_demand"]
    assert top["sku"][0] == planted["sku"]
    assert top["share"][0] > 0.2 and top["share"][1] < 0.05
    texts = reviews.filter((pl.col("sku") == planted["sku"]) & pl.col("lid"))["text"]
    wordings = {p for p in planted["phrases"] if texts.str.contains(p, literal=True).any()}
    assert len(wordings) >= 5
    # complaints pull the product's rating down against its category peers
    milk = reviews.filter(pl.col("category") == planted["category"])
    own = milk.filter(pl.col("sku") == planted["sku"])["rating"].mean()
    peers = milk.filter(pl.col("sku") != planted["sku"])["rating"].mean()
    assert own < peers - 0.3  # type: ignore[operator]


def test_price_band_is_bought_mostly_by_one_demographic(world: dict) -> None:
    band = world["truth"]["price_band"]
    products = world["products"].filter(pl.col("category_l2") == band["category"])
    in_band = products.filter(pl.col("list_price").is_between(band["low"], band["high"], closed="left"))["sku"]
    assert 1 <= in_band.len() < products.height
    people = world["customers"].select(
        "user_id",
        target=((pl.col("birth_year") // 10 % 10).cast(pl.String) + "0后" == band["generation"])
        & (pl.col("city_tier") == band["city_tier"]),
    )
    buyers = world["orders"].filter(pl.col("sku").is_in(products["sku"].implode()))
    band_share = buyers.filter(pl.col("sku").is_in(in_band.implode())).select("user_id").unique().join(
        people, on="user_id"
    )["target"].mean()
    category_share = buyers.select("user_id").unique().join(people, on="user_id")["target"].mean()
    assert band_share > 0.6  # type: ignore[operator]
    assert band_share > 2.5 * category_share  # type: ignore[operator]


def test_co_purchase_pair_has_the_highest_lift(world: dict) -> None:
    lines = world["orders"].select("order_id", "sku").unique()
    n = lines["order_id"].n_unique()
    support = lines.group_by("sku").agg(pl.len().alias("n_sku"))
    pairs = (
        lines.join(lines, on="order_id", suffix="_b").filter(pl.col("sku") < pl.col("sku_b"))
        .group_by("sku", "sku_b").len().filter(pl.col("len") >= 30)
        .join(support, on="sku").join(support.rename({"sku": "sku_b", "n_sku": "n_b"}), on="sku_b")
        .with_columns(lift=pl.col("len") * n / (pl.col("n_sku") * pl.col("n_b")))
        .sort("lift", descending=True)
    )
    planted = world["truth"]["bundle"]
    assert {pairs["sku"][0], pairs["sku_b"][0]} == {planted["sku_a"], planted["sku_b"]}
    assert pairs["lift"][0] > 10 and pairs["lift"][0] > 2 * pairs["lift"][1]


def test_presale_orders_of_a_new_product(world: dict) -> None:
    orders, products = world["orders"], world["products"]
    presale = orders.filter(pl.col("presale"))
    assert (presale["status"] == "presale").all()
    assert presale.filter(pl.col("status") != "presale").height == 0
    planted = world["truth"]["presale"]
    target = presale.filter(pl.col("sku") == planted["sku"])
    assert target["order_id"].n_unique() == planted["presale_orders"] >= 20
    launch = products.filter(pl.col("sku") == planted["sku"])["launch_date"][0]
    assert launch > dt.date(2025, 11, 30)
    assert target.select(LOCAL_DATE.max()).item() < launch
    assert orders.filter((pl.col("sku") == planted["sku"]) & ~pl.col("presale")).height == 0
    # the reference product: deposits before its launch, then sales after it
    ref = planted["reference"]
    ref_orders = orders.filter(pl.col("sku") == ref["sku"]).with_columns(date=LOCAL_DATE)
    ref_launch = dt.date.fromisoformat(ref["launch_date"])
    pre = ref_orders.filter(pl.col("presale"))
    post = ref_orders.filter(~pl.col("presale") & (pl.col("date") < ref_launch + dt.timedelta(days=56)))
    assert pre["date"].max() < ref_launch <= post["date"].min()  # type: ignore[operator]
    ratio = (pre["qty"].sum() + post.filter(pl.col("status") != "cancelled")["qty"].sum()) / pre["qty"].sum()
    assert 1.8 < ratio < 3.5
    events = world["events"].filter((pl.col("event") == "presale") & (pl.col("sku") == planted["sku"]))
    assert events.height >= target.height


def test_super_users_spend_more_review_well_and_buy_new_products_early(world: dict) -> None:
    users = world["users"].select("user_id", "is_super_user")
    share = users["is_super_user"].mean()
    assert 0.005 < share < 0.03  # type: ignore[operator]
    spend = world["orders"].filter(pl.col("status") == "paid").group_by("user_id").agg(
        v=(pl.col("qty") * pl.col("unit_price")).sum()
    ).join(users, on="user_id")
    top = spend.sort("v", descending=True).head(int(3000 * 0.03))
    assert top["is_super_user"].sum() >= 0.5 * users["is_super_user"].sum()
    stars = world["reviews"].join(users, on="user_id").group_by("is_super_user").agg(five=(pl.col("rating") == 5).mean())
    five = dict(stars.iter_rows())
    assert five[True] > 0.85 and five[False] < 0.65
    new = world["products"].filter(pl.col("launch_date") > dt.date(2024, 1, 1)).select("sku", "launch_date")
    early = world["orders"].filter(~pl.col("presale")).join(new, on="sku").filter(
        LOCAL_DATE <= pl.col("launch_date") + pl.duration(days=13)
    ).join(users, on="user_id")
    assert early["is_super_user"].mean() > 0.4  # type: ignore[operator]


def test_reviews_carry_lifestyle_and_motive_cues_of_their_writer(world: dict) -> None:
    reviews = world["reviews"].join(world["users"].select("user_id", "lifestyle"), on="user_id")
    pets = reviews.filter(pl.col("lifestyle") == "宠物")["text"].str.contains("猫|狗|主子|铲屎").mean()
    others = reviews.filter(pl.col("lifestyle") != "宠物")["text"].str.contains("猫|狗|主子|铲屎").mean()
    assert pets > 0.5 and others < 0.02  # type: ignore[operator]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"users": 10}, "--users must be at least 100, got 10"),
        ({"users": 500, "end": "2025-13-01"}, "--end must be a date YYYY-MM-DD, got '2025-13-01'"),
        ({"users": 500, "start": "2025-06-01"}, "the world needs at least 400 days, got 2025-06-01 to 2025-11-30"),
    ],
)
def test_bad_options_are_usage_errors(tmp_path: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        generate_world(Workspace(tmp_path), **kwargs)
    assert str(caught.value) == message
