"""The feature matrix of segmentation, built generically from labels.parquet and tags.parquet.

Nothing here knows the label engineer's exact column names; features come from dtypes and
prefixes:

* numeric and boolean columns (any family prefix) → one feature each: nulls filled with the
  median, strongly right-skewed non-negative columns log1p-transformed, then scaled robustly
  ((x − median) / (IQR / 1.349), the standard deviation when the IQR is 0), clipped to ±``clip``;
* string / categorical columns with at most ``max_categories`` distinct values → one-hot
  (0/1); higher-cardinality strings (a city, a free-text field) are left out and recorded;
* tags.parquet → one score column (0–1) per (family, tag) carried by enough users.

Segmentation bases and descriptors (marketing practice: cluster on who a consumer is and
what, when and how they buy; describe segments by how much they buy and are worth):

* descriptors — profiled per segment, not clustered on: the ``value`` and ``lifecycle``
  families, and any other column that mostly measures activity (|Spearman ρ| ≥ 0.5 with the
  user's order count: counts, spend, breadth, tenure…). Heavy and light buyers of one type
  otherwise split into "heavy" and "light" segments instead of falling together;
* bases — everything else from labels and tags, plus, when orders are present, order mixes:
  spend share by product category (the finest level with ≤ 30 categories), orders by local
  hour of day and by channel. Mixes are shares, not counts, scaled as centred log-ratios
  (Aitchison) within their block.

Each basis feature belongs to a block (its family, tag family, or order mix). With
``family_balance`` the blocks are weighted as in multiple factor analysis (Escofier & Pagès):
each block divided by its first singular value, so no block — however many correlated columns
it has — dominates the main axis. Everything needed to rebuild the matrix for new users
(medians, scales, centres, roles, weights, the tag list, the mix values) is kept in
``FeatureSpec`` dicts that go verbatim into segment_model.json.

The ``lifecycle`` family (lifecycle_stage and its companions) is left out of the specs by
default: it is a state that changes month to month, not a trait of the consumer, so it is
profiled (the lifecycle mix of each segment), not clustered on. Text values that only say
"unknown" (unknown, 未知, n/a, empty) count as missing: no one-hot column of their own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import polars as pl

from c2m_cli import contract
from c2m_cli.errors import InvalidDataError

ID_COLUMN = "user_id"
SKEW_FOR_LOG = 1.0  # a non-negative column more skewed than this is log1p-transformed
_NUMERIC_KINDS = ("numeric", "bool")
MISSING_TEXT = ("", "unknown", "未知", "n/a", "na", "none", "null")
# descriptors (profiled, not clustered on): value and activity, which any consumer type shows at
# every level, so that a heavy and a light buyer of the same type fall in the same segment
DESCRIPTOR_FAMILIES = ("value", "lifecycle")
ACTIVITY_CORR = 0.5  # |Spearman ρ| with the user's order count from which a column is a descriptor
MIX_MAX_VALUES = 30  # most values (categories, hours, channels) in one order mix
MIX_MIN_SHARE = 0.005  # values with less of the total go to "other"
OTHER = "other"
_SAMPLE = 20_000  # rows used to fit roles and block weights (evenly spaced, deterministic)


@dataclass
class FeatureSpec:
    """One feature: where its raw value comes from and how it is scaled (fitted values in it).

    ``kind`` is ``numeric`` or ``bool`` (a labels column), ``onehot`` (``column == value``),
    ``tag`` (the score of ``tag_family``/``tag`` in tags.parquet) or ``mix`` (the share of
    ``value`` among ``values`` in the order mix ``by``). The scaled value is
    ``clip((transform(raw) − center) / scale, ±clip) × weight``; ``role`` says whether it is
    clustered on (``basis``) or only profiled (``descriptor``). Serialised as a plain dict in
    segment_model.json (fields that do not apply are left out)."""

    name: str
    family: str
    kind: str
    column: str | None = None
    value: str | None = None
    tag_family: str | None = None
    tag: str | None = None
    by: str | None = None
    values: list[str] | None = None
    transform: str | None = None
    fill: float | None = None
    eps: float | None = None
    center: float = 0.0
    scale: float = 1.0
    block: str = ""
    clip: float = 4.0
    role: str = "basis"
    weight: float = 1.0
    activity_rho: float | None = None

    def to_json(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        return {k: v for k, v in out.items() if v is not None}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FeatureSpec:
        known = {f.name for f in fields(cls)}
        spec = cls(**{k: v for k, v in data.items() if k in known})
        if not spec.block:
            spec.block = spec.family
        return spec


@dataclass
class FeatureMatrix:
    """The scaled matrix (users × features, float32, C order), the raw per-feature frame
    (``user_id``, ``f0``…: original units, for profiles) and how they were made."""

    user_ids: pl.Series
    X: np.ndarray
    specs: list[FeatureSpec]
    dropped: list[dict[str, str]] = field(default_factory=list)
    raw: pl.DataFrame | None = None

    @property
    def names(self) -> list[str]:
        """Names of the columns of ``X`` (the basis features)."""
        return [s.name for s in self.specs if s.role == "basis"]


def family_of(column: str) -> str:
    return column.split("_", 1)[0] if "_" in column else column


def _is_text(dtype: pl.DataType) -> bool:
    return dtype == pl.String or isinstance(dtype, pl.Categorical | pl.Enum)


def _plan(
    labels: pl.DataFrame,
    tags: pl.DataFrame | None,
    *,
    max_categories: int,
    min_tag_share: float,
    max_tags_per_family: int,
    clip: float,
    family_balance: bool,
    exclude: tuple[str, ...],
    exclude_families: tuple[str, ...],
    orders: Orders | None,
    products: pl.DataFrame | None,
    timezone: str,
    descriptor_families: tuple[str, ...],
    activity_corr: float,
) -> tuple[list[FeatureSpec], list[dict[str, str]], pl.DataFrame]:
    if ID_COLUMN not in labels.columns:
        raise InvalidDataError("labels.parquet has no user_id column")
    n = labels.height
    specs: list[FeatureSpec] = []
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
                FeatureSpec(
                    name=col,
                    family=family_of(col),
                    kind="bool" if is_bool else "numeric",
                    column=col,
                    transform="log1p" if col in log_cols else None,
                    fill=float(stats[f"med{i}"]),
                    center=center,
                    scale=scale,
                )
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
            specs.append(FeatureSpec(name=f"{col}={value}", family=family_of(col), kind="onehot", column=col, value=value))

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
            specs.append(FeatureSpec(name=f"tag:{family}:{tag}", family=str(family), kind="tag", tag_family=family, tag=tag))

    # order-derived bases: what (spend share by category), when (hour of day), how (channel)
    order_keys = OrderKeys(orders, products, timezone)
    specs += mix_specs(orders, products, labels[ID_COLUMN], timezone=timezone, order_keys=order_keys)
    if not specs:
        constant = [d["column"] for d in dropped if d["reason"] in ("constant", "all values missing")]
        if dropped and len(constant) == len(dropped):
            shown = ", ".join(constant[:6]) + (f" and {len(constant) - 6} more" if len(constant) > 6 else "")
            raise InvalidDataError(
                f"labels.parquet: every feature is constant (or missing) over the {n:,} users ({shown}): "
                "there is nothing to segment them by"
            )
        why = "; ".join(f"{d['column']}: {d['reason']}" for d in dropped[:6]) or "no column besides user_id"
        raise InvalidDataError(
            f"labels.parquet has no usable feature column (numeric, boolean or low-cardinality text) — {why}"
        )
    for spec in specs:
        spec.block = spec.block or spec.family
        spec.clip = clip
        spec.role = "descriptor" if spec.family in descriptor_families else "basis"
        spec.weight = 1.0
    raw = raw_frame(labels, tags, specs, orders=orders, products=products, timezone=timezone, order_keys=order_keys)
    _fit_mix_centers(raw, specs)
    activity = _activity(labels, orders)
    _mark_activity_descriptors(raw, specs, activity, activity_corr)
    if not any(sp.role == "basis" for sp in specs):
        for sp in specs:  # nothing but activity and value: cluster on those rather than on nothing
            sp.role = "basis"
    if family_balance:
        _block_weights(raw, specs)
    return specs, dropped, raw


# the order lines: a frame, or (any size) a lazy scan of orders.parquet that is aggregated, never loaded
Orders = pl.DataFrame | pl.LazyFrame


def order_columns(orders: Orders) -> list[str]:
    """The order table's column names, without reading its rows."""
    return orders.collect_schema().names()


