"""The forecast of every level: series → models → backtest → selection → intervals → coherence.

``compute_forecast`` is pure (frames in, frames out); ``run_forecast`` wraps it in a step.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from c2m_cli.diagnostics import WarningLog
from c2m_cli.errors import InvalidDataError, UsageError
from c2m_cli.forecast.backtest import (
    independent_windows,
    make_cutoffs,
    rank_models,
    series_scale,
    window_errors,
)
from c2m_cli.forecast.features import festival_exposure, festival_factors, weekday_factors
from c2m_cli.forecast.global_model import MIN_SERIES, GlobalTask, calendar_features, global_task
from c2m_cli.forecast.intervals import (
    MIN_RESIDUALS,
    QUANTILE_COLUMNS,
    QUANTILES,
    ResidualPool,
    apply_quantiles,
    heldout_bounds,
    scaled_residuals,
    series_quantiles,
)
from c2m_cli.forecast.models import MODELS, BatchTask, demand_class, forecast_batch
from c2m_cli.forecast.presale import presale_signal
from c2m_cli.forecast.reconcile import (
    TAUS,
    bottom_up,
    coherent_quantiles,
    knot_values,
    mean_factor,
    mint,
    output_quantiles,
    scale_to_total,
    shrunk_covariance,
    summing_matrix,
)
from c2m_cli.forecast.seasonal import MIN_SEASONS, YEAR
from c2m_cli.forecast.series import (
    ORDER_LEVELS,
    PRODUCT_LEVELS,
    SEASON_LENGTH,
    build_series,
    next_periods,
    product_keys,
)

BATCH_ROWS = 256
FRAME_SERIES = 8192  # series per part of backtest.parquet (bounded memory)
# Below this many series × periods the process pool costs more than it saves (~1–2 s of work).
PARALLEL_CELLS = 150_000
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


@dataclass
class LevelResult:
    level: str
    ids: list[str]
    y: np.ndarray  # (series, T)
    scale: np.ndarray  # (series,)
    names: list[str]
    backtest: dict[str, np.ndarray]  # model → (series, windows, h)
    final: dict[str, np.ndarray]  # model → (series, h)
    rank: np.ndarray  # (series, models) indices into names, best first
    held_rank: np.ndarray  # (series, windows, models) best first, judged without the window
    scored: np.ndarray  # (series,) bool: has a backtest score
    seen: np.ndarray  # observations per series
    n_ok: np.ndarray  # (series,) candidate models ranked (finite backtest error)
    held_ok: np.ndarray  # (series, windows) candidates ranked for each held-out window
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
        return ex.map(run_task, tasks, parallel=cells >= PARALLEL_CELLS)
    finally:
        ex.close()


def partitions(ids: list[str], rows_per_partition: int = BATCH_ROWS) -> list[np.ndarray]:
    """Series partitions of a level by the hash of ``unique_id`` (row indices, ascending): a
    series' partition does not depend on which other series the level holds."""
    n_parts = max(1, -(-len(ids) // rows_per_partition))
    key = (pl.Series(ids, dtype=pl.String).hash(seed=0) % n_parts).to_numpy()
    return [rows for p in range(n_parts) if (rows := np.flatnonzero(key == p)).size]


def _split(
    ids: list[str], y: np.ndarray, m_bt: np.ndarray, m_fc: np.ndarray, cutoffs: list[int], h: int, season: int, freq: str,
    where: Path | None,
) -> list[tuple[np.ndarray, BatchTask]]:
    """The level's batch tasks, one per series partition; with ``where`` each partition is a
    Parquet file there and the task carries its path, not the arrays."""
    from c2m_cli.forecast.models import write_partition

    out = []
    empty = np.zeros((0, 0))
    for p, rows in enumerate(partitions(ids)):
        if where is None:
            out.append((rows, BatchTask(y[rows], m_bt[rows], m_fc[rows], cutoffs, h, season, freq)))
            continue
        path = where / f"part-{p:05d}.parquet"
        write_partition(str(path), rows, y[rows], m_bt[rows], m_fc[rows])
        out.append((rows, BatchTask(empty, empty, empty, cutoffs, h, season, freq, path=str(path))))
    return out


def _trim_heap() -> None:
    """Hand the heap's free pages back to the system (glibc ``malloc_trim``): the per-batch
    arrays of the model tasks, freed as each level is assembled, otherwise stay in the
    process's resident memory. No-op off glibc."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if not name:
        return
    try:
        ctypes.CDLL(name).malloc_trim(0)
    except (OSError, AttributeError):
        return


def _fixed_mmap_threshold(size: int = 1 << 20) -> None:
    """Pin glibc's mmap threshold (it rises after a big block is freed, then big arrays land in
    the heap and their pages stay resident): arrays above ``size`` are mapped on their own and
    returned to the system when freed. No-op off glibc."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if not name:
        return
    try:
        ctypes.CDLL(name).mallopt(-3, size)  # M_MMAP_THRESHOLD
    except (OSError, AttributeError):
        return


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
    intervals: str = "per_level",
    global_model: bool = False,
    seed: int = 0,
    executor: str = "local",
    scratch: Path | None = None,
    targets: dict[str, Path] | None = None,
) -> ForecastResult:
    """The forecast of every level (see the module); with ``targets`` (table → file) the
    forecast and backtest tables are written straight into those files (then ``None`` in the
    result)."""
    _fixed_mmap_threshold()
    internal = tuple(dict.fromkeys(("total", *levels)))
    series = build_series(orders, products, levels=internal, freq=freq, timezone=timezone, net_returns=net_returns)
    periods = series.periods
    n_periods = len(periods)
    log = WarningLog()
    if series.frame.filter(pl.col("level") == "total").height == 0:
        raise InvalidDataError(
            "orders.parquet: the paid quantities are zero in every period (after netting returns): nothing to forecast"
        )
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
    n_train_bt = cutoffs[0] if cutoffs else n_periods
    usable = independent_windows(cutoffs, horizon) if cutoffs else np.zeros((0, 0), dtype=bool)

    results: dict[str, LevelResult] = {}
    parent_bt: np.ndarray | None = None
    parent_fc: np.ndarray | None = None
    festival_effects: dict[str, float] = {}
    info: dict[str, Any] = {}
    dow_parent_bt: np.ndarray | None = None
    dow_parent_fc: np.ndarray | None = None
    prepared: dict[str, tuple[list[str], np.ndarray]] = {}
    tasks: list[BatchTask | GlobalTask] = []
    owners: list[tuple[str, str]] = []  # (level, "batch" | "global_backtest" | "global_final")
    part_rows: dict[int, np.ndarray] = {}  # task index → the level rows of that batch
    for level in internal:
        ids, y = _matrix(series.frame, level, periods)
        if not ids:
            continue
        y_pos = np.where(np.isnan(y), np.nan, np.clip(y, 0.0, None))
        m_bt, theta_bt = festival_factors(y_pos, exposure, n_train_bt, freq, parent_bt)
        m_fc, theta_fc = festival_factors(y_pos, exposure, n_periods, freq, parent_fc)
        if level == "total":
            parent_bt, parent_fc = theta_bt[0], theta_fc[0]
            festival_effects = {name: float(v) for name, v in zip(effect_names, theta_fc[0], strict=True)}
        if freq == "D":  # the day of the week, divided out like the festivals
            w_bt, dow_bt = weekday_factors(y_pos, periods + future, n_train_bt, dow_parent_bt)
            w_fc, dow_fc = weekday_factors(y_pos, periods + future, n_periods, dow_parent_fc)
            m_bt, m_fc = m_bt * w_bt, m_fc * w_fc
            if level == "total":
                dow_parent_bt, dow_parent_fc = dow_bt[0], dow_fc[0]
                info["weekday_effects"] = [round(float(v), 3) for v in dow_fc[0]]
        prepared[level] = (ids, y_pos)
        if global_model and cutoffs and len(ids) >= MIN_SERIES:
            # the two long global fits go first, so that a pool starts them at once
            gpath = None
            if scratch is not None and executor.startswith("dask://"):  # read where it runs
                gpath = scratch / "series" / f"{level}-all.parquet"
                gpath.parent.mkdir(parents=True, exist_ok=True)
                pl.DataFrame({"y": y_pos}).write_parquet(gpath)
                # the calendar too: (periods + horizon) × features floats, for daily history it can pass the task limit
                pl.DataFrame({"calendar": calendar}).write_parquet(str(gpath).removesuffix(".parquet") + ".calendar.parquet")
            for phase in ("backtest", "final"):
                carried = np.zeros((0, 0)) if gpath is not None else y_pos
                cal = np.zeros((0, 0)) if gpath is not None else calendar
                tasks.append(GlobalTask(carried, cal, cutoffs, horizon, season, seed, phase, None if gpath is None else str(gpath)))
                owners.append((level, f"global_{phase}"))
        if freq in YEAR and level in levels:
            seen_l = (~np.isnan(y_pos)).sum(axis=1)
            n_short = int((seen_l < MIN_SEASONS * season).sum())
            if n_short:
                log.warn(
                    "short-history",
                    f"level {level}: {n_short} of {len(ids)} series hold fewer than {MIN_SEASONS} seasons "
                    f"({MIN_SEASONS * season} periods of {freq}): their yearly season rests on one cycle (only seasonal naive, "
                    "from one season, and Holt-Winters, from 1.5, estimate it; decompositions need two)",
                )
        where = None
        # Dask tasks read their partition from the shared workspace (a forked local worker must
        # not start polars' thread pool: the local pool carries the partition's arrays)
        if scratch is not None and executor.startswith("dask://"):
            where = scratch / "series" / level
            where.mkdir(parents=True, exist_ok=True)
        for rows, task in _split(ids, y_pos, m_bt, m_fc, cutoffs, horizon, season, freq, where):
            part_rows[len(tasks)] = rows
            tasks.append(task)
            owners.append((level, "batch"))
    cells = sum(y.size for _, y in prepared.values())
    outputs = [_read_result(o, t) for o, t in zip(_run_tasks(tasks, executor, cells), tasks, strict=True)]

    for level, (ids, y_pos) in prepared.items():
        outs = [o for o, (lv, kind) in zip(outputs, owners, strict=True) if lv == level and kind == "batch"]
        batch_index = [i for i, (lv, kind) in enumerate(owners) if lv == level and kind == "batch"]
        inverse = np.argsort(np.concatenate([part_rows[i] for i in batch_index]), kind="stable")
        # a model with no forecast for any series of the level (e.g. seasonal models on one
        # year of history) is no candidate there; each model's batches are joined then freed
        names = [m for m in MODELS if any(m in o["final"] and np.isfinite(o["final"][m]).any() for o in outs)]
        backtest: dict[str, np.ndarray] = {}
        final: dict[str, np.ndarray] = {}
        sizes = [part_rows[i].size for i in batch_index]
        windows = (len(cutoffs), horizon)
        for m in MODELS:
            if m in names:  # joined in partition order (NaN where a batch had none of it)
                final[m] = np.concatenate([o["final"].get(m, np.full((k, horizon), np.nan)) for o, k in zip(outs, sizes, strict=True)])[inverse]
                if cutoffs:
                    backtest[m] = np.concatenate(
                        [o["backtest"].get(m, np.full((k, *windows), np.nan)) for o, k in zip(outs, sizes, strict=True)]
                    )[inverse]
            for o in outs:
                o["final"].pop(m, None)
                o["backtest"].pop(m, None)
        fitted = {kind: o for o, (lv, kind) in zip(outputs, owners, strict=True) if lv == level and kind != "batch"}
        if all(v is not None for v in fitted.values()) and len(fitted) == 2:
            backtest[GLOBAL_MODEL] = fitted["global_backtest"]
            final[GLOBAL_MODEL] = fitted["global_final"]
            names.append(GLOBAL_MODEL)
        _trim_heap()  # the level's batch results, freed as they were joined
        scale = series_scale(y_pos, cutoffs[-1] if cutoffs else n_periods, season if freq in YEAR else 1)
        seen = (~np.isnan(y_pos)).sum(axis=1)
        if level in levels:  # ADI / CV² classes of the history, for people reading the model
            classes, counts = np.unique(demand_class(y_pos, n_periods), return_counts=True)
            info.setdefault("demand_classes", {})[level] = {str(k): int(v) for k, v in zip(classes, counts, strict=True)}
        available = np.stack([np.isfinite(final[m]).all(axis=1) for m in names], axis=1)
        if cutoffs:
            actual = _actuals(y_pos, cutoffs, horizon)
            errors = window_errors(actual, backtest)
            rank, held, scored, n_ok, held_ok = rank_models(errors, names, usable, available)
        else:
            rank = np.zeros((len(ids), len(names)), dtype=int)
            held = np.zeros((len(ids), 0, len(names)), dtype=int)
            scored = np.zeros(len(ids), dtype=bool)
            n_ok = np.zeros(len(ids), dtype=int)
            held_ok = np.zeros((len(ids), 0), dtype=int)
        results[level] = LevelResult(level, ids, y_pos, scale, names, backtest, final, rank, held, scored, seen, n_ok, held_ok)
        _trim_heap()  # the ranking's temporaries

    # selected = the mean of the TOP_K models with the lowest backtest error (fallback: ensemble)
    sel_final: dict[str, np.ndarray] = {}
    sel_bt: dict[str, np.ndarray] = {}
    for level, res in results.items():
        sel_final[level], bt, res.method = select(res, bool(cutoffs))
        if bt is not None:
            sel_bt[level] = bt

    # new products: too little history → their share of the parent's forecast
    product_levels = [lv for lv in PRODUCT_LEVELS if lv in results]
    if "sku" in results:
        sku = results["sku"]
        parent_level = next((lv for lv in ("category_l3", "category_l2", "category_l1") if lv in results), "total")
        parent_of = _parent_keys(series.hierarchy, sku.ids, parent_level)
        parent = results[parent_level]
        p_index = {u: i for i, u in enumerate(parent.ids)}
        new = sku.seen < MIN_HISTORY[freq]
        if new.any():
            rows = np.flatnonzero(new)
            prow = np.array([p_index.get(parent_of[r], -1) for r in rows])
            ok = prow >= 0
            rows, prow = rows[ok], prow[ok]
            life = ~np.isnan(sku.y[rows])
            own = np.where(life, sku.y[rows], 0.0).sum(axis=1)
            par = np.where(life, parent.y[prow], 0.0).sum(axis=1)
            share = np.divide(own, par, out=np.zeros_like(own), where=par > 0)
            sel_final["sku"][rows] = share[:, None] * sel_final[parent_level][prow]
            short = set(rows.tolist())
            sku.method = [("category_share" if r in short else m) for r, m in enumerate(sku.method)]
        info["new_products"] = int(new.sum())
        # retired products: no sale for longer than RETIRE_AFTER (stretched for slow movers)
        sold = np.nan_to_num(sku.y) > 0
        last_sale = np.where(sold.any(axis=1), n_periods - 1 - np.argmax(sold[:, ::-1], axis=1), -1)
        nonzero = (np.nan_to_num(sku.y) > 0).sum(axis=1)
        first_sale = n_periods - sku.seen  # a series starts at its first sale
        gap = np.where(nonzero >= 2, (last_sale - first_sale) / np.maximum(nonzero - 1, 1), 0.0)
        limit = np.maximum(RETIRE_AFTER[freq], 3 * gap)
        retired = (n_periods - 1 - last_sale) > limit
        info["retired_products"] = int(retired.sum())
        sku_retired = retired
    else:
        sku_retired = None

    # pre-sale orders: the expected demand of upcoming pre-sold products joins the sku level
    hierarchy = series.hierarchy
    if "sku" in results:
        last_day = next_periods(periods[-1], freq, 1)[0] - dt.timedelta(days=1)
        window_days = (next_periods(periods[-1], freq, horizon)[-1] - periods[-1]).days
        signal, presale_info = presale_signal(
            orders, products, timezone=timezone, freq=freq, last_day=last_day, future=future, window_days=window_days
        )
        info.update(presale_info)
        if signal.height:
            added = _merge_presale(results["sku"], sel_final, sel_bt, signal, future, presale_info["presale_conversion"])
            if added and sku_retired is not None:
                sku_retired = np.concatenate([sku_retired, np.zeros(added, dtype=bool)])
            if added:
                extra = product_keys(products, internal).filter(pl.col("sku").is_in(results["sku"].ids[-added:]))
                hierarchy = pl.concat([hierarchy, extra.select(hierarchy.columns)], how="vertical_relaxed")

    # coherence over the product tree
    bottom_level = product_levels[-1]
    if bottom_level != "total":
        bottom = results[bottom_level]
        if sku_retired is not None and bottom_level == "sku":
            sel_final["sku"] = np.where(sku_retired[:, None], 0.0, sel_final["sku"])
        mats = {}
        for level in product_levels[:-1]:
            keys_b = np.array(["total"] * len(bottom.ids)) if level == "total" else np.array(
                _parent_keys(hierarchy, bottom.ids, level, bottom_level)
            )
            mats[level] = summing_matrix(keys_b, np.array(results[level].ids))
        n_nodes = sum(len(results[lv].ids) for lv in product_levels)
        if reconcile == "mint_shrink" and cutoffs and n_nodes > MINT_MAX_NODES:
            info["reconcile_note"] = f"mint_shrink needs at most {MINT_MAX_NODES:,} series, got {n_nodes:,}: bottom_up used"
        if reconcile == "mint_shrink" and cutoffs and n_nodes <= MINT_MAX_NODES:
            nodes = product_levels
            s_full = np.vstack([mats[lv] for lv in nodes[:-1]] + [np.eye(len(bottom.ids))])
            base_f = np.concatenate([sel_final[lv] for lv in nodes])
            resid = np.concatenate(
                [(_actuals(results[lv].y, cutoffs, horizon) - sel_bt[lv]).reshape(len(results[lv].ids), -1) for lv in nodes]
            )
            cov = shrunk_covariance(resid)
            coherent = np.clip(mint(s_full, base_f, cov), 0.0, None)
            bottom_f = coherent[-len(bottom.ids):]
            base_b = np.concatenate([sel_bt[lv] for lv in nodes])
            bottom_b = np.clip(mint(s_full, base_b, cov), 0.0, None)[-len(bottom.ids):]
            sel_final[bottom_level] = bottom_f
            sel_bt[bottom_level] = bottom_b
            tag = "mint_shrink"
        else:
            tag = "bottom_up"
        for level in product_levels[:-1]:
            sel_final[level] = bottom_up(mats[level], sel_final[bottom_level])
            if cutoffs:
                sel_bt[level] = bottom_up(mats[level], sel_bt[bottom_level])
            results[level].method = [tag] * len(results[level].ids)
    for level in (lv for lv in ORDER_LEVELS if lv in results):
        sel_final[level] = scale_to_total(sel_final[level], sel_final["total"][0])
        if cutoffs:
            sel_bt[level] = scale_to_total(sel_bt[level], sel_bt["total"][0])
        results[level].method = [f"{m}+scaled_to_total" for m in results[level].method]

    # intervals and tables, level by level and model by model (one model's arrays at a time)
    if scratch is not None:
        _spill_backtests(results, scratch / "backtests")
    _trim_heap()
    coherent = None
    if intervals == "coherent" and cutoffs and bottom_level != "total":
        parent_rows = {lv: _parent_rows(mats[lv]) for lv in product_levels[:-1]}
        coherent = coherent_intervals(results, sel_final, sel_bt, bottom_level, parent_rows, cutoffs, usable, horizon)
        info["coherent_quantiles"] = "empirical copula of the backtest windows (bottom " + bottom_level + ")"
    sink = TableSink(scratch, targets)
    pooled_with = level_tables(
        sink, results, levels, sel_final, sel_bt, cutoffs, usable, periods, future, horizon, sku_retired, coherent
    )
    forecast, backtest_table, metrics_table = sink.tables()
    summary = {
        "levels": list(levels),
        "freq": freq,
        "horizon": horizon,
        "periods": n_periods,
        "first_period": str(periods[0]),
        "last_period": str(periods[-1]),
        "forecast_from": str(future[0]),
        "cutoffs": [str(periods[c - 1]) for c in cutoffs],
        "series": {lv: len(results[lv].ids) for lv in levels if lv in results},
        "reconcile": reconcile,
        "intervals": intervals,
        # extra demand per festival day (window) and per peak day, relative to a plain day
        "festival_effects": {k: round(v, 3) for k, v in festival_effects.items()},
        "dropped_partial_periods": series.info["dropped_partial_periods"],
        "market": market,
        **info,
    }
    if pooled_with:
        # levels whose interval residuals were pooled with those of the levels below them
        summary["interval_pooling"] = pooled_with
    if metrics_table.height:
        agg = metrics_table.filter((pl.col("unique_id") == "*") & (pl.col("model") == "selected"))
        summary["backtest"] = {
            lv: {r["metric"]: (None if r["value"] is None else round(r["value"], 4)) for r in agg.filter(pl.col("level") == lv).iter_rows(named=True)}
            for lv in levels
            if lv in results
        }
        chosen = sink.selected_methods()
        summary["selected_models"] = {
            lv: {r["method"]: r["n"] for r in chosen.filter(pl.col("level") == lv).sort("method").iter_rows(named=True)}
            for lv in levels
            if lv in results
        }
    return ForecastResult(forecast, backtest_table, metrics_table, summary, log, sink.rows)


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
        import pyarrow.parquet as pq

        from c2m_cli import contract

        arrow = frame.to_arrow()
        if table not in self.writers:
            contract.validate_schema(table, frame.schema, writing=True)
            # the workspace's codec for streamed tables (Step.sink_table): zstd level 1
            self.writers[table] = pq.ParquetWriter(
                self.targets[table], arrow.schema, compression="zstd", compression_level=1, write_statistics=True
            )
        self.writers[table].write_table(arrow)

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
        for table, parts in self.parts.items():
            if table in self.targets:
                if table not in self.writers:
                    self._append(table, empty[table])
                self.writers.pop(table).close()
                out[table] = None  # already in its output file
            elif not parts:
                out[table] = empty[table] if self.scratch is None else empty[table].lazy()
            elif self.scratch is None:
                out[table] = pl.concat([p for p in parts if isinstance(p, pl.DataFrame)])
            else:
                out[table] = pl.scan_parquet([p for p in parts if isinstance(p, Path)])
        metrics = out["forecast_metrics"]
        return out["forecast"], out["backtest"], metrics if isinstance(metrics, pl.DataFrame) else metrics.collect()


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


