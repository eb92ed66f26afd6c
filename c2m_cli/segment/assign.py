"""The final assignment of every user to a segment, partition by partition, on the executor.

``segment_partition`` is what the step runs: a task per user partition that reads its own users'
rows of labels.parquet, tags.parquet, orders.parquet (events, reviews) from the workspace —
polars scans filtered on the user-id hash — builds their features with the fitted specs, assigns
them, writes their ``user_id``, segment and distance and the sums their segments' profiles are
made of (``profile.partition_stats``) to files next to it, and returns those two paths. The
client holds no user's row: it adds the sums up and concatenates the files.

``assign_all`` (below) assigns the rows of a matrix already in memory the same way.

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
# default users per assignment partition: as many as the fit sample (c2m_cli.segment.FIT_USERS),
# so a workspace the fit sees whole is also assigned in one piece, in its own row order
PARTITION_USERS = 200_000
# the tables a partition task reads (each optional but labels)
TABLES = ("labels", "tags", "orders", "products", "events", "review_sentiment", "reviews")
# the order-line columns segmentation reads (mixes, activity, spend lifts, what counts as a purchase)
ORDER_COLUMNS = ("user_id", "order_id", "sku", "qty", "unit_price", "ts", "channel", "status", "presale")


def order_subset(orders: pl.LazyFrame, keep: pl.Expr) -> pl.LazyFrame:
    """The lines of some users (``keep``), only the columns segmentation reads, read once."""
    names = orders.collect_schema().names()
    return orders.select([c for c in ORDER_COLUMNS if c in names]).filter(keep).collect().lazy()


def release_memory() -> None:
    """Hand the heap's free pages back to the system (glibc ``malloc_trim``; elsewhere a no-op):
    a partition's frames are freed, but without it the next one's peak stacks on their pages."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if name:
        try:
            ctypes.CDLL(name).malloc_trim(0)
        except (OSError, AttributeError):
            pass


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


def in_partition(index: int, partitions: int, column: str = "user_id") -> pl.Expr:
    """The rows of user partition ``index`` of ``partitions`` (``partition_of`` as a filter)."""
    if partitions <= 1:
        return pl.lit(True)
    return (pl.col(column).cast(pl.String).hash(HASH_SEED) % partitions) == index


@dataclass(frozen=True)
class PartitionTask:
    """One user partition of the final assignment: the workspace tables (paths; None when
    absent), the fitted model (JSON: specs, reduction, clustering, timezone) and where to write."""

    index: int
    partitions: int
    tables: tuple[tuple[str, str | None], ...]  # (name, path) for every name in TABLES
    model: str
    result: str  # Parquet: user_id, segment (0-based, in the model's clustering), distance
    stats: str  # .npz of profile.partition_stats (and the growth evidence)


