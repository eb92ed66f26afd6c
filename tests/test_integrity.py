"""The workspace keeps its promises under concurrency, kills and re-ingests (through the real CLI)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from contract_fixtures import orders_csv, shop_orders

from c2m_cli.workspace import sha256_of


def _ingested(c2m, tmp_path: Path, users: int = 40) -> Path:
    (tmp_path / "orders.csv").write_text(orders_csv(shop_orders(users, weeks=30)), encoding="utf-8")
    done = c2m("ingest", tmp_path / "ws", "--orders", tmp_path / "orders.csv")
    assert done.exit_code == 0, done.stderr
    return tmp_path / "ws"


def _steps(ws: Path) -> list[dict]:
    return json.loads((ws / "manifest.json").read_text(encoding="utf-8"))["steps"]


def test_re_ingest_then_a_later_step_exits_4_naming_the_command(c2m, tmp_path):
    ws = _ingested(c2m, tmp_path)
    assert c2m("label", ws).exit_code == 0
    (tmp_path / "orders.csv").write_text(orders_csv(shop_orders(40, seed=5, weeks=30)), encoding="utf-8")
    assert c2m("ingest", ws, "--orders", tmp_path / "orders.csv").exit_code == 0
    result = c2m("segment", ws)
    assert result.exit_code == 4
    assert result.stderr.splitlines()[0] == f"Error: labels.parquet is older than orders.parquet: run c2m label {ws}"
    assert c2m("label", ws).exit_code == 0  # the named command makes the workspace current again
    again = c2m("segment", ws, "--k", "2")
    assert "older than" not in again.stderr


def test_four_commands_at_once_lose_no_manifest_entry(tmp_path, c2m):
    ws = _ingested(c2m, tmp_path)
    commands = [
        ["label", str(ws)],
        ["label", str(ws), "--as-of", "2024-06-30"],
        ["forecast", str(ws), "--horizon", "2", "--levels", "total"],
        ["forecast", str(ws), "--horizon", "3", "--levels", "total"],
    ]
    running = [
        subprocess.Popen([sys.executable, "-m", "c2m_cli", *argv, "--quiet"], stderr=subprocess.PIPE, text=True)
        for argv in commands
    ]
    for process in running:
        _, err = process.communicate(timeout=600)
        assert process.returncode == 0, err
    steps = _steps(ws)
    assert sorted(s["command"] for s in steps) == ["forecast", "forecast", "ingest", "label", "label"]
    assert sorted(s["parameters"].get("horizon") for s in steps if s["command"] == "forecast") == [2, 3]
    assert [p.name for p in ws.iterdir() if p.name.startswith(".")] == []
    # the files on disk are those of the latest entry that wrote them
    for name in ("labels.parquet", "forecast.parquet"):
        latest = [o for s in steps for o in s["outputs"] if o["path"] == name][-1]
        assert sha256_of(ws / name) == latest["sha256"]


def test_kill_9_mid_step_leaves_previous_outputs_and_the_next_run_clears_the_litter(tmp_path, c2m):
    ws = _ingested(c2m, tmp_path, users=400)
    assert c2m("label", ws).exit_code == 0
    before = {p: sha256_of(ws / p) for p in ("labels.parquet", "tags.parquet", "manifest.json")}
    process = subprocess.Popen(
        [sys.executable, "-m", "c2m_cli", "label", str(ws), "--as-of", "2024-06-30", "--quiet"],
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while not any(p.name.startswith(".staging-label-") for p in ws.iterdir()):
        assert process.poll() is None, "label finished before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.005)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    litter = [p.name for p in ws.iterdir() if p.name.startswith(".")]
    assert litter and all(name.startswith(".staging-label-") for name in litter)
    assert {p: sha256_of(ws / p) for p in before} == before  # previous outputs and manifest intact
    rerun = c2m("label", ws, "--json")
    assert rerun.exit_code == 0, rerun.stderr
    cleared = [w for w in rerun.json["warnings"] if w["code"] == "stale-staging-cleared"]
    assert len(cleared) == 1 and cleared[0]["message"].startswith("removed 1 staging item(s) left by an interrupted run: .staging-label-")
    assert [p.name for p in ws.iterdir() if p.name.startswith(".")] == []


def test_demo_refuses_an_ingested_workspace_and_leaves_it_untouched(c2m, tmp_path):
    ws = _ingested(c2m, tmp_path)
    before = {p.name: sha256_of(p) for p in ws.rglob("*") if p.is_file()}
    result = c2m("demo", ws, "--users", "100")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == (
        f"Error: workspace {ws} holds the results of c2m ingest, not of an earlier demo: "
        "c2m demo would overwrite them; give it a new or empty directory"
    )
    assert {p.name: sha256_of(p) for p in ws.rglob("*") if p.is_file()} == before
    stray = tmp_path / "notes"
    stray.mkdir()
    (stray / "plan.txt").write_text("mine", encoding="utf-8")
    refused = c2m("demo", stray, "--users", "100")
    assert refused.exit_code == 2
    assert "holds plan.txt, which no earlier demo wrote" in refused.stderr
    assert (stray / "plan.txt").read_text(encoding="utf-8") == "mine"


def test_files_written_by_the_chain_follow_the_umask(c2m, tmp_path):
    import stat

    old = os.umask(0o022)
    try:
        ws = _ingested(c2m, tmp_path)
        assert c2m("label", ws).exit_code == 0
    finally:
        os.umask(old)
    modes = {p.relative_to(ws).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in ws.rglob("*")}
    assert modes and {m for p, m in modes.items() if (ws / p).is_file()} == {0o644}, modes
    assert {m for p, m in modes.items() if (ws / p).is_dir()} <= {0o755}, modes