def level_tables(
    sink: TableSink,
    results: dict[str, LevelResult],
    levels: tuple[str, ...],
    sel_final: dict[str, np.ndarray],
    sel_bt: dict[str, np.ndarray],
    cutoffs: list[int],
    usable: np.ndarray,
    periods: list[dt.date],
    future: list[dt.date],
    horizon: int,
    sku_retired: np.ndarray | None,
    coherent: Coherent | None = None,
) -> dict[str, list[str]]:
    """Intervals and tables stage: for each requested level and model (a fixed order: level,
    model, unique_id, then time) the conformal quantiles, the forecast, backtest and metrics
    rows, handed to ``sink``. Returns the levels whose interval residuals were pooled with the
    levels below them."""
    pooled_with: dict[str, list[str]] = {}
    resid = Residuals(results, sel_bt, cutoffs, horizon, usable)
    order = [lv for lv in levels if lv in results]
    for i, level in enumerate(order):
        res = results[level]
        # a level no later level borrows residuals from frees each model's backtest once written
        donor_later = any(level in _donor_levels(lv, results) for lv in order[i + 1 :])
        models = {**res.final, "selected": sel_final[level]}
        keep = np.ones(len(res.ids), dtype=bool)
        if level == "sku" and sku_retired is not None:
            keep = ~sku_retired
        id_col = pl.Series("unique_id", res.ids, dtype=pl.String)
        held_out = resid.actuals(level) if cutoffs else None
        for name in sorted(models):
            point = models[name]
            if held_out is not None:
                bt = sel_bt[level] if name == "selected" else res.backtest[name]
                r = resid.get(level, name)
                assert r is not None
                borrow, used = resid.donors(level, name, r)
                if name == "selected" and used:
                    pooled_with[level] = used
                # the recommended forecast gets per-series calibrated intervals
                mine = name == "selected"
                pool = ResidualPool(r, borrow)  # sorted once: the quantiles of every window mask
                pool.prepare([None, *usable], shapes=mine)
                q = series_quantiles(r, None, borrow, shape=pool.shape(None)) if mine else pool.quantiles(None)
                bounds_of = coherent.bounds(level) if (mine and coherent is not None and level in coherent.final) else None
                sink.add("forecast_metrics", _chunked_metrics(level, id_col, name, held_out, bt, res.scale, r, usable, borrow, mine, pool, bounds_of))
                del r, borrow, pool
                # the backtest rows in chunks of series (same order as one frame)
                for a in range(0, len(res.ids), FRAME_SERIES):
                    b = a + FRAME_SERIES
                    chunk = _backtest_frame(level, id_col.slice(a, FRAME_SERIES), periods, cutoffs, horizon, name, held_out[a:b], bt[a:b])
                    if chunk.height or a == 0:
                        sink.add("backtest", chunk)
            else:
                q = np.zeros((horizon, len(QUANTILE_COLUMNS)))
            quant = apply_quantiles(point, res.scale, q)
            if name == "selected" and coherent is not None and level in coherent.final:
                quant = coherent.final[level]  # coherent across the product levels
            if name == "selected" and level == "sku":
                # a product without history sells nothing before its launch
                quant = np.where((np.isnan(res.y).all(axis=1)[:, None] & (point <= 0))[..., None], 0.0, quant)
            method = res.method if name == "selected" else [name] * len(res.ids)
            sink.add("forecast", _forecast_frame(level, id_col, future, name, point, quant, method, keep))
            if not donor_later and name != "selected":
                res.backtest.pop(name, None)
        resid.release()
    return pooled_with