def segment_partition(task: PartitionTask) -> tuple[str, str]:
    """One executor task: features, segment and profile sums of one partition of users."""
    from c2m_cli.growth import user_rungs
    from c2m_cli.segment.features import FeatureSpec, raw_frame, scale_matrix
    from c2m_cli.segment.model import project
    from c2m_cli.segment.profile import partition_stats

    model = json.loads(Path(task.model).read_text(encoding="utf-8"))
    specs = [FeatureSpec.from_json(s) for s in model["features"]]
    clustering = cluster.Clustering.from_json(model["clustering"])
    paths = dict(task.tables)
    keep = in_partition(task.index, task.partitions)

    def scan(name: str) -> pl.LazyFrame | None:
        path = paths.get(name)
        if path is None:
            return None
        lf = pl.scan_parquet(path)
        if task.partitions > 1 and "user_id" in lf.collect_schema().names():
            lf = lf.filter(keep)
        return lf

    labels_lf = scan("labels")
    assert labels_lf is not None
    labels = labels_lf.collect()
    tags_lf = scan("tags")
    tags = None if tags_lf is None else tags_lf.collect()
    orders = scan("orders")
    if orders is not None:
        # the partition's own order lines (every line when it is the only one), read once: the
        # mixes and the spend lifts use them
        orders = order_subset(pl.scan_parquet(str(paths["orders"])), keep if task.partitions > 1 else pl.lit(True))
    products = None if paths.get("products") is None else pl.read_parquet(str(paths["products"]))
    raw = raw_frame(labels, tags, specs, orders=orders, products=products, timezone=model["timezone"])
    del tags
    X = project(scale_matrix(raw, specs), model.get("reduction"))
    seg, dist = cluster.assign(clustering, X)
    del X
    growth, evidence = user_rungs(labels, searches=_searches(scan("events")), reviews=_reviews(scan, paths))
    stats = partition_stats(
        labels=labels, raw=raw, specs=specs, seg=seg, k=clustering.k, orders=orders, products=products, growth=growth,
    )
    pl.DataFrame(
        {"user_id": raw["user_id"], "segment": pl.Series(seg, dtype=pl.Int32), "distance": pl.Series(dist, dtype=pl.Float64)}
    ).write_parquet(task.result)
    stats["growth_missing"] = [evidence.missing[level] or "" for level in sorted(evidence.missing)]
    save_stats(task.stats, stats)
    del labels, raw, orders, stats, growth
    release_memory()
    return task.result, task.stats


def _searches(events: pl.LazyFrame | None) -> pl.DataFrame | None:
    """user_id of every search (events with event = search, or a query)."""
    if events is None:
        return None
    names = events.collect_schema().names()
    if "user_id" not in names:
        return None
    cond = pl.lit(False)
    if "event" in names:
        cond = cond | (pl.col("event").cast(pl.String) == "search")
    if "query" in names:
        cond = cond | pl.col("query").is_not_null()
    return events.filter(cond.fill_null(False)).select(pl.col("user_id").cast(pl.String)).collect()


def _reviews(scan: Any, paths: dict[str, str | None]) -> pl.DataFrame | None:
    """user_id with rating and/or sentiment of every review (review_sentiment.parquet when the
    label step wrote it, else reviews.parquet's ratings)."""
    for table in ("review_sentiment", "reviews"):
        if paths.get(table) is None:
            continue
        lf = pl.scan_parquet(str(paths[table]))
        names = lf.collect_schema().names()
        if "user_id" not in names:
            return None
        lf = scan(table)
        return lf.select(pl.col("user_id").cast(pl.String), *(pl.col(c) for c in ("rating", "sentiment") if c in names)).collect()
    return None


def save_stats(path: str, stats: dict[str, Any]) -> None:
    """``partition_stats`` as an .npz (arrays and strings only, no pickle)."""
    flat: dict[str, Any] = {}
    for key, value in stats.items():
        if key == "spend":
            for column, (names, sums, lines) in value.items():
                flat[f"spend|{column}|names"] = np.asarray(names, dtype=str)
                flat[f"spend|{column}|sums"] = sums
                flat[f"spend|{column}|lines"] = lines
        else:
            flat[key] = np.asarray(value)
    with open(path, "wb") as out:
        np.savez(out, **flat)


def load_stats(path: str) -> dict[str, Any]:
    """The statistics ``save_stats`` wrote."""
    out: dict[str, Any] = {"spend": {}}
    with np.load(path, allow_pickle=False) as data:
        for key in data.files:
            value = data[key]
            if key.startswith("spend|"):
                _, column, part = key.split("|")
                entry = out["spend"].setdefault(column, {})
                entry[part] = value.tolist() if part == "names" else value
            elif key in ("n", "value_total"):
                out[key] = value.item()
            elif key == "growth_missing":
                out[key] = [str(v) or None for v in value.tolist()]
            else:
                out[key] = value
    out["spend"] = {c: (e["names"], e["sums"], e["lines"]) for c, e in out["spend"].items()}
    return out
