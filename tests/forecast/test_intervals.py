"""Conformal intervals of a one-series level: calibrated on a planted series of known noise."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from c2m_cli.forecast import engine
from c2m_cli.forecast.backtest import independent_windows
from c2m_cli.forecast.intervals import MIN_RESIDUALS, heldout_bounds, residual_quantiles

CUTOFFS = list(range(40, 88, 4))  # 12 rolling origins, half a horizon apart (as the engine)
H = 8


def _coverage(bounds: np.ndarray, actual: np.ndarray, lo: int, hi: int) -> float:
    return float(((actual >= bounds[..., lo]) & (actual <= bounds[..., hi])).mean())


def test_one_series_level_borrows_from_the_level_below_and_is_calibrated() -> None:
    """A 'total' of one series (12 windows × 8 steps, errors N(0, 3) in its own units) and a
    level below of 9 series (errors N(0, 1) in theirs, scale 1): scaled residuals are alike, so
    the 80 % and 90 % held-out intervals of the one series cover 80 % and 90 % on average."""
    rng = np.random.default_rng(7)
    usable = independent_windows(CUTOFFS, H)
    cover80, cover90, width = [], [], []
    for _ in range(60):
        actual = 100 + 3.0 * rng.standard_normal((1, len(CUTOFFS), H))
        forecast = np.full_like(actual, 100.0)
        below = rng.standard_normal((9, len(CUTOFFS), H))
        r = (actual - forecast) / 3.0
        assert np.isfinite(r).sum() < MIN_RESIDUALS  # too few of its own: the donors fill up
        bounds = heldout_bounds(forecast, np.array([3.0]), r, usable, (below,))
        cover80.append(_coverage(bounds, actual, 1, 3))
        cover90.append(_coverage(bounds, actual, 0, 4))
        q = residual_quantiles(r, None, (below,))
        width.append(q[:, 3] - q[:, 1])
    assert abs(np.mean(cover80) - 0.80) <= 0.03
    assert abs(np.mean(cover90) - 0.90) <= 0.03
    # the width in scaled units is that of N(0, 1): 2 × 1.2816
    assert abs(np.mean(width) - 2 * 1.2816) <= 0.15


def test_donors_only_fill_up_to_the_minimum() -> None:
    """The level's own residuals keep their weight: a donor with errors ten times as wide
    brings only what is missing to MIN_RESIDUALS, so the interval lies between the two."""
    rng = np.random.default_rng(3)
    own = rng.standard_normal((1, 12, H))
    wide = 10 * rng.standard_normal((50, 12, H))
    alone = residual_quantiles(own)
    pooled = residual_quantiles(own, None, (wide,))
    donor = residual_quantiles(wide)
    w_alone, w_pooled, w_donor = (x[:, 3].mean() - x[:, 1].mean() for x in (alone, pooled, donor))
    assert w_alone < w_pooled < w_donor
    # enough own residuals: the donors are not used
    many = rng.standard_normal((3, 12, H))
    np.testing.assert_array_equal(residual_quantiles(many), residual_quantiles(many, None, (wide,)))


def test_per_series_calibration_widens_volatile_series_and_shrinks_short_ones() -> None:
    from c2m_cli.forecast.intervals import PRIOR_RESIDUALS, series_quantiles

    rng = np.random.default_rng(7)
    # 40 steady series (sd 0.5) and 40 volatile ones (sd 2), 12 windows × 8 steps each
    r = np.concatenate([rng.normal(0, 0.5, (40, 12, 8)), rng.normal(0, 2.0, (40, 12, 8))])
    q = series_quantiles(r)
    level = residual_quantiles(r)
    width = q[:, :, 3] - q[:, :, 1]  # q0.9 − q0.1 per series and step
    assert width[40:].mean() > 2.0 * width[:40].mean()  # true ratio 4, shrunk by 96 / (96 + 50)
    # the level's interval lies between the two groups'
    assert width[:40].mean() < (level[:, 3] - level[:, 1]).mean() < width[40:].mean()
    # per-series coverage of the 80 % interval moves toward 0.8 for both groups
    inside = (r >= q[:, None, :, 1]) & (r <= q[:, None, :, 3])
    flat = (r >= level[None, None, :, 1]) & (r <= level[None, None, :, 3])
    assert inside[:40].mean() < flat[:40].mean() - 0.04  # steady: 0.999 → 0.94
    assert inside[40:].mean() > flat[40:].mean() + 0.08  # volatile: 0.61 → 0.73
    # a series with only 4 residuals stays near the level's shape (weight 4 / (4 + prior))
    short = r.copy()
    short[0, 1:] = np.nan
    short[0, 0, 4:] = np.nan
    q_short = series_quantiles(short)
    w_short = q_short[0, :, 3] - q_short[0, :, 1]
    w_level = residual_quantiles(short)[:, 3] - residual_quantiles(short)[:, 1]
    assert np.abs(w_short / w_level - 1).max() < 4 / (4 + PRIOR_RESIDUALS) + 0.2


def test_metrics_in_series_chunks_equal_one_pass(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import polars as pl

    from c2m_cli.forecast import engine

    rng = np.random.default_rng(3)
    actual = rng.poisson(5.0, (30, len(CUTOFFS), H)).astype(float)
    actual[:4, :3] = np.nan
    fc = actual + rng.normal(0, 1.5, actual.shape)
    scale = np.full(30, 1.5)
    r = (actual - fc) / scale[:, None, None]
    usable = independent_windows(CUTOFFS, H)
    ids = pl.Series("unique_id", [f"S{i}" for i in range(30)], dtype=pl.String)
    for per_series in (False, True):
        monkeypatch.setattr(engine, "FRAME_SERIES", 7)
        chunked = engine._chunked_metrics("sku", ids, "m", actual, fc, scale, r, usable, (), per_series)
        monkeypatch.setattr(engine, "FRAME_SERIES", 1000)
        whole = engine._chunked_metrics("sku", ids, "m", actual, fc, scale, r, usable, (), per_series)
        bounds = heldout_bounds(fc, scale, r, usable, (), per_series)
        direct = direct_metrics("sku", ids, "m", actual, fc, bounds, scale)
        assert chunked.select("unique_id", "metric").equals(direct.select("unique_id", "metric"))
        np.testing.assert_allclose(chunked["value"].to_numpy(), direct["value"].to_numpy(), rtol=1e-12)
        np.testing.assert_allclose(whole["value"].to_numpy(), direct["value"].to_numpy(), rtol=1e-12)


def direct_metrics(level: str, ids: pl.Series, model: str, actual: np.ndarray, fc: np.ndarray, bounds: np.ndarray, scale: np.ndarray) -> pl.DataFrame:
    """The level's metrics in one pass over all series: the reference the chunked computation
    must equal (kept here, written out independently of engine._metric_values).

    Per series: MASE, sMAPE (%), WAPE, bias (Σ(ŷ−y)/Σ|y|), coverage_80/90 (share of targets
    inside the held-out intervals). For the level: mean MASE and sMAPE over series, pooled
    WAPE, bias and coverage. Undefined values (Σ|y| = 0) are null.
    """
    valid = ~np.isnan(actual) & ~np.isnan(fc)
    n = valid.sum(axis=(1, 2)).astype(float)
    y = np.where(valid, actual, 0.0)
    f = np.where(valid, fc, 0.0)
    e = f - y
    ae = np.abs(e)
    denom = np.abs(y) + np.abs(f)
    sape = np.divide(200 * ae, denom, out=np.zeros_like(ae), where=denom > 0)
    qi = list(engine.QUANTILE_COLUMNS)
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
        total_y = sum_y.sum()
        whole = np.array(
            [
                per[:, 0].mean() if per.shape[0] else np.nan,
                per[:, 1].mean() if per.shape[0] else np.nan,
                ae.sum() / total_y if total_y > 0 else np.nan,
                e.sum() / total_y if total_y > 0 else np.nan,
                in80.sum() / n.sum() if n.sum() else np.nan,
                in90.sum() / n.sum() if n.sum() else np.nan,
            ]
        )
    rows = np.flatnonzero(has)
    k = len(engine.METRICS)
    values = np.concatenate([per.reshape(-1), whole])
    frame = pl.DataFrame(
        {
            "level": pl.repeat(level, (rows.size + 1) * k, dtype=pl.String, eager=True),
            "unique_id": pl.concat([ids.gather(np.repeat(rows, k)), pl.Series(["*"] * k, dtype=pl.String)]),
            "model": pl.repeat(model, (rows.size + 1) * k, dtype=pl.String, eager=True),
            "metric": pl.Series(list(engine.METRICS) * (rows.size + 1), dtype=pl.String),
            "value": values,
        }
    )
    return frame.with_columns(pl.when(pl.col("value").is_finite()).then(pl.col("value")).otherwise(None).alias("value"))


def test_row_quantiles_equal_numpy_nanquantile() -> None:
    """The vectorised row quantile gives numpy's floats: rows with NaNs, ties, one value, none."""
    import warnings

    from c2m_cli.forecast.intervals import QUANTILES, row_quantiles

    rng = np.random.default_rng(11)
    x = rng.standard_normal((4000, 37))
    x[rng.random(x.shape) < 0.4] = np.nan
    x[:200] = np.round(x[:200])  # ties
    x[200, :] = np.nan
    x[201, :] = np.nan
    x[201, 5] = 2.5  # one value
    got = row_quantiles(x, QUANTILES)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the all-NaN row
        ref = np.nanquantile(x, QUANTILES, axis=1).T
    np.testing.assert_array_equal(got, ref)
    assert np.isnan(got[200]).all() and (got[201] == 2.5).all()