SPILL_CELLS = 1_000_000  # a level's candidate backtests above this many floats each go to disk


def _spill_backtests(results: dict[str, LevelResult], where: Path) -> None:
    """Once selection and reconciliation no longer need them together, each candidate's
    backtest (series, windows, h) of a big level is saved to ``where`` and mapped back
    read-only: the tables stage reads one model at a time and drops it when written (memory:
    one model's backtest, not every candidate's). Values unchanged."""
    where.mkdir(parents=True, exist_ok=True)
    for level, res in results.items():
        for name in list(res.backtest):
            values = res.backtest[name]
            if values.size < SPILL_CELLS:
                continue
            path = where / f"{level}-{name}.npy"
            np.save(path, values)
            res.backtest[name] = np.load(path, mmap_mode="r")
            del values


def _parent_rows(s_matrix: np.ndarray) -> np.ndarray:
    """The parent row of each bottom series in a (parents, bottom) summing matrix (−1: none)."""
    if s_matrix.shape[0] == 0:
        return np.full(s_matrix.shape[1], -1, dtype=np.int64)
    return np.where(s_matrix.any(axis=0), s_matrix.argmax(axis=0), -1).astype(np.int64)


@dataclass
class Coherent:
    """The coherent quantiles of ``selected`` on the product levels (reconcile.py): final
    (series, h, q) per level, held-out (series, windows, h, q) per parent level, and what the
    bottom level's held-out bounds are computed from, chunk by chunk."""

    bottom: str
    final: dict[str, np.ndarray]
    heldout: dict[str, np.ndarray]
    r: np.ndarray
    pool: ResidualPool
    point_bt: np.ndarray
    scale: np.ndarray
    usable: np.ndarray

    def bounds(self, level: str) -> Callable[[slice], np.ndarray]:
        if level != self.bottom:
            held = self.heldout[level]
            return lambda rows: held[rows]
        return self._bottom_bounds

    def _bottom_bounds(self, rows: slice) -> np.ndarray:
        n_windows = self.point_bt.shape[1]
        out = np.empty((*self.point_bt[rows].shape, len(QUANTILE_COLUMNS)))
        for w in range(n_windows):
            knots = series_quantiles(self.r, self.usable[w], (), rows, self.pool.shape(self.usable[w], TAUS), taus=TAUS)
            values = knot_values(np.clip(self.point_bt[rows, w], 0.0, None), self.scale[rows], knots)
            factor, _ = mean_factor(values, np.clip(self.point_bt[rows, w], 0.0, None))
            out[:, w] = output_quantiles(values, factor, QUANTILES)
        return out


