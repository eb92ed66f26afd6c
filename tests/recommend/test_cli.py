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
    assert "unit_price" in result.stderr and "orders.parquet" in result.stderr
    assert "Traceback" not in result.stderr


def test_no_paid_orders_is_exit_3_with_a_message(c2m, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    orders = _orders().with_columns(status=pl.lit("cancelled"))
    _write(tmp_path / "ws", orders=orders)
    result = c2m("recommend", tmp_path / "ws")
    assert result.exit_code == 3, result.stderr
    assert "orders.parquet has no paid order lines (360 lines; by status: {'cancelled': 360})" in result.stderr
    assert "Traceback" not in result.stderr


def test_unit_cost_without_unit_price_and_hash_ids_without_salt_are_exit_2(c2m, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _write(tmp_path / "ws", orders=_orders())
    result = c2m("recommend", tmp_path / "ws", "--unit-cost", "10")
    assert result.exit_code == 2
    assert "--unit-cost needs --unit-price too (the critical ratio uses both)" in result.stderr
    result = c2m("recommend", tmp_path / "ws", "--hash-ids")
    assert result.exit_code == 2
    assert "--hash-ids needs --salt" in result.stderr


def test_orders_only_recommends_what_it_can_and_says_what_it_skipped(c2m, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ws = tmp_path / "ws"
    _write(ws, orders=_orders())
    result = c2m("recommend", ws, "--json", "--hash-ids", "--salt", "pepper-secret", "--min-support", "0.1")
    assert result.exit_code == 0, result.stderr
    out = result.json
    assert set(out["skipped"]) >= {"search_gap", "micro_demand", "categories", "labels", "forecast", "early_adopters"}
    assert out["skipped"]["search_gap"] == "no events.parquet"
    bundles = pl.read_parquet(ws / "bundles.parquet")
    # P2 is in half the baskets, always with P1 — but P1 is in every basket: lift exactly 1, no bundle
    assert bundles.height == 0
    assert out["notes"]["bundles"] == {"baskets": 240, "frequent_items": 2, "frequent_pairs": 1, "frequent_triples": 0,
                                       "insignificant_rules": 0, "min_count": 5, "min_support": 0.1, "redundant_rules": 0}
    # the salt is in no workspace file and no output stream
    for path in ws.rglob("*"):
        if path.is_file():
            assert b"pepper-secret" not in path.read_bytes(), path
    assert "pepper-secret" not in result.stdout and "pepper-secret" not in result.stderr
    entry = Workspace(ws).manifest()["steps"][-1]
    assert "salt" not in entry["parameters"]
    assert "***" in entry.get("argv", ["***"])


def test_hashed_ids_are_hmac_sha256_of_the_salt(c2m, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import hashlib
    import hmac

    from c2m_cli.recommend.audiences import hashed

    got = hashed(pl.Series(["u1", "u2", "u1"]), "k").to_list()
    want = hmac.new(b"k", b"u1", hashlib.sha256).hexdigest()[:32]
    assert got[0] == got[2] == want and got[1] != want
    # not the plain salted SHA-256 (reversible by brute force on the ids with the salt known)
    assert want != hashlib.sha256(b"ku1").hexdigest()[:32]


@pytest.mark.slow
@pytest.mark.parametrize(("users", "seed"), [(3000, 0), (2000, 1), (3000, 7)])
def test_synthetic_world_scorecard_passes(tmp_path: Path, users: int, seed: int) -> None:
    from c2m_cli.labels import run_label
    from c2m_cli.recommend import run_recommend
    from c2m_cli.scorecard.recommend import score
    from c2m_cli.segment import run_segment
    from c2m_cli.synth import generate_world

    ws = Workspace(tmp_path / "world")
    generate_world(ws, users=users, seed=seed)
    run_label(ws)
    run_segment(ws, seed=seed)
    summary = run_recommend(ws, seed=seed)
    checks = score(ws)
    failed = [c for c in checks if not c["passed"]]
    assert not failed, failed
    assert len(checks) == 11
    assert summary["briefs"] == 5
    assert len(list((ws.root / "briefs").glob("*.md"))) == 5
    first = pl.read_parquet(ws.root / "opportunities.parquet").row(0, named=True)
    assert first["kind"] == "search_gap" and "游戏本" in first["subject"]
    # evidence in words, statistics in columns
    opp = pl.read_parquet(ws.root / "opportunities.parquet")
    assert not opp["evidence"].str.contains(r"p=|z=|e-\d").any()
    briefs = pl.read_parquet(ws.root / "briefs.parquet")
    assert not briefs["demand_method"].str.contains("[A-Za-z]{4,}").any(), briefs["demand_method"].to_list()
    # deterministic: a second run writes byte-identical tables
    before = {n: (ws.root / f"{n}.parquet").read_bytes() for n in ("opportunities", "briefs", "bundles", "audiences", "quantities")}
    run_recommend(ws, seed=seed)
    assert before == {n: (ws.root / f"{n}.parquet").read_bytes() for n in before}
