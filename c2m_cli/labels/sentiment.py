"""Review sentiment from a small logistic regression shipped as plain JSON (no pickle).

The model (``seeds/sentiment_model.json``) holds a character n-gram vocabulary with one
coefficient per n-gram and an intercept; it was trained by ``c2m_cli/labels/train_sentiment.py``
on the real Chinese reviews of ``shared/data/reviews_zh`` with a fixed held-out split, and its
held-out accuracy (next to SnowNLP's on the same reviews) is recorded inside the JSON.
"""

from __future__ import annotations

import json
import unicodedata
from functools import cache
from typing import Any

import numpy as np
import polars as pl

from c2m_cli.resources import seed_path

MODEL_SEED = "sentiment_model.json"


def normalise(text: str) -> str:
    """NFKC (full-width → half-width) and lower case: what both training and scoring see."""
    return unicodedata.normalize("NFKC", text).lower()


def vectorizer(vocabulary: dict[str, int] | None, ngram_max: int, **kwargs: Any) -> Any:
    from sklearn.feature_extraction.text import CountVectorizer

    return CountVectorizer(
        analyzer="char",
        ngram_range=(1, ngram_max),
        binary=True,
        lowercase=False,
        preprocessor=normalise,
        vocabulary=vocabulary,
        dtype=np.float64,
        **kwargs,
    )


class SentimentModel:
    """P(positive) for a batch of texts: sigmoid(intercept + Σ coef[n-gram present])."""

    def __init__(self, vocabulary: list[str], coef: list[float], intercept: float, ngram_max: int) -> None:
        self.vocabulary = vocabulary
        self.coef = np.asarray(coef, dtype=np.float64)
        self.intercept = float(intercept)
        self.ngram_max = int(ngram_max)
        self._vectorizer = vectorizer({term: i for i, term in enumerate(vocabulary)}, ngram_max)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SentimentModel:
        return cls(data["vocabulary"], data["coef"], data["intercept"], data["ngram_max"])

    def predict_proba(self, texts: list[str] | pl.Series) -> np.ndarray:
        items = [t if isinstance(t, str) else "" for t in list(texts)]
        if not items:
            return np.zeros(0)
        matrix = self._vectorizer.transform(items)
        logit = matrix @ self.coef + self.intercept
        return 1.0 / (1.0 + np.exp(-np.clip(logit, -50, 50)))  # type: ignore[no-any-return]


@cache
def load_model() -> SentimentModel:
    data = json.loads(seed_path(MODEL_SEED).read_text(encoding="utf-8"))
    return SentimentModel.from_dict(data)


def model_card() -> dict[str, Any]:
    """The model's metadata (training data, held-out accuracy, SnowNLP's) without coefficients."""
    data = json.loads(seed_path(MODEL_SEED).read_text(encoding="utf-8"))
    return {k: v for k, v in data.items() if k not in ("vocabulary", "coef")}
