"""End to end on a small synthetic world: the chain's real outputs render, planted signals show."""

from __future__ import annotations

import json
import re

import polars as pl
import pytest

from c2m_cli.report import run_report
from c2m_cli.scorecard.report import score
from c2m_cli.workspace import Workspace


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    synth = pytest.importorskip("c2m_cli.synth")
    from c2m_cli.forecast import run_forecast
    from c2m_cli.labels import run_label
    from c2m_cli.recommend import run_recommend
    from c2m_cli.segment import run_segment

    ws = Workspace(tmp_path_factory.mktemp("world") / "ws")
    synth.generate_world(ws, users=300, seed=0)
    for run in (run_label, run_segment, run_forecast, run_recommend):
        run(ws)
    return ws


@pytest.mark.slow
def test_report_on_a_synthetic_world(world):
    summary = run_report(world)
    page = (world.root / "report.html").read_text(encoding="utf-8")
    assert summary["lang"] == "zh"
    assert summary["missing"] == []
    assert summary["sections"][-1] == "scorecard"  # scored live from truth/
    assert summary["bytes"] < 5_000_000
    assert "<script" not in page.lower()
    # no user id of the world anywhere in the page
    ids = set(pl.read_parquet(world.root / "truth" / "users.parquet")["user_id"].to_list())
    assert not ids & set(re.findall(r"[\w\-]+", page))
    # the planted niche query reaches the page, and the report's own scorecard passes
    niche = json.loads((world.root / "truth" / "world.json").read_text(encoding="utf-8"))["niche"]["query"]
    assert niche in page
    rows = {r["check"]: r for r in score(world)}
    assert rows["user ids in the report"]["passed"] is True
    assert rows["sections waiting for a step"]["value"] == 0
    # every segment has a card with its name
    profiles = pl.read_parquet(world.root / "segment_profiles.parquet")
    assert page.count('<div class="card"><h3>') >= profiles.height
