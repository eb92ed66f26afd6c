"""`c2m segment`: stable, sized, described segments from labels.parquet (+ tags.parquet).

    labels.parquet, tags.parquet ─features─▶ X ─select k (fit × bootstrap ARI)─▶ k
        ─cluster─▶ segments.parquet, segment_profiles.parquet, segment_model.json

``run_segment(ws, assign=OTHER_LABELS.parquet)`` instead scores other users with the stored
model and writes segment_assignments.parquet.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from c2m_cli.errors import InvalidDataError, UsageError
from c2m_cli.executor import get_executor, usage_mark, usage_since
from c2m_cli.growth import user_rungs
from c2m_cli.market import workspace_market
from c2m_cli.segment import cluster
from c2m_cli.segment.assign import PARTITION_USERS, assign_all
from c2m_cli.segment.features import Orders, SegmentFeatures
from c2m_cli.segment.model import MODEL_NAME, assign_users, fit_pca, load, project, to_json
from c2m_cli.segment.profile import build_profiles
from c2m_cli.segment.stability import segment_jaccard, select_k
from c2m_cli.segment.wording import data_language
from c2m_cli.workspace import Workspace

__all__ = ["run_segment", "parse_k"]

K_LIMIT = 50
MIN_USERS_PER_SEGMENT = 5  # --k auto considers k only up to distinct users / this
# below this mean silhouette a user is on average nearly as close to the next segment as to its
# own (a ≥ 0.9 b): segment borders are soft. Kaufman & Rousseeuw's 0.25 ("no substantial
# structure") is too strict for one-hot and tag features, where even planted types score 0.1–0.2.
WEAK_SILHOUETTE = 0.1
MAX_WORD_VALUES = 12


def parse_k(k: str | int) -> int | None:
    """``auto`` → None, otherwise an integer in 2…K_LIMIT (a usage error otherwise)."""
    if isinstance(k, int):
        value = k
    else:
        text = str(k).strip().lower()
        if text == "auto":
            return None
        try:
            value = int(text)
        except ValueError:
            raise UsageError(f"--k must be `auto` or an integer from 2 to {K_LIMIT}, got {k!r}") from None
    if not 2 <= value <= K_LIMIT:
        raise UsageError(f"--k must be `auto` or an integer from 2 to {K_LIMIT}, got {value}")
    return value


def run_segment(
    ws: Workspace,
    *,
    k: str | int = "auto",
    method: str = "kmeans",
    assign: Path | str | None = None,
    k_min: int = 3,
    k_max: int = 12,
    n_boot: int = 5,
    sample_size: int = 8_000,
    min_stability: float = 0.8,
    reduce: str = "none",
    max_categories: int = 12,
    family_balance: bool = True,
    partition_users: int = PARTITION_USERS,
    seed: int = 0,
    executor: str = "local",
    argv: list[str] | None = None,
    via: str | None = None,
) -> dict[str, Any]:
    """Segment the labelled users (or, with ``assign``, score other users); returns a summary."""
    if method not in cluster.METHODS:
        raise UsageError(f"--method must be one of {', '.join(cluster.METHODS)}, got {method!r}")
    if reduce not in ("none", "pca"):
        raise UsageError(f"--reduce must be `none` or `pca`, got {reduce!r}")
    if not 2 <= k_min <= k_max <= K_LIMIT:
        raise UsageError(f"k range {k_min}–{k_max} must satisfy 2 ≤ k-min ≤ k-max ≤ {K_LIMIT}")
    if n_boot < 1:
        raise UsageError(f"--bootstrap must be at least 1, got {n_boot}")
    if partition_users < 1:
        raise UsageError(f"--partition-users must be at least 1, got {partition_users}")
    if not 0.0 < min_stability <= 1.0:
        raise UsageError(
            f"--min-stability must be in (0, 1] (a mean bootstrap adjusted Rand index), got {min_stability:g}"
        )
    fixed_k = parse_k(k)
    need = (fixed_k or k_max) * MIN_USERS_PER_SEGMENT
    if sample_size < need:
        which = f"--k {fixed_k}" if fixed_k else f"--k-max {k_max}"
        raise UsageError(
            f"--sample-size must be at least {need} ({which} × {MIN_USERS_PER_SEGMENT} users per segment), got {sample_size}"
        )
    if assign is not None:
        return _run_assign(ws, Path(assign), seed=seed, argv=argv, via=via)

    parameters: dict[str, Any] = {
        "k": "auto" if fixed_k is None else fixed_k,
        "method": method,
        "assign": None,
        "k_min": k_min,
        "k_max": k_max,
        "n_boot": n_boot,
        "sample_size": sample_size,
        "min_stability": min_stability,
        "reduce": reduce,
        "max_categories": max_categories,
        "family_balance": family_balance,
        "partition_users": partition_users,
        "executor": executor,
    }
    with ws.step("segment", parameters=parameters, seed=seed, argv=argv, via=via) as step:
        labels = _read(step, "labels", optional=False)
        if labels is None:  # for the type checker: a missing table already raised
            raise InvalidDataError("labels.parquet could not be read")
        tags = _read(step, "tags", optional=True)
        orders = _scan_orders(step)
        products = _read(step, "products", optional=True)
        manifest = ws.manifest()
        timezone = str(manifest.get("data_timezone") or "UTC")
        if labels.height == 1:
            raise InvalidDataError("labels.parquet has 1 user: at least 2 users with different features are needed to segment")
        fm = SegmentFeatures(max_categories=max_categories, family_balance=family_balance, timezone=timezone).fit_transform(
            labels, tags, orders=orders, products=products
        )
        raw = fm.raw if fm.raw is not None else pl.DataFrame()
        n = fm.X.shape[0]
        distinct = _distinct_rows(fm.X)
        if distinct < 2:
            raise InvalidDataError(
                f"labels.parquet: all {n:,} users have the same features ({len(fm.names)} used): there is nothing to "
                "segment them by; at least 2 users with different features are needed"
            )
        reduction = fit_pca(fm.X, seed=seed) if reduce == "pca" else None
        X = project(fm.X, reduction)

        if fixed_k is not None:
            if fixed_k > distinct:
                raise InvalidDataError(
                    f"--k {fixed_k} asks for more segments than the {distinct} distinct user profile(s) in labels.parquet"
                )
            ks = [fixed_k]
        else:
            upper = min(k_max, distinct // MIN_USERS_PER_SEGMENT)
            if upper < k_min:
                raise InvalidDataError(
                    f"--k auto needs at least {k_min * MIN_USERS_PER_SEGMENT} distinct users for k ≥ {k_min}; "
                    f"labels.parquet has {distinct}: pass --k N with N ≤ {distinct}"
                )
            ks = list(range(k_min, upper + 1))

        mark = usage_mark()
        runner = get_executor(executor)
        try:
            summary = _segment_users(
                step, ws, runner, executor=executor, labels=labels, fm=fm, raw=raw, X=X, ks=ks, fixed_k=fixed_k,
                reduction=reduction, orders=orders, products=products, manifest=manifest, parameters=parameters,
                method=method, seed=seed, n_boot=n_boot, sample_size=sample_size, min_stability=min_stability,
                partition_users=partition_users,
            )
        finally:
            runner.close()
        summary["executor"] = usage_since(mark)  # what ran where (not in any output file)
        step.summary.update(summary)
    return summary


def _segment_users(
    step: Any,
    ws: Workspace,
    runner: Any,
    *,
    executor: str,
    labels: pl.DataFrame,
    fm: Any,
    raw: pl.DataFrame,
    X: np.ndarray,
    ks: list[int],
    fixed_k: int | None,
    reduction: dict[str, Any] | None,
    orders: Orders | None,
    products: pl.DataFrame | None,
    manifest: dict[str, Any],
    parameters: dict[str, Any],
    method: str,
    seed: int,
    n_boot: int,
    sample_size: int,
    min_stability: float,
    partition_users: int,
) -> dict[str, Any]:
    """Choose k, cluster, assign every user (by partition, on ``runner``), profile and write."""
    n = X.shape[0]
    mapper = None if executor == "local" else (lambda fn, items: runner.map(fn, items))
    selection = select_k(
        X, ks, method=method, seed=seed, n_boot=n_boot, sample_size=sample_size,
        min_stability=min_stability, mapper=mapper, workdir=step.staging / "_bootstrap",
    )
    chosen = selection.chosen_k
    chosen_row = next(r for r in selection.table if r["k"] == chosen)
    stable = bool(chosen_row["stability_ari"] is not None and chosen_row["stability_ari"] >= min_stability)
    ari_text = "n/a" if chosen_row["stability_ari"] is None else f"{chosen_row['stability_ari']:.2f}"
    sil = chosen_row.get("silhouette")
    sil_text = "n/a" if sil is None else f"{sil:.2f}"
    if not stable:
        if fixed_k is None:
            step.warn(
                "segment-unstable",
                f"no k in {ks[0]}–{ks[-1]} reached a mean bootstrap ARI of {min_stability:g}: the most stable, "
                f"k = {chosen}, reached {ari_text} (silhouette {sil_text}); its segments are shown but are not stable",
            )
        else:
            step.warn(
                "segment-unstable",
                f"k = {chosen} (fixed by --k) has a mean bootstrap ARI of {ari_text}, below {min_stability:g} "
                f"(silhouette {sil_text}); its segments are not stable",
            )
    if sil is not None and sil < WEAK_SILHOUETTE:
        step.warn(
            "segment-weak-structure",
            f"the {chosen} segments separate users weakly: mean silhouette {sil:.3f} < {WEAK_SILHOUETTE} "
            "(users are nearly as close to the next segment as to their own)",
        )
    staging = step.staging / "_assign"
    if len(selection.sample_index) == n and chosen in selection.reference:
        # the sample was every user, in order: its reference clustering is this very fit
        fitted = selection.reference[chosen]
        idx, _ = cluster.assign(fitted, X)
    else:
        fitted = cluster.fit(X, chosen, method=method, seed=seed)
        idx, _ = assign_all(fitted, X, fm.user_ids, runner=runner, workdir=staging, partition_users=partition_users, name="sizes")
    fitted, idx = cluster.order_by_size(fitted, idx)
    idx, dist = assign_all(fitted, X, fm.user_ids, runner=runner, workdir=staging, partition_users=partition_users)
    k_eff = fitted.k
    segment_ids = [f"S{j + 1:02d}" for j in range(k_eff)]
    jaccard = segment_jaccard(idx[selection.sample_index], selection.boot_labels.get(chosen, []), k_eff)

    market = workspace_market(manifest)
    lang = data_language(_data_texts(step, ws, products), market=market, fallback=_label_texts(labels))
    growth, evidence = user_rungs(labels, searches=_searches(step, ws), reviews=_reviews(step, ws))
    profiles = build_profiles(
        labels=labels, raw=raw, specs=fm.specs, seg=idx, k=k_eff, segment_ids=segment_ids,
        jaccard=jaccard, lang=lang, orders=orders, products=products, growth=growth,
    )
    names = profiles["segment_name"].to_list()
    segments = pl.DataFrame(
        {
            "user_id": fm.user_ids,
            "segment_id": pl.Series(segment_ids, dtype=pl.String).gather(idx),
            "segment_name": pl.Series(names, dtype=pl.String).gather(idx),
            "distance": dist,
        }
    )
    selection_json = {
        "mode": "auto" if fixed_k is None else "fixed",
        "criterion": selection.criterion,
        "chosen_k": chosen,
        "stable": stable,
        "min_stability": min_stability,
        "sample_size": int(len(selection.sample_index)),
        "n_boot": n_boot,
        "table": selection.table,
    }
    model = to_json(
        specs=fm.specs, dropped=fm.dropped, reduction=reduction, clustering=fitted,
        segment_ids=segment_ids, segment_names=names, selection=selection_json,
        # where and in how many pieces the work ran is no parameter of the model: byte-identical
        parameters={**{k: v for k, v in parameters.items() if k not in ("executor", "partition_users")}, "seed": seed}, language=lang,
    )
    step.write_table("segments", segments)
    step.write_table("segment_profiles", profiles)
    step.write_json(MODEL_NAME, model)
    summary: dict[str, Any] = {
        "ok": stable,
        "stable": stable,
        "users": n,
        "k": k_eff,
        "method": method,
        "algorithm": fitted.algorithm,
        "k_mode": selection_json["mode"],
        "criterion": selection.criterion,
        "selection": selection.table,
        "features": len(fm.specs),
        "dropped_columns": fm.dropped,
        "language": lang,
        "growth_ladder": evidence.as_list(),
        "segments": [
            {
                "segment_id": r["segment_id"],
                "segment_name": r["segment_name"],
                "size": r["size"],
                "share": r["share"],
                "value_share": r["value_share"],
                "stability_jaccard": r["stability_jaccard"],
                "description": r["description"],
                "suggested_action": r["suggested_action"],
            }
            for r in profiles.iter_rows(named=True)
        ],
    }
    return summary


def _scan_orders(step: Any) -> pl.LazyFrame | None:
    """orders.parquet as a lazy scan (the order mixes, activity and spend lifts aggregate it per
    user, so memory grows with the users, not with the order lines); None without one."""
    if not step.workspace.has("orders"):
        return None
    try:
        return step.scan("orders")
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise InvalidDataError(f"orders.parquet: not a readable Parquet file ({type(exc).__name__})") from exc


def _read(step: Any, name: str, *, optional: bool) -> pl.DataFrame | None:
    """A workspace table; a corrupt file is bad data (exit 3), not a bug."""
    try:
        return step.read_optional(name) if optional else step.read(name)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise InvalidDataError(f"{name}.parquet: not a readable Parquet file ({type(exc).__name__})") from exc


def _data_texts(step: Any, ws: Workspace, products: pl.DataFrame | None) -> list[str]:
    """A sample of the data's own text (not c2m's labels): product categories and names, review
    texts, search queries — for the language of names and descriptions."""
    texts: list[str] = []
    if products is not None:
        for col in ("category_l1", "category_l2", "name"):
            if col in products.columns:
                texts += products[col].cast(pl.String).drop_nulls().unique(maintain_order=True).head(300).to_list()
    for table, col in (("reviews", "text"), ("events", "query")):
        if ws.has(table):
            lf = step.scan(table)
            if col in lf.collect_schema().names():
                texts += lf.select(pl.col(col).cast(pl.String)).drop_nulls().head(300).collect()[col].to_list()
    return texts


def _label_texts(labels: pl.DataFrame) -> list[str]:
    """Distinct values of the labels' low-cardinality text columns (when the data has no text of its own)."""
    out: list[str] = []
    for name, dtype in labels.schema.items():
        if name in ("user_id", "lifecycle_stage") or dtype != pl.String:
            continue
        values = labels[name].drop_nulls().unique(maintain_order=True).head(MAX_WORD_VALUES + 1).to_list()
        if len(values) <= MAX_WORD_VALUES:  # the columns whose values can become words (one-hot)
            out += [v for v in values if v.lower() not in ("unknown", "未知", "")]
    return out


