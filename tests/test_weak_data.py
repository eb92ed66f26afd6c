"""Weak data gets a word of caution (DESIGN.md, warnings), through the real CLI; the demo world none."""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path

import pytest
from contract_fixtures import orders_csv, shop_orders


def _codes(result) -> list[str]:
    return [w["code"] for w in result.json["warnings"]]


def _ingest(c2m, tmp_path: Path, rows) -> Path:
    (tmp_path / "orders.csv").write_text(orders_csv(rows), encoding="utf-8")
    done = c2m("ingest", tmp_path / "ws", "--orders", tmp_path / "orders.csv", "--market", "none")
    assert done.exit_code == 0, done.stderr
    return tmp_path / "ws"


def test_a_clv_fit_on_16_customers_warns(c2m, tmp_path):
    ws = _ingest(c2m, tmp_path, shop_orders(16, weeks=52))
    result = c2m("label", ws, "--json")
    assert result.exit_code == 0, result.stderr
    assert "clv-few-customers" in _codes(result), result.json["warnings"]
    message = next(w["message"] for w in result.json["warnings"] if w["code"] == "clv-few-customers")
    assert "16" in message  # the figure behind the warning
    strict = c2m("label", ws, "--strict")
    assert strict.exit_code == 6


def test_an_8_week_horizon_on_3_weeks_of_history_warns(c2m, tmp_path):
    ws = _ingest(c2m, tmp_path, shop_orders(50, weeks=3))
    result = c2m("forecast", ws, "--horizon", "8", "--freq", "W", "--levels", "total", "--json")
    assert result.exit_code == 0, result.stderr
    assert "horizon-exceeds-history" in _codes(result), result.json["warnings"]


def _structureless(users: int, seed: int = 7) -> list[tuple]:
    """Every user draws orders from one and the same distribution: there are no segments to find."""
    rng = random.Random(seed)
    start = dt.date(2023, 1, 1)
    rows = []
    for user in range(users):
        for n in range(rng.randint(2, 4)):
            day = start + dt.timedelta(days=rng.randrange(540))
            rows.append(
                (f"o{user:04d}-{n}", f"u{user:04d}", rng.choice("ABCDEF"), f"{day} {rng.randrange(24):02d}:{rng.randrange(60):02d}:00",
                 float(rng.randint(1, 2)), rng.choice([20.0, 25.0, 30.0]))
            )
    return rows


@pytest.mark.slow
def test_600_users_without_structure_get_an_unstable_or_weak_segmentation_warning(c2m, tmp_path):
    ws = _ingest(c2m, tmp_path, _structureless(600))
    assert c2m("label", ws).exit_code == 0
    result = c2m("segment", ws, "--json")
    assert result.exit_code == 0, result.stderr
    assert {"segment-unstable", "segment-weak-structure"} & set(_codes(result)), result.json["warnings"]


@pytest.mark.slow
def test_the_demo_world_gives_no_label_or_segment_warning(c2m, tmp_path):
    ws = tmp_path / "demo"
    made = c2m("demo", ws, "--users", "1500", "--seed", "0")
    assert made.exit_code == 0, made.stderr
    steps = json.loads((ws / "manifest.json").read_text(encoding="utf-8"))["steps"]
    by_command = {s["command"]: s["warnings"] for s in steps}
    assert by_command["label"] == [] and by_command["segment"] == [], by_command
