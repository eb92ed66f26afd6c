"""The feature matrix is built from dtypes and prefixes, with recorded, reusable scaling."""

from __future__ import annotations

import math

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
    names = [s["name"] for s in specs]
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
    specs, _ = plan_features(_labels(), None, max_categories=4, family_balance=False)
    spend = next(s for s in specs if s["name"] == "value_spend")
    values = np.array([10.0, 20.0, 30.0, 40.0, 50.0])
    assert spend["transform"] is None
    assert spend["center"] == pytest.approx(30.0)
    q = pl.Series(values).quantile(0.75) - pl.Series(values).quantile(0.25)
    assert spend["scale"] == pytest.approx(q / 1.349)
    clv = next(s for s in specs if s["name"] == "value_clv")
    assert clv["transform"] == "log1p"
    assert clv["center"] == pytest.approx(float(np.median(np.log1p([1.0, 1.0, 2.0, 3.0, 5.0, 1000.0]))))
    fm, raw = build_features(_labels(), None, specs=specs)
    # a missing value is filled with the median: z = 0
    assert fm.X[5, fm.names.index("value_spend")] == pytest.approx(0.0)
    # the outlier is clipped at ±clip
    assert fm.X[:, fm.names.index("value_clv")].max() <= clv["clip"] + 1e-6
    # one-hot: the null generation is all zeros
    gen = [i for i, n in enumerate(fm.names) if n.startswith("demo_generation=")]
    assert fm.X[5, gen].tolist() == [0.0, 0.0, 0.0]
    assert raw["user_id"].to_list() == ["a", "b", "c", "d", "e", "f"]


def test_tags_become_scores_and_families_share_weight():
    fm, _ = build_features(_labels(), _tags(), max_categories=4)
    col = fm.names.index("tag:lifestyle:电竞")
    spec = fm.specs[col]
    # lifestyle is one unit (one tag family) → weight 1; value has two numeric units → 1/√2
    assert spec["weight"] == pytest.approx(1.0)
    assert fm.specs[fm.names.index("value_spend")]["weight"] == pytest.approx(1 / math.sqrt(2))
    # behavior has one unit, demo one categorical unit
    assert fm.specs[fm.names.index("behavior_flag")]["weight"] == pytest.approx(1.0)
    assert fm.specs[fm.names.index("demo_generation=90后")]["weight"] == pytest.approx(1.0)
    assert fm.X[:, col].tolist() == pytest.approx([0.9, 0.6, 0.0, 0.0, 0.5, 0.0])  # zz is not labelled
    assert fm.X.dtype == np.float32 and fm.X.flags.c_contiguous


def test_rare_tags_are_not_features():
    specs, _ = plan_features(_labels(), _tags(), min_tag_share=0.5)  # needs 3 of 6 labelled users
    assert [s["name"] for s in specs if s["kind"] == "tag"] == ["tag:lifestyle:电竞"]


def test_duplicate_users_and_unusable_labels_are_clear_errors():
    dup = pl.DataFrame({"user_id": ["a", "a", "b"], "value_x": [1.0, 2.0, 3.0]})
    with pytest.raises(InvalidDataError, match=r"^labels.parquet: column user_id has 1 duplicate value\(s\); one row per user expected$"):
        build_features(dup)
    const = pl.DataFrame({"user_id": ["a", "b"], "value_x": [1.0, 1.0], "demo_g": ["x", "x"]})
    with pytest.raises(InvalidDataError, match=r"^labels.parquet has no usable feature column"):
        build_features(const)
    with pytest.raises(InvalidDataError, match="no user_id column"):
        build_features(pl.DataFrame({"value_x": [1.0]}))
