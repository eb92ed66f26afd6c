"""Benchmark `c2m label` at scale: 1M users / 20M order lines, bounded memory.

The data are generated synthetically here (numpy, in chunks of users streamed to one Parquet
file, so generation itself stays small): two years of orders, 1 + Poisson(7) orders per user and
1 + Poisson(1.5) lines per order (≈ 20 lines per user), a few returns and cancellations, three
channels, 500 SKUs in 20 categories.

Three measurements, each in its own child process so its peak RSS is its own:
1. `c2m label` on the whole workspace (every label family, BG/NBD + Gamma-Gamma fitted on a
   100k sample and scored on everyone, lifecycle, partitions of 2M lines);
2. a plain pandas groupby RFM (recency, frequency, monetary per user) on the same order lines;
3. lifetimes-style per-row BG/NBD evaluation (a Python loop calling the closed forms for one
   customer at a time, as ``lifetimes`` does in ``conditional_expected_number_of_purchases_up_to_time``
   with scalar arguments) on a 20,000-customer subset, against c2m's vectorised scoring of the
   same customers with the same parameters; rows/s extrapolated.

    .venv/bin/python benchmarks/label.py                    # 1,000,000 users
    .venv/bin/python benchmarks/label.py --users 100000     # a quicker run
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow.parquet as pq

CHUNK = 50_000
START = np.datetime64("2023-01-01T00:00:00", "s")
DAYS = 730


def generate(path: Path, users: int, seed: int = 0) -> int:
    """Write ``users`` users' order lines to ``path``; returns the number of lines."""
    rng = np.random.default_rng(seed)
    writer: pq.ParquetWriter | None = None
    total = 0
    for first in range(0, users, CHUNK):
        n = min(CHUNK, users - first)
        uid = np.arange(first, first + n)
        orders = 1 + rng.poisson(7, n)
        o_user = np.repeat(uid, orders)
        born = rng.integers(0, DAYS - 30, n)
        span = DAYS - born
        o_day = born[o_user - first] + (rng.random(o_user.size) * span[o_user - first]).astype(np.int64)
        o_sec = o_day * 86400 + rng.integers(0, 86400, o_user.size)
        o_id = np.arange(o_user.size) + total
        lines = 1 + rng.poisson(1.5, o_user.size)
        l_order = np.repeat(np.arange(o_user.size), lines)
        m = l_order.size
        sku = rng.integers(0, 500, m)
        status = rng.choice(np.array(["paid", "returned", "cancelled"]), m, p=[0.95, 0.03, 0.02])
        frame = pl.DataFrame(
            {
                "order_id": o_id[l_order] + first * 100,
                "user_id": o_user[l_order],
                "sku": sku,
                "ts": (START + o_sec[l_order].astype("timedelta64[s]")).astype("datetime64[us]"),
                "qty": rng.integers(1, 4, m).astype(np.float64),
                "unit_price": np.round(rng.gamma(2.0, 40.0, m) + 1, 2),
                "status": status,
                "channel": rng.choice(np.array(["APP", "小程序", "网页"]), m),
            }
        ).with_columns(
            pl.format("O{}", pl.col("order_id")).alias("order_id"),
            pl.format("U{}", pl.col("user_id").cast(pl.String).str.zfill(7)).alias("user_id"),
            pl.format("SKU{}", pl.col("sku").cast(pl.String).str.zfill(4)).alias("sku"),
            pl.col("ts").dt.replace_time_zone("UTC"),
        )
        table = frame.to_arrow()
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema, compression="zstd")
        writer.write_table(table)
        total += m
    assert writer is not None
    writer.close()
    return total


def products(path: Path) -> None:
    cats = [f"品类{i:02d}" for i in range(20)]
    pl.DataFrame(
        {
            "sku": [f"SKU{i:04d}" for i in range(500)],
            "category_l1": [cats[i % 20] for i in range(500)],
            "brand": [f"品牌{i % 37}" for i in range(500)],
        }
    ).write_parquet(path)


WRAP = """
import resource, runpy, sys
target, sys.argv = sys.argv[1], sys.argv[1:]
try:
    if target == "-m":
        sys.argv = sys.argv[1:]
        runpy.run_module(sys.argv[0], run_name="__main__")
    else:
        exec(compile(target, "<bench>", "exec"), {"__name__": "__main__"})
finally:
    sys.stderr.write(f"\\nPEAK_RSS_KIB {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}\\n")
"""


def child(args: list[str]) -> tuple[float, float, str]:
    """Run code (``["-c", CODE, ...]``) or a module (``["-m", NAME, ...]``) in a child python;
    (wall seconds, that child's own peak RSS in MiB, stdout)."""
    argv = args[1:] if args[0] == "-c" else args
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", WRAP, *argv], capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    marker = [line for line in done.stderr.splitlines() if line.startswith("PEAK_RSS_KIB ")]
    if done.returncode != 0 or not marker:
        raise SystemExit(f"child failed: {args[:2]}\n{done.stderr[-3000:]}")
    return wall, int(marker[-1].split()[1]) / 1024.0, done.stdout


