"""The shipped examples run end to end on the real public data (skipped when it is absent)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from c2m_cli.pipeline import load_pipeline

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.mark.real_data
def test_cdnow_pipeline_runs_the_chain(c2m, shared_data, tmp_path):
    text = (EXAMPLES / "cdnow_pipeline.toml").read_text(encoding="utf-8")
    text = text.replace('"../cdnow-workspace"', f'"{tmp_path / "ws"}"').replace(
        '"../../shared/data/cdnow/', f'"{shared_data / "cdnow"}/'
    )
    pipeline = tmp_path / "cdnow.toml"
    pipeline.write_text(text, encoding="utf-8")
    assert [argv[0] for argv in load_pipeline(pipeline)[1]] == [
        "ingest", "label", "segment", "forecast", "recommend", "report"]
    result = c2m("run", pipeline, "--json")
    assert result.exit_code == 0, result.stderr
    ws = tmp_path / "ws"
    # CDNOW_master: 23,570 customers, 69,659 purchase records (Fader, Hardie & Lee 2005)
    assert pl.read_parquet(ws / "orders.parquet").height == 69_659
    assert pl.read_parquet(ws / "labels.parquet").height == 23_570
    assert pl.read_parquet(ws / "segments.parquet").height == 23_570
    steps = [s["command"] for s in json.loads((ws / "manifest.json").read_text())["steps"]]
    assert steps == ["ingest", "label", "segment", "forecast", "recommend", "report"]
    assert (ws / "report.html").stat().st_size > 10_000


@pytest.mark.real_data
@pytest.mark.slow
def test_completejourney_chain_script(shared_data, tmp_path):
    script = EXAMPLES / "completejourney_chain.sh"
    # the script calls "$C2M" as one word: a wrapper runs this interpreter's c2m
    wrapper = tmp_path / "c2m"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m c2m_cli "$@"\n')
    wrapper.chmod(0o755)
    env = {**os.environ, "C2M": str(wrapper)}
    done = subprocess.run(
        ["sh", str(script), str(shared_data / "completejourney"), str(tmp_path / "ws")],
        capture_output=True, text=True, env=env, check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    ws = tmp_path / "ws"
    assert pl.read_parquet(ws / "labels.parquet").height == 2_469
    assert pl.read_parquet(ws / "segments.parquet").height == 2_469
    forecast = pl.read_parquet(ws / "forecast.parquet")
    assert set(forecast["level"]) == {"total", "category_l1"}
    assert (ws / "report.html").is_file()
