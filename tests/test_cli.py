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


@pytest.mark.parametrize("command", ["demo", "ingest", "label", "segment", "forecast", "recommend", "report", "verify", "inspect"])
@pytest.mark.parametrize("seed", ["-1", "4294967296"])
def test_a_seed_out_of_range_is_a_usage_error_for_every_command(c2m, tmp_path, command, seed):
    extra = ["--orders", str(tmp_path / "o.csv")] if command == "ingest" else []
    result = c2m(command, tmp_path / "ws", *extra, "--seed", seed)
    assert result.exit_code == 2, result.stderr
    assert "Invalid value for '--seed'" in result.stderr
    assert not (tmp_path / "ws").exists()


def test_inspect_reads_only_the_workspaces_own_tables(c2m, tmp_path):
    import polars as pl

    (tmp_path / "ws").mkdir()
    pl.DataFrame({"secret": ["outside"]}).write_parquet(tmp_path / "private.parquet")
    for name in ("../private", "/etc/passwd", "_rejects/../../private"):
        result = c2m("inspect", tmp_path / "ws", name)
        assert result.exit_code == 2, (name, result.stderr)
        assert result.stderr.splitlines()[0] == (
            f"Error: {name!r} is not a table of the workspace (a name like orders or _rejects/orders)"
        )
        assert "outside" not in result.stdout + result.stderr


def test_a_truncated_table_is_exit_3_naming_it(c2m, tmp_path):
    (tmp_path / "o.csv").write_text(
        "order_id,user_id,sku,ts,qty,unit_price\n1,u1,A,2024-01-01 10:00:00,1,10.5\n2,u2,B,2024-01-03 11:00:00,2,5\n",
        encoding="utf-8",
    )
    assert c2m("ingest", tmp_path / "ws", "--orders", tmp_path / "o.csv").exit_code == 0
    orders = tmp_path / "ws" / "orders.parquet"
    orders.write_bytes(orders.read_bytes()[: orders.stat().st_size // 2])
    result = c2m("label", tmp_path / "ws")
    assert result.exit_code == 3, result.stderr
    assert result.stderr.startswith("Error: orders.parquet: not a readable Parquet file (")
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("errno_name", "reason"),
    [("ENOSPC", "No space left on device"), ("EROFS", "Read-only file system"), ("EACCES", "Permission denied")],
)
def test_a_full_or_read_only_disk_is_one_line_naming_path_and_reason(tmp_path, monkeypatch, capsys, errno_name, reason):
    import errno
    import os

    import c2m_cli.workspace as workspace
    from c2m_cli.cli import invoke

    target = tmp_path / "ws"
    code = getattr(errno, errno_name)

    def refuse(*args, **kwargs):
        raise OSError(code, os.strerror(code), str(target / ".staging-label-x"))

    monkeypatch.setattr(workspace.tempfile, "mkdtemp", refuse)
    (tmp_path / "o.csv").write_text("order_id,user_id,sku,ts,qty,unit_price\n1,u1,A,2024-01-01 10:00:00,1,10.5\n", encoding="utf-8")
    assert invoke(["ingest", str(target), "--orders", str(tmp_path / "o.csv"), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [f"Error: cannot write {target / '.staging-label-x'}: {reason}"]
    assert "bug" not in err
