"""Scorecard of `c2m segment` against the planted consumer types (``truth/users.parquet``).

Checks: adjusted Rand index of segments vs planted ``consumer_type`` (target ≥ 0.80), the k
chosen by ``--k auto`` vs the planted number of types (± 1), whether that k reached the stability
threshold (mean bootstrap ARI ≥ ``--min-stability``), the weakest segment's bootstrap
Jaccard stability (≥ 0.60: below it a cluster "dissolves", Hennig 2007), and, for information,
where each planted type went. A signal not recovered is ``passed=False``, never hidden.
"""

from __future__ import annotations

import json
from typing import Any

import polars as pl
from sklearn.metrics import adjusted_rand_score

from c2m_cli.workspace import Workspace

ARI_TARGET = 0.80
JACCARD_TARGET = 0.60


def _check(check: str, value: Any, target: str, passed: bool | None, detail: str) -> dict[str, Any]:
    return {"check": check, "value": value, "target": target, "passed": passed, "detail": detail}


def score(ws: Workspace) -> list[dict[str, Any]]:
    truth_path = ws.root / "truth" / "users.parquet"
    if not truth_path.is_file():
        return [_check("consumer types (segment ARI)", None, "truth/users.parquet present", False, "no planted truth in this workspace")]
    if not ws.has("segments"):
        return [_check("consumer types (segment ARI)", None, f"≥ {ARI_TARGET:.2f}", False, "c2m segment did not run")]
    truth = pl.read_parquet(truth_path).select("user_id", "consumer_type", *(["consumer_type_name"] if "consumer_type_name" in pl.read_parquet_schema(truth_path) else []))
    segments = ws.read("segments")
    joined = truth.join(segments, on="user_id", how="left")
    missing = joined["segment_id"].null_count()
    joined = joined.with_columns(pl.col("segment_id").fill_null("(none)"))
    ari = float(adjusted_rand_score(joined["consumer_type"].to_numpy(), joined["segment_id"].to_numpy()))
    planted_k = int(truth["consumer_type"].n_unique())
    out = [
        _check(
            "consumer types (segment ARI)",
            round(ari, 3),
            f"≥ {ARI_TARGET:.2f}",
            ari >= ARI_TARGET,
            f"{segments['segment_id'].n_unique()} segments vs {planted_k} planted types over {truth.height:,} users"
            + (f"; {missing:,} planted users have no segment" if missing else ""),
        )
    ]
    model_path = ws.root / "segment_model.json"
    selection: dict[str, Any] = {}
    if model_path.is_file():
        selection = json.loads(model_path.read_text(encoding="utf-8")).get("selection", {})
    chosen = selection.get("chosen_k")
    if selection.get("mode") == "auto" and chosen is not None:
        out.append(
            _check("k chosen by --k auto", int(chosen), f"{planted_k} ± 1", abs(int(chosen) - planted_k) <= 1,
                   selection.get("criterion", ""))
        )
    else:
        out.append(_check("k chosen by --k auto", chosen, f"{planted_k} ± 1", False,
                          "k was fixed by --k, not chosen: run c2m segment with --k auto"))
    chosen_row = next((r for r in selection.get("table", []) if r.get("chosen")), None)
    if chosen_row is not None and chosen_row.get("stability_ari") is not None:
        threshold = float(selection.get("min_stability", 0.8))
        ari_k = float(chosen_row["stability_ari"])
        out.append(
            _check("chosen k is stable (mean bootstrap ARI)", round(ari_k, 3), f"≥ {threshold:g}", ari_k >= threshold,
                   f"k = {chosen_row['k']}, silhouette {chosen_row.get('silhouette') or 0:.3f}")
        )
    if ws.has("segment_profiles"):
        profiles = ws.read("segment_profiles")
        jac = profiles["stability_jaccard"].drop_nulls()
        if jac.len():
            weakest = profiles.sort("stability_jaccard").row(0, named=True)
            out.append(
                _check("segment stability (min bootstrap Jaccard)", round(float(jac.min()), 3),  # type: ignore[arg-type]
                       f"≥ {JACCARD_TARGET:.2f}", float(jac.min()) >= JACCARD_TARGET,  # type: ignore[arg-type]
                       f"weakest: {weakest['segment_id']} {weakest['segment_name']}")
            )
    name_col = "consumer_type_name" if "consumer_type_name" in joined.columns else "consumer_type"
    where = (
        joined.group_by(name_col, "segment_id").len()
        .with_columns((pl.col("len") / pl.col("len").sum().over(name_col)).alias("p"))
        .sort(["p", name_col], descending=[True, False])
        .group_by(name_col, maintain_order=True).head(1)
        .sort(name_col)
    )
    detail = "; ".join(f"{r[name_col]} → {r['segment_id']} ({r['p']:.0%})" for r in where.iter_rows(named=True))
    out.append(_check("where each planted type went", None, "reported", None, detail))
    return out
