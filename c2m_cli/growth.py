"""The 5CM growth ladder: what each rung means, the evidence it needs, and who stands on it.

C2M practice reads a customer base as a ladder of five rungs (1CM → 5CM). c2m maps each rung
onto evidence a workspace can hold, and says *unknown* — never "no" — for a rung whose evidence
the data does not carry (Complete Journey and CDNOW have no reviews and no searches: rungs 3–5
are unknown there, not "loyal"):

=====  ==================  ==========================================================  =====================
rung   meaning             a user stands on it when                                    evidence it needs
=====  ==================  ==========================================================  =====================
1CM    know the user       a demographic or geographic label is known (demo_*, geo_*)  customers with demographics / addresses
2CM    repurchase          at least 2 distinct purchase days                            orders (behavior_purchase_days)
3CM    demand mining       the user expressed a need: ≥ 1 search or ≥ 1 review          events with searches, or reviews with user_id
4CM    word of mouth       the user wrote ≥ 1 positive review (rating ≥ 4; without a    reviews with user_id
                           rating, sentiment ≥ 0.6)
5CM    super user          a frequent buyer who recommends: ``lifecycle_ladder`` =      reviews with user_id (and the label step's ladder)
                           ``super_user`` (top advocates by purchase days and positive
                           reviews, c2m_cli/labels/lifecycle.py)
=====  ==================  ==========================================================  =====================

Rungs are evidence of engagement, read independently (a repeat buyer with no known
demographics is on 2CM, not on 1CM); a user's ``growth_cm`` is the highest rung reached, and
``growth_known_to`` the highest rung the workspace can show at all.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

MISSING_TEXT = ("", "unknown", "未知", "n/a", "na", "none", "null")
POSITIVE_RATING = 4
POSITIVE_SENTIMENT = 0.6


@dataclass(frozen=True)
class Rung:
    level: int
    code: str
    name_en: str
    name_zh: str
    criterion: str
    evidence: str


RUNGS: tuple[Rung, ...] = (
    Rung(1, "1CM", "known users", "认知用户", "a known demographic or geographic label", "customers with demographics or addresses"),
    Rung(2, "2CM", "repeat buyers", "复购用户", "at least 2 distinct purchase days", "orders"),
    Rung(3, "3CM", "expressed needs", "需求表达用户", "at least one search or review", "searches (events) or reviews with user_id"),
    Rung(4, "4CM", "word of mouth", "口碑用户", "at least one positive review (rating ≥ 4, else sentiment ≥ 0.6)", "reviews with user_id"),
    Rung(5, "5CM", "super users who recommend", "超级用户", "a top advocate: frequent buyer with positive reviews (lifecycle_ladder = super_user)", "reviews with user_id and the label step's ladder"),
)
COLUMNS = tuple(f"growth_{r.level}cm" for r in RUNGS)


@dataclass(frozen=True)
class Evidence:
    """What the workspace can show: per rung, None when its evidence is there, else why not."""

    missing: dict[int, str | None]

    @property
    def known_to(self) -> int:
        """The highest rung whose evidence is there (0 when none is)."""
        known = [lvl for lvl, why in self.missing.items() if why is None]
        return max(known) if known else 0

    def as_list(self) -> list[dict[str, object]]:
        return [
            {"rung": r.code, "meaning": r.name_en, "criterion": r.criterion, "evidence": r.evidence,
             "known": self.missing[r.level] is None, "unknown_because": self.missing[r.level]}
            for r in RUNGS
        ]


def _known_text(column: str) -> pl.Expr:
    x = pl.col(column).cast(pl.String)
    return x.is_not_null() & ~x.str.strip_chars().str.to_lowercase().is_in(MISSING_TEXT)


def _profile_columns(labels: pl.DataFrame) -> list[str]:
    """demo_* / geo_* columns that describe the user (not how a value was found)."""
    return [
        c for c in labels.columns
        if c.split("_", 1)[0] in ("demo", "geo") and not c.endswith(("_source", "_en"))
    ]


def user_rungs(
    labels: pl.DataFrame,
    *,
    searches: pl.DataFrame | None = None,
    reviews: pl.DataFrame | None = None,
) -> tuple[pl.DataFrame, Evidence]:
    """Per labelled user: ``growth_1cm`` … ``growth_5cm`` (Boolean; null where the data cannot
    tell), ``growth_cm`` (highest rung reached, e.g. ``2CM``; ``none`` when no rung is) and the
    workspace's :class:`Evidence`.

    ``searches``: user_id of each search (one row per search); ``reviews``: user_id plus
    ``rating`` and/or ``sentiment`` (one row per review)."""
    users = labels.select(pl.col("user_id").cast(pl.String))
    missing: dict[int, str | None] = {}
    flags: dict[int, pl.Expr] = {}

    profile = _profile_columns(labels)
    if profile:
        known = pl.any_horizontal([_known_text(c) for c in profile])
        any_known = bool(labels.select(known.any()).item())
    else:
        known, any_known = pl.lit(False), False
    missing[1] = None if any_known else "no demographic or geographic label is known for any user"
    flags[1] = known

    days_col = next((c for c in ("behavior_purchase_days", "behavior_orders") if c in labels.columns), None)
    missing[2] = None if days_col else "labels carry no purchase-day count"
    flags[2] = pl.col(days_col).fill_null(0) >= 2 if days_col else pl.lit(False)

    keep = list(dict.fromkeys([*profile, *([days_col] if days_col else []), *(["lifecycle_ladder"] if "lifecycle_ladder" in labels.columns else [])]))
    frame = labels.select(pl.col("user_id").cast(pl.String), *keep)
    has_reviews = reviews is not None and "user_id" in reviews.columns and reviews.height > 0
    has_searches = searches is not None and "user_id" in searches.columns and searches.height > 0
    if has_reviews and reviews is not None:
        rating = pl.col("rating").cast(pl.Float64) if "rating" in reviews.columns else pl.lit(None, pl.Float64)
        sentiment = pl.col("sentiment").cast(pl.Float64) if "sentiment" in reviews.columns else pl.lit(None, pl.Float64)
        positive = pl.when(rating.is_not_null()).then(rating >= POSITIVE_RATING).otherwise(sentiment >= POSITIVE_SENTIMENT).fill_null(False)
        per = (
            reviews.lazy().filter(pl.col("user_id").is_not_null())
            .group_by(pl.col("user_id").cast(pl.String))
            .agg(pl.len().alias("_reviews"), positive.sum().alias("_positive"))
            .collect()
        )
        frame = frame.join(per, on="user_id", how="left", maintain_order="left")
    else:
        frame = frame.with_columns(pl.lit(0, pl.UInt32).alias("_reviews"), pl.lit(0, pl.UInt32).alias("_positive"))
    if has_searches and searches is not None:
        per_s = (
            searches.lazy().filter(pl.col("user_id").is_not_null())
            .group_by(pl.col("user_id").cast(pl.String)).agg(pl.len().alias("_searches")).collect()
        )
        frame = frame.join(per_s, on="user_id", how="left", maintain_order="left")
    else:
        frame = frame.with_columns(pl.lit(0, pl.UInt32).alias("_searches"))

    missing[3] = None if (has_reviews or has_searches) else "no searches and no reviews with user_id"
    flags[3] = (pl.col("_reviews").fill_null(0) + pl.col("_searches").fill_null(0)) > 0
    missing[4] = None if has_reviews else "no reviews with user_id"
    flags[4] = pl.col("_positive").fill_null(0) > 0
    if not has_reviews:
        missing[5] = "no reviews with user_id: no one can be seen recommending"
    elif "lifecycle_ladder" not in labels.columns:
        missing[5] = "labels carry no lifecycle_ladder"
    else:
        missing[5] = None
    flags[5] = (pl.col("lifecycle_ladder").cast(pl.String) == "super_user").fill_null(False) if missing[5] is None else pl.lit(False)

    evidence = Evidence(missing)
    cols = [
        (flags[r.level] if missing[r.level] is None else pl.lit(None, pl.Boolean)).cast(pl.Boolean).alias(COLUMNS[i])
        for i, r in enumerate(RUNGS)
    ]
    out = frame.select("user_id", *cols)
    highest = pl.lit("none", pl.String)
    for i, r in enumerate(RUNGS):  # later rungs win
        highest = pl.when(pl.col(COLUMNS[i]).fill_null(False)).then(pl.lit(r.code)).otherwise(highest)
    out = out.with_columns(highest.alias("growth_cm"))
    return users.join(out, on="user_id", how="left", maintain_order="left"), evidence
