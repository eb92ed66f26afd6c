"""Shared by the chain benchmarks: run one `c2m` command in a child process, measure it.

Each command runs in its own child, so its peak RSS (``ru_maxrss`` from ``os.wait4``) is its own,
not the benchmark's. Not a benchmark itself (``make bench`` skips files starting with ``measure``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class Run:
    step: str
    wall_s: float
    peak_mib: float
    summary: dict[str, Any]


# Runs c2m in the child and records the child's own VmHWM at exit. ru_maxrss from wait4 is not
# used: Linux carries the forking parent's high-water mark over exec into it.
_WRAP = """
import os, runpy, sys
sys.argv = ["c2m", *sys.argv[1:]]
try:
    runpy.run_module("c2m_cli", run_name="__main__")
finally:
    with open("/proc/self/status", encoding="ascii") as status:
        hwm = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    with open(os.environ["C2M_BENCH_HWM_FILE"], "w", encoding="ascii") as out:
        out.write(hwm)
"""


def run_c2m(step: str, *args: str | Path, env: dict[str, str] | None = None) -> Run:
    """``c2m STEP ARGS --json --quiet`` in a child python; wall time and its peak RSS (VmHWM)."""
    argv = [sys.executable, "-c", _WRAP, step, *map(str, args), "--json", "--quiet"]
    with tempfile.TemporaryDirectory(prefix="c2m-bench-") as tmp:
        hwm_file = Path(tmp) / "hwm"
        started = time.perf_counter()
        done = subprocess.run(
            argv, capture_output=True, text=True, check=False,
            env={**os.environ, **(env or {}), "C2M_BENCH_HWM_FILE": str(hwm_file)},
        )
        wall = time.perf_counter() - started
        peak_kib = int(hwm_file.read_text(encoding="ascii")) if hwm_file.is_file() else 0
    if done.returncode not in (0, 6):
        raise SystemExit(f"c2m {step} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    text = done.stdout.strip()
    summary = json.loads(text.splitlines()[-1]) if text else {}
    return Run(step, wall, peak_kib / 1024.0, summary)


def run_chain(steps: list[tuple[str, list[str | Path]]]) -> list[Run]:
    """Run the steps in order, each in its own child; progress on stderr."""
    runs = []
    for step, args in steps:
        runs.append(run_c2m(step, *args))
        sys.stderr.write(f"  {step}: {runs[-1].wall_s:.1f} s, {runs[-1].peak_mib:.0f} MiB\n")
    return runs


def table(title: str, runs: list[Run], *, wall_budget_s: float | None, rss_budget_gib: float) -> str:
    """A plain-text table of the runs against their budgets, and a verdict line."""
    lines = [title, f"{'step':<11}{'wall s':>9}{'peak MiB':>11}{'of budget':>11}"]
    for run in runs:
        share = run.peak_mib / (rss_budget_gib * 1024)
        lines.append(f"{run.step:<11}{run.wall_s:>9.1f}{run.peak_mib:>11.0f}{share:>10.0%} ")
    total = sum(r.wall_s for r in runs)
    worst = max(r.peak_mib for r in runs)
    lines.append(f"{'total':<11}{total:>9.1f}{worst:>11.0f}")
    verdicts = [f"max peak {worst / 1024:.2f} GiB vs budget {rss_budget_gib:g} GiB "
                f"({'met' if worst <= rss_budget_gib * 1024 else 'NOT met'})"]
    if wall_budget_s is not None:
        verdicts.append(f"wall {total:.1f} s vs budget {wall_budget_s:g} s (ratio {total / wall_budget_s:.2f}, "
                        f"{'met' if total <= wall_budget_s else 'NOT met'})")
    return "\n".join(lines + verdicts)