@pytest.mark.parametrize("direct_cells", [0, 4_000_000])
def test_residual_pool_equals_the_direct_quantiles_of_every_window_mask(monkeypatch: pytest.MonkeyPatch, direct_cells: int) -> None:
    """The pool's order statistics (one sort, bisection per mask; the pooled shapes by bisection
    or, for few values, by selection) give the same quantiles as masking and copying the
    residuals per window; the level shape within float rounding. Also a level of few series
    whose masks fall back on the donors."""
    from c2m_cli.forecast import intervals
    from c2m_cli.forecast.intervals import ResidualPool, level_shape

    monkeypatch.setattr(intervals, "DIRECT_ORDER_CELLS", direct_cells)
    rng = np.random.default_rng(5)
    usable = independent_windows(CUTOFFS, H)
    for n_series in (900, 6):
        r = rng.gamma(1.5, 1.0, (n_series, len(CUTOFFS), H)) - 1.2
        r[rng.random(r.shape) < 0.3] = np.nan
        r[:, :, 2] = np.round(r[:, :, 2], 1)  # many ties
        r[:, 4] = np.nan  # a window without residuals
        donors = (rng.standard_normal((40, len(CUTOFFS), H)),)
        pool = ResidualPool(r, donors)
        pool.prepare([None, *usable], shapes=True)
        for mask in [None, *usable]:
            np.testing.assert_array_equal(pool.quantiles(mask), residual_quantiles(r, mask, donors))
            for got, ref in zip(pool.shape(mask), level_shape(r, mask, donors), strict=True):
                np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-13)


