"""run_ingest over small files written by the tests: formats, encodings, mapping, rejects."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from c2m_cli.errors import InvalidDataError, UsageError
from c2m_cli.ingest import canonical_schema, run_ingest, validate_table
from c2m_cli.workspace import Workspace

HEADER = "订单编号,买家会员名,商品编码,下单时间,购买数量,单价,订单状态\n"
ROWS = [
    'A1,u1,S1,2024/11/11 20:15,1,"￥1,299.00",交易成功\n',
    "A2,u2,S2,2024/11/11 21:00,２,12.50,已取消\n",
    "A3,u3,S3,2024/06/18 10:00,1,5,退款\n",
]


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def test_gb18030_chinese_headers_without_mapping(tmp_path: Path):
    src = write(tmp_path / "订单.csv", HEADER + "".join(ROWS), "gb18030")
    ws = Workspace(tmp_path / "ws")
    summary = run_ingest(ws, {"orders": str(src)}, timezone="Asia/Shanghai")
    assert summary["tables"]["orders"] == {
        "rows_in": 3, "rows_written": 3, "rows_rejected": 0, "duplicates": 0,
        "reject_reasons": {}, "files": 1, "fields_nulled": 0, "field_reasons": {},
    }
    orders = ws.read("orders")
    validate_table(orders, "orders")
    assert orders.schema == pl.Schema(canonical_schema("orders"))
    assert orders["order_id"].to_list() == ["A1", "A2", "A3"]
    assert orders["unit_price"].to_list() == [1299.0, 12.5, 5.0]
    assert orders["qty"].to_list() == [1.0, 2.0, 1.0]
    assert orders["status"].to_list() == ["paid", "cancelled", "returned"]
    assert orders["ts"][0] == datetime(2024, 11, 11, 12, 15, tzinfo=UTC)
    manifest = ws.manifest()
    assert manifest["data_timezone"] == "Asia/Shanghai"
    assert manifest["steps"][-1]["parameters"]["timezone"] == "Asia/Shanghai"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_encodings_give_identical_tables(tmp_path: Path, encoding: str):
    src = write(tmp_path / "o.csv", HEADER + "".join(ROWS), encoding)
    reference = write(tmp_path / "ref.csv", HEADER + "".join(ROWS), "utf-8")
    a, b = Workspace(tmp_path / "a"), Workspace(tmp_path / "b")
    run_ingest(a, {"orders": str(src)})
    run_ingest(b, {"orders": str(reference)})
    assert a.read("orders").equals(b.read("orders"))
    assert a.read("orders").columns[0] == "order_id"


@pytest.mark.parametrize(("separator", "suffix"), [("\t", ".tsv"), (";", ".txt"), ("|", ".csv")])
def test_delimiters_are_sniffed(tmp_path: Path, separator: str, suffix: str):
    lines = ["order_id,user_id,sku,ts,qty,unit_price", "1,u,s,2024-01-01,1,2.5", "2,v,t,2024-01-02,3,4"]
    src = write(tmp_path / f"o{suffix}", "\n".join(line.replace(",", separator) for line in lines) + "\n")
    ws = Workspace(tmp_path / "ws")
    assert run_ingest(ws, {"orders": str(src)})["tables"]["orders"]["rows_written"] == 2
    assert ws.read("orders")["unit_price"].to_list() == [2.5, 4.0]


def test_rejects_name_file_line_column_value_and_reason(tmp_path: Path):
    text = (
        "order_id,user_id,sku,ts,qty,unit_price,presale\n"
        "1,u1,s1,2024-01-01 10:00,1,10,是\n"   # line 2 good
        "2,u2,s2,2024-13-45,1,10,否\n"          # line 3 bad date
        "3,u3,s3,2024-01-01,x,10,否\n"          # line 4 bad qty
        "4,,s4,2024-01-01,1,10,否\n"            # line 5 missing user
        "5,u5,s5,2024-01-01,1,-3,否\n"          # line 6 negative price
        "6,u6,s6,2024-01-01,1,10,maybe\n"       # line 7 bad boolean (optional: field nulled)
        "1,u1,s1,2024-01-01 10:00,1,10,是\n"   # line 8 duplicate of line 2
        "\n"                                    # line 9 empty
        "7,u7,s7,2024-01-01,1,10,否,extra\n"    # line 10 too many fields
        "8,u8,s8,1704103200,1,10,true\n"        # line 11 good (epoch)
    )
    src = write(tmp_path / "o.csv", text)
    ws = Workspace(tmp_path / "ws")
    summary = run_ingest(ws, {"orders": str(src)})["tables"]["orders"]
    assert (summary["rows_in"], summary["rows_written"], summary["rows_rejected"]) == (10, 3, 7)
    assert summary["duplicates"] == 1
    rejects = pl.read_parquet(ws.root / "_rejects" / "orders.parquet")
    assert rejects.select("line", "column", "raw_value", "reason").rows() == [
        (3, "ts", "2024-13-45", "not a date/time"),
        (4, "qty", "x", "not a number"),
        (5, "user_id", "", "missing value"),
        (6, "unit_price", "-3", "negative price (write a refund as a negative quantity)"),
        (8, None, "same as line 2", "duplicate order line"),
        (9, None, "", "empty row"),
        (10, None, "extra", "too many fields"),
    ]
    assert set(rejects["file"]) == {str(src)}
    assert summary["reject_reasons"]["ts: not a date/time"] == 1
    assert ws.read("orders")["presale"].to_list() == [True, None, True]
    fields = pl.read_parquet(ws.root / "_rejects" / "orders_fields.parquet")
    assert fields.columns == rejects.columns
    assert fields.select("line", "column", "raw_value", "reason").rows() == [
        (7, "presale", "maybe", "not a boolean (是/否, true/false, Y/N)"),
    ]
    assert (summary["fields_nulled"], summary["field_reasons"]) == (1, {"presale: not a boolean (是/否, true/false, Y/N)": 1})


def test_quoted_newlines_keep_physical_line_numbers(tmp_path: Path):
    text = 'order_id,user_id,sku,ts,qty,unit_price\n1,u,"s\nwith break",2024-01-01,1,1\n2,u,s,bad,1,1\n'
    src = write(tmp_path / "o.csv", text)
    ws = Workspace(tmp_path / "ws")
    summary = run_ingest(ws, {"orders": str(src)})["tables"]["orders"]
    assert (summary["rows_in"], summary["rows_written"], summary["rows_rejected"]) == (2, 1, 1)
    assert ws.read("orders")["sku"].to_list() == ["s\nwith break"]
    assert pl.read_parquet(ws.root / "_rejects/orders.parquet")["line"].to_list() == [4]


def test_mapping_with_formats_constants_values_and_timezone(tmp_path: Path):
    src = write(
        tmp_path / "export.csv",
        "单号,客户,下单,件数,金额,状态,预售\n"
        "x1,c1,11/11/2024 20:15,1,\"1,000\",等待发货,Y\n"
        "x2,c2,12/11/2024 08:00,2,50,已取消,N\n",
    )
    mapping = write(
        tmp_path / "m.toml",
        'timezone = "Asia/Shanghai"\n[orders]\norder_id = "单号"\nuser_id = "客户"\n'
        'ts = { column = "下单", format = "%d/%m/%Y %H:%M" }\nqty = "件数"\nunit_price = "金额"\n'
        'status = "状态"\npresale = "预售"\nsku = { value = "笔记本电脑X1" }\n'
        '[orders.values.status]\n"等待发货" = "paid"\n',
    )
    ws = Workspace(tmp_path / "ws")
    summary = run_ingest(ws, {"orders": str(src)}, mapping=mapping)
    assert summary["data_timezone"] == "Asia/Shanghai"
    orders = ws.read("orders")
    assert orders["sku"].to_list() == ["笔记本电脑X1"] * 2
    assert orders["status"].to_list() == ["paid", "cancelled"]
    assert orders["ts"].to_list() == [datetime(2024, 11, 11, 12, 15, tzinfo=UTC), datetime(2024, 11, 12, 0, 0, tzinfo=UTC)]
    # --timezone overrides the mapping's zone
    run_ingest(ws, {"orders": str(src)}, mapping=mapping, timezone="UTC")
    assert ws.read("orders")["ts"][0] == datetime(2024, 11, 11, 20, 15, tzinfo=UTC)
    assert ws.manifest()["data_timezone"] == "UTC"


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[orders\n", "not valid TOML"),
        ("[orderz]\nx = 'y'\n", "unknown key 'orderz'"),
        ("[orders]\nprice = 'p'\n", "[orders].price: price is not a column of orders"),
        ("[orders]\nts = { column = 'a', value = 'b' }\n", "give exactly one of column"),
        ("[orders]\nts = { column = 'a', format = 'YYYY' }\n", "format 'YYYY' has no % directive"),
        ("timezone = 'Nowhere/City'\n", "unknown time zone 'Nowhere/City'"),
        ("[orders.values.colour]\na = 'b'\n", "colour is not a column of orders"),
    ],
)
def test_bad_mapping_files_are_usage_errors(tmp_path: Path, toml: str, message: str):
    src = write(tmp_path / "o.csv", "order_id,user_id,sku,ts,qty,unit_price\n1,u,s,2024-01-01,1,1\n")
    mapping = write(tmp_path / "m.toml", toml)
    with pytest.raises(UsageError) as caught:
        run_ingest(Workspace(tmp_path / "ws"), {"orders": str(src)}, mapping=mapping)
    assert message in str(caught.value)
    assert str(mapping) in str(caught.value)


def test_missing_required_column_names_file_and_column(tmp_path: Path):
    src = write(tmp_path / "o.csv", "order_id,user_id,sku,qty,unit_price\n1,u,s,1,1\n")
    with pytest.raises(InvalidDataError) as caught:
        run_ingest(Workspace(tmp_path / "ws"), {"orders": str(src)})
    assert str(caught.value) == (
        f"{src}: required column 'ts' of orders not found"
        " (columns: order_id, user_id, sku, qty, unit_price); map it with --mapping"
    )


def test_glob_directory_parquet_jsonl_excel_and_sqlite(tmp_path: Path):
    frame = pl.DataFrame({
        "order_id": ["1", "2"], "user_id": ["u", "v"], "sku": ["s", "t"],
        "ts": [datetime(2024, 1, 1, 8), datetime(2024, 1, 2, 9)], "qty": [1, 2], "unit_price": [9.5, 3.0],
    })
    folder = tmp_path / "exports"
    folder.mkdir()
    frame.write_parquet(folder / "a.parquet")
    frame.with_columns(pl.col("ts").dt.strftime("%Y-%m-%d %H:%M")).write_ndjson(folder / "b.jsonl")
    frame.write_excel(folder / "c.xlsx")
    db = tmp_path / "shop.db"
    with sqlite3.connect(db) as connection:
        connection.execute("create table orders (order_id, user_id, sku, ts, qty, unit_price)")
        connection.executemany("insert into orders values (?,?,?,?,?,?)",
                               [("1", "u", "s", "2024-01-01 08:00", 1, 9.5), ("2", "v", "t", "2024-01-02 09:00", 2, 3.0)])
    expected = frame.with_columns(pl.col("ts").dt.replace_time_zone("UTC"), pl.col("qty").cast(pl.Float64))
    for src, files in [(str(folder), 3), (str(folder / "*.parquet"), 1), (f"sqlite:///{db}?table=orders", 1),
                       (f"sqlite:///{db}?query=SELECT * FROM orders WHERE qty > 1", 1)]:
        ws = Workspace(tmp_path / f"ws{hash(src) % 1000}")
        table = run_ingest(ws, {"orders": src})["tables"]["orders"]
        assert table["files"] == files
        got = ws.read("orders").select(expected.columns)
        if src == str(folder):
            # three copies of the same two lines: the later two are exact duplicates
            assert (table["rows_in"], table["rows_written"], table["duplicates"]) == (6, 2, 4)
            reasons = pl.read_parquet(ws.root / "_rejects/orders.parquet")["raw_value"].to_list()
            assert reasons[0] == f"same as {folder / 'a.parquet'} line 1"
        if "WHERE" in src:
            assert got.equals(expected.filter(pl.col("qty") > 1))
        else:
            assert got.equals(expected)


def test_customers_products_events_reviews(tmp_path: Path):
    write(tmp_path / "o.csv", "order_id,user_id,sku,ts,qty,unit_price\n1,u1,s1,2024-01-01,1,1\n")
    write(tmp_path / "c.csv", "用户ID,性别,出生年份,城市\nu1,女,1995,上海\nu2,男,1988,成都\nu1,女,1995,上海\nu3,X,19x5,北京\n")
    write(tmp_path / "p.csv", "商品ID,商品名称,一级类目,标价,上市时间,属性\ns1,轻薄本,笔记本电脑,\"¥4,999\",2024年3月1日,\"{\"\"颜色\"\": \"\"银\"\"}\"\n")
    write(tmp_path / "e.csv", "用户ID,时间,行为,搜索词\nu1,2024-01-01 10:00,搜索,静音键盘\nu1,2024-01-01 10:01,加购,\nu2,2024-01-01,跳舞,\n")
    write(tmp_path / "r.csv", "评价内容,评分,商品ID\n键盘声音太大了,2,s1\n很好,6,s1\n,5,s1\n")
    ws = Workspace(tmp_path / "ws")
    summary = run_ingest(ws, {t: str(tmp_path / f"{t[0]}.csv") for t in ["orders", "customers", "products", "events", "reviews"]})
    tables = summary["tables"]
    assert tables["customers"]["reject_reasons"] == {"user_id: duplicate": 1}
    assert tables["customers"]["field_reasons"] == {"birth_year: not a number": 1, "gender: not a known value": 1}
    assert ws.read("customers")["gender"].to_list() == ["F", "M", None]
    assert ws.read("customers")["city"].to_list() == ["上海", "成都", "北京"]
    products = ws.read("products")
    assert products.row(0, named=True)["list_price"] == 4999.0
    assert json.loads(products["attrs"][0]) == {"颜色": "银"}
    assert str(products["launch_date"][0]) == "2024-03-01"
    assert ws.read("events")["event"].to_list() == ["search", "cart"]
    assert tables["events"]["reject_reasons"] == {"event: not a known value": 1}
    assert ws.read("reviews")["rating"].to_list() == [2, None]
    assert tables["reviews"]["reject_reasons"] == {"text: missing value": 1}
    assert tables["reviews"]["field_reasons"] == {"rating: above 5": 1}
    for table in tables.values():
        assert table["rows_in"] == table["rows_written"] + table["rows_rejected"]
    for name in ["orders", "customers", "products", "events", "reviews"]:
        validate_table(ws.read(name), name)


def test_no_usable_rows_and_header_only(tmp_path: Path):
    src = write(tmp_path / "o.csv", "order_id,user_id,sku,ts,qty,unit_price\n1,u,s,never,1,1\n")
    with pytest.raises(InvalidDataError) as caught:
        run_ingest(Workspace(tmp_path / "ws"), {"orders": str(src)})
    assert str(caught.value) == (
        f"{src}: no usable orders rows (1 read, all rejected; first: {src} line 2, column ts: not a date/time 'never')"
    )
    write(src, "order_id,user_id,sku,ts,qty,unit_price\n")
    with pytest.raises(InvalidDataError, match="no orders rows"):
        run_ingest(Workspace(tmp_path / "ws"), {"orders": str(src)})
    assert not (tmp_path / "ws" / "orders.parquet").exists()


def test_corrupt_files_are_invalid_data(tmp_path: Path):
    bad_parquet = write(tmp_path / "o.parquet", "PAR1 this is not parquet")
    with pytest.raises(InvalidDataError, match=r"o.parquet: not a readable Parquet file"):
        run_ingest(Workspace(tmp_path / "ws"), {"orders": str(bad_parquet)})
    binary = tmp_path / "o.csv"
    binary.write_bytes(b"\x00\x01\x02\xff\xfe" * 50)
    with pytest.raises(InvalidDataError, match="o.csv: not"):
        run_ingest(Workspace(tmp_path / "ws"), {"orders": str(binary)})
    empty = write(tmp_path / "e.csv", "")
    with pytest.raises(InvalidDataError, match="e.csv: the file is empty"):
        run_ingest(Workspace(tmp_path / "ws"), {"orders": str(empty)})


def test_usage_errors(tmp_path: Path):
    ws = Workspace(tmp_path / "ws")
    with pytest.raises(UsageError, match=r"^--orders .*nope.csv: no such file or directory$"):
        run_ingest(ws, {"orders": str(tmp_path / "nope.csv")})
    with pytest.raises(UsageError, match="no file matches this pattern"):
        run_ingest(ws, {"orders": str(tmp_path / "*.csv")})
    with pytest.raises(UsageError, match="give either --mapping or --preset, not both"):
        run_ingest(ws, {"orders": "x"}, mapping=Path("m.toml"), preset="cdnow")
    with pytest.raises(UsageError, match="unknown preset 'tmall'"):
        run_ingest(ws, {"orders": "x"}, preset="tmall")


def test_reingest_is_byte_identical_and_drops_stale_tables(tmp_path: Path):
    src = write(tmp_path / "o.csv", HEADER + "".join(ROWS) + "A9,u9,S9,bad,1,1,已完成\n")
    rev = write(tmp_path / "r.csv", "text\n好\n")
    ws = Workspace(tmp_path / "ws")
    run_ingest(ws, {"orders": str(src), "reviews": str(rev)})
    first = (ws.root / "orders.parquet").read_bytes(), (ws.root / "_rejects/orders.parquet").read_bytes()
    run_ingest(ws, {"orders": str(src)})
    assert ((ws.root / "orders.parquet").read_bytes(), (ws.root / "_rejects/orders.parquet").read_bytes()) == first
    assert not ws.has("reviews")
    outputs = [o["path"] for o in ws.manifest()["steps"][-1]["outputs"]]
    assert outputs == ["_rejects/orders.parquet", "orders.parquet"]
