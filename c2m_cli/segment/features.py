"""The feature matrix of segmentation, built generically from labels.parquet and tags.parquet.

Nothing here knows the label engineer's exact column names; features come from dtypes and
prefixes:

* numeric and boolean columns (any family prefix) → one feature each: nulls filled with the
  median, strongly right-skewed non-negative columns log1p-transformed, then scaled robustly
  ((x − median) / (IQR / 1.349), the standard deviation when the IQR is 0), clipped to ±``clip``;
* string / categorical columns with at most ``max_categories`` distinct values → one-hot
  (0/1); higher-cardinality strings (a city, a free-text field) are left out and recorded;
* tags.parquet → one score column (0–1) per (family, tag) carried by enough users.

Each feature belongs to a family (the column prefix before ``_``, or the tag family). With
``family_balance`` each family gets the same total weight (its features × 1/√units, a unit
being one numeric column, one categorical column with all its one-hots, or one tag family), so
twenty behaviour columns do not drown one generation column. Everything needed to rebuild the matrix
for new users (medians, scales, weights, the tag list) is kept in ``FeatureSpec`` dicts that go
verbatim into segment_model.json.

The ``lifecycle`` family (lifecycle_stage and its companions) is left out of the matrix by
default: it is a state that changes month to month, not a trait of the consumer, so it is
profiled (the lifecycle mix of each segment), not clustered on. Text values that only say
"unknown" (unknown, 未知, n/a, empty) count as missing: no one-hot column of their own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from c2m_cli.errors import InvalidDataError

ID_COLUMN = "user_id"
SKEW_FOR_LOG = 1.0  # a non-negative column more skewed than this is log1p-transformed
_NUMERIC_KINDS = ("numeric", "bool")
MISSING_TEXT = ("", "unknown", "未知", "n/a", "na", "none", "null")


@dataclass
class FeatureMatrix:
    """The scaled matrix (users × features, float32, C order) and how it was made."""

    user_ids: pl.Series
    X: np.ndarray
    specs: list[dict[str, Any]]
    dropped: list[dict[str, str]] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return [s["name"] for s in self.specs]


def family_of(column: str) -> str:
    return column.split("_", 1)[0] if "_" in column else column


def _is_text(dtype: pl.DataType) -> bool:
    return dtype == pl.String or isinstance(dtype, pl.Categorical | pl.Enum)


def plan_features(
    labels: pl.DataFrame,
    tags: pl.DataFrame | None = None,
    *,
    max_categories: int = 12,
    min_tag_share: float = 0.005,
    max_tags_per_family: int = 30,
    clip: float = 4.0,
    family_balance: bool = True,
    exclude: tuple[str, ...] = (),
    exclude_families: tuple[str, ...] = ("lifecycle",),
) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """Decide the features (with their fitted scaling) from the data; returns (specs, dropped)."""
    if ID_COLUMN not in labels.columns:
        raise InvalidDataError("labels.parquet has no user_id column")
    n = labels.height
    specs: list[dict[str, Any]] = []
    dropped: list[dict[str, str]] = []

    numeric_cols: list[str] = []
    text_cols: list[str] = []
    for name, dtype in labels.schema.items():
        if name == ID_COLUMN or name in exclude or family_of(name) in exclude_families:
            continue
        if dtype.is_numeric() or dtype == pl.Boolean:
            numeric_cols.append(name)
        elif _is_text(dtype):
            text_cols.append(name)
        else:
            dropped.append({"column": name, "reason": f"type {dtype} is not used"})

    # numeric: one pass for the statistics of every column
    if numeric_cols:
        stats_exprs: list[pl.Expr] = []
        for i, col in enumerate(numeric_cols):
            x = pl.col(col).cast(pl.Float64)
            x = x.filter(x.is_finite())
            stats_exprs += [
                x.median().alias(f"med{i}"),
                x.min().alias(f"min{i}"),
                x.skew().alias(f"skew{i}"),
                x.count().alias(f"cnt{i}"),
            ]
        stats = labels.select(stats_exprs).row(0, named=True)
        log_cols = [
            col
            for i, col in enumerate(numeric_cols)
            if labels.schema[col] != pl.Boolean
            and stats[f"min{i}"] is not None
            and stats[f"min{i}"] >= 0
            and stats[f"skew{i}"] is not None
            and stats[f"skew{i}"] > SKEW_FOR_LOG
        ]
        # scale statistics on the transformed values
        scale_exprs: list[pl.Expr] = []
        for i, col in enumerate(numeric_cols):
            x = pl.col(col).cast(pl.Float64)
            x = x.filter(x.is_finite())
            if col in log_cols:
                x = x.log1p()
            scale_exprs += [
                x.median().alias(f"med{i}"),
                (x.quantile(0.75) - x.quantile(0.25)).alias(f"iqr{i}"),
                x.std().alias(f"std{i}"),
            ]
        scl = labels.select(scale_exprs).row(0, named=True)
        for i, col in enumerate(numeric_cols):
            if not stats[f"cnt{i}"]:
                dropped.append({"column": col, "reason": "all values missing"})
                continue
            is_bool = labels.schema[col] == pl.Boolean
            med_t = float(scl[f"med{i}"])
            iqr = float(scl[f"iqr{i}"] or 0.0)
            std = float(scl[f"std{i}"] or 0.0)
            if not std > 1e-12:
                dropped.append({"column": col, "reason": "constant"})
                continue
            if is_bool:
                center, scale = 0.0, 1.0
            else:
                scale = iqr / 1.349 if iqr > 1e-12 else std
                center = med_t
            specs.append(
                {
                    "name": col,
                    "family": family_of(col),
                    "kind": "bool" if is_bool else "numeric",
                    "column": col,
                    "transform": "log1p" if col in log_cols else None,
                    "fill": float(stats[f"med{i}"]),
                    "center": center,
                    "scale": scale,
                }
            )

    # text: few values → one-hot, many → left out
    for col in text_cols:
        counts = (
            labels.select(pl.col(col).cast(pl.String).alias("v"))
            .filter(pl.col("v").is_not_null() & ~pl.col("v").str.to_lowercase().is_in(MISSING_TEXT))
            .group_by("v")
            .len()
            .sort(["len", "v"], descending=[True, False])
        )
        if counts.height == 0:
            dropped.append({"column": col, "reason": "all values missing"})
            continue
        if counts.height > max_categories:
            dropped.append(
                {"column": col, "reason": f"{counts.height} distinct values (> {max_categories}): too many to one-hot"}
            )
            continue
        if counts.height == 1 and counts["len"][0] == n:
            dropped.append({"column": col, "reason": "constant"})
            continue
        for value in counts["v"].to_list():
            specs.append(
                {
                    "name": f"{col}={value}",
                    "family": family_of(col),
                    "kind": "onehot",
                    "column": col,
                    "value": value,
                    "center": 0.0,
                    "scale": 1.0,
                }
            )

    # tags: one score column per (family, tag) with enough support
    if tags is not None and tags.height:
        missing = [c for c in ("user_id", "family", "tag", "score") if c not in tags.columns]
        if missing:
            raise InvalidDataError(f"tags.parquet lacks column(s) {', '.join(missing)}")
        min_users = max(2, math.ceil(min_tag_share * n))
        support = (
            tags.lazy()
            .filter(pl.col("score").is_not_null() & (pl.col("score") > 0))
            .join(labels.lazy().select(pl.col(ID_COLUMN).cast(pl.String)), on=ID_COLUMN, how="semi")
            .group_by("family", "tag")
            .agg(pl.col("user_id").n_unique().alias("users"))
            .filter(pl.col("users") >= min_users)
            .sort(["family", "users", "tag"], descending=[False, True, False])
            .group_by("family", maintain_order=True)
            .head(max_tags_per_family)
            .collect()
        )
        for family, tag in support.select("family", "tag").iter_rows():
            specs.append(
                {
                    "name": f"tag:{family}:{tag}",
                    "family": str(family),
                    "kind": "tag",
                    "tag_family": family,
                    "tag": tag,
                    "center": 0.0,
                    "scale": 1.0,
                }
            )

    if not specs:
        why = "; ".join(f"{d['column']}: {d['reason']}" for d in dropped[:6]) or "no column besides user_id"
        raise InvalidDataError(
            f"labels.parquet has no usable feature column (numeric, boolean or low-cardinality text) — {why}"
        )
    # a unit is one numeric column, one categorical column (all its one-hots) or one tag family
    units: dict[str, set[str]] = {}
    for spec in specs:
        unit = spec.get("tag_family", spec.get("column"))
        units.setdefault(spec["family"], set()).add(f"{spec['kind'] == 'tag'}:{unit}")
    for spec in specs:
        spec["weight"] = 1.0 / math.sqrt(len(units[spec["family"]])) if family_balance else 1.0
        spec["clip"] = clip
    return specs, dropped


def raw_frame(labels: pl.DataFrame, tags: pl.DataFrame | None, specs: list[dict[str, Any]]) -> pl.DataFrame:
    """user_id plus one raw (unscaled, filled) column per feature, in spec order."""
    exprs: list[pl.Expr] = [pl.col(ID_COLUMN).cast(pl.String)]
    for i, spec in enumerate(specs):
        kind = spec["kind"]
        alias = f"f{i}"
        if kind in _NUMERIC_KINDS:
            if spec["column"] in labels.columns:
                x = pl.col(spec["column"]).cast(pl.Float64)
                x = pl.when(x.is_finite()).then(x).otherwise(None).fill_null(spec["fill"])
            else:
                x = pl.lit(spec["fill"], dtype=pl.Float64)
            exprs.append(x.alias(alias))
        elif kind == "onehot":
            if spec["column"] in labels.columns:
                x = (pl.col(spec["column"]).cast(pl.String) == spec["value"]).fill_null(False)
                exprs.append(x.cast(pl.Float64).alias(alias))
            else:
                exprs.append(pl.lit(0.0, dtype=pl.Float64).alias(alias))
    frame = labels.select(exprs)
    tag_specs = [(i, s) for i, s in enumerate(specs) if s["kind"] == "tag"]
    if tag_specs:
        if tags is not None and tags.height:
            wanted = pl.DataFrame(
                {
                    "family": [s["tag_family"] for _, s in tag_specs],
                    "tag": [s["tag"] for _, s in tag_specs],
                    "col": [f"f{i}" for i, _ in tag_specs],
                },
                schema={"family": pl.String, "tag": pl.String, "col": pl.String},
            )
            long = (
                tags.lazy()
                .select(
                    pl.col("user_id").cast(pl.String),
                    pl.col("family").cast(pl.String),
                    pl.col("tag").cast(pl.String),
                    pl.col("score").cast(pl.Float64).clip(0.0, 1.0),
                )
                .join(wanted.lazy(), on=["family", "tag"], how="inner")
                .group_by("user_id", "col")
                .agg(pl.col("score").max())
                .collect()
            )
            wide = long.pivot(on="col", index="user_id", values="score")
            frame = frame.join(wide, on="user_id", how="left", maintain_order="left")
        for i, _ in tag_specs:
            col = f"f{i}"
            if col in frame.columns:
                frame = frame.with_columns(pl.col(col).fill_null(0.0))
            else:
                frame = frame.with_columns(pl.lit(0.0, dtype=pl.Float64).alias(col))
    return frame.select(["user_id", *[f"f{i}" for i in range(len(specs))]])


def scale_matrix(raw: pl.DataFrame, specs: list[dict[str, Any]]) -> np.ndarray:
    """Apply each spec's transform, centre, scale, clip and weight: float32, C order."""
    exprs: list[pl.Expr] = []
    for i, spec in enumerate(specs):
        x = pl.col(f"f{i}")
        if spec.get("transform") == "log1p":
            x = x.clip(lower_bound=0.0).log1p()
        x = ((x - spec["center"]) / spec["scale"]).clip(-spec["clip"], spec["clip"]) * spec["weight"]
        exprs.append(x.cast(pl.Float32).alias(f"f{i}"))
    X = raw.select(exprs).to_numpy(order="c")
    return np.ascontiguousarray(X, dtype=np.float32)


def build_features(
    labels: pl.DataFrame,
    tags: pl.DataFrame | None = None,
    *,
    specs: list[dict[str, Any]] | None = None,
    **plan_options: Any,
) -> tuple[FeatureMatrix, pl.DataFrame]:
    """Plan (unless ``specs`` are given, as when assigning new users) and build the matrix.

    Returns the matrix and the raw per-feature frame (for profiles in original units).
    """
    if labels.height == 0:
        raise InvalidDataError("labels.parquet has no rows: nothing to segment")
    if ID_COLUMN not in labels.columns:
        raise InvalidDataError("labels.parquet has no user_id column")
    dup = labels.height - labels.select(pl.col(ID_COLUMN).n_unique()).item()
    if dup:
        raise InvalidDataError(f"labels.parquet: column user_id has {dup} duplicate value(s); one row per user expected")
    dropped: list[dict[str, str]] = []
    if specs is None:
        specs, dropped = plan_features(labels, tags, **plan_options)
    raw = raw_frame(labels, tags, specs)
    X = scale_matrix(raw, specs)
    return FeatureMatrix(raw["user_id"], X, specs, dropped), raw