def coherent_intervals(
    results: dict[str, LevelResult],
    sel_final: dict[str, np.ndarray],
    sel_bt: dict[str, np.ndarray],
    bottom: str,
    parent_rows: dict[str, np.ndarray],
    cutoffs: list[int],
    usable: np.ndarray,
    horizon: int,
) -> Coherent:
    """Reconciliation of the intervals: the bottom level's calibrated distributions summed
    to every product level above it (reconcile.coherent_quantiles), for the forecast and, from
    the windows that do not overlap it, for each backtest window (the reported coverage)."""
    res = results[bottom]
    actual = _actuals(res.y, cutoffs, horizon)
    r = scaled_residuals(actual, sel_bt[bottom], res.scale)
    del actual
    pool = ResidualPool(r)
    pool.prepare([None, *usable], shapes=True, taus=TAUS)
    levels = list(parent_rows)
    parents = [(parent_rows[lv], len(results[lv].ids)) for lv in levels]
    knots = series_quantiles(r, None, (), shape=pool.shape(None, TAUS), taus=TAUS)
    point = np.clip(np.nan_to_num(sel_final[bottom]), 0.0, None)  # as bottom_up sums them
    own, upper = coherent_quantiles(point, res.scale, knots, r, parents, QUANTILES)
    del knots
    final = {bottom: own, **dict(zip(levels, upper, strict=True))}
    heldout = {lv: np.empty((len(results[lv].ids), len(cutoffs), horizon, len(QUANTILES))) for lv in levels}
    for w in range(len(cutoffs)):
        knots_w = series_quantiles(r, usable[w], (), shape=pool.shape(usable[w], TAUS), taus=TAUS)
        template = np.where(usable[w][None, :, None], r, np.nan)
        _, upper_w = coherent_quantiles(np.clip(np.nan_to_num(sel_bt[bottom][:, w]), 0.0, None), res.scale, knots_w, template, parents, QUANTILES)
        for lv, q in zip(levels, upper_w, strict=True):
            heldout[lv][:, w] = q
        del knots_w, template
    return Coherent(bottom, final, heldout, r, pool, sel_bt[bottom], res.scale, usable)


