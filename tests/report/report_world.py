"""A small Chinese workspace holding every table the report reads, built declaratively.

Orders: one line a day from 2024-09-01 to 2024-12-31, written at 01:00 Shanghai time (17:00 UTC
the day before, so a report that used UTC days would shift every day). Units: 10 a day, 30 a day
during 双11 (10-31 … 11-11) and 20 during 双12 (12-10 … 12-12): observed uplifts ×3 and ×2.
User ids carry a marker (``U-SECRET-``) that must never reach the report without --include-ids;
reviews carry a ``<script>`` and a spreadsheet formula.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl

from c2m_cli.workspace import Workspace

ID_MARK = "U-SECRET-"
SCRIPT_REVIEW = "<script>alert('x')</script>键盘声音太吵了"
FORMULA_REVIEW = '=HYPERLINK("http://evil.example","点我")'
UTC = "UTC"
WARNING = {"code": "short-history", "message": "SKU2 has 9 weeks of history (a year is needed for its season)"}


def _days(start: str, end: str) -> pl.Series:
    return pl.date_range(dt.date.fromisoformat(start), dt.date.fromisoformat(end), "1d", eager=True)


def build_orders() -> pl.DataFrame:
    days = _days("2024-09-01", "2024-12-31")
    frame = pl.DataFrame({"date": days}).with_row_index("n")
    units = (
        pl.when(pl.col("date").is_between(dt.date(2024, 10, 31), dt.date(2024, 11, 11)))
        .then(30.0)
        .when(pl.col("date").is_between(dt.date(2024, 12, 10), dt.date(2024, 12, 12)))
        .then(20.0)
        .otherwise(10.0)
    )
    return frame.select(
        pl.format("O{}", pl.col("n")).alias("order_id"),
        pl.format(ID_MARK + "{}", pl.col("n") % 20).alias("user_id"),
        pl.when(pl.col("n") % 2 == 0).then(pl.lit("SKU1")).otherwise(pl.lit("SKU2")).alias("sku"),
        # 01:00 in Shanghai is 17:00 UTC the day before
        (pl.col("date").cast(pl.Datetime("us")) + pl.duration(hours=1))
        .dt.replace_time_zone("Asia/Shanghai")
        .dt.convert_time_zone(UTC)
        .alias("ts"),
        units.alias("qty"),
        pl.when(pl.col("n") % 2 == 0).then(199.0).otherwise(89.0).alias("unit_price"),
        pl.lit("paid").alias("status"),
    )


def build_world(root: Path, *, tables: tuple[str, ...] | None = None) -> Workspace:
    """Write the tables (all by default) into a workspace at ``root``."""
    ws = Workspace(root)
    users = [f"{ID_MARK}{i}" for i in range(20)]
    stages = ["new", "active", "active", "sleeping", "dormant", "lost", "active", "active", "sleeping", "lost"] * 2
    frames: dict[str, pl.DataFrame] = {
        "orders": build_orders(),
        "products": pl.DataFrame(
            {
                "sku": ["SKU1", "SKU2"],
                "name": ["静音机械键盘", "电竞鼠标"],
                "category_l1": ["外设", "外设"],
                "category_l2": ["键盘", "鼠标"],
            }
        ),
        "customers": pl.DataFrame({"user_id": users, "city_tier": ["一线", "二线", "三线", "四线"] * 5}),
        "events": pl.DataFrame(
            {
                "user_id": users[:4],
                "ts": pl.Series([dt.datetime(2024, 11, d, 4) for d in (1, 2, 3, 4)]).dt.replace_time_zone(UTC),
                "event": ["search", "search", "view", "search"],
                "sku": [None, None, "SKU1", None],
                "category": ["外设", "外设", None, "键盘"],
                "query": ["静音键盘", "静音键盘", None, "静音键盘"],
            }
        ),
        "reviews": pl.DataFrame(
            {
                "review_id": ["R1", "R2", "R3"],
                "user_id": users[:3],
                "sku": ["SKU1", "SKU1", "SKU2"],
                "category": ["外设", "外设", "外设"],
                "rating": [1, 2, 5],
                "text": [SCRIPT_REVIEW, FORMULA_REVIEW, "手感很好"],
            }
        ),
        "labels": pl.DataFrame(
            {
                "user_id": users,
                "lifecycle_stage": stages,
                "value_clv": [float(v) for v in range(20)],
                "value_p_alive": [0.9] * 10 + [0.5] * 10,
                # 90 days earlier: the first 4 had not bought yet, then 8 active, 8 sleeping
                "lifecycle_prev_stage": [None] * 4 + ["active"] * 8 + ["sleeping"] * 8,
                "geo_city_tier": ["一线", "二线", "三线", "四线"] * 5,
                "demo_generation": ["90后", None, None, None] * 5,
                "lifestyle_gaming": [0.8] * 20,
            }
        ),
        "segments": pl.DataFrame(
            {
                "user_id": users,
                "segment_id": ["S1"] * 15 + ["S2"] * 5,
                "segment_name": ["价格敏感青年"] * 15 + ["高价值电竞玩家"] * 5,
                "distance": [0.1] * 20,
            }
        ),
        "segment_profiles": pl.DataFrame(
            {
                "segment_id": ["S1", "S2"],
                "segment_name": ["价格敏感青年", "高价值电竞玩家"],
                "size": [15, 5],
                "share": [0.75, 0.25],
                "features": [
                    [{"feature": "recency", "z": 0.4}, {"feature": "frequency", "z": -0.3}],
                    [{"feature": "recency", "z": -1.2}, {"feature": "frequency", "z": 2.1}],
                ],
                "top_tags": [["学生", "促销敏感"], ["电竞", "高客单"]],
                "description": ["爱比价的年轻人", "=1+1 高频复购的电竞玩家"],
                "suggested_action": ["大促前发券", "新品预售优先邀请"],
            }
        ),
        "forecast": _forecast(),
        "backtest": _backtest(),
        "forecast_metrics": _metrics(),
        "opportunities": pl.DataFrame(
            {
                "opportunity_id": ["OP1", "OP2", "OP3"],
                "rank": [1, 2, 3],
                "kind": ["search_gap", "micro_demand", "price_band"],
                "category": ["外设", "外设", "外设"],
                "sku": [None, "SKU1", None],
                "subject": ["静音键盘搜索多、供给少", "键盘噪音大", "150–250 元价格带缺货"],
                "evidence": [
                    "搜索 3 次（前半段 1 → 后半段 2，Mann-Kendall z=12.43, p=1.78e-35），仅 1 个商品",
                    "2 条差评提到噪音",
                    "90后一线用户集中在此价格带（需求/供给 108531468.53）",
                ],
                "score": [0.9, 0.7, 0.5],
                "segment_id": ["S2", None, "S1"],
                "variants": [["静音键盘", "安静键盘"], [], []],
                "volume": [3.0, 2.0, 150.0],
                "trend_z": [12.43, None, None],
                "trend_p": [1.78e-35, None, None],
                "price_low": [None, None, 150.0],
                "price_high": [None, None, 250.0],
            }
        ),
        "briefs": pl.DataFrame(
            {
                "brief_id": ["B1"],
                "opportunity_id": ["OP1"],
                "kind": ["search_gap"],
                "category": ["外设"],
                "sku": [None],
                "subject": ["静音键盘搜索多、供给少"],
                "segment_id": ["S2"],
                "portrait": ["电竞 ×1.8 <img src=x onerror=alert(1)>"],
                "price_band": ["150–250"],
                "attributes": [["静音", "机械轴"]],
                "micro_demands": [["噪音"]],
                "demand_p10": [70.0],
                "demand_p50": [90.0],
                "demand_p90": [120.0],
                "launch_window": ["双11（2025-10-31–2025-11-11）"],
                "presale_plan": ["上市前 30 天开放定金预售（见 quantities.parquet 的 B1）"],
            },
            schema_overrides={"sku": pl.String},
        ),
        "quantities": pl.DataFrame(
            {
                "sku": ["SKU1", None],
                "brief_id": [None, "B1"],
                "presale_orders": [120.0, 40.0],
                "forecast_p10": [240.0, 70.0],
                "forecast_p50": [300.0, 90.0],
                "forecast_p90": [380.0, 120.0],
                "recommended_qty": [360.0, 110.0],
                "service_level": [0.9, 0.9],
                "method": ["newsvendor", "presale_ratio"],
            }
        ),
        "audiences": pl.DataFrame(
            {
                "user_id": users[:6],
                "audience": ["reactivation"] * 4 + ["super_users"] * 2,
                "reason": ["沉睡但高价值"] * 4 + ["高频复购"] * 2,
                "score": [0.9, 0.8, 0.7, 0.6, 0.95, 0.85],
            }
        ),
        "bundles": pl.DataFrame(
            {
                "antecedent": [["SKU1"]],
                "consequent": [["SKU2"]],
                "support": [0.12],
                "confidence": [0.6],
                "lift": [2.4],
            }
        ),
    }
    for name, frame in frames.items():
        if tables is None or name in tables:
            frame.write_parquet(ws.table_path(name))
    if tables is None:
        (root / "_rejects").mkdir(exist_ok=True)
        pl.DataFrame(
            {
                "source": ["orders.csv"] * 3,
                "line": [5, 9, 12],
                "column": ["qty", "qty", "ts"],
                "value": ["abc", "x", f"{ID_MARK}raw"],
                "reason": ["not a number", "not a number", "unparseable timestamp"],
            }
        ).write_parquet(root / "_rejects" / "orders.parquet")
        (root / "briefs").mkdir(exist_ok=True)
        (root / "briefs" / "B1.md").write_text(
            "# 静音机械键盘简报\n\n- **目标人群**：高价值电竞玩家\n- 价格带：150–250 元\n> <img src=x onerror=alert(1)>\n",
            encoding="utf-8",
        )
        (root / "demo_scorecard.json").write_text(
            json.dumps(
                {
                    "label": [{"check": "lifecycle accuracy", "value": 0.91, "target": "≥ 0.85", "passed": True, "detail": "clear users"}],
                    "forecast": [{"check": "双11 uplift", "value": 1.4, "target": "within 20%", "passed": False, "detail": "planted 3.0"}],
                },
                ensure_ascii=False,
            ),
            encoding="utf-8",
        )
    ws.set_manifest_field("data_timezone", "Asia/Shanghai")
    ws.set_manifest_field("market", "cn")
    if tables is None:
        ws.set_manifest_field(
            "steps",
            [
                {"command": "forecast", "parameters": {"freq": "W"}, "outputs": [], "warnings": [WARNING]},
                {"command": "segment", "parameters": {}, "outputs": [], "warnings": [
                    {"code": "unstable-segmentation", "message": "old entry, superseded"}
                ]},
                {"command": "segment", "parameters": {}, "outputs": [], "warnings": []},
            ],
        )
    return ws


def _forecast() -> pl.DataFrame:
    weeks = pl.date_range(dt.date(2025, 1, 6), dt.date(2025, 2, 24), "1w", eager=True)
    rows = []
    for level, uid, base in (("total", "total", 70.0), ("sku", "SKU1", 35.0), ("sku", "SKU2", 35.0)):
        for model, shift in (("selected", 0.0), ("seasonal_naive", 5.0)):
            rows.append(
                pl.DataFrame({"ds": weeks}).with_columns(
                    level=pl.lit(level),
                    unique_id=pl.lit(uid),
                    model=pl.lit(model),
                    y_hat=pl.lit(base + shift),
                    **{
                        "q0.05": pl.lit(base * 0.6),
                        "q0.1": pl.lit(base * 0.7),
                        "q0.5": pl.lit(base),
                        "q0.9": pl.lit(base * 1.3),
                        "q0.95": pl.lit(base * 1.4),
                    },
                )
            )
    return pl.concat(rows).select("level", "unique_id", "ds", "model", "y_hat", "q0.05", "q0.1", "q0.5", "q0.9", "q0.95")


def _backtest() -> pl.DataFrame:
    # actuals for two December weeks, exactly what the orders say (7 days × 10 units)
    return pl.DataFrame(
        {
            "level": ["total", "total"],
            "unique_id": ["total", "total"],
            "cutoff": [dt.date(2024, 11, 24)] * 2,
            "ds": [dt.date(2024, 11, 25), dt.date(2024, 12, 2)],
            "model": ["selected", "selected"],
            "y": [70.0, 70.0],
            "y_hat": [68.0, 73.0],
        }
    )


def _metrics() -> pl.DataFrame:
    rows = []
    for level in ("total", "sku"):
        for model, wape, mase in (("selected", 0.10, 0.6), ("seasonal_naive", 0.25, 1.0)):
            rows += [
                (level, "*", model, "WAPE", wape),
                (level, "*", model, "MASE", mase),
                (level, "*", model, "coverage_80", 0.8),
                (level, "*", model, "coverage_90", 0.9),
            ]
    return pl.DataFrame(rows, schema=["level", "unique_id", "model", "metric", "value"], orient="row")


def manifest_step(ws: Workspace, command: str) -> dict:
    steps = [s for s in json.loads((ws.root / "manifest.json").read_text(encoding="utf-8"))["steps"] if s["command"] == command]
    return steps[-1]


