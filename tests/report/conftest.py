"""Fixtures of the report tests: the declarative Chinese workspace of ``report_world``."""

from __future__ import annotations

from pathlib import Path

import pytest
from report_world import build_world

from c2m_cli.workspace import Workspace


@pytest.fixture
def zh_world(tmp_path: Path) -> Workspace:
    return build_world(tmp_path / "ws")
