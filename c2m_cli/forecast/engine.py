"""The forecast of every level, in named stages that ``compute_forecast`` calls in order:

1. levels (``build_levels``): each level's (series, periods) demand matrix, the total's
   festival and weekday effects;
2. candidates (``run_candidates``): every model on every series partition, backtests and final
   forecasts joined per level and ranked;
3. selection (``select_levels``): ``selected`` = the mean of a series' pooled best candidates;
4. products (``product_lifecycle``): new products' parent share, retired products, pre-sales;
5. reconciliation (``reconcile_tree`` on a ``Tree``: ordered levels and summing matrices to the
   bottom; ``product_tree`` builds the product one), order-side cuts scaled to the total;
6. intervals (``model_intervals`` per level and model, or ``coherent_intervals`` over a tree);
7. tables (``level_tables`` into a ``TableSink``) and the summary.

The stages pass small dataclasses (``Axis``, ``Levels``, ``LevelResult``, ``Selection``,
``Lifecycle``, ``Tree``, ``Coherent``). ``compute_forecast`` is pure (frames in, frames out);
``run_forecast`` wraps it in a step.
"""

from __future__ import annotations

import datetime as dt
import os
import weakref
from collections.abc import Callable, Sequence
from contextlib import ContextDecorator, suppress
from dataclasses import dataclass, field
from functools import cache, partial
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import polars as pl

from c2m_cli.diagnostics import WarningLog
from c2m_cli.errors import InvalidDataError, UsageError
from c2m_cli.executor import preload
from c2m_cli.forecast.backtest import (
    independent_windows,
    make_cutoffs,
    rank_models,
    series_scale,
    window_errors,
)
from c2m_cli.forecast.features import festival_exposure, festival_factors, weekday_factors
from c2m_cli.forecast.geo import GEO_LEVELS, geo_tree
from c2m_cli.forecast.global_model import MIN_SERIES, GlobalTask, calendar_features, global_task
from c2m_cli.forecast.intervals import (
    MIN_RESIDUALS,
    QUANTILE_COLUMNS,
    QUANTILES,
    ResidualPool,
    apply_quantiles,
    heldout_bounds,
    prepare_together,
    scaled_residuals,
    series_quantiles,
)
from c2m_cli.forecast.models import MODELS, BatchTask, demand_class, forecast_batch
from c2m_cli.forecast.presale import presale_signal
from c2m_cli.forecast.reconcile import (
    TAUS,
    bottom_up,
    coherent_paths,
    inflate,
    mint,
    point_sum,
    pooled_ranks,
    scale_to_total,
    scenario_quantiles,
    shrunk_covariance,
    summing_matrix,
)
from c2m_cli.forecast.seasonal import MIN_SEASONS, YEAR
from c2m_cli.forecast.series import (
    ORDER_LEVELS,
    PRODUCT_LEVELS,
    SEASON_LENGTH,
    SeriesSet,
    build_series,
    next_periods,
    product_keys,
)

T = TypeVar("T")
R = TypeVar("R")

BATCH_ROWS = 2048  # series per partition (one executor task): 10-15 % less CPU per series than 1,024 on Complete Journey's SKUs
SHARED_BATCH_ROWS = 1024  # a level of more series than this has two partitions at least (both cores take one)
FRAME_SERIES = 8192  # series per part of backtest.parquet (bounded memory)
# Below this many series × periods outside the largest batch (the work a second process can take)
# the process pool costs more than it saves (forking it: ~30 ms; spawning it, where there is no
# fork, ~1 s: SPAWN_CELLS).
PARALLEL_CELLS = 10_000
SPAWN_CELLS = 150_000
MIN_HISTORY = {"D": 28, "W": 8, "M": 3}
RETIRE_AFTER = {"D": 60, "W": 13, "M": 4}
RECONCILE = ("bottom_up", "mint_shrink")
INTERVALS = ("per_level", "coherent")
GLOBAL_MODEL = "global_hgb"
# MinT holds a dense (series × series) covariance: beyond this many series, bottom-up is used.
MINT_MAX_NODES = 6000
# --horizon beyond this many times the history, or beyond three years, is a usage error
MAX_HORIZON_RATIO = 2
MAX_HORIZON = {"D": 1096, "W": 157, "M": 36}
HORIZON_FLOOR = {"D": 28, "W": 13, "M": 3}  # always allowed, however short the history
# ``selected`` averages the TOP_K models of lowest backtest error (1: the single best model).
TOP_K = 3
# --backtest-detail: which models' per-series rows backtest.parquet and forecast_metrics.parquet
# hold — every candidate's (``all``), only ``selected``'s (``selected``; every candidate keeps its
# level aggregate ``*`` in the metrics), or ``auto``: all at a level of at most DETAIL_SERIES
# series, selected above (tens of thousands of products × every candidate is rows nobody reads)
BACKTEST_DETAIL = ("auto", "all", "selected")
DETAIL_SERIES = 2000


@dataclass
class LevelResult:
    """One level after the candidates stage: its series, every candidate's forecasts and the
    candidates' ranking (what selection combines)."""

    level: str
    ids: list[str]
    y: np.ndarray  # (series, T)
    scale: np.ndarray  # (series,)
    names: list[str]
    backtest: dict[str, np.ndarray]  # model → (series, windows, h)
    final: dict[str, np.ndarray]  # model → (series, h)
    rank: np.ndarray  # (series, models) indices into names, best first
    held_rank: np.ndarray  # (series, windows, models) best first, judged on the windows before the window
    scored: np.ndarray  # (series,) bool: has a backtest score
    seen: np.ndarray  # observations per series
    # number of candidates to combine per series: the leading ranked ones within the one-SE
    # pool of the best (rank_models; selection averages at most TOP_K of them)
    n_ok: np.ndarray  # (series,)
    held_ok: np.ndarray  # (series, windows): the same, per held-out window (0: no earlier window judged it)
    method: list[str] = field(default_factory=list)


@dataclass
class ForecastResult:
    """The tables (lazy scans of Parquet parts when computed with a scratch directory)."""

    forecast: Any
    backtest: Any
    metrics: pl.DataFrame
    summary: dict[str, Any]
    warnings: WarningLog = field(default_factory=WarningLog)
    rows: dict[str, int] = field(default_factory=dict)


def _matrix(frame: pl.DataFrame, level: str, periods: list[dt.date]) -> tuple[list[str], np.ndarray]:
    part = frame.filter(pl.col("level") == level)
    ids = sorted(part["unique_id"].unique().to_list())
    if not ids:
        return [], np.zeros((0, len(periods)))
    index = {d: i for i, d in enumerate(periods)}
    row = part["unique_id"].replace_strict({u: i for i, u in enumerate(ids)}, return_dtype=pl.Int64).to_numpy()
    col = part["ds"].replace_strict(index, return_dtype=pl.Int64).to_numpy()
    y = np.full((len(ids), len(periods)), np.nan)
    y[row, col] = part["y"].to_numpy()
    return ids, y


def run_task(task: BatchTask | GlobalTask) -> Any:
    """What one executor item does: a batch of series, or one fit of a level's global model.

    A task that read its partition from a file writes its result next to it, where it ran
    (a Dask worker, on storage the client shares), and returns only that file's path."""
    from c2m_cli.executor import write_arrays

    if isinstance(task, GlobalTask):
        fitted = global_task(task)
        if task.path is None or fitted is None:
            return fitted
        return write_arrays(f"{task.path.removesuffix('.parquet')}.{task.phase}.result.parquet", {"forecast": fitted})
    out = forecast_batch(task)
    if task.path is None:
        return out
    flat = {f"{phase}/{m}": v for phase, fc in out.items() for m, v in fc.items()}
    return write_arrays(f"{task.path.removesuffix('.parquet')}.result.parquet", flat)


def _read_result(out: Any, task: BatchTask | GlobalTask) -> Any:
    """A task's result as ``run_task`` computed it (read back when it came as a path)."""
    from c2m_cli.executor import read_arrays

    if not isinstance(out, str):
        return out
    arrays = read_arrays(out)
    if isinstance(task, GlobalTask):
        return arrays["forecast"]
    phases: dict[str, dict[str, np.ndarray]] = {"backtest": {}, "final": {}}
    for key, values in arrays.items():
        phase, _, model = key.partition("/")
        phases[phase][model] = values
    return phases


def _run_tasks(tasks: list[BatchTask | GlobalTask], executor: str, cells: int) -> list[Any]:
    from c2m_cli.executor import get_executor

    ex = get_executor(executor)
    try:
        return ex.map(run_task, tasks, parallel=cells >= (PARALLEL_CELLS if os.name == "posix" else SPAWN_CELLS))
    finally:
        ex.close()