def _donor_levels(level: str, results: dict[str, LevelResult]) -> list[str]:
    """The levels that disaggregate ``level`` (its children, grandchildren, …), fewest series
    first: whose scaled residuals a level of few series borrows for its intervals. ``total``
    is split by every other level; a category by the finer categories and the sku; a province
    by its cities."""
    if level == "total":
        below = [lv for lv in results if lv != "total"]
    elif level in PRODUCT_LEVELS:
        below = [lv for lv in PRODUCT_LEVELS[PRODUCT_LEVELS.index(level) + 1 :] if lv in results]
    elif level == "province":
        below = [lv for lv in ("city",) if lv in results]
    else:
        below = []
    order = {lv: i for i, lv in enumerate((*PRODUCT_LEVELS, *ORDER_LEVELS))}
    return sorted(below, key=lambda lv: (len(results[lv].ids), order[lv]))


def _pick_mean(models: list[np.ndarray], top: np.ndarray, use: np.ndarray) -> np.ndarray:
    """Mean over the k picks ``top`` (..., k) (indices into ``models``, each (..., h)) where
    ``use`` (..., k), without stacking the models (memory: one model's size)."""
    total = np.zeros(models[0].shape)
    count = use.sum(axis=-1).astype(float)
    for j in range(top.shape[-1]):
        for m, values in enumerate(models):
            hit = (top[..., j] == m) & use[..., j]
            if hit.any():
                total += np.where(hit[..., None], values, 0.0)
    return total / np.maximum(count, 1.0)[..., None]


