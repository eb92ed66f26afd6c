"""The feature matrix is built from dtypes and prefixes, with recorded, reusable scaling."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import polars as pl
import pytest

from c2m_cli.errors import InvalidDataError
from c2m_cli.segment.features import build_features, plan_features


def _labels() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "user_id": ["a", "b", "c", "d", "e", "f"],
            "value_spend": [10.0, 20.0, 30.0, 40.0, 50.0, None],
            "value_clv": [1.0, 1.0, 2.0, 3.0, 5.0, 1000.0],  # skewed, non-negative → log1p
            "behavior_flag": [True, False, True, False, True, False],
            "demo_generation": ["90后", "90后", "80后", "80后", "00后", None],
            "geo_city": ["c1", "c2", "c3", "c4", "c5", "c6"],  # more than max_categories
            "geo_constant": [7, 7, 7, 7, 7, 7],
            "lifecycle_stage": ["new", "active", "active", "lost", "new", "active"],
            "behavior_first_ts": pl.Series([None] * 6, dtype=pl.Datetime("us", "UTC")),
        }
    )


def _tags() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "user_id": ["a", "a", "b", "c", "zz", "e", "c", "d"],
            "family": ["lifestyle", "lifestyle", "lifestyle", "motive", "lifestyle", "lifestyle", "lifestyle", "motive"],
            "tag": ["电竞", "母婴", "电竞", "性价比", "电竞", "电竞", "母婴", "性价比"],
            "score": [0.9, 0.2, 0.6, 1.0, 1.0, 0.5, 0.4, 0.7],
            "evidence": [""] * 8,
        }
    )


def test_plan_uses_dtypes_and_prefixes_and_records_why_columns_are_left_out():
    specs, dropped = plan_features(_labels(), _tags(), max_categories=4)
    names = [s.name for s in specs]
    assert names == [
        "value_spend",
        "value_clv",
        "behavior_flag",
        "demo_generation=80后",
        "demo_generation=90后",
        "demo_generation=00后",
        "tag:lifestyle:电竞",
        "tag:lifestyle:母婴",
        "tag:motive:性价比",
    ]
    reasons = {d["column"]: d["reason"] for d in dropped}
    assert reasons["geo_city"] == "6 distinct values (> 4): too many to one-hot"
    assert reasons["geo_constant"] == "constant"
    assert reasons["behavior_first_ts"].startswith("type Datetime")
    assert "lifecycle_stage" not in names and "lifecycle_stage" not in reasons  # profiled, not clustered
    assert "geo_city=c1" not in names


def test_robust_scaling_median_iqr_and_log_for_skewed_columns():
    # value columns as bases here (by default they are descriptors: profiled, not clustered on)
    specs, _ = plan_features(_labels(), None, max_categories=4, family_balance=False, descriptor_families=())
    spend = next(s for s in specs if s.name == "value_spend")
    values = np.array([10.0, 20.0, 30.0, 40.0, 50.0])
    assert spend.transform is None
    assert spend.center == pytest.approx(30.0)
    q = pl.Series(values).quantile(0.75) - pl.Series(values).quantile(0.25)
    assert spend.scale == pytest.approx(q / 1.349)
    clv = next(s for s in specs if s.name == "value_clv")
    assert clv.transform == "log1p"
    assert clv.center == pytest.approx(float(np.median(np.log1p([1.0, 1.0, 2.0, 3.0, 5.0, 1000.0]))))
    fm, raw = build_features(_labels(), None, specs=specs)
    # a missing value is filled with the median: z = 0
    assert fm.X[5, fm.names.index("value_spend")] == pytest.approx(0.0)
    # the outlier is clipped at ±clip
    assert fm.X[:, fm.names.index("value_clv")].max() <= clv.clip + 1e-6
    # one-hot: the null generation is all zeros
    gen = [i for i, n in enumerate(fm.names) if n.startswith("demo_generation=")]
    assert fm.X[5, gen].tolist() == [0.0, 0.0, 0.0]
    assert raw["user_id"].to_list() == ["a", "b", "c", "d", "e", "f"]


def test_tags_become_scores_and_blocks_share_weight():
    fm, _ = build_features(_labels(), _tags(), max_categories=4)
    # value is a descriptor family: profiled, not in the clustering matrix
    assert {s.name: s.role for s in fm.specs if s.family == "value"} == {
        "value_spend": "descriptor", "value_clv": "descriptor",
    }
    assert not any(n.startswith("value_") for n in fm.names) and fm.X.shape[1] == len(fm.names)
    # multiple factor analysis weighting: every block's first singular value is 1 after weighting
    blocks: dict[str, list[int]] = {}
    basis = [s for s in fm.specs if s.role == "basis"]
    for q, spec in enumerate(basis):
        blocks.setdefault(spec.block, []).append(q)
    assert set(blocks) == {"behavior", "demo", "lifestyle", "motive"}
    X = fm.X.astype(np.float64)
    for cols in blocks.values():
        B = X[:, cols] - X[:, cols].mean(axis=0)
        assert np.linalg.svd(B / math.sqrt(len(B)), compute_uv=False)[0] == pytest.approx(1.0, rel=1e-5)
    col = fm.names.index("tag:lifestyle:电竞")
    w = basis[col].weight
    assert fm.X[:, col].tolist() == pytest.approx([0.9 * w, 0.6 * w, 0.0, 0.0, 0.5 * w, 0.0], rel=1e-6)  # zz is not labelled
    assert fm.X.dtype == np.float32 and fm.X.flags.c_contiguous


def _orders() -> tuple[pl.DataFrame, pl.DataFrame]:
    # a: two baby orders in the evening; b: pet food at noon; c: one baby + one pet order; d: many
    # orders (the heavy buyer) all baby, evening; e and f: no orders
    rows = [
        ("o1", "a", "s1", 20, 100.0), ("o2", "a", "s1", 20, 50.0),
        ("o3", "b", "s2", 12, 30.0),
        ("o4", "c", "s1", 20, 10.0), ("o5", "c", "s2", 12, 30.0),
        *[(f"d{i}", "d", "s1", 20, 10.0) for i in range(8)],
    ]
    orders = pl.DataFrame(
        {
            "order_id": [r[0] for r in rows], "user_id": [r[1] for r in rows], "sku": [r[2] for r in rows],
            "ts": [datetime(2024, 5, 1, r[3], tzinfo=UTC) for r in rows],
            "qty": [1] * len(rows), "unit_price": [r[4] for r in rows],
        }
    ).with_columns(pl.col("ts").dt.cast_time_unit("us"))
    products = pl.DataFrame({"sku": ["s1", "s2"], "category_l1": ["母婴", "宠物"], "category_l2": ["奶粉", "猫粮"]})
    return orders, products


def test_order_mixes_are_spend_and_hour_shares_and_activity_columns_become_descriptors():
    orders, products = _orders()
    labels = _labels().with_columns(pl.Series("behavior_orders", [2, 1, 2, 8, 0, 0]))
    fm, raw = build_features(labels, None, max_categories=4, orders=orders, products=products, timezone="Asia/Shanghai")
    mix = {s.name: i for i, s in enumerate(fm.specs) if s.kind == "mix"}
    # the finest category level with few values (category_l2), and local hours (UTC+8)
    assert set(mix) == {"mix:category_l2=奶粉", "mix:category_l2=猫粮", "mix:hour=04", "mix:hour=20"}
    baby = raw[f"f{mix['mix:category_l2=奶粉']}"].to_list()
    # spend shares: a all baby, b none, c 10 of 40, d all baby; e, f (no orders) the base share
    base = (150.0 + 10.0 + 80.0) / (150.0 + 30.0 + 40.0 + 80.0)
    assert baby == pytest.approx([1.0, 0.0, 0.25, 1.0, base, base])
    # a heavy and a light buyer of the same habits look alike in the clustering matrix …
    X = fm.X
    a, d = X[0], X[3]
    assert np.abs(a - d)[[fm.names.index(n) for n in mix]].max() < 1e-6
    # … because the order count (|Spearman ρ| with the orders = 1) is a descriptor, not a basis
    orders_spec = next(s for s in fm.specs if s.name == "behavior_orders")
    assert orders_spec.role == "descriptor" and orders_spec.activity_rho == pytest.approx(1.0)
    assert "behavior_orders" not in fm.names


def test_rare_tags_are_not_features():
    specs, _ = plan_features(_labels(), _tags(), min_tag_share=0.5)  # needs 3 of 6 labelled users
    assert [s.name for s in specs if s.kind == "tag"] == ["tag:lifestyle:电竞"]


def test_duplicate_users_and_unusable_labels_are_clear_errors():
    dup = pl.DataFrame({"user_id": ["a", "a", "b"], "value_x": [1.0, 2.0, 3.0]})
    with pytest.raises(InvalidDataError, match=r"^labels.parquet: column user_id has 1 duplicate value\(s\); one row per user expected$"):
        build_features(dup)
    const = pl.DataFrame({"user_id": ["a", "b"], "value_x": [1.0, 1.0], "demo_g": ["x", "x"]})
    with pytest.raises(
        InvalidDataError,
        match=r"^labels.parquet: every feature is constant \(or missing\) over the 2 users \(value_x, demo_g\): there is nothing to segment them by$",
    ):
        build_features(const)
    only_text = pl.DataFrame({"user_id": ["a", "b"], "geo_city": ["c1", "c2"]})
    with pytest.raises(InvalidDataError, match=r"^labels.parquet has no usable feature column .* — geo_city: 2 distinct values \(> 1\)"):
        build_features(only_text, max_categories=1)
    with pytest.raises(InvalidDataError, match="no user_id column"):
        build_features(pl.DataFrame({"value_x": [1.0]}))


def test_estimator_follows_scikit_learn_rules_and_round_trips_through_json():
    from c2m_cli.segment.features import FeatureSpec, SegmentFeatures

    est = SegmentFeatures(max_categories=4)
    assert not hasattr(est, "specs_")  # nothing is fitted in __init__
    with pytest.raises(RuntimeError, match="not fitted"):
        est.transform(_labels())
    assert est.fit(_labels(), _tags()) is est
    assert {"specs_", "dropped_"} <= set(vars(est)) and all(isinstance(s, FeatureSpec) for s in est.specs_)
    full = est.transform(_labels(), _tags())
    assert np.array_equal(full.X, SegmentFeatures(max_categories=4).fit_transform(_labels(), _tags()).X)
    # new users (a subset, in another order) get exactly their rows of the fitted matrix
    sub = _labels()[[4, 1]]
    part = est.transform(sub, _tags())
    assert np.array_equal(part.X, full.X[[4, 1]])
    # specs through JSON (segment_model.json) rebuild the same transform
    stored = [s.to_json() for s in est.specs_]
    assert all("center" in d and "scale" in d for d in stored) and "tag" not in stored[0]
    again = SegmentFeatures.from_specs(stored).transform(_labels(), _tags())
    assert np.array_equal(again.X, full.X)
