"""Synthetic world generation: wall time and peak memory for 20,000 and 200,000 users.

Each size runs in a fresh process (so peak RSS is that size's own); times are also shown as a
ratio to the 20k run of the same invocation. Target: 20k ≲ 20 s, 200k with peak RSS < 4 GiB.
Usage: python benchmarks/synth.py [USERS ...]
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile

CHILD = r"""
import json, resource, sys, time
from c2m_cli.synth import generate_world
from c2m_cli.workspace import Workspace
users, root = int(sys.argv[1]), sys.argv[2]
started = time.perf_counter()
summary = generate_world(Workspace(root), users=users, seed=0)
seconds = time.perf_counter() - started
peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"users": users, "seconds": seconds, "peak_mib": peak_kib / 1024, "rows": summary["rows"]}))
"""


def main(sizes: list[int]) -> int:
    results = []
    for users in sizes:
        with tempfile.TemporaryDirectory(prefix="c2m-bench-synth-") as root:
            done = subprocess.run(
                [sys.executable, "-c", CHILD, str(users), root], capture_output=True, text=True, check=False
            )
        if done.returncode != 0:
            print(done.stderr, file=sys.stderr)
            return 1
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    base = results[0]["seconds"]
    print(f"{'users':>9} {'seconds':>8} {'x first':>8} {'peak MiB':>9} {'order lines':>12} {'events':>10} {'reviews':>9}")
    ok = True
    for r in results:
        rows = r["rows"]
        print(
            f"{r['users']:>9,} {r['seconds']:>8.1f} {r['seconds'] / base:>8.2f} {r['peak_mib']:>9.0f} "
            f"{rows['orders']:>12,} {rows['events']:>10,} {rows['reviews']:>9,}"
        )
        if r["users"] >= 200_000 and r["peak_mib"] >= 4096:
            ok = False
            print(f"peak memory {r['peak_mib']:.0f} MiB is over the 4 GiB budget", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main([int(a) for a in sys.argv[1:]] or [20_000, 200_000]))
