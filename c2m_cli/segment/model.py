"""segment_model.json: everything needed to assign new users, as plain JSON (no pickle).

It holds the feature specs (column, transform, fill, centre, scale, clip, weight — the robust
scaler), the optional PCA projection, the cluster centres (and mixture variances/weights), the
segment ids and names, and the selection table and criterion that chose k.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from c2m_cli.errors import InvalidDataError, MissingPrerequisiteError
from c2m_cli.segment import cluster
from c2m_cli.segment.features import FeatureSpec, Orders, SegmentFeatures

MODEL_NAME = "segment_model.json"
MODEL_VERSION = 1


def project(X: np.ndarray, reduction: dict[str, Any] | None) -> np.ndarray:
    """Apply the recorded PCA (``mean``, ``components``) to a scaled matrix, if any."""
    if not reduction:
        return X
    mean = np.asarray(reduction["mean"], dtype=np.float64)
    comps = np.asarray(reduction["components"], dtype=np.float64)
    return np.ascontiguousarray(((X.astype(np.float64) - mean) @ comps.T).astype(np.float32))


def fit_pca(X: np.ndarray, *, variance: float = 0.9, max_components: int = 30, seed: int = 0) -> dict[str, Any]:
    """A PCA keeping ``variance`` of the variance (at most ``max_components``), fitted by SVD on
    at most 50,000 rows; signs fixed so the largest loading of each component is positive."""
    rng = np.random.default_rng(seed)
    rows = X if X.shape[0] <= 50_000 else X[np.sort(rng.choice(X.shape[0], 50_000, replace=False))]
    mean = rows.astype(np.float64).mean(axis=0)
    _, s, vt = np.linalg.svd(rows.astype(np.float64) - mean, full_matrices=False)
    explained = s**2 / max(float((s**2).sum()), 1e-300)
    n_comp = int(min(max_components, np.searchsorted(np.cumsum(explained), variance) + 1, vt.shape[0]))
    comps = vt[:n_comp]
    signs = np.sign(comps[np.arange(n_comp), np.abs(comps).argmax(axis=1)])
    comps = comps * signs[:, None]
    return {
        "method": "pca",
        "mean": mean.tolist(),
        "components": comps.tolist(),
        "explained_variance_ratio": explained[:n_comp].tolist(),
    }


def to_json(
    *,
    specs: list[FeatureSpec],
    dropped: list[dict[str, str]],
    reduction: dict[str, Any] | None,
    clustering: cluster.Clustering,
    segment_ids: list[str],
    segment_names: list[str],
    selection: dict[str, Any],
    parameters: dict[str, Any],
    language: str,
) -> dict[str, Any]:
    return {
        "c2m_segment_model_version": MODEL_VERSION,
        "parameters": parameters,
        "language": language,
        "features": [s.to_json() for s in specs],
        "dropped_columns": dropped,
        "reduction": reduction,
        "clustering": clustering.to_json(),
        "segments": [{"segment_id": i, "segment_name": n} for i, n in zip(segment_ids, segment_names, strict=True)],
        "selection": selection,
    }


def load(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise MissingPrerequisiteError(
            f"{path.name} is not in workspace {path.parent}", hint="run `c2m segment WORKSPACE` first"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InvalidDataError(f"{path}: not a readable segment model ({exc})") from exc
    for key in ("features", "clustering", "segments"):
        if key not in data:
            raise InvalidDataError(f"{path}: segment model lacks {key!r}")
    return dict(data)


def assign_users(
    model: dict[str, Any],
    labels: pl.DataFrame,
    tags: pl.DataFrame | None,
    *,
    orders: Orders | None = None,
    products: pl.DataFrame | None = None,
    timezone: str = "UTC",
) -> pl.DataFrame:
    """Segment other users with a fitted model: user_id, segment_id, segment_name, distance.

    Order-mix features come from ``orders`` (users without orders there get the base mix)."""
    specs = model["features"]
    needed = sorted({s["column"] for s in specs if s["kind"] != "tag"})
    present = [c for c in needed if c in labels.columns]
    if not present and not any(s["kind"] == "tag" for s in specs):
        raise InvalidDataError(
            f"the labels to assign have none of the model's feature columns ({', '.join(needed[:5])}…)"
        )
    fm = SegmentFeatures.from_specs(specs, timezone=timezone).transform(labels, tags, orders=orders, products=products)
    X = project(fm.X, model.get("reduction"))
    clustering = cluster.Clustering.from_json(model["clustering"])
    if X.shape[1] != clustering.centers.shape[1]:
        raise InvalidDataError(
            f"segment model expects {clustering.centers.shape[1]} features, the labels give {X.shape[1]}"
        )
    idx, dist = cluster.assign(clustering, X)
    ids = [s["segment_id"] for s in model["segments"]]
    names = [s["segment_name"] for s in model["segments"]]
    return pl.DataFrame(
        {
            "user_id": fm.user_ids,
            "segment_id": pl.Series(ids, dtype=pl.String).gather(idx),
            "segment_name": pl.Series(names, dtype=pl.String).gather(idx),
            "distance": dist,
        }
    )
