"""Train the review-sentiment model shipped in ``seeds/sentiment_model.json``.

    python -m c2m_cli.labels.train_sentiment ../shared/data/reviews_zh/reviews.csv [--snownlp]

Data: the real Chinese reviews of ``reviews_zh`` (review_id, polarity pos/neg, text), the
corpus shipped inside SnowNLP 0.12.3 (MIT). Split: a fixed 80/20 permutation
(``numpy.random.default_rng(20240601)``) of the rows sorted by review_id; the 20 % held out
are never seen in training. Model: binary character 1–3-grams (NFKC, lower-cased) kept when
they occur in ≥ ``min_df`` training reviews, L2 logistic regression; n-grams whose coefficient
is negligible are dropped so the JSON stays small. With ``--snownlp`` the script also scores
the same held-out reviews with SnowNLP's shipped sentiment (P > 0.5 → pos) and records both
accuracies in the JSON. Note SnowNLP's own model was trained on this very corpus, held-out rows
included, so its figure here is optimistic.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from c2m_cli.labels.sentiment import vectorizer

SPLIT_SEED = 20240601
TEST_SHARE = 0.2


def split(frame: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    frame = frame.sort("review_id")
    order = np.random.default_rng(SPLIT_SEED).permutation(frame.height)
    n_test = int(round(frame.height * TEST_SHARE))
    test_idx = np.sort(order[:n_test])
    mask = np.zeros(frame.height, dtype=bool)
    mask[test_idx] = True
    return frame.filter(pl.Series(~mask)), frame.filter(pl.Series(mask))


def train(
    frame: pl.DataFrame, *, ngram_max: int = 3, min_df: int = 3, c: float = 0.5, prune: float = 0.02
) -> dict[str, Any]:
    from sklearn.linear_model import LogisticRegression

    train_df, test_df = split(frame)
    vec = vectorizer(None, ngram_max, min_df=min_df)
    x_train = vec.fit_transform(train_df["text"].to_list())
    y_train = (train_df["polarity"] == "pos").to_numpy().astype(int)
    model = LogisticRegression(C=c, max_iter=2000, solver="liblinear")
    model.fit(x_train, y_train)
    names = vec.get_feature_names_out()
    coef = model.coef_[0]
    keep = np.abs(coef) >= prune
    vocabulary = [str(t) for t in names[keep]]
    kept = [round(float(v), 4) for v in coef[keep]]
    intercept = round(float(model.intercept_[0]), 4)
    from c2m_cli.labels.sentiment import SentimentModel

    shipped = SentimentModel(vocabulary, kept, intercept, ngram_max)
    y_test = (test_df["polarity"] == "pos").to_numpy()
    proba = shipped.predict_proba(test_df["text"].to_list())
    accuracy = float(((proba > 0.5) == y_test).mean())
    return {
        "kind": "logistic regression over binary character n-grams",
        "ngram_max": ngram_max,
        "min_df": min_df,
        "C": c,
        "prune_abs_coef_below": prune,
        "training_data": "reviews_zh/reviews.csv (SnowNLP 0.12.3 sentiment corpus, MIT), real Chinese reviews",
        "split": f"rows sorted by review_id, numpy default_rng({SPLIT_SEED}) permutation, {TEST_SHARE:.0%} held out",
        "train_rows": train_df.height,
        "heldout_rows": test_df.height,
        "heldout_accuracy": round(accuracy, 4),
        "intercept": intercept,
        "vocabulary": vocabulary,
        "coef": kept,
    }


def snownlp_accuracy(test_df: pl.DataFrame) -> float:
    from snownlp import SnowNLP

    y_test = (test_df["polarity"] == "pos").to_numpy()
    scores = np.array([SnowNLP(t).sentiments if t.strip() else 0.5 for t in test_df["text"].to_list()])
    return float(((scores > 0.5) == y_test).mean())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reviews", type=Path)
    parser.add_argument("--out", type=Path, default=Path("seeds/sentiment_model.json"))
    parser.add_argument("--snownlp", action="store_true", help="also measure SnowNLP on the held-out reviews")
    args = parser.parse_args(argv)
    frame = pl.read_csv(args.reviews, schema_overrides={"review_id": pl.String, "text": pl.String})
    frame = frame.with_columns(pl.col("text").fill_null(""))
    started = time.perf_counter()
    card = train(frame)
    card["train_seconds"] = round(time.perf_counter() - started, 1)
    if args.snownlp:
        _, test_df = split(frame)
        card["snownlp_heldout_accuracy"] = round(snownlp_accuracy(test_df), 4)
        card["snownlp_note"] = "SnowNLP 0.12.3 shipped sentiment, P>0.5 = pos; its model was trained on this corpus including these held-out rows"
    text = json.dumps(card, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    args.out.write_text(text + "\n", encoding="utf-8")
    summary = {k: v for k, v in card.items() if k not in ("vocabulary", "coef")}
    sys.stderr.write(json.dumps(summary, ensure_ascii=False, indent=2) + "\n")
    sys.stderr.write(f"features kept: {len(card['vocabulary'])}, JSON bytes: {args.out.stat().st_size}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
