"""`c2m run PIPELINE.toml`: config → one command line per step, run through the library."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from contract_fixtures import orders_csv, shop_orders

from c2m_cli.errors import UsageError
from c2m_cli.pipeline import load_pipeline


def test_pipeline_steps_become_command_lines(tmp_path):
    (tmp_path / "p.toml").write_text(
        'workspace = "ws"\nseed = 3\n'
        '[[steps]]\ncommand = "ingest"\norders = "data/o.csv"\npreset = "cdnow"\n'
        '[[steps]]\ncommand = "forecast"\nlevels = ["total", "sku"]\nhorizon = 4\n'
        '[[steps]]\ncommand = "report"\ninclude-ids = true\n',
        encoding="utf-8",
    )
    workspace, argvs = load_pipeline(tmp_path / "p.toml")
    ws = str(tmp_path / "ws")
    assert workspace == tmp_path / "ws"
    assert argvs == [
        ["ingest", ws, "--orders", str(tmp_path / "data/o.csv"), "--preset", "cdnow", "--seed", "3"],
        ["forecast", ws, "--levels", "total,sku", "--horizon", "4", "--seed", "3"],
        ["report", ws, "--include-ids", "--seed", "3"],
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[steps]]\ncommand = "label"\n', "missing top-level `workspace"),
        ('workspace = "w"\n', "no [[steps]] tables"),
        ('workspace = "w"\n[[steps]]\ncommand = "fly"\n', "unknown command 'fly'"),
        ('workspace = "w"\n[[steps]]\nk = 3\n', "step 1 has no `command`"),
        ("workspace = \n", "not valid TOML"),
    ],
)
def test_bad_pipeline_files_are_usage_errors(tmp_path, text, message):
    path = tmp_path / "p.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(UsageError) as caught:
        load_pipeline(path)
    assert message in str(caught.value)


def test_run_cli_reports_a_bad_pipeline_with_exit_2(c2m, tmp_path):
    result = c2m("run", tmp_path / "absent.toml")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: pipeline file {tmp_path / 'absent.toml'} does not exist")


# -- c2m run through the real CLI: skip what is unchanged, validate before running ----------------



def _pipeline(tmp_path: Path, *, as_of: str = "2024-07-31", extra: str = "") -> Path:
    (tmp_path / "orders.csv").write_text(orders_csv(shop_orders(40, weeks=30)), encoding="utf-8")
    path = tmp_path / "chain.toml"
    path.write_text(
        'workspace = "ws"\nseed = 0\n'
        '[[steps]]\ncommand = "ingest"\norders = "orders.csv"\n'
        f'[[steps]]\ncommand = "label"\nas-of = "{as_of}"\n'
        '[[steps]]\ncommand = "forecast"\nhorizon = 2\nlevels = ["total"]\njson = true\n' + extra,
        encoding="utf-8",
    )
    return path


def _entries(tmp_path: Path) -> list[str]:
    manifest = json.loads((tmp_path / "ws" / "manifest.json").read_text(encoding="utf-8"))
    return [s["command"] for s in manifest["steps"]]


def test_run_twice_skips_everything_and_a_changed_parameter_reruns_its_step(c2m, tmp_path):
    pipeline = _pipeline(tmp_path)
    first = c2m("run", pipeline, "--json")
    assert first.exit_code == 0, first.stderr
    # one JSON object, although the forecast step says json = true
    assert len(first.stdout.strip().splitlines()) == 1
    assert first.json["steps"] == ["ingest", "label", "forecast"] and first.json["skipped"] == []
    labels_before = (tmp_path / "ws" / "labels.parquet").read_bytes()
    second = c2m("run", pipeline, "--json")
    assert second.exit_code == 0, second.stderr
    assert second.json["steps"] == [] and second.json["skipped"] == ["ingest", "label", "forecast"]
    assert _entries(tmp_path) == ["ingest", "label", "forecast"]  # a skipped step records nothing
    # label's as-of changes: label re-runs, forecast (which reads only orders) is still current
    _pipeline(tmp_path, as_of="2024-06-30")
    third = c2m("run", pipeline, "--json")
    assert third.exit_code == 0, third.stderr
    assert third.json["steps"] == ["label"] and third.json["skipped"] == ["ingest", "forecast"]
    assert (tmp_path / "ws" / "labels.parquet").read_bytes() != labels_before
    forced = c2m("run", pipeline, "--force", "--json")
    assert forced.json["steps"] == ["ingest", "label", "forecast"] and forced.json["skipped"] == []
    # an output deleted behind c2m's back: its step runs again
    (tmp_path / "ws" / "forecast.parquet").unlink()
    again = c2m("run", pipeline, "--json")
    assert again.json["steps"] == ["forecast"], again.json


def test_changed_orders_rerun_every_step_that_reads_them(c2m, tmp_path):
    pipeline = _pipeline(tmp_path)
    assert c2m("run", pipeline).exit_code == 0
    (tmp_path / "orders.csv").write_text(orders_csv(shop_orders(40, seed=1, weeks=30)), encoding="utf-8")
    rerun = c2m("run", pipeline, "--json")
    assert rerun.exit_code == 0, rerun.stderr
    assert rerun.json["steps"] == ["ingest", "label", "forecast"]


def test_run_records_each_step_with_its_command_line(c2m, tmp_path):
    pipeline = _pipeline(tmp_path)
    assert c2m("run", pipeline).exit_code == 0
    manifest = json.loads((tmp_path / "ws" / "manifest.json").read_text(encoding="utf-8"))
    label = manifest["steps"][1]
    assert label["argv"] == ["label", "{workspace}", "--as-of", "2024-07-31", "--seed", "0"]
    assert "via" not in label
    assert pl.read_parquet(tmp_path / "ws" / "labels.parquet").height == 40


@pytest.mark.parametrize(
    ("step", "message"),
    [
        ('[[steps]]\ncommand = "segment"\nno-such = 3\n', "step 4 (segment): No such option: --no-such"),
        ('[[steps]]\ncommand = "segment"\nk-min = "many"\n', "step 4 (segment): Invalid value for '--k-min'"),
        ('[[steps]]\ncommand = "report"\nseed = -1\n', "step 4 (report): Invalid value for '--seed'"),
        ('[[steps]]\ncommand = "demo"\nusers = 5\n', "step 4 (demo): --users must be at least 100, got 5"),
        # checks the library makes before touching the workspace run up front too
        ('[[steps]]\ncommand = "segment"\nmin-stability = 5\n', "step 4 (segment): --min-stability must be"),
        ('[[steps]]\ncommand = "recommend"\nunit-cost = 5\n', "step 4 (recommend): --unit-cost needs --unit-price"),
        ('[[steps]]\ncommand = "forecast"\nhorizon = 0\n', "step 4 (forecast): --horizon must be at least 1"),
    ],
)
def test_every_steps_options_are_checked_before_the_first_runs(c2m, tmp_path, step, message):
    pipeline = _pipeline(tmp_path, extra=step)
    result = c2m("run", pipeline)
    assert result.exit_code == 2, result.stderr
    assert message in result.stderr.splitlines()[0]
    assert not (tmp_path / "ws").exists()  # nothing ran


def test_a_workspace_that_is_not_a_string_is_a_usage_error(c2m, tmp_path):
    path = tmp_path / "p.toml"
    path.write_text('workspace = 5\n[[steps]]\ncommand = "label"\n', encoding="utf-8")
    result = c2m("run", path)
    assert result.exit_code == 2
    assert "`workspace` must be a directory name in quotes, got 5" in result.stderr


def test_run_calls_the_library_not_the_cli(tmp_path, monkeypatch):
    """The steps run in-process through their library entry points: cli.invoke is never called."""
    import c2m_cli.cli as cli
    from c2m_cli.pipeline import run_pipeline

    pipeline = _pipeline(tmp_path)
    monkeypatch.setattr(cli, "invoke", lambda argv: pytest.fail(f"argv went through the CLI: {argv}"))
    summary = run_pipeline(pipeline)
    assert summary["steps"] == ["ingest", "label", "forecast"]
