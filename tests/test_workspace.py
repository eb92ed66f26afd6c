"""Workspaces: staged atomic steps, the manifest, secrets kept out."""

from __future__ import annotations

import json

import polars as pl
import pytest

from c2m_cli.errors import InvalidDataError, MissingPrerequisiteError
from c2m_cli.workspace import Workspace, mask_secrets, sha256_of


def _frame(n: int) -> pl.DataFrame:
    return pl.DataFrame({"user_id": [str(i) for i in range(n)], "v": list(range(n))})


def test_step_records_inputs_outputs_rows_and_hashes(tmp_path):
    ws = Workspace(tmp_path)
    with ws.step("first", parameters={"k": 3, "when": None}, seed=7, argv=["first", "{workspace}"]) as step:
        step.write_table("alpha", _frame(3))
        step.write_json("model.json", {"b": 1, "a": [1, 2]})
    with ws.step("second", parameters={}, seed=0) as step:
        rows = step.read("alpha").height
        step.write_table("beta", _frame(rows * 2))
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    first, second = manifest["steps"]
    assert manifest["c2m_manifest_version"] == 1
    assert first["command"] == "first" and first["seed"] == 7
    assert first["parameters"] == {"k": 3, "when": None}
    assert first["argv"] == ["first", "{workspace}"]
    assert [o["path"] for o in first["outputs"]] == ["alpha.parquet", "model.json"]
    assert first["outputs"][0]["rows"] == 3
    assert first["outputs"][0]["sha256"] == sha256_of(tmp_path / "alpha.parquet")
    assert second["inputs"] == [{"path": "alpha.parquet", "rows": 3, "sha256": first["outputs"][0]["sha256"]}]
    assert second["outputs"][0]["rows"] == 6
    # deterministic layout: sorted keys, the same key set on every entry
    assert set(first) == {
        "argv", "c2m_version", "command", "inputs", "outputs", "parameters", "seed", "wall_time_s", "warnings"
    }
    text = (tmp_path / "manifest.json").read_text()
    assert text == json.dumps(manifest, ensure_ascii=False, sort_keys=True, indent=2) + "\n"


def test_failed_step_leaves_previous_outputs_and_no_partial_files(tmp_path):
    ws = Workspace(tmp_path)
    with ws.step("make", parameters={}) as step:
        step.write_table("alpha", _frame(3))
    before = sha256_of(tmp_path / "alpha.parquet")
    with pytest.raises(RuntimeError), ws.step("make", parameters={}) as step:
        step.write_table("alpha", _frame(10))
        raise RuntimeError("interrupted half way")
    assert sha256_of(tmp_path / "alpha.parquet") == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    assert len(ws.manifest()["steps"]) == 1


def test_same_data_gives_byte_identical_parquet(tmp_path):
    for name in ("a", "b"):
        ws = Workspace(tmp_path / name)
        with ws.step("make", parameters={}) as step:
            step.write_table("t", _frame(1000))
    assert sha256_of(tmp_path / "a" / "t.parquet") == sha256_of(tmp_path / "b" / "t.parquet")


def test_require_names_the_command_to_run_first(tmp_path):
    ws = Workspace(tmp_path)
    with pytest.raises(MissingPrerequisiteError) as caught:
        ws.require("segments", for_command="recommend")
    assert str(caught.value) == f"segments.parquet is not in workspace {ws.root} (needed by c2m recommend)"
    assert caught.value.hint == "run `c2m segment WORKSPACE` first"


def test_passwords_never_reach_the_manifest(tmp_path):
    assert mask_secrets("postgresql://ana:s3cret@db:5432/shop") == "postgresql://ana:***@db:5432/shop"
    ws = Workspace(tmp_path)
    with ws.step("ingest", parameters={"orders": "mysql://u:pw@h/db?table=o"}, argv=["ingest", "mysql://u:pw@h/db"]) as step:
        step.write_table("x", _frame(1))
    text = (tmp_path / "manifest.json").read_text()
    assert "pw" not in text and "u:***@h" in text


# -- currency: a step reads only what was computed from the files now in the workspace ----------


