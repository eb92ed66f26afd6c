"""Each stage of engine.compute_forecast called alone on a small hand-built input."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from c2m_cli.diagnostics import WarningLog
from c2m_cli.errors import UsageError
from c2m_cli.forecast import engine
from c2m_cli.forecast.engine import (
    Axis,
    LevelResult,
    Levels,
    Selection,
    TableSink,
    Tree,
    accuracy_summary,
    build_levels,
    coherent_intervals,
    level_tables,
    model_intervals,
    product_lifecycle,
    product_tree,
    rank_level,
    reconcile_tree,
    retired_products,
    run_candidates,
    select_levels,
    time_axis,
)
from c2m_cli.forecast.intervals import QUANTILE_COLUMNS, QUANTILES
from c2m_cli.forecast.series import SeriesSet
from tests.forecast.helpers import orders_frame

START = dt.date(2023, 1, 2)  # a Monday
N_PERIODS = 40


def weeks(n: int = N_PERIODS) -> list[dt.date]:
    return [START + dt.timedelta(weeks=i) for i in range(n)]


def axis_of(n: int = N_PERIODS, horizon: int = 4) -> Axis:
    return time_axis(weeks(n), horizon=horizon, freq="W", market="none", log=WarningLog())


def series_set(sku_y: dict[str, np.ndarray], category: dict[str, str]) -> SeriesSet:
    """total, category_l1 and sku series from the skus' weekly values (NaN: before its start)."""
    periods = weeks(len(next(iter(sku_y.values()))))
    rows = []
    for sku, values in sku_y.items():
        rows += [("sku", sku, d, float(v)) for d, v in zip(periods, values, strict=True) if not np.isnan(v)]
    frame = pl.DataFrame(rows, schema={"level": pl.String, "unique_id": pl.String, "ds": pl.Date, "y": pl.Float64}, orient="row")
    cat = frame.with_columns(pl.col("unique_id").replace_strict(category).alias("unique_id"), pl.lit("category_l1").alias("level"))
    tot = frame.with_columns(pl.lit("total").alias("unique_id"), pl.lit("total").alias("level"))
    parents = pl.concat([cat, tot]).group_by("level", "unique_id", "ds").agg(pl.col("y").sum())
    frame = pl.concat([frame, parents.select(frame.columns)]).sort("level", "unique_id", "ds")
    hierarchy = pl.DataFrame({"sku": list(category), "category_l1": list(category.values())}).sort("sku")
    return SeriesSet(frame, periods, hierarchy, ("total", "category_l1", "sku"), {"dropped_partial_periods": None})


def hand_result(level: str, ids: list[str], y: np.ndarray) -> LevelResult:
    """A LevelResult with no candidates (what the products and reconciliation stages read)."""
    n = len(ids)
    empty = np.zeros((n, 0), dtype=int)
    seen = (~np.isnan(y)).sum(axis=1)
    return LevelResult(level, ids, y, np.ones(n), [], {}, {}, empty, empty[:, None], np.zeros(n, bool), seen, np.zeros(n, int), empty, ["m"] * n)


# --- the time axis ------------------------------------------------------------------------


def test_time_axis_forecast_periods_cutoffs_and_horizon_bound() -> None:
    log = WarningLog()
    axis = time_axis(weeks(10), horizon=12, freq="W", market="none", log=log)
    assert axis.future[0] == START + dt.timedelta(weeks=10) and len(axis.future) == 12
    assert [w.code for w in log] == ["horizon-exceeds-history"]
    assert axis.exposure.shape == (22, 0) and axis.effect_names == []
    fine = axis_of()
    assert fine.cutoffs and max(fine.cutoffs) < N_PERIODS and list(np.diff(fine.cutoffs)) == [c for c in np.diff(fine.cutoffs) if c > 0]
    # a window is never judged by itself or by a window overlapping it
    assert fine.usable.shape == (len(fine.cutoffs),) * 2 and not fine.usable.diagonal().any()
    assert not fine.usable[0, 1] and fine.usable[0, 2]  # windows 2 weeks apart overlap at h = 4
    with pytest.raises(UsageError, match=r"--horizon 81 is more than 2× the 40 periods"):
        time_axis(weeks(40), horizon=81, freq="W", market="none", log=WarningLog())


# --- stage 1: levels ----------------------------------------------------------------------