def _searches(step: Any, ws: Workspace) -> pl.DataFrame | None:
    """user_id of every search (events with event = search, or a query)."""
    if not ws.has("events"):
        return None
    lf = step.scan("events")
    names = lf.collect_schema().names()
    if "user_id" not in names:
        return None
    cond = pl.lit(False)
    if "event" in names:
        cond = cond | (pl.col("event").cast(pl.String) == "search")
    if "query" in names:
        cond = cond | pl.col("query").is_not_null()
    return lf.filter(cond.fill_null(False)).select(pl.col("user_id").cast(pl.String)).collect()


def _reviews(step: Any, ws: Workspace) -> pl.DataFrame | None:
    """user_id with rating and/or sentiment of every review (review_sentiment.parquet when the
    label step wrote it, else reviews.parquet's ratings)."""
    for table in ("review_sentiment", "reviews"):
        if not ws.has(table):
            continue
        lf = step.scan(table)
        names = lf.collect_schema().names()
        if "user_id" not in names:
            return None
        return lf.select(pl.col("user_id").cast(pl.String), *(pl.col(c) for c in ("rating", "sentiment") if c in names)).collect()
    return None


def _distinct_rows(X: np.ndarray, limit: int = 100_000) -> int:
    """Distinct feature rows among the first ``limit`` users (a lower bound beyond)."""
    rows = X[:limit]
    return int(np.unique(np.round(rows, 6), axis=0).shape[0])


