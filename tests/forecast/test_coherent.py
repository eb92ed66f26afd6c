"""Coherent quantiles: joint sample paths of the bottom series (a bootstrap of their backtest
errors by window, through each series' calibrated quantile function), summed to every parent."""

from __future__ import annotations

import numpy as np
from scipy.stats import norm

from c2m_cli.forecast import engine
from c2m_cli.forecast.engine import Selection, Tree, coherent_intervals
from c2m_cli.forecast.intervals import QUANTILES
from c2m_cli.forecast.reconcile import (
    TAUS,
    coherent_paths,
    evaluate,
    inflate,
    knot_values,
    pooled_ranks,
    scenario_quantiles,
)
from tests.forecast.helpers import no_fork
from tests.forecast.test_stages import N_PERIODS, axis_of, hand_result

COLUMNS = QUANTILES  # 0.05, 0.1, 0.5, 0.9, 0.95


def _planted(n: int, windows: int, h: int, common: float, idio: float, seed: int) -> np.ndarray:
    """Scaled residuals (series, windows, h): a shock common to every series of a window and
    step plus each series' own noise (errors correlated across series)."""
    rng = np.random.default_rng(seed)
    return common * rng.standard_normal((1, windows, h)) + idio * rng.standard_normal((n, windows, h))


def _paths(point: np.ndarray, knots: np.ndarray, r: np.ndarray, parents: list[tuple[np.ndarray, int]], chunk: int = 64):  # type: ignore[no-untyped-def]
    spread = np.ones(r.shape[2])
    return coherent_paths(
        point, np.ones(point.shape[0]), lambda rows: knots[rows], lambda rows: pooled_ranks(r[rows], spread), parents, COLUMNS, chunk=chunk
    )


def test_parent_coverage_is_recovered_from_correlated_bottom_errors() -> None:
    """200 series whose errors share a common shock (sd 1) beside their own noise (sd 2): the
    sum's error has sd √(200² · 1 + 200 · 4) ≈ 202 — six times what independent errors would
    give (√(200 · 5) ≈ 32). The bootstrap by window keeps the shock: the parent's quantiles are
    those of the summed backtest errors (the bottom-up error distribution, to 0.15 sd), its 80 %
    interval is ±1.2816 × 202 around the bottom-up point (hand-computed; the linear tails of
    each series' quantile function beyond 0.025 / 0.975 cost a few per cent), and it covers
    80 % of fresh draws of the same process; with each series' windows shuffled (no
    dependence) it is under a third as wide."""
    n, w, h = 200, 150, 4
    r = _planted(n, w, h, common=1.0, idio=2.0, seed=3)
    point = np.full((n, h), 100.0)  # far from zero: no clipping
    knots = np.broadcast_to(np.sqrt(5.0) * norm.ppf(np.array(TAUS)), (n, h, len(TAUS))).copy()  # the true marginal
    own, (total,), used = _paths(point, knots, r, [(np.zeros(n, dtype=np.int64), 1)])
    assert used.all()
    q = scenario_quantiles(total, used, COLUMNS)[0]  # (h, q)
    sd = np.sqrt(n**2 * 1.0 + n * 4.0)
    summed = np.quantile(r.sum(axis=0).reshape(-1), COLUMNS)  # the bottom-up errors, pooled over steps
    assert np.abs(q - n * 100.0 - summed[None, :]).max() < 0.15 * sd
    half = (q[:, 3] - q[:, 1]) / 2
    np.testing.assert_allclose(half, norm.ppf(0.9) * sd, rtol=0.1)
    fresh = _planted(n, 4000, h, common=1.0, idio=2.0, seed=2).sum(axis=0) + n * 100.0  # (draws, h)
    inside = ((fresh >= q[None, :, 1]) & (fresh <= q[None, :, 3])).mean()
    assert abs(inside - 0.8) < 0.05, inside
    # each series' own quantiles are its calibrated marginal (100 + √5 · z_τ)
    np.testing.assert_allclose(own[0, 0], 100.0 + np.sqrt(5.0) * norm.ppf(np.array(COLUMNS)), rtol=1e-9)
    # independent errors (each series' windows shuffled): the sum is far narrower
    rng = np.random.default_rng(3)
    shuffled = np.stack([r[i, rng.permutation(w)] for i in range(n)])
    _, (indep,), _ = _paths(point, knots, shuffled, [(np.zeros(n, dtype=np.int64), 1)])
    q_indep = scenario_quantiles(indep, used, COLUMNS)[0]
    assert ((q_indep[:, 3] - q_indep[:, 1]) < 0.3 * (q[:, 3] - q[:, 1])).all()


