"""`c2m recommend` end to end: errors and exit codes, skipped inputs, the synthetic world."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from c2m_cli.workspace import Workspace


def _orders(n_users: int = 40) -> pl.DataFrame:
    rows = []
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    for u in range(n_users):
        for k in range(6):
            order = f"o{u}-{k}"
            ts = start + dt.timedelta(days=7 * k + u)
            rows.append((order, f"u{u}", "P1", ts, 1.0, 10.0))
            if u % 2 == 0:
                rows.append((order, f"u{u}", "P2", ts, 1.0, 5.0))
    return pl.DataFrame(
        rows,
        schema={"order_id": pl.String, "user_id": pl.String, "sku": pl.String,
                "ts": pl.Datetime("us", "UTC"), "qty": pl.Float64, "unit_price": pl.Float64},
        orient="row",
    )


def _write(ws: Path, **tables: pl.DataFrame) -> None:
    ws.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        frame.write_parquet(ws / f"{name}.parquet")


def test_missing_orders_is_exit_4(c2m, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "ws").mkdir()
    result = c2m("recommend", tmp_path / "ws")
    assert result.exit_code == 4
    assert "orders.parquet is not in workspace" in result.stderr
    assert "needed by c2m recommend" in result.stderr


def test_bad_options_are_exit_2(c2m, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _write(tmp_path / "ws", orders=_orders())
    result = c2m("recommend", tmp_path / "ws", "--service-level", "1.5")
    assert result.exit_code == 2
    assert "--service-level must be between 0 and 1 (exclusive), got 1.5" in result.stderr
    result = c2m("recommend", tmp_path / "ws", "--unit-cost", "10", "--unit-price", "8")
    assert result.exit_code == 2
    assert "--unit-price (8.0) must exceed --unit-cost (10.0)" in result.stderr


def test_orders_missing_a_column_is_exit_3(c2m, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _write(tmp_path / "ws", orders=_orders().drop("unit_price"))
    result = c2m("recommend", tmp_path / "ws")
    assert result.exit_code == 3
    assert "lacks column(s): unit_price" in result.stderr


def test_orders_only_recommends_what_it_can_and_says_what_it_skipped(c2m, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ws = tmp_path / "ws"
    _write(ws, orders=_orders())
    result = c2m("recommend", ws, "--json", "--hash-ids", "--salt", "pepper", "--min-support", "0.1")
    assert result.exit_code == 0, result.stderr
    out = result.json
    assert set(out["skipped"]) >= {"search_gap", "micro_demand", "categories", "labels", "forecast", "early_adopters"}
    assert out["skipped"]["search_gap"] == "no events.parquet"
    bundles = pl.read_parquet(ws / "bundles.parquet")
    # P2 is in half the baskets, always with P1 — but P1 is in every basket: lift exactly 1, no bundle
    assert bundles.height == 0
    assert out["notes"]["bundles"] == {"baskets": 240, "frequent_items": 2, "frequent_pairs": 1,
                                       "frequent_triples": 0, "min_count": 5, "min_support": 0.1}
    csv = (ws / "audiences.csv").read_text(encoding="utf-8")
    assert "u0," not in csv and "u1," not in csv
    manifest = Workspace(ws).manifest()
    assert manifest["steps"][-1]["parameters"]["salt"] == "***"
    for name in ("opportunities", "briefs", "quantities", "audiences", "bundles"):
        assert (ws / f"{name}.parquet").is_file()


@pytest.mark.slow
def test_synthetic_world_scorecard_passes(tmp_path: Path) -> None:
    from c2m_cli.recommend import run_recommend
    from c2m_cli.scorecard.recommend import score
    from c2m_cli.synth import generate_world

    ws = Workspace(tmp_path / "world")
    generate_world(ws, users=3000, seed=0)
    summary = run_recommend(ws)
    checks = score(ws)
    failed = [c for c in checks if not c["passed"]]
    assert not failed, failed
    assert len(checks) == 7
    assert summary["briefs"] == 5
    assert len(list((ws.root / "briefs").glob("*.md"))) == 5
    first = pl.read_parquet(ws.root / "opportunities.parquet").row(0, named=True)
    assert first["kind"] == "search_gap" and "游戏本" in first["subject"]
    # deterministic: a second run writes byte-identical tables
    before = {n: (ws.root / f"{n}.parquet").read_bytes() for n in ("opportunities", "bundles", "audiences", "quantities")}
    run_recommend(ws)
    assert before == {n: (ws.root / f"{n}.parquet").read_bytes() for n in before}
