"""Reproducibility: replay a workspace's latest recorded steps elsewhere and compare outputs.

``c2m verify`` replays, into a scratch workspace, the latest entry of each step in chain order
(ingest or demo, label, segment, forecast, recommend, report; superseded entries are not
replayed; the steps a demo ran are replayed by replaying the demo). The scratch workspace has a
fixed name, so neither the workspace's name (``label``, ``demo``) nor its location matters: a
renamed copy verifies. Every output the replayed entries recorded is then compared three ways:
on disk now, recorded in the manifest, produced by the replay. A file missing from the
workspace, a file changed behind c2m's back, a replay that fails or gives other bytes is exit 5
with one line naming the file and why; an input recorded outside the workspace (a source file, a
mapping) that changed since is given as the reason.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from c2m_cli.errors import InvalidDataError, ReproducibilityError, UsageError
from c2m_cli.workspace import Workspace, sha256_of

# Outputs whose bytes legitimately differ run to run (the manifest itself records wall times).
_NOT_COMPARED = {"manifest.json"}
CHAIN_RANK = {"ingest": 0, "demo": 0, "synth": 0, "label": 1, "segment": 2, "forecast": 3, "recommend": 4, "report": 5}
SCRATCH_NAME = "workspace"
_OUTPUT_FLAGS = {"--json", "--verbose", "-v", "--quiet", "-q", "--strict"}


def _key(entry: dict[str, Any]) -> tuple[str, bool]:
    """Which step an entry is: its command (segment's --assign mode is a step of its own)."""
    return str(entry.get("command")), bool((entry.get("parameters") or {}).get("assign"))


def replay_plan(manifest: dict[str, Any]) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """(entry to replay, the entries its replay reproduces) for the latest entry of each step."""
    steps = list(manifest.get("steps", []))
    latest: dict[tuple[str, bool], int] = {}
    for index, entry in enumerate(steps):
        if entry.get("argv") and not entry.get("via"):
            latest[_key(entry)] = index
    chosen = sorted(latest.values(), key=lambda i: (CHAIN_RANK.get(str(steps[i].get("command")), 9), i))
    plan = []
    for index in chosen:
        entry = steps[index]
        covered = [entry]
        if entry.get("command") == "demo":  # the chain steps this demo ran (recorded with via="demo")
            start = max((i for i, e in enumerate(steps[:index]) if e.get("command") == "demo" and not e.get("via")), default=-1)
            earlier = [e for i, e in enumerate(steps[:index]) if i > start and e.get("via") == "demo"]
            covered = [*earlier, entry]
        plan.append((entry, covered))
    return plan


def replayable_steps(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """The entries ``c2m verify`` replays, in replay order."""
    return [entry for entry, _ in replay_plan(manifest)]


def _input_reasons(entry: dict[str, Any], expected: dict[str, str], root: Path) -> list[str]:
    """Why an entry's replay may differ: an input that changed since the entry recorded it."""
    reasons = []
    command = entry.get("command")
    for record in entry.get("inputs", []):
        name, digest = str(record.get("path")), record.get("sha256")
        if digest is None:
            continue
        if os.path.isabs(name):
            path = Path(name)
            if not path.is_file():
                reasons.append(f"input {name} of c2m {command} no longer exists")
            elif sha256_of(path) != digest:
                reasons.append(f"input {name} changed since c2m {command} recorded it")
        elif name in expected and expected[name] != digest:
            reasons.append(f"c2m {command} read an older {name} than the one now recorded")
    return reasons


def _replay_argv(entry: dict[str, Any], scratch_root: Path, root: Path) -> list[str]:
    argv = []
    for arg in entry["argv"]:
        if arg == "{workspace}":
            argv.append(str(scratch_root))
        elif arg.startswith("{workspace}/"):  # a file inside the workspace: read from the original
            argv.append(str(root / arg[len("{workspace}/") :]))
        elif arg not in _OUTPUT_FLAGS:
            argv.append(arg)
    return [*argv, "--json", "--quiet"]


def _error_line(done: subprocess.CompletedProcess[str]) -> str:
    """The replayed command's own error message (from its --json error object)."""
    for line in reversed(done.stdout.strip().splitlines()):
        try:
            payload = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(payload, dict) and payload.get("error"):
            return str(payload["error"])
    for line in done.stderr.splitlines():
        if line.startswith("Error:"):
            return line[len("Error:") :].strip()
    lines = [line for line in done.stderr.splitlines() if any(ch.isalnum() for ch in line)]
    return lines[-1].strip() if lines else "(no message)"


def verify_workspace(ws: Workspace, *, scratch: Path | None = None, keep: bool = False) -> dict[str, Any]:
    """Replay the latest entry of every step into a scratch workspace; raise on any difference."""
    manifest = ws.manifest()
    plan = replay_plan(manifest)
    if not plan:
        raise InvalidDataError(f"{ws.manifest_path}: no recorded steps to verify")
    scratch_parent = Path(scratch).resolve() if scratch else Path(tempfile.mkdtemp(prefix="c2m-verify-"))
    scratch_root = scratch_parent / SCRATCH_NAME
    if scratch_root.resolve() == ws.root or ws.root in scratch_root.resolve().parents:
        raise UsageError("the scratch directory must lie outside the workspace")
    if scratch_root.exists() and any(scratch_root.iterdir()):
        raise UsageError(f"scratch workspace {scratch_root} is not empty")
    try:
        return _replay(ws, plan, scratch_root, keep=keep)
    finally:
        if not keep:
            shutil.rmtree(scratch_root if scratch else scratch_parent, ignore_errors=True)


def _replay(ws: Workspace, plan: list[tuple[dict[str, Any], list[dict[str, Any]]]], scratch_root: Path, *, keep: bool) -> dict[str, Any]:
    expected: dict[str, str] = {}
    producer: dict[str, str] = {}
    reasons: list[str] = []
    for _entry, covered in plan:
        for item in covered:
            reasons += [r for r in _input_reasons(item, expected, ws.root) if r not in reasons]
            for output in item.get("outputs", []):
                if output["path"] not in _NOT_COMPARED:
                    expected[output["path"]] = output["sha256"]
                    producer[output["path"]] = str(item.get("command"))
    because = f"; because {'; '.join(reasons)}" if reasons else ""
    problems: list[str] = []
    mismatched: list[str] = []
    missing: list[str] = []
    # the workspace against its manifest first: a deleted or edited output needs no replay to show
    for relpath, digest in sorted(expected.items()):
        on_disk = ws.root / relpath
        if not on_disk.is_file():
            missing.append(relpath)
            problems.append(f"{relpath} is missing from the workspace (recorded by c2m {producer[relpath]})")
        elif sha256_of(on_disk) != digest:
            mismatched.append(relpath)
            problems.append(f"{relpath} changed since c2m {producer[relpath]} recorded it")
    if problems:
        raise ReproducibilityError(_mismatch_message(problems) + because)
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    for number, (entry, _covered) in enumerate(plan, start=1):
        done = subprocess.run(
            [sys.executable, "-m", "c2m_cli", *_replay_argv(entry, scratch_root, ws.root)],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        if done.returncode != 0:
            reason = f" ({'; '.join(reasons)})" if reasons else ""
            raise ReproducibilityError(
                f"step {number} (c2m {entry['command']}) failed on replay with exit {done.returncode}: "
                f"{_error_line(done)}{reason}"
            )
    compared = 0
    for relpath, digest in sorted(expected.items()):
        replayed = scratch_root / relpath
        if not replayed.is_file():
            missing.append(relpath)
            problems.append(f"{relpath} was not produced by the replay of c2m {producer[relpath]}")
            continue
        compared += 1
        if sha256_of(replayed) != digest:
            mismatched.append(relpath)
            problems.append(f"{relpath} differs on replay of c2m {producer[relpath]}")
    if problems:
        raise ReproducibilityError(_mismatch_message(problems) + because)
    return {
        "workspace": str(ws.root),
        "scratch": str(scratch_root) if keep else None,
        "steps_replayed": len(plan),
        "replayed": [entry["command"] for entry, _ in plan],
        "files_compared": compared,
        "mismatched": mismatched,
        "missing": missing,
    }


def _mismatch_message(problems: list[str]) -> str:
    more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
    return "replay does not reproduce the workspace: " + "; ".join(problems[:3]) + more


def run_verify(
    ws: Workspace,
    *,
    scratch: Path | None = None,
    keep: bool = False,
    seed: int = 0,
    executor: str = "local",
    argv: list[str] | None = None,
) -> dict[str, Any]:
    """Library entry point of `c2m verify` (seed, executor and argv are not used: nothing is recorded)."""
    return verify_workspace(ws, scratch=scratch, keep=keep)
