"""Report size and render time on a workspace (default: a fresh 2,000-user synthetic world).

Usage: python benchmarks/report.py [WORKSPACE]
Prints the render time as a ratio of a reference measured in the same run (one full scan of
orders.parquet), the page size, and whether the targets hold (< 5 MB, < 10 s).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import polars as pl

from c2m_cli.report import run_report
from c2m_cli.workspace import Workspace


def build_world(root: Path) -> Workspace:
    from c2m_cli.forecast import run_forecast
    from c2m_cli.labels import run_label
    from c2m_cli.recommend import run_recommend
    from c2m_cli.segment import run_segment
    from c2m_cli.synth import generate_world

    ws = Workspace(root)
    generate_world(ws, users=2000, seed=0)
    for run in (run_label, run_segment, run_forecast, run_recommend):
        run(ws)
    return ws


def main() -> None:
    if len(sys.argv) > 1:
        measure(Workspace(sys.argv[1], create=False))
        return
    with tempfile.TemporaryDirectory(prefix="c2m-bench-report-") as tmp:  # removed afterwards
        measure(build_world(Path(tmp) / "ws"))


def measure(ws: Workspace) -> None:
    started = time.perf_counter()
    if ws.has("orders"):
        pl.scan_parquet(ws.table_path("orders")).select(pl.all().n_unique()).collect()
    reference = time.perf_counter() - started
    started = time.perf_counter()
    summary = run_report(ws)
    seconds = time.perf_counter() - started
    size = summary["bytes"]
    print(f"language         {summary['lang']}; sections {len(summary['sections'])}, waiting {summary['missing']}")
    print(f"report size      {size / 1e6:.3f} MB (target < 5 MB: {'ok' if size < 5e6 else 'FAIL'})")
    print(f"render time      {seconds:.2f} s (target < 10 s: {'ok' if seconds < 10 else 'FAIL'})")
    print(f"reference        {reference:.2f} s (one scan of orders); ratio {seconds / max(reference, 1e-9):.1f}x")


if __name__ == "__main__":
    main()
