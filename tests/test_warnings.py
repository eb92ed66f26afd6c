"""The warnings mechanism: collector, manifest record, `--json` field, `--strict` exit 6."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer

from c2m_cli import diagnostics
from c2m_cli.commands._common import run_command
from c2m_cli.diagnostics import WARNING_CODES, WarningLog
from c2m_cli.errors import EXIT_STRICT_WARNINGS
from c2m_cli.workspace import Workspace


def test_log_keeps_order_and_drops_repeats() -> None:
    log = WarningLog()
    log.warn("short-history", "b")
    log.warn("clv-few-customers", "a")
    log.warn("short-history", "b")
    assert log.as_list() == [
        {"code": "short-history", "message": "b"},
        {"code": "clv-few-customers", "message": "a"},
    ]


def test_unregistered_code_is_refused() -> None:
    with pytest.raises(ValueError, match="unregistered warning code 'no-such-code'"):
        WarningLog().warn("no-such-code", "x")


def test_codes_are_kebab_case_and_documented() -> None:
    doc = diagnostics.warnings_markdown()
    for code in WARNING_CODES:
        assert code == code.lower() and " " not in code and "_" not in code
        assert f"`{code}`" in doc
    docs_file = Path(__file__).resolve().parent.parent / "docs" / "warnings.md"
    assert docs_file.read_text(encoding="utf-8") == doc, "docs/warnings.md is stale: run make docs"


def test_step_records_warnings_in_manifest(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    with ws.step("label", parameters={}) as step:
        step.write_json("x.json", {"a": 1})
        step.warn("clv-few-customers", "fit on 16 customers")
    entry = ws.manifest()["steps"][-1]
    assert entry["warnings"] == [{"code": "clv-few-customers", "message": "fit on 16 customers"}]
    assert ws.run_warnings.codes() == ["clv-few-customers"]


def test_strict_exits_6_after_printing_the_summary(capsys: pytest.CaptureFixture[str]) -> None:
    body = lambda: {"n": 1, "warnings": [{"code": "short-history", "message": "3 weeks"}]}  # noqa: E731
    with pytest.raises(typer.Exit) as stop:
        run_command("forecast", body, json_output=True, quiet=True, verbose=False, strict=True)
    assert stop.value.exit_code == EXIT_STRICT_WARNINGS == 6
    payload = json.loads(capsys.readouterr().out)
    assert payload["warnings"] == [{"code": "short-history", "message": "3 weeks"}]
    assert payload["exit_code"] == 6 and payload["n"] == 1


def test_no_warnings_means_empty_list_and_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    run_command("label", lambda: {"n": 2}, json_output=True, quiet=True, verbose=False, strict=True)
    payload = json.loads(capsys.readouterr().out)
    assert payload["warnings"] == [] and payload["ok"] is True