def _run_assign(ws: Workspace, path: Path, *, seed: int, argv: list[str] | None, via: str | None) -> dict[str, Any]:
    if not path.is_file():
        raise UsageError(f"--assign: file {path} does not exist")
    model = load(ws.root / MODEL_NAME)
    parameters = {"assign": str(path.resolve())}
    with ws.step("segment", parameters=parameters, seed=seed, argv=argv, via=via) as step:
        step.read_json(MODEL_NAME)
        step.note_input_file(path.resolve())
        try:
            labels = pl.read_parquet(path)
        except Exception as exc:  # a corrupt or non-Parquet file is bad data, not a bug
            raise InvalidDataError(f"--assign: {path} is not a readable Parquet file ({type(exc).__name__})") from exc
        tags = None
        tags_path = path.parent / "tags.parquet"
        if tags_path.is_file() and tags_path.resolve() != path.resolve():
            step.note_input_file(tags_path.resolve())
            tags = pl.read_parquet(tags_path)
        mixes = any(spec["kind"] == "mix" for spec in model["features"])
        orders = _scan_orders(step) if mixes else None
        products = step.read_optional("products") if mixes else None
        timezone = str(ws.manifest().get("data_timezone") or "UTC")
        out = assign_users(model, labels, tags, orders=orders, products=products, timezone=timezone)
        step.write_table("segment_assignments", out)
        counts = out.group_by("segment_id", "segment_name").len().sort("segment_id")
        summary = {
            "assigned": out.height,
            "output": "segment_assignments.parquet",
            "segments": [
                {"segment_id": a, "segment_name": b, "size": int(c)} for a, b, c in counts.iter_rows()
            ],
        }
        step.summary.update(summary)
    return summary