def test_pools_prepared_together_equal_one_at_a_time() -> None:
    """Several models' pools bisected in one stack give the same quantiles, to the bit, as each
    pool on its own — also a pool with other pending masks (a window without residuals) and
    one whose masks all take the direct computation (few series, donors)."""
    from c2m_cli.forecast.intervals import ResidualPool, prepare_together

    rng = np.random.default_rng(8)
    usable = independent_windows(CUTOFFS, H)
    masks = [None, *usable]
    rs = []
    for k in range(4):
        r = rng.gamma(1.0 + k, 1.0, (700, len(CUTOFFS), H)) - 1.0
        r[rng.random(r.shape) < 0.2] = np.nan
        rs.append(r)
    rs[2][:, 5] = np.nan
    few = (rng.standard_normal((3, len(CUTOFFS), H)), (rng.standard_normal((60, len(CUTOFFS), H)),))
    together = [ResidualPool(r) for r in rs] + [ResidualPool(few[0], few[1])]
    prepare_together(together, masks)
    for pool, r, donors in zip(together, [*rs, few[0]], [(), (), (), (), few[1]], strict=True):
        alone = ResidualPool(r, donors)
        alone.prepare(masks)
        for mask in masks:
            np.testing.assert_array_equal(pool.quantiles(mask), alone.quantiles(mask))
            np.testing.assert_array_equal(pool.quantiles(mask), residual_quantiles(r, mask, donors))


