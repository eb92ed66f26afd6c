"""Demographics family: gender, birth year → generation (70后/80后/90后/00后) and age band,
household and income bands where the source has them. Missing is ``unknown``, never guessed.

A source that gives a generation band instead of a year (an ``age_band`` or ``generation``
column holding 90后, 95后, 00后, 80後, Z世代, Gen Z …) gives the generation from the band:
``demo_generation`` is the decade (95后 → 90后), or ``Z世代`` for a Z-generation band (born
1995–2009, across two decades); ``demo_generation_band`` keeps the band as written in
normal form (95后, Z世代). Such a band is a generation, not an age band: ``demo_age_band``
then stays unknown unless a birth year gives it."""

from __future__ import annotations

import datetime as dt

import polars as pl

from c2m_cli.labels.base import UNKNOWN

GENDER = {
    "男": "male", "男性": "male", "m": "male", "male": "male", "man": "male",
    "女": "female", "女性": "female", "f": "female", "female": "female", "woman": "female",
}
AGE_BANDS = ((0, 18, "<18"), (18, 25, "18-24"), (25, 35, "25-34"), (35, 45, "35-44"), (45, 55, "45-54"), (55, 65, "55-64"), (65, 200, "65+"))
KNOWN = {"user_id", "gender", "birth_year", "age_band", "generation", "income_band", "household", "province", "city", "city_tier", "country", "signup_ts"}


def generation(birth_year: pl.Expr) -> pl.Expr:
    """'70后' for 1970–1979 etc.; '00后' for 2000–2009, '10后' after."""
    decade = ((birth_year // 10) * 10) % 100
    return pl.when(birth_year.is_between(1900, 2100)).then(
        decade.cast(pl.Int32).cast(pl.String).str.zfill(2) + pl.lit("后")
    )


GEN_Z = "Z世代"
_BAND = r"^(?:([0-9]{2})\s*[后後]|([0-9]{2})s)$"
_GEN_Z = r"^(?:z\s*世代|gen\s*z|generation\s*z|z\s*generation)$"


def generation_band(text: pl.Expr) -> pl.Expr:
    """A generation band in normal form (90后, 95后, 00后, Z世代) from source text, else null."""
    t = text.str.strip_chars().str.to_lowercase()
    digits = pl.coalesce(t.str.extract(_BAND, 1), t.str.extract(_BAND, 2))
    return (
        pl.when(t.str.contains(_GEN_Z))
        .then(pl.lit(GEN_Z))
        .when(digits.is_not_null())
        .then(digits + pl.lit("后"))
    )


def band_generation(band: pl.Expr) -> pl.Expr:
    """The decade generation of a band: 95后 → 90后, 00后 → 00后, Z世代 stays Z世代."""
    decade = band.str.extract(r"^([0-9])[0-9]后$", 1)
    return pl.when(band == GEN_Z).then(band).when(decade.is_not_null()).then(decade + pl.lit("0后"))


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
    gen_band = pl.coalesce(generation_band(text("generation")), generation_band(text("age_band")))
    source_band = pl.when(generation_band(text("age_band")).is_null()).then(nonblank(text("age_band")))
    columns = [
        text("gender").str.to_lowercase().replace_strict(GENDER, default=None, return_dtype=pl.String).fill_null(UNKNOWN).alias("demo_gender"),
        birth.alias("demo_birth_year"),
        pl.coalesce(generation(birth), band_generation(gen_band)).fill_null(UNKNOWN).alias("demo_generation"),
        gen_band.alias("demo_generation_band"),
        age.cast(pl.Int32).alias("demo_age"),
        pl.coalesce(source_band, band).fill_null(UNKNOWN).alias("demo_age_band"),
        nonblank(text("income_band")).fill_null(UNKNOWN).alias("demo_income_band"),
        nonblank(text("household")).fill_null(UNKNOWN).alias("demo_household"),
    ]
    extras = [
        nonblank(text(c)).fill_null(UNKNOWN).alias(f"demo_{c}")
        for c in cust.columns
        if c not in KNOWN and not c.startswith("_") and cust.schema[c] in (pl.String, pl.Categorical, pl.Int64, pl.Int32, pl.Boolean)
    ]
    return frame.select("user_id", *columns, *extras).sort("user_id")
