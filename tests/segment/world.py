"""A small declarative labels/tags world with planted consumer types, for the segment tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

# each planted type: generation, city tier, lifestyle tag, spend level (log-scale mean)
TYPES_ZH = [
    ("90后", "新一线", "电竞", 7.0),
    ("80后", "一线", "母婴", 8.0),
    ("70后", "二线", "养生", 6.5),
    ("00后", "三线", "二次元", 5.5),
    ("80后", "新一线", "户外", 7.5),
]
TYPES_EN = [
    ("18-24", "urban", "gaming", 7.0),
    ("35-44", "suburban", "parenting", 8.0),
    ("55+", "rural", "gardening", 6.0),
    ("25-34", "urban", "fitness", 7.5),
]
STAGES = ["new", "active", "sleeping", "dormant", "lost"]


def planted_world(users: int, *, types=TYPES_ZH, seed: int = 0, purity: float = 0.85) -> tuple[pl.DataFrame, pl.DataFrame, np.ndarray]:
    """labels, tags and the planted type of each user.

    Each user draws its type; each categorical label equals the type's value with probability
    ``purity`` (else a random other type's value); numeric labels are noisy around the type's level.
    """
    rng = np.random.default_rng(seed)
    k = len(types)
    truth = rng.integers(0, k, size=users)

    def noisy(column: int) -> list[str]:
        own = np.array([t[column] for t in types])[truth]
        other = np.array([t[column] for t in types])[rng.integers(0, k, size=users)]
        return np.where(rng.random(users) < purity, own, other).tolist()

    spend = np.array([t[3] for t in types])[truth]
    clv = np.exp(spend + rng.normal(0, 0.6, users))
    labels = pl.DataFrame(
        {
            "user_id": [f"u{i:06d}" for i in range(users)],
            "demo_generation": noisy(0),
            "geo_city_tier": noisy(1),
            "geo_city": [f"city{c}" for c in rng.integers(0, 60, size=users)],
            "value_clv": clv,
            "value_p_alive": np.clip(rng.beta(5, 2, users), 0, 1),
            "value_orders": rng.poisson(np.exp(spend - 5.0)).astype(np.int64),
            "behavior_night_share": np.clip(rng.normal(0.2 + 0.1 * (truth % 3), 0.08, users), 0, 1),
            "lifecycle_stage": np.array(STAGES)[rng.integers(0, 5, size=users)].tolist(),
        }
    )
    lifestyle = noisy(2)
    tags = pl.DataFrame(
        {
            "user_id": labels["user_id"],
            "family": ["lifestyle"] * users,
            "tag": lifestyle,
            "score": np.clip(rng.normal(0.8, 0.1, users), 0.05, 1.0),
            "evidence": ["planted"] * users,
        }
    )
    return labels, tags, truth


def write_world(root: Path, labels: pl.DataFrame, tags: pl.DataFrame | None = None) -> None:
    root.mkdir(parents=True, exist_ok=True)
    labels.write_parquet(root / "labels.parquet")
    if tags is not None:
        tags.write_parquet(root / "tags.parquet")
