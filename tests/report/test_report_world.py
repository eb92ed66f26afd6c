"""End to end on a small synthetic world: the chain's real outputs render, planted signals show."""

from __future__ import annotations

import json
import re

import polars as pl
import pytest

from c2m_cli.report import run_report
from c2m_cli.scorecard.report import score


@pytest.mark.slow
def test_report_on_a_synthetic_world(synthetic_world):
    world = synthetic_world
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
    segments = re.search(r'<section id="segments".*?</section>', page, re.S).group(0)
    for name in profiles["segment_name"].to_list():
        assert f"<h3>{name}</h3>" in segments


@pytest.mark.slow
def test_page_and_terminal_count_the_scorecard_one_way(synthetic_world):
    from c2m_cli import scorecard

    run_report(synthetic_world)
    page = (synthetic_world.root / "report.html").read_text(encoding="utf-8")
    counts = scorecard.totals(scorecard.collect(synthetic_world))  # what `c2m demo` prints
    judged = counts["passed"] + counts["failed"]
    assert f"<b>通过 {counts['passed']}/{judged} 项</b>" in page
