"""Audiences: reactivation, super users (word of mouth), early adopters of a brief's segment.

Every row has user_id, audience, reason and a 0–1 score. Lifecycle, P(alive), CLV and the growth
ladder are read from labels.parquet (the label step's definitions, never recomputed here):
reactivation = sleeping and dormant users ranked by the value expected back, P(alive) × the
12-month value of the user if alive (= ``value_clv``, the BG/NBD × Gamma-Gamma expectation);
super users = the ladder's ``super_user`` rung, ranked by CLV.
"""

from __future__ import annotations

import hashlib
import hmac

import polars as pl

REACTIVATION_STAGES = ("sleeping", "dormant")
SUPER_RUNG = "super_user"
AUDIENCE_SCHEMA = {"user_id": pl.String, "audience": pl.String, "reason": pl.String, "score": pl.Float64}


def _pct(col: str) -> pl.Expr:
    return (pl.col(col).rank("average") / pl.col(col).count()).fill_null(0.0)


def reactivation(labels: pl.DataFrame, *, chinese: bool) -> pl.DataFrame:
    """Sleeping and dormant users ranked by expected regained value (P(alive) × value if alive)."""
    if "lifecycle_stage" not in labels.columns:
        return pl.DataFrame(schema=AUDIENCE_SCHEMA)
    cand = labels.filter(pl.col("lifecycle_stage").is_in(list(REACTIVATION_STAGES)))
    if cand.height == 0:
        return pl.DataFrame(schema=AUDIENCE_SCHEMA)
    p_alive = pl.col("value_p_alive").fill_null(0.0) if "value_p_alive" in cand.columns else pl.lit(None, pl.Float64)
    clv = pl.col("value_clv").fill_null(0.0) if "value_clv" in cand.columns else pl.lit(0.0)
    cand = cand.with_columns(_p=p_alive, value=clv).with_columns(score=_pct("value").round(6))
    days = pl.col("lifecycle_recency_days") if "lifecycle_recency_days" in cand.columns else pl.lit(None, pl.Int64)
    stage_zh = pl.when(pl.col("lifecycle_stage") == "sleeping").then(pl.lit("沉睡")).otherwise(pl.lit("休眠"))
    reason = (
        pl.format("{}用户，{} 天未购，仍活跃概率 {}，预期可挽回价值 {}（未来 12 个月）", stage_zh, days.fill_null(-1),
                  pl.col("_p").round(2), pl.col("value").round(0))
        if chinese else
        pl.format("{} for {} days, P(alive) {}, expected value back {} over 12 months", "lifecycle_stage", days.fill_null(-1),
                  pl.col("_p").round(2), pl.col("value").round(0))
    )
    return cand.select(pl.col("user_id").cast(pl.String), pl.lit("reactivation").alias("audience"), reason.alias("reason"), "score")


def super_users(labels: pl.DataFrame, *, chinese: bool) -> pl.DataFrame:
    """The growth ladder's super users, ranked by CLV."""
    if "lifecycle_ladder" not in labels.columns:
        return pl.DataFrame(schema=AUDIENCE_SCHEMA)
    top = labels.filter(pl.col("lifecycle_ladder") == SUPER_RUNG)
    if top.height == 0:
        return pl.DataFrame(schema=AUDIENCE_SCHEMA)
    clv = pl.col("value_clv").fill_null(0.0) if "value_clv" in top.columns else pl.lit(0.0)
    top = top.with_columns(value=clv).with_columns(score=_pct("value").round(6))
    reason = (pl.format("成长阶梯：超级用户，预期未来 12 个月价值 {}", pl.col("value").round(0)) if chinese
              else pl.format("growth ladder: super user, expected value {} over 12 months", pl.col("value").round(0)))
    return top.select(pl.col("user_id").cast(pl.String), pl.lit("super_users").alias("audience"), reason.alias("reason"), "score")


def early_adopters(
    lines: pl.DataFrame | pl.LazyFrame, segments: pl.DataFrame | None, brief_segments: list[tuple[str, str]],
    products: pl.DataFrame | None, *, per_brief: int, chinese: bool, first_sales: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """For each (brief_id, segment_id): the segment's members who buy new products first.

    A product's launch is its ``launch_date`` when the products have that column, else its first
    sale (``first_sales``: sku, first; computed from ``lines`` when not given). The lines are read
    by one streaming group-by."""
    if segments is None or not brief_segments:
        return pl.DataFrame(schema=AUDIENCE_SCHEMA)
    if products is not None and "launch_date" in products.columns:
        launch = products.select("sku", pl.col("launch_date").cast(pl.Date).alias("launch"))
    elif first_sales is not None:
        launch = first_sales.select("sku", pl.col("first").alias("launch"))
    else:
        launch = lines.lazy().group_by("sku").agg(pl.col("date").min().alias("launch")).collect(engine="streaming")
    launch = launch.filter(pl.col("launch").is_not_null())  # a line of a product without a launch is no early buy
    if launch.height == 0:
        return pl.DataFrame(schema=AUDIENCE_SCHEMA)
    early = (
        lines.lazy().select("user_id", "sku", "date").join(launch.lazy(), on="sku")
        .with_columns(days=(pl.col("date") - pl.col("launch")).dt.total_days())
        .filter(pl.col("days").is_between(0, 60))
        .group_by(pl.col("user_id").cast(pl.String))
        .agg(pl.len().alias("early_buys"), pl.col("days").mean().alias("mean_days"))
        .collect(engine="streaming")
    )
    frames = []
    for brief_id, seg in brief_segments:
        members = segments.filter(pl.col("segment_id").cast(pl.String) == seg).select(pl.col("user_id").cast(pl.String))
        cand = members.join(early, on="user_id").with_columns(
            score=(0.6 * _pct("early_buys") + 0.4 * (1 - _pct("mean_days"))).round(6)
        ).sort(["score", "user_id"], descending=[True, False]).head(per_brief)
        reason = (
            pl.format(f"{brief_id} 目标人群（分群 {seg}）：新品上市 60 天内购买 {{}} 次", "early_buys")
            if chinese
            else pl.format(f"target segment {seg} of {brief_id}: {{}} buys within 60 days of a launch", "early_buys")
        )
        frames.append(cand.select("user_id", pl.lit("early_adopters").alias("audience"), reason.alias("reason"), "score"))
    return pl.concat(frames) if frames else pl.DataFrame(schema=AUDIENCE_SCHEMA)


def hashed(user_ids: pl.Series, salt: str) -> pl.Series:
    """HMAC-SHA256 of each id keyed by ``salt`` (first 32 hex digits): not reversible without
    the salt, and the same id gives the same hash across exports with the same salt."""
    key = salt.encode("utf-8")
    uniq = user_ids.unique().sort().to_list()
    table = {u: hmac.new(key, str(u).encode("utf-8"), hashlib.sha256).hexdigest()[:32] for u in uniq}
    return user_ids.replace_strict(table, return_dtype=pl.String)


def to_csv(audiences: pl.DataFrame, *, hash_ids: bool, salt: str) -> str:
    frame = audiences
    if hash_ids:
        frame = frame.with_columns(user_id=hashed(frame["user_id"], salt))
    # formula-safe: a cell starting with = + - @ is prefixed
    frame = frame.with_columns(pl.col(c).str.replace(r"^([=+\-@])", "'$1") for c in ("user_id", "reason"))
    return frame.write_csv()
