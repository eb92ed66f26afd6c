"""Coherent quantiles: the bottom series' distributions, under the backtest's copula, summed to
their parents — checked against brute-force sample paths."""

from __future__ import annotations

import numpy as np

from c2m_cli.forecast.reconcile import (
    TAUS,
    coherent_quantiles,
    evaluate,
    knot_values,
    mean_factor,
    step_ranks,
)

COLUMNS = (0.05, 0.1, 0.5, 0.9, 0.95)
W, H = 12, 4


def _world(n: int, seed: int = 0, common: float = 0.6) -> tuple[np.ndarray, ...]:
    """n bottom series; backtest residuals = a shock common to all series of a window and step
    plus their own noise (positively correlated errors); knots: the quantiles of N(0, 1)."""
    rng = np.random.default_rng(seed)
    point = rng.gamma(2.0, 2.0, (n, 1)) * np.ones((1, H))
    scale = rng.gamma(2.0, 0.5, n)
    shock = rng.standard_normal((1, W, H))
    template = common * shock + np.sqrt(1 - common**2) * rng.standard_normal((n, W, H))
    template[rng.random(template.shape) < 0.15] = np.nan  # series missing some windows
    from scipy.stats import norm

    knots = np.broadcast_to(norm.ppf(np.array(TAUS)), (n, H, len(TAUS))).copy()
    return point, scale, knots, template


def _sample_paths(point: np.ndarray, scale: np.ndarray, knots: np.ndarray, template: np.ndarray, draws: int, seed: int) -> np.ndarray:
    """Sample paths the long way: for each window (scenario) and step, every series drawn in the
    slice of its distribution its residual ranks in (anywhere when it has none): (series, h, W·draws)."""
    rng = np.random.default_rng(seed)
    values = knot_values(point, scale, knots)
    factor, _ = mean_factor(values, point)
    below, equal, n = step_ranks(template)
    nn = np.maximum(n, 1)[:, None, :]
    v = rng.random((point.shape[0], W, H, draws))
    u = np.where(~np.isnan(template)[..., None], (below[..., None] + v * equal[..., None]) / nn[..., None], v)
    u = u.transpose(0, 2, 1, 3).reshape(point.shape[0], H, W * draws)
    return evaluate(values, factor, u)


def test_parent_quantiles_are_those_of_the_summed_bottom_paths() -> None:
    point, scale, knots, template = _world(400)
    n = point.shape[0]
    groups = np.arange(n) % 4
    parents = [(np.zeros(n, dtype=np.int64), 1), (groups, 4)]
    own, (total_q, group_q) = coherent_quantiles(point, scale, knots, template, parents, COLUMNS, chunk=128)
    paths = _sample_paths(point, scale, knots, template, draws=400, seed=1)
    total = paths.sum(axis=0)  # (h, paths)
    # the mean of the paths is the reconciled point forecast
    np.testing.assert_allclose(total.mean(axis=1), point.sum(axis=0), rtol=0.002)
    ref = np.quantile(total, COLUMNS, axis=1).T  # (h, q)
    width = ref[:, 4] - ref[:, 0]
    assert np.abs(total_q[0] - ref).max() < 0.03 * width.min()
    for g in range(4):
        ref_g = np.quantile(paths[groups == g].sum(axis=0), COLUMNS, axis=1).T
        assert np.abs(group_q[g] - ref_g).max() < 0.04 * (ref_g[:, 4] - ref_g[:, 0]).min()
    # quantiles do not add up: the total's P90 is below the sum of the P90s, its P10 above
    assert (total_q[0][:, 3] < own[:, :, 3].sum(axis=0)).all()
    assert (total_q[0][:, 1] > own[:, :, 1].sum(axis=0)).all()
    # each series' own quantiles are the quantiles of its paths
    marginal = np.quantile(paths, COLUMNS, axis=2).transpose(1, 2, 0)
    spread = own[:, :, 4] - own[:, :, 0] + 1e-9
    assert np.median(np.abs(marginal - own) / spread[..., None]) < 0.02
    # chunking changes nothing
    again, (total_again, _) = coherent_quantiles(point, scale, knots, template, parents, COLUMNS, chunk=4096)
    np.testing.assert_allclose(total_again, total_q, rtol=1e-12)
    np.testing.assert_allclose(again, own, rtol=1e-12)