def test_quantiles_add_up_across_levels() -> None:
    """Every parent's quantiles are those of the sum of its children's joint paths (checked
    against paths built the long way, all series at once); the paths add up level to level,
    also after each level's between-window spread is stretched (inflate); chunking changes
    nothing."""
    n, w, h = 120, 10, 3
    rng = np.random.default_rng(4)
    r = _planted(n, w, h, common=0.8, idio=1.0, seed=5)
    r[rng.random(r.shape) < 0.2] = np.nan  # series missing some windows: drawn on their own there
    point = rng.gamma(2.0, 1.0, (n, 1)) * np.ones((1, h))  # small: clipping at zero matters
    knots = np.sort(rng.normal(0, 1, (n, h, len(TAUS))), axis=2)
    # series that are 0 in every path (skipped by coherent_paths: the rows after them keep
    # their own hashed draws)
    dead = rng.random(n) < 0.15
    point[dead], knots[dead] = 0.0, np.linspace(-3.0, -1.0, len(TAUS))
    assert dead.sum() >= 10
    groups = np.arange(n) % 6
    parents = [(np.zeros(n, dtype=np.int64), 1), (groups, 6)]
    own, (total, cats), used = _paths(point, knots, r, parents, chunk=32)
    # the long way: every bottom path, then sums
    u = pooled_ranks(r, np.ones(h))
    from c2m_cli.forecast.reconcile import hash_uniform

    u = np.where(np.isnan(u), hash_uniform(np.arange(n), np.arange(u.shape[1])), u)
    paths = evaluate(knot_values(point, np.ones(n), knots), u)  # (series, h, scenarios)
    assert (paths >= 0).all() and (paths[dead] == 0).all() and (paths[~dead].max(axis=(1, 2)) > 0).all()
    np.testing.assert_allclose(total[0], paths.sum(axis=0), rtol=1e-12)
    for g in range(6):
        np.testing.assert_allclose(cats[g], paths[groups == g].sum(axis=0), rtol=1e-12)
    np.testing.assert_allclose(scenario_quantiles(total, used, COLUMNS)[0], np.quantile(paths.sum(axis=0), COLUMNS, axis=1).T, rtol=1e-12)
    # categories' paths add up to the total's, stretched or not
    window_of = np.repeat(np.arange(w), h)
    for lambdas in ([1.0, 1.0], [2.5, 1.0], [2.5, 0.5], [0.7, 3.0]):
        t2, c2 = inflate([total, cats], [None, np.zeros(6, dtype=np.int64)], window_of, used, lambdas)
        np.testing.assert_allclose(c2.sum(axis=0), t2[0], rtol=1e-10)
    # a larger λ widens the total's interval
    wide = inflate([total], [None], window_of, used, [2.5])[0]
    q, q_wide = scenario_quantiles(total, used, COLUMNS)[0], scenario_quantiles(wide, used, COLUMNS)[0]
    assert ((q_wide[:, 3] - q_wide[:, 1]) > (q[:, 3] - q[:, 1])).all()
    # chunking changes nothing
    own_b, (total_b, cats_b), _ = _paths(point, knots, r, parents, chunk=1000)
    np.testing.assert_allclose(own_b, own, rtol=1e-12)
    np.testing.assert_allclose(total_b, total, rtol=1e-12)
    np.testing.assert_allclose(cats_b, cats, rtol=1e-12)


def _tree_world(sign: float = 1.0):  # type: ignore[no-untyped-def]
    axis = axis_of()
    w = len(axis.cutoffs)
    rng = np.random.default_rng(6)
    n = 8
    y = 40.0 + 3.0 * rng.standard_normal((n, N_PERIODS))
    actual = engine._actuals(y, axis.cutoffs, 4)
    shock = rng.standard_normal((1, w, 4))
    bottom_bt = actual - (2.0 * shock + rng.standard_normal((n, w, 4)))
    cats = np.arange(n) % 2
    results = {
        "total": hand_result("total", ["total"], y.sum(axis=0, keepdims=True)),
        "category_l1": hand_result("category_l1", ["A", "B"], np.vstack([y[cats == 0].sum(axis=0), y[cats == 1].sum(axis=0)])),
        "sku": hand_result("sku", [f"s{i}" for i in range(n)], y),
    }
    summing = {"total": np.ones((1, n)), "category_l1": np.vstack([(cats == 0), (cats == 1)]).astype(float)}
    tree = Tree(["total", "category_l1", "sku"], summing)
    final = {"sku": np.full((n, 4), 40.0)}
    sel = Selection(final, {"sku": bottom_bt})
    return results, sel, tree, axis


