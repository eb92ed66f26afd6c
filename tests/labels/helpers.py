"""Declarative label workspaces: each planted user is a row spec, turned into canonical tables."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import polars as pl

from c2m_cli.workspace import Workspace

AS_OF = dt.date(2024, 12, 31)


def days_before(*offsets: int) -> list[dt.datetime]:
    """Noon UTC on AS_OF minus each offset (days)."""
    return [dt.datetime.combine(AS_OF - dt.timedelta(days=o), dt.time(12), tzinfo=dt.UTC) for o in offsets]


def every(step: int, first: int, last: int) -> list[int]:
    """Offsets (days before AS_OF) from ``first`` down to ``last`` every ``step`` days."""
    return list(range(first, last - 1, -step))


# user → list of (offset days, sku, qty, unit_price, status)
ORDERS: dict[str, list[tuple[int, str, float, float, str]]] = {
    "u_new": [(10, "S1", 1, 100.0, "paid"), (3, "S2", 1, 50.0, "paid")],
    "u_active": [(o, "S1", 1, 80.0, "paid") for o in every(20, 400, 30)],
    "u_sleep": [(o, "S2", 1, 40.0, "paid") for o in every(20, 500, 120)],
    "u_dormant": [(o, "S2", 2, 40.0, "paid") for o in every(20, 600, 250)],
    "u_lost": [(o, "S3", 1, 30.0, "paid") for o in every(20, 900, 400)],
    "u_slow": [(o, "S1", 1, 200.0, "paid") for o in every(150, 950, 200)],
    "u_back": [(o, "S3", 1, 30.0, "paid") for o in [*every(15, 700, 400), 60, 40, 20]],
    "u_one": [(100, "S1", 1, 120.0, "paid")],
    "u_free": [(50, "S2", 1, 0.0, "paid")],
    "u_void": [(50, "S2", 0, 0.0, "paid")],
    "u_return": [(70, "S1", 1, 90.0, "paid"), (60, "S1", 1, 90.0, "returned")],
    "u_cancel": [(40, "S1", 1, 90.0, "cancelled")],
    "u_future": [(-5, "S1", 1, 90.0, "paid")],
}
CUSTOMERS: list[dict[str, Any]] = [
    {"user_id": "u_active", "gender": "女", "birth_year": 1995, "province": "四川省", "city": "成都市", "signup_ts": days_before(500)[0]},
    {"user_id": "u_sleep", "gender": "M", "birth_year": 1978, "province": None, "city": "Shenzhen", "signup_ts": days_before(600)[0]},
    {"user_id": "u_dormant", "gender": None, "birth_year": None, "province": None, "city": "亚特兰蒂斯", "signup_ts": days_before(700)[0]},
    {"user_id": "c_new", "gender": None, "birth_year": None, "province": None, "city": None, "signup_ts": days_before(5)[0]},
    {"user_id": "c_old", "gender": "F", "birth_year": 2001, "province": None, "city": None, "signup_ts": days_before(900)[0]},
]
PRODUCTS = pl.DataFrame(
    {
        "sku": ["S1", "S2", "S3"],
        "name": ["玩家国度 游戏本 16寸", "有机 燕麦片", "猫粮 成猫 2kg"],
        "category_l1": ["电脑办公", "食品", "宠物生活"],
        "category_l2": ["笔记本电脑", "谷物", "猫粮"],
        "brand": ["ROG", "桂格", "皇家"],
    }
)


def order_frame() -> pl.DataFrame:
    rows = []
    for user, lines in ORDERS.items():
        for i, (offset, sku, qty, price, status) in enumerate(lines):
            rows.append(
                {
                    "order_id": f"{user}-{i}",
                    "user_id": user,
                    "sku": sku,
                    "ts": days_before(offset)[0],
                    "qty": float(qty),
                    "unit_price": price,
                    "status": status,
                    "city": "杭州" if user == "u_new" else None,
                }
            )
    return pl.DataFrame(rows).with_columns(pl.col("ts").cast(pl.Datetime("us", "UTC")))


def events_frame() -> pl.DataFrame:
    searches = [("u_active", "游戏本")] * 7 + [("u_active", "机械键盘")] + [("u_lost", "猫砂 除臭")]
    return pl.DataFrame(
        {
            "user_id": [u for u, _ in searches],
            "ts": days_before(*range(40, 40 + len(searches))),
            "event": ["search"] * len(searches),
            "query": [q for _, q in searches],
        }
    ).with_columns(pl.col("ts").cast(pl.Datetime("us", "UTC")))


def reviews_frame() -> pl.DataFrame:
    rows = [
        ("r1", "u_active", "S1", "电竞党必备，打游戏很流畅，性价比很高，推荐", 5),
        ("r2", "u_active", "S1", "第二台了，配置强，游戏本里最值的", 5),
        ("r3", "u_one", "S1", "Great value for money, a perfect gift for my brother", 4),
        ("r4", "u_return", "S1", "质量太差了，有瑕疵，很失望，已退货", 1),
        ("r5", "u_lost", "S3", "家里猫咪很爱吃，铲屎官必备", 5),
    ]
    return pl.DataFrame(rows, schema=["review_id", "user_id", "sku", "text", "rating"], orient="row")


def build_workspace(root: Path, *, timezone: str | None = None, with_text: bool = True, market: str | None = "cn") -> Workspace:
    """The declarative test shop: Chinese cities and texts, so its market is ``cn`` unless told."""
    ws = Workspace(root)
    order_frame().write_parquet(ws.table_path("orders"))
    pl.DataFrame(CUSTOMERS).with_columns(pl.col("signup_ts").cast(pl.Datetime("us", "UTC"))).write_parquet(
        ws.table_path("customers")
    )
    PRODUCTS.write_parquet(ws.table_path("products"))
    if with_text:
        events_frame().write_parquet(ws.table_path("events"))
        reviews_frame().write_parquet(ws.table_path("reviews"))
    if timezone:
        ws.set_manifest_field("data_timezone", timezone)
    if market:
        ws.set_manifest_field("market", market)
    return ws
