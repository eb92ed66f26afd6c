"""`c2m run PIPELINE.toml`: config → one command line per step."""

from __future__ import annotations

import pytest

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
