"""docs/cli.md is generated from the commands' help and must not go stale."""

from __future__ import annotations

from pathlib import Path

from c2m_cli.docs_gen import render_cli_reference

DOCS = Path(__file__).resolve().parent.parent / "docs" / "cli.md"


def test_cli_reference_is_current():
    assert DOCS.read_text(encoding="utf-8") == render_cli_reference(), "run `make docs`"


def test_every_command_is_documented_with_an_example():
    text = render_cli_reference()
    for command in ("demo", "ingest", "label", "segment", "forecast", "recommend", "report", "run", "verify", "inspect"):
        section = text.split(f"## c2m {command}\n", 1)[1].split("\n## ", 1)[0]
        assert "Example: c2m" in section, command
