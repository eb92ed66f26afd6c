"""Reproducibility: replay a workspace's recorded steps elsewhere and compare output hashes."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from c2m_cli.errors import InvalidDataError, ReproducibilityError, UsageError
from c2m_cli.workspace import Workspace, sha256_of

# Outputs whose bytes legitimately differ run to run (the manifest itself records wall times).
_NOT_COMPARED = {"manifest.json"}


def replayable_steps(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """Top-level steps with a recorded command line (steps run inside `c2m demo` replay with it)."""
    return [s for s in manifest.get("steps", []) if s.get("argv") and not s.get("via")]


def expected_outputs(manifest: dict[str, Any]) -> dict[str, str]:
    """The last recorded SHA-256 of every output path."""
    expected: dict[str, str] = {}
    for step in manifest.get("steps", []):
        for output in step.get("outputs", []):
            expected[output["path"]] = output["sha256"]
    return {p: h for p, h in expected.items() if p not in _NOT_COMPARED}


def verify_workspace(ws: Workspace, *, scratch: Path | None = None, keep: bool = False) -> dict[str, Any]:
    """Re-run every recorded step into a scratch workspace; raise on any differing output."""
    manifest = ws.manifest()
    steps = replayable_steps(manifest)
    if not steps:
        raise InvalidDataError(f"{ws.manifest_path}: no recorded steps to verify")
    expected = expected_outputs(manifest)
    # the replay keeps the workspace's own name: outputs may mention it (the report's title)
    scratch_parent = Path(scratch) if scratch else Path(tempfile.mkdtemp(prefix="c2m-verify-"))
    scratch_root = scratch_parent / ws.root.name
    if scratch_root.resolve() == ws.root:
        raise UsageError("the scratch directory must differ from the workspace")
    if scratch_root.exists() and any(scratch_root.iterdir()):
        raise UsageError(f"scratch workspace {scratch_root} is not empty")
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    for index, step in enumerate(steps, start=1):
        argv = [str(scratch_root) if a == "{workspace}" else a for a in step["argv"]]
        argv = [a for a in argv if a not in ("--json", "--verbose", "-v")] + ["--quiet"]
        done = subprocess.run(
            [sys.executable, "-m", "c2m_cli", *argv],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        if done.returncode != 0:
            tail = (done.stderr.strip().splitlines() or ["(no message)"])[-1]
            raise ReproducibilityError(
                f"step {index} (c2m {step['command']}) failed on replay with exit "
                f"{done.returncode}: {tail}"
            )
    compared, mismatched, missing = [], [], []
    for relpath, digest in sorted(expected.items()):
        replayed = scratch_root / relpath
        if not replayed.exists():
            missing.append(relpath)
            continue
        compared.append(relpath)
        replayed_digest = sha256_of(replayed)
        on_disk = ws.root / relpath
        # differs from what the manifest recorded, or from the file now in the workspace
        if replayed_digest != digest or (on_disk.exists() and sha256_of(on_disk) != replayed_digest):
            mismatched.append(relpath)
    summary = {
        "workspace": str(ws.root),
        "scratch": str(scratch_root) if keep else None,
        "steps_replayed": len(steps),
        "files_compared": len(compared),
        "mismatched": mismatched,
        "missing": missing,
    }
    if not keep:
        import shutil

        shutil.rmtree(scratch_root if scratch else scratch_parent, ignore_errors=True)
    if mismatched or missing:
        parts = []
        if mismatched:
            parts.append(f"{len(mismatched)} differ ({', '.join(mismatched[:5])})")
        if missing:
            parts.append(f"{len(missing)} not produced ({', '.join(missing[:5])})")
        raise ReproducibilityError("replay does not reproduce the workspace: " + "; ".join(parts))
    return summary