def partitions(ids: list[str], rows_per_partition: int = BATCH_ROWS) -> list[np.ndarray]:
    """Series partitions of a level by the hash of ``unique_id`` (row indices, ascending): a
    series' partition depends only on its id and the partition count — one per
    ``rows_per_partition`` series, and two at least for more than SHARED_BATCH_ROWS (a level
    of 1,025–4,096 series is shared by both cores, as with partitions of 1,024)."""
    n_parts = max(1, -(-len(ids) // rows_per_partition), min(2, -(-len(ids) // SHARED_BATCH_ROWS)))
    key = (pl.Series(ids, dtype=pl.String).hash(seed=0) % n_parts).to_numpy()
    return [rows for p in range(n_parts) if (rows := np.flatnonzero(key == p)).size]


def _split(
    ids: list[str], y: np.ndarray, m_bt: np.ndarray, m_fc: np.ndarray, cutoffs: list[int], h: int, season: int, freq: str,
    where: Path | None,
) -> list[tuple[np.ndarray, BatchTask]]:
    """The level's batch tasks, one per series partition; with ``where`` each partition is a
    Parquet file there and the task carries its path, not the arrays. A partition's rows are
    in order of their first observation (ties: level order): its smoothing recursions then skip
    the rows that have not started yet (``models.leading_rows``)."""
    from c2m_cli.forecast.models import first_observed, write_partition

    out = []
    empty = np.zeros((0, 0))
    first = first_observed(y)
    for p, part in enumerate(partitions(ids, BATCH_ROWS)):
        rows = part[np.argsort(first[part], kind="stable")]
        if where is None:
            out.append((rows, BatchTask(y[rows], m_bt[rows], m_fc[rows], cutoffs, h, season, freq)))
            continue
        path = where / f"part-{p:05d}.parquet"
        write_partition(str(path), rows, y[rows], m_bt[rows], m_fc[rows])
        out.append((rows, BatchTask(empty, empty, empty, cutoffs, h, season, freq, path=str(path))))
    return out


@cache
def _libc() -> Any:
    """glibc's handle (ctypes), found once; None off glibc."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        return ctypes.CDLL(name)
    except OSError:
        return None


def _trim_heap() -> None:
    """Hand the heap's free pages back to the system (glibc ``malloc_trim``): the per-batch
    arrays of the model tasks, freed as each level is assembled, otherwise stay in the
    process's resident memory. No-op off glibc."""
    libc = _libc()
    if libc is not None and hasattr(libc, "malloc_trim"):
        libc.malloc_trim(0)


def _fixed_mmap_threshold(size: int = 1 << 20) -> None:
    """Pin glibc's mmap threshold (it rises after a big block is freed, then big arrays land in
    the heap and their pages stay resident): arrays above ``size`` are mapped on their own and
    returned to the system when freed. No-op off glibc."""
    _mallopt(-3, size)  # M_MMAP_THRESHOLD


class _ArraysInHeap(ContextDecorator):
    """``@_ArraysInHeap()``: a stage that makes many big temporaries of the same sizes (one
    model's (series, windows, h) arrays after another) takes them from the heap, where a freed
    one is reused, instead of mapping each afresh (its page faults were 15 s of system time in
    the tables stage on Complete Journey's 68k series, for 1.5 s); at the end the heap's free
    pages are handed back (``_trim_heap``) and the 1 MiB mmap threshold is restored. No-op off
    glibc."""

    def __enter__(self) -> None:
        _mallopt(-3, 1 << 30)  # M_MMAP_THRESHOLD: 1 GiB
        _mallopt(-1, 1 << 30)  # M_TRIM_THRESHOLD: no trimming on each free

    def __exit__(self, *exc: object) -> None:
        _mallopt(-1, 128 * 1024)  # glibc's default
        _fixed_mmap_threshold()
        _trim_heap()


def _mallopt(option: int, value: int) -> None:
    libc = _libc()
    if libc is not None and hasattr(libc, "mallopt"):
        libc.mallopt(option, value)


@dataclass
class Axis:
    """The time axis every stage shares: the history's periods, the forecast's, the backtest
    cutoffs and the festival calendar over both."""

    freq: str
    horizon: int
    periods: list[dt.date]
    future: list[dt.date]
    cutoffs: list[int]  # periods of history before each backtest window
    usable: np.ndarray  # (windows, windows) bool: which windows judge window w (independent_windows)
    exposure: np.ndarray  # (periods + horizon, effects) festival exposure
    effect_names: list[str]
    calendar: np.ndarray  # (periods + horizon, features): the global model's calendar

    @property
    def season(self) -> int:
        return SEASON_LENGTH[self.freq]

    @property
    def n_periods(self) -> int:
        return len(self.periods)

    @property
    def n_train_bt(self) -> int:
        """Periods the backtest's festival factors are fitted on (those before the first cutoff)."""
        return self.cutoffs[0] if self.cutoffs else self.n_periods


def time_axis(periods: list[dt.date], *, horizon: int, freq: str, market: str, log: WarningLog) -> Axis:
    """The forecast periods, backtest cutoffs and festival calendar of a history (a usage
    error for a horizon beyond ``check_horizon``'s bound, a warning beyond the history)."""
    n_periods = len(periods)
    check_horizon(horizon, freq, n_periods)
    if horizon > n_periods:
        log.warn(
            "horizon-exceeds-history",
            f"--horizon {horizon} {freq} is longer than the {n_periods} periods of history it is fitted on",
        )
    future = next_periods(periods[-1], freq, horizon)
    season = SEASON_LENGTH[freq]
    # seasonal candidates need MIN_SEASONS seasons (seasonal naive one) before a cutoff: when the
    # full-horizon windows end too early for them, later (truncated) windows judge them too
    late = [k * season for k in (MIN_SEASONS, 1)] if freq in YEAR else []
    cutoffs = make_cutoffs(n_periods, horizon, freq, late_from=late)
    exposure, effect_names = festival_exposure(periods + future, freq, market)
    calendar = calendar_features(periods + future, freq, exposure)
    usable = independent_windows(cutoffs, horizon) if cutoffs else np.zeros((0, 0), dtype=bool)
    return Axis(freq, horizon, periods, future, cutoffs, usable, exposure, effect_names, calendar)


# --- stage 1: levels ----------------------------------------------------------------------


@dataclass
class Levels:
    """The levels stage: each level's demand matrix (series sorted by id; ≥ 0, NaN before a
    series' first period), and what the total's calendar fit found (the prior of every other
    level's festival and weekday factors)."""

    series: dict[str, tuple[list[str], np.ndarray]]
    festival_bt: np.ndarray | None = None  # the total's θ fitted before the first cutoff
    festival_fc: np.ndarray | None = None  # … and on the whole history
    weekday_bt: np.ndarray | None = None  # the total's day-of-week effects (daily data)
    weekday_fc: np.ndarray | None = None
    festival_effects: dict[str, float] = field(default_factory=dict)
    weekday_effects: list[float] | None = None
    demand_classes: dict[str, dict[str, int]] = field(default_factory=dict)


def build_levels(series: SeriesSet, axis: Axis, internal: tuple[str, ...], requested: tuple[str, ...], log: WarningLog) -> Levels:
    """Levels stage: the (series, periods) matrix of every level that has series (``internal``
    starts with the total), the total's festival and weekday effects, the ADI / CV² demand
    classes of the requested levels, and a warning where series are too short for their season."""
    out = Levels({})
    for level in internal:
        ids, y = _matrix(series.frame, level, axis.periods)
        if not ids:
            continue
        y_pos = np.where(np.isnan(y), np.nan, np.clip(y, 0.0, None))
        out.series[level] = (ids, y_pos)
        if level == "total":
            _, theta_bt = festival_factors(y_pos, axis.exposure, axis.n_train_bt, axis.freq, None)
            _, theta_fc = festival_factors(y_pos, axis.exposure, axis.n_periods, axis.freq, None)
            out.festival_bt, out.festival_fc = theta_bt[0], theta_fc[0]
            out.festival_effects = {name: float(v) for name, v in zip(axis.effect_names, theta_fc[0], strict=True)}
            if axis.freq == "D":
                _, dow_bt = weekday_factors(y_pos, axis.periods + axis.future, axis.n_train_bt, None)
                _, dow_fc = weekday_factors(y_pos, axis.periods + axis.future, axis.n_periods, None)
                out.weekday_bt, out.weekday_fc = dow_bt[0], dow_fc[0]
                out.weekday_effects = [round(float(v), 3) for v in dow_fc[0]]
        if axis.freq in YEAR and level in requested:
            _warn_short(level, y_pos, axis.season, axis.freq, log)
        if level in requested:  # for people reading the model
            classes, counts = np.unique(demand_class(y_pos, axis.n_periods), return_counts=True)
            out.demand_classes[level] = {str(k): int(v) for k, v in zip(classes, counts, strict=True)}
    return out


def _warn_short(level: str, y: np.ndarray, season: int, freq: str, log: WarningLog) -> None:
    n_short = int(((~np.isnan(y)).sum(axis=1) < MIN_SEASONS * season).sum())
    if n_short:
        log.warn(
            "short-history",
            f"level {level}: {n_short} of {y.shape[0]} series hold fewer than {MIN_SEASONS} seasons "
            f"({MIN_SEASONS * season} periods of {freq}): their yearly season rests on one cycle (only seasonal naive, "
            "from one season, and Holt-Winters, from 1.5, estimate it; decompositions need two)",
        )


def calendar_multipliers(level: str, y: np.ndarray, axis: Axis, levels: Levels) -> tuple[np.ndarray, np.ndarray]:
    """The festival (× weekday, daily data) multipliers the models divide out of a level's
    series, (series, periods + horizon) for the backtest fits and for the final ones; shrunk
    towards the total's effects (the total towards none)."""
    top = level == "total"
    m_bt, _ = festival_factors(y, axis.exposure, axis.n_train_bt, axis.freq, None if top else levels.festival_bt)
    m_fc, _ = festival_factors(y, axis.exposure, axis.n_periods, axis.freq, None if top else levels.festival_fc)
    if axis.freq == "D":  # the day of the week, divided out like the festivals
        w_bt, _ = weekday_factors(y, axis.periods + axis.future, axis.n_train_bt, None if top else levels.weekday_bt)
        w_fc, _ = weekday_factors(y, axis.periods + axis.future, axis.n_periods, None if top else levels.weekday_fc)
        m_bt, m_fc = m_bt * w_bt, m_fc * w_fc
    return m_bt, m_fc


# --- stage 2: candidates ------------------------------------------------------------------


@_ArraysInHeap()
def run_candidates(
    levels: Levels, axis: Axis, *, global_model: bool = False, seed: int = 0, executor: str = "local", scratch: Path | None = None
) -> dict[str, LevelResult]:
    """Candidates stage: every model on every series (batch tasks per series partition, plus the
    global model's two fits per level), run on the executor, joined per level and ranked by
    backtest error. On the local executor a batch writes its forecasts straight into its
    level's arrays (``_LevelSink``, shared with the forked workers): nothing is pickled back."""
    tasks: list[BatchTask | GlobalTask] = []
    owners: list[tuple[str, str]] = []  # (level, "batch" | "global_backtest" | "global_final")
    part_rows: dict[int, np.ndarray] = {}  # task index → the level rows of that batch
    local = executor == "local" and os.name == "posix"
    spill = None if scratch is None else scratch / "backtests"
    if local and spill is not None:
        spill.mkdir(parents=True, exist_ok=True)
    sinks = {level: _LevelSink.make(len(ids), axis, spill, level) for level, (ids, _) in levels.series.items()} if local else {}
    for level, (ids, y) in levels.series.items():
        m_bt, m_fc = calendar_multipliers(level, y, axis, levels)
        if global_model and axis.cutoffs and len(ids) >= MIN_SERIES:
            # the two long global fits go first, so that a pool starts them at once
            for phase, gtask in _global_tasks(level, y, axis, seed, executor, scratch):
                tasks.append(gtask)
                owners.append((level, f"global_{phase}"))
        where = None
        # Dask tasks read their partition from the shared workspace (a forked local worker must
        # not start polars' thread pool: the local pool carries the partition's arrays)
        if scratch is not None and executor.startswith("dask://"):
            where = scratch / "series" / level
            where.mkdir(parents=True, exist_ok=True)
        for rows, task in _split(ids, y, m_bt, m_fc, axis.cutoffs, axis.horizon, axis.season, axis.freq, where):
            part_rows[len(tasks)] = rows
            tasks.append(task)
            owners.append((level, "batch"))
        del m_bt, m_fc
    # the work outside the largest batch: what a second process can take
    periods = max((y.shape[1] for _, y in levels.series.values()), default=0)
    cells = sum(y.size for _, y in levels.series.values()) - max((r.size for r in part_rows.values()), default=0) * periods
    if local:
        outputs = _run_into_sinks(tasks, owners, part_rows, sinks, cells)
    else:
        outputs = [_read_result(o, t) for o, t in zip(_run_tasks(tasks, executor, cells), tasks, strict=True)]
    results: dict[str, LevelResult] = {}
    for level, (ids, y) in levels.series.items():
        batch_index = [i for i, (lv, kind) in enumerate(owners) if lv == level and kind == "batch"]
        outs = [outputs[i] for i in batch_index]
        fitted = {kind: o for o, (lv, kind) in zip(outputs, owners, strict=True) if lv == level and kind != "batch"}
        batch_rows = [part_rows[i] for i in batch_index]
        if local:
            names, backtest, final = sinks.pop(level).candidates(outs, batch_rows, fitted, axis)
        else:
            names, backtest, final = _join_candidates(outs, batch_rows, fitted, axis)
        _trim_heap()  # the level's batch results, freed as they were joined
        results[level] = rank_level(level, ids, y, names, backtest, final, axis)
        _trim_heap()  # the ranking's temporaries
    return results


@dataclass
class _LevelSink:
    """A level's candidate forecasts as every model's whole arrays — final (series, h) and
    backtest (series, windows, h) — in shared memory (``executor.shared_array``): each batch
    writes its rows where it runs, in this process or in a local worker forked after the arrays
    were made. A model's pages are taken only where it is written."""

    final: dict[str, np.ndarray]
    backtest: dict[str, np.ndarray]

    @classmethod
    def make(cls, n_series: int, axis: Axis, spill: Path | None = None, level: str = "") -> _LevelSink:
        """With ``spill`` (a directory), each backtest array of SPILL_CELLS or more is a file
        there (``{level}-{model}.f64``): ``_spill_backtests`` then maps it again read-only
        instead of copying it out (about 1 GB on Complete Journey's 68k products)."""
        from c2m_cli.executor import shared_array

        h, windows = axis.horizon, len(axis.cutoffs)
        final = {m: shared_array((n_series, h)) for m in MODELS}
        shape = (n_series, windows, h)
        on_disk = spill is not None and n_series * windows * h >= SPILL_CELLS
        backtest = {m: shared_array(shape, spill / f"{level}-{m}.f64" if on_disk and spill else None) for m in MODELS} if windows else {}
        return cls(final, backtest)

    def put(self, rows: np.ndarray, out: dict[str, dict[str, np.ndarray]]) -> dict[str, dict[str, bool]]:
        """A batch's forecasts (``forecast_batch``) written in its rows; per phase, the models
        the batch has, each with whether any of its values is finite."""
        written: dict[str, dict[str, bool]] = {}
        for phase, into in (("final", self.final), ("backtest", self.backtest)):
            written[phase] = {}
            for m, values in out.get(phase, {}).items():
                if m in into:
                    into[m][rows] = values
                    written[phase][m] = bool(np.isfinite(values).any())
        return written

    def candidates(
        self, written: list[dict[str, dict[str, bool]]], rows: list[np.ndarray], fitted: dict[str, Any], axis: Axis
    ) -> tuple[list[str], dict[str, np.ndarray], dict[str, np.ndarray]]:
        """What ``_join_candidates`` makes of the same batches: the models with a finite final
        forecast in some batch (MODELS order, then the global model), NaN in the rows of the
        batches without them; the other models' arrays are let go."""
        names = [m for m in MODELS if any(w["final"].get(m, False) for w in written)]
        for m, values in self.backtest.items():  # a dropped model's file goes (its pages with its array)
            if m not in names and isinstance(values, np.memmap) and values.filename:
                Path(values.filename).unlink(missing_ok=True)
        final = {m: self.final[m] for m in names}
        backtest = {m: self.backtest[m] for m in names} if axis.cutoffs else {}
        for phase, arrays in (("final", final), ("backtest", backtest)):
            for m, values in arrays.items():
                for w, r in zip(written, rows, strict=True):
                    if m not in w[phase]:
                        values[r] = np.nan
        self.final, self.backtest = {}, {}
        return _with_global_model(names, backtest, final, fitted)


# the local executor's batches, with where each writes: set while they run, read by the forked workers
_LOCAL_BATCHES: dict[int, tuple[BatchTask, np.ndarray, _LevelSink]] = {}


def _run_local(item: int | GlobalTask) -> Any:
    """One local executor item: batch ``item`` of ``_LOCAL_BATCHES`` written into its sink (what
    it wrote comes back), or a global model's fit (its forecast comes back)."""
    if isinstance(item, GlobalTask):
        return run_task(item)
    task, rows, sink = _LOCAL_BATCHES[item]
    return sink.put(rows, forecast_batch(task))


def _run_into_sinks(
    tasks: list[BatchTask | GlobalTask], owners: list[tuple[str, str]], part_rows: dict[int, np.ndarray],
    sinks: dict[str, _LevelSink], cells: int,
) -> list[Any]:
    """The tasks on the local executor, each batch writing into its level's sink; per task, what
    ``_run_local`` returned. The batches are handed to the workers by index (the workers, forked
    here, read them from this process's memory: no task is pickled either)."""
    from c2m_cli.executor import LocalExecutor

    items: list[int | GlobalTask] = []
    for i, (task, (level, kind)) in enumerate(zip(tasks, owners, strict=True)):
        if kind == "batch":
            assert isinstance(task, BatchTask)
            _LOCAL_BATCHES[i] = (task, part_rows[i], sinks[level])
            items.append(i)
        else:
            assert isinstance(task, GlobalTask)
            items.append(task)
    try:
        return LocalExecutor().map(_run_local, items, parallel=cells >= PARALLEL_CELLS)
    finally:
        _LOCAL_BATCHES.clear()


def _global_tasks(level: str, y: np.ndarray, axis: Axis, seed: int, executor: str, scratch: Path | None) -> list[tuple[str, GlobalTask]]:
    gpath = None
    if scratch is not None and executor.startswith("dask://"):  # read where it runs
        gpath = scratch / "series" / f"{level}-all.parquet"
        gpath.parent.mkdir(parents=True, exist_ok=True)
        pl.DataFrame({"y": y}).write_parquet(gpath)
        # the calendar too: (periods + horizon) × features floats, for daily history it can pass the task limit
        pl.DataFrame({"calendar": axis.calendar}).write_parquet(str(gpath).removesuffix(".parquet") + ".calendar.parquet")
    carried = np.zeros((0, 0)) if gpath is not None else y
    cal = np.zeros((0, 0)) if gpath is not None else axis.calendar
    path = None if gpath is None else str(gpath)
    return [(phase, GlobalTask(carried, cal, axis.cutoffs, axis.horizon, axis.season, seed, phase, path)) for phase in ("backtest", "final")]


def _join_candidates(
    outs: list[dict[str, dict[str, np.ndarray]]], rows: list[np.ndarray], fitted: dict[str, Any], axis: Axis
) -> tuple[list[str], dict[str, np.ndarray], dict[str, np.ndarray]]:
    """A level's candidates (names in MODELS order, then the global model) and their backtest
    (series, windows, h) and final (series, h) forecasts, the batches joined in row order.
    A model with no forecast for any series of the level (e.g. seasonal models on one year of
    history) is no candidate there; each model's batches are joined then freed."""
    horizon = axis.horizon
    n_series = sum(r.size for r in rows)
    names = [m for m in MODELS if any(m in o["final"] and np.isfinite(o["final"][m]).any() for o in outs)]
    backtest: dict[str, np.ndarray] = {}
    final: dict[str, np.ndarray] = {}
    windows = (len(axis.cutoffs), horizon)

    def joined(phase: str, shape: tuple[int, ...], m: str) -> np.ndarray:
        out = np.full((n_series, *shape), np.nan)  # NaN where a batch had none of it
        for o, r in zip(outs, rows, strict=True):
            if m in o[phase]:
                out[r] = o[phase][m]
        return out

    for m in MODELS:
        if m in names:  # each batch's rows put in place
            final[m] = joined("final", (horizon,), m)
            if axis.cutoffs:
                backtest[m] = joined("backtest", windows, m)
        for o in outs:
            o["final"].pop(m, None)
            o["backtest"].pop(m, None)
    return _with_global_model(names, backtest, final, fitted)


def _with_global_model(
    names: list[str], backtest: dict[str, np.ndarray], final: dict[str, np.ndarray], fitted: dict[str, Any]
) -> tuple[list[str], dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The level's batch candidates, and the global model last when both its fits came back."""
    if all(v is not None for v in fitted.values()) and len(fitted) == 2:
        backtest[GLOBAL_MODEL] = fitted["global_backtest"]
        final[GLOBAL_MODEL] = fitted["global_final"]
        names.append(GLOBAL_MODEL)
    return names, backtest, final


@_ArraysInHeap()
def rank_level(
    level: str, ids: list[str], y: np.ndarray, names: list[str], backtest: dict[str, np.ndarray], final: dict[str, np.ndarray], axis: Axis
) -> LevelResult:
    """A level's candidates ranked per series by backtest error (rank_models; no ranking
    without a backtest), with the MASE scale of the level's season."""
    cutoffs, n = axis.cutoffs, len(ids)
    scale = series_scale(y, cutoffs[-1] if cutoffs else axis.n_periods, axis.season if axis.freq in YEAR else 1)
    seen = (~np.isnan(y)).sum(axis=1)
    available = np.stack([np.isfinite(final[m]).all(axis=1) for m in names], axis=1)
    if cutoffs:
        rank, held, scored, n_ok, held_ok = _ranked(y, names, backtest, available, axis)
    else:
        rank = np.zeros((n, len(names)), dtype=int)
        held = np.zeros((n, 0, len(names)), dtype=int)
        scored = np.zeros(n, dtype=bool)
        n_ok = np.zeros(n, dtype=int)
        held_ok = np.zeros((n, 0), dtype=int)
    return LevelResult(level, ids, y, scale, names, backtest, final, rank, held, scored, seen, n_ok, held_ok)


PARALLEL_RANK_SERIES = 20_000  # a level of at least this many series is ranked in forked processes


def _ranked(
    y: np.ndarray, names: list[str], backtest: dict[str, np.ndarray], available: np.ndarray, axis: Axis
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``rank_models`` of a level's window errors; a big level in chunks of series in forked
    processes (the ranking of a series depends on its own errors only: the same arrays)."""

    def rank_rows(rows: slice) -> tuple[np.ndarray, ...]:
        errors = window_errors(_actuals(y[rows], axis.cutoffs, axis.horizon), {m: v[rows] for m, v in backtest.items()})
        # a window's pick is judged on the windows that end before it starts (no later data)
        out = rank_models(errors, names, earlier_windows(axis.cutoffs, axis.horizon), available[rows])
        # indices and counts below 128 travel as int8 (a tenth of the bytes back from a worker)
        return tuple(a.astype(np.int8) if a.dtype.kind == "i" and len(names) < 128 else a for a in out)

    n = y.shape[0]
    parts = None
    if n >= PARALLEL_RANK_SERIES:
        step = -(-n // 8)
        parts = forked_map(rank_rows, [slice(a, min(a + step, n)) for a in range(0, n, step)])
    if parts is None:
        parts = [rank_rows(slice(0, n))]
    rank, held, scored, n_ok, held_ok = (np.concatenate([p[i] for p in parts]) for i in range(5))
    return rank.astype(int), held.astype(int), scored, n_ok.astype(int), held_ok.astype(int)


# --- stage 3: selection -------------------------------------------------------------------


@dataclass
class Selection:
    """``selected`` per level: the final forecast (series, h) and, with a backtest, the
    held-out backtest forecast (series, windows, h). Later stages rewrite both (new products,
    pre-sales, reconciliation)."""

    final: dict[str, np.ndarray]
    backtest: dict[str, np.ndarray]


@_ArraysInHeap()
def select_levels(results: dict[str, LevelResult], has_backtest: bool) -> Selection:
    """Selection stage: ``select`` on every level (sets each level's method names)."""
    out = Selection({}, {})
    for level, res in results.items():
        out.final[level], bt, res.method = select(res, has_backtest)
        if bt is not None:
            out.backtest[level] = bt
    return out


# --- stage 4: new, retired and pre-sold products ------------------------------------------


@dataclass
class Lifecycle:
    """What the products stage changed at the sku level: how many new products got a share of
    their parent, which products are retired (forecast 0), the pre-sale figures, and the
    product hierarchy (with the pre-sold products that had no row yet)."""

    hierarchy: pl.DataFrame
    new_products: int | None = None
    retired: np.ndarray | None = None  # (sku series,) bool
    presale: dict[str, Any] = field(default_factory=dict)


def share_new_products(results: dict[str, LevelResult], sel: Selection, hierarchy: pl.DataFrame, freq: str) -> int:
    """A product with less than MIN_HISTORY periods gets its share of its parent's forecast
    (its share of the parent's demand over its own life); returns how many are new."""
    sku = results["sku"]
    parent_level = next((lv for lv in ("category_l3", "category_l2", "category_l1") if lv in results), "total")
    parent = results[parent_level]
    new = sku.seen < MIN_HISTORY[freq]
    if new.any():
        parent_of = _parent_keys(hierarchy, sku.ids, parent_level)
        p_index = {u: i for i, u in enumerate(parent.ids)}
        rows = np.flatnonzero(new)
        prow = np.array([p_index.get(parent_of[r], -1) for r in rows])
        ok = prow >= 0
        rows, prow = rows[ok], prow[ok]
        life = ~np.isnan(sku.y[rows])
        own = np.where(life, sku.y[rows], 0.0).sum(axis=1)
        par = np.where(life, parent.y[prow], 0.0).sum(axis=1)
        share = np.divide(own, par, out=np.zeros_like(own), where=par > 0)
        sel.final["sku"][rows] = share[:, None] * sel.final[parent_level][prow]
        short = set(rows.tolist())
        sku.method = [("category_share" if r in short else m) for r, m in enumerate(sku.method)]
    return int(new.sum())


def retired_products(y: np.ndarray, seen: np.ndarray, freq: str) -> np.ndarray:
    """(series,) bool: no sale for longer than RETIRE_AFTER periods, stretched to three times
    the mean gap between sales for slow movers (``seen``: periods since the first sale)."""
    n_periods = y.shape[1]
    sold = np.nan_to_num(y) > 0
    last_sale = np.where(sold.any(axis=1), n_periods - 1 - np.argmax(sold[:, ::-1], axis=1), -1)
    nonzero = sold.sum(axis=1)
    first_sale = n_periods - seen  # a series starts at its first sale
    gap = np.where(nonzero >= 2, (last_sale - first_sale) / np.maximum(nonzero - 1, 1), 0.0)
    limit = np.maximum(RETIRE_AFTER[freq], 3 * gap)
    return np.asarray((n_periods - 1 - last_sale) > limit)


def product_lifecycle(
    results: dict[str, LevelResult], sel: Selection, hierarchy: pl.DataFrame, axis: Axis, *,
    orders: pl.LazyFrame, products: pl.DataFrame | None, timezone: str, internal: tuple[str, ...],
) -> Lifecycle:
    """Products stage (sku level only): new products' parent share, retired products, the
    expected demand of upcoming pre-sold products merged in; retired products forecast 0."""
    if "sku" not in results:
        return Lifecycle(hierarchy)
    sku = results["sku"]
    out = Lifecycle(hierarchy, share_new_products(results, sel, hierarchy, axis.freq))
    retired = retired_products(sku.y, sku.seen, axis.freq)
    periods, freq = axis.periods, axis.freq
    last_day = next_periods(periods[-1], freq, 1)[0] - dt.timedelta(days=1)
    window_days = (next_periods(periods[-1], freq, axis.horizon)[-1] - periods[-1]).days
    signal, out.presale = presale_signal(
        orders, products, timezone=timezone, freq=freq, last_day=last_day, future=axis.future, window_days=window_days
    )
    if signal.height:
        added = _merge_presale(sku, sel.final, sel.backtest, signal, axis.future, out.presale["presale_conversion"])
        if added:
            retired = np.concatenate([retired, np.zeros(added, dtype=bool)])
            extra = product_keys(products, internal).filter(pl.col("sku").is_in(sku.ids[-added:]))
            out.hierarchy = pl.concat([hierarchy, extra.select(hierarchy.columns)], how="vertical_relaxed")
    out.retired = retired
    sel.final["sku"] = np.where(retired[:, None], 0.0, sel.final["sku"])
    return out


# --- stage 5: reconciliation --------------------------------------------------------------


@dataclass
class Tree:
    """A hierarchy to reconcile: its levels top to bottom (the last one is the bottom level) and,
    for each level above the bottom, its (series, bottom series) 0/1 summing matrix (rows in
    the level's series order, columns in the bottom level's)."""

    levels: Sequence[str]
    summing: dict[str, np.ndarray]

    @property
    def bottom(self) -> str:
        return self.levels[-1]

    @property
    def upper(self) -> list[str]:
        return list(self.levels[:-1])

    def parent_rows(self) -> dict[str, np.ndarray]:
        """Per upper level, the row of each bottom series' parent (−1: none)."""
        return {lv: _parent_rows(self.summing[lv]) for lv in self.upper}


def product_tree(results: dict[str, LevelResult], hierarchy: pl.DataFrame) -> Tree | None:
    """The product levels present (total ⊃ category_l1 ⊃ … ⊃ sku) as a Tree over the finest
    of them; None when the total is the only one."""
    levels = [lv for lv in PRODUCT_LEVELS if lv in results]
    bottom = results[levels[-1]]
    if levels[-1] == "total":
        return None
    summing = {}
    for level in levels[:-1]:
        keys = np.array(["total"] * len(bottom.ids)) if level == "total" else np.array(
            _parent_keys(hierarchy, bottom.ids, level, levels[-1])
        )
        summing[level] = summing_matrix(keys, np.array(results[level].ids))
    return Tree(levels, summing)


def reconcile_tree(
    tree: Tree, results: dict[str, LevelResult], sel: Selection, axis: Axis, method: str = "bottom_up", anchor: str | None = None
) -> str | None:
    """Reconciliation stage for one tree: the bottom level's ``selected`` forecasts (final and
    backtest) are made coherent — kept (``bottom_up``) or combined with every node's own by MinT
    with a shrunk covariance of the backtest errors (``mint_shrink``, up to MINT_MAX_NODES
    series) — then, with an ``anchor`` (a one-series level outside the tree, e.g. the product
    total above a geographic tree), scaled per period to add up to it, and summed into every
    upper level. Sets the methods; returns a note when MinT fell back to bottom-up."""
    bottom, note = tree.bottom, None
    n_nodes = sum(len(results[lv].ids) for lv in tree.levels)
    tag = "bottom_up"
    if method == "mint_shrink" and axis.cutoffs and n_nodes > MINT_MAX_NODES:
        note = f"mint_shrink needs at most {MINT_MAX_NODES:,} series, got {n_nodes:,}: bottom_up used"
    elif method == "mint_shrink" and axis.cutoffs:
        sel.final[bottom], sel.backtest[bottom] = _mint_bottom(tree, results, sel, axis)
        tag = "mint_shrink"
    if anchor is not None:
        scale_to_anchor(results, sel, [bottom], anchor, bool(axis.cutoffs))
    for level in tree.upper:
        sel.final[level] = bottom_up(tree.summing[level], sel.final[bottom])
        if axis.cutoffs:
            sel.backtest[level] = bottom_up(tree.summing[level], sel.backtest[bottom])
        results[level].method = [tag] * len(results[level].ids)
    return note


def _mint_bottom(tree: Tree, results: dict[str, LevelResult], sel: Selection, axis: Axis) -> tuple[np.ndarray, np.ndarray]:
    """The bottom level's MinT-reconciled final and backtest forecasts (clipped at 0)."""
    n_bottom = len(results[tree.bottom].ids)
    s_full = np.vstack([tree.summing[lv] for lv in tree.upper] + [np.eye(n_bottom)])
    resid = np.concatenate(
        [(_actuals(results[lv].y, axis.cutoffs, axis.horizon) - sel.backtest[lv]).reshape(len(results[lv].ids), -1) for lv in tree.levels]
    )
    cov = shrunk_covariance(resid)
    final = np.clip(mint(s_full, np.concatenate([sel.final[lv] for lv in tree.levels]), cov), 0.0, None)[-n_bottom:]
    backtest = np.clip(mint(s_full, np.concatenate([sel.backtest[lv] for lv in tree.levels]), cov), 0.0, None)[-n_bottom:]
    return final, backtest


def scale_to_anchor(results: dict[str, LevelResult], sel: Selection, levels: list[str], anchor: str, has_backtest: bool) -> None:
    """Each of ``levels`` (a cut of the same demand, e.g. province, channel) scaled per period
    so that its series add up to the one series of ``anchor`` (the total)."""
    for level in levels:
        sel.final[level] = scale_to_total(sel.final[level], sel.final[anchor][0])
        if has_backtest:
            sel.backtest[level] = scale_to_total(sel.backtest[level], sel.backtest[anchor][0])
        results[level].method = [f"{m}+scaled_to_{anchor}" for m in results[level].method]


# --- the stages in order ------------------------------------------------------------------


# what the coherent paths import (reconcile._summing: SciPy's sparse matrices, ~0.4 s), imported
# in the background before the candidates' workers fork, not in each forked worker of the paths
PATH_MODULES = ("scipy.sparse",)


def compute_forecast(
    orders: pl.LazyFrame,
    products: pl.DataFrame | None,
    *,
    horizon: int = 8,
    freq: str = "W",
    levels: tuple[str, ...] = ("total", "category_l1", "sku"),
    timezone: str = "UTC",
    market: str,
    net_returns: bool = False,
    reconcile: str = "bottom_up",
    intervals: str = "coherent",
    global_model: bool = False,
    seed: int = 0,
    executor: str = "local",
    scratch: Path | None = None,
    targets: dict[str, Path] | None = None,
    backtest_detail: str = "auto",
) -> ForecastResult:
    """The forecast of every level (see the module): levels → candidates → selection → products
    → reconciliation → intervals → tables. With ``targets`` (table → file) the forecast and
    backtest tables are written straight into those files (then ``None`` in the result).
    ``backtest_detail`` (BACKTEST_DETAIL): whose per-series backtest and metrics rows each level
    gets (``level_detail``)."""
    if backtest_detail not in BACKTEST_DETAIL:
        raise UsageError(f"--backtest-detail must be one of {', '.join(BACKTEST_DETAIL)}, got {backtest_detail!r}")
    _fixed_mmap_threshold()
    if intervals == "coherent":
        preload(PATH_MODULES, name="c2m-preload-scipy")  # imported while the series are built
    internal = tuple(dict.fromkeys(("total", *levels)))
    series = build_series(orders, products, levels=internal, freq=freq, timezone=timezone, net_returns=net_returns)
    log = WarningLog()
    if series.frame.filter(pl.col("level") == "total").height == 0:
        raise InvalidDataError(
            "orders.parquet: the paid quantities are zero in every period (after netting returns): nothing to forecast"
        )
    axis = time_axis(series.periods, horizon=horizon, freq=freq, market=market, log=log)
    prepared = build_levels(series, axis, internal, levels, log)
    results = run_candidates(prepared, axis, global_model=global_model, seed=seed, executor=executor, scratch=scratch)
    sel = select_levels(results, bool(axis.cutoffs))
    life = product_lifecycle(
        results, sel, series.hierarchy, axis, orders=orders, products=products, timezone=timezone, internal=internal
    )
    tree = product_tree(results, life.hierarchy)
    note = reconcile_tree(tree, results, sel, axis, reconcile) if tree is not None else None
    geo = geo_tree(series.geo, {lv: results[lv].ids for lv in GEO_LEVELS if lv in results})
    if geo.levels:  # province → city_tier → city, under the same total (geo.py)
        note = reconcile_tree(Tree(list(geo.levels), geo.matrices), results, sel, axis, reconcile, anchor="total") or note
    scale_to_anchor(results, sel, [lv for lv in ORDER_LEVELS if lv in results and lv not in GEO_LEVELS], "total", bool(axis.cutoffs))
    # intervals and tables, level by level and model by model (one model's arrays at a time)
    if scratch is not None:
        _spill_backtests(results, scratch / "backtests")
    _trim_heap()
    coherent = None
    coherent_tree = tree if tree is not None or not geo.levels else Tree(*geo.rooted())
    if intervals == "coherent" and axis.cutoffs and coherent_tree is not None:
        coherent = coherent_intervals(results, sel, coherent_tree, axis, life.retired if coherent_tree is tree and tree.bottom == "sku" else None, seed, levels)
    sink = TableSink(scratch, targets)
    detail = {lv: level_detail(len(results[lv].ids), backtest_detail) for lv in levels if lv in results}
    try:
        pooled_with = level_tables(sink, results, levels, sel, axis, life.retired, coherent, detail)
        forecast, backtest_table, metrics_table = sink.tables()
    except BaseException:
        with suppress(Exception):  # the error that stopped the tables is the one reported
            sink.close()
        raise
    info = _info(prepared, life, note, None if coherent is None else coherent_tree, [lv for lv in levels if lv in results])
    if coherent is not None:  # the between-window stretch κ of each parent level (reconcile.inflate)
        info["coherent_stretch"] = coherent.stretch
    summary = forecast_summary(
        results, axis, levels, prepared.festival_effects, info, reconcile=reconcile, intervals=intervals, market=market,
        dropped=series.info["dropped_partial_periods"],
    )
    if pooled_with:
        # levels whose interval residuals were pooled with those of the levels below them
        summary["interval_pooling"] = pooled_with
    if axis.cutoffs:  # per level: every candidate's per-series backtest rows, or selected's only
        summary["backtest_detail"] = detail
    summary.update(accuracy_summary(metrics_table, sink, results, levels))
    return ForecastResult(forecast, backtest_table, metrics_table, summary, log, sink.rows)


def _info(levels: Levels, life: Lifecycle, note: str | None, coherent_tree: Tree | None, shown: list[str] | None = None) -> dict[str, Any]:
    """What the stages found, for the summary (in the stages' order)."""
    info: dict[str, Any] = {}
    if levels.weekday_effects is not None:
        info["weekday_effects"] = levels.weekday_effects
    if levels.demand_classes:  # ADI / CV² classes of the history, for people reading the model
        info["demand_classes"] = levels.demand_classes
    if life.new_products is not None:
        info["new_products"] = life.new_products
    if life.retired is not None:
        info["retired_products"] = int(life.retired.sum())
    info.update(life.presale)
    if note is not None:
        info["reconcile_note"] = note
    if coherent_tree is not None and not draws_paths(coherent_tree, shown):
        info["coherent_quantiles"] = (
            f"{coherent_tree.bottom}: per-series calibrated quantiles (no level above it requested: no joint paths drawn)"
        )
    elif coherent_tree is not None:
        others = [lv for lv in shown or [] if lv not in coherent_tree.levels]
        info["coherent_quantiles"] = "empirical copula of the backtest windows over " + " → ".join(coherent_tree.levels) + (
            " (joint bootstrap of the bottom errors by window, between-window spread calibrated on earlier windows)"
        ) + (
            f"; {', '.join(others)}: per-level conformal quantiles" if others else ""
        )
    return info


def judged_share(res: LevelResult) -> float | None:
    """The share of a level's scored series × backtest windows whose held-out pick was judged
    on earlier windows (``held_ok`` > 0; ``select`` uses ``ensemble`` elsewhere); None without any."""
    cells = res.scored[:, None] & np.ones(res.held_ok.shape, dtype=bool)
    if not cells.any():
        return None
    return round(float((res.held_ok > 0)[cells].mean()), 4)


def forecast_summary(
    results: dict[str, LevelResult], axis: Axis, levels: tuple[str, ...], festival_effects: dict[str, float], info: dict[str, Any], *,
    reconcile: str, intervals: str, market: str, dropped: Any,
) -> dict[str, Any]:
    """The step's JSON summary (the tables' accuracy is added by ``accuracy_summary``)."""
    periods = axis.periods
    return {
        "levels": list(levels),
        "freq": axis.freq,
        "horizon": axis.horizon,
        "periods": axis.n_periods,
        "first_period": str(periods[0]),
        "last_period": str(periods[-1]),
        "forecast_from": str(axis.future[0]),
        "cutoffs": [str(periods[c - 1]) for c in axis.cutoffs],
        "series": {lv: len(results[lv].ids) for lv in levels if lv in results},
        # per level: the share of scored series × backtest windows whose pick for `selected` was
        # judged on earlier windows (the rest are `ensemble`: nothing before them to judge on)
        "selected_backtest_judged": {lv: judged_share(results[lv]) for lv in levels if lv in results and axis.cutoffs},
        "reconcile": reconcile,
        "intervals": intervals,
        # extra demand per festival day (window) and per peak day, relative to a plain day
        "festival_effects": {k: round(v, 3) for k, v in festival_effects.items()},
        "dropped_partial_periods": dropped,
        "market": market,
        **info,
    }


def accuracy_summary(metrics: pl.DataFrame, sink: TableSink, results: dict[str, LevelResult], levels: tuple[str, ...]) -> dict[str, Any]:
    """``selected``'s pooled backtest metrics and the methods chosen, per requested level."""
    if not metrics.height:
        return {}
    agg = metrics.filter((pl.col("unique_id") == "*") & (pl.col("model") == "selected"))
    chosen = sink.selected_methods()
    present = [lv for lv in levels if lv in results]
    return {
        "backtest": {
            lv: {r["metric"]: (None if r["value"] is None else round(r["value"], 4)) for r in agg.filter(pl.col("level") == lv).iter_rows(named=True)}
            for lv in present
        },
        "selected_models": {
            lv: {r["method"]: r["n"] for r in chosen.filter(pl.col("level") == lv).sort("method").iter_rows(named=True)}
            for lv in present
        },
    }


class TableSink:
    """Where the tables' parts go: kept in memory, or (with a scratch directory) written to
    Parquet parts at once and scanned lazily in order, so that the step streams them out and
    no level's backtest rows are held with another's. With ``targets`` (table → the step's
    staged output file) the forecast and backtest parts are appended as row groups straight
    into those files (one write, no parts to read back)."""

    def __init__(self, scratch: Path | None, targets: dict[str, Path] | None = None) -> None:
        self.scratch = scratch
        self.targets = targets or {}
        self.parts: dict[str, list[pl.DataFrame | Path]] = {"forecast": [], "backtest": [], "forecast_metrics": []}
        self.rows = dict.fromkeys(self.parts, 0)
        self.methods: list[pl.DataFrame] = []
        self.writers: dict[str, Any] = {}
        self.started: set[str] = set()  # the targets handed a first frame
        self.thread: Any = None  # the background writer of the targets (``_append``)
        self.pending: list[Any] = []

    def add(self, table: str, frame: pl.DataFrame) -> None:
        self.rows[table] += frame.height
        if table == "forecast":
            sel = frame.filter(pl.col("model") == "selected")
            if sel.height:
                self.methods.append(sel.group_by("level", "method").agg(pl.col("unique_id").n_unique().alias("n")))
        if table in self.targets:
            self._append(table, frame)
            return
        if self.scratch is None:
            self.parts[table].append(frame)
            return
        path = self.scratch / f"{table}-{len(self.parts[table]):05d}.parquet"
        frame.write_parquet(path)
        self.parts[table].append(path)

    def _append(self, table: str, frame: pl.DataFrame) -> None:
        """``frame`` appended to its target file as a row group: written by one background
        thread, in the order given (pyarrow encodes and compresses without the GIL: the next
        frame is made here meanwhile), at most WRITES_PENDING frames waiting."""
        if table not in self.started:
            from c2m_cli import contract

            contract.validate_schema(table, frame.schema, writing=True)
            self.started.add(table)
        if self.thread is None:
            from concurrent.futures import ThreadPoolExecutor

            self.thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="c2m-tables")
            _WRITING_SINKS.add(self)
        self.pending.append(self.thread.submit(self._write, table, frame))
        while len(self.pending) > WRITES_PENDING:
            self.pending.pop(0).result()

    def _write(self, table: str, frame: pl.DataFrame) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        arrow = frame.to_arrow()
        if table not in self.writers:
            # the workspace's codec for streamed tables (Step.sink_table): zstd level 1; dictionary
            # pages for the text columns only (the floats are nearly all distinct: -30 % write time)
            text = [f.name for f in arrow.schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]
            self.writers[table] = pq.ParquetWriter(
                self.targets[table], arrow.schema, compression="zstd", compression_level=1, write_statistics=True, use_dictionary=text
            )
        self.writers[table].write_table(arrow)

    def wait(self) -> None:
        """Every frame handed to ``_append`` written (a failed write raises here)."""
        while self.pending:
            self.pending.pop(0).result()

    def selected_methods(self) -> pl.DataFrame:
        if not self.methods:
            return pl.DataFrame(schema={"level": pl.String, "method": pl.String, "n": pl.UInt32})
        return pl.concat(self.methods).group_by("level", "method").agg(pl.col("n").sum())

    def tables(self) -> tuple[Any, Any, pl.DataFrame]:
        empty = {
            "forecast": _empty_forecast(),
            "backtest": pl.DataFrame(schema=BACKTEST_SCHEMA),
            "forecast_metrics": pl.DataFrame(schema=METRICS_SCHEMA),
        }
        out: dict[str, Any] = {}
        for table in self.targets:
            if table not in self.started:
                self._append(table, empty[table])
        self.close()
        for table, parts in self.parts.items():
            if table in self.targets:
                out[table] = None  # already in its output file
            elif not parts:
                out[table] = empty[table] if self.scratch is None else empty[table].lazy()
            elif self.scratch is None:
                out[table] = pl.concat([p for p in parts if isinstance(p, pl.DataFrame)])
            else:
                out[table] = pl.scan_parquet([p for p in parts if isinstance(p, Path)])
        metrics = out["forecast_metrics"]
        return out["forecast"], out["backtest"], metrics if isinstance(metrics, pl.DataFrame) else metrics.collect()

    def close(self) -> None:
        """The background writes finished (their error raised) and the target files closed."""
        try:
            self.wait()
        finally:
            if self.thread is not None:
                self.thread.shutdown(wait=True, cancel_futures=True)
                self.thread = None
                _WRITING_SINKS.discard(self)
            for table in list(self.writers):
                self.writers.pop(table).close()


WRITES_PENDING = 2  # frames a TableSink's writer thread may have waiting


def _finish_writes_before_fork() -> None:
    """A forked process gets no thread but the forking one: no write may be under way then."""
    for sink in list(_WRITING_SINKS):
        sink.wait()


_WRITING_SINKS: weakref.WeakSet[TableSink] = weakref.WeakSet()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_finish_writes_before_fork)


BACKTEST_SCHEMA = {"level": pl.String, "unique_id": pl.String, "cutoff": pl.Date, "ds": pl.Date, "model": pl.String, "y": pl.Float64, "y_hat": pl.Float64}
METRICS_SCHEMA = {"level": pl.String, "unique_id": pl.String, "model": pl.String, "metric": pl.String, "value": pl.Float64}


class Residuals:
    """Scaled backtest residuals per (level, model), computed when asked for; a level borrows
    only the donors it needs to reach ``MIN_RESIDUALS`` under every window mask."""

    def __init__(self, results: dict[str, LevelResult], sel_bt: dict[str, np.ndarray], cutoffs: list[int], horizon: int, usable: np.ndarray) -> None:
        self.results, self.sel_bt, self.cutoffs, self.horizon, self.usable = results, sel_bt, cutoffs, horizon, usable
        self.truth: dict[str, np.ndarray] = {}
        self.cache: dict[tuple[str, str], np.ndarray] = {}

    def actuals(self, level: str) -> np.ndarray:
        if level not in self.truth:
            self.truth[level] = _actuals(self.results[level].y, self.cutoffs, self.horizon)
        return self.truth[level]

    def get(self, level: str, name: str, keep: bool = False) -> np.ndarray | None:
        key = (level, name)
        if key in self.cache:
            return self.cache[key]
        res = self.results[level]
        fc = self.sel_bt[level] if name == "selected" else res.backtest.get(name)
        if fc is None:
            return None
        r = scaled_residuals(self.actuals(level), fc, res.scale)
        if keep:
            self.cache[key] = r
        return r

    def donors(self, level: str, name: str, own: np.ndarray) -> tuple[tuple[np.ndarray, ...], list[str]]:
        """The donor residuals ``_fill_up`` would use for any window mask (a prefix of the donor
        levels), and the donors used for the final estimate (all windows)."""
        masks = np.vstack([np.ones(self.usable.shape[1], dtype=bool), self.usable])  # (1 + w, w)
        have = (np.isfinite(own).sum(axis=(0, 2))[None, :] * masks).sum(axis=1).astype(float)
        out: list[np.ndarray] = []
        used_final: list[str] = []
        if not have.any():  # no backtest of its own (e.g. seasonal naive on one season): nothing to fill up
            return (), used_final
        for d in _donor_levels(level, self.results):
            if (have >= MIN_RESIDUALS).all():
                break
            r = self.get(d, name, keep=True)
            if r is None:
                continue
            if have[0] < MIN_RESIDUALS:
                used_final.append(d)
            out.append(r)
            have = have + (np.isfinite(r).sum(axis=(0, 2))[None, :] * masks).sum(axis=1)
        return tuple(out), used_final

    def release(self) -> None:
        self.cache.clear()
        self.truth.clear()


@_ArraysInHeap()
def level_tables(
    sink: TableSink,
    results: dict[str, LevelResult],
    levels: tuple[str, ...],
    sel: Selection,
    axis: Axis,
    retired: np.ndarray | None,
    coherent: Coherent | None = None,
    detail: dict[str, str] | None = None,
) -> dict[str, list[str]]:
    """Tables stage: for each requested level and model (a fixed order: level, model, unique_id,
    then time) the intervals (``model_intervals``; for ``selected`` the coherent ones when
    given), the forecast, backtest and metrics rows, handed to ``sink``; retired products get
    no forecast row. ``detail`` (level → ``all`` | ``selected``, ``level_detail``; default all):
    whose per-series backtest and metrics rows are written. Returns the levels whose interval
    residuals were pooled with the levels below them."""
    pooled_with: dict[str, list[str]] = {}
    detail = detail or {}
    resid = Residuals(results, sel.backtest, axis.cutoffs, axis.horizon, axis.usable)
    order = [lv for lv in levels if lv in results]
    for i, level in enumerate(order):
        res = results[level]
        # a level no later level borrows residuals from frees each model's backtest once written
        donor_later = any(level in _donor_levels(lv, results) for lv in order[i + 1 :])
        models = {**res.final, "selected": sel.final[level]}
        keep = ~retired if level == "sku" and retired is not None else np.ones(len(res.ids), dtype=bool)
        id_col = pl.Series("unique_id", res.ids, dtype=pl.String)
        sel_coherent = coherent if (coherent is not None and level in coherent.final) else None
        summaries = {}
        early: dict[str, tuple[np.ndarray, list[str]]] = {}
        deferred = _DeferredMetrics(sink)
        if axis.cutoffs and detail.get(level, "all") == "selected" and len(res.ids) >= PARALLEL_TABLE_SERIES:
            # selected's held-out tables in this process while the workers summarise the
            # candidates (its backtest rows are the level's only ones; its metrics rows wait for
            # their place in the model order)
            selected_first = partial(_heldout_tables, deferred, resid, level, "selected", id_col, sel, axis, sel_coherent, "selected")
            summaries = _candidate_summaries(resid, level, sorted(res.final), axis, meanwhile=partial(_keep, early, "selected", selected_first))
        pools = candidate_pools(resid, level, sorted(res.final), axis) if axis.cutoffs and not summaries and not early else {}
        for name in sorted(models):
            point, mine = models[name], name == "selected"
            mine_coherent = sel_coherent if mine else None
            if name in summaries:  # computed in a worker: its `*` metrics rows here
                q, used, whole = summaries.pop(name)
                sink.add("forecast_metrics", _metrics_frame(level, id_col, name, np.zeros(0, dtype=int), np.zeros((0, len(METRICS))), whole))
            elif name in early:
                q, used = early.pop(name)
                deferred.flush()
                if mine and used:
                    pooled_with[level] = used
            elif axis.cutoffs:
                q, used = _heldout_tables(sink, resid, level, name, id_col, sel, axis, mine_coherent, detail.get(level, "all"), pools.pop(name, None))
                if mine and used:
                    pooled_with[level] = used
            else:
                q = np.zeros((axis.horizon, len(QUANTILE_COLUMNS)))
            quant = apply_quantiles(point, res.scale, q) if mine_coherent is None else mine_coherent.final[level]
            if mine and level == "sku":
                # a product without history sells nothing before its launch
                quant = np.where((np.isnan(res.y).all(axis=1)[:, None] & (point <= 0))[..., None], 0.0, quant)
            method = res.method if mine else [name] * len(res.ids)
            sink.add("forecast", _forecast_frame(level, id_col, axis.future, name, point, quant, method, keep))
            if not donor_later and not mine:
                res.backtest.pop(name, None)
        resid.release()
    return pooled_with


@dataclass
class ModelIntervals:
    """A model's per-level conformal intervals at one level: its scaled backtest residuals,
    the donor levels' residuals it borrows (and which donors the final estimate used), their
    sorted pool, and the quantile shape of its final forecast: (series, h, q) per series for
    ``selected`` (shrunk to the level's shape when a series is short), (h, q) for a candidate."""

    r: np.ndarray
    borrow: tuple[np.ndarray, ...]
    used: list[str]
    pool: ResidualPool
    q: np.ndarray
    # a candidate's ``_metric_arrays``, when computed where its pool was prepared (candidate_pools)
    metrics: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None


def model_intervals(
    resid: Residuals, level: str, name: str, heldout: bool = True, coherent: Coherent | None = None, prepared: ModelIntervals | None = None
) -> ModelIntervals:
    """Intervals stage (``per_level``) of one model at one level (see ModelIntervals); with
    ``heldout`` the pool also holds every backtest window's held-out quantiles (for coverage).
    ``selected`` at the bottom of ``coherent``'s tree takes its residuals and their sorted pool
    from there (the same residuals; no donors at the bottom of a tree with enough of them); a
    candidate whose pool was ``prepared`` (``candidate_pools``) takes it."""
    if prepared is not None:
        prepared.pool.prepare([None, *resid.usable] if heldout else [None])
        return ModelIntervals(prepared.r, prepared.borrow, prepared.used, prepared.pool, prepared.pool.quantiles(None), prepared.metrics)
    mine = name == "selected"  # the recommended forecast gets per-series calibrated intervals
    if mine and coherent is not None and coherent.bottom == level:
        borrow, used = resid.donors(level, name, coherent.r)
        if not borrow:
            coherent.pool.prepare([None, *resid.usable] if heldout else [None], shapes=True)
            q = series_quantiles(coherent.r, None, borrow, shape=coherent.pool.shape(None))
            return ModelIntervals(coherent.r, borrow, used, coherent.pool, q)
    r = resid.get(level, name)
    assert r is not None
    borrow, used = resid.donors(level, name, r)
    pool = ResidualPool(r, borrow)  # sorted once: the quantiles of every window mask
    pool.prepare([None, *resid.usable] if heldout else [None], shapes=mine)
    q = series_quantiles(r, None, borrow, shape=pool.shape(None)) if mine else pool.quantiles(None)
    return ModelIntervals(r, borrow, used, pool, q)


def level_detail(n_series: int, option: str = "auto") -> str:
    """``all`` or ``selected``: whose per-series backtest and metrics rows a level of
    ``n_series`` series gets under ``--backtest-detail option`` (BACKTEST_DETAIL)."""
    if option == "auto":
        return "all" if n_series <= DETAIL_SERIES else "selected"
    return option


# a level whose candidates' residuals hold at most this many floats in all prepares their held-out
# quantiles together (candidate_pools)
JOINT_POOL_CELLS = 8_000_000


def candidate_pools(resid: Residuals, level: str, names: list[str], axis: Axis) -> dict[str, ModelIntervals]:
    """For a level of few series (JOINT_POOL_CELLS), every candidate's residuals, donors and
    pool, their held-out quantiles of every window mask computed in one bisection
    (``prepare_together``: fewer, larger array operations; the same floats as model by model).
    When the pools are prepared in shares side by side (``prepare_pools``), each share also
    computes its candidates' metric arrays (``ModelIntervals.metrics``: the tables stage then
    only makes their frames). Empty for a bigger level (one model's arrays at a time)."""
    sizes = [resid.results[level].backtest[n].size for n in names if n in resid.results[level].backtest]
    if not sizes or sum(sizes) > JOINT_POOL_CELLS:
        return {}
    out: dict[str, ModelIntervals] = {}
    for name in names:
        r = resid.get(level, name)
        if r is None:
            continue
        borrow, used = resid.donors(level, name, r)
        out[name] = ModelIntervals(r, borrow, used, ResidualPool(r, borrow), np.zeros(0))
    res, held_out, order = resid.results[level], resid.actuals(level), list(out)  # the actuals: once, before a fork

    def metrics_of(i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        iv = out[order[i]]
        return _metric_arrays(held_out, res.backtest[order[i]], res.scale, iv.r, axis.usable, iv.borrow, False, iv.pool)

    computed = prepare_pools([iv.pool for iv in out.values()], [None, *resid.usable], metrics_of)
    if computed is not None:
        for name, metrics in zip(order, computed, strict=True):
            out[name].metrics = metrics
    return out


# candidates' residuals of at least this many floats in all are prepared in forked processes, a
# share of the pools each (below it, a fork costs about what it saves)
FORKED_POOL_CELLS = 1_000_000


def prepare_pools(
    pools: list[ResidualPool], masks: list[np.ndarray | None], then: Callable[[int], R] | None = None
) -> list[R] | None:
    """``prepare_together(pools, masks)``; pools holding FORKED_POOL_CELLS or more are split in
    contiguous shares, the first prepared in this process while forked workers
    (``forked_map``) prepare the others and hand back the quantiles computed, each share also
    computing ``then(i)`` of its pools i (numpy only). The same floats: a pool's quantiles are a
    function of its residuals alone, whichever pools it was stacked with (where no worker can be
    forked, the shares are prepared here one after the other). Returns the ``then`` results in
    pool order, or None when the pools were prepared at once (below the threshold: ``then`` not
    run) or without ``then``."""
    from c2m_cli.executor import LocalExecutor

    if sum(p.r.size for p in pools) >= FORKED_POOL_CELLS:
        size = -(-len(pools) // LocalExecutor().processes)
        starts = list(range(0, len(pools), size))

        def prepare_share(a: int) -> tuple[list[dict[bytes, np.ndarray]], list[R]]:  # by index: no pool is pickled
            share = pools[a : a + size]
            prepare_together(share, masks)
            done = [then(a + j) for j in range(len(share))] if then is not None else []
            return [p.known() for p in share], done  # the quantiles ``then`` added too

        first: list[tuple[list[dict[bytes, np.ndarray]], list[R]]] = []
        # the first share here, while forked workers prepare the others
        known = forked_map(prepare_share, starts[1:], meanwhile=lambda: first.append(prepare_share(0)), fork_one=True)
        results: list[R] = list(first[0][1])
        if known is None:  # no fork here: the first share is done, the others follow in this process
            for a in starts[1:]:
                results.extend(prepare_share(a)[1])
        else:
            for a, (computed, done) in zip(starts[1:], known, strict=True):
                for pool, values in zip(pools[a : a + size], computed, strict=True):
                    pool.adopt(values)
                results.extend(done)
        return results if then is not None else None
    prepare_together(pools, masks)
    return None


# a level of at least this many series (with --backtest-detail selected there) computes its
# candidates' intervals and aggregate metrics in a pool of forked processes, one model per task
PARALLEL_TABLE_SERIES = 20_000
_FORKED_JOB: Callable[[Any], Any] | None = None  # what a forked worker runs (set before the fork)


def _run_forked_job(item: Any) -> Any:
    assert _FORKED_JOB is not None
    return _FORKED_JOB(item)


def forked_map(
    job: Callable[[T], R], items: Sequence[T], meanwhile: Callable[[], object] | None = None, fork_one: bool = False
) -> list[R] | None:
    """``job`` over ``items`` in the local executor's processes, forked so that they read the
    parent's arrays where they are (memory maps included; only the items and results are
    pickled); results in item order. None (the caller runs serially) without fork, a second core
    or a second item (with ``fork_one``, one is enough: ``meanwhile`` is this process's share of
    the work). ``job`` must use numpy only (no polars thread pool after a fork).
    ``meanwhile`` runs in this process while the workers work (after the fork: they do not see
    what it changes), and in every case before this returns."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from c2m_cli.executor import LocalExecutor

    global _FORKED_JOB
    processes = LocalExecutor().processes
    if os.name != "posix" or processes < 2 or len(items) < (1 if fork_one else 2):
        if meanwhile is not None:
            meanwhile()
        return None
    _FORKED_JOB = job
    try:
        # (a fork-context pool forks all its workers at the first item: no more than the items)
        with ProcessPoolExecutor(max_workers=min(processes, len(items)), mp_context=multiprocessing.get_context("fork")) as pool:
            results = pool.map(_run_forked_job, items)  # the workers are forked here
            if meanwhile is not None:
                meanwhile()
            return list(results)
    finally:
        _FORKED_JOB = None


def _candidate_summary(resid: Residuals, level: str, axis: Axis, name: str) -> tuple[np.ndarray, list[str], np.ndarray]:
    """One candidate's final quantile shape, the donor levels used and its level-aggregate
    metrics (``_metric_arrays``; numpy only)."""
    res = resid.results[level]
    iv = model_intervals(resid, level, name)
    _, _, whole = _metric_arrays(resid.actuals(level), res.backtest[name], res.scale, iv.r, axis.usable, iv.borrow, False, iv.pool)
    return iv.q, iv.used, whole


def _candidate_summaries(
    resid: Residuals, level: str, names: list[str], axis: Axis, meanwhile: Callable[[], object] | None = None
) -> dict[str, tuple[np.ndarray, list[str], np.ndarray]]:
    """``_candidate_summary`` of every candidate of ``level`` in forked processes
    (``forked_map``, ``meanwhile`` run here in the meantime); empty (computed serially by the
    caller) where they cannot run. The same numbers as the serial run: each is a function of its
    model alone."""
    resid.actuals(level)  # computed once, before the fork
    out = forked_map(lambda name: _candidate_summary(resid, level, axis, name), names, meanwhile)
    return {} if out is None else dict(zip(names, out, strict=True))


def _keep(into: dict[str, Any], key: str, compute: Callable[[], Any]) -> None:
    into[key] = compute()


class _DeferredMetrics:
    """A TableSink whose ``forecast_metrics`` frames wait for ``flush`` (the others go through)."""

    def __init__(self, sink: TableSink) -> None:
        self.sink = sink
        self.waiting: list[pl.DataFrame] = []

    def add(self, table: str, frame: pl.DataFrame) -> None:
        if table == "forecast_metrics":
            self.waiting.append(frame)
        else:
            self.sink.add(table, frame)

    def flush(self) -> None:
        for frame in self.waiting:
            self.sink.add("forecast_metrics", frame)
        self.waiting.clear()


def _heldout_tables(
    sink: TableSink | _DeferredMetrics, resid: Residuals, level: str, name: str, id_col: pl.Series, sel: Selection, axis: Axis, coherent: Coherent | None,
    detail: str = "all",
    prepared: ModelIntervals | None = None,
) -> tuple[np.ndarray, list[str]]:
    """A model's metrics (coverage from the held-out bounds: its own intervals', or the coherent
    ones') and backtest rows — per series for ``selected`` and, with ``detail`` ``all``, for every
    candidate, else only the candidate's level aggregate (``*``) metrics; returns its final
    quantile shape and the donor levels used."""
    res = resid.results[level]
    held_out = resid.actuals(level)
    mine = name == "selected"
    rows_too = mine or detail == "all"
    bt = sel.backtest[level] if mine else res.backtest[name]
    iv = model_intervals(resid, level, name, heldout=coherent is None, coherent=coherent, prepared=prepared)
    bounds_of = None if coherent is None else coherent.bounds(level)
    if iv.metrics is not None:  # computed where the candidate's pool was prepared
        sink.add("forecast_metrics", _level_metrics_frame(level, id_col, name, iv.metrics, rows_too))
    else:
        sink.add(
            "forecast_metrics",
            _chunked_metrics(level, id_col, name, held_out, bt, res.scale, iv.r, axis.usable, iv.borrow, mine, iv.pool, bounds_of, rows_too),
        )
    q, used = iv.q, iv.used
    del iv
    if not rows_too:
        return q, used
    # the backtest rows in chunks of series (same order as one frame)
    for a in range(0, len(res.ids), FRAME_SERIES):
        b = a + FRAME_SERIES
        chunk = _backtest_frame(level, id_col.slice(a, FRAME_SERIES), axis.periods, axis.cutoffs, axis.horizon, name, held_out[a:b], bt[a:b])
        if chunk.height or a == 0:
            sink.add("backtest", chunk)
    return q, used


SPILL_CELLS = 1_000_000  # a level's candidate backtests above this many floats each go to disk


def _spill_backtests(results: dict[str, LevelResult], where: Path) -> None:
    """Once selection and reconciliation no longer need them together, each candidate's
    backtest (series, windows, h) of a big level is saved to ``where`` and mapped back
    read-only: the tables stage reads one model at a time and drops it when written (memory:
    one model's backtest, not every candidate's). A backtest the candidates stage already wrote
    into a file there (``_LevelSink``) is only mapped again. Values unchanged."""
    from c2m_cli.executor import remap_readonly

    where.mkdir(parents=True, exist_ok=True)
    for level, res in results.items():
        for name in list(res.backtest):
            values = res.backtest[name]
            if values.size < SPILL_CELLS:
                continue
            mine = isinstance(values, np.memmap) and values.filename is not None and Path(values.filename).parent == where
            mapped = remap_readonly(values) if mine else None
            if mapped is None:
                path = where / f"{level}-{name}.npy"
                np.save(path, values)
                mapped = np.load(path, mmap_mode="r")
            res.backtest[name] = mapped
            del values


def _parent_rows(s_matrix: np.ndarray) -> np.ndarray:
    """The parent row of each bottom series in a (parents, bottom) summing matrix (−1: none)."""
    if s_matrix.shape[0] == 0:
        return np.full(s_matrix.shape[1], -1, dtype=np.int64)
    return np.where(s_matrix.any(axis=0), s_matrix.argmax(axis=0), -1).astype(np.int64)


def earlier_windows(cutoffs: list[int], horizon: int) -> np.ndarray:
    """(windows, windows) bool: window j ends before window i starts (c_j + h ≤ c_i) — the
    only windows the coherent intervals of window i are calibrated on (no later data)."""
    c = np.array(cutoffs)
    return c[None, :] + horizon <= c[:, None]


@dataclass
class Coherent:
    """The coherent quantiles of ``selected`` on a tree (reconcile.py): final (series, h, q) per
    level, held-out (series, windows, h, q) per parent level (NaN for a window without an
    earlier one), and what the bottom level's held-out bounds are computed from, chunk by chunk."""

    bottom: str
    final: dict[str, np.ndarray]
    heldout: dict[str, np.ndarray]
    r: np.ndarray
    pool: ResidualPool
    point_bt: np.ndarray
    scale: np.ndarray
    earlier: np.ndarray
    stretch: dict[str, float] = field(default_factory=dict)  # κ per parent level (final forecast)
    window_stretch: dict[int, tuple[float, ...]] = field(default_factory=dict)  # κ per level, per scored window

    def bounds(self, level: str) -> Callable[[slice], np.ndarray]:
        if level != self.bottom:
            held = self.heldout[level]
            return lambda rows: held[rows]
        return self._bottom_bounds

    def _bottom_bounds(self, rows: slice) -> np.ndarray:
        n_windows = self.point_bt.shape[1]
        out = np.full((*self.point_bt[rows].shape, len(QUANTILE_COLUMNS)), np.nan)
        for w in range(n_windows):
            if self.earlier[w].any():
                q = series_quantiles(self.r, self.earlier[w], (), rows, self.pool.shape(self.earlier[w]))
                out[:, w] = apply_quantiles(np.clip(np.nan_to_num(self.point_bt[rows, w]), 0.0, None), self.scale[rows], q)
        return out


# between-window stretch of each parent level (reconcile.inflate): λ² = 1 + κ / (n − 1) for paths
# over n backtest windows. κ = 2 is the predictive variance of a new window's effect from n
# exchangeable ones, (n + 1) / (n − 1): the least stretch; κ per level is chosen on earlier
# windows from 2, 2√2, 4 … 512
STRETCH_GRID = tuple(round(2 ** (k / 2), 3) for k in range(2, 19))
MIN_CALIBRATION_WINDOWS = 2  # scored earlier windows needed to choose κ (else the least, 2)
RECENT_CALIBRATION_WINDOWS = 6  # κ is chosen on the latest this many of them


def _upper_links(parent_rows: dict[str, np.ndarray], sizes: dict[str, int]) -> list[np.ndarray | None]:
    """Per upper level (top first) the row of each node's parent in the level above (None for
    the top level), read off the bottom series' parent rows."""
    levels = list(parent_rows)
    links: list[np.ndarray | None] = [None]
    for above, level in zip(levels[:-1], levels[1:], strict=True):
        rows = parent_rows[level]
        link = np.zeros(sizes[level], dtype=np.int64)
        keep = rows >= 0
        link[rows[keep]] = np.maximum(parent_rows[above][keep], 0)
        links.append(link)
    return links


@dataclass
class _Scenarios:
    """One set of joint paths: the parent levels' scenario sums and which scenarios count."""

    sums: list[np.ndarray]
    used: np.ndarray


def draws_paths(tree: Tree, shown: Sequence[str] | None) -> bool:
    """Whether the coherent intervals draw joint paths: some level above the tree's bottom is
    shown (``shown`` the requested levels; None: all). Else only the bottom's own quantiles."""
    return shown is None or bool(set(tree.upper) & set(shown))


@_ArraysInHeap()  # each forked worker's paths reuse the memory of its previous set (no page faults)
def coherent_intervals(
    results: dict[str, LevelResult], sel: Selection, tree: Tree, axis: Axis, retired: np.ndarray | None = None, seed: int = 0,
    shown: Sequence[str] | None = None,
) -> Coherent:
    """Intervals stage (``coherent``): joint sample paths of the tree's bottom level — a
    bootstrap of its backtest errors by window, through each series' calibrated quantile
    function — summed to every level above it (reconcile.coherent_paths), each parent level's
    between-window variation stretched (reconcile.inflate, λ² = 1 + κ / (n − 1); the levels
    still add up) by the κ of STRETCH_GRID whose held-out 80 % / 90 % coverage on earlier
    windows came closest to nominal. The forecast's paths use every window. A backtest window's
    use only the windows that end before it starts, and its κ is chosen on those earlier
    windows' own held-out intervals: the reported coverage uses no later data. A window is
    scored when MIN_CALIBRATION_WINDOWS earlier windows can be calibrated on (each with paths
    over two windows or more: a between-window spread needs two); the others are not (NaN).
    ``retired`` bottom products sell their point forecast (0) in every path. With ``shown``
    (the requested levels) holding none of the tree's upper levels (``--levels sku``: the total
    is internal), no paths are drawn: the bottom's own quantiles are the same without them."""
    bottom, cutoffs, h = tree.bottom, axis.cutoffs, axis.horizon
    res = results[bottom]
    actual = _actuals(res.y, cutoffs, h)
    r = scaled_residuals(actual, sel.backtest[bottom], res.scale)
    del actual
    earlier = earlier_windows(cutoffs, h)
    scored = [w for w in range(len(cutoffs)) if earlier[w].sum() >= 2]  # held-out paths built
    parent_rows = tree.parent_rows() if draws_paths(tree, shown) else {}
    pool = ResidualPool(r)
    # the quantile functions of the paths: the forecast's, and the held-out windows' when drawn
    pool.prepare([None, *([earlier[w] for w in scored] if parent_rows else [])], shapes=True, taus=TAUS)
    levels = list(parent_rows)
    sizes = {lv: len(results[lv].ids) for lv in levels}
    parents = [(parent_rows[lv], sizes[lv]) for lv in levels]
    links = _upper_links(parent_rows, sizes)
    window_of = np.repeat(np.arange(len(cutoffs)), h)
    # a retired product sells 0 from now on (its forecast); in the backtest windows it still sold
    final_scale = res.scale if retired is None or len(retired) != len(res.scale) else np.where(retired, 0.0, res.scale)

    def paths(point: np.ndarray, windows: np.ndarray | None, scale: np.ndarray) -> tuple[np.ndarray, _Scenarios]:
        shape = pool.shape(windows, TAUS)
        own, sums, used = coherent_paths(
            point,
            scale,
            lambda rows: series_quantiles(r, windows, (), rows, shape, taus=TAUS),
            lambda rows: pooled_ranks(r[rows], shape[1], windows),
            parents,
            QUANTILES,
            seed=seed,
        )
        return own, _Scenarios(sums, used)

    def window_paths(w: int) -> tuple[np.ndarray | None, _Scenarios]:
        """The forecast's paths (w = −1: over every window, with the bottom's own quantiles)
        or backtest window w's held-out ones (over the windows before it). A series without a
        forecast in a backtest window (not launched yet) sells 0 in its paths, as a product
        launched after the forecast is made is not in the forecast's."""
        if w < 0:
            return paths(np.clip(np.nan_to_num(sel.final[bottom]), 0.0, None), None, final_scale)  # as bottom_up sums them
        bt = sel.backtest[bottom][:, w]
        return None, paths(np.clip(np.nan_to_num(bt), 0.0, None), earlier[w], np.where(np.isnan(bt).all(axis=1), 0.0, res.scale))[1]

    # only parent levels use the held-out paths; each set of paths in a forked process, the
    # biggest first (a later window's paths span more earlier windows): the two stay busy
    jobs = [-1, *(scored[::-1] if levels else [])]
    # the shapes at QUANTILES (the bottom's held-out bounds, tables stage), while the paths are drawn
    bounds_shapes = partial(pool.prepare, [None, *[earlier[w] for w in scored]], shapes=True)
    drawn = forked_map(window_paths, jobs, meanwhile=bounds_shapes) or [window_paths(w) for w in jobs]
    own = drawn[0][0]
    assert own is not None
    final_paths = drawn[0][1]
    held_paths = {w: sc for w, (_, sc) in zip(jobs[1:], drawn[1:], strict=True)}
    truth = {lv: _actuals(results[lv].y, cutoffs, h) for lv in levels}
    cache: dict[tuple[int, tuple[float, ...]], list[np.ndarray]] = {}

    def quantiles_of(sc: _Scenarios, kappas: tuple[float, ...], key: int | None = None) -> list[np.ndarray]:
        if key is not None and (key, kappas) in cache:
            return cache[(key, kappas)]
        n = len(kappas)
        if not sc.used.any():
            out = [np.full((*s.shape[:2], len(QUANTILES)), np.nan) for s in sc.sums[:n]]
        else:
            n_windows = np.unique(window_of[sc.used]).size
            lambdas = [float(np.sqrt(1.0 + k / max(n_windows - 1, 1))) for k in kappas]
            grown = inflate(sc.sums[:n], links[:n], window_of, sc.used, lambdas)
            out = [scenario_quantiles(s, sc.used, QUANTILES) for s in grown]
        if key is not None:
            cache[(key, kappas)] = out
        return out

    def choose(windows: list[int]) -> tuple[float, ...]:
        """κ per level, top-down: the grid value whose held-out 80 % and 90 % coverage on the
        latest RECENT_CALIBRATION_WINDOWS of ``windows`` is closest to nominal (the sum of the
        two distances; ties: the smallest κ); the least κ with fewer than MIN_CALIBRATION_WINDOWS."""
        kappas: tuple[float, ...] = ()
        windows = windows[-RECENT_CALIBRATION_WINDOWS:]
        for i, lv in enumerate(levels):
            if len(windows) < MIN_CALIBRATION_WINDOWS:
                kappas = (*kappas, STRETCH_GRID[0])
                continue
            best, best_loss = STRETCH_GRID[0], np.inf
            for kappa in sorted(STRETCH_GRID):
                hit80 = hit90 = count = 0.0
                for j in windows:
                    q = quantiles_of(held_paths[j], (*kappas, kappa), j)[i]
                    y = truth[lv][:, j]
                    ok = ~np.isnan(y) & ~np.isnan(q[..., 0])
                    hit80 += float((ok & (y >= q[..., 1]) & (y <= q[..., 3])).sum())
                    hit90 += float((ok & (y >= q[..., 0]) & (y <= q[..., 4])).sum())
                    count += float(ok.sum())
                loss = abs(hit80 / count - 0.8) + abs(hit90 / count - 0.9) if count else np.inf
                if loss < best_loss - 1e-12:
                    best, best_loss = kappa, loss
            kappas = (*kappas, best)
        return kappas

    stretch = choose(scored)
    if final_paths.used.any():
        upper = quantiles_of(final_paths, stretch)
    else:
        upper = [np.repeat(point_sum(np.clip(np.nan_to_num(sel.final[bottom]), 0.0, None), p, n)[..., None], len(QUANTILES), axis=2) for p, n in parents]
    final = {bottom: own, **dict(zip(levels, upper, strict=True))}
    heldout = {lv: np.full((sizes[lv], len(cutoffs), h, len(QUANTILES)), np.nan) for lv in levels}
    reported = np.zeros(len(cutoffs), dtype=bool)
    chosen: dict[int, tuple[float, ...]] = {}
    for w in scored:
        before = [j for j in scored if earlier[w, j]]
        if len(before) < MIN_CALIBRATION_WINDOWS:
            continue
        reported[w] = True
        kappa_w = choose(before)
        chosen[w] = kappa_w
        qs = quantiles_of(held_paths[w], kappa_w, w) if levels else []
        for lv, q in zip(levels, qs, strict=True):
            heldout[lv][:, w] = q
    return Coherent(bottom, final, heldout, r, pool, sel.backtest[bottom], res.scale, earlier & reported[:, None], dict(zip(levels, stretch, strict=True)), chosen)


def _donor_levels(level: str, results: dict[str, LevelResult]) -> list[str]:
    """The levels that disaggregate ``level`` (its children, grandchildren, …), fewest series
    first: whose scaled residuals a level of few series borrows for its intervals. ``total``
    is split by every other level; a category by the finer categories and the sku; a province
    by its cities."""
    if level == "total":
        below = [lv for lv in results if lv != "total"]
    elif level in PRODUCT_LEVELS:
        below = [lv for lv in PRODUCT_LEVELS[PRODUCT_LEVELS.index(level) + 1 :] if lv in results]
    elif level in GEO_LEVELS[:-1]:  # a province by its tier cells and cities, a tier cell by its cities
        below = [lv for lv in GEO_LEVELS[GEO_LEVELS.index(level) + 1 :] if lv in results]
    else:
        below = []
    order = {lv: i for i, lv in enumerate((*PRODUCT_LEVELS, *ORDER_LEVELS))}
    return sorted(below, key=lambda lv: (len(results[lv].ids), order[lv]))


def _pick_mean(models: list[np.ndarray], top: np.ndarray, use: np.ndarray) -> np.ndarray:
    """Mean over the k picks ``top`` (..., k) (indices into ``models``, each (..., h)) where
    ``use`` (..., k), without stacking the models (memory: one model's size): pick by pick, each
    cell's picked model gathered (``np.choose``) and added."""
    total = np.zeros(models[0].shape)
    count = use.sum(axis=-1).astype(float)
    for j in range(top.shape[-1]):
        if use[..., j].any():
            picked = np.choose(top[..., j][..., None], models)
            total += np.where(use[..., j][..., None], picked, 0.0)
    return total / np.maximum(count, 1.0)[..., None]


def _pick_mean_shared(models: list[np.ndarray], top: np.ndarray, use: np.ndarray) -> np.ndarray:
    """``_pick_mean`` of a level of PARALLEL_RANK_SERIES series or more in two shares of rows,
    the first here while a forked worker does the second, both written into one shared array
    (a row's mean depends on its own picks only: the same floats)."""
    n = top.shape[0]
    if n < PARALLEL_RANK_SERIES:
        return _pick_mean(models, top, use)
    from c2m_cli.executor import shared_array

    out = shared_array(models[0].shape)
    shares = [slice(0, n // 2), slice(n // 2, n)]

    def fill(rows: slice) -> None:
        out[rows] = _pick_mean([m[rows] for m in models], top[rows], use[rows])

    if forked_map(fill, shares[1:], meanwhile=partial(fill, shares[0]), fork_one=True) is None:
        fill(shares[1])  # no worker: the second share here too
    return out


def select(res: LevelResult, has_backtest: bool) -> tuple[np.ndarray, np.ndarray | None, list[str]]:
    """Selection stage: ``selected`` = the mean of a series' TOP_K candidates of lowest backtest
    error (the ranked ones only; unscored series: ``ensemble``). Returns the final forecast
    (series, h), the held-out backtest forecast (series, windows, h) — each window's pick judged
    on the windows that end before it starts (``ensemble`` where none judged the series'
    candidates: what c2m would have forecast at that cutoff) — and the method name per series."""
    idx = {m: i for i, m in enumerate(res.names)}
    k = min(TOP_K, len(res.names))
    top = np.where(res.scored[:, None], res.rank[:, :k], idx["ensemble"])  # (series, k)
    # only the ranked candidates of a series (fewer than k when few have a backtest score)
    use = (np.arange(k)[None, :] < np.maximum(res.n_ok, 1)[:, None]) | ~res.scored[:, None]
    final = _pick_mean_shared([res.final[m] for m in res.names], top, use)
    method = _method_names(res.names, top, use)
    if not has_backtest:
        return final, None, method
    # a window whose earlier windows judged none of the series' candidates: the default, as unscored
    judged = (res.scored[:, None] & (res.held_ok > 0))[:, :, None]
    htop = np.where(judged, res.held_rank[:, :, :k], idx["ensemble"])
    huse = (np.arange(k)[None, None, :] < np.maximum(res.held_ok, 1)[:, :, None]) | ~judged
    backtest = _pick_mean_shared([res.backtest[m] for m in res.names], htop, huse)
    return final, backtest, method


def check_horizon(horizon: int, freq: str, n_periods: int) -> None:
    """A usage error when ``horizon`` is beyond ``MAX_HORIZON_RATIO`` × the history (a short
    history may still be forecast ``HORIZON_FLOOR`` periods ahead) or beyond three years."""
    limit = min(max(MAX_HORIZON_RATIO * n_periods, HORIZON_FLOOR[freq]), MAX_HORIZON[freq])
    if horizon > limit:
        raise UsageError(
            f"--horizon {horizon} is more than {MAX_HORIZON_RATIO}× the {n_periods} periods of history "
            f"({freq}) or beyond three years; forecast at most {limit}"
        )


def _method_names(names: list[str], top: np.ndarray, use: np.ndarray) -> list[str]:
    """Per series, what ``selected`` is: the one candidate it picks, or ``mean(a,b,…)`` of its
    distinct picks in name order — ``top`` (series, k) indices into ``names`` where ``use``.
    Each series' picks as a bit set; one name per distinct set, not per series."""
    assert len(names) < 63
    bits = np.bitwise_or.reduce(np.where(use, np.left_shift(np.int64(1), top.astype(np.int64)), 0), axis=1)
    sets, which = np.unique(bits, return_inverse=True)
    labels = []
    for b in sets.tolist():
        chosen = sorted(names[i] for i in range(len(names)) if b >> i & 1)
        labels.append(chosen[0] if len(chosen) == 1 else "mean(" + ",".join(chosen) + ")")
    return np.array(labels, dtype=object)[which.reshape(-1)].tolist()


def _actuals(y: np.ndarray, cutoffs: list[int], horizon: int) -> np.ndarray:
    n_series, n_periods = y.shape
    out = np.full((n_series, len(cutoffs), horizon), np.nan)
    for i, c in enumerate(cutoffs):
        span = min(horizon, n_periods - c)
        out[:, i, :span] = y[:, c : c + span]
    return out


def _parent_keys(hierarchy: pl.DataFrame, ids: list[str], level: str, bottom: str = "sku") -> list[str]:
    if level == "total":
        return ["total"] * len(ids)
    mapping = hierarchy.select(bottom, level).unique(bottom, keep="first")
    lookup = dict(zip(mapping[bottom].to_list(), mapping[level].to_list(), strict=True))
    return [lookup.get(u, "") for u in ids]


def _forecast_frame(level: str, ids: pl.Series, future: list[dt.date], model: str, point: np.ndarray, quant: np.ndarray, method: list[str], keep: np.ndarray) -> pl.DataFrame:
    keep = keep & ~np.isnan(point).any(axis=1)
    rows = np.flatnonzero(keep)
    h = len(future)
    n = rows.size
    data: dict[str, Any] = {
        "unique_id": ids.gather(np.repeat(rows, h)),
        "ds": pl.Series(np.tile(np.array(future, dtype="datetime64[D]"), n), dtype=pl.Date),
        "y_hat": np.clip(point[rows], 0.0, None).reshape(-1),
    }
    for j, col in enumerate(QUANTILE_COLUMNS):
        data[col] = quant[rows, :, j].reshape(-1)
    data["method"] = pl.Series(method, dtype=pl.String).gather(np.repeat(rows, h))
    return pl.DataFrame(data).select(_constant("level", level), "unique_id", "ds", _constant("model", model), "y_hat", *QUANTILE_COLUMNS, "method")


def _backtest_frame(level: str, ids: pl.Series, periods: list[dt.date], cutoffs: list[int], h: int, model: str, actual: np.ndarray, fc: np.ndarray) -> pl.DataFrame:
    """The backtest rows of a block of series: one per (series, window, step) with both an
    actual and a forecast, in that order (series-major); dates as day numbers, masked once."""
    valid = ~np.isnan(actual) & ~np.isnan(fc)
    per_series = valid.reshape(valid.shape[0], -1).sum(axis=1)
    days = np.array([(p - _EPOCH).days for p in periods] + [(periods[-1] - _EPOCH).days] * h, dtype=np.int32)
    c = np.array(cutoffs, dtype=np.int64)
    cut_days = days[c - 1]
    ds_days = days[c[:, None] + np.arange(h)[None, :]]  # (w, h); past the history: its last period
    frame = pl.DataFrame(
        {
            "unique_id": ids.gather(np.repeat(np.arange(valid.shape[0]), per_series)),
            "cutoff": pl.Series(np.broadcast_to(cut_days[None, :, None], valid.shape)[valid]).cast(pl.Date),
            "ds": pl.Series(np.broadcast_to(ds_days[None], valid.shape)[valid]).cast(pl.Date),
            "y": actual[valid],
            "y_hat": fc[valid],
        }
    )
    return frame.select(_constant("level", level), "unique_id", "cutoff", "ds", _constant("model", model), "y", "y_hat")


def _constant(name: str, value: str) -> pl.Expr:
    """A text column of one value (polars keeps it as a scalar column until it is written)."""
    return pl.lit(value, dtype=pl.String).alias(name)


_EPOCH = dt.date(1970, 1, 1)


METRICS = ("MASE", "sMAPE", "WAPE", "bias", "coverage_80", "coverage_90")


def _chunked_metrics(
    level: str, ids: pl.Series, model: str, actual: np.ndarray, fc: np.ndarray, scale: np.ndarray,
    r: np.ndarray, usable: np.ndarray, borrow: tuple[np.ndarray, ...], per_series: bool,
    pool: ResidualPool | None = None,
    bounds_of: Callable[[slice], np.ndarray] | None = None,
    series_rows: bool = True,
) -> pl.DataFrame:
    """``_metrics`` of a level computed FRAME_SERIES series at a time (the held-out bounds of
    one chunk in memory); the same frame as one call on the whole level. Without
    ``series_rows`` only the level's aggregate rows (unique_id ``*``)."""
    return _level_metrics_frame(level, ids, model, _metric_arrays(actual, fc, scale, r, usable, borrow, per_series, pool, bounds_of), series_rows)


def _level_metrics_frame(
    level: str, ids: pl.Series, model: str, arrays: tuple[np.ndarray, np.ndarray, np.ndarray], series_rows: bool = True
) -> pl.DataFrame:
    """The metrics frame of ``_metric_arrays``' (rows, per-series metrics, aggregate); without
    ``series_rows`` only the aggregate rows (unique_id ``*``)."""
    rows_all, per, whole = arrays
    if not series_rows:
        rows_all, per = rows_all[:0], per[:0]
    return _metrics_frame(level, ids, model, rows_all, per, whole)


def _metric_arrays(
    actual: np.ndarray, fc: np.ndarray, scale: np.ndarray, r: np.ndarray, usable: np.ndarray, borrow: tuple[np.ndarray, ...],
    per_series: bool, pool: ResidualPool | None = None, bounds_of: Callable[[slice], np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What ``_chunked_metrics`` puts in its frame (numpy only): the rows of the series with a
    target, their METRICS (series, METRICS) and the level's aggregate (METRICS,)."""
    n_rows = fc.shape[0]
    pool = ResidualPool(r, borrow) if pool is None else pool
    parts, sums = [], np.zeros(6)
    per_all = []
    shapes = None
    if bounds_of is None and not per_series and fc.shape[1]:  # one (h, q) shape per held-out window
        pool.prepare(list(usable[: fc.shape[1]]))
        shapes = np.stack([pool.quantiles(usable[w]) for w in range(fc.shape[1])])
    for a in range(0, max(n_rows, 1), FRAME_SERIES):
        rows = slice(a, min(a + FRAME_SERIES, n_rows))
        if shapes is not None:  # the four bounds coverage reads (heldout_bounds' floats)
            qi = [QUANTILE_COLUMNS.index(c) for c in ("q0.05", "q0.1", "q0.9", "q0.95")]
            part = fc[rows]
            s = scale[rows][:, None, None]
            four = tuple(_floored_bound(part, s, shapes[None, :, :, j]) for j in qi)
            per, has, part_sums = _metric_values(actual[rows], part, None, scale[rows], four)
        else:
            if bounds_of is not None:  # the coherent intervals' held-out bounds
                bounds = bounds_of(rows)
            else:
                bounds = heldout_bounds(fc[rows], scale[rows], r, usable, borrow, per_series, rows, pool)
            per, has, part_sums = _metric_values(actual[rows], fc[rows], bounds, scale[rows])
            del bounds
        sums += part_sums
        per_all.append(per)
        parts.append((np.flatnonzero(has) + a, per))
    per = np.concatenate(per_all) if per_all else np.zeros((0, len(METRICS)))
    ae, e, total_y, in80, in90, n = sums
    with np.errstate(divide="ignore", invalid="ignore"):
        whole = np.array(
            [
                per[:, 0].mean() if per.shape[0] else np.nan,
                per[:, 1].mean() if per.shape[0] else np.nan,
                ae / total_y if total_y > 0 else np.nan,
                e / total_y if total_y > 0 else np.nan,
                in80 / n if n else np.nan,
                in90 / n if n else np.nan,
            ]
        )
    rows_all = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, dtype=int)
    return rows_all, per, whole


def _floored_bound(point: np.ndarray, scale: np.ndarray, shape: np.ndarray) -> np.ndarray:
    """``max(point + scale · shape, 0)`` in one new array (the held-out bound coverage reads)."""
    out = np.multiply(scale, shape, out=np.empty(np.broadcast_shapes(point.shape, scale.shape, shape.shape)))
    out += point
    return np.maximum(out, 0.0, out=out)


def _metric_values(
    actual: np.ndarray, fc: np.ndarray, bounds: np.ndarray | None, scale: np.ndarray, four: tuple[np.ndarray, ...] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-series metrics (series with a target, METRICS), which series have one, and the sums
    the level's pooled metrics need (Σ|e|, Σe, Σ|y|, inside 80 %, inside 90 %, targets).
    The held-out bounds: ``bounds`` (..., QUANTILE_COLUMNS), or ``four`` = (q0.05, q0.1, q0.9,
    q0.95) bounds, each (...)."""
    diff = fc - actual  # NaN where either is missing
    valid = ~np.isnan(diff)
    n = valid.sum(axis=(1, 2)).astype(float)
    e = np.where(valid, diff, 0.0)
    del diff
    ae = np.abs(e)
    abs_y = np.where(valid, np.abs(actual), 0.0)
    denom = np.where(valid, np.abs(fc), 0.0)
    denom += abs_y
    # 200·|e| / (|y| + |ŷ|); where both are 0, |e| is 0 too
    sape = np.multiply(ae, 200, out=np.empty_like(ae))
    np.divide(sape, denom, out=sape, where=denom > 0)
    del denom
    if four is None:
        assert bounds is not None
        qi = list(QUANTILE_COLUMNS)
        four = tuple(bounds[..., qi.index(c)] for c in ("q0.05", "q0.1", "q0.9", "q0.95"))
    lo90, lo80, hi80, hi90 = four
    # coverage only where the interval exists (coherent: not for a window without an earlier one)
    scored = valid & ~np.isnan(lo90 if bounds is None else bounds[..., 0])
    n_cov = scored.sum(axis=(1, 2)).astype(float)
    in80 = actual >= lo80
    in80 &= actual <= hi80
    in80 &= scored
    in90 = actual >= lo90
    in90 &= actual <= hi90
    in90 &= scored
    sum_y = abs_y.sum(axis=(1, 2))
    has = n > 0
    ae_sum = ae.sum(axis=(1, 2))
    n80, n90 = in80.sum(axis=(1, 2)), in90.sum(axis=(1, 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        per = np.stack(
            [
                ae_sum / n / scale,
                sape.sum(axis=(1, 2)) / n,
                np.where(sum_y > 0, ae_sum / sum_y, np.nan),
                np.where(sum_y > 0, e.sum(axis=(1, 2)) / sum_y, np.nan),
                n80 / n_cov,
                n90 / n_cov,
            ],
            axis=1,
        )[has]
    sums = np.array([ae.sum(), e.sum(), sum_y.sum(), n80.sum(), n90.sum(), n_cov.sum()], dtype=float)
    return per, has, sums


def _metrics_frame(level: str, ids: pl.Series, model: str, rows: np.ndarray, per: np.ndarray, whole: np.ndarray) -> pl.DataFrame:
    k = len(METRICS)
    values = np.concatenate([per.reshape(-1), whole])
    frame = pl.DataFrame(
        {
            "level": pl.repeat(level, (rows.size + 1) * k, dtype=pl.String, eager=True),
            "unique_id": pl.concat([ids.gather(np.repeat(rows, k)), pl.Series(["*"] * k, dtype=pl.String)]),
            "model": pl.repeat(model, (rows.size + 1) * k, dtype=pl.String, eager=True),
            "metric": pl.Series(list(METRICS) * (rows.size + 1), dtype=pl.String),
            "value": values,
        }
    )
    return frame.with_columns(pl.when(pl.col("value").is_finite()).then(pl.col("value")).otherwise(None).alias("value"))


def _empty_forecast() -> pl.DataFrame:
    return pl.DataFrame(
        schema={"level": pl.String, "unique_id": pl.String, "ds": pl.Date, "model": pl.String, "y_hat": pl.Float64, **dict.fromkeys(QUANTILE_COLUMNS, pl.Float64), "method": pl.String}
    )


def _merge_presale(sku: LevelResult, sel_final: dict[str, np.ndarray], sel_bt: dict[str, np.ndarray], signal: pl.DataFrame, future: list[dt.date], conversion: float) -> int:
    """Put the pre-sale signal into the sku level; returns how many new sku rows were added.

    A pre-sold sku already in the level keeps the larger of its forecast and the signal; a new
    one gets a row of its own (no history, no candidate models, only ``selected``).
    """
    index = {u: i for i, u in enumerate(sku.ids)}
    col = {d: j for j, d in enumerate(future)}
    names = sorted(signal["sku"].unique().to_list())
    values = np.zeros((len(names), len(future)))
    r = np.array([names.index(u) for u in signal["sku"].to_list()], dtype=int)
    c = np.array([col[d] for d in signal["ds"].to_list()], dtype=int)
    values[r, c] = signal["units"].to_numpy()
    tag = f"presale×{conversion:.2f}"
    new = [u for u in names if u not in index]
    for u, row in zip(names, values, strict=True):
        if u in index:
            i = index[u]
            sel_final["sku"][i] = np.maximum(sel_final["sku"][i], row)
            sku.method[i] = f"{sku.method[i]}|{tag}"
    if not new:
        return 0
    add = values[[names.index(u) for u in new]]
    k = len(new)
    sku.ids = [*sku.ids, *new]
    sku.y = np.vstack([sku.y, np.full((k, sku.y.shape[1]), np.nan)])
    # interval scale: the typical period of the signal (not the launch spike)
    typical = np.array([np.median(r[r > 0]) if (r > 0).any() else 1.0 for r in add])
    sku.scale = np.concatenate([sku.scale, np.maximum(typical, 1.0)])
    sku.seen = np.concatenate([sku.seen, np.zeros(k, dtype=sku.seen.dtype)])
    sku.final = {m: np.vstack([v, np.full((k, v.shape[1]), np.nan)]) for m, v in sku.final.items()}
    sku.backtest = {m: np.concatenate([v, np.full((k, *v.shape[1:]), np.nan)]) for m, v in sku.backtest.items()}
    sku.method = [*sku.method, *([tag] * k)]
    sel_final["sku"] = np.vstack([sel_final["sku"], add])
    if "sku" in sel_bt:
        v = sel_bt["sku"]
        sel_bt["sku"] = np.concatenate([v, np.full((k, *v.shape[1:]), np.nan)])
    return k
