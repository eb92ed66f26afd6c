"""End to end on a small synthetic world: the planted truth recovered, scored by the scorecard."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from c2m_cli.labels import run_label
from c2m_cli.scorecard.label import score
from c2m_cli.synth import generate_world
from c2m_cli.workspace import Workspace


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    ws = Workspace(tmp_path_factory.mktemp("world"))
    generate_world(ws, users=3000, seed=1)
    run_label(ws)
    return ws


def test_scorecard_passes_on_the_planted_world(world: Workspace) -> None:
    rows = {r["check"]: r for r in score(world)}
    for row in rows.values():
        assert set(row) == {"check", "value", "target", "passed", "detail"}
    failed = {k: r["detail"] for k, r in rows.items() if r["passed"] is False}
    assert not failed, failed
    assert rows["lifecycle stage, clear cases"]["value"] >= 0.9
    assert rows["planted lifestyle recovered from text"]["value"] >= 0.7
    assert rows["planted motive recovered from text"]["value"] >= 0.7


def test_world_labels_are_complete_and_in_local_time(world: Workspace) -> None:
    labels = world.read("labels")
    truth = pl.read_parquet(world.root / "truth" / "users.parquet")
    assert labels.height == truth.height and set(labels["user_id"]) == set(truth["user_id"])
    # the world is written in Asia/Shanghai: 双11 buying shows up in local festival days
    assert labels["occasion_share_1111"].mean() > 0.05  # type: ignore[operator]
    tags = world.read("tags")
    assert set(tags["family"]) == {"motive", "attitude", "lifestyle"}
    assert tags["evidence"].str.contains(r"(reviewed|searched|bought|behaviour) .+ ×\d+").all()


def test_scorecard_reports_failure_without_labels(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "w")
    generate_world(ws, users=100, seed=2)
    rows = score(ws)
    assert rows == [{"check": "labels", "value": None, "target": "labels.parquet present", "passed": False, "detail": "c2m label did not run"}]


def test_rerun_is_byte_identical_on_a_real_sized_world(world: Workspace) -> None:
    """Thousands of users, parallel aggregations: money and scores are summed in fixed point,
    so a second run writes the same bytes (what `c2m verify` checks)."""
    from c2m_cli.workspace import sha256_of

    names = ("labels.parquet", "tags.parquet", "review_sentiment.parquet")
    before = [sha256_of(world.root / n) for n in names]
    run_label(world)
    assert [sha256_of(world.root / n) for n in names] == before