def no_orders(orders: Orders | None) -> bool:
    """No order table, or one without a row (a lazy scan counts from the Parquet footers)."""
    if orders is None:
        return True
    if isinstance(orders, pl.DataFrame):
        return orders.height == 0
    return int(orders.select(pl.len()).collect().item()) == 0


class OrderKeys:
    """What the order mixes count, from one pass over the order lines per kind of mix and kept
    for every use (choosing the category level, the mix totals, each user's shares): user_id,
    key, amount — spend (integer hundredths) of each purchase line by product category; orders
    by local hour of day or by channel, counted per user and key (integer sums: exact)."""

    def __init__(self, orders: Orders | None, products: pl.DataFrame | None, timezone: str) -> None:
        self.orders, self.products, self.timezone = orders, products, timezone
        self._done: dict[str, pl.DataFrame | None] = {}
        self._categories: pl.DataFrame | None = None
        self._firsts: pl.DataFrame | None = None

    def keys(self, by: str) -> pl.LazyFrame | None:
        """user_id, key (String), amount (Int64); None when the orders cannot give this mix."""
        if by not in self._done:
            self._done[by] = self._keys(by)
        frame = self._done[by]
        return None if frame is None else frame.lazy()

    def _keys(self, by: str) -> pl.DataFrame | None:
        orders, products = self.orders, self.products
        if orders is None or no_orders(orders) or ID_COLUMN not in order_columns(orders):
            return None
        cols = order_columns(orders)
        if by.startswith("category"):
            if products is None or "sku" not in cols or "sku" not in products.columns or by not in products.columns:
                return None
            return self._category_lines().select(ID_COLUMN, pl.col(by).alias("key"), "amount").filter(pl.col("key").is_not_null())
        if by not in ("hour", "channel") or (by == "hour" and "ts" not in cols) or (by == "channel" and "channel" not in cols):
            return None
        if by == "hour" and not isinstance(orders.collect_schema()["ts"], pl.Datetime):
            return None
        firsts = self._order_firsts()
        return (
            firsts.lazy()
            .filter(pl.col(by).is_not_null())
            .group_by(ID_COLUMN, pl.col(by).alias("key"))
            .agg(pl.len().cast(pl.Int64).alias("amount"))
            .collect()
        )

    def _category_lines(self) -> pl.DataFrame:
        """Purchase lines with their spend (integer hundredths) and every category level."""
        if self._categories is None:
            orders, products = self.orders, self.products
            assert orders is not None and products is not None
            cols = order_columns(orders)
            levels = [c for c in ("category_l1", "category_l2", "category_l3") if c in products.columns]
            if "qty" in cols and "unit_price" in cols:
                amount = (pl.col("qty").cast(pl.Float64) * pl.col("unit_price").cast(pl.Float64)).fill_nan(None).fill_null(0.0)
            else:
                amount = pl.lit(1.0)
            prod = products.lazy().select(pl.col("sku").cast(pl.String), *(pl.col(c).cast(pl.String) for c in levels))
            self._categories = (
                contract.purchase_lines(orders.lazy())  # what customers bought (c2m_cli.contract)
                .select(pl.col(ID_COLUMN).cast(pl.String), pl.col("sku").cast(pl.String), _fixed_point(amount.clip(lower_bound=0.0)).alias("amount"))
                .join(prod.unique("sku", keep="first", maintain_order=True), on="sku", how="inner")
                .drop("sku")
                .collect()
            )
        return self._categories

    def _order_firsts(self) -> pl.DataFrame:
        """Per user and order: the local hour and the channel of its first line that has one."""
        if self._firsts is None:
            orders = self.orders
            assert orders is not None
            cols = order_columns(orders)
            order_key = pl.col("order_id").cast(pl.String) if "order_id" in cols else pl.int_range(pl.len()).cast(pl.String)
            hour = pl.lit(None, pl.String)
            dtype = orders.collect_schema().get("ts")
            if isinstance(dtype, pl.Datetime):
                ts = pl.col("ts")
                local = ts.dt.convert_time_zone(self.timezone) if dtype.time_zone else ts.dt.replace_time_zone("UTC").dt.convert_time_zone(self.timezone)
                hour = local.dt.hour().cast(pl.String).str.zfill(2)
            channel = pl.col("channel").cast(pl.String) if "channel" in cols else pl.lit(None, pl.String)
            self._firsts = (
                contract.purchase_lines(orders.lazy())
                .select(pl.col(ID_COLUMN).cast(pl.String), order_key.alias("order"), hour.alias("hour"), channel.alias("channel"))
                .group_by(ID_COLUMN, "order")
                .agg(pl.col("hour").drop_nulls().first(), pl.col("channel").drop_nulls().first())
                .collect()
            )
        return self._firsts


