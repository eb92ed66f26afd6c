"""The whole chain on a synthetic shop of 50 million order lines, against a 24 GiB machine.

Budget (issue 17): every step at most 6 GiB peak RSS; wall time per step printed. The world is
generated here in streaming chunks of users (numpy → one Parquet writer per table, so generation
itself stays small): two years of orders (Asia/Shanghai), 1 + Poisson(7) orders per user and
1 + Poisson(1.5) lines per order (≈ 20 lines per user), 3 % returns and 2 % cancellations,
5,000 SKUs in 40 categories with names and brands, about two search/view events per user and a
review for one order in ten (texts drawn from the real reviews in ../shared/data/reviews_zh when
present, otherwise from a few plain sentences). Then each step runs as the real CLI in its own
child process (benchmarks/measure.py). Reference measured in the same run: an eager polars read
of the order lines with a per-user group-by (RFM); the ingest and label times are printed as
ratios to it.

    .venv/bin/python benchmarks/scale.py                   # 50,000,000 lines (about an hour of CPU here:
                                                           # label and recommend ≈ 1,000 s each)
    .venv/bin/python benchmarks/scale.py --lines 2000000   # a quick run
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import Run, run_chain, table  # noqa: E402

CHUNK_USERS = 50_000
START = np.datetime64("2023-12-01T00:00:00", "s")
DAYS = 730
SKUS = 5_000
CATEGORIES = ("笔记本电脑", "手机", "奶粉", "纸尿裤", "面霜", "洗发水", "猫粮", "狗粮", "零食", "咖啡",
              "茶叶", "白酒", "运动鞋", "羽绒服", "T恤", "牛仔裤", "耳机", "平板", "显示器", "键盘",
              "鼠标", "路由器", "电饭煲", "空气炸锅", "洗衣液", "牙膏", "面膜", "口红", "香水", "维生素",
              "蛋白粉", "书籍", "玩具", "积木", "童装", "床品", "毛巾", "行李箱", "背包", "手表")
SHARED_REVIEWS = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "reviews_zh" / "reviews.csv"
RSS_BUDGET_GIB = 6.0


def products_table(path: Path) -> None:
    idx = np.arange(SKUS)
    cats = np.array(CATEGORIES)[idx % len(CATEGORIES)]
    pl.DataFrame({
        "sku": [f"SKU{i:05d}" for i in idx],
        "name": [f"{c}{i:05d}号" for c, i in zip(cats, idx, strict=True)],
        "category_l1": cats,
        "brand": [f"品牌{i % 97:02d}" for i in idx],
        "list_price": np.round(20 + (idx % 50) * 19.9, 2),
    }).write_parquet(path)


def review_texts(rng: np.random.Generator) -> np.ndarray:
    if SHARED_REVIEWS.is_file():
        texts = pl.read_csv(SHARED_REVIEWS, columns=["text"])["text"].drop_nulls()
        return np.asarray(texts.sample(min(5000, texts.len()), seed=0).to_list(), dtype=object)
    return np.array(["质量很好，物流很快", "盖子太紧，很难打开", "电池不耐用", "性价比高，会回购"], dtype=object)


def generate(root: Path, lines_target: int, seed: int = 0) -> dict[str, int]:
    """Write orders/events/reviews Parquet files under ``root``; returns row counts."""
    rng = np.random.default_rng(seed)
    users = max(1, lines_target // 20)
    texts = review_texts(rng)
    writers: dict[str, pq.ParquetWriter] = {}
    counts = {"orders": 0, "events": 0, "reviews": 0, "users": users}

    def write(name: str, frame: pl.DataFrame) -> None:
        arrow = frame.to_arrow()
        if name not in writers:
            writers[name] = pq.ParquetWriter(root / f"{name}.parquet", arrow.schema, compression="zstd")
        writers[name].write_table(arrow)
        counts[name] += frame.height

    for first in range(0, users, CHUNK_USERS):
        n = min(CHUNK_USERS, users - first)
        uid = np.arange(first, first + n)
        taste = rng.integers(0, len(CATEGORIES), n)  # each user leans to one category
        orders = 1 + rng.poisson(7, n)
        o_user = np.repeat(uid, orders)
        born = rng.integers(0, DAYS - 30, n)
        span = DAYS - born
        local = o_user - first
        o_day = born[local] + (rng.random(o_user.size) * span[local]).astype(np.int64)
        o_sec = o_day * 86400 + rng.integers(0, 86400, o_user.size)
        o_id = np.arange(o_user.size) + counts["orders"]
        per_order = 1 + rng.poisson(1.5, o_user.size)
        l_order = np.repeat(np.arange(o_user.size), per_order)
        m = l_order.size
        lean = rng.random(m) < 0.6
        cat = np.where(lean, taste[local[l_order]], rng.integers(0, len(CATEGORIES), m))
        sku = cat + len(CATEGORIES) * rng.integers(0, SKUS // len(CATEGORIES), m)
        status = rng.choice(np.array(["paid", "returned", "cancelled"]), m, p=[0.95, 0.03, 0.02])
        ts = (START + o_sec[l_order].astype("timedelta64[s]")).astype("datetime64[us]")
        write("orders", pl.DataFrame({
            "order_id": o_id[l_order], "user_id": o_user[l_order], "sku": sku, "ts": ts,
            "qty": rng.integers(1, 4, m).astype(np.float64),
            "unit_price": np.round(rng.gamma(2.0, 40.0, m) + 1, 2),
            "status": status,
            "channel": rng.choice(np.array(["APP", "小程序", "网页", "直播"]), m),
        }).with_columns(
            pl.format("O{}", "order_id").alias("order_id"),
            pl.format("U{}", pl.col("user_id").cast(pl.String).str.zfill(8)).alias("user_id"),
            pl.format("SKU{}", pl.col("sku").cast(pl.String).str.zfill(5)).alias("sku"),
            pl.col("ts").dt.replace_time_zone("UTC"),
        ))
        e_n = rng.poisson(2, n)
        e_user = np.repeat(uid, e_n)
        e_cat = np.where(rng.random(e_user.size) < 0.7, taste[e_user - first], rng.integers(0, len(CATEGORIES), e_user.size))
        e_sec = rng.integers(0, DAYS * 86400, e_user.size)
        write("events", pl.DataFrame({
            "user_id": e_user,
            "ts": (START + e_sec.astype("timedelta64[s]")).astype("datetime64[us]"),
            "event": rng.choice(np.array(["search", "view"]), e_user.size, p=[0.5, 0.5]),
            "query": np.array(CATEGORIES)[e_cat],
        }).with_columns(
            pl.format("U{}", pl.col("user_id").cast(pl.String).str.zfill(8)).alias("user_id"),
            pl.col("ts").dt.replace_time_zone("UTC"),
        ))
        reviewed = np.flatnonzero(rng.random(o_user.size) < 0.1)
        r_line = np.searchsorted(l_order, reviewed)  # the first line of each reviewed order
        write("reviews", pl.DataFrame({
            "review_id": o_id[reviewed], "user_id": o_user[reviewed], "sku": sku[r_line],
            "ts": (START + (o_sec[reviewed] + 5 * 86400).astype("timedelta64[s]")).astype("datetime64[us]"),
            "rating": rng.integers(1, 6, reviewed.size),
            "text": texts[rng.integers(0, texts.size, reviewed.size)],
        }).with_columns(
            pl.format("R{}", "review_id").alias("review_id"),
            pl.format("U{}", pl.col("user_id").cast(pl.String).str.zfill(8)).alias("user_id"),
            pl.format("SKU{}", pl.col("sku").cast(pl.String).str.zfill(5)).alias("sku"),
            pl.col("ts").dt.replace_time_zone("UTC"),
        ))
    for writer in writers.values():
        writer.close()
    products_table(root / "products.parquet")
    return counts


def existing_counts(root: Path) -> dict[str, int]:
    """The table sizes of a world generated before (``--reuse``), from the Parquet footers."""
    counts = {t: pq.ParquetFile(root / f"{t}.parquet").metadata.num_rows for t in ("orders", "events", "reviews")}
    users = pl.scan_parquet(root / "orders.parquet").select(pl.col("user_id").n_unique()).collect().item()
    return {**counts, "users": int(users)}


def reference(orders: Path) -> float:
    started = time.perf_counter()
    frame = pl.read_parquet(orders, columns=["user_id", "order_id", "ts", "qty", "unit_price", "status"])
    rfm = frame.filter(pl.col("status") == "paid").group_by("user_id").agg(
        pl.col("ts").max(), pl.col("order_id").n_unique(), (pl.col("qty") * pl.col("unit_price")).sum()
    )
    assert rfm.height > 0
    return time.perf_counter() - started


STEPS = ("ingest", "label", "segment", "forecast", "recommend", "report")


def chain(data: Path, ws: Path, only: tuple[str, ...] = STEPS) -> list[Run]:
    steps: list[tuple[str, list[str | Path]]] = [
        ("ingest", [ws, "--orders", data / "orders.parquet", "--products", data / "products.parquet",
                    "--events", data / "events.parquet", "--reviews", data / "reviews.parquet",
                    "--timezone", "Asia/Shanghai"]),
        ("label", [ws]),
        ("segment", [ws, "--k", "auto"]),
        ("forecast", [ws, "--freq", "W", "--horizon", "8", "--levels", "total,category_l1,sku"]),
        ("recommend", [ws]),
        ("report", [ws]),
    ]
    return run_chain([s for s in steps if s[0] in only])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=50_000_000, help="target number of order lines")
    parser.add_argument("--keep", type=Path, default=None, help="generate into (and keep) this folder")
    parser.add_argument("--reuse", action="store_true",
                        help="with --keep: use the world already generated there (its workspace is rebuilt)")
    parser.add_argument("--steps", default=",".join(STEPS),
                        help="comma-separated steps to run (default: the whole chain; `none` stops after "
                             "generation); with --reuse, a list not starting at ingest reuses the workspace too")
    args = parser.parse_args(argv)
    only = tuple(s for s in args.steps.split(",") if s and s != "none")
    if unknown := [s for s in only if s not in STEPS]:
        parser.error(f"--steps: unknown step(s) {', '.join(unknown)}; choose from {', '.join(STEPS)}")
    with tempfile.TemporaryDirectory(prefix="c2m-scale-") as tmp:
        root = args.keep or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        if args.reuse and args.keep and (root / "products.parquet").is_file():
            counts = existing_counts(root)
            if "ingest" in only:
                shutil.rmtree(root / "ws", ignore_errors=True)
        else:
            counts = generate(root, args.lines)
        sys.stderr.write(f"generated {counts} in {time.perf_counter() - started:.0f} s\n")
        if not only:
            return 0
        ref = reference(root / "orders.parquet")
        runs = chain(root, root / "ws", only)
    print(table(f"Synthetic shop: {counts['orders']:,} order lines, {counts['users']:,} users, "
                f"{counts['events']:,} events, {counts['reviews']:,} reviews", runs,
                wall_budget_s=None, rss_budget_gib=RSS_BUDGET_GIB))
    by_step = {r.step: r for r in runs}
    ratios = ", ".join(f"{s} ×{by_step[s].wall_s / ref:.1f}" for s in ("ingest", "label", "segment") if s in by_step)
    print(f"reference (eager polars read + per-user RFM group-by): {ref:.1f} s; {ratios}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