def test_pools_prepared_in_forked_shares_equal_the_serial_preparation(monkeypatch: pytest.MonkeyPatch) -> None:
    """``prepare_pools`` above its threshold splits the pools in shares, the first prepared in
    this process and the others in forked processes (each hands back the quantiles it
    computed): the same quantiles, to the bit, as preparing them all here — and it did fork
    (the workers' pids differ from this one)."""
    import os

    from c2m_cli.executor import LocalExecutor
    from c2m_cli.forecast import engine
    from c2m_cli.forecast.intervals import ResidualPool, prepare_together

    rng = np.random.default_rng(9)
    masks = [None, *independent_windows(CUTOFFS, H)]
    rs = [rng.gamma(1.0 + k, 1.0, (500, len(CUTOFFS), H)) - 1.0 for k in range(5)]
    for r in rs:
        r[rng.random(r.shape) < 0.1] = np.nan
    pids: list[int] = []
    forked = engine.forked_map

    def recording(job, items, meanwhile=None, fork_one=False):  # type: ignore[no-untyped-def]
        out = forked(lambda item: (os.getpid(), job(item)), items, meanwhile, fork_one)
        if out is None:
            return None
        pids.extend(pid for pid, _ in out)
        return [result for _, result in out]

    monkeypatch.setattr(engine, "forked_map", recording)
    monkeypatch.setattr(engine, "FORKED_POOL_CELLS", 1)
    shared = [ResidualPool(r) for r in rs]
    engine.prepare_pools(shared, masks)
    serial = [ResidualPool(r) for r in rs]
    prepare_together(serial, masks)
    if LocalExecutor().processes >= 2 and os.name == "posix":  # the first share here, the others forked
        assert len(pids) == LocalExecutor().processes - 1 and os.getpid() not in pids
    for a, b in zip(shared, serial, strict=True):
        got, want = a.known(), b.known()  # what the workers handed back (quantiles() would compute)
        assert got.keys() == want.keys() and len(got) == len(masks)
        for key in want:
            np.testing.assert_array_equal(got[key], want[key])


def test_metric_values_match_hand_computed_figures() -> None:
    """One series, one window, two steps, computed by hand: actual (2, 0), forecast (1, 1),
    scale 2; the first target is inside both intervals, the second below both."""
    actual = np.array([[[2.0, 0.0]]])
    fc = np.array([[[1.0, 1.0]]])
    bounds = np.array([[[[0.0, 1.0, 1.0, 3.0, 4.0], [0.5, 0.6, 1.0, 1.5, 2.0]]]])  # q0.05 … q0.95
    per, has, sums = engine._metric_values(actual, fc, bounds, np.array([2.0]))
    assert has.tolist() == [True]
    # MASE (1+1)/2/2; sMAPE mean of 200·1/3 and 200·1/1; WAPE 2/2; bias (−1+1)/2; coverage 1 of 2
    np.testing.assert_allclose(per[0], [0.5, (200 / 3 + 200) / 2, 1.0, 0.0, 0.5, 0.5])
    np.testing.assert_allclose(sums, [2.0, 0.0, 2.0, 1.0, 1.0, 2.0])
