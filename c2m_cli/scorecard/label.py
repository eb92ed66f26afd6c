"""Scorecard of `c2m label` against the synthetic world's planted truth (``truth/users.parquet``).

Checks: lifecycle stage on the unambiguous cases (target ≥ 0.9) and overall, reactivation,
super users (growth ladder), lifestyle and motive recovered from text (top tag vs planted tag),
generation and city tier. A signal not recovered is reported ``passed=False``.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from c2m_cli.workspace import Workspace


def _check(check: str, value: Any, target: str, passed: bool | None, detail: str) -> dict[str, Any]:
    return {"check": check, "value": value, "target": target, "passed": passed, "detail": detail}


def _share(mask: pl.Series) -> float | None:
    return None if mask.len() == 0 else round(float(mask.mean()), 3)  # type: ignore[arg-type]


def score(ws: Workspace) -> list[dict[str, Any]]:
    truth_path = ws.root / "truth" / "users.parquet"
    if not truth_path.is_file():
        return [_check("label truth", None, "truth/users.parquet present", False, "no planted truth in this workspace")]
    if not ws.has("labels"):
        return [_check("labels", None, "labels.parquet present", False, "c2m label did not run")]
    truth = pl.read_parquet(truth_path)
    labels = ws.read("labels")
    joined = truth.join(labels.with_columns(_labelled=pl.lit(True)), on="user_id", how="left", suffix="_label")
    out: list[dict[str, Any]] = []

    missing = joined.filter(pl.col("_labelled").is_null()).height
    out.append(_check("every planted user labelled", truth.height - missing, f"= {truth.height}", missing == 0,
                      f"{labels.height:,} label rows for {truth.height:,} planted users"))

    clear = joined.filter(pl.col("lifecycle_clear"))
    acc = _share(clear["lifecycle_stage"] == clear["lifecycle_stage_label"])
    per_stage = (
        clear.group_by("lifecycle_stage")
        .agg((pl.col("lifecycle_stage") == pl.col("lifecycle_stage_label")).mean().round(2).alias("a"), pl.len().alias("n"))
        .sort("lifecycle_stage")
    )
    detail = ", ".join(f"{r['lifecycle_stage']} {r['a']:.2f} (n={r['n']})" for r in per_stage.iter_rows(named=True))
    out.append(_check("lifecycle stage, clear cases", acc, "≥ 0.90", acc is not None and acc >= 0.9, detail))
    overall = _share(joined["lifecycle_stage"] == joined["lifecycle_stage_label"])
    out.append(_check("lifecycle stage, all users", overall, "reported", None,
                      "ambiguous cases included (irregular buyers near a threshold)"))

    react = joined["reactivated"]
    flagged = joined["lifecycle_reactivated"].fill_null(False)
    recall = _share(flagged.filter(react))
    precision = _share(react.filter(flagged))
    out.append(_check("reactivated users recovered", recall, "recall ≥ 0.8, precision ≥ 0.6",
                      recall is not None and precision is not None and recall >= 0.8 and precision >= 0.6,
                      f"recall {recall}, precision {precision}; {int(react.sum())} planted, {int(flagged.sum())} flagged"))

    su_truth = joined["is_super_user"]
    su_label = joined["lifecycle_ladder"] == "super_user"
    su_recall = _share(su_label.filter(su_truth))
    su_precision = _share(su_truth.filter(su_label))
    out.append(_check("super users (growth ladder)", su_recall, "recall ≥ 0.6, precision ≥ 0.5",
                      su_recall is not None and su_precision is not None and su_recall >= 0.6 and su_precision >= 0.5,
                      f"recall {su_recall}, precision {su_precision}; {int(su_truth.sum())} planted, {int(su_label.sum())} labelled super_user"))

    for family in ("lifestyle", "motive"):
        top = joined[f"{family}_top"]
        tagged = top.is_not_null() & (top != "unknown")
        precision_t = _share((joined[family] == top).filter(tagged))
        coverage = _share(tagged)
        out.append(_check(f"planted {family} recovered from text", precision_t, "top tag = planted tag for ≥ 0.7 of tagged users",
                          precision_t is not None and precision_t >= 0.7,
                          f"coverage {coverage} of users tagged; precision {precision_t}"))

    gen = _share(joined["generation"] == joined["demo_generation"])
    out.append(_check("generation from birth year", gen, "≥ 0.99", gen is not None and gen >= 0.99, "demo_generation vs planted generation"))
    tier = _share(joined["city_tier"] == joined["geo_city_tier"])
    out.append(_check("city tier", tier, "≥ 0.99", tier is not None and tier >= 0.99, "geo_city_tier vs planted city tier"))
    return out
