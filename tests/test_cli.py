"""The CLI frame: exit codes, one-line errors, --json on stdout only, help with examples."""

from __future__ import annotations

import json

import pytest

from c2m_cli import __version__

COMMANDS = ["demo", "ingest", "label", "segment", "forecast", "recommend", "report", "run", "verify", "inspect"]


def test_version_prints_on_stdout(c2m):
    result = c2m("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"c2m {__version__}"


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_an_example(c2m, command):
    result = c2m(command, "--help")
    assert result.exit_code == 0, result.stderr
    assert "Example: c2m " in result.stdout


def test_unknown_option_is_a_usage_error(c2m, tmp_path):
    result = c2m("label", tmp_path, "--no-such-option")
    assert result.exit_code == 2
    assert "No such option" in result.stderr
    assert result.stdout == ""


def test_missing_workspace_is_missing_prerequisite(c2m, tmp_path):
    result = c2m("inspect", tmp_path / "absent")
    assert result.exit_code == 4
    assert result.stderr.splitlines()[0] == f"Error: workspace {tmp_path / 'absent'} does not exist"
    assert "Traceback" not in result.stderr


def test_step_before_its_inputs_exits_4_naming_the_command_to_run(c2m, tmp_path):
    result = c2m("label", tmp_path)
    assert result.exit_code == 4
    assert "orders.parquet is not in workspace" in result.stderr
    assert "c2m ingest" in result.stderr


def test_json_error_object_on_stdout(c2m, tmp_path):
    result = c2m("inspect", tmp_path / "absent", "--json")
    assert result.exit_code == 4
    payload = json.loads(result.stdout)
    assert payload["ok"] is False
    assert payload["exit_code"] == 4
    assert "does not exist" in payload["error"]


def test_bad_executor_is_a_usage_error(c2m, tmp_path):
    result = c2m("label", tmp_path, "--executor", "spark://x")
    assert result.exit_code == 2
    assert "--executor must be `local` or `dask://HOST:PORT`" in result.stderr


def test_inspect_lists_tables_as_json(c2m, tmp_path):
    import polars as pl

    pl.DataFrame({"user_id": ["a", "b"], "x": [1, 2]}).write_parquet(tmp_path / "labels.parquet")
    result = c2m("inspect", tmp_path, "--json")
    assert result.exit_code == 0, result.stderr
    payload = result.json
    assert payload["tables"] == [{"columns": 2, "rows": 2, "table": "labels"}]
    one = c2m("inspect", tmp_path, "labels", "--json").json
    assert one["schema"] == {"user_id": "String", "x": "Int64"}
    assert one["head"][1] == {"user_id": "b", "x": 2}
    missing = c2m("inspect", tmp_path, "nope")
    assert missing.exit_code == 2
    assert "no table 'nope'" in missing.stderr


def test_failed_first_step_leaves_no_empty_workspace(c2m, tmp_path):
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    result = c2m("ingest", tmp_path / "ws", "--orders", tmp_path / "bad.csv")
    assert result.exit_code == 3
    assert "required column 'order_id' of orders not found" in result.stderr
    assert not (tmp_path / "ws").exists()
