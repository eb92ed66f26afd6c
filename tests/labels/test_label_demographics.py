"""Generations from birth years and from the bands Chinese exports write instead (90后, 95后, Z世代)."""

from __future__ import annotations

import datetime as dt

import polars as pl

from c2m_cli.labels.demographics import demographics_labels


def test_generation_from_bands_as_well_as_years() -> None:
    customers = pl.DataFrame(
        {
            "user_id": ["y97", "b90", "b95", "b00", "trad", "z", "gz", "age", "both", "none"],
            "age_band": [None, "90后", "95后", "00後", None, "Z世代", None, "25-34", "95后", None],
            "generation": [None, None, None, None, "80后", None, "Gen Z", None, None, None],
            "birth_year": [1997, None, None, None, None, None, None, None, 1988, None],
        }
    )
    out = demographics_labels(customers.select("user_id"), customers, dt.date(2024, 6, 30))
    got = {r["user_id"]: (r["demo_generation"], r["demo_generation_band"], r["demo_age_band"]) for r in out.iter_rows(named=True)}
    assert got["y97"] == ("90后", None, "25-34")
    assert got["b90"] == ("90后", "90后", "unknown")  # a generation is not an age band
    assert got["b95"] == ("90后", "95后", "unknown")  # 95后 lies inside the 90后 decade
    assert got["b00"] == ("00后", "00后", "unknown")  # 後 (traditional) read as 后
    assert got["trad"] == ("80后", "80后", "unknown")
    assert got["z"] == got["gz"] == ("Z世代", "Z世代", "unknown")  # Z世代 spans two decades: kept as the band
    assert got["age"] == ("unknown", None, "25-34")
    assert got["both"] == ("80后", "95后", "35-44")  # a birth year wins over a band for the generation
    assert got["none"] == ("unknown", None, "unknown")
