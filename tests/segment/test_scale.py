"""Bounded memory: the fit on a seeded hash sample of users, features and profile sums built per
user partition inside the assignment tasks — and what that must not change."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from sklearn.metrics import adjusted_rand_score

from c2m_cli.segment import run_segment
from c2m_cli.segment.profile import combine_stats
from c2m_cli.workspace import Workspace, sha256_of
from tests.segment.world import planted_world, write_world

USERS = 3000
OUTPUTS = ("segments.parquet", "segment_profiles.parquet", "segment_model.json")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    root = tmp_path_factory.mktemp("scale")
    labels, tags, truth = planted_world(USERS, seed=3)
    write_world(root / "base", labels, tags)
    return root, truth


def _run(root: Path, name: str, **options: object) -> tuple[Path, dict]:
    ws = root / name
    shutil.copytree(root / "base", ws)
    summary = run_segment(Workspace(ws), k="auto", seed=0, **options)  # type: ignore[arg-type]
    return ws, summary


def test_partitions_give_every_user_the_same_segment_and_the_same_profiles(world):
    root, _ = world
    whole, s1 = _run(root, "whole")
    parts, s3 = _run(root, "parts", partition_users=1100)  # three user-hash partitions
    a = pl.read_parquet(whole / "segments.parquet")
    b = pl.read_parquet(parts / "segments.parquet")
    assert a.height == b.height == USERS and b["user_id"].n_unique() == USERS
    # rows come partition after partition; per user, the same segment at the same distance
    joined = a.join(b, on="user_id", suffix="_p")
    assert joined.height == USERS
    assert (joined["segment_id"] == joined["segment_id_p"]).all()
    assert (joined["distance"] == joined["distance_p"]).all()
    assert a["user_id"].to_list() != b["user_id"].to_list()
    # the profiles: partition sums added up equal one pass over everyone (to rounding)
    pa = pl.read_parquet(whole / "segment_profiles.parquet")
    pb = pl.read_parquet(parts / "segment_profiles.parquet")
    assert pa["size"].to_list() == pb["size"].to_list() and pa["segment_name"].to_list() == pb["segment_name"].to_list()
    for col in ("share", "value_share", "avg_clv", "lifecycle_active", "stability_jaccard"):
        assert np.allclose(pa[col].to_numpy(), pb[col].to_numpy(), rtol=1e-12, atol=0), col
    za = np.array([[f["z"] for f in row] for row in pa["features"].to_list()], dtype=float)
    zb = np.array([[f["z"] for f in row] for row in pb["features"].to_list()], dtype=float)
    assert np.allclose(za, zb, rtol=1e-9, atol=1e-12)
    assert pa["description"].to_list() == pb["description"].to_list()
    assert s1["selection"] == s3["selection"] and "fit_users" not in s1


def test_a_fit_sample_beyond_fit_users_is_seeded_and_still_assigns_everyone(world):
    root, truth = world
    ws, summary = _run(root, "sampled", fit_users=1200, partition_users=1200, sample_size=600)
    # a hash sample: about 1,200 of 3,000 users (binomial spread), every user assigned
    assert 1050 <= summary["fit_users"] <= 1350 and summary["users"] == USERS
    model = json.loads((ws / "segment_model.json").read_text(encoding="utf-8"))
    assert model["selection"]["fit_sample"]["users"] == summary["fit_users"]
    assert model["selection"]["fit_sample"]["of"] == USERS
    segments = pl.read_parquet(ws / "segments.parquet")
    assert segments.height == USERS and segments["user_id"].n_unique() == USERS
    # the planted types are still found, by users the fit never saw as well
    assert summary["k"] == 5
    order = segments.join(pl.DataFrame({"user_id": [f"u{i:06d}" for i in range(USERS)], "truth": truth}), on="user_id")
    assert adjusted_rand_score(order["truth"].to_numpy(), order["segment_id"].to_numpy()) >= 0.8
    # the same seed, the same bytes (another run on a fresh copy); another seed, another sample
    again, _ = _run(root, "sampled-again", fit_users=1200, partition_users=1200, sample_size=600)
    for name in OUTPUTS:
        assert sha256_of(ws / name) == sha256_of(again / name), name
    other = root / "sampled-seed1"
    shutil.copytree(root / "base", other)
    s1 = run_segment(Workspace(other), k="auto", seed=1, fit_users=1200, partition_users=1200, sample_size=600)
    assert s1["fit_users"] != summary["fit_users"]


def test_pooled_statistics_equal_one_pass_over_everyone():
    rng = np.random.default_rng(0)
    rows = rng.normal(3.0, 2.0, size=(10, 2))
    parts = []
    for block in (rows[:3], rows[3:4], rows[4:]):
        n = block.shape[0]
        dev = block - block.sum(axis=0, keepdims=True) / n
        parts.append({"n": n, "sizes": np.array([n]), "sums": block.sum(axis=0)[None, :], "total": block.sum(axis=0),
                      "m2": (dev * dev).sum(axis=0), "spend": {}})
    merged = combine_stats(parts)
    assert merged["n"] == 10 and merged["sizes"].tolist() == [10]
    assert np.allclose(merged["total"], rows.sum(axis=0))
    assert np.allclose(np.sqrt(merged["m2"] / 9), rows.std(axis=0, ddof=1), rtol=1e-13)
    # one partition: its own figures, bit for bit
    alone = combine_stats(parts[:1])
    assert np.array_equal(alone["m2"], parts[0]["m2"]) and np.array_equal(alone["total"], parts[0]["total"])