def _fixed_point(amount: pl.Expr) -> pl.Expr:
    """Money in integer hundredths: parallel group sums of floats differ in the last bits from
    run to run, integer sums do not, so the model and profiles stay byte-identical."""
    return (amount * 100).round(0).cast(pl.Int64)


def mix_specs(
    orders: Orders | None,
    products: pl.DataFrame | None,
    user_ids: pl.Series,
    *,
    timezone: str = "UTC",
    order_keys: OrderKeys | None = None,
) -> list[FeatureSpec]:
    """Order mixes as bases, each a block of shares (one feature per value, log-ratio scaled):
    spend share by product category (the finest level with at most MIX_MAX_VALUES categories),
    orders by local hour of day, orders by channel. Shares, not counts: a heavy and a light
    buyer with the same habits look alike. Values under MIX_MIN_SHARE of the total go to "other"."""
    if no_orders(orders):
        return []
    assert orders is not None
    order_keys = order_keys or OrderKeys(orders, products, timezone)
    levels: list[str] = [c for c in ("category_l3", "category_l2", "category_l1") if products is not None and c in products.columns]
    out: list[FeatureSpec] = []
    users = pl.DataFrame({ID_COLUMN: user_ids.cast(pl.String)}).lazy()
    chosen_level: str | None = None
    level_totals: dict[str, pl.DataFrame] = {}
    for by in levels:
        keys = order_keys.keys(by)
        if keys is None:
            continue
        totals = keys.join(users, on=ID_COLUMN, how="semi").group_by("key").agg(pl.col("amount").sum()).collect()
        level_totals[by] = totals
        if 2 <= totals.height <= MIX_MAX_VALUES:
            chosen_level = by
            break
    if chosen_level is None and level_totals:
        chosen_level = min(level_totals, key=lambda b: level_totals[b].height)
    blocks: list[str] = ([chosen_level] if chosen_level else []) + ["hour", "channel"]
    for by in blocks:
        if by in level_totals:
            totals = level_totals[by]
        else:
            keys = order_keys.keys(by)
            if keys is None:
                continue
            totals = keys.join(users, on=ID_COLUMN, how="semi").group_by("key").agg(pl.col("amount").sum()).collect()
        grand = float(totals["amount"].sum())
        if grand <= 0:
            continue
        totals = totals.with_columns((pl.col("amount") / grand).alias("share")).sort(["share", "key"], descending=[True, False])
        kept = totals.filter(pl.col("share") >= MIX_MIN_SHARE).head(MIX_MAX_VALUES - 1)
        rest = 1.0 - float(kept["share"].sum())
        values = kept["key"].to_list()
        shares = kept["share"].to_list()
        if rest > 1e-9:
            values.append(OTHER)
            shares.append(rest)
        if len(values) < 2:
            continue
        eps = 0.5 / len(values)
        for value, share in zip(values, shares, strict=True):
            out.append(
                FeatureSpec(
                    name=f"mix:{by}={value}", family="mix", block=f"mix:{by}", kind="mix", column=by, by=by,
                    value=value, values=values, fill=float(share), transform="clr", eps=eps,
                )
            )
    return out