def test_a_windows_intervals_use_only_earlier_windows() -> None:
    """Changing the backtest errors of one window changes no held-out interval of a window that
    does not come after it (c_j + h ≤ c_w), at any level — it does change later ones — and a
    window without enough earlier windows to calibrate on is not scored (NaN)."""
    results, sel, tree, axis = _tree_world()
    base = coherent_intervals(results, sel, tree, axis)
    c, h = np.array(axis.cutoffs), axis.horizon
    m = len(c) // 2
    sel.backtest["sku"] = sel.backtest["sku"].copy()
    sel.backtest["sku"][:, m] += 5.0 * np.random.default_rng(7).standard_normal(sel.backtest["sku"][:, m].shape)
    moved = coherent_intervals(results, sel, tree, axis)
    after = c[m] + h <= c  # the windows that may use window m
    changed = []
    for lv in ("total", "category_l1"):
        a, b = base.heldout[lv], moved.heldout[lv]
        scored = ~np.isnan(a[0, :, 0, 0])
        assert not scored[0]  # the first window has nothing before it
        for w in np.flatnonzero(scored & ~after):
            if w != m:
                np.testing.assert_array_equal(a[:, w], b[:, w])
        changed.append(bool(np.abs(a[:, after & scored] - b[:, after & scored]).max() > 0))
    rows = slice(0, 8)
    bb, mb = base.bounds("sku")(rows), moved.bounds("sku")(rows)
    for w in np.flatnonzero(~after):
        if w != m:
            np.testing.assert_array_equal(bb[:, w], mb[:, w])
    assert any(changed)


