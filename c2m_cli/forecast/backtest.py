"""Rolling-origin backtest: cutoffs, per-series model selection and accuracy metrics."""

from __future__ import annotations

import numpy as np
import polars as pl

N_WINDOWS = 6
MIN_TRAIN = {"D": 28, "W": 8, "M": 6}


def make_cutoffs(n_periods: int, horizon: int, freq: str, windows: int = N_WINDOWS) -> list[int]:
    """Training lengths of the backtest windows, oldest first (empty when history is too short).

    ``windows`` rolling origins, half a horizon apart, the last one ``horizon`` periods before
    the end (the last window is a full horizon; later windows would be truncated). When history
    is too short they are spaced more closely, never with fewer than ``MIN_TRAIN`` periods of
    training.
    """
    min_train = MIN_TRAIN[freq]
    last = n_periods - horizon
    if last < min_train:
        last = n_periods - 1
    room = last - min_train
    if room < 0:
        return []
    step = max(1, min(max(1, horizon // 2), room // max(windows - 1, 1)))
    cutoffs = [last - step * k for k in range(windows - 1, -1, -1)]
    return sorted({c for c in cutoffs if c >= min_train})


def series_scale(y: np.ndarray, n_train: int) -> np.ndarray:
    """MASE denominator: mean absolute one-period change over the first ``n_train`` periods.

    Falls back to the mean absolute level, then 1, so that a constant series still has a scale.
    """
    hist = y[:, :n_train]
    diffs = np.abs(np.diff(hist, axis=1))
    ok = ~np.isnan(diffs)
    n = ok.sum(axis=1)
    scale = np.where(n > 0, np.where(ok, diffs, 0.0).sum(axis=1) / np.maximum(n, 1), 0.0)
    ok_y = ~np.isnan(hist)
    level = np.where(ok_y, np.abs(hist), 0.0).sum(axis=1) / np.maximum(ok_y.sum(axis=1), 1)
    scale = np.where(scale > 0, scale, level)
    return np.where(scale > 0, scale, 1.0)


def window_errors(actual: np.ndarray, forecasts: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Mean absolute error per series and window: model → (series, windows); NaN if no target.

    A model that has no forecast for a target it should have (NaN) gets +inf there.
    """
    valid = ~np.isnan(actual)
    n = valid.sum(axis=2)
    out = {}
    for name, fc in forecasts.items():
        err = np.abs(actual - fc)
        missing = (valid & np.isnan(fc)).any(axis=2)
        mae = np.where(valid, np.nan_to_num(err), 0.0).sum(axis=2) / np.maximum(n, 1)
        mae = np.where(missing, np.inf, mae)
        out[name] = np.where(n > 0, mae, np.nan)
    return out


def independent_windows(cutoffs: list[int], horizon: int) -> np.ndarray:
    """(windows, windows) bool: True where window j does not overlap window i (j may be used
    to judge i). When every window overlaps, the farthest ones are used."""
    c = np.array(cutoffs)
    far = np.abs(c[:, None] - c[None, :]) >= horizon
    for i in range(c.size):
        if not far[i].any():
            dist = np.abs(c - c[i])
            far[i] = dist == dist.max() if dist.max() > 0 else np.ones(c.size, dtype=bool)
    return far


def select_models(
    errors: dict[str, np.ndarray], names: list[str], usable: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Best model per series over all windows, and per held-out window from the *other* windows.

    Returns (final choice (series,), held-out choice (series, windows)) as indices into
    ``names``: the held-out choice of a window ignores that window and the windows overlapping
    it (``overlap``). Ties go to the earlier name. Series without any scored window get -1.
    """
    stack = np.stack([errors[n] for n in names], axis=-1)  # (series, windows, models)
    scored = ~np.isnan(stack)
    total = np.where(scored, stack, 0.0).sum(axis=1)
    count = scored.sum(axis=1)
    mean = np.where(count > 0, total / np.maximum(count, 1), np.inf)
    final = np.argmin(mean, axis=1)
    final = np.where(np.isfinite(mean).any(axis=1), final, -1)
    windows = stack.shape[1]
    held = np.full((stack.shape[0], windows), -1)
    for w in range(windows):
        if usable is None:
            others = np.ones(windows, dtype=bool)
            others[w] = windows == 1
        else:
            others = usable[w]
        s = np.where(scored[:, others], stack[:, others], 0.0).sum(axis=1)
        c = scored[:, others].sum(axis=1)
        m = np.where(c > 0, s / np.maximum(c, 1), np.inf)
        pick = np.argmin(m, axis=1)
        held[:, w] = np.where(np.isfinite(m).any(axis=1), pick, final)
    return final, held


def metrics_frame(backtest: pl.DataFrame, scales: pl.DataFrame) -> pl.DataFrame:
    """level, unique_id, model, metric, value from the backtest (long) and series scales.

    Per series: MASE, sMAPE (%), WAPE, bias (Σ(ŷ−y)/Σy), coverage_80 and coverage_90 (share of
    targets inside the backtest intervals). Per level (unique_id ``*``): mean MASE and sMAPE over
    series, pooled WAPE, bias and coverage.
    """
    frame = backtest.join(scales, on=["level", "unique_id"], how="left").with_columns(
        (pl.col("y_hat") - pl.col("y")).alias("e"),
        (pl.col("y_hat") - pl.col("y")).abs().alias("ae"),
        pl.when((pl.col("y").abs() + pl.col("y_hat").abs()) > 0)
        .then(200 * (pl.col("y_hat") - pl.col("y")).abs() / (pl.col("y").abs() + pl.col("y_hat").abs()))
        .otherwise(0.0)
        .alias("sape"),
        ((pl.col("y") >= pl.col("lo80")) & (pl.col("y") <= pl.col("hi80"))).cast(pl.Float64).alias("in80"),
        ((pl.col("y") >= pl.col("lo90")) & (pl.col("y") <= pl.col("hi90"))).cast(pl.Float64).alias("in90"),
    )
    per_series = frame.group_by("level", "unique_id", "model").agg(
        (pl.col("ae").mean() / pl.col("scale").first()).alias("MASE"),
        pl.col("sape").mean().alias("sMAPE"),
        (pl.col("ae").sum() / pl.col("y").abs().sum()).alias("WAPE"),
        (pl.col("e").sum() / pl.col("y").abs().sum()).alias("bias"),
        pl.col("in80").mean().alias("coverage_80"),
        pl.col("in90").mean().alias("coverage_90"),
    ).sort("level", "unique_id", "model")  # a fixed order: float sums below are then stable
    per_level = (
        frame.group_by("level", "model")
        .agg(
            (pl.col("ae").sum() / pl.col("y").abs().sum()).alias("WAPE"),
            (pl.col("e").sum() / pl.col("y").abs().sum()).alias("bias"),
            pl.col("in80").mean().alias("coverage_80"),
            pl.col("in90").mean().alias("coverage_90"),
        )
        .join(
            per_series.group_by("level", "model").agg(
                pl.col("MASE").mean(), pl.col("sMAPE").mean()
            ),
            on=["level", "model"],
        )
        .with_columns(pl.lit("*").alias("unique_id"))
    )
    metrics = ["MASE", "sMAPE", "WAPE", "bias", "coverage_80", "coverage_90"]
    long = pl.concat(
        [per_series.select("level", "unique_id", "model", *metrics), per_level.select("level", "unique_id", "model", *metrics)]
    ).unpivot(index=["level", "unique_id", "model"], variable_name="metric", value_name="value")
    return long.with_columns(
        pl.when(pl.col("value").is_finite()).then(pl.col("value")).otherwise(None).alias("value")
    ).sort("level", "unique_id", "model", "metric")
