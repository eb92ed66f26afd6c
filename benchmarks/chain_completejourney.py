"""The whole chain on Complete Journey (1,469,307 order lines, 92,331 products), step by step.

Budget (issue 17): the chain — ingest, label, segment --k auto, forecast of total, category_l1 and
sku over 8 weeks, recommend, report — in at most 60 s on the 2-core machine, no step above 2 GiB
peak RSS. Each step runs as the real CLI in its own child process (benchmarks/measure.py), so its
peak is its own. Reference measured in the same run: an eager polars read of the same
transactions with a weekly group-by per product (the least any forecast of them must do); the
chain's wall time is printed as a ratio to it.

    .venv/bin/python benchmarks/chain_completejourney.py [--data ../shared/data/completejourney]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import Run, run_chain, table  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "completejourney"
WALL_BUDGET_S = 60.0
RSS_BUDGET_GIB = 2.0


def reference(data: Path) -> float:
    started = time.perf_counter()
    lines = pl.read_parquet(data / "transactions.parquet")
    weekly = lines.group_by("product_id", pl.col("transaction_timestamp").dt.truncate("1w")).agg(
        pl.col("quantity").sum()
    )
    assert weekly.height > 0
    return time.perf_counter() - started


def chain(data: Path, ws: Path) -> list[Run]:
    steps: list[tuple[str, list[str | Path]]] = [
        ("ingest", [ws, "--preset", "completejourney", "--orders", data / "transactions.parquet",
                    "--products", data / "products.parquet", "--customers", data / "demographics.parquet"]),
        ("label", [ws]),
        ("segment", [ws, "--k", "auto"]),
        ("forecast", [ws, "--freq", "W", "--horizon", "8", "--levels", "total,category_l1,sku"]),
        ("recommend", [ws]),
        ("report", [ws]),
    ]
    return run_chain(steps)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args(argv)
    if not (args.data / "transactions.parquet").is_file():
        print(f"Complete Journey not found at {args.data}; skipped")
        return 0
    ref = reference(args.data)
    with tempfile.TemporaryDirectory(prefix="c2m-cj-chain-") as tmp:
        runs = chain(args.data, Path(tmp) / "ws")
    print(table("Complete Journey chain (84.51° The Complete Journey, 1,469,307 lines)", runs,
                wall_budget_s=WALL_BUDGET_S, rss_budget_gib=RSS_BUDGET_GIB))
    total = sum(r.wall_s for r in runs)
    print(f"reference (eager polars read + weekly group-by per product): {ref:.2f} s; chain ×{total / ref:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