def test_levels_matrices_clip_refunds_and_keep_late_starts_missing() -> None:
    y1 = np.full(N_PERIODS, 5.0)
    y1[7] = -2.0  # a net refund week
    y2 = np.r_[np.full(10, np.nan), np.full(N_PERIODS - 10, 3.0)]  # starts in week 10
    y3 = np.where(np.arange(N_PERIODS) % 4 == 0, 8.0, 0.0)  # lumpy
    series = series_set({"s2": y2, "s1": y1, "s3": y3}, {"s1": "A", "s2": "A", "s3": "B"})
    log = WarningLog()
    levels = build_levels(series, axis_of(), ("total", "category_l1", "sku"), ("category_l1", "sku"), log)
    ids, y = levels.series["sku"]
    assert ids == ["s1", "s2", "s3"] and y.shape == (3, N_PERIODS)
    assert y[0, 7] == 0.0 and np.isnan(y[1, :10]).all() and (y[1, 10:] == 3.0).all()
    np.testing.assert_array_equal(levels.series["category_l1"][1][0, 10:], 8.0)  # s1 + s2
    assert levels.series["total"][0] == ["total"]
    # classes of the requested levels only; every series classified once
    assert set(levels.demand_classes) == {"category_l1", "sku"}
    assert sum(levels.demand_classes["sku"].values()) == 3
    # 40 weeks is less than two yearly seasons: one warning per requested level
    assert [w.code for w in log] == ["short-history", "short-history"]
    assert "level sku: 3 of 3 series" in log.items[1].message
    assert levels.festival_effects == {} and levels.weekday_effects is None


# --- stage 2: candidates ------------------------------------------------------------------


def test_candidates_join_partitions_in_row_order_and_rank_the_planted_best() -> None:
    n = 1100  # more than one series partition
    t = np.arange(N_PERIODS, dtype=float)
    y = np.vstack([np.full(N_PERIODS, 1.0 + i % 7) for i in range(n - 1)] + [10.0 + 3.0 * t])  # last: a trend
    ids = [f"s{i:03d}" for i in range(n)]
    assert len(engine.partitions(ids)) >= 2
    levels = Levels({"sku": (ids, y)})
    axis = axis_of()
    res = run_candidates(levels, axis)["sku"]
    assert res.ids == ids and "naive" in res.names and "seasonal_naive" not in res.names  # 40 weeks: no season
    # row i's forecasts are series i's (a constant series is forecast at its constant)
    np.testing.assert_allclose(res.final["naive"][:-1], y[:-1, -1:].repeat(4, axis=1))
    np.testing.assert_allclose(res.final["ses"][:-1], y[:-1, -1:].repeat(4, axis=1))
    assert res.backtest["naive"].shape == (n, len(axis.cutoffs), 4)
    # the trend: the best-ranked candidate is a trend model, it beats naive, and naive ranks behind it
    actual = engine._actuals(y[-1:], axis.cutoffs, 4)
    mae = {m: float(np.nanmean(np.abs(res.backtest[m][-1:] - actual))) for m in res.names}
    best = res.names[res.rank[-1, 0]]
    assert best in ("damped", "theta") and mae[best] < 0.5 * mae["naive"]
    assert list(res.rank[-1]).index(res.names.index(best)) < list(res.rank[-1]).index(res.names.index("naive"))