def _mix_frame(user_ids: pl.Series, specs: list[tuple[int, FeatureSpec]], order_keys: OrderKeys) -> pl.DataFrame:
    """user_id plus each mix spec's share column (f{i}); users without orders get the base share."""
    frame = pl.DataFrame({ID_COLUMN: user_ids.cast(pl.String)})
    by_block: dict[str, list[tuple[int, FeatureSpec]]] = {}
    for i, spec in specs:
        by_block.setdefault(spec.by or "", []).append((i, spec))
    for by, items in by_block.items():
        keys = order_keys.keys(by)
        if keys is not None:
            values = items[0][1].values or []
            has_other = OTHER in values
            mapped = pl.when(pl.col("key").is_in(values)).then(pl.col("key")).otherwise(pl.lit(OTHER if has_other else None))
            long = (
                keys.join(frame.lazy(), on=ID_COLUMN, how="semi")
                .with_columns(mapped.alias("key"))
                .filter(pl.col("key").is_not_null())
                .group_by(ID_COLUMN, "key")
                .agg(pl.col("amount").sum())
                .with_columns(pl.col("amount").sum().over(ID_COLUMN).alias("total"))
                .filter(pl.col("total") > 0)
                .with_columns((pl.col("amount") / pl.col("total")).alias("share"))
                .collect()
            )
            col_of = {spec.value: f"f{i}" for i, spec in items}
            long = long.with_columns(pl.col("key").replace_strict(col_of, default=None).alias("col")).filter(pl.col("col").is_not_null())
            buyers = long.select(ID_COLUMN).unique().with_columns(pl.lit(True).alias(f"_has_{by}"))
            wide = long.pivot(on="col", index=ID_COLUMN, values="share", sort_columns=True) if long.height else None
            frame = frame.join(buyers, on=ID_COLUMN, how="left", maintain_order="left")
            if wide is not None:
                frame = frame.join(wide, on=ID_COLUMN, how="left", maintain_order="left")
            has = pl.col(f"_has_{by}").fill_null(False)
            fills = []
            for i, spec in items:
                col = f"f{i}"
                x = pl.col(col).fill_null(0.0) if col in frame.columns else pl.lit(0.0, dtype=pl.Float64)
                fills.append(pl.when(has).then(x).otherwise(pl.lit(spec.fill)).cast(pl.Float64).alias(col))
            frame = frame.with_columns(fills).drop(f"_has_{by}")
        else:
            frame = frame.with_columns(pl.lit(spec.fill, dtype=pl.Float64).alias(f"f{i}") for i, spec in items)
    return frame