def select(res: LevelResult, has_backtest: bool) -> tuple[np.ndarray, np.ndarray | None, list[str]]:
    """Selection stage: ``selected`` = the mean of a series' TOP_K candidates of lowest backtest
    error (the ranked ones only; unscored series: ``ensemble``). Returns the final forecast
    (series, h), the held-out backtest forecast (series, windows, h) — each window's pick judged
    without it — and the method name per series."""
    idx = {m: i for i, m in enumerate(res.names)}
    k = min(TOP_K, len(res.names))
    top = np.where(res.scored[:, None], res.rank[:, :k], idx["ensemble"])  # (series, k)
    # only the ranked candidates of a series (fewer than k when few have a backtest score)
    use = (np.arange(k)[None, :] < np.maximum(res.n_ok, 1)[:, None]) | ~res.scored[:, None]
    final = _pick_mean([res.final[m] for m in res.names], top, use)
    method = [_method_name(res.names, t[u]) for t, u in zip(top, use, strict=True)]
    if not has_backtest:
        return final, None, method
    htop = np.where(res.scored[:, None, None], res.held_rank[:, :, :k], idx["ensemble"])
    huse = (np.arange(k)[None, None, :] < np.maximum(res.held_ok, 1)[:, :, None]) | ~res.scored[:, None, None]
    backtest = _pick_mean([res.backtest[m] for m in res.names], htop, huse)
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