def _chain(ws: Workspace, n: int) -> None:
    with ws.step("ingest", parameters={}) as step:
        step.write_table("base", _frame(n))
    with ws.step("label", parameters={}) as step:
        step.write_table("derived", _frame(step.read("base").height))


def test_reading_a_table_computed_from_older_inputs_exits_4_naming_the_command(tmp_path):
    ws = Workspace(tmp_path)
    _chain(ws, 3)
    with ws.step("ingest", parameters={}) as step:  # base re-made with other data; derived not re-run
        step.write_table("base", _frame(5))
    with pytest.raises(MissingPrerequisiteError) as caught, ws.step("segment", parameters={}) as step:
        step.read("derived")
    assert str(caught.value) == f"derived.parquet is older than base.parquet: run c2m label {ws.root}"
    assert [s["command"] for s in ws.manifest()["steps"]] == ["ingest", "label", "ingest"]
    with ws.step("label", parameters={}) as step:  # re-running the named command makes it current
        step.write_table("derived", _frame(step.read("base").height))
    with ws.step("segment", parameters={}) as step:
        assert step.read("derived").height == 5


def test_an_input_that_appeared_or_vanished_makes_the_output_stale(tmp_path):
    ws = Workspace(tmp_path)
    with ws.step("ingest", parameters={}) as step:
        step.write_table("base", _frame(3))
    with ws.step("label", parameters={}) as step:
        assert step.read_optional("extra") is None  # looked for, absent: recorded
        step.write_table("derived", _frame(3))
    entry = ws.manifest()["steps"][-1]
    assert {"path": "extra.parquet", "rows": None, "sha256": None} in entry["inputs"]
    with ws.step("ingest", parameters={}) as step:
        step.write_table("base", _frame(3))  # same bytes
        step.write_table("extra", _frame(1))
    with pytest.raises(MissingPrerequisiteError) as caught, ws.step("segment", parameters={}) as step:
        step.read("derived")
    assert str(caught.value).startswith("derived.parquet was computed without extra.parquet, which is now in the workspace: run c2m label")
    (tmp_path / "base.parquet").unlink()
    with pytest.raises(MissingPrerequisiteError), ws.step("segment", parameters={}) as step:
        step.read("base")


def test_a_truncated_table_is_invalid_data_naming_it(tmp_path):
    ws = Workspace(tmp_path)
    _chain(ws, 3)
    path = tmp_path / "base.parquet"
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(InvalidDataError) as caught, ws.step("other", parameters={}) as step:
        step.read("base")
    assert str(caught.value).startswith("base.parquet: not a readable Parquet file (")


def test_hashes_are_computed_once_per_file_version(tmp_path, monkeypatch):
    import hashlib

    import c2m_cli.workspace as workspace

    path = tmp_path / "big.bin"
    path.write_bytes(b"x" * 1000)
    calls = []
    real = hashlib.sha256
    monkeypatch.setattr(workspace.hashlib, "sha256", lambda *a: calls.append(1) or real(*a))
    first = sha256_of(path)
    assert sha256_of(path) == first and len(calls) == 1
    path.write_bytes(b"y" * 1001)  # a new version is hashed again
    assert sha256_of(path) != first and len(calls) == 2


# -- integrity: outputs and entry together, staging litter cleared, consistent permissions ------


def test_outputs_are_rolled_back_when_the_manifest_cannot_be_written(tmp_path, monkeypatch):
    import errno

    import c2m_cli.workspace as workspace

    ws = Workspace(tmp_path)
    with ws.step("make", parameters={}) as step:
        step.write_table("alpha", _frame(3))
    before = (tmp_path / "alpha.parquet").read_bytes()
    manifest_before = (tmp_path / "manifest.json").read_bytes()

    def full_disk(data, path):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(workspace, "write_bytes_atomic", full_disk)
    with pytest.raises(OSError), ws.step("make", parameters={}) as step:
        step.write_table("alpha", _frame(10))
        step.write_table("gamma", _frame(1))
    assert (tmp_path / "alpha.parquet").read_bytes() == before
    assert not (tmp_path / "gamma.parquet").exists()
    assert (tmp_path / "manifest.json").read_bytes() == manifest_before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_manifest_fields_land_with_the_entry(tmp_path):
    ws = Workspace(tmp_path)
    with pytest.raises(RuntimeError), ws.step("ingest", parameters={}) as step:
        step.set_manifest_field("data_timezone", "Asia/Shanghai")
        raise RuntimeError("failed after setting the field")
    assert "data_timezone" not in ws.manifest()
    with ws.step("ingest", parameters={}) as step:
        step.write_table("x", _frame(1))
        step.set_manifest_field("data_timezone", "Asia/Shanghai")
    assert ws.manifest()["data_timezone"] == "Asia/Shanghai"


