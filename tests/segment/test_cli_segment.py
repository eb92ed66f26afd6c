"""`c2m segment` through the real entry point: options, output, exact errors and exit codes."""

from __future__ import annotations

import json

import polars as pl

from tests.segment.world import planted_world, write_world


def test_help_shows_defaults_criterion_and_example(c2m):
    out = c2m("segment", "--help")
    assert out.exit_code == 0
    text = " ".join(out.stdout.split())
    for needed in (
        "--k", "default: auto", "--method", "default: kmeans", "--assign", "OTHER_LABELS.parquet",
        "--k-min", "default: 3", "--k-max", "default: 12", "--bootstrap", "default: 5",
        "--min-stability", "default: 0.8", "--reduce", "default: none",
        "within one standard error of the highest", "Example: c2m segment ./ws --k auto",
    ):
        assert needed in text, needed


def test_segment_json_summary_and_assign(c2m, tmp_path):
    labels, tags, _ = planted_world(800, seed=5)
    write_world(tmp_path, labels, tags)
    out = c2m("segment", tmp_path, "--k", "auto", "--k-max", "6", "--bootstrap", "2", "--json")
    assert out.exit_code == 0, out.stderr
    summary = out.json
    assert summary["command"] == "segment" and summary["ok"] is True
    assert summary["k"] == 5 and summary["users"] == 800
    assert [r["k"] for r in summary["selection"]] == [3, 4, 5, 6]
    assert sum(s["size"] for s in summary["segments"]) == 800
    step = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))["steps"][-1]
    assert step["command"] == "segment"
    assert step["parameters"]["k"] == "auto" and step["parameters"]["method"] == "kmeans"
    assert step["parameters"]["k_max"] == 6 and step["parameters"]["n_boot"] == 2
    assert sorted(o["path"] for o in step["outputs"]) == ["segment_model.json", "segment_profiles.parquet", "segments.parquet"]
    # --verbose shows the table it chose from, on stderr
    shown = c2m("segment", tmp_path, "--k", "4", "--bootstrap", "1", "--verbose")
    assert shown.exit_code == 0 and shown.stdout == ""
    assert "choosing k (fixed)" in shown.stderr and "bootstrap ARI" in shown.stderr
    # assign other users with the saved model
    other = tmp_path / "other"
    other.mkdir()
    labels.head(100).write_parquet(other / "labels.parquet")
    assigned = c2m("segment", tmp_path, "--assign", other / "labels.parquet", "--json")
    assert assigned.exit_code == 0, assigned.stderr
    assert assigned.json["assigned"] == 100
    frame = pl.read_parquet(tmp_path / "segment_assignments.parquet")
    assert frame.columns == ["user_id", "segment_id", "segment_name", "distance"] and frame.height == 100


def test_errors_have_exact_messages_and_exit_codes(c2m, tmp_path):
    out = c2m("segment", tmp_path, "--json")
    assert out.exit_code == 4
    assert out.json["error"] == f"labels.parquet is not in workspace {tmp_path.resolve()} (needed by c2m segment)"
    assert out.json["hint"] == "run `c2m label WORKSPACE` first"
    labels, _, _ = planted_world(30, seed=1)
    write_world(tmp_path, labels)
    bad_k = c2m("segment", tmp_path, "--k", "seven")
    assert bad_k.exit_code == 2
    assert "Error: --k must be `auto` or an integer from 2 to 50, got 'seven'" in bad_k.stderr
    missing = c2m("segment", tmp_path, "--assign", tmp_path / "nope.parquet")
    assert missing.exit_code == 2 and f"Error: --assign: file {tmp_path / 'nope.parquet'} does not exist" in missing.stderr
    no_model = c2m("segment", tmp_path, "--assign", tmp_path / "labels.parquet")
    assert no_model.exit_code == 4 and f"Error: segment_model.json is not in workspace {tmp_path.resolve()}" in no_model.stderr
    (tmp_path / "labels.parquet").write_bytes(b"not parquet")
    corrupt = c2m("segment", tmp_path)
    assert corrupt.exit_code == 3 and "Traceback" not in corrupt.stderr
    assert corrupt.stderr.startswith("Error: labels.parquet: not a readable Parquet file (")