def _method_name(names: list[str], top: np.ndarray) -> str:
    chosen = sorted({names[i] for i in top})
    return chosen[0] if len(chosen) == 1 else "mean(" + ",".join(chosen) + ")"


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
        "level": pl.repeat(level, n * h, dtype=pl.String, eager=True),
        "unique_id": ids.gather(np.repeat(rows, h)),
        "ds": pl.Series(future * n, dtype=pl.Date),
        "model": pl.repeat(model, n * h, dtype=pl.String, eager=True),
        "y_hat": np.clip(point[rows], 0.0, None).reshape(-1),
    }
    for j, col in enumerate(QUANTILE_COLUMNS):
        data[col] = quant[rows, :, j].reshape(-1)
    data["method"] = pl.Series(method, dtype=pl.String).gather(np.repeat(rows, h))
    return pl.DataFrame(data)


def _backtest_frame(level: str, ids: pl.Series, periods: list[dt.date], cutoffs: list[int], h: int, model: str, actual: np.ndarray, fc: np.ndarray) -> pl.DataFrame:
    ds_idx = np.array([[c + k for k in range(h)] for c in cutoffs])  # (w, h)
    valid = ~np.isnan(actual) & ~np.isnan(fc)
    s_i, w_i, k_i = np.nonzero(valid)
    per = np.array(periods + [periods[-1]] * h, dtype="datetime64[D]")
    cut = np.array([periods[c - 1] for c in cutoffs], dtype="datetime64[D]")
    return pl.DataFrame(
        {
            "level": pl.repeat(level, s_i.size, dtype=pl.String, eager=True),
            "unique_id": ids.gather(s_i),
            "cutoff": pl.Series(cut[w_i], dtype=pl.Date),
            "ds": pl.Series(per[ds_idx[w_i, k_i]], dtype=pl.Date),
            "model": pl.repeat(model, s_i.size, dtype=pl.String, eager=True),
            "y": actual[s_i, w_i, k_i],
            "y_hat": fc[s_i, w_i, k_i],
        }
    )


