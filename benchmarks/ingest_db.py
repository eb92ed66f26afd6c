"""Benchmark: ingest The Complete Journey's 1,469,307 transaction lines from PostgreSQL, next to
the Parquet ingest of the same rows.

Starts a throw-away PostgreSQL cluster on a free localhost port (tests/ingest/db_servers.py),
loads ../shared/data/completejourney/transactions.parquet into a table with COPY, then
measures, each in a fresh child process, wall time and peak RSS of

  * ``run_ingest`` of the Parquet file (``--preset completejourney``), and
  * ``run_ingest`` of ``postgresql://…?table=transactions`` (ADBC Arrow batches),

checks that both wrote the same orders table, and prints the ratios (DESIGN.md: database
reads stream in batches, peak memory within ~1.5x of the Parquet ingest). ``--mariadb`` adds
the same ingest from a throw-away MariaDB server.

    .venv/bin/python benchmarks/ingest_db.py [--rows N] [--mariadb]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DATA = ROOT.parent / "shared" / "data" / "completejourney" / "transactions.parquet"


def peak_rss_kib() -> int:
    """Peak RSS of this process since it started (VmHWM). ``ru_maxrss`` is not used: Linux
    carries it over from the forking parent, which holds the loaded rows."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def child(src: str, workspace: str) -> None:
    from c2m_cli.ingest import run_ingest
    from c2m_cli.workspace import Workspace

    started = time.perf_counter()
    summary = run_ingest(Workspace(workspace), {"orders": src}, preset="completejourney")
    wall = time.perf_counter() - started
    table = summary["tables"]["orders"]
    peak_kib = peak_rss_kib()
    sys.stdout.write(json.dumps({
        "rows": table["rows_in"], "written": table["rows_written"], "rejected": table["rows_rejected"],
        "wall_s": wall, "peak_rss_mib": peak_kib / 1024,
    }) + "\n")


def measure(src: str, workspace: Path) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "--child", src, str(workspace)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"ingest of {workspace.name} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=None, help="first N transaction lines (default: all)")
    parser.add_argument("--mariadb", action="store_true", help="also ingest from a MariaDB server")
    parser.add_argument("--child", nargs=2, metavar=("SRC", "WORKSPACE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    from tests.ingest.db_servers import find_mariadb, find_postgres, mariadb_server, postgres_server
    from tests.ingest.test_ingest_database import load_mysql, load_postgres

    if not DATA.exists():
        raise SystemExit(f"skipped: {DATA} is not present")
    bindir = find_postgres()
    if bindir is None:
        raise SystemExit("skipped: PostgreSQL server binaries are not installed (make databases)")
    tmp = Path(tempfile.mkdtemp(prefix="c2m-bench-ingest-db-", dir="/tmp"))
    try:
        frame = pl.read_parquet(DATA, n_rows=args.rows)
        src = tmp / "transactions.parquet"
        frame.write_parquet(src)
        results: dict[str, dict] = {"parquet": measure(str(src), tmp / "ws-parquet")}
        with postgres_server(bindir) as server:
            started = time.perf_counter()
            load_postgres(server, "transactions", frame)
            print(f"loaded {frame.height:,} lines into PostgreSQL in {time.perf_counter() - started:.1f} s")
            results["postgresql"] = measure(server.uri(table="transactions"), tmp / "ws-postgresql")
        binaries = find_mariadb() if args.mariadb else None
        if binaries is not None:
            with mariadb_server(binaries) as server:
                started = time.perf_counter()
                load_mysql(server, "transactions", frame)
                print(f"loaded {frame.height:,} lines into MariaDB in {time.perf_counter() - started:.1f} s")
                columns = ", ".join(frame.columns)
                query = f"SELECT {columns} FROM transactions ORDER BY _row_no"
                results["mariadb"] = measure(server.uri(query=query), tmp / "ws-mariadb")
        del frame
        reference = pl.read_parquet(tmp / "ws-parquet" / "orders.parquet")
        base = results["parquet"]
        print(f"{'':22}{'lines':>12}{'written':>12}{'wall s':>9}{'peak RSS MiB':>15}{'wall x':>8}{'RSS x':>8}{'same rows':>11}")
        for name, result in results.items():
            same = pl.read_parquet(tmp / f"ws-{name}" / "orders.parquet").equals(reference)
            print(
                f"{name + ' ingest':22}{result['rows']:>12,}{result['written']:>12,}{result['wall_s']:>9.1f}"
                f"{result['peak_rss_mib']:>15,.0f}{result['wall_s'] / base['wall_s']:>8.2f}"
                f"{result['peak_rss_mib'] / base['peak_rss_mib']:>8.2f}{str(same):>11}"
            )
        ratio = results["postgresql"]["peak_rss_mib"] / base["peak_rss_mib"]
        print(f"PostgreSQL peak RSS within 1.5x of the Parquet ingest: {ratio <= 1.5} ({ratio:.2f}x)")
        print("(2 shared cores: other work on the machine inflates wall times)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