def test_candidates_use_the_process_pool_only_for_work_outside_the_largest_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pool (a fork, ~30 ms) is asked for when the batches other than the largest hold at
    least PARALLEL_CELLS series × periods — two partitions of ~550 series here — and not for one
    partition (400 series, 16,000 cells: nothing a second process could take)."""
    from c2m_cli.executor import LocalExecutor

    asked: list[bool] = []
    original = LocalExecutor.map

    def recording(self, fn, items, *, parallel=False):  # type: ignore[no-untyped-def]
        asked.append(parallel)
        return original(self, fn, items, parallel=parallel)

    monkeypatch.setattr(LocalExecutor, "map", recording)
    axis = axis_of()
    for n, expected in ((400, False), (1100, True)):
        ids = [f"s{i:04d}" for i in range(n)]
        sizes = sorted(len(rows) for rows in engine.partitions(ids))
        assert (sum(sizes[:-1]) * N_PERIODS >= engine.PARALLEL_CELLS) is expected
        asked.clear()
        run_candidates(Levels({"sku": (ids, np.ones((n, N_PERIODS)))}), axis)
        assert asked == [expected]


def test_level_sink_gives_what_joining_the_batches_gives() -> None:
    """The local executor's batches write into shared arrays (_LevelSink); the result is the
    batches joined (_join_candidates): rows in place, NaN where a batch lacked a candidate, no
    candidate without a finite forecast."""
    axis = axis_of()
    windows, h = len(axis.cutoffs), axis.horizon
    rng = np.random.default_rng(3)
    rows = [np.array([0, 3, 4]), np.array([1, 2])]

    def batch(n: int, models: list[str], nan: tuple[str, ...] = ()) -> dict[str, dict[str, np.ndarray]]:
        out: dict[str, dict[str, np.ndarray]] = {"final": {}, "backtest": {}}
        for m in models:
            out["final"][m] = np.full((n, h), np.nan) if m in nan else rng.random((n, h))
            out["backtest"][m] = rng.random((n, windows, h))
        return out

    # seasonal_naive only in the first batch; stl with no finite final forecast anywhere
    outs = [batch(3, ["naive", "ses", "seasonal_naive", "stl"], nan=("stl",)), batch(2, ["naive", "ses", "stl"], nan=("stl",))]
    sink = engine._LevelSink.make(5, axis)
    written = [sink.put(r, o) for r, o in zip(rows, outs, strict=True)]
    got = sink.candidates(written, rows, {}, axis)
    copies = [{p: {m: v.copy() for m, v in o[p].items()} for p in o} for o in outs]
    want = engine._join_candidates(copies, rows, {}, axis)
    assert got[0] == want[0] and set(got[0]) == {"naive", "ses", "seasonal_naive"}
    for g, w in zip(got[1:], want[1:], strict=True):
        assert list(g) == list(w)
        for m in w:
            np.testing.assert_array_equal(g[m], w[m])
    assert np.isnan(got[2]["seasonal_naive"][[1, 2]]).all() and np.isfinite(got[2]["seasonal_naive"][[0, 3, 4]]).all()
    np.testing.assert_array_equal(got[2]["naive"][[1, 2]], outs[1]["final"]["naive"])
    assert sink.final == {} and sink.backtest == {}  # the sink lets its arrays go


# --- stage 3: selection -------------------------------------------------------------------


def test_selection_planted_best_wins_and_one_se_pool_combines_the_tied() -> None:
    axis = axis_of()
    w = len(axis.cutoffs)
    y = np.vstack([np.full(N_PERIODS, 20.0), np.full(N_PERIODS, 40.0)])
    actual = engine._actuals(y, axis.cutoffs, 4)
    offsets = np.arange(1.0, w + 1.0)[None, :, None] * np.ones((1, 1, 4))  # window w off by w + 1
    names = ["naive", "ses", "theta", "ensemble"]
    backtest = {
        "naive": actual + 30.0,  # far off on both series
        "ses": actual + np.vstack([np.full((1, w, 4), 5.0), offsets]),
        # series 0: exact (the planted best); series 1: ses's window errors in another order (a tie)
        "theta": actual + np.vstack([np.zeros((1, w, 4)), offsets[:, ::-1]]),
        "ensemble": actual + 10.0,
    }
    final = {m: np.full((2, 4), float(k)) for k, m in enumerate(names)}
    res = rank_level("sku", ["a", "b"], y, names, backtest, final, axis)
    sel = select_levels({"sku": res}, True)
    assert res.method == ["theta", "mean(ses,theta)"]
    np.testing.assert_array_equal(sel.final["sku"][0], final["theta"][0])
    np.testing.assert_array_equal(sel.final["sku"][1], (final["ses"][1] + final["theta"][1]) / 2)
    assert list(res.n_ok) == [1, 2]
    assert sel.backtest["sku"].shape == (2, w, 4)
    # held out: each window's pick is judged on the windows that end before it starts; theta
    # wins on any of them, and a window with none before it gets the default (ensemble)
    before = engine.earlier_windows(axis.cutoffs, 4).any(axis=1)
    assert before.any() and not before.all()
    np.testing.assert_array_equal(sel.backtest["sku"][0][before], backtest["theta"][0][before])
    np.testing.assert_array_equal(sel.backtest["sku"][0][~before], backtest["ensemble"][0][~before])
    # the summary's share of judged windows: those with an earlier window, for both series
    assert engine.judged_share(res) == pytest.approx(before.mean(), abs=1e-4)


def test_selection_method_names_per_series() -> None:
    """What ``selected`` is per series: the single pick, or mean(…) of its distinct used picks
    in name order (an unscored series' repeated ``ensemble`` is one pick)."""
    names = ["theta", "ses", "naive", "ensemble"]
    top = np.array([[1, 0], [3, 3], [2, 1], [0, 2], [1, 2]])
    use = np.array([[True, True], [True, True], [True, False], [True, True], [True, True]])
    assert engine._method_names(names, top, use) == ["mean(ses,theta)", "ensemble", "naive", "mean(naive,theta)", "mean(naive,ses)"]
    assert engine._method_names(names, top[:0], use[:0]) == []


def test_selection_held_out_picks_use_no_later_window() -> None:
    """A last window where the best model is off by far (and the worst exact) moves no earlier
    window's held-out backtest: each window's pick is judged on the windows that end before it
    (judged on the other non-overlapping windows, later ones included, the early picks move)."""
    axis = axis_of()
    rng = np.random.default_rng(3)
    y = 20.0 + rng.poisson(5.0, (30, N_PERIODS)).astype(float)
    actual = engine._actuals(y, axis.cutoffs, 4)
    names = ["naive", "ses", "theta", "ensemble"]
    backtest = {m: actual + rng.normal(0.0, 1.0 + k, actual.shape) for k, m in enumerate(names)}
    final = {m: np.full((30, 4), float(k)) for k, m in enumerate(names)}

    def held_out(bt: dict[str, np.ndarray]) -> np.ndarray:
        res = rank_level("sku", [f"s{i}" for i in range(30)], y, names, bt, final, axis)
        return select_levels({"sku": res}, True).backtest["sku"]

    before = held_out(backtest)
    late = {m: v.copy() for m, v in backtest.items()}
    late["naive"][:, -1] += 1000.0
    late["ensemble"][:, -1] = actual[:, -1]
    after = held_out(late)
    np.testing.assert_array_equal(after[:, :-1], before[:, :-1])
    assert not np.array_equal(after[:, -1], before[:, -1])


@pytest.mark.parametrize("cores", [2, 1])
def test_selection_of_a_big_level_in_shares_gives_the_same_floats(monkeypatch: pytest.MonkeyPatch, cores: int) -> None:
    """Above PARALLEL_RANK_SERIES the picks' means are made in two shares of rows (the second in
    a forked worker, into one shared array; with one core both here): the same arrays, to the
    bit, as one pass over every row."""
    import os

    monkeypatch.setattr(os, "cpu_count", lambda: cores)
    axis = axis_of()
    rng = np.random.default_rng(5)
    n = 101  # odd: shares of 50 and 51 rows
    y = 20.0 + rng.poisson(5.0, (n, N_PERIODS)).astype(float)
    actual = engine._actuals(y, axis.cutoffs, 4)
    names = ["naive", "ses", "theta", "ensemble"]
    spread = rng.gamma(2.0, 1.0, (n, len(names)))  # each series its own best model
    backtest = {m: actual + spread[:, k, None, None] * rng.normal(0.0, 1.0, actual.shape) for k, m in enumerate(names)}
    final = {m: rng.gamma(2.0, 3.0, (n, 4)) for m in names}
    res = rank_level("sku", [f"s{i}" for i in range(n)], y, names, backtest, final, axis)
    want = select_levels({"sku": res}, True)
    monkeypatch.setattr(engine, "PARALLEL_RANK_SERIES", 10)
    got = select_levels({"sku": res}, True)
    assert len(set(res.method)) > 1  # the series' picks differ
    for table in ("final", "backtest"):
        np.testing.assert_array_equal(getattr(got, table)["sku"], getattr(want, table)["sku"])
        assert not np.array_equal(getattr(got, table)["sku"][: n // 2], getattr(want, table)["sku"][n // 2 : n // 2 * 2])


# --- stage 4: new, retired and pre-sold products ------------------------------------------


def test_products_new_get_their_share_and_retired_forecast_zero() -> None:
    n = 16
    s1 = np.full(n, 4.0)
    s2 = np.r_[np.full(n - 3, np.nan), np.full(3, 2.0)]  # new: 3 weeks of history
    s3 = np.r_[5.0, 5.0, np.zeros(n - 2)]  # last sale 14 weeks ago (> 13): retired
    sku_y = np.vstack([s1, s2, s3])
    cat_y = np.vstack([np.nansum(sku_y, axis=0)])
    results = {
        "total": hand_result("total", ["total"], cat_y),
        "category_l1": hand_result("category_l1", ["A"], cat_y),
        "sku": hand_result("sku", ["s1", "s2", "s3"], sku_y),
    }
    sel = Selection({"total": np.full((1, 4), 10.0), "category_l1": np.full((1, 4), 10.0), "sku": np.full((3, 4), 7.0)}, {})
    hierarchy = pl.DataFrame({"sku": ["s1", "s2", "s3"], "category_l1": ["A", "A", "A"]})
    orders = orders_frame([("s1", "2023-01-02T10:00:00", 4.0, "paid")]).lazy()
    life = product_lifecycle(
        results, sel, hierarchy, axis_of(n), orders=orders, products=None, timezone="UTC", internal=("total", "category_l1", "sku")
    )
    assert life.new_products == 1 and life.retired is not None and list(life.retired) == [False, False, True]
    # s2 sold 6 of the 4·3 + 2·3 = 18 its category sold over its three weeks: a third of 10
    np.testing.assert_allclose(sel.final["sku"][1], 10.0 / 3)
    np.testing.assert_array_equal(sel.final["sku"][2], 0.0)
    np.testing.assert_array_equal(sel.final["sku"][0], 7.0)
    assert results["sku"].method == ["m", "category_share", "m"]
    assert life.presale == {} and life.hierarchy.equals(hierarchy)


def test_retired_rule_stretches_for_slow_movers() -> None:
    n = 40
    fast = np.r_[np.ones(20), np.zeros(20)]  # 20 silent weeks after weekly sales: retired
    slow = np.where(np.arange(n) % 10 == 0, 1.0, 0.0)  # a sale every 10 weeks, last 9 weeks ago
    slow_gap = np.r_[np.where(np.arange(30) % 10 == 0, 1.0, 0.0), np.zeros(10)]  # 19 weeks < 3 × 10
    y = np.vstack([fast, slow, slow_gap])
    assert list(retired_products(y, np.full(3, n), "W")) == [True, False, False]


# --- stage 5: reconciliation --------------------------------------------------------------


def _tree_inputs(rng: np.random.Generator) -> tuple[dict[str, LevelResult], Selection, pl.DataFrame, Axis]:
    axis = axis_of()
    w = len(axis.cutoffs)
    sku_y = rng.poisson(6.0, (3, N_PERIODS)).astype(float)
    cat_y = np.vstack([sku_y[0] + sku_y[1], sku_y[2]])
    results = {
        "total": hand_result("total", ["total"], sku_y.sum(axis=0, keepdims=True)),
        "category_l1": hand_result("category_l1", ["A", "B"], cat_y),
        "sku": hand_result("sku", ["s1", "s2", "s3"], sku_y),
    }
    sel = Selection(
        {lv: rng.uniform(1, 9, (len(r.ids), 4)) for lv, r in results.items()},
        {lv: rng.uniform(1, 9, (len(r.ids), w, 4)) for lv, r in results.items()},
    )
    hierarchy = pl.DataFrame({"sku": ["s3", "s1", "s2"], "category_l1": ["B", "A", "A"]})
    return results, sel, hierarchy, axis


def test_reconciliation_bottom_up_parents_are_exact_sums() -> None:
    results, sel, hierarchy, axis = _tree_inputs(np.random.default_rng(0))
    tree = product_tree(results, hierarchy)
    assert tree is not None and tree.levels == ["total", "category_l1", "sku"]
    np.testing.assert_array_equal(tree.summing["category_l1"], [[1, 1, 0], [0, 0, 1]])
    sku_final, sku_bt = sel.final["sku"].copy(), sel.backtest["sku"].copy()
    assert reconcile_tree(tree, results, sel, axis, "bottom_up") is None
    np.testing.assert_array_equal(sel.final["sku"], sku_final)
    for got, bottom in ((sel.final, sku_final), (sel.backtest, sku_bt)):
        np.testing.assert_array_equal(got["category_l1"][0], bottom[0] + bottom[1])
        np.testing.assert_array_equal(got["category_l1"][1], bottom[2])
        np.testing.assert_allclose(got["total"][0], bottom[0] + bottom[1] + bottom[2], rtol=1e-15)
    assert results["total"].method == ["bottom_up"] and results["category_l1"].method == ["bottom_up"] * 2
    assert results["sku"].method == ["m"] * 3


def test_reconciliation_mint_leaves_a_coherent_input_unchanged_and_moves_an_incoherent_one() -> None:
    results, sel, hierarchy, axis = _tree_inputs(np.random.default_rng(1))
    tree = product_tree(results, hierarchy)
    assert tree is not None
    for table in (sel.final, sel.backtest):  # make the input coherent
        table["category_l1"] = np.stack([table["sku"][0] + table["sku"][1], table["sku"][2]])
        table["total"] = table["sku"].sum(axis=0, keepdims=True)
    coherent = {lv: v.copy() for lv, v in sel.final.items()}
    assert reconcile_tree(tree, results, sel, axis, "mint_shrink") is None
    for lv in coherent:
        np.testing.assert_allclose(sel.final[lv], coherent[lv], rtol=1e-8)
    assert results["total"].method == ["mint_shrink"]
    # an incoherent total (twice the skus' sum) pulls the skus up, and the result adds up
    sel.final["total"] = 2 * coherent["total"]
    reconcile_tree(tree, results, sel, axis, "mint_shrink")
    assert (sel.final["sku"].sum(axis=0) > coherent["sku"].sum(axis=0)).all()
    np.testing.assert_allclose(sel.final["total"][0], sel.final["sku"].sum(axis=0))


def test_reconciliation_mint_falls_back_beyond_its_node_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    results, sel, hierarchy, axis = _tree_inputs(np.random.default_rng(2))
    tree = product_tree(results, hierarchy)
    assert tree is not None
    monkeypatch.setattr(engine, "MINT_MAX_NODES", 5)
    note = reconcile_tree(tree, results, sel, axis, "mint_shrink")
    assert note == "mint_shrink needs at most 5 series, got 6: bottom_up used"
    assert results["total"].method == ["bottom_up"]


def test_reconciliation_of_a_second_tree_scaled_to_the_total() -> None:
    """A geographic tree (province ⊃ city) below the product total: its bottom is scaled per
    period to the total, its provinces are the sums of their cities."""
    results, sel, _, axis = _tree_inputs(np.random.default_rng(3))
    rng = np.random.default_rng(4)
    city_y = rng.poisson(4.0, (3, N_PERIODS)).astype(float)
    results["province"] = hand_result("province", ["P1", "P2"], np.vstack([city_y[0], city_y[1] + city_y[2]]))
    results["city"] = hand_result("city", ["P1/a", "P2/b", "P2/c"], city_y)
    sel.final["province"], sel.final["city"] = rng.uniform(1, 5, (2, 4)), rng.uniform(1, 5, (3, 4))
    w = len(axis.cutoffs)
    sel.backtest["province"], sel.backtest["city"] = rng.uniform(1, 5, (2, w, 4)), rng.uniform(1, 5, (3, w, 4))
    share = sel.final["city"] / sel.final["city"].sum(axis=0)
    geo = Tree(["province", "city"], {"province": np.array([[1.0, 0, 0], [0, 1, 1]])})
    reconcile_tree(geo, results, sel, axis, "bottom_up", anchor="total")
    np.testing.assert_allclose(sel.final["city"].sum(axis=0), sel.final["total"][0])
    np.testing.assert_allclose(sel.final["city"], share * sel.final["total"][0])  # shares kept
    np.testing.assert_allclose(sel.backtest["city"].sum(axis=0), sel.backtest["total"][0])
    np.testing.assert_array_equal(sel.final["province"][1], sel.final["city"][1] + sel.final["city"][2])
    assert results["city"].method == ["m+scaled_to_total"] * 3 and results["province"].method == ["bottom_up"] * 2


# --- stage 6: intervals -------------------------------------------------------------------


def test_intervals_per_level_shape_is_the_residuals_quantiles() -> None:
    """A candidate's quantile shape per horizon step: the conformal quantiles of the level's
    scaled backtest residuals (here uniform on [−1, 1] × step, many of them)."""
    axis = axis_of()
    rng = np.random.default_rng(5)
    n, w = 400, len(axis.cutoffs)
    y = np.full((n, N_PERIODS), 50.0)
    actual = engine._actuals(y, axis.cutoffs, 4)
    noise = rng.uniform(-1, 1, (n, w, 4)) * np.arange(1, 5)[None, None, :]
    res = hand_result("sku", [f"s{i}" for i in range(n)], y)
    res.backtest = {"ses": actual - noise}  # residual = actual − forecast = noise (scale 1)
    resid = engine.Residuals({"sku": res}, {}, axis.cutoffs, 4, axis.usable)
    iv = model_intervals(resid, "sku", "ses")
    assert iv.used == [] and iv.q.shape == (4, len(QUANTILES))
    expected = np.quantile(noise.reshape(-1, 4), QUANTILES, axis=0).T  # (h, q)
    assert (np.abs(iv.q - expected) <= 0.03 * np.arange(1, 5)[:, None]).all(), (iv.q, expected)


def test_intervals_shortcuts_equal_the_model_by_model_computation() -> None:
    """The candidates' pools prepared together (a level of few series) and ``selected`` taking
    the coherent stage's pool give, to the bit, the quantiles model_intervals computes alone."""
    axis = axis_of()
    rng = np.random.default_rng(12)
    n = 300
    y = 40.0 + rng.poisson(8.0, (n, N_PERIODS)).astype(float)
    y[:40, :20] = np.nan  # late starts: fewer residuals in the early windows
    actual = engine._actuals(y, axis.cutoffs, 4)
    res = hand_result("sku", [f"s{i}" for i in range(n)], y)
    res.backtest = {m: actual + rng.normal(0.0, 1.0 + k, actual.shape) for k, m in enumerate(("naive", "ses", "theta"))}
    sel_bt = {"sku": actual + rng.normal(0.0, 1.5, actual.shape)}
    resid = engine.Residuals({"sku": res}, sel_bt, axis.cutoffs, 4, axis.usable)
    together = engine.candidate_pools(resid, "sku", sorted(res.backtest), axis)
    assert sorted(together) == ["naive", "ses", "theta"]
    for name in sorted(res.backtest):
        got = model_intervals(resid, "sku", name, prepared=together[name])
        alone = model_intervals(resid, "sku", name)
        np.testing.assert_array_equal(got.q, alone.q)
        for mask in axis.usable:
            np.testing.assert_array_equal(got.pool.quantiles(mask), alone.pool.quantiles(mask))
    tree = Tree(["total", "sku"], {"total": np.ones((1, n))})
    results = {"total": hand_result("total", ["total"], np.nansum(y, axis=0, keepdims=True)), "sku": res}
    sel = Selection({"sku": np.full((n, 4), 48.0), "total": np.full((1, 4), 48.0 * n)}, sel_bt)
    coherent = coherent_intervals(results, sel, tree, axis, shown=["sku"])
    reused = model_intervals(resid, "sku", "selected", heldout=False, coherent=coherent)
    assert reused.pool is coherent.pool
    np.testing.assert_array_equal(reused.q, model_intervals(resid, "sku", "selected", heldout=False).q)


@pytest.mark.parametrize("cores", [2, 1])
def test_candidate_metrics_computed_with_their_pools_equal_the_tables_own(monkeypatch: pytest.MonkeyPatch, cores: int) -> None:
    """Pools prepared in shares side by side (the first here, the others forked; with one core
    all here, one share after the other) also compute each candidate's metric arrays: the same
    arrays, to the bit, as the tables stage computes from a pool of its own; a level prepared
    at once leaves them to the tables stage."""
    import os

    monkeypatch.setattr(os, "cpu_count", lambda: cores)
    axis = axis_of()
    rng = np.random.default_rng(13)
    n = 300
    y = 40.0 + rng.poisson(8.0, (n, N_PERIODS)).astype(float)
    y[:40, :20] = np.nan
    actual = engine._actuals(y, axis.cutoffs, 4)
    res = hand_result("sku", [f"s{i}" for i in range(n)], y)
    res.backtest = {m: actual + rng.normal(0.0, 1.0 + k, actual.shape) for k, m in enumerate(("naive", "ses", "theta"))}
    resid = engine.Residuals({"sku": res}, {"sku": actual}, axis.cutoffs, 4, axis.usable)
    assert all(iv.metrics is None for iv in engine.candidate_pools(resid, "sku", sorted(res.backtest), axis).values())
    monkeypatch.setattr(engine, "FORKED_POOL_CELLS", 1)
    shared = engine.candidate_pools(resid, "sku", sorted(res.backtest), axis)
    for name in sorted(res.backtest):
        alone = model_intervals(resid, "sku", name)
        want = engine._metric_arrays(resid.actuals("sku"), res.backtest[name], res.scale, alone.r, axis.usable, alone.borrow, False, alone.pool)
        got = shared[name].metrics
        assert got is not None
        for a, b in zip(got, want, strict=True):
            np.testing.assert_array_equal(a, b)


def test_intervals_coherent_parents_follow_the_childrens_dependence() -> None:
    """Two children whose backtest errors move together (the same ranks in every window): the
    coherent parent's quantiles are the sums of its children's, within tolerance; errors that
    move against each other cancel in the parent (a much narrower interval)."""
    axis = axis_of()
    w = len(axis.cutoffs)
    z = np.random.default_rng(6).normal(0, 1, (1, w, 4))
    y = np.vstack([np.full(N_PERIODS, 30.0), np.full(N_PERIODS, 60.0)])
    actual = engine._actuals(y, axis.cutoffs, 4)
    tree = Tree(["total", "sku"], {"total": np.ones((1, 2))})
    out = {}
    for sign in (1.0, -1.0):
        results = {"total": hand_result("total", ["total"], y.sum(axis=0, keepdims=True)), "sku": hand_result("sku", ["a", "b"], y)}
        bottom_bt = actual - np.vstack([3.0 * z, sign * 6.0 * z])
        sel = Selection({"sku": np.vstack([np.full(4, 30.0), np.full(4, 60.0)]), "total": np.full((1, 4), 90.0)}, {"sku": bottom_bt})
        out[sign] = coherent_intervals(results, sel, tree, axis)
    own, parent = out[1.0].final["sku"], out[1.0].final["total"]
    assert own.shape == (2, 4, len(QUANTILES)) and parent.shape == (1, 4, len(QUANTILES))
    np.testing.assert_allclose(parent[0], own.sum(axis=0), rtol=0.03)  # empirical over the windows' scenarios
    assert out[1.0].heldout["total"].shape == (1, w, 4, len(QUANTILES))
    qi = list(QUANTILES)
    width = {s: c.final["total"][0, :, qi.index(0.9)] - c.final["total"][0, :, qi.index(0.1)] for s, c in out.items()}
    assert (width[-1.0] < 0.5 * width[1.0]).all()


# --- stage 7: tables ----------------------------------------------------------------------


def test_tables_row_counts_columns_and_summary() -> None:
    rng = np.random.default_rng(7)
    sku_y = {f"s{i}": rng.poisson(3 + i, N_PERIODS).astype(float) for i in range(4)}
    sku_y["s3"][:30] = np.nan  # a late start (10 weeks)
    series = series_set(sku_y, {"s0": "A", "s1": "A", "s2": "B", "s3": "B"})
    axis = axis_of()
    internal = ("total", "category_l1", "sku")
    levels = build_levels(series, axis, internal, internal, WarningLog())
    results = run_candidates(levels, axis)
    sel = select_levels(results, True)
    retired = np.array([False, True, False, False])  # s1 written as retired
    sink = TableSink(None)
    pooled = level_tables(sink, results, internal, sel, axis, retired)
    forecast, backtest, metrics = sink.tables()
    assert forecast.columns == ["level", "unique_id", "ds", "model", "y_hat", *QUANTILE_COLUMNS, "method"]
    for lv, res in results.items():
        n_models = len(res.names) + 1  # the candidates and selected
        rows = forecast.filter(pl.col("level") == lv)
        kept = len(res.ids) - (1 if lv == "sku" else 0)
        assert rows.height == n_models * kept * 4, lv
        assert "s1" not in rows["unique_id"].to_list()
        m = metrics.filter(pl.col("level") == lv)
        assert m.height == n_models * (len(res.ids) + 1) * len(engine.METRICS), lv  # every series has a target, and "*"
        b = backtest.filter((pl.col("level") == lv) & (pl.col("model") == "selected"))
        actual = engine._actuals(res.y, axis.cutoffs, 4)
        assert b.height == int((~np.isnan(actual) & ~np.isnan(sel.backtest[lv])).sum()), lv
    q = forecast.select(QUANTILE_COLUMNS).to_numpy()
    assert (np.diff(q, axis=1) >= -1e-9).all()  # quantiles ordered
    assert set(pooled) <= {"total", "category_l1"}
    acc = accuracy_summary(metrics, sink, results, internal)
    assert set(acc["backtest"]["sku"]) == set(engine.METRICS)
    assert sum(acc["selected_models"]["sku"].values()) == 3  # the forecast rows' skus


def test_partition_count_one_per_batch_and_two_at_least_for_a_mid_size_level() -> None:
    ids = [f"s{i:05d}" for i in range(9000)]
    counts = {n: len(engine.partitions(ids[:n])) for n in (1, 1000, 1024, 1025, 2048, 4096, 4097, 9000)}
    assert counts == {1: 1, 1000: 1, 1024: 1, 1025: 2, 2048: 2, 4096: 2, 4097: 3, 9000: 5}
