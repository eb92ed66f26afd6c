"""Fixtures of the report tests: the declarative Chinese workspace of ``report_world``, a small
synthetic world run through the whole chain, and where screenshots are kept."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from report_world import build_world

from c2m_cli.workspace import Workspace

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def zh_world(tmp_path: Path) -> Workspace:
    return build_world(tmp_path / "ws")


@pytest.fixture(scope="session")
def synthetic_world(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """300 synthetic consumers (planted truth in truth/) through label → recommend."""
    synth = pytest.importorskip("c2m_cli.synth")
    from c2m_cli.forecast import run_forecast
    from c2m_cli.labels import run_label
    from c2m_cli.recommend import run_recommend
    from c2m_cli.segment import run_segment

    ws = Workspace(tmp_path_factory.mktemp("world") / "ws")
    synth.generate_world(ws, users=300, seed=0)
    for run in (run_label, run_segment, run_forecast, run_recommend):
        run(ws)
    return ws


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where the browser tests leave their screenshots ($PYTEST_ARTIFACTS, else tests/artifacts)."""
    folder = Path(os.environ.get("PYTEST_ARTIFACTS") or REPO / "tests" / "artifacts") / "report"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
