"""Round trip on the synthetic world: export its orders as a Chinese shop would, ingest them back.

The export has Chinese headers, GB18030 encoding, ``¥1,299.00`` prices, Beijing-time
``2024/11/11 20:15:00`` timestamps, 交易成功/交易关闭 statuses and 是/否 flags; it is read with
the shipped example mapping, and must give back the world's orders exactly.
"""

from __future__ import annotations

from datetime import UTC, datetime
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


# -- the done-when export: what a Taobao back office writes -----------------------------------

TAOBAO_TITLE = "淘宝网 卖家中心 订单报表,导出时间：2024-11-20 09:30\n"
TAOBAO_HEADER = "订单编号,买家会员名,商品编码,宝贝标题,订单创建时间,宝贝数量,商品单价,订单状态,收货地址\n"
TAOBAO_LINES = [  # physical lines 3…
    '3712350000000000001,tb_alice,S1,无线鼠标,45607.84375,1,"¥1,299.00",交易成功,江苏省 苏州市 昆山市 花桥镇\n',
    "3712350000000000002,tb_bob,S2,机械键盘,45607.5,２,￥89.50,卖家已发货，等待买家确认,广东省 深圳市 南山区 粤海街道\n",
    '3.71235E+18,tb_carol,S1,无线鼠标,45608.25,1,"¥1,299.00",交易成功,浙江省 杭州市 西湖区\n',
    "3712350000000000004,tb_dave,S3,赠品贴纸,45609.0,1,¥0.00,交易关闭,北京市 朝阳区 建国路\n",
    "3712350000000000005,tb_erin,S1,无线鼠标,45610.5,1,¥129.00,退款成功,辽宁省 朝阳市 双塔区\n",
    "3712350000000000006,tb_fay,S2,机械键盘,1899,1,¥89.50,交易成功,上海市 浦东新区\n",
    "3712350000000000007,,S2,机械键盘,45611.5,1,¥89.50,交易成功,上海市 浦东新区\n",
    '3712350000000000001,tb_alice,S1,无线鼠标,45607.84375,1,"¥1,299.00",交易成功,江苏省 苏州市 昆山市 花桥镇\n',
    "3712350000000000008,tb_gina,S4,定制礼盒,45611.5,1,面议,买家已付款，等待卖家发货,四川省 成都市 武侯区\n",
    "3712350000000000009,tb_hank,S5,鼠标垫,45612.5,1,¥59.90,等待买家付款,南山区\n",
    "3712350000000000010,tb_ivy,S5,鼠标垫,45612.75,3,¥19.90,买家已付款，等待卖家发货,新疆 石河子市\n",
]


def test_a_taobao_export_and_its_zipped_copy_ingest_with_exact_accounting(c2m, tmp_path: Path):
    import zipfile

    export = tmp_path / "ExportOrderList202411200930.csv"
    export.write_bytes((TAOBAO_TITLE + TAOBAO_HEADER + "".join(TAOBAO_LINES)).encode("gb18030"))
    zipped = tmp_path / "ExportOrderList202411200930.zip"
    with zipfile.ZipFile(zipped, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.write(export, export.name)
    tables = {}
    for name, src in (("csv", export), ("zip", zipped)):
        result = c2m("ingest", tmp_path / name, "--orders", src, "--timezone", "Asia/Shanghai", "--json")
        assert result.exit_code == 0, result.stderr
        table = result.json["tables"]["orders"]
        assert (table["rows_in"], table["rows_written"], table["rows_rejected"], table["duplicates"]) == (11, 6, 5, 1)
        assert (table["fields_nulled"], table["field_reasons"]) == (
            1, {"address: ambiguous place name 南山区 (深圳, 鹤岗): add the province": 1}
        )
        rejects = pl.read_parquet(tmp_path / name / "_rejects" / "orders.parquet")
        assert rejects.select("line", "column", "raw_value", "reason").rows() == [
            (5, "order_id", "3.71235E+18", "scientific notation (a spreadsheet rounded this id; export the column as text)"),
            (8, "ts", "1899", "implausible date (before 1950-01-01)"),
            (9, "user_id", "", "missing value"),
            (10, None, "same as line 3", "duplicate order line"),
            (11, "unit_price", "面议", "not a number"),
        ]
        tables[name] = pl.read_parquet(tmp_path / name / "orders.parquet")
    orders = tables["csv"]
    assert tables["zip"].equals(orders)
    assert orders.select("order_id", "qty", "unit_price", "status", "province", "city").rows() == [
        ("3712350000000000001", 1.0, 1299.0, "paid", "江苏", "苏州"),
        ("3712350000000000002", 2.0, 89.5, "paid", "广东", "深圳"),
        ("3712350000000000004", 1.0, 0.0, "cancelled", "北京", "北京"),
        ("3712350000000000005", 1.0, 129.0, "returned", "辽宁", "朝阳"),
        ("3712350000000000009", 1.0, 59.9, "cancelled", None, None),
        ("3712350000000000010", 3.0, 19.9, "paid", "新疆", "石河子"),
    ]
    # Excel serial days in Beijing time: 45607.84375 = 2024-11-11 20:15 = 12:15 UTC
    assert orders["ts"][0] == datetime(2024, 11, 11, 12, 15, tzinfo=UTC)
    assert orders["ts"][1] == datetime(2024, 11, 11, 4, 0, tzinfo=UTC)
