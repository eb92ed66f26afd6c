"""`c2m label` as a user runs it: exit codes, exact error lines, --json, --help defaults."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest

from c2m_cli.labels.base import LabelOptions
from c2m_cli.labels.lifecycle import lifecycle_labels
from tests.labels.helpers import AS_OF, build_workspace


def test_label_json_summary(c2m, tmp_path: Path) -> None:
    build_workspace(tmp_path / "ws")
    result = c2m("label", tmp_path / "ws", "--as-of", AS_OF.isoformat(), "--p-alive-floor", "0", "--json")
    assert result.exit_code == 0, result.stderr
    summary = result.json
    assert summary["command"] == "label" and summary["ok"] is True
    assert summary["users"] == 14 and summary["as_of"] == "2024-12-31"
    assert summary["reactivated"] == 1
    assert sum(summary["lifecycle"].values()) == 14
    assert (tmp_path / "ws" / "labels.parquet").is_file()


def test_default_as_of_is_the_latest_order(c2m, tmp_path: Path) -> None:
    build_workspace(tmp_path / "ws")
    result = c2m("label", tmp_path / "ws", "--json")
    assert result.exit_code == 0, result.stderr
    assert result.json["as_of"] == "2025-01-05"  # u_future's order, 5 days after AS_OF
    assert result.json["users"] == 15


def test_workspace_without_orders_is_a_missing_prerequisite(c2m, tmp_path: Path) -> None:
    (tmp_path / "ws").mkdir()
    result = c2m("label", tmp_path / "ws")
    assert result.exit_code == 4
    assert f"Error: orders.parquet is not in workspace {(tmp_path / 'ws').resolve()} (needed by c2m label)" in result.stderr
    assert "c2m ingest WORKSPACE --orders SRC" in result.stderr


def test_usage_errors(c2m, tmp_path: Path) -> None:
    build_workspace(tmp_path / "ws")
    bad_date = c2m("label", tmp_path / "ws", "--as-of", "yesterday")
    assert bad_date.exit_code == 2
    assert "Error: --as-of must be a date YYYY-MM-DD, got 'yesterday'" in bad_date.stderr
    bad_thresholds = c2m("label", tmp_path / "ws", "--sleeping-days", "60")
    assert bad_thresholds.exit_code == 2
    assert "lifecycle thresholds must satisfy 0 < --new-days <= --active-days < --sleeping-days < --dormant-days" in bad_thresholds.stderr
    assert "Traceback" not in bad_date.stderr + bad_thresholds.stderr


def test_orders_without_a_required_column_are_invalid_data(c2m, tmp_path: Path) -> None:
    ws = build_workspace(tmp_path / "ws")
    pl.read_parquet(ws.table_path("orders")).drop("unit_price").write_parquet(ws.table_path("orders"))
    result = c2m("label", tmp_path / "ws")
    assert result.exit_code == 3
    assert "Error: orders.parquet: missing required column unit_price" in result.stderr
    assert not (tmp_path / "ws" / "labels.parquet").exists()


def test_help_shows_every_default_and_an_example(c2m) -> None:
    result = c2m("label", "--help")
    assert result.exit_code == 0
    text = " ".join(result.stdout.split())
    for default in ("[default: 30]", "[default: 90]", "[default: 180]", "[default: 365]", "[default: 2.0]",
                    "[default: 0.05]", "[default: 4]", "[default: 0.02]", "[default: 12]", "[default: 100000]",
                    "[default: 3.0]", "[default: 0.5]", "[default: 2000000]", "[default: 0.1]", "[default: 1.0]", "[default: 200]",
                    "[default: 3]"):
        assert default in text, default
    assert "Example: c2m label" in text


def test_low_p_alive_demotes_an_active_by_recency_user() -> None:
    """Recency says active, but the model saw a rhythm the silence breaks: sleeping."""
    frame = pl.DataFrame(
        {
            "user_id": ["steady", "broken"],
            "behavior_recency_days": [60, 60],
            "behavior_first_purchase": [dt.date(2024, 1, 1)] * 2,
            "behavior_purchase_days": [10, 30],
            "value_p_alive": [0.9, 0.01],
            "value_tier": ["high", "high"],
            "value_clv_percentile": [0.5, 0.9],
            "lifecycle_typical_gap_days": [20.0, 3.0],
            "lifecycle_gaps": [9, 29],
            "lifecycle_stretch": [1.0, 1.0],
            "_return_day": [None, None],
            "_positive_reviews": [0, 0],
        },
        schema_overrides={"_return_day": pl.Date},
    )
    out = lifecycle_labels(frame, LabelOptions(), AS_OF)
    assert out["lifecycle_stage"].to_list() == ["active", "sleeping"]
    out = lifecycle_labels(frame, LabelOptions(p_alive_floor=0.0), AS_OF)
    assert out["lifecycle_stage"].to_list() == ["active", "active"]


def test_orders_without_rows_or_with_unusable_values(c2m, tmp_path: Path) -> None:
    ws = build_workspace(tmp_path / "empty")
    pl.read_parquet(ws.table_path("orders")).head(0).write_parquet(ws.table_path("orders"))
    pl.read_parquet(ws.table_path("customers")).head(0).write_parquet(ws.table_path("customers"))
    result = c2m("label", tmp_path / "empty")
    assert result.exit_code == 3
    assert "Error: orders.parquet: no order line with a user_id and a timestamp" in result.stderr
    # quantities that are not numbers: the workspace contract refuses the table (exit 3, one line)
    ws = build_workspace(tmp_path / "text_qty")
    orders = pl.read_parquet(ws.table_path("orders"))
    orders.with_columns(pl.when(pl.col("user_id") == "u_one").then(pl.lit("abc")).otherwise(pl.col("qty").cast(pl.String)).alias("qty")).write_parquet(ws.table_path("orders"))
    result = c2m("label", tmp_path / "text_qty", "--as-of", AS_OF.isoformat(), "--json")
    assert result.exit_code == 3, result.stderr
    assert result.stderr.strip().splitlines() == ["Error: orders.parquet: column qty is String, expected number (Float64)"]
    assert not (tmp_path / "text_qty" / "labels.parquet").exists()


def test_clv_options_are_checked_and_recorded(c2m, tmp_path: Path) -> None:
    build_workspace(tmp_path / "ws")
    bad = c2m("label", tmp_path / "ws", "--margin", "1.5")
    assert bad.exit_code == 2
    assert "Error: --margin is the share of revenue kept, in (0, 1], got 1.5" in bad.stderr
    bad = c2m("label", tmp_path / "ws", "--discount-rate", "-0.1")
    assert bad.exit_code == 2 and "--discount-rate is an annual rate" in bad.stderr
    ok = c2m("label", tmp_path / "ws", "--as-of", AS_OF.isoformat(), "--margin", "0.3", "--discount-rate", "0.2", "--json")
    assert ok.exit_code == 0, ok.stderr
    model = json.loads((tmp_path / "ws" / "value_model.json").read_text(encoding="utf-8"))
    assert model["margin"] == 0.3 and model["discount_rate_annual"] == 0.2
    assert model["discount_rate_monthly"] == pytest.approx(1.2 ** (1 / 12) - 1)
    # fitted on 12 customers: the warning says so
    assert "clv-few-customers" in [w["code"] for w in ok.json["warnings"]]
