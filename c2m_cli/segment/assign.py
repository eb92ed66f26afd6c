"""The final assignment of every user to a segment, partition by partition, on the executor.

Users are split by the stable user-id hash of the label step (``c2m_cli.labels.partitions``),
``partition_users`` users per partition. Each partition's rows of the clustering matrix are
written once to a Parquet file in the step's staging area (on the workspace, so on storage a
Dask worker shares); a task carries that path, the path of the clustering (JSON) and the path to
write its result to — never arrays. The task reads its partition with polars, assigns its users
(``cluster.assign``) and writes their segment index and distance next to it. Locally the same
tasks run in this process, so results are byte-identical whichever executor ran them; with one
partition (up to ``partition_users`` users) the rows are assigned in their original order, as a
single ``cluster.assign`` over everyone would.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from c2m_cli.executor import read_arrays, write_arrays
from c2m_cli.segment import cluster

# the label step's user-hash seed (c2m_cli.labels.partitions.HASH_SEED, pinned equal by a test;
# not imported, which would load every label family)
HASH_SEED = 20240618
PARTITION_USERS = 500_000  # default users per assignment partition (~250 MB of a 128-feature matrix)


@dataclass(frozen=True)
class AssignTask:
    """One partition of users: where its matrix rows are, where the clustering is, where to
    write the result."""

    index: int
    matrix: str  # Parquet: ``row`` (the users' row numbers) and ``x`` (their matrix rows)
    clustering: str  # JSON of ``cluster.Clustering.to_json``
    result: str  # Parquet written by the task: ``row``, ``segment``, ``distance``


def assign_partition(task: AssignTask) -> str:
    """One executor task: assign the partition's users; returns the path of the result file."""
    arrays = read_arrays(task.matrix)
    X = np.ascontiguousarray(arrays["x"], dtype=np.float32)
    clustering = cluster.Clustering.from_json(json.loads(Path(task.clustering).read_text(encoding="utf-8")))
    labels, dist = cluster.assign(clustering, X)
    return write_arrays(task.result, {"row": arrays["row"], "segment": labels, "distance": dist})


def partition_of(user_ids: pl.Series, partitions: int) -> np.ndarray:
    """Each user's partition (0 … partitions − 1), by the label step's stable hash of user_id."""
    if partitions <= 1:
        return np.zeros(user_ids.len(), dtype=np.int64)
    return (user_ids.cast(pl.String).hash(HASH_SEED) % partitions).cast(pl.Int64).to_numpy()


def assign_all(
    clustering: cluster.Clustering,
    X: np.ndarray,
    user_ids: pl.Series,
    *,
    runner: Any,
    workdir: Path,
    partition_users: int = PARTITION_USERS,
    name: str = "assign",
) -> tuple[np.ndarray, np.ndarray]:
    """Segment index (0-based, as in ``clustering.centers``) and distance of every row of ``X``,
    computed by one task per user partition on ``runner`` (an executor)."""
    n = X.shape[0]
    partitions = max(1, -(-n // max(partition_users, 1)))
    part = partition_of(user_ids, partitions)
    directory = workdir / name
    directory.mkdir(parents=True, exist_ok=True)
    model = directory / "clustering.json"
    model.write_text(json.dumps(clustering.to_json()), encoding="utf-8")
    tasks: list[AssignTask] = []
    for p in range(partitions):
        rows = np.flatnonzero(part == p)
        if rows.size == 0:
            continue
        matrix = write_arrays(str(directory / f"x-{p:05d}.parquet"), {"row": rows, "x": X[rows]})
        tasks.append(AssignTask(p, matrix, str(model), str(directory / f"result-{p:05d}.parquet")))
    labels = np.empty(n, dtype=np.int32)
    dist = np.empty(n, dtype=np.float64)
    for path in runner.map(assign_partition, tasks, parallel=False):
        result = read_arrays(path)
        labels[result["row"]] = result["segment"]
        dist[result["row"]] = result["distance"]
    return labels, dist