METRICS = ("MASE", "sMAPE", "WAPE", "bias", "coverage_80", "coverage_90")


def _chunked_metrics(
    level: str, ids: pl.Series, model: str, actual: np.ndarray, fc: np.ndarray, scale: np.ndarray,
    r: np.ndarray, usable: np.ndarray, borrow: tuple[np.ndarray, ...], per_series: bool,
    pool: ResidualPool | None = None,
    bounds_of: Callable[[slice], np.ndarray] | None = None,
) -> pl.DataFrame:
    """``_metrics`` of a level computed FRAME_SERIES series at a time (the held-out bounds of
    one chunk in memory); the same frame as one call on the whole level."""
    pool = ResidualPool(r, borrow) if pool is None else pool
    parts, sums = [], np.zeros(6)
    per_all = []
    n_rows = len(ids)
    for a in range(0, max(n_rows, 1), FRAME_SERIES):
        rows = slice(a, min(a + FRAME_SERIES, n_rows))
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
    return _metrics_frame(level, ids, model, rows_all, per, whole)


def _metric_values(actual: np.ndarray, fc: np.ndarray, bounds: np.ndarray, scale: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-series metrics (series with a target, METRICS), which series have one, and the sums
    the level's pooled metrics need (Σ|e|, Σe, Σ|y|, inside 80 %, inside 90 %, targets)."""
    valid = ~np.isnan(actual) & ~np.isnan(fc)
    n = valid.sum(axis=(1, 2)).astype(float)
    y = np.where(valid, actual, 0.0)
    f = np.where(valid, fc, 0.0)
    e = f - y
    ae = np.abs(e)
    denom = np.abs(y) + np.abs(f)
    sape = np.divide(200 * ae, denom, out=np.zeros_like(ae), where=denom > 0)
    qi = list(QUANTILE_COLUMNS)
    in80 = valid & (actual >= bounds[..., qi.index("q0.1")]) & (actual <= bounds[..., qi.index("q0.9")])
    in90 = valid & (actual >= bounds[..., qi.index("q0.05")]) & (actual <= bounds[..., qi.index("q0.95")])
    sum_y = np.abs(y).sum(axis=(1, 2))
    has = n > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        per = np.stack(
            [
                ae.sum(axis=(1, 2)) / n / scale,
                sape.sum(axis=(1, 2)) / n,
                np.where(sum_y > 0, ae.sum(axis=(1, 2)) / sum_y, np.nan),
                np.where(sum_y > 0, e.sum(axis=(1, 2)) / sum_y, np.nan),
                in80.sum(axis=(1, 2)) / n,
                in90.sum(axis=(1, 2)) / n,
            ],
            axis=1,
        )[has]
    sums = np.array([ae.sum(), e.sum(), sum_y.sum(), in80.sum(), in90.sum(), n.sum()], dtype=float)
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
