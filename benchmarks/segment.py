"""`c2m segment` at scale: 1,000,000 synthetic users' labels (+ tags), k auto with bootstrap.

Usage: python benchmarks/segment.py [USERS]      (default 1,000,000)
The label frame mimics labels.parquet (a few dozen numeric, boolean and text columns of every
family, plus lifestyle and motive tags) with 8 planted types. The segment step runs in a child
process so its peak RSS is its own. Reference, in the same child: a plain scikit-learn KMeans
fit (n_init=1, the chosen k) on the same feature matrix. Targets: < 120 s, peak RSS < 4 GiB,
ARI ≥ 0.9 against the planted types (joined on user_id).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

TYPES = [
    # generation, tier, lifestyle, motive, log-spend, night share
    ("90后", "新一线", "电竞", "性能", 7.0, 0.5),
    ("80后", "一线", "母婴", "品质", 8.0, 0.3),
    ("70后", "二线", "养生", "健康", 6.5, 0.1),
    ("00后", "三线", "二次元", "颜值", 5.5, 0.6),
    ("80后", "新一线", "户外", "性能", 7.5, 0.2),
    ("90后", "一线", "美妆", "颜值", 7.2, 0.4),
    ("70后", "四线", "烹饪", "性价比", 6.0, 0.1),
    ("00后", "二线", "宠物", "便利", 6.2, 0.35),
]
CHILD = r"""
import json, resource, sys, time
import polars as pl
from sklearn.cluster import KMeans
from c2m_cli.segment import run_segment
from c2m_cli.segment.features import build_features
from c2m_cli.workspace import Workspace
ws = Workspace(sys.argv[1], create=False)
t = time.perf_counter()
summary = run_segment(ws, k="auto", seed=0)
seconds = time.perf_counter() - t
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
fm, _ = build_features(ws.read("labels"), ws.read("tags"))
t = time.perf_counter()
KMeans(n_clusters=summary["k"], n_init=1, random_state=0).fit(fm.X)
reference = time.perf_counter() - t
print(json.dumps({"seconds": seconds, "rss": rss, "reference": reference, "k": summary["k"],
                  "algorithm": summary["algorithm"], "features": summary["features"],
                  "users": summary["users"]}))
"""


def make_world(root: Path, users: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    k = len(TYPES)
    truth = rng.integers(0, k, size=users)

    def pick(col: int, purity: float = 0.85) -> pl.Series:
        values = np.array([t[col] for t in TYPES])
        own = values[truth]
        other = values[rng.integers(0, k, size=users)]
        return pl.Series(np.where(rng.random(users) < purity, own, other)).cast(pl.String)

    spend = np.array([t[4] for t in TYPES])[truth]
    night = np.array([t[5] for t in TYPES])[truth]
    columns: dict[str, object] = {
        "user_id": pl.Series(np.char.add("U", np.arange(users).astype(str))),
        "geo_city_tier": pick(1),
        "geo_city": pl.Series(np.char.add("city", rng.integers(0, 300, size=users).astype(str))),
        "demo_generation": pick(0),
        "demo_gender": pl.Series(np.where(rng.random(users) < 0.5, "男", "女")),
        "value_clv": np.exp(spend + rng.normal(0, 0.6, users)),
        "value_p_alive": rng.beta(5, 2, users),
        "value_monetary": np.exp(spend - 2 + rng.normal(0, 0.5, users)),
        "value_frequency": rng.poisson(np.exp(spend - 5.5)).astype(np.float64),
        "occasion_night_share": np.clip(night + rng.normal(0, 0.1, users), 0, 1),
        "occasion_festival_share": rng.beta(2, 5, users),
        "occasion_weekend_buyer": rng.random(users) < 0.3,
        "behavior_orders": rng.poisson(np.exp(spend - 5.0)).astype(np.int64),
        "behavior_discount_share": rng.beta(2, 3, users),
        "behavior_category_breadth": rng.integers(1, 12, size=users),
        "behavior_channel": pl.Series(rng.choice(["app", "web", "mini"], size=users)),
        "lifestyle_top": pick(2),
        "motive_top": pick(3),
        "attitude_sentiment": rng.normal(0.6, 0.2, users),
        "lifecycle_stage": pl.Series(rng.choice(["new", "active", "sleeping", "dormant", "lost"], size=users)),
    }
    for i in range(12):  # more numeric columns, as real label tables have
        columns[f"behavior_metric_{i}"] = rng.gamma(2.0, 1.0 + (truth % (i + 2)), users)
    labels = pl.DataFrame(columns)
    labels.write_parquet(root / "labels.parquet")
    tags = pl.concat(
        [
            pl.DataFrame({"user_id": labels["user_id"], "family": "lifestyle", "tag": pick(2),
                          "score": rng.uniform(0.5, 1.0, users), "evidence": ""}),
            pl.DataFrame({"user_id": labels["user_id"], "family": "motive", "tag": pick(3),
                          "score": rng.uniform(0.3, 1.0, users), "evidence": ""}),
        ]
    )
    tags.write_parquet(root / "tags.parquet")
    return truth


def main() -> None:
    users = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    with tempfile.TemporaryDirectory(prefix="c2m-bench-segment-") as tmp:  # removed afterwards
        run(Path(tmp), users)


def run(root: Path, users: int) -> None:
    t = time.perf_counter()
    truth = make_world(root, users)
    print(f"world            {users:,} users written in {time.perf_counter() - t:.1f} s")
    done = subprocess.run([sys.executable, "-c", CHILD, str(root)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        print(done.stderr)
        raise SystemExit(1)
    r = json.loads(done.stdout.strip().splitlines()[-1])
    from sklearn.metrics import adjusted_rand_score

    # segments.parquet is in partition order, not the labels' order: the truth joins on user_id
    planted = pl.DataFrame({"user_id": np.char.add("U", np.arange(users).astype(str)), "truth": truth})
    segs = pl.read_parquet(root / "segments.parquet").join(planted, on="user_id", how="inner", validate="1:1")
    assert segs.height == users, f"segments.parquet holds {segs.height:,} of {users:,} users"
    ari = adjusted_rand_score(segs["truth"].to_numpy(), segs["segment_id"].to_numpy())
    gib = r["rss"] / 2**30
    print(f"segment          {r['seconds']:.1f} s for {r['users']:,} users, k={r['k']} ({r['algorithm']}, {r['features']} features)"
          f" (target < 120 s: {'ok' if r['seconds'] < 120 else 'FAIL'})")
    print(f"peak RSS         {gib:.2f} GiB (target < 4 GiB: {'ok' if gib < 4 else 'FAIL'})")
    print(f"reference        plain sklearn KMeans(n_init=1, k={r['k']}) on the same matrix: {r['reference']:.1f} s;"
          f" ratio {r['seconds'] / max(r['reference'], 1e-9):.2f}x")
    print(f"recovery         ARI vs the {len(TYPES)} planted types: {ari:.3f} (target ≥ 0.9: {'ok' if ari >= 0.9 else 'FAIL'})")


if __name__ == "__main__":
    main()
