"""Fill the ``source`` and ``example`` columns of seeds/lexicon_*.csv from real text: for each
term, the first review of shared/data/reviews_zh (by review_id, the hand-labelled samples left
out) whose clause *states* it, as ``review_id: clause``. A term no review states is marked
``product/search vocabulary`` (names of products and categories shoppers search for, e.g. 猫粮,
纸尿裤) or, for English terms, ``English vocabulary``. Run after editing a lexicon:
    .venv/bin/python tests/labels/data/annotate_lexicons.py ../shared/data/reviews_zh/reviews.csv
"""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl

from c2m_cli.labels.text import FAMILIES, document_tags

HERE = Path(__file__).parent
SEEDS = HERE.parents[2] / "seeds"


def main(reviews_csv: Path) -> None:
    labelled = set(pl.read_csv(HERE / "handlabelled.csv")["id"]) | set(pl.read_csv(HERE / "handlabelled_holdout.csv")["id"])
    reviews = pl.read_csv(reviews_csv).filter(~pl.col("review_id").is_in(sorted(labelled)))
    order = {rid: i for i, rid in enumerate(reviews["review_id"].to_list())}
    found = document_tags(reviews["text"].to_list()).join(reviews.select("review_id", "text"), on="text", how="left")
    first = (
        found.with_columns(pl.col("review_id").replace_strict(order, return_dtype=pl.Int64).alias("_o"))
        .sort("_o")
        .group_by("family", "tag", "term", maintain_order=True)
        .agg(pl.col("review_id").first(), pl.col("clause").first(), pl.len().alias("n"))
    )
    for family in FAMILIES:
        path = SEEDS / f"lexicon_{family}.csv"
        lex = pl.read_csv(path).select("term", "tag", "weight", "lang")
        mine = first.filter(pl.col("family") == family)
        out = lex.join(mine.select("term", "tag", "review_id", "clause", "n"), on=["term", "tag"], how="left").with_columns(
            source=pl.when(pl.col("review_id").is_not_null())
            .then(pl.lit("reviews_zh (") + pl.col("n").cast(pl.String) + pl.lit(" reviews)"))
            .when(pl.col("lang") == "zh")
            .then(pl.lit("not in reviews_zh: product names, current shopping vocabulary"))
            .otherwise(pl.lit("English vocabulary")),
            example=pl.when(pl.col("review_id").is_not_null()).then(pl.col("review_id") + pl.lit(": ") + pl.col("clause").str.slice(0, 40)),
        )
        out.select("term", "tag", "weight", "lang", "source", "example").write_csv(path)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
