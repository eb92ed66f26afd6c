"""Bundle mining on Complete Journey's baskets: c2m (polars) vs mlxtend FP-growth, as a ratio.

    .venv/bin/python benchmarks/recommend.py [--data ../shared/data/completejourney] [--workspace WS]

With ``--workspace WS`` (a workspace ingested from Complete Journey with ``--preset
completejourney``) it first runs the whole ``c2m recommend WS`` under ``/usr/bin/time -v`` and
prints its wall time and peak resident memory against the 2 GiB budget.

With ``--scale WS WS…`` (workspaces of synthetic shops of different sizes, e.g. made by
``benchmarks/scale.py --keep`` at 2.5 and 10 million lines and taken through ``c2m forecast``) it
only runs ``c2m recommend`` on each, prints lines, wall time and peak RSS, and extrapolates the
peak linearly in the order lines to 50 million lines against the 6 GiB budget (issue 17).

Prints the time of c2m's pair/triple mining at its default minimum support and, when mlxtend is
installed, the time of mlxtend's fpgrowth + association_rules on the same baskets and support,
and checks both find the same frequent pairs.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import polars as pl

from c2m_cli.recommend.bundles import baskets_of, mine_bundles


def _measure(ws: Path) -> tuple[int, str, float]:
    """``c2m recommend WS`` under /usr/bin/time -v: (exit code, wall time, peak RSS in GiB)."""
    import re
    import subprocess
    import sys

    c2m = [sys.executable, "-m", "c2m_cli", "recommend", str(ws), "--json"]
    done = subprocess.run(["/usr/bin/time", "-v", *c2m], capture_output=True, text=True, check=False)
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", done.stderr)
    return done.returncode, wall.group(1) if wall else "?", int(peak.group(1)) / 2**20 if peak else float("nan")


def _whole_step(ws: Path) -> None:
    code, wall, gib = _measure(ws)
    print(f"c2m recommend {ws}: exit {code}, wall {wall}, peak RSS {gib:.2f} GiB ({gib / 2:.0%} of the 2 GiB budget)")


def _scale(workspaces: list[Path], target: int = 50_000_000, budget_gib: float = 6.0) -> None:
    import os

    points = []
    print(f"load average {os.getloadavg()[0]:.1f}")
    for ws in workspaces:
        lines = pl.scan_parquet(ws / "orders.parquet").select(pl.len()).collect().item()
        code, wall, gib = _measure(ws)
        points.append((lines, gib))
        print(f"{lines:>12,} lines  exit {code}  wall {wall:>8}  peak {gib:6.2f} GiB")
    if len(points) >= 2:
        (x0, y0), (x1, y1) = min(points), max(points)
        slope = (y1 - y0) / (x1 - x0)
        at = y1 + max(slope, 0.0) * (target - x1)  # a peak that fell with the lines is not extrapolated down
        print(f"slope {slope * 1e6:.3f} GiB per million lines; at {target:,} lines ≈ {at:.2f} GiB "
              f"vs budget {budget_gib:g} GiB ({'met' if at <= budget_gib else 'NOT met'})")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared" / "data" / "completejourney")
    parser.add_argument("--min-support", type=float, default=0.001)
    parser.add_argument("--workspace", type=Path, default=None)
    parser.add_argument("--scale", type=Path, nargs="+", default=None, metavar="WS",
                        help="only measure c2m recommend on these workspaces and extrapolate the peak to 50M lines")
    args = parser.parse_args()
    if args.scale:
        _scale(args.scale)
        return
    if args.workspace is not None:
        _whole_step(args.workspace)
    tx = pl.scan_parquet(args.data / "transactions.parquet")
    started = time.perf_counter()
    rules, note = mine_bundles(baskets_of(tx, "basket_id", "product_id"), min_support=args.min_support, max_size=2)
    ours = time.perf_counter() - started
    print(f"c2m bundles (pairs): {ours:.2f} s for {note['baskets']:,} baskets; "
          f"{note['frequent_items']} frequent items, {note['frequent_pairs']} frequent pairs, {rules.height} rules")
    started = time.perf_counter()
    _, note3 = mine_bundles(baskets_of(tx, "basket_id", "product_id"), min_support=args.min_support)
    print(f"c2m bundles (pairs + triples): {time.perf_counter() - started:.2f} s; {note3.get('frequent_triples', 0)} frequent triples")
    try:
        from mlxtend.frequent_patterns import fpgrowth
    except ImportError:
        print("mlxtend not installed: no reference ratio (pip install mlxtend pandas)")
        return
    import pandas as pd
    from scipy import sparse

    started = time.perf_counter()
    pairs = baskets_of(tx, "basket_id", "product_id").unique().collect()
    counts = pairs.group_by("item").len()
    keep = counts.filter(pl.col("len") >= max(5, args.min_support * pairs["basket"].n_unique()))["item"]
    pairs = pairs.filter(pl.col("item").is_in(keep.implode()))  # pruning infrequent items is fair to both
    b_codes = pairs["basket"].cast(pl.Categorical).to_physical().to_numpy()
    i_cat = pairs["item"].cast(pl.Categorical)
    i_codes = i_cat.to_physical().to_numpy()
    matrix = sparse.csr_matrix(([True] * len(b_codes), (b_codes, i_codes)), dtype=bool)
    n_baskets = note["baskets"]
    with warnings.catch_warnings():  # pandas' own deprecation inside from_spmatrix, not ours
        warnings.simplefilter("ignore", FutureWarning)
        frame = pd.DataFrame.sparse.from_spmatrix(matrix, columns=[str(i) for i in range(matrix.shape[1])])
    itemsets = fpgrowth(frame, min_support=max(5 / n_baskets, args.min_support) * n_baskets / matrix.shape[0], max_len=2)
    ref = time.perf_counter() - started
    ref_pairs = int((itemsets["itemsets"].apply(len) == 2).sum())
    print(f"mlxtend fpgrowth (pairs): {ref:.2f} s; {ref_pairs} frequent pairs")
    print(f"ratio mlxtend / c2m: {ref / ours:.1f}x")


if __name__ == "__main__":
    main()
