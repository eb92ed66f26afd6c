"""Audiences: who to reach, how many, why (ids only with --include-ids)."""

from __future__ import annotations

from typing import TypedDict

import polars as pl

from c2m_cli.report.sections.base import (
    Context,
    as_float,
    audience_name,
    read_table,
    require_columns,
)

IDS_PER_AUDIENCE = 50


class AudienceRow(TypedDict, total=False):
    audience: str
    name: str
    users: int
    score: float | None
    reason: str | None
    user_ids: list[str]


class AudiencesData(TypedDict, total=False):
    missing: str
    rows: list[AudienceRow]
    include_ids: bool


def gather(ctx: Context) -> AudiencesData:
    frame = read_table(ctx, "audiences")
    if frame is None:
        return {"missing": "audiences"}
    require_columns(frame, "audiences", ("user_id", "audience"))
    score = pl.col("score").mean() if "score" in frame.columns else pl.lit(None, pl.Float64)
    reason = (
        pl.col("reason").drop_nulls().mode().sort().first() if "reason" in frame.columns else pl.lit(None, pl.String)
    )
    summary = (
        frame.group_by("audience")
        .agg(pl.len().alias("users"), score.alias("score"), reason.alias("reason"))
        .sort(["users", "audience"], descending=[True, False])
    )
    rows: list[AudienceRow] = []
    for row in summary.iter_rows(named=True):
        item: AudienceRow = {
            "audience": str(row["audience"]),
            "name": audience_name(row["audience"], ctx.lang),
            "users": int(row["users"]),
            "score": as_float(row["score"]),
            "reason": row["reason"],
        }
        if ctx.include_ids:
            part = frame.filter(pl.col("audience") == row["audience"])
            part = part.sort(["score", "user_id"], descending=[True, False]) if "score" in part.columns else part.sort("user_id")
            item["user_ids"] = [str(u) for u in part["user_id"].head(IDS_PER_AUDIENCE).to_list()]
        rows.append(item)
    return {"rows": rows, "include_ids": ctx.include_ids}
