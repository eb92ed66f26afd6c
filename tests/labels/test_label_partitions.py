"""Labelling partition by partition (users split by hash), locally or on Dask, changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from c2m_cli.labels import run_label
from c2m_cli.workspace import sha256_of
from tests.labels.helpers import AS_OF, build_workspace

OUTPUTS = ("labels.parquet", "tags.parquet", "review_sentiment.parquet")


def hashes(root: Path) -> list[str]:
    return [sha256_of(root / name) for name in OUTPUTS]


def test_partitions_give_identical_outputs(tmp_path: Path) -> None:
    whole = build_workspace(tmp_path / "whole")
    run_label(whole, as_of=AS_OF.isoformat())
    split = build_workspace(tmp_path / "split")
    run_label(split, as_of=AS_OF.isoformat(), partition_rows=25)
    model = json.loads((split.root / "value_model.json").read_text(encoding="utf-8"))
    assert model["partitions"] > 4
    assert hashes(whole.root) == hashes(split.root)


def test_dask_executor_gives_identical_outputs(tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    local = build_workspace(tmp_path / "local")
    run_label(local, as_of=AS_OF.isoformat(), partition_rows=60)
    remote = build_workspace(tmp_path / "dask")
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, protocol="tcp", dashboard_address=":0"
    ) as cluster:
        address = cluster.scheduler_address.replace("tcp://", "dask://")
        run_label(remote, as_of=AS_OF.isoformat(), partition_rows=60, executor=address)
    assert hashes(local.root) == hashes(remote.root)
    step = json.loads((remote.root / "manifest.json").read_text(encoding="utf-8"))["steps"][-1]
    assert step["parameters"]["executor"].startswith("dask://")
