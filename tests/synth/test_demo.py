"""`c2m demo` end to end on a small world, and the scorecard's honesty about missing steps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from c2m_cli import scorecard
from c2m_cli.synth import generate_world
from c2m_cli.workspace import Workspace


def test_demo_cli_generates_runs_the_chain_and_writes_the_scorecard(c2m, tmp_path: Path) -> None:
    ws = tmp_path / "demo-ws"
    done = c2m("demo", ws, "--users", "2000", "--seed", "3", "--json")
    assert done.exit_code == 0, done.stderr
    summary = done.json
    assert summary["command"] == "demo" and summary["ok"] is True
    card = json.loads((ws / "demo_scorecard.json").read_text(encoding="utf-8"))
    assert card["users"] == 2000 and card["seed"] == 3
    steps = {s["step"]: s["status"] for s in card["steps"]}
    assert list(steps) == ["synth", "label", "segment", "forecast", "recommend", "report"]
    assert steps == dict.fromkeys(steps, "ok"), card["steps"]  # a failed step is exit != 0 (below)
    synth_rows = [r for r in card["checks"] if r["step"] == "synth"]
    assert len(synth_rows) >= 12
    assert all(r["passed"] is True for r in synth_rows), [r for r in synth_rows if not r["passed"]]
    assert card["passed"] == sum(1 for r in card["checks"] if r["passed"] is True)
    assert card["failed"] == sum(1 for r in card["checks"] if r["passed"] is False)
    # every chain step either contributed rows or is shown as not recovered
    assert {r["step"] for r in card["checks"]} >= {"synth", "label", "segment", "forecast", "recommend", "report"}
    manifest = json.loads((ws / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["data_timezone"] == "Asia/Shanghai"
    recorded = manifest["steps"]
    assert recorded[0]["command"] == "synth" and recorded[0]["via"] == "demo"
    assert all(s.get("via") == "demo" for s in recorded[:-1])
    assert recorded[-1]["command"] == "demo" and "via" not in recorded[-1]
    assert recorded[-1]["argv"] == ["demo", "{workspace}", "--users", "2000", "--seed", "3", "--json"]
    assert [o["path"] for o in recorded[-1]["outputs"]] == ["demo_scorecard.json"]
    assert (ws / "truth" / "users.parquet").is_file() and (ws / "truth" / "world.json").is_file()


def test_demo_rejects_too_few_users(c2m, tmp_path: Path) -> None:
    done = c2m("demo", tmp_path / "ws", "--users", "5")
    assert done.exit_code == 2
    assert "Error: --users must be at least 100, got 5" in done.stderr
    assert not (tmp_path / "ws" / "demo_scorecard.json").exists()


@pytest.fixture(scope="module")
def small_world(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    ws = Workspace(tmp_path_factory.mktemp("small"))
    generate_world(ws, users=800, seed=1)
    return ws


def test_scorecard_shows_missing_and_failed_steps_as_not_recovered(small_world: Workspace) -> None:
    rows = scorecard.collect(
        small_world,
        {
            "segment": {"status": "not available", "error": None},
            "forecast": {"status": "failed", "error": "boom in forecast"},
        },
    )
    segment = [r for r in rows if r["step"] == "segment"]
    assert segment == [
        {
            "step": "segment",
            "check": "consumer types (segment ARI)",
            "value": None,
            "target": "recovered",
            "passed": False,
            "detail": "not recovered: c2m segment not available (not available)",
        }
    ]
    forecast = [r for r in rows if r["step"] == "forecast"]
    assert [r["passed"] for r in forecast] == [False]
    assert "boom in forecast" in forecast[0]["detail"]
    assert all(set(r) == {"step", *scorecard.ROW_KEYS} for r in rows)


def test_synth_scorecard_passes_on_a_world_and_fails_without_truth(small_world: Workspace, tmp_path: Path) -> None:
    from c2m_cli.scorecard import synth

    rows = synth.score(small_world)
    assert rows and all(r["passed"] is True for r in rows), [r for r in rows if not r["passed"]]
    empty = synth.score(Workspace(tmp_path / "empty"))
    assert [r["passed"] for r in empty] == [False]


def test_demo_exits_with_the_code_of_a_failed_step_after_writing_the_scorecard(tmp_path: Path, monkeypatch, capsys) -> None:
    from c2m_cli import demo
    from c2m_cli.cli import invoke
    from c2m_cli.errors import InvalidDataError

    real = demo._entry_point

    def entry_point(module_name: str, function: str):
        if function == "run_segment":
            def broken(ws, **kwargs):
                raise InvalidDataError("labels.parquet: planted failure for the test")
            return broken
        if function in ("run_forecast", "run_recommend", "run_report"):
            return lambda ws, **kwargs: None  # keep the test short
        return real(module_name, function)

    monkeypatch.setattr(demo, "_entry_point", entry_point)
    ws = tmp_path / "demo-ws"
    code = invoke(["demo", str(ws), "--users", "300", "--quiet"])
    assert code == 3
    err = capsys.readouterr().err
    assert err.startswith("Error: c2m demo: step segment failed: labels.parquet: planted failure for the test")
    card = json.loads((ws / "demo_scorecard.json").read_text(encoding="utf-8"))
    assert {s["step"]: s["status"] for s in card["steps"]}["segment"] == "failed"


def test_demo_reruns_on_its_own_earlier_demo(c2m, tmp_path: Path) -> None:
    ws = tmp_path / "again"
    assert c2m("demo", ws, "--users", "200", "--seed", "2").exit_code == 0
    rerun = c2m("demo", ws, "--users", "200", "--seed", "2")
    assert rerun.exit_code == 0, rerun.stderr
