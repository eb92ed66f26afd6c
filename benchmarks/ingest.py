"""Benchmark: ingest a 10-million-line orders CSV, next to an eager ``polars.read_csv`` of it.

Generates the CSV (Chinese status values, ``¥1,299.00`` prices, ``2024/11/11 20:15:00`` times,
a few bad rows and duplicates) in a temporary directory under /tmp, then measures, each in a
fresh child process, wall time and peak RSS of

  * ``c2m ingest`` (lazy scan + streaming sinks, full coercion and exact rejects), and
  * a plain eager ``pl.read_csv`` of the same file (no coercion at all),

and prints both with their ratios. Peak memory is the child's own VmHWM (/proc/self/status)
read at its end, as benchmarks/measure.py measures every c2m step (ru_maxrss is not used: Linux
carries the forking parent's high-water mark over exec into the child). The file is deleted
afterwards.

    .venv/bin/python benchmarks/ingest.py [--lines 10000000] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

STATUS = ["交易成功", "交易成功", "交易成功", "交易关闭", "退款成功", "预售"]


def generate(path: Path, lines: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    chunk = 1_000_000
    start = np.datetime64("2023-01-01T00:00:00")
    with path.open("wb") as handle:
        written = 0
        while written < lines:
            n = min(chunk, lines - written)
            ids = np.arange(written, written + n)
            price = np.round(rng.lognormal(4.0, 1.2, n), 2)
            ts = (start + rng.integers(0, 730 * 86400, n).astype("timedelta64[s]")).astype("datetime64[ms]")
            index = pl.Series("i", ids)
            frame = pl.DataFrame({
                "订单编号": pl.Series(ids // 3).cast(pl.String),
                "买家会员名": pl.Series(rng.integers(0, 2_000_000, n)).cast(pl.String),
                "商品编码": pl.Series(rng.integers(0, 50_000, n)).cast(pl.String),
                "下单时间": pl.Series(ts).dt.strftime("%Y/%m/%d %H:%M:%S"),
                "购买数量": rng.integers(1, 5, n),
                "单价": pl.Series(price),
                "订单状态": pl.Series(np.array(STATUS)[rng.integers(0, len(STATUS), n)]),
            }).with_columns(pl.format("¥{}", pl.col("单价")).alias("单价"))
            # per 100,000 lines: one impossible date, one price "面议" and two exact duplicates
            frame = frame.with_columns(
                pl.when(index % 100_000 == 7).then(pl.lit("2023/02/30 10:00:00")).otherwise(pl.col("下单时间")).alias("下单时间"),
                pl.when(index % 100_000 == 11).then(pl.lit("面议")).otherwise(pl.col("单价")).alias("单价"),
            )
            frame = frame.with_columns(
                pl.when(index % 50_000 == 4).then(pl.all().shift(1)).otherwise(pl.all())
            )
            frame.write_csv(handle, include_header=written == 0)
            written += n


def own_peak_mib() -> float:
    """This process's peak resident set (VmHWM), the measure benchmarks/measure.py uses."""
    with open("/proc/self/status", encoding="ascii") as status:
        kib = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    return kib / 1024


def child(kind: str, csv_path: str, workspace: str) -> None:
    # Libraries are imported before the clock starts, for both (polars at the top of this file);
    # the eager child does not import c2m (its peak memory is polars' alone).
    if kind != "eager":
        from c2m_cli.ingest import run_ingest
        from c2m_cli.workspace import Workspace
    started = time.perf_counter()
    cpu_started = time.process_time()  # all threads of this process: less sensitive to load
    if kind == "eager":
        frame = pl.read_csv(csv_path, infer_schema_length=10_000)
        rows = frame.height
        extra: dict = {}
    else:
        summary = run_ingest(Workspace(workspace), {"orders": csv_path}, timezone="Asia/Shanghai")
        table = summary["tables"]["orders"]
        rows = table["rows_in"]
        extra = {k: table[k] for k in ("rows_written", "rows_rejected", "duplicates", "reject_reasons")}
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    sys.stdout.write(json.dumps(
        {"kind": kind, "rows": rows, "wall_s": wall, "cpu_s": cpu, "peak_rss_mib": own_peak_mib(), **extra}
    ) + "\n")


def measure(kind: str, csv_path: Path, workspace: Path) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(csv_path), str(workspace)],
        capture_output=True, text=True, check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{kind} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=10_000_000, help="data lines to generate")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--child", nargs=3, metavar=("KIND", "CSV", "WORKSPACE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    tmp = Path(tempfile.mkdtemp(prefix="c2m-bench-ingest-", dir="/tmp"))
    try:
        csv_path = tmp / "orders.csv"
        started = time.perf_counter()
        generate(csv_path, args.lines)
        size_mib = csv_path.stat().st_size / 2**20
        print(f"generated {args.lines:,} lines ({size_mib:,.0f} MiB) in {time.perf_counter() - started:.1f} s")
        eager = measure("eager", csv_path, tmp / "unused")
        ingest = measure("ingest", csv_path, tmp / "ws")
        for result in (eager, ingest):
            result["rows_per_s"] = result["rows"] / result["wall_s"]
        print(f"{'':28}{'wall s':>10}{'cpu s':>8}{'rows/s':>14}{'peak RSS MiB':>15}")
        for label, r in (("polars.read_csv (eager)", eager), ("c2m ingest (streaming)", ingest)):
            print(f"{label:28}{r['wall_s']:>10.1f}{r['cpu_s']:>8.1f}{r['rows_per_s']:>14,.0f}{r['peak_rss_mib']:>15,.0f}")
        print(
            f"ratios ingest/eager: wall {ingest['wall_s'] / eager['wall_s']:.2f}x,"
            f" cpu {ingest['cpu_s'] / eager['cpu_s']:.2f}x,"
            f" peak RSS {ingest['peak_rss_mib'] / eager['peak_rss_mib']:.2f}x"
        )
        print(
            f"accounting: {ingest['rows']:,} in = {ingest['rows_written']:,} written"
            f" + {ingest['rows_rejected']:,} rejected ({ingest['duplicates']:,} duplicates);"
            f" reasons {ingest['reject_reasons']}"
        )
        print(f"peak RSS under 2 GiB: {ingest['peak_rss_mib'] < 2048}")
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"load average at the end: {load} (other work on the machine inflates wall times)")
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
