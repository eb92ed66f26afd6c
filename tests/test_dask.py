"""label, segment and forecast on a real multi-process Dask cluster give the bytes of a local run,
and what travels to the workers is partition paths and settings (a few hundred bytes), not data."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from c2m_cli.errors import C2MError
from c2m_cli.executor import MAX_TASK_BYTES, get_executor, usage_mark, usage_since
from c2m_cli.workspace import Workspace, sha256_of
from tests.conftest import run_c2m

distributed = pytest.importorskip("distributed")
synth = pytest.importorskip("c2m_cli.synth")

USERS = 1000
PARTITION_ROWS = 10_000  # ~27k order lines: three user partitions
SEGMENT_PARTITION_USERS = 400  # ~1,000 labelled users: three assignment partitions
STEPS: dict[str, list[str]] = {
    "label": ["--partition-rows", str(PARTITION_ROWS)],
    "segment": ["--k", "4", "--bootstrap", "3", "--partition-users", str(SEGMENT_PARTITION_USERS)],
    "forecast": ["--levels", "total,category_l1,sku"],
}
OUTPUTS = (
    "labels.parquet", "tags.parquet", "review_sentiment.parquet", "value_model.json",
    "segments.parquet", "segment_profiles.parquet", "segment_model.json",
    "forecast.parquet", "backtest.parquet", "forecast_metrics.parquet", "forecast_model.json",
)


@pytest.fixture(scope="module")
def cluster() -> Any:
    # a random port for the scheduler's HTTP server: other clusters may hold the default 8787
    with distributed.LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=":0"
    ) as running:
        yield running


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, cluster: Any) -> dict[str, Any]:
    """The world once, then the three steps on a copy per executor; their --json summaries."""
    root = tmp_path_factory.mktemp("dask")
    synth.generate_world(Workspace(root / "base"), users=USERS, seed=0)
    address = cluster.scheduler_address.replace("tcp://", "dask://")
    out: dict[str, Any] = {}
    for name, spec in (("local", "local"), ("dask", address)):
        ws = root / name
        shutil.copytree(root / "base", ws)
        summaries = {}
        for step, options in STEPS.items():
            result = run_c2m(step, ws, *options, "--executor", spec, "--json")
            assert result.exit_code == 0, result.stderr
            summaries[step] = json.loads(result.stdout)
        out[name] = {"root": ws, "summaries": summaries}
    return out


def test_outputs_are_byte_identical_local_and_dask(runs: dict[str, Any]) -> None:
    local, remote = runs["local"]["root"], runs["dask"]["root"]
    for name in OUTPUTS:
        assert (local / name).is_file(), name
        assert sha256_of(local / name) == sha256_of(remote / name), name
    # the same files, and no partition or result left behind in a staging area
    listing = lambda root: sorted(p.name for p in root.iterdir() if p.name != "manifest.json")  # noqa: E731
    assert listing(local) == listing(remote)
    assert not [p for p in remote.iterdir() if p.name.startswith(".staging-")]


def test_every_step_ran_its_tasks_on_dask_with_small_payloads(runs: dict[str, Any]) -> None:
    partitions = json.loads((runs["dask"]["root"] / "value_model.json").read_text(encoding="utf-8"))["partitions"]
    assert partitions == 3
    users = runs["dask"]["summaries"]["segment"]["users"]
    assignment = -(-users // SEGMENT_PARTITION_USERS)
    assert assignment == 3
    # segment: the reference and 3 bootstrap fits of k = 4, then one assignment task per user partition
    expected_tasks = {"label": partitions, "segment": 1 + 3 + assignment, "forecast": 3}  # forecast: one batch per level
    for step, tasks in expected_tasks.items():
        local = runs["local"]["summaries"][step]["executor"]
        remote = runs["dask"]["summaries"][step]["executor"]
        if step == "segment":  # locally the bootstrap fits run in the step's own process (threads)
            assert local == {"kind": "local", "tasks": assignment, "max_payload_bytes": None}
        else:
            assert local == {"kind": "local", "tasks": tasks, "max_payload_bytes": None}, step
        assert remote["kind"] == "dask" and remote["tasks"] == tasks, (step, remote)
        # paths and settings: a few hundred bytes to ~1.3 KB (label carries its options)
        assert 0 < remote["max_payload_bytes"] < 4096, (step, remote)


def test_an_item_carrying_data_is_refused_before_anything_runs(cluster: Any) -> None:
    executor = get_executor(cluster.scheduler_address.replace("tcp://", "dask://"))
    try:
        mark = usage_mark()
        assert executor.map(len, ["a" * 10, "b" * 20]) == [10, 20]
        assert usage_since(mark) == {"kind": "dask", "tasks": 2, "max_payload_bytes": executor.max_payload_bytes}
        small = executor.max_payload_bytes
        assert 0 < small < 100
        big = np.zeros(10_000)  # 80 KB of float64: data, not a path
        with pytest.raises(C2MError, match=r"Dask task 2 of 2 for len would ship 80,\d{3} bytes to a worker \(limit 65,536\)") as info:
            executor.map(len, [[1], big])
        assert type(info.value) is C2MError and info.value.exit_code == 1
        assert executor.tasks == 2 and executor.max_payload_bytes == small  # nothing of the refused map counted
        assert MAX_TASK_BYTES == 64 * 1024
    finally:
        executor.close()


def test_label_results_come_back_as_paths_in_the_workspace(tmp_path: Path, cluster: Any) -> None:
    """A label task run by a worker writes its result tables under the workspace's staging
    area and returns their paths, not frames."""
    import datetime as dt

    import polars as pl

    from c2m_cli.labels import label_partition_files
    from c2m_cli.labels.base import LabelOptions
    from c2m_cli.labels.partitions import LINE_SCHEMA, PartitionTask, partition_files

    days = [dt.date(2025, 1, 2), dt.date(2025, 2, 3), dt.date(2025, 3, 4)]
    lines = pl.DataFrame(
        {
            "user_id": ["u1", "u1", "u2"], "order_id": ["o1", "o2", "o3"], "sku": ["s1", "s2", "s1"],
            "ts_local": [dt.datetime.combine(d, dt.time(10)) for d in days], "qty": [1.0, 2.0, 1.0],
            "amount": [10.0, 30.0, 12.0], "status": ["paid"] * 3, "is_presale": [False] * 3,
            "is_discounted": [False] * 3, "channel": ["app"] * 3, "province": ["浙江"] * 3, "city": ["杭州"] * 3,
            "day": days, "is_purchase": [True] * 3, "is_return": [False] * 3, "is_cancelled": [False] * 3,
        },
        schema=LINE_SCHEMA,
    )
    staging = tmp_path / "ws" / ".staging-label-x" / "_partitions"
    parts = partition_files(lines.lazy(), staging / "lines", 1)
    task = PartitionTask(
        index=0, lines=parts[0], customers=(), events=(), reviews=(), products=None, timezone="Asia/Shanghai",
        as_of=dt.date(2025, 4, 1), options=LabelOptions(), results=str(staging / "results"),
    )
    executor = get_executor(cluster.scheduler_address.replace("tcp://", "dask://"))
    try:
        [paths] = executor.map(label_partition_files, [task])
    finally:
        executor.close()
    assert paths["sentiment"] is None  # no reviews in this partition
    assert {Path(paths[k]) for k in ("users", "tags")} == {
        staging / "results" / "users-00000.parquet", staging / "results" / "tags-00000.parquet"
    }
    users = pl.read_parquet(paths["users"])
    assert users["user_id"].to_list() == ["u1", "u2"]
    assert users["behavior_orders"].to_list() == [2, 1]


def test_segment_assignment_tasks_read_their_partition_and_write_to_the_workspace(tmp_path: Path, cluster: Any) -> None:
    """A segment assignment task run by a worker reads its partition of the matrix from the
    workspace's staging area and writes each user's segment and distance there; the client gets
    paths back, and the result equals one local ``cluster.assign`` over everyone."""
    import polars as pl

    from c2m_cli.executor import read_arrays
    from c2m_cli.segment import cluster as clustering
    from c2m_cli.segment.assign import assign_all, partition_of

    rng = np.random.default_rng(0)
    X = np.ascontiguousarray(rng.normal(size=(300, 5)), dtype=np.float32)
    fitted = clustering.Clustering("kmeans", rng.normal(size=(3, 5)))
    users = pl.Series("user_id", [f"u{i}" for i in range(300)])
    staging = tmp_path / "ws" / ".staging-segment-x"
    executor = get_executor(cluster.scheduler_address.replace("tcp://", "dask://"))
    try:
        mark = usage_mark()
        labels, dist = assign_all(fitted, X, users, runner=executor, workdir=staging, partition_users=100)
        used = usage_since(mark)
    finally:
        executor.close()
    assert used["kind"] == "dask" and used["tasks"] == 3 and 0 < used["max_payload_bytes"] < 1024
    whole_labels, whole_dist = clustering.assign(fitted, X)
    assert np.array_equal(labels, whole_labels) and np.array_equal(dist, whole_dist)
    # the partitions are the label step's user-hash partitions; each result file holds its users
    part = partition_of(users, 3)
    assert np.bincount(part, minlength=3).min() > 0
    from c2m_cli.labels.partitions import HASH_SEED
    from c2m_cli.segment.assign import HASH_SEED as SEGMENT_HASH_SEED

    assert SEGMENT_HASH_SEED == HASH_SEED  # the label step's user partitions
    for p in range(3):
        result = read_arrays(str(staging / "assign" / f"result-{p:05d}.parquet"))
        assert result["row"].tolist() == np.flatnonzero(part == p).tolist()
