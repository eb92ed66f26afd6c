"""Round trip on the synthetic world: export its orders as a Chinese shop would, ingest them back.

The export has Chinese headers, GB18030 encoding, ``¥1,299.00`` prices, Beijing-time
``2024/11/11 20:15:00`` timestamps, 交易成功/交易关闭 statuses and 是/否 flags; it is read with
the shipped example mapping, and must give back the world's orders exactly.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from c2m_cli.ingest import run_ingest
from c2m_cli.synth import generate_world
from c2m_cli.workspace import Workspace

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
STATUS_ZH = {"paid": "交易成功", "cancelled": "交易关闭", "returned": "退款成功", "presale": "预售"}


def export_like_a_shop(orders: pl.DataFrame) -> pl.DataFrame:
    money = pl.col("unit_price").map_elements(lambda v: f"¥{v:,.2f}", return_dtype=pl.String)
    return orders.select(
        pl.col("order_id").alias("订单编号"),
        pl.col("user_id").alias("买家会员名"),
        pl.col("sku").alias("商品编码"),
        pl.col("ts").dt.convert_time_zone("Asia/Shanghai").dt.strftime("%Y/%m/%d %H:%M:%S").alias("下单时间"),
        pl.col("qty").cast(pl.Int64).alias("购买数量"),
        money.alias("成交单价"),
        pl.col("status").replace_strict(STATUS_ZH, default=None).alias("订单状态"),
        pl.col("channel").alias("来源渠道"),
        pl.col("province").alias("收货省份"),
        pl.col("city").alias("收货城市"),
        pl.when(pl.col("presale")).then(pl.lit("是")).otherwise(pl.lit("否")).alias("是否预售"),
        pl.col("discount").alias("优惠金额"),
    )


def test_world_orders_survive_a_chinese_export(tmp_path: Path):
    world = Workspace(tmp_path / "world")
    generate_world(world, users=300, seed=3)
    truth = world.read("orders")
    assert truth["ts"].dt.microsecond().max() == 0 and (truth["qty"] == truth["qty"].round(0)).all()
    export = tmp_path / "订单导出.csv"
    export.write_bytes(export_like_a_shop(truth).write_csv().encode("gb18030"))
    ws = Workspace(tmp_path / "ws")
    summary = run_ingest(ws, {"orders": str(export)}, mapping=EXAMPLES / "taobao_export_mapping.toml")
    table = summary["tables"]["orders"]
    duplicates = truth.select(pl.all().is_duplicated()).to_series().sum() if truth.height else 0
    assert table["rows_in"] == truth.height
    assert table["rows_rejected"] == table["duplicates"]
    got = ws.read("orders").select(truth.columns)
    expected = truth.with_columns(pl.col("unit_price").round(2))
    if duplicates == 0:
        assert got.equals(expected)
    else:
        assert got.equals(expected.unique(maintain_order=True))
    assert ws.manifest()["data_timezone"] == "Asia/Shanghai"


def test_example_sample_file(tmp_path: Path):
    ws = Workspace(tmp_path / "ws")
    summary = run_ingest(
        ws, {"orders": str(EXAMPLES / "taobao_orders_sample.csv")},
        mapping=EXAMPLES / "taobao_export_mapping.toml",
    )
    table = summary["tables"]["orders"]
    assert (table["rows_in"], table["rows_written"], table["rows_rejected"], table["duplicates"]) == (40, 37, 3, 1)
    assert table["reject_reasons"] == {
        "duplicate order line": 1, "ts: not a date/time": 1, "unit_price: not a number": 1,
    }
