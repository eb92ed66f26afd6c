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


def run_c2m(step: str, *args: str | Path, env: dict[str, str] | None = None) -> Run:
    """``python -m c2m_cli STEP ARGS --json --quiet`` in a child; wall time and its peak RSS."""
    argv = [sys.executable, "-m", "c2m_cli", step, *map(str, args), "--json", "--quiet"]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, env={**os.environ, **(env or {})})
        # wait4 reaps the child and gives its own resource usage (ru_maxrss in KiB on Linux)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = code = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        text, problems = out.read().decode(), err.read().decode()
    if code != 0:
        raise SystemExit(f"c2m {step} failed (exit {code}):\n{problems[-3000:]}")
    summary = json.loads(text.strip().splitlines()[-1]) if text.strip() else {}
    return Run(step, wall, usage.ru_maxrss / 1024.0, summary)


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
