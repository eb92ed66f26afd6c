"""What people see in a terminal, and what scripts get when output is piped: `c2m inspect` as
plain text / CSV / JSON off a terminal and rich tables on one (a real pty), progress on a terminal
only, control characters from the data never reaching the terminal, usage errors as one JSON
object under --json, and the progress API library code calls without rich."""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

from c2m_cli import progress
from c2m_cli.console import escape, strip_controls
from c2m_cli.workspace import Workspace

ESC = "\x1b"
EVIL = ESC + "[5mblink" + ESC + "]0;title\x07" + "\x08x"


def build(root: Path) -> Workspace:
    ws = Workspace(root)
    pl.DataFrame({"sku": ["SKU1", "SKU2"], "name": [EVIL, "=SUM(A1)"], "list_price": [9.5, 12.0]}).write_parquet(
        ws.table_path("products")
    )
    wide = {f"column_{i:02d}_with_a_long_name": [f"value {i}"] for i in range(14)}
    pl.DataFrame(wide).write_parquet(ws.table_path("wide"))
    return ws


def run_in_pty(*args: str | Path, timeout: float = 120) -> tuple[int, str]:
    """Run c2m with stdin, stdout and stderr on a pseudo-terminal; return its exit code and output."""
    master, slave = pty.openpty()
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "40"}
    env.pop("NO_COLOR", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "c2m_cli", *map(str, args)], stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True
    )
    os.close(slave)
    chunks = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        elif process.poll() is not None:
            break
    code = process.wait(timeout=30)
    os.close(master)
    return code, b"".join(chunks).decode("utf-8", errors="replace")


def test_inspect_piped_prints_plain_text_on_stdout(c2m, tmp_path):
    ws = build(tmp_path / "ws")
    result = c2m("inspect", ws.root)
    assert result.exit_code == 0 and result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[0] == "tables"
    assert lines[1].split() == ["table", "rows", "columns"]
    assert lines[3].split() == ["products", "2", "3"]
    assert "┃" not in result.stdout and ESC not in result.stdout  # no box drawing, no escape codes


def test_inspect_strips_control_characters_and_shows_wide_rows_vertically(c2m, tmp_path):
    ws = build(tmp_path / "ws")
    result = c2m("inspect", ws.root, "products")
    assert result.exit_code == 0
    assert ESC not in result.stdout and "\x07" not in result.stdout and "\x08" not in result.stdout
    assert "[5mblink]0;titlex" in result.stdout  # the text stays, inert
    wide = c2m("inspect", ws.root, "wide")
    assert "-[ row 1 ]" in wide.stdout
    assert "column_13_with_a_long_name | value 13" in wide.stdout
    forced = c2m("inspect", ws.root, "products", "--vertical")
    assert "name       | =SUM(A1)" in forced.stdout


def test_inspect_csv_and_json(c2m, tmp_path):
    ws = build(tmp_path / "ws")
    result = c2m("inspect", ws.root, "products", "--format", "csv")
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0] == ["sku", "name", "list_price"]
    assert rows[2] == ["SKU2", "'=SUM(A1)", "12"]  # formula-safe
    assert ESC not in result.stdout
    as_format = c2m("inspect", ws.root, "products", "--format", "json")
    as_flag = c2m("inspect", ws.root, "products", "--json")
    assert json.loads(as_format.stdout) == json.loads(as_flag.stdout)
    assert json.loads(as_flag.stdout)["rows"] == 2
    bad = c2m("inspect", ws.root, "--format", "xml")
    assert bad.exit_code == 2
    assert bad.stderr.splitlines()[0] == "Error: --format must be table, csv or json, got 'xml'"


def test_inspect_on_a_terminal_draws_rich_tables_without_the_data_escapes(tmp_path):
    ws = build(tmp_path / "ws")
    code, out = run_in_pty("inspect", ws.root, "products")
    assert code == 0
    assert "━" in out or "─" in out  # a rich table
    assert "products: 2 rows" in out
    assert ESC + "[5m" not in out and ESC + "]0;" not in out  # the data's escapes were removed


def test_progress_on_a_terminal_only(c2m, tmp_path):
    ws = build(tmp_path / "ws")
    code, out = run_in_pty("report", ws.root)
    assert code == 0
    assert "c2m report" in out or "report: reading the workspace" in out  # the spinner was drawn
    piped = c2m("report", ws.root)
    assert piped.exit_code == 0 and piped.stderr == ""  # nothing for a log file
    quiet_code, quiet = run_in_pty("report", ws.root, "--quiet")
    assert quiet_code == 0 and "reading the workspace" not in quiet


def test_usage_errors_answer_json_with_one_object(c2m, tmp_path):
    ws = build(tmp_path / "ws")
    result = c2m("segment", ws.root, "--k-min", "x", "--json")
    assert result.exit_code == 2
    payload = json.loads(result.stdout)  # exactly one JSON object on stdout
    assert payload["ok"] is False and payload["exit_code"] == 2 and payload["warnings"] == []
    assert payload["error"].startswith("Invalid value for '--k-min'")
    assert "Error: Invalid value for '--k-min'" in result.stderr
    unknown = c2m("inspect", ws.root, "--executor", "local", "--json")
    assert unknown.exit_code == 2 and json.loads(unknown.stdout)["error"] == "No such option: --executor"
    plain = c2m("segment", ws.root, "--k-min", "x")
    assert plain.exit_code == 2 and plain.stdout == ""


def test_console_escape_strips_controls_and_markup():
    assert strip_controls("a\x1b[31mb\x07c\td\ne") == "a[31mbc\td\ne"
    assert escape("[bold]x\x1b") == "\\[bold]x"


def test_progress_api_is_silent_by_default_and_reports_to_an_installed_reporter():
    calls: list[tuple] = []

    class Recorder:
        def start(self, description, total):
            calls.append(("start", description, total))
            return 7

        def advance(self, handle, amount):
            calls.append(("advance", handle, amount))

        def finish(self, handle):
            calls.append(("finish", handle))

    with progress.task("silent", 3) as advance:
        advance(1)  # the default reporter does nothing and needs nothing
    assert calls == []
    progress.set_reporter(Recorder())
    try:
        assert list(progress.track(["a", "b"], "items")) == ["a", "b"]
        with pytest.raises(ValueError), progress.task("fails"):
            raise ValueError
    finally:
        progress.set_reporter(None)
    assert calls == [
        ("start", "items", 2), ("advance", 7, 1), ("advance", 7, 1), ("finish", 7),
        ("start", "fails", None), ("finish", 7),
    ]


def test_summary_tables_never_print_a_python_dict_and_fold_when_too_wide():
    from c2m_cli import console

    console.configure(verbose=True)
    try:
        with console.captured(width=40) as output:
            console.table("audiences", ["name", "users"], [({"super_users": 1}, 3)])
        assert "super_users 1" in output() and "{" not in output()
        long = "planted micro-demand among the top three naming the product"
        with console.captured(width=40) as output:
            console.table("scorecard", ["step", "check", "value", "target", "recovered"], [("recommend", long, "盖子", "an aspect of the planted phrases", "yes")])
        out = output()
        assert "-- 1 --" in out  # one block per row instead of a squeezed table
        assert "check      planted micro-demand among" in out and "recovered  yes" in out
        with console.captured(width=200) as output:
            console.table("scorecard", ["step", "check", "value", "target", "recovered"], [("recommend", long, "盖子", "an aspect", "yes")])
        assert "-- 1 --" not in output() and "┃" in output()  # it fits: a table
    finally:
        console.configure()
