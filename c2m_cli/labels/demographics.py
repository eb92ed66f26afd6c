"""Demographics family: gender, birth year → generation (70后/80后/90后/00后) and age band,
household and income bands where the source has them. Missing is ``unknown``, never guessed."""

from __future__ import annotations

import datetime as dt

import polars as pl

from c2m_cli.labels.base import UNKNOWN

GENDER = {
    "男": "male", "男性": "male", "m": "male", "male": "male", "man": "male",
    "女": "female", "女性": "female", "f": "female", "female": "female", "woman": "female",
}
AGE_BANDS = ((0, 18, "<18"), (18, 25, "18-24"), (25, 35, "25-34"), (35, 45, "35-44"), (45, 55, "45-54"), (55, 65, "55-64"), (65, 200, "65+"))
KNOWN = {"user_id", "gender", "birth_year", "age_band", "income_band", "household", "province", "city", "city_tier", "country", "signup_ts"}


def generation(birth_year: pl.Expr) -> pl.Expr:
    """'70后' for 1970–1979 etc.; '00后' for 2000–2009, '10后' after."""
    decade = ((birth_year // 10) * 10) % 100
    return pl.when(birth_year.is_between(1900, 2100)).then(
        decade.cast(pl.Int32).cast(pl.String).str.zfill(2) + pl.lit("后")
    )


def demographics_labels(users: pl.DataFrame, customers: pl.DataFrame | None, as_of: dt.date) -> pl.DataFrame:
    if customers is None:
        customers = pl.DataFrame({"user_id": []}, schema={"user_id": pl.String})
    cust = customers.unique("user_id", keep="first")
    frame = users.join(cust, on="user_id", how="left")
    text = lambda c: (  # noqa: E731
        pl.col(c).cast(pl.String).str.strip_chars() if c in frame.columns else pl.lit(None, pl.String)
    )
    birth = pl.col("birth_year").cast(pl.Int32, strict=False) if "birth_year" in frame.columns else pl.lit(None, pl.Int32)
    birth = pl.when(birth.is_between(1900, as_of.year)).then(birth)
    age = pl.lit(as_of.year) - birth
    band = pl.lit(None, pl.String)
    for low, high, name in AGE_BANDS:
        band = pl.when(age.is_between(low, high, closed="left")).then(pl.lit(name)).otherwise(band)
    nonblank = lambda e: pl.when(e.str.len_chars() > 0).then(e)  # noqa: E731
    columns = [
        text("gender").str.to_lowercase().replace_strict(GENDER, default=None, return_dtype=pl.String).fill_null(UNKNOWN).alias("demo_gender"),
        birth.alias("demo_birth_year"),
        generation(birth).fill_null(UNKNOWN).alias("demo_generation"),
        age.cast(pl.Int32).alias("demo_age"),
        pl.coalesce(nonblank(text("age_band")), band).fill_null(UNKNOWN).alias("demo_age_band"),
        nonblank(text("income_band")).fill_null(UNKNOWN).alias("demo_income_band"),
        nonblank(text("household")).fill_null(UNKNOWN).alias("demo_household"),
    ]
    extras = [
        nonblank(text(c)).fill_null(UNKNOWN).alias(f"demo_{c}")
        for c in cust.columns
        if c not in KNOWN and not c.startswith("_") and cust.schema[c] in (pl.String, pl.Categorical, pl.Int64, pl.Int32, pl.Boolean)
    ]
    return frame.select("user_id", *columns, *extras).sort("user_id")
