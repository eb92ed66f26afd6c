"""`c2m segment`: stable, sized, described segments from labels.parquet (+ tags.parquet).

    labels.parquet, tags.parquet ─features─▶ X ─select k (fit × bootstrap ARI)─▶ k
        ─cluster─▶ segments.parquet, segment_profiles.parquet, segment_model.json

``run_segment(ws, assign=OTHER_LABELS.parquet)`` instead scores other users with the stored
model and writes segment_assignments.parquet.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from c2m_cli.errors import InvalidDataError, UsageError
from c2m_cli.executor import get_executor, usage_mark, usage_since
from c2m_cli.growth import RUNGS, Evidence
from c2m_cli.market import workspace_market
from c2m_cli.segment import cluster
from c2m_cli.segment.assign import (
    HASH_SEED,
    PARTITION_USERS,
    TABLES,
    PartitionTask,
    load_stats,
    order_subset,
    release_memory,
    segment_partition,
)
from c2m_cli.segment.features import Orders, SegmentFeatures
from c2m_cli.segment.model import MODEL_NAME, assign_users, fit_pca, load, project, to_json
from c2m_cli.segment.profile import build_profiles, combine_stats, reorder_stats
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
# features, k and clustering are fitted on at most about this many users (a seeded hash sample of
# user_id beyond it); every user is then assigned, by partition. Up to it, the fit sees everyone.
FIT_USERS = 200_000
SAMPLE_HASH_SEED = 7_321_001  # + --seed: the fit sample's hash (independent of the partitions' hash)


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
    fit_users: int = FIT_USERS,
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
    if fit_users < sample_size:
        raise UsageError(f"the fit sample ({fit_users:,} users) must hold the stability sample (--sample-size {sample_size:,})")
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
        cluster.preload()  # scikit-learn imported while the features are read and built
        labels_lf = _scan(step, "labels")
        if labels_lf is None:  # for the type checker: a missing table already raised
            raise InvalidDataError("labels.parquet could not be read")
        tags_lf = _scan(step, "tags") if ws.has("tags") else None
        orders = _scan_orders(step)
        products = _read(step, "products", optional=True)
        manifest = ws.manifest()
        timezone = str(manifest.get("data_timezone") or "UTC")
        n = int(_collect(labels_lf.select(pl.len()), "labels").item())
        if n == 1:
            raise InvalidDataError("labels.parquet has 1 user: at least 2 users with different features are needed to segment")
        mark = usage_mark()
        runner = get_executor(executor)
        try:
            fit = _fit(
                step, runner, executor=executor, labels_lf=labels_lf, tags_lf=tags_lf, orders=orders, products=products,
                n=n, fit_users=fit_users, timezone=timezone, fixed_k=fixed_k, k_min=k_min, k_max=k_max, method=method,
                seed=seed, n_boot=n_boot, sample_size=sample_size, min_stability=min_stability, reduce=reduce,
                max_categories=max_categories, family_balance=family_balance,
            )
            summary = _assign_and_profile(
                step, ws, runner, fit=fit, n=n, products=products, manifest=manifest, parameters=parameters,
                method=method, seed=seed, n_boot=n_boot, min_stability=min_stability, partition_users=partition_users,
                timezone=timezone,
            )
        finally:
            runner.close()
        summary["executor"] = usage_since(mark)  # what ran where (not in any output file)
        step.summary.update(summary)
    return summary


def _sample_filter(n: int, fit_users: int, seed: int) -> pl.Expr:
    """The users of the fit sample: a stable hash of user_id (seeded) below the fraction
    ``fit_users / n`` of its range — each user in or out by its own id, about ``fit_users`` in all."""
    threshold = int(fit_users / n * 2**32)
    return (pl.col("user_id").cast(pl.String).hash(SAMPLE_HASH_SEED + seed) % 2**32) < threshold


def _fit(
    step: Any,
    runner: Any,
    *,
    executor: str,
    labels_lf: pl.LazyFrame,
    tags_lf: pl.LazyFrame | None,
    orders: Orders | None,
    products: pl.DataFrame | None,
    n: int,
    fit_users: int,
    timezone: str,
    fixed_k: int | None,
    k_min: int,
    k_max: int,
    method: str,
    seed: int,
    n_boot: int,
    sample_size: int,
    min_stability: float,
    reduce: str,
    max_categories: int,
    family_balance: bool,
) -> dict[str, Any]:
    """Features, k and clustering fitted on the fit sample (every user when there are at most
    ``fit_users``); returns the fitted pieces — no user's row outlives this call but those of
    the stability sample's ids."""
    sampled = n > fit_users
    if sampled:
        if "user_id" not in labels_lf.collect_schema().names():
            raise InvalidDataError("labels.parquet has no user_id column")
        dup = int(_collect(labels_lf.select(pl.len() - pl.col("user_id").n_unique()), "labels").item())
        if dup:
            raise InvalidDataError(f"labels.parquet: column user_id has {dup} duplicate value(s); one row per user expected")
        keep = _sample_filter(n, fit_users, seed)
        labels = _collect(labels_lf.filter(keep), "labels")
        tags = None if tags_lf is None else _collect(tags_lf.filter(keep), "tags")
        # the sample's own order lines, read once (mixes, activity)
        try:
            fit_orders: Orders | None = None if orders is None else order_subset(orders.lazy(), keep)
        except (pl.exceptions.PolarsError, OSError) as exc:
            raise InvalidDataError(f"orders.parquet: not a readable Parquet file ({type(exc).__name__})") from exc
    else:
        labels = _collect(labels_lf, "labels")
        tags = None if tags_lf is None else _collect(tags_lf, "tags")
        try:  # every order line (at most fit_users' users), read once, as for a sample
            fit_orders = None if orders is None else order_subset(orders.lazy(), pl.lit(True))
        except (pl.exceptions.PolarsError, OSError) as exc:
            raise InvalidDataError(f"orders.parquet: not a readable Parquet file ({type(exc).__name__})") from exc
    fm = SegmentFeatures(max_categories=max_categories, family_balance=family_balance, timezone=timezone).fit_transform(
        labels, tags, orders=fit_orders, products=products
    )
    del tags, fit_orders
    m = fm.X.shape[0]
    distinct = _distinct_rows(fm.X)
    if distinct < 2:
        who = f"all {m:,} sampled users (of {n:,})" if sampled else f"all {m:,} users"
        raise InvalidDataError(
            f"labels.parquet: {who} have the same features ({len(fm.names)} used): there is nothing to "
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

    mapper = None if executor == "local" else (lambda fn, items: runner.map(fn, items))
    selection = select_k(
        X, ks, method=method, seed=seed, n_boot=n_boot, sample_size=sample_size,
        min_stability=min_stability, mapper=mapper, workdir=step.staging / "_bootstrap",
    )
    chosen = selection.chosen_k
    if len(selection.sample_index) == m and chosen in selection.reference:
        # the stability sample was every fitted user, in order: its reference clustering is this very fit
        fitted = selection.reference[chosen]
    else:
        fitted = cluster.fit(X, chosen, method=method, seed=seed)
    out = {
        "specs": fm.specs, "dropped": fm.dropped, "reduction": reduction, "clustering": fitted,
        "selection": selection, "ks": ks, "fixed_k": fixed_k, "fit_users": m if sampled else None,
        "sample_ids": fm.user_ids.gather(selection.sample_index), "label_texts": _label_texts(labels),
    }
    del fm, X, labels
    release_memory()
    return out


def _assign_and_profile(
    step: Any,
    ws: Workspace,
    runner: Any,
    *,
    fit: dict[str, Any],
    n: int,
    products: pl.DataFrame | None,
    manifest: dict[str, Any],
    parameters: dict[str, Any],
    method: str,
    seed: int,
    n_boot: int,
    min_stability: float,
    partition_users: int,
    timezone: str,
) -> dict[str, Any]:
    """Warn on weak stability or structure, assign every user by partition (on ``runner``),
    profile the segments from the partitions' sums, and write the outputs."""
    selection, ks, fixed_k = fit["selection"], fit["ks"], fit["fixed_k"]
    specs = fit["specs"]
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

    # every user, one task per user-hash partition: features, segment, profile sums
    fitted: cluster.Clustering = fit["clustering"]
    staging = step.staging / "_assign"
    staging.mkdir(parents=True, exist_ok=True)
    model_path = staging / "model.json"
    model_path.write_text(
        json.dumps({"features": [s.to_json() for s in specs], "reduction": fit["reduction"],
                    "clustering": fitted.to_json(), "timezone": timezone}),
        encoding="utf-8",
    )
    for name in ("events", "review_sentiment", "reviews"):  # inputs of the growth ladder
        if ws.has(name):
            step.scan(name)
    tables = tuple((name, str(ws.table_path(name)) if ws.has(name) else None) for name in TABLES)
    partitions = max(1, -(-n // max(partition_users, 1)))
    used = _nonempty_partitions(step, partitions)
    tasks = [
        PartitionTask(p, partitions, tables, str(model_path), str(staging / f"segments-{p:05d}.parquet"),
                      str(staging / f"stats-{p:05d}.npz"))
        for p in used
    ]
    done = runner.map(segment_partition, tasks, parallel=False)
    parts = [load_stats(stats) for _, stats in done]
    results = [result for result, _ in done]
    merged = combine_stats(parts)
    levels = sorted(r.level for r in RUNGS)
    evidence = Evidence(
        {level: None if any(q["growth_missing"][i] is None for q in parts) else parts[0]["growth_missing"][i]
         for i, level in enumerate(levels)}
    )
    del parts

    # segment ids by size (largest first): renumber the clusters and everything counted by them
    fitted, remap = cluster.size_order(fitted, merged["sizes"])
    stats = reorder_stats(merged, remap)
    k_eff = fitted.k
    segment_ids = [f"S{j + 1:02d}" for j in range(k_eff)]
    sample = pl.DataFrame({"user_id": fit["sample_ids"]})
    found = pl.scan_parquet(results).filter(pl.col("user_id").is_in(fit["sample_ids"])).select("user_id", "segment").collect()
    sample_seg = sample.join(found, on="user_id", how="left", maintain_order="left")["segment"].to_numpy()
    jaccard = segment_jaccard(remap[sample_seg], selection.boot_labels.get(chosen, []), k_eff)

    market = workspace_market(manifest)
    lang = data_language(_data_texts(step, ws, products), market=market, fallback=fit["label_texts"])
    profiles = build_profiles(stats=stats, specs=specs, k=k_eff, segment_ids=segment_ids, jaccard=jaccard, lang=lang)
    names = profiles["segment_name"].to_list()
    if len(results) == 1:
        part = pl.read_parquet(results[0])
        idx = remap[part["segment"].to_numpy()]
        segments = pl.DataFrame(
            {
                "user_id": part["user_id"],
                "segment_id": pl.Series(segment_ids, dtype=pl.String).gather(idx),
                "segment_name": pl.Series(names, dtype=pl.String).gather(idx),
                "distance": part["distance"],
            }
        )
        step.write_table("segments", segments)
        del part, segments
    else:  # the partitions' files one after the other, streamed
        old = [int(j) for j in range(k_eff)]
        step.sink_table(
            "segments",
            pl.scan_parquet(results).select(
                "user_id",
                pl.col("segment").replace_strict(old, [segment_ids[remap[j]] for j in old], return_dtype=pl.String).alias("segment_id"),
                pl.col("segment").replace_strict(old, [names[remap[j]] for j in old], return_dtype=pl.String).alias("segment_name"),
                "distance",
            ),
        )
    selection_json: dict[str, Any] = {
        "mode": "auto" if fixed_k is None else "fixed",
        "criterion": selection.criterion,
        "chosen_k": chosen,
        "stable": stable,
        "min_stability": min_stability,
        "sample_size": int(len(selection.sample_index)),
        "n_boot": n_boot,
        "table": selection.table,
    }
    if fit["fit_users"] is not None:
        selection_json["fit_sample"] = {
            "users": fit["fit_users"], "of": n,
            "by": "features, k and clustering fitted on the users whose seeded hash of user_id falls in the sampled fraction",
        }
    model = to_json(
        specs=specs, dropped=fit["dropped"], reduction=fit["reduction"], clustering=fitted,
        segment_ids=segment_ids, segment_names=names, selection=selection_json,
        # where and in how many pieces the work ran is no parameter of the model: byte-identical
        parameters={**{k: v for k, v in parameters.items() if k not in ("executor", "partition_users")}, "seed": seed}, language=lang,
    )
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
        "features": len(specs),
        "dropped_columns": fit["dropped"],
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
    if fit["fit_users"] is not None:
        summary["fit_users"] = fit["fit_users"]
    return summary


def _nonempty_partitions(step: Any, partitions: int) -> list[int]:
    """The user partitions that hold a labelled user (a count per partition, no user kept)."""
    if partitions <= 1:
        return [0]
    counts = _collect(
        step.scan("labels").group_by((pl.col("user_id").cast(pl.String).hash(HASH_SEED) % partitions).alias("p")).len(),
        "labels",
    )
    return sorted(int(p) for p in counts["p"].to_list())


def _scan(step: Any, name: str) -> pl.LazyFrame | None:
    """A workspace table as a lazy scan; a corrupt file is bad data (exit 3), not a bug."""
    try:
        return step.scan(name)  # type: ignore[no-any-return]
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise InvalidDataError(f"{name}.parquet: not a readable Parquet file ({type(exc).__name__})") from exc


def _collect(lf: pl.LazyFrame, name: str) -> pl.DataFrame:
    """``lf.collect()``, a corrupt file being bad data (exit 3), not a bug."""
    try:
        return lf.collect()
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise InvalidDataError(f"{name}.parquet: not a readable Parquet file ({type(exc).__name__})") from exc


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
