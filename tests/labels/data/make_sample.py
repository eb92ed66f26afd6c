"""Draw the hand-labelling sample from shared/data/reviews_zh/reviews.csv (run once; the result,
labelled by hand, is handlabelled.csv). Stratified: polarity (pos/neg) × whether the text holds
a Chinese term of the lexicons as they stood before this sample was labelled (so the sample has
enough reviews where a tag could fire, and enough where none should), 80 per stratum, texts of
at most 200 characters, fixed seed."""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl

SEED = 14
PER_STRATUM = 80
# the lexicons' Chinese terms at commit cfb4592 (before this sample): fixed here so the sample
# does not move when the lexicons change
TERMS_AT_SAMPLING = Path(__file__).with_name("terms_at_sampling.txt")


def main(reviews: Path, out: Path) -> None:
    terms = [t for t in TERMS_AT_SAMPLING.read_text(encoding="utf-8").split() if t]
    frame = (
        pl.read_csv(reviews)
        .filter(pl.col("text").str.len_chars().is_between(2, 200))
        .with_columns(
            stratum=pl.col("polarity") + pl.lit("-") + pl.when(pl.col("text").str.contains_any(terms)).then(pl.lit("term")).otherwise(pl.lit("plain"))
        )
    )
    sample = pl.concat(
        [g.sample(PER_STRATUM, seed=SEED, shuffle=True) for _, g in sorted(frame.group_by("stratum"), key=lambda kv: str(kv[0]))]
    ).select("review_id", "stratum", "text")
    sample.write_csv(out)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