PANDAS_RFM = """
import sys, time, pandas as pd
t = time.perf_counter()
df = pd.read_parquet(sys.argv[1], columns=["order_id", "user_id", "ts", "qty", "unit_price", "status"])
df = df[df["status"] == "paid"]
df["amount"] = df["qty"] * df["unit_price"]
end = df["ts"].max()
rfm = df.groupby("user_id").agg(last=("ts", "max"), frequency=("order_id", "nunique"), monetary=("amount", "sum"))
rfm["recency"] = (end - rfm["last"]).dt.days
print(len(rfm), time.perf_counter() - t)
"""

PER_ROW = """
import json, math, sys, time
import numpy as np, polars as pl
from scipy import special
from c2m_cli.labels.clv import BetaGeoModel
params = json.loads(sys.argv[2])
r, alpha, a, b = params["r"], params["alpha"], params["a"], params["b"]
labels = pl.read_parquet(sys.argv[1], columns=["value_frequency", "value_recency_weeks", "value_T_weeks"]).drop_nulls().head(20000)
x, tx, T = (labels[c].to_list() for c in ("value_frequency", "value_recency_weeks", "value_T_weeks"))
t = 52.18
def one(x, tx, T):  # lifetimes-style: scalar closed forms, one customer per call
    hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + T + t))
    first = (a + b + x - 1) / (a - 1)
    second = 1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp
    delta = 1 if x > 0 else 0
    denom = 1 + delta * (a / (b + x - 1)) * ((alpha + T) / (alpha + tx)) ** (r + x)
    return first * second / denom
start = time.perf_counter()
slow = [one(*row) for row in zip(x, tx, T)]
per_row = time.perf_counter() - start
model = BetaGeoModel(); model.r_, model.alpha_, model.a_, model.b_ = r, alpha, a, b
start = time.perf_counter()
fast = model.expected_purchases(t, np.array(x), np.array(tx), np.array(T))
vector = time.perf_counter() - start
assert np.allclose(np.array(slow), fast, rtol=1e-6, atol=1e-9), "per-row and vectorised disagree"
print(len(x), per_row, vector)
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, default=None, help="generate into / reuse this workspace")
    args = parser.parse_args(argv)
    if args.keep is not None:
        return measure(args.keep, args.users)
    with tempfile.TemporaryDirectory(prefix="c2m-label-bench-") as tmp:  # removed afterwards
        return measure(Path(tmp), args.users)


def measure(root: Path, users: int) -> int:
    root.mkdir(parents=True, exist_ok=True)
    orders = root / "orders.parquet"
    started = time.perf_counter()
    if not orders.exists():
        lines = generate(orders, users)
        products(root / "products.parquet")
    else:
        lines = pq.ParquetFile(orders).metadata.num_rows
    gen_s = time.perf_counter() - started
    size_mb = orders.stat().st_size / 2**20
    print(f"data: {users:,} users, {lines:,} order lines, {size_mb:,.0f} MiB parquet (generated in {gen_s:.0f} s)")
    print(f"machine: {os.cpu_count()} cores")

    wall, rss, out = child(["-m", "c2m_cli", "label", str(root), "--json", "--quiet"])
    summary = json.loads(out)
    print(f"c2m label: {wall:.1f} s wall, {lines / wall:,.0f} order lines/s, {summary['users'] / wall:,.0f} users/s, peak RSS {rss:,.0f} MiB")
    print(f"  lifecycle {summary['lifecycle']}; BG/NBD {summary['bgnbd']}; Gamma-Gamma {summary['gamma_gamma']}")
    model = json.loads((root / "value_model.json").read_text(encoding="utf-8"))
    print(f"  partitions {model['partitions']}, fitted on {model['fit_customers']:,} of {model['customers']:,} customers")

    p_wall, p_rss, p_out = child(["-c", PANDAS_RFM, str(orders)])
    p_users, p_compute = p_out.split()
    print(
        f"pandas groupby RFM (3 columns, nothing else): {p_wall:.1f} s wall ({float(p_compute):.1f} s compute), "
        f"{lines / p_wall:,.0f} lines/s, peak RSS {p_rss:,.0f} MiB"
    )
    print(
        f"  ratio c2m label / pandas RFM: time ×{wall / p_wall:.2f}, peak memory ×{rss / p_rss:.2f} "
        f"(c2m computes ~100 label columns, pandas 3)"
    )
    _, _, r_out = child(["-c", PER_ROW, str(root / "labels.parquet"), json.dumps(model["bgnbd"])])
    n, per_row, vector = r_out.split()
    n_i, per_row_s, vector_s = int(n), float(per_row), float(vector)
    print(
        f"BG/NBD scoring of {n_i:,} customers: per-row (lifetimes-style) {n_i / per_row_s:,.0f} rows/s, "
        f"vectorised {n_i / max(vector_s, 1e-9):,.0f} rows/s: ×{per_row_s / max(vector_s, 1e-9):,.0f}; "
        f"per-row for {summary['users']:,} users would take {summary['users'] * per_row_s / n_i:,.0f} s"
    )
    print(f"memory bound: the order lines alone as an in-memory frame would be ≈ {lines * 110 / 2**20:,.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
