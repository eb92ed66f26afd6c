"""Users split into partitions by a stable hash of user_id, each partition's rows in parquet
files of its own: the unit of work of the label step (one task per partition, on the local
executor or a Dask cluster; a task carries paths, not data)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from c2m_cli.labels.base import LabelOptions

ROW = "_c2m_row"
HASH_SEED = 20240618  # fixed: the partition of a user never depends on --seed
# staging files are written once and read once, by this run: fast compression, no statistics
STAGING: dict[str, Any] = {"compression": "lz4", "statistics": False}

# the per-user result tables of a partition, read back by ranges of users (``read_range``)
RANGED = ("users", "tags")
RANGE_ROW_GROUP = 4096

LINE_SCHEMA = pl.Schema({  # type: ignore[arg-type]
    "user_id": pl.String, "order_id": pl.String, "sku": pl.String, "ts_local": pl.Datetime("us"),
    "qty": pl.Float64, "amount": pl.Float64, "status": pl.String, "is_presale": pl.Boolean,
    "is_discounted": pl.Boolean, "channel": pl.String, "province": pl.String, "city": pl.String,
    "day": pl.Date, "is_purchase": pl.Boolean, "is_return": pl.Boolean, "is_cancelled": pl.Boolean,
})


@dataclass(frozen=True)
class DataFacts:
    """What the data as a whole can tell, decided once before the partitions run (so every
    partition answers alike): whether timestamps carry a time of day, whether orders have a
    discount column, whether the brand field names brands, and the market's calendar."""

    market: str = "none"
    has_hours: bool = True
    has_discount: bool = True
    brands_informative: bool = True


@dataclass(frozen=True)
class PartitionTask:
    """One partition of users (by a stable hash of user_id): the parquet files holding its rows."""

    index: int
    lines: tuple[str, ...]
    customers: tuple[str, ...]
    events: tuple[str, ...]
    reviews: tuple[str, ...]
    products: str | None
    timezone: str
    as_of: dt.date
    options: LabelOptions
    facts: DataFacts = DataFacts()
    results: str | None = None  # the directory the task writes its result tables to
    bgnbd: tuple[float, float, float, float] | None = None  # the fitted r, alpha, a, b (P(alive) 90 days ago)


def write_results(task: PartitionTask, tables: dict[str, pl.DataFrame | None]) -> dict[str, str | None]:
    """A partition's result tables as parquet files in ``task.results`` (where it runs: a
    Dask worker writes them to the workspace's staging area, on storage the client shares);
    returns their paths (None for a table the partition does not have)."""
    if task.results is None:
        raise ValueError("a partition task writes its results only with a results directory")
    directory = Path(task.results)
    directory.mkdir(parents=True, exist_ok=True)
    paths: dict[str, str | None] = {}
    for name, frame in tables.items():
        if frame is None:
            paths[name] = None
            continue
        path = directory / f"{name}-{task.index:05d}.parquet"
        if name in RANGED:  # sorted by user_id, read back by ranges of users: small row groups with statistics
            frame.write_parquet(path, compression="lz4", statistics=True, row_group_size=RANGE_ROW_GROUP)
        else:
            frame.write_parquet(path, **STAGING)
        paths[name] = str(path)
    return paths


def user_range(lo: str | None, hi: str | None) -> pl.Expr:
    """``lo <= user_id < hi`` (an open end where None)."""
    expr = pl.lit(True)
    if lo is not None:
        expr = expr & (pl.col("user_id") >= lo)
    if hi is not None:
        expr = expr & (pl.col("user_id") < hi)
    return expr


def read_range(paths: list[str], lo: str | None, hi: str | None, columns: list[str] | None = None) -> pl.DataFrame:
    """The rows of users ``lo <= user_id < hi`` from result files sorted by user_id (row groups
    outside the range are skipped by their statistics): one range of users from every partition."""
    frames = [pl.scan_parquet(path).filter(user_range(lo, hi)) for path in paths]
    if columns is not None:
        frames = [f.select(columns) for f in frames]
    return pl.concat(frames, how="vertical_relaxed").collect()


def range_bounds(users: pl.Series, ranges: int) -> list[str | None]:
    """``ranges + 1`` bounds splitting the sorted ``users`` into about equal ranges (None: open
    end); fewer when users repeat."""
    n = users.len()
    inner = sorted({users[i * n // ranges] for i in range(1, ranges)} if n else set())
    return [None, *inner, None]


def read_results(paths: dict[str, str | None]) -> dict[str, pl.DataFrame | None]:
    """The tables ``write_results`` wrote, read back by the client."""
    return {name: None if path is None else pl.read_parquet(path) for name, path in paths.items()}


def read_partition(paths: tuple[str, ...]) -> pl.DataFrame | None:
    """A partition's rows back in their original order (streaming sinks do not keep it, and
    float sums depend on it: the order is what makes outputs byte-identical)."""
    if not paths:
        return None
    frame = pl.read_parquet(list(paths))
    if not frame[ROW].is_sorted():  # one ordered sink (a single partition) keeps the order
        frame = frame.sort(ROW)
    return frame.drop(ROW)


def partition_files(frame: pl.LazyFrame, directory: Path, partitions: int) -> dict[int, tuple[str, ...]]:
    """Stream ``frame`` into ``partitions`` sets of parquet files by a stable hash of user_id."""
    directory.mkdir(parents=True, exist_ok=True)
    frame = frame.with_row_index(ROW)
    if partitions == 1:
        frame.sink_parquet(directory / "part.parquet", **STAGING)
        return {0: (str(directory / "part.parquet"),)}
    keyed = frame.with_columns(
        _part=(pl.col("user_id").cast(pl.String).hash(HASH_SEED) % partitions).cast(pl.Int32)
    )
    keyed.sink_parquet(pl.PartitionBy(directory, key="_part", include_key=False), **STAGING)
    found: dict[int, tuple[str, ...]] = {}
    for k in range(partitions):
        found[k] = tuple(sorted(str(p) for p in (directory / f"_part={k}").glob("*.parquet")))
    return found
