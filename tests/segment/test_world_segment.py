"""End to end on the synthetic world: synth (3,000 users) → label → segment → scorecard."""

from __future__ import annotations

import polars as pl
import pytest
from sklearn.metrics import adjusted_rand_score

from c2m_cli.labels import run_label
from c2m_cli.scorecard.segment import score
from c2m_cli.segment import run_segment
from c2m_cli.synth import generate_world
from c2m_cli.workspace import Workspace


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, dict]:
    ws = Workspace(tmp_path_factory.mktemp("world"))
    generate_world(ws, users=3000, seed=0)
    run_label(ws)
    summary = run_segment(ws, k="auto", seed=0)
    return ws, summary


def test_segments_cover_every_labelled_user_and_find_the_planted_types(world):
    ws, summary = world
    truth = pl.read_parquet(ws.root / "truth" / "users.parquet")
    planted_k = truth["consumer_type"].n_unique()
    assert abs(summary["k"] - planted_k) <= 1
    segments = ws.read("segments")
    assert segments.height == ws.read("labels").height
    joined = truth.join(segments, on="user_id")
    # each planted type is mostly in one segment, and no two types share their main segment
    main = (
        joined.group_by("consumer_type", "segment_id").len()
        .with_columns((pl.col("len") / pl.col("len").sum().over("consumer_type")).alias("p"))
        .sort("p", descending=True).group_by("consumer_type", maintain_order=True).head(1)
    )
    assert main["p"].min() >= 0.8
    assert main["segment_id"].n_unique() == planted_k
    assert adjusted_rand_score(joined["consumer_type"], joined["segment_id"]) >= 0.8
    # Chinese world → Chinese names built from over-indexed labels and categories from orders
    profiles = ws.read("segment_profiles")
    assert all(desc.startswith("占用户") for desc in profiles["description"])
    assert profiles["top_categories"].list.len().min() >= 1
    assert profiles["value_share"].sum() == pytest.approx(1.0)


def test_world_texts_are_the_segments_own(world):
    from tests.segment.test_wording import _assert_distinct_texts

    ws, summary = world
    profiles = ws.read("segment_profiles")
    _assert_distinct_texts(profiles)
    for row in profiles.iter_rows(named=True):
        lapsed = row["lifecycle_sleeping"] + row["lifecycle_dormant"] + row["lifecycle_lost"]
        assert (row["action_kind"] == "win_back") is (lapsed >= 0.7 and row["lifecycle_new"] < 0.4)
        assert not (row["lifecycle_active"] >= 0.3 and "唤醒召回" in row["suggested_action"])
    # the world has reviews and searches: every rung of the 5CM ladder can be shown
    assert [r["known"] for r in summary["growth_ladder"]] == [True] * 5
    assert profiles["growth_4cm"].null_count() == 0 and profiles["growth_5cm"].max() > 0


def test_scorecard_reports_recovery_honestly(world):
    ws, summary = world
    rows = {r["check"]: r for r in score(ws)}
    segments = ws.read("segments")
    truth = pl.read_parquet(ws.root / "truth" / "users.parquet").join(segments, on="user_id")
    ari = adjusted_rand_score(truth["consumer_type"], truth["segment_id"])
    assert rows["consumer types (segment ARI)"]["value"] == pytest.approx(round(ari, 3))
    assert rows["consumer types (segment ARI)"]["passed"] is (ari >= 0.8)
    assert rows["k chosen by --k auto"]["value"] == summary["k"]
    assert rows["k chosen by --k auto"]["passed"] is True
    assert rows["segment stability (min bootstrap Jaccard)"]["passed"] is True
    chosen = next(r for r in summary["selection"] if r["chosen"])
    assert rows["chosen k is stable (mean bootstrap ARI)"]["value"] == round(chosen["stability_ari"], 3)
    assert rows["chosen k is stable (mean bootstrap ARI)"]["passed"] is summary["stable"] is True
    assert rows["where each planted type went"]["passed"] is None


def test_planted_types_recovered_to_target(world):
    ws, _ = world
    truth = pl.read_parquet(ws.root / "truth" / "users.parquet").join(ws.read("segments"), on="user_id")
    assert adjusted_rand_score(truth["consumer_type"], truth["segment_id"]) >= 0.8


def test_scorecard_without_segments_says_not_recovered(tmp_path):
    ws = Workspace(tmp_path)
    rows = score(ws)
    assert rows == [{"check": "consumer types (segment ARI)", "value": None, "target": "truth/users.parquet present",
                     "passed": False, "detail": "no planted truth in this workspace"}]