def test_coherent_intervals_end_to_end(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The default (`--intervals coherent`) on a planted world: every product level's `selected`
    y_hat is the sum of its skus' (bottom-up), the total's P90 lies below the sum of the sku
    P90s and its P10 above theirs, q0.1 ≤ q0.5 ≤ q0.9, and coverage is reported per level."""
    import polars as pl

    from c2m_cli.forecast import run_forecast
    from tests.forecast.helpers import planted_world

    ws = planted_world(tmp_path / "ws", days=658)
    summary = run_forecast(ws, levels="total,category_l1,sku")
    assert summary["intervals"] == "coherent"
    assert set(summary["coherent_stretch"]) == {"total", "category_l1"}
    assert all(k >= engine.STRETCH_GRID[0] for k in summary["coherent_stretch"].values())
    assert ws.manifest()["steps"][-1]["parameters"]["intervals"] == "coherent"
    sel = ws.read("forecast").filter(pl.col("model") == "selected")
    sums = sel.filter(pl.col("level") == "sku").group_by("ds").agg(pl.col("y_hat", "q0.1", "q0.9").sum()).sort("ds")
    total = sel.filter(pl.col("level") == "total").sort("ds")
    np.testing.assert_allclose(total["y_hat"].to_numpy(), sums["y_hat"].to_numpy(), rtol=1e-9)
    assert (total["q0.9"].to_numpy() < sums["q0.9"].to_numpy()).all()
    assert (total["q0.1"].to_numpy() > sums["q0.1"].to_numpy()).all()
    assert (total["q0.1"] <= total["q0.5"]).all() and (total["q0.5"] <= total["q0.9"]).all()
    metrics = ws.read("forecast_metrics").filter((pl.col("unique_id") == "*") & (pl.col("model") == "selected") & (pl.col("metric") == "coverage_80"))
    cover = dict(metrics.select("level", "value").iter_rows())
    assert set(cover) == {"total", "category_l1", "sku"} and all(0.3 < v <= 1.0 for v in cover.values())


def test_a_series_of_scale_zero_adds_exactly_its_point() -> None:
    """A retired product (scale 0: it sells its point forecast, 0, in every path) leaves every
    parent quantile as if it were not there; one that sells a fixed 7 shifts them by exactly 7."""
    n, w, h = 40, 8, 3
    r = _planted(n, w, h, common=0.5, idio=1.0, seed=8)
    knots = np.broadcast_to(norm.ppf(np.array(TAUS)), (n, h, len(TAUS))).copy()
    spread = np.ones(h)

    def run(keep: np.ndarray, scale: np.ndarray, point: np.ndarray) -> np.ndarray:
        k, rr = knots[keep], r[keep]
        parents = [(np.zeros(int(keep.sum()), dtype=np.int64), 1)]
        _, (total,), used = coherent_paths(point[keep], scale[keep], lambda rows: k[rows], lambda rows: pooled_ranks(rr[rows], spread), parents, COLUMNS)
        return scenario_quantiles(total, used, COLUMNS)[0]

    every = np.ones(n, dtype=bool)
    others = np.arange(n) != 3
    point, scale = np.full((n, h), 5.0), np.ones(n)
    alone = run(others, scale, point)  # the 39 other series only
    retired_scale, retired_point = np.where(others, 1.0, 0.0), np.where(others[:, None], point, 0.0)
    np.testing.assert_allclose(run(every, retired_scale, retired_point), alone, rtol=1e-12)
    np.testing.assert_allclose(run(every, retired_scale, np.where(others[:, None], point, 7.0)), alone + 7.0, rtol=1e-12)
    assert (run(every, scale, point)[:, 4] - run(every, scale, point)[:, 0] > alone[:, 4] - alone[:, 0]).all()


def test_paths_drawn_in_worker_processes_change_nothing(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The forecast's paths and each backtest window's are drawn in forked processes
    (engine.forked_map): the tables are those of the serial run."""
    import polars as pl

    from tests.forecast.helpers import planted_world

    ws = planted_world(tmp_path / "ws", days=400)
    orders, products = pl.scan_parquet(ws.root / "orders.parquet"), ws.read("products")
    forked = engine.forked_map
    jobs: list[int] = []

    def spy(job, items, meanwhile=None, fork_one=False):  # type: ignore[no-untyped-def]
        out = forked(job, items, meanwhile, fork_one)
        jobs.extend(items if out is not None else [])
        return out

    runs = []
    for fork in (spy, no_fork):
        monkeypatch.setattr(engine, "forked_map", fork)
        runs.append(engine.compute_forecast(orders, products, levels=("total", "category_l1", "sku"), market="cn"))
    assert jobs[0] == -1 and len(jobs) >= 3  # the forecast's paths and the scored windows', in workers
    parallel, one = runs
    for a, b in ((parallel.forecast, one.forecast), (parallel.backtest, one.backtest), (parallel.metrics, one.metrics)):
        assert a.height > 0 and a.equals(b)


def test_a_bottom_only_request_draws_no_paths_and_keeps_the_bottom_quantiles(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """`--levels sku`: the total is internal, not shown — no joint paths are drawn (no ranks
    computed) and the skus' quantiles and coverage are those of `--levels total,sku`."""
    import polars as pl

    from tests.forecast.helpers import planted_world

    ws = planted_world(tmp_path / "ws", days=400)
    orders, products = pl.scan_parquet(ws.root / "orders.parquet"), ws.read("products")
    ranked = []
    ranks = engine.pooled_ranks
    monkeypatch.setattr(engine, "pooled_ranks", lambda *a, **k: ranked.append(1) or ranks(*a, **k))
    monkeypatch.setattr(engine, "forked_map", no_fork)  # the spy sees every call
    both = engine.compute_forecast(orders, products, levels=("total", "sku"), market="cn")
    assert ranked
    ranked.clear()
    alone = engine.compute_forecast(orders, products, levels=("sku",), market="cn")
    assert not ranked
    assert "no joint paths drawn" in alone.summary["coherent_quantiles"]
    assert both.summary["coherent_quantiles"].startswith("empirical copula of the backtest windows over total → sku")
    pick = (pl.col("level") == "sku") & (pl.col("model") == "selected")
    a, b = alone.forecast.filter(pick), both.forecast.filter(pick)
    assert a.height > 0 and a.equals(b)
    a, b = alone.metrics.filter(pick), both.metrics.filter(pick)
    assert a.height > 0 and a.equals(b)


def test_the_paths_modules_are_imported_in_the_background_before_any_worker_forks(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Coherent intervals: SciPy's sparse matrices (the paths' sums) are preloaded first, while
    the series are built, so the forked workers of the paths inherit them (no import in each);
    per-level intervals draw no paths and preload nothing. The tables do not depend on it."""
    import threading

    import polars as pl

    from tests.forecast.helpers import planted_world

    ws = planted_world(tmp_path / "ws", days=400)
    orders, products = pl.scan_parquet(ws.root / "orders.parquet"), ws.read("products")
    events: list[object] = []
    preload, candidates = engine.preload, engine.run_candidates
    monkeypatch.setattr(engine, "preload", lambda modules, name: events.append((modules, name)) or preload(modules, name))
    monkeypatch.setattr(engine, "run_candidates", lambda *a, **k: events.append("candidates") or candidates(*a, **k))
    preloaded = engine.compute_forecast(orders, products, levels=("total", "category_l1", "sku"), market="cn")
    assert events[:2] == [(engine.PATH_MODULES, "c2m-preload-scipy"), "candidates"]
    events.clear()
    engine.compute_forecast(orders, products, levels=("total", "category_l1", "sku"), market="cn", intervals="per_level")
    assert events == ["candidates"]
    monkeypatch.setattr(engine, "preload", lambda modules, name: threading.Thread())  # no preload
    plain = engine.compute_forecast(orders, products, levels=("total", "category_l1", "sku"), market="cn")
    for a, b in ((preloaded.forecast, plain.forecast), (preloaded.backtest, plain.backtest), (preloaded.metrics, plain.metrics)):
        assert a.height > 0 and a.equals(b)