def raw_frame(
    labels: pl.DataFrame,
    tags: pl.DataFrame | None,
    specs: list[FeatureSpec],
    *,
    orders: Orders | None = None,
    products: pl.DataFrame | None = None,
    timezone: str = "UTC",
    order_keys: OrderKeys | None = None,
) -> pl.DataFrame:
    """user_id plus one raw (unscaled, filled) column per feature, in spec order."""
    exprs: list[pl.Expr] = [pl.col(ID_COLUMN).cast(pl.String)]
    for i, spec in enumerate(specs):
        kind = spec.kind
        alias = f"f{i}"
        if kind in _NUMERIC_KINDS:
            if spec.column in labels.columns:
                x = pl.col(spec.column).cast(pl.Float64)
                x = pl.when(x.is_finite()).then(x).otherwise(None).fill_null(spec.fill)
            else:
                x = pl.lit(spec.fill, dtype=pl.Float64)
            exprs.append(x.alias(alias))
        elif kind == "onehot":
            if spec.column in labels.columns:
                x = (pl.col(spec.column).cast(pl.String) == spec.value).fill_null(False)
                exprs.append(x.cast(pl.Float64).alias(alias))
            else:
                exprs.append(pl.lit(0.0, dtype=pl.Float64).alias(alias))
    frame = labels.select(exprs)
    tag_specs = [(i, s) for i, s in enumerate(specs) if s.kind == "tag"]
    if tag_specs:
        if tags is not None and tags.height:
            wanted = pl.DataFrame(
                {
                    "family": [s.tag_family for _, s in tag_specs],
                    "tag": [s.tag for _, s in tag_specs],
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
    mix = [(i, s) for i, s in enumerate(specs) if s.kind == "mix"]
    if mix:
        shares = _mix_frame(frame[ID_COLUMN], mix, order_keys or OrderKeys(orders, products, timezone))
        frame = frame.with_columns(shares.drop(ID_COLUMN))
    return frame.select(["user_id", *[f"f{i}" for i in range(len(specs))]])


def _sample_rows(n: int) -> np.ndarray:
    return np.arange(n) if n <= _SAMPLE else np.unique(np.linspace(0, n - 1, _SAMPLE).astype(np.int64))


def _activity(labels: pl.DataFrame, orders: Orders | None) -> np.ndarray | None:
    """log(1 + orders) per labelled user, from the orders table (None without one)."""
    if orders is None or no_orders(orders) or ID_COLUMN not in order_columns(orders):
        return None
    has_order_id = "order_id" in order_columns(orders)
    key = pl.col("order_id").n_unique() if has_order_id else pl.len()
    counts = orders.lazy().select(pl.col(ID_COLUMN).cast(pl.String), *([pl.col("order_id")] if has_order_id else []))
    counts = counts.group_by(ID_COLUMN).agg(key.cast(pl.Float64).alias("n"))
    out = (
        labels.lazy().select(pl.col(ID_COLUMN).cast(pl.String))
        .join(counts, on=ID_COLUMN, how="left", maintain_order="left")
        .select(pl.col("n").fill_null(0.0).log1p())
        .collect()
    )
    return out["n"].to_numpy()


def _mark_activity_descriptors(
    raw: pl.DataFrame, specs: list[FeatureSpec], activity: np.ndarray | None, threshold: float
) -> None:
    """A basis column that mostly measures how much a user buys (|Spearman ρ| with the order
    count ≥ threshold: counts, spend, breadth, tenure…) becomes a descriptor."""
    if activity is None or threshold >= 1.0:
        return
    rows = _sample_rows(raw.height)
    cand = [i for i, s in enumerate(specs) if s.role == "basis" and s.kind != "mix"]
    if not cand or np.ptp(activity[rows]) == 0:
        return
    sample = raw[rows]
    ranks = sample.select([pl.col(f"f{i}").rank("average") for i in cand]).to_numpy().astype(np.float64)
    a = pl.Series(activity[rows]).rank("average").to_numpy().astype(np.float64)
    a = (a - a.mean()) / a.std()
    sd = ranks.std(axis=0)
    ok = sd > 0
    rho = np.zeros(len(cand))
    rho[ok] = ((ranks[:, ok] - ranks[:, ok].mean(axis=0)) * a[:, None]).mean(axis=0) / sd[ok]
    for i, r in zip(cand, rho, strict=True):
        specs[i].activity_rho = round(float(r), 4)
        if abs(r) >= threshold:
            specs[i].role = "descriptor"


def _fit_mix_centers(raw: pl.DataFrame, specs: list[FeatureSpec]) -> None:
    """Centre of each mix feature: the mean log-ratio over the users."""
    idx = [i for i, s in enumerate(specs) if s.kind == "mix"]
    if not idx:
        return
    Z = _transform(raw, specs, idx, weighted=False, centered=False)
    for q, i in enumerate(idx):
        specs[i].center = float(Z[:, q].astype(np.float64).mean())


def _block_weights(raw: pl.DataFrame, specs: list[FeatureSpec]) -> None:
    """Multiple factor analysis weighting (Escofier & Pagès): each block of basis features (a
    label family, a tag family, an order mix) is divided by its first singular value, so that
    no block — however many correlated columns it has — dominates the main axis of variation."""
    basis = [i for i, s in enumerate(specs) if s.role == "basis"]
    if not basis:
        return
    rows = _sample_rows(raw.height)
    Z = _transform(raw[rows], specs, basis, weighted=False).astype(np.float64)
    Z -= Z.mean(axis=0)
    blocks: dict[str, list[int]] = {}
    for q, i in enumerate(basis):
        blocks.setdefault(specs[i].block, []).append(q)
    m = max(len(rows), 1)
    for cols in blocks.values():
        s1 = float(np.linalg.svd(Z[:, cols] / math.sqrt(m), compute_uv=False)[0]) if Z.shape[0] else 0.0
        w = 1.0 / s1 if s1 > 1e-9 else 0.0
        for q in cols:
            specs[basis[q]].weight = w


def basis_index(specs: list[FeatureSpec]) -> list[int]:
    """The features clustered on (descriptors are only profiled)."""
    return [i for i, s in enumerate(specs) if s.role == "basis"]


def _transform(
    raw: pl.DataFrame, specs: list[FeatureSpec], index: list[int], *, weighted: bool = True, centered: bool = True
) -> np.ndarray:
    """Transform, centre, scale, clip (and weight) the features ``index``: float32, C order.

    A mix feature is the centred log-ratio of its share within its block (Aitchison): log(share
    + eps) minus the mean of the block's logs."""
    exprs: list[pl.Expr] = []
    block_logmean: dict[str, pl.Expr] = {}
    for i in index:
        spec = specs[i]
        if spec.kind == "mix" and spec.block not in block_logmean:
            members = [j for j, t in enumerate(specs) if t.block == spec.block]
            block_logmean[spec.block] = pl.mean_horizontal([(pl.col(f"f{j}") + specs[j].eps).log() for j in members])
    for i in index:
        spec = specs[i]
        x = pl.col(f"f{i}")
        if spec.transform == "log1p":
            x = x.clip(lower_bound=0.0).log1p()
        elif spec.transform == "clr":
            x = (x + spec.eps).log() - block_logmean[spec.block]
        if centered:
            x = ((x - spec.center) / spec.scale).clip(-spec.clip, spec.clip)
        if weighted:
            x = x * spec.weight
        exprs.append(x.cast(pl.Float32).alias(f"f{i}"))
    if not exprs:
        return np.zeros((raw.height, 0), dtype=np.float32)
    X = raw.select(exprs).to_numpy(order="c")
    return np.ascontiguousarray(X, dtype=np.float32)


def scale_matrix(raw: pl.DataFrame, specs: list[FeatureSpec]) -> np.ndarray:
    """The clustering matrix: every basis feature transformed, centred, scaled, clipped and
    weighted; float32, C order."""
    return _transform(raw, specs, basis_index(specs))


def _check_labels(labels: pl.DataFrame) -> None:
    if labels.height == 0:
        raise InvalidDataError("labels.parquet has no rows: nothing to segment")
    if ID_COLUMN not in labels.columns:
        raise InvalidDataError("labels.parquet has no user_id column")
    dup = labels.height - labels.select(pl.col(ID_COLUMN).n_unique()).item()
    if dup:
        raise InvalidDataError(f"labels.parquet: column user_id has {dup} duplicate value(s); one row per user expected")


class SegmentFeatures:
    """The feature estimator (scikit-learn conventions): options in ``__init__``, ``fit`` learns
    the specs from the data and returns ``self``, ``transform`` builds the scaled matrix of any
    users; fitted attributes end in ``_`` (``specs_``, ``dropped_``).

    ``SegmentFeatures.from_specs(specs)`` rebuilds a fitted estimator from segment_model.json."""

    def __init__(
        self,
        *,
        max_categories: int = 12,
        min_tag_share: float = 0.005,
        max_tags_per_family: int = 30,
        clip: float = 4.0,
        family_balance: bool = True,
        exclude: tuple[str, ...] = (),
        exclude_families: tuple[str, ...] = ("lifecycle",),
        descriptor_families: tuple[str, ...] = DESCRIPTOR_FAMILIES,
        activity_corr: float = ACTIVITY_CORR,
        timezone: str = "UTC",
    ) -> None:
        self.max_categories = max_categories
        self.min_tag_share = min_tag_share
        self.max_tags_per_family = max_tags_per_family
        self.clip = clip
        self.family_balance = family_balance
        self.exclude = exclude
        self.exclude_families = exclude_families
        self.descriptor_families = descriptor_families
        self.activity_corr = activity_corr
        self.timezone = timezone

    def _fit(
        self, labels: pl.DataFrame, tags: pl.DataFrame | None, orders: Orders | None, products: pl.DataFrame | None
    ) -> pl.DataFrame:
        _check_labels(labels)
        specs, dropped, raw = _plan(
            labels, tags, max_categories=self.max_categories, min_tag_share=self.min_tag_share,
            max_tags_per_family=self.max_tags_per_family, clip=self.clip, family_balance=self.family_balance,
            exclude=self.exclude, exclude_families=self.exclude_families, orders=orders, products=products,
            timezone=self.timezone, descriptor_families=self.descriptor_families, activity_corr=self.activity_corr,
        )
        self.specs_ = specs
        self.dropped_ = dropped
        return raw

    def fit(
        self,
        labels: pl.DataFrame,
        tags: pl.DataFrame | None = None,
        *,
        orders: Orders | None = None,
        products: pl.DataFrame | None = None,
    ) -> SegmentFeatures:
        """Decide the features and fit their scaling, roles and block weights on these users."""
        self._fit(labels, tags, orders, products)
        return self

    def _matrix(self, raw: pl.DataFrame) -> FeatureMatrix:
        return FeatureMatrix(raw[ID_COLUMN], scale_matrix(raw, self.specs_), self.specs_, list(self.dropped_), raw)

    def transform(
        self,
        labels: pl.DataFrame,
        tags: pl.DataFrame | None = None,
        *,
        orders: Orders | None = None,
        products: pl.DataFrame | None = None,
    ) -> FeatureMatrix:
        """The scaled matrix of ``labels``' users with the fitted specs (missing columns → fills)."""
        if not hasattr(self, "specs_"):
            raise RuntimeError("SegmentFeatures is not fitted: call fit() first")
        _check_labels(labels)
        raw = raw_frame(labels, tags, self.specs_, orders=orders, products=products, timezone=self.timezone)
        return self._matrix(raw)

    def fit_transform(
        self,
        labels: pl.DataFrame,
        tags: pl.DataFrame | None = None,
        *,
        orders: Orders | None = None,
        products: pl.DataFrame | None = None,
    ) -> FeatureMatrix:
        """``fit`` then ``transform`` on the same users (the raw frame is built once)."""
        return self._matrix(self._fit(labels, tags, orders, products))

    @classmethod
    def from_specs(cls, specs: list[FeatureSpec] | list[dict[str, Any]], *, timezone: str = "UTC") -> SegmentFeatures:
        """A fitted estimator from stored specs (segment_model.json's ``features``)."""
        est = cls(timezone=timezone)
        est.specs_ = [s if isinstance(s, FeatureSpec) else FeatureSpec.from_json(s) for s in specs]
        est.dropped_ = []
        return est


def plan_features(
    labels: pl.DataFrame,
    tags: pl.DataFrame | None = None,
    *,
    orders: Orders | None = None,
    products: pl.DataFrame | None = None,
    **options: Any,
) -> tuple[list[FeatureSpec], list[dict[str, str]]]:
    """The fitted specs and the left-out columns (``SegmentFeatures(**options).fit(...)``)."""
    est = SegmentFeatures(**options).fit(labels, tags, orders=orders, products=products)
    return est.specs_, est.dropped_


def build_features(
    labels: pl.DataFrame,
    tags: pl.DataFrame | None = None,
    *,
    specs: list[FeatureSpec] | list[dict[str, Any]] | None = None,
    orders: Orders | None = None,
    products: pl.DataFrame | None = None,
    **options: Any,
) -> tuple[FeatureMatrix, pl.DataFrame]:
    """Fit (unless ``specs`` are given, as when assigning new users) and build the matrix; returns
    the matrix and the raw per-feature frame (for profiles in original units)."""
    if specs is None:
        fm = SegmentFeatures(**options).fit_transform(labels, tags, orders=orders, products=products)
    else:
        fm = SegmentFeatures.from_specs(specs, timezone=options.get("timezone", "UTC")).transform(
            labels, tags, orders=orders, products=products
        )
    assert fm.raw is not None
    return fm, fm.raw
