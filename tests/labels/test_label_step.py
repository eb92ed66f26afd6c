"""`run_label` on a declarative workspace whose every user has a planted, known answer."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from c2m_cli.labels import run_label
from c2m_cli.workspace import sha256_of
from tests.labels.helpers import AS_OF, build_workspace

FAMILIES = ("geo_", "demo_", "value_", "occasion_", "behavior_", "motive_", "attitude_", "lifestyle_", "lifecycle_")


@pytest.fixture(scope="module")
def labelled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, pl.DataFrame, pl.DataFrame]:
    root = tmp_path_factory.mktemp("label")
    ws = build_workspace(root)
    # P(alive) demotion off here: this tiny population gives BG/NBD nothing to learn from;
    # the demotion itself is tested on the lifecycle function directly
    summary = run_label(ws, as_of=AS_OF.isoformat(), p_alive_floor=0.0)
    labels = pl.read_parquet(root / "labels.parquet")
    tags = pl.read_parquet(root / "tags.parquet")
    return root, summary, labels, tags


def row(labels: pl.DataFrame, user: str) -> dict:
    found = labels.filter(pl.col("user_id") == user)
    assert found.height == 1, user
    return found.row(0, named=True)


def test_one_row_per_user_in_orders_or_customers(labelled) -> None:
    _, summary, labels, _ = labelled
    expected = {
        "u_new", "u_active", "u_sleep", "u_dormant", "u_lost", "u_slow", "u_back", "u_one", "u_free",
        "u_void", "u_return", "u_cancel", "c_new", "c_old",
    }  # u_future only ordered after the as-of date
    assert set(labels["user_id"]) == expected
    assert labels.height == len(expected) == summary["users"]
    assert labels.columns[0] == "user_id"
    assert all(c.startswith(FAMILIES) for c in labels.columns[1:])
    assert labels["user_id"].to_list() == sorted(expected)


def test_lifecycle_stages_follow_recency_and_rhythm(labelled) -> None:
    _, summary, labels, _ = labelled
    stage = dict(zip(labels["user_id"], labels["lifecycle_stage"], strict=True))
    assert stage["u_new"] == "new"
    # members who never bought have no stage (documented in docs/labels.md); c_new signed up
    # 5 days ago and is marked a new member
    assert stage["c_new"] is None and stage["c_old"] is None
    assert row(labels, "c_new")["lifecycle_new_member"] is True and row(labels, "c_new")["lifecycle_buyer"] is False
    assert row(labels, "c_old")["lifecycle_new_member"] is False
    assert stage["u_active"] == "active"
    assert stage["u_sleep"] == "sleeping"
    assert stage["u_dormant"] == "dormant"
    assert stage["u_lost"] == "lost"
    # every 150 days (5 gaps), last 200 days ago: dormant by fixed thresholds, active by their own
    # rhythm; the stretch 2 × 150 / 90 = 3.33 is capped at 3 (active up to 270 days)
    assert stage["u_slow"] == "active"
    assert row(labels, "u_slow")["lifecycle_stretch"] == pytest.approx(3.0)
    assert row(labels, "u_slow")["lifecycle_gaps"] == 5
    assert stage["u_one"] == "sleeping"
    named = [v or "never_bought" for v in stage.values()]
    assert summary["lifecycle"] == {k: named.count(k) for k in sorted(set(named))}


def test_reactivation_and_growth_ladder(labelled) -> None:
    _, _, labels, _ = labelled
    back = row(labels, "u_back")
    assert back["lifecycle_stage"] == "active" and back["lifecycle_reactivated"] is True
    assert labels.filter(pl.col("lifecycle_reactivated"))["user_id"].to_list() == ["u_back"]
    ladder = dict(zip(labels["user_id"], labels["lifecycle_ladder"], strict=True))
    assert ladder["u_one"] == "one_time"
    assert ladder["u_new"] == "repeat"
    assert ladder["u_sleep"] == "repeat"  # many orders, but no longer active
    assert ladder["u_slow"] == "loyal"  # active and ≥ 4 purchase days, no reviews
    assert ladder["u_active"] in ("advocate", "super_user")  # loyal and wrote positive reviews
    assert ladder["c_new"] == ladder["u_void"] == ladder["u_cancel"] == "none"


def test_bad_and_edge_orders_get_honest_labels(labelled) -> None:
    _, _, labels, _ = labelled
    free = row(labels, "u_free")  # one free item: a purchase, with zero spend
    assert free["behavior_orders"] == 1 and free["behavior_total_spend"] == 0.0
    assert free["lifecycle_stage"] == "active"
    void = row(labels, "u_void")  # a line with nothing sold: no purchase
    assert void["behavior_orders"] == 0 and void["value_tier"] == "none"
    assert void["value_clv"] is None and void["value_r_score"] is None
    cancelled = row(labels, "u_cancel")
    assert cancelled["behavior_orders"] == 0 and cancelled["behavior_cancel_rate"] == 1.0
    returned = row(labels, "u_return")
    assert returned["behavior_orders"] == 1 and returned["behavior_returns"] == 1
    assert returned["behavior_return_rate"] == 1.0
    one = row(labels, "u_one")
    assert one["value_frequency"] == 0.0 and one["value_p_alive"] == 1.0  # BG/NBD: never seen to lapse


def test_value_scores_rank_buyers(labelled) -> None:
    _, _, labels, _ = labelled
    buyers = labels.filter(pl.col("behavior_orders") > 0)
    assert buyers["value_r_score"].is_between(1, 5).all() and buyers["value_m_score"].is_between(1, 5).all()
    assert row(labels, "u_new")["value_r_score"] == 5
    assert row(labels, "u_lost")["value_r_score"] == 1
    assert buyers["value_clv"].min() >= 0  # type: ignore[operator]
    assert set(buyers["value_tier"]) <= {"high", "medium", "low"}
    assert buyers["value_p_alive"].is_between(0, 1).all()


def test_geography_and_demographics_never_guess(labelled) -> None:
    _, _, labels, _ = labelled
    active = row(labels, "u_active")
    assert (active["geo_province"], active["geo_city"], active["geo_city_tier"], active["geo_region"]) == (
        "四川", "成都", "新一线", "西南"
    )
    assert active["geo_tier_source"].startswith("第一财经·新一线城市研究所")
    sleep = row(labels, "u_sleep")  # English city name, province from the seed
    assert (sleep["geo_province"], sleep["geo_city"], sleep["geo_city_tier"]) == ("广东", "深圳", "一线")
    dormant = row(labels, "u_dormant")  # a city the seed does not know keeps its name, tier unknown
    assert (dormant["geo_city"], dormant["geo_city_tier"], dormant["geo_province"]) == ("亚特兰蒂斯", "unknown", "unknown")
    new = row(labels, "u_new")  # no customer row: location from the orders
    assert (new["geo_city"], new["geo_city_tier"], new["geo_province"]) == ("杭州", "新一线", "浙江")
    lost = row(labels, "u_lost")
    assert (lost["geo_city"], lost["geo_city_tier"], lost["demo_gender"], lost["demo_generation"]) == (
        "unknown", "unknown", "unknown", "unknown"
    )
    assert (active["demo_gender"], active["demo_generation"], active["demo_age"], active["demo_age_band"]) == (
        "female", "90后", 29, "25-34"
    )
    assert (sleep["demo_gender"], sleep["demo_generation"]) == ("male", "70后")
    assert row(labels, "c_old")["demo_generation"] == "00后"


def test_text_tags_carry_scores_and_evidence(labelled) -> None:
    _, _, labels, tags = labelled
    assert tags.columns == ["user_id", "family", "tag", "score", "evidence"]
    assert tags["score"].is_between(0, 1, closed="left").all()
    gamer = tags.filter((pl.col("user_id") == "u_active") & (pl.col("family") == "lifestyle") & (pl.col("tag") == "电竞"))
    assert gamer.height == 1
    assert "searched 游戏本 ×7" in gamer["evidence"][0]
    assert row(labels, "u_active")["lifestyle_top"] == "电竞"
    assert "电竞" in row(labels, "u_active")["lifestyle_tags"]
    assert row(labels, "u_active")["motive_性价比"] > 0
    english = tags.filter((pl.col("user_id") == "u_one") & (pl.col("family") == "motive"))
    assert set(english["tag"]) == {"性价比", "送礼"}
    assert any("value for money" in e for e in english["evidence"])
    picky = tags.filter((pl.col("user_id") == "u_return") & (pl.col("tag") == "挑剔"))
    assert picky.height == 1 and "差评" in picky["evidence"][0]
    assert row(labels, "u_lost")["lifestyle_top"] == "宠物"
    no_text = row(labels, "c_new")
    assert no_text["motive_top"] == no_text["lifestyle_top"] == no_text["attitude_top"] == "unknown"


def test_review_sentiment_is_scored(labelled) -> None:
    root, _, labels, _ = labelled
    sentiment = pl.read_parquet(root / "review_sentiment.parquet")
    score = dict(zip(sentiment["review_id"], sentiment["sentiment"], strict=True))
    assert score["r1"] > 0.5 > score["r4"]
    assert row(labels, "u_active")["attitude_reviews"] == 2


def test_value_model_and_manifest(labelled) -> None:
    root, _, _, _ = labelled
    model = json.loads((root / "value_model.json").read_text(encoding="utf-8"))
    assert model["time_unit"] == "weeks"
    assert set(model["bgnbd"]) >= {"r", "alpha", "a", "b", "log_likelihood"}
    assert set(model["gamma_gamma"]) >= {"p", "q", "v", "log_likelihood"}
    assert model["calibration"]["end"] == AS_OF.isoformat()
    step = json.loads((root / "manifest.json").read_text(encoding="utf-8"))["steps"][-1]
    assert step["command"] == "label"
    assert step["parameters"]["active_days"] == 90 and step["parameters"]["as_of"] == AS_OF.isoformat()
    assert {o["path"] for o in step["outputs"]} == {"labels.parquet", "tags.parquet", "value_model.json", "review_sentiment.parquet"}


def test_hours_and_festivals_in_the_data_timezone(tmp_path: Path) -> None:
    """2024-10-30 17:00 UTC is 01:00 on 10-31 in Shanghai: inside 双11 (from Oct 31) there only."""
    import datetime as dt

    results = {}
    for zone in ("UTC", "Asia/Shanghai"):
        ws = build_workspace(tmp_path / zone.replace("/", "_"), timezone=zone, with_text=False)
        orders = pl.read_parquet(ws.table_path("orders"))
        extra = orders.head(1).with_columns(
            order_id=pl.lit("tz-1"), user_id=pl.lit("u_tz"),
            ts=pl.lit(dt.datetime(2024, 10, 30, 17, 0, tzinfo=dt.UTC)).cast(pl.Datetime("us", "UTC")),
        )
        pl.concat([orders, extra]).write_parquet(ws.table_path("orders"))
        run_label(ws, as_of=AS_OF.isoformat())
        results[zone] = row(pl.read_parquet(ws.root / "labels.parquet"), "u_tz")
    assert results["UTC"]["occasion_share_1111"] == 0.0 and results["UTC"]["occasion_peak_hour"] == 17
    assert results["Asia/Shanghai"]["occasion_share_1111"] == 1.0 and results["Asia/Shanghai"]["occasion_peak_hour"] == 1
    assert results["Asia/Shanghai"]["occasion_daypart"] == "night"


def test_same_seed_gives_byte_identical_outputs(tmp_path: Path) -> None:
    hashes = []
    for name in ("a", "b"):
        ws = build_workspace(tmp_path / name)
        run_label(ws, as_of=AS_OF.isoformat())
        hashes.append([sha256_of(ws.root / f) for f in ("labels.parquet", "tags.parquet", "value_model.json")])
    assert hashes[0] == hashes[1]


def test_a_market_without_a_calendar_has_no_festival_labels(tmp_path: Path) -> None:
    """market none: no festival is applied — shares, top festival and gift season unknown, with a warning."""
    ws = build_workspace(tmp_path / "none", with_text=False, market="none")
    run_label(ws, as_of=AS_OF.isoformat())
    labels = pl.read_parquet(ws.root / "labels.parquet")
    assert not [c for c in labels.columns if c.startswith("occasion_share_")]
    for column in ("occasion_festival_share", "occasion_top_festival", "occasion_festival_buyer", "occasion_gift_share"):
        assert labels[column].null_count() == labels.height, column
    assert labels.filter(pl.col("behavior_orders") > 0)["occasion_weekend_share"].null_count() == 0  # the week is still known
    step = json.loads((ws.root / "manifest.json").read_text(encoding="utf-8"))["steps"][-1]
    assert "label-no-festival-calendar" in [w["code"] for w in step["warnings"]]
    # the same shop as a Chinese market: 618 and gift seasons (七夕, 5.20 …) apply
    cn = build_workspace(tmp_path / "cn", with_text=False, market="cn")
    run_label(cn, as_of=AS_OF.isoformat())
    cn_labels = pl.read_parquet(cn.root / "labels.parquet")
    assert {"occasion_share_618", "occasion_share_1111"} <= set(cn_labels.columns)
    assert cn_labels.filter(pl.col("behavior_orders") > 0)["occasion_gift_share"].null_count() == 0


def test_scipy_is_imported_in_the_background_while_the_label_step_reads_its_data(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """``c2m_cli.labels`` imports without SciPy (its value models' optimiser, ~0.5 s); run_label
    starts ``executor.preload`` of ``clv.FIT_MODULES`` first, and its outputs do not depend on it."""
    import subprocess
    import sys
    import threading

    from c2m_cli import executor

    code = "import sys\nimport c2m_cli.labels\nassert 'scipy' not in sys.modules, 'scipy imported eagerly'\nprint('ok')\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"

    from c2m_cli.labels import clv

    started: list[tuple[tuple[str, ...], str]] = []
    preload = executor.preload
    monkeypatch.setattr(executor, "preload", lambda modules, name: started.append((modules, name)) or preload(modules, name))
    outputs = []
    for name in ("preloaded", "no-preload"):
        ws = build_workspace(tmp_path / name)
        run_label(ws, as_of=AS_OF.isoformat(), p_alive_floor=0.0)
        outputs.append([(tmp_path / name / f).read_bytes() for f in ("labels.parquet", "tags.parquet", "value_model.json")])
        monkeypatch.setattr(executor, "preload", lambda modules, name: threading.Thread())  # the second run: no preload
    assert started == [(clv.FIT_MODULES, "c2m-preload-scipy")]
    assert outputs[0] == outputs[1]