def test_the_copula_keeps_the_dependence() -> None:
    """Correlated errors give a wider total than independent ones (the same marginals), and a
    parent of one series has that series' quantiles."""
    point, scale, knots, template = _world(300, seed=3, common=0.7)
    n = point.shape[0]
    parents = [(np.zeros(n, dtype=np.int64), 1), (np.where(np.arange(n) == 5, 0, -1), 1)]
    own, (total, single) = coherent_quantiles(point, scale, knots, template, parents, COLUMNS)
    _, (indep, _) = coherent_quantiles(point, scale, knots, np.full_like(template, np.nan), parents, COLUMNS)
    width = total[0, :, 3] - total[0, :, 1]
    width_indep = indep[0, :, 3] - indep[0, :, 1]
    assert (width > 3.0 * width_indep).all()  # common share 0.49 of the variance, 300 series
    # independent: the total's variance is the sum of the variances (normal: P90 − P10 = 2·1.2816 sd)
    paths = _sample_paths(point, scale, knots, np.full_like(template, np.nan), draws=50, seed=2)
    sd = np.sqrt(paths.var(axis=2).sum(axis=0))
    np.testing.assert_allclose(width_indep, 2 * 1.2816 * sd, rtol=0.03)
    # one child: the parent's quantiles are the child's (a mixture of its slices)
    one = own[5]
    assert np.abs(single[0] - one).max() < 0.08 * (one[:, 4] - one[:, 0]).min()


def test_mean_factor_makes_the_clipped_mean_the_point_forecast() -> None:
    rng = np.random.default_rng(2)
    point = np.array([[0.3, 2.0]])
    scale = np.array([1.0])
    knots = np.sort(rng.normal(0, 1, (1, 2, len(TAUS))), axis=2)
    values = knot_values(point, scale, knots)
    factor, mean = mean_factor(values, point)
    np.testing.assert_allclose(mean, point)
    u = np.broadcast_to((np.arange(200_000) + 0.5) / 200_000, (1, 2, 200_000))
    np.testing.assert_allclose(evaluate(values, factor, u).mean(axis=2), point, rtol=1e-4)


def test_coherent_intervals_end_to_end(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`--intervals coherent` on a planted world: every product level's `selected` y_hat is the
    sum of its skus' (the mean), the total's P90 lies below the sum of the sku P90s and its P10
    above theirs, the skus' own quantiles keep their conformal shape, and coverage is still
    reported per level; the default (per_level) tables are untouched by the option's code."""
    import polars as pl

    from c2m_cli.forecast import run_forecast
    from tests.forecast.helpers import planted_world

    ws = planted_world(tmp_path / "ws", days=658)
    summary = run_forecast(ws, levels="total,category_l1,sku", intervals="coherent")
    assert summary["intervals"] == "coherent"
    assert ws.manifest()["steps"][-1]["parameters"]["intervals"] == "coherent"
    sel = ws.read("forecast").filter(pl.col("model") == "selected")
    sums = sel.filter(pl.col("level") == "sku").group_by("ds").agg(pl.col("y_hat", "q0.1", "q0.9").sum()).sort("ds")
    total = sel.filter(pl.col("level") == "total").sort("ds")
    np.testing.assert_allclose(total["y_hat"].to_numpy(), sums["y_hat"].to_numpy(), rtol=1e-9)
    assert (total["q0.9"].to_numpy() < sums["q0.9"].to_numpy()).all()
    assert (total["q0.1"].to_numpy() > sums["q0.1"].to_numpy()).all()
    assert (total["q0.1"] <= total["q0.5"]).all() and (total["q0.5"] <= total["q0.9"]).all()
    # the total's median is near its mean (a sum of many series), inside its 80 % interval
    assert ((total["y_hat"] > total["q0.1"]) & (total["y_hat"] < total["q0.9"])).all()
    metrics = ws.read("forecast_metrics").filter((pl.col("unique_id") == "*") & (pl.col("model") == "selected") & (pl.col("metric") == "coverage_80"))
    cover = dict(metrics.select("level", "value").iter_rows())
    assert set(cover) == {"total", "category_l1", "sku"} and all(0.3 < v <= 1.0 for v in cover.values())