def test_stale_staging_of_a_dead_run_is_cleared_but_a_live_one_is_kept(tmp_path):
    ws = Workspace(tmp_path)
    dead = tmp_path / ".staging-label-dead"
    (dead / "sub").mkdir(parents=True)
    (dead / "sub" / "labels.parquet").write_bytes(b"half")
    (tmp_path / ".ingest-old").mkdir()
    (tmp_path / ".manifest.json.abc.tmp").write_text("{", encoding="utf-8")
    other = Workspace(tmp_path)
    live = other.private_dir("staging-forecast")  # held by a running step (this process)
    with ws.step("make", parameters={}) as step:
        step.write_table("alpha", _frame(1))
    assert step.warnings.codes() == ["stale-staging-cleared"]
    assert "removed 3 staging item(s)" in step.warnings.as_list()[0]["message"]
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == [live.name]
    assert ws.manifest()["steps"][0]["warnings"][0]["code"] == "stale-staging-cleared"


def test_written_files_follow_the_umask(tmp_path):
    import os
    import stat

    old = os.umask(0o022)
    try:
        ws = Workspace(tmp_path / "ws")
        with ws.step("make", parameters={}) as step:
            step.write_table("sub/alpha", _frame(1))
            step.write_json("model.json", {"a": 1})
    finally:
        os.umask(old)
    modes = {
        p.relative_to(ws.root).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in ws.root.rglob("*")
    }
    assert modes == {"manifest.json": 0o644, "model.json": 0o644, "sub": 0o755, "sub/alpha.parquet": 0o644}


# -- c2m run's skip rule ---------------------------------------------------------------------------


def test_unchanged_entry_needs_same_request_inputs_and_outputs(tmp_path):
    from c2m_cli.workspace import StepUnchanged

    ws = Workspace(tmp_path)
    _chain(ws, 3)
    ws.skip_unchanged = True
    with pytest.raises(StepUnchanged), ws.step("label", parameters={}):
        pytest.fail("an unchanged step must not run")
    assert ws.skip_unchanged is False  # the flag is for one step only
    assert ws.unchanged_entry("label", {"k": 1}, 0) is None  # another parameter
    assert ws.unchanged_entry("label", {}, 1) is None  # another seed
    assert ws.unchanged_entry("label", {}, 0) is not None
    (tmp_path / "derived.parquet").unlink()  # an output gone: re-run
    assert ws.unchanged_entry("label", {}, 0) is None
    assert ws.unchanged_entry("recommend", {"salt": "abc"}, 0) is None  # a secret cannot be compared


# -- secrets --------------------------------------------------------------------------------------


def test_one_masking_rule_for_uris_secret_options_and_registered_values():
    from c2m_cli.workspace import mask_argv, mask_value, register_secret

    assert mask_argv(["recommend", "{workspace}", "--salt", "pepper", "--top=3", "--api-token=abc123"]) == [
        "recommend", "{workspace}", "--salt", "***", "--top=3", "--api-token=***"
    ]
    assert mask_argv(["ingest", "--orders", "mysql://u:pw@h/db?table=o"]) == ["ingest", "--orders", "mysql://u:***@h/db?table=o"]
    assert mask_value({"salt": "pepper", "password": None, "db": "postgresql://a:b@c/d"}) == {
        "salt": "***", "password": None, "db": "postgresql://a:***@c/d"
    }
    assert mask_secrets("bad option --salt=pepper2 here") == "bad option --salt=*** here"
    register_secret("hunter2-value")
    assert mask_secrets("could not connect: hunter2-value rejected") == "could not connect: *** rejected"
