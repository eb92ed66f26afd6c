"""Segment says when the data cannot support an answer: no stable k, weak structure, constant
features, unknown growth rungs, bad options — with exact messages and exit codes."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from c2m_cli.errors import UsageError
from c2m_cli.growth import user_rungs
from c2m_cli.segment import run_segment
from c2m_cli.workspace import Workspace
from tests.segment.world import planted_world, write_world


def _noise(n: int = 600, dims: int = 8, seed: int = 0) -> pl.DataFrame:
    """Gaussian noise: no segment structure at all."""
    rng = np.random.default_rng(seed)
    return pl.DataFrame({"user_id": [f"u{i:04d}" for i in range(n)], **{f"behavior_x{j}": rng.normal(size=n) for j in range(dims)}})


def test_no_stable_k_warns_with_figures_and_sets_ok_false(c2m, tmp_path):
    write_world(tmp_path, _noise())
    out = c2m("segment", tmp_path, "--k-max", "6", "--bootstrap", "3", "--json")
    assert out.exit_code == 0, out.stderr
    summary = out.json
    assert summary["ok"] is False and summary["stable"] is False
    table = {r["k"]: r for r in summary["selection"]}
    best = max(table.values(), key=lambda r: (r["stability_ari"], -r["k"]))
    assert best["stability_ari"] < 0.8 and summary["k"] == best["k"]  # the most stable k is shown, not k = 3 by default
    codes = {w["code"]: w["message"] for w in summary["warnings"]}
    assert codes["segment-unstable"] == (
        f"no k in 3–6 reached a mean bootstrap ARI of 0.8: the most stable, k = {best['k']}, reached "
        f"{best['stability_ari']:.2f} (silhouette {best['silhouette']:.2f}); its segments are shown but are not stable"
    )
    assert best["silhouette"] < 0.1
    assert codes["segment-weak-structure"].startswith(f"the {best['k']} segments separate users weakly: mean silhouette {best['silhouette']:.3f} < 0.1")
    # the best available segmentation is written, with its figures in the model
    model = json.loads((tmp_path / "segment_model.json").read_text(encoding="utf-8"))
    assert model["selection"]["stable"] is False and model["selection"]["chosen_k"] == best["k"]
    assert pl.read_parquet(tmp_path / "segments.parquet").height == 600
    step = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))["steps"][-1]
    assert [w["code"] for w in step["warnings"]] == ["segment-unstable", "segment-weak-structure"]
    strict = c2m("segment", tmp_path, "--k-max", "6", "--bootstrap", "3", "--strict")
    assert strict.exit_code == 6


def test_a_fixed_k_below_the_threshold_is_unstable_too(tmp_path):
    write_world(tmp_path, _noise(300))
    ws = Workspace(tmp_path)
    summary = run_segment(ws, k=5, n_boot=3)
    assert summary["ok"] is False
    (message,) = [w.message for w in ws.run_warnings if w.code == "segment-unstable"]
    ari = summary["selection"][0]["stability_ari"]
    assert message.startswith(f"k = 5 (fixed by --k) has a mean bootstrap ARI of {ari:.2f}, below 0.8")


def test_planted_types_are_stable_and_ok(tmp_path):
    labels, tags, _ = planted_world(800, seed=5)
    write_world(tmp_path, labels, tags)
    ws = Workspace(tmp_path)
    summary = run_segment(ws, k="auto", k_max=6, n_boot=2)
    assert summary["ok"] is True and summary["stable"] is True
    assert "segment-unstable" not in ws.run_warnings.codes()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--min-stability", "5"], "Error: --min-stability must be in (0, 1] (a mean bootstrap adjusted Rand index), got 5"),
        (["--min-stability", "0"], "Error: --min-stability must be in (0, 1] (a mean bootstrap adjusted Rand index), got 0"),
        (["--sample-size", "0"], "Error: --sample-size must be at least 60 (--k-max 12 × 5 users per segment), got 0"),
        (["--k", "4", "--sample-size", "19"], "Error: --sample-size must be at least 20 (--k 4 × 5 users per segment), got 19"),
    ],
)
def test_bad_options_exit_2_with_one_line(c2m, tmp_path, args, message):
    labels, _, _ = planted_world(50, seed=1)
    write_world(tmp_path, labels)
    out = c2m("segment", tmp_path, *args)
    assert out.exit_code == 2, out.stderr
    assert out.stderr.strip() == message
    assert not (tmp_path / "segments.parquet").exists()
    with pytest.raises(UsageError):
        run_segment(Workspace(tmp_path), min_stability=1.5)


def test_constant_features_say_exactly_that(c2m, tmp_path):
    # every user has the same labels
    same = pl.DataFrame({"user_id": [f"u{i}" for i in range(40)], "value_clv": [5.0] * 40, "demo_gender": ["女"] * 40})
    write_world(tmp_path, same)
    out = c2m("segment", tmp_path)
    assert out.exit_code == 3
    assert out.stderr.strip() == (
        "Error: labels.parquet: every feature is constant (or missing) over the 40 users (value_clv, demo_gender): "
        "there is nothing to segment them by"
    )
    # a column constant but for a missing value is constant too
    nearly = pl.DataFrame({"user_id": [f"u{i}" for i in range(40)], "value_clv": [5.0] * 39 + [None], "behavior_n": [2] * 40})
    write_world(tmp_path, nearly)
    out = c2m("segment", tmp_path)
    assert out.exit_code == 3 and "every feature is constant (or missing) over the 40 users (value_clv, behavior_n)" in out.stderr


def test_growth_rungs_need_their_evidence():
    labels = pl.DataFrame(
        {
            "user_id": ["a", "b", "c", "d"],
            "demo_gender": ["女", "unknown", None, "男"],
            "geo_city": ["unknown", "上海", None, None],
            "geo_tier_source": ["seed", "seed", "seed", "seed"],  # how a value was found: not a fact about the user
            "behavior_purchase_days": [1, 2, 5, 0],
            "lifecycle_ladder": ["one_time", "repeat", "super_user", "none"],
        }
    )
    bare, evidence = user_rungs(labels)
    assert bare.columns == ["user_id", "growth_1cm", "growth_2cm", "growth_3cm", "growth_4cm", "growth_5cm", "growth_cm"]
    assert bare["growth_1cm"].to_list() == [True, True, False, True]
    assert bare["growth_2cm"].to_list() == [False, True, True, False]
    for col in ("growth_3cm", "growth_4cm", "growth_5cm"):  # no reviews, no searches: unknown, not "no"
        assert bare[col].null_count() == 4
    assert bare["growth_cm"].to_list() == ["1CM", "2CM", "2CM", "1CM"]
    assert evidence.known_to == 2
    assert evidence.missing[3] == "no searches and no reviews with user_id"
    searches = pl.DataFrame({"user_id": ["a", "a"]})
    reviews = pl.DataFrame({"user_id": ["b", "c", "c"], "rating": [2, None, 5], "sentiment": [0.9, 0.9, 0.1]})
    full, evidence = user_rungs(labels, searches=searches, reviews=reviews)
    assert full["growth_3cm"].to_list() == [True, True, True, False]
    # b's only review is rated 2 (the rating wins over the sentiment); c has one rated 5
    assert full["growth_4cm"].to_list() == [False, False, True, False]
    assert full["growth_5cm"].to_list() == [False, False, True, False]
    assert full["growth_cm"].to_list() == ["3CM", "3CM", "5CM", "1CM"] and evidence.known_to == 5


def test_segment_profiles_show_unknown_rungs_as_null(tmp_path):
    labels, tags, _ = planted_world(600, seed=2)
    labels = labels.with_columns(pl.Series("behavior_purchase_days", np.arange(600) % 4))
    write_world(tmp_path, labels, tags)
    summary = run_segment(Workspace(tmp_path), k=3, n_boot=1)
    profiles = pl.read_parquet(tmp_path / "segment_profiles.parquet")
    assert profiles["growth_3cm"].null_count() == profiles["growth_4cm"].null_count() == profiles["growth_5cm"].null_count() == 3
    segs = pl.read_parquet(tmp_path / "segments.parquet").join(labels, on="user_id")
    expect = segs.group_by("segment_id").agg((pl.col("behavior_purchase_days") >= 2).mean().alias("r")).sort("segment_id")
    assert profiles.sort("segment_id")["growth_2cm"].to_list() == pytest.approx(expect["r"].to_list())
    ladder = {r["rung"]: r for r in summary["growth_ladder"]}
    assert ladder["2CM"]["known"] is True and ladder["3CM"]["known"] is False
    assert ladder["5CM"]["unknown_because"] == "no reviews with user_id: no one can be seen recommending"
