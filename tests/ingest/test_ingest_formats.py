"""What shops really export, through the real `c2m ingest`: exit code, message, row accounting.

Every case pins rows in = rows written + rows rejected, and the reject rows themselves (file,
line, column, raw value, reason): nothing is lost without a line in ``_rejects/``.
"""

from __future__ import annotations

import gzip
import json
import os
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

HEADER = "订单编号,买家会员名,商品编码,下单时间,购买数量,单价,订单状态"
ROWS = [
    "A1,u1,S1,2024/11/11 20:15,1,99.00,交易成功",
    "A2,u2,S2,2024/11/11 21:00,2,12.50,交易成功",
    "A3,u3,S3,2024/06/18 10:00,1,5,已取消",
]
CSV = HEADER + "\n" + "\n".join(ROWS) + "\n"


def ingest(c2m, ws: Path, *args: str | Path, table: str = "orders") -> dict:
    result = c2m("ingest", ws, *args, "--json", "--timezone", "Asia/Shanghai")
    assert result.exit_code == 0, result.stdout + result.stderr
    summary = result.json["tables"][table]
    assert summary["rows_in"] == summary["rows_written"] + summary["rows_rejected"]
    return summary


def rejects(ws: Path, table: str = "orders") -> list[tuple]:
    path = ws / "_rejects" / f"{table}.parquet"
    return pl.read_parquet(path).rows() if path.exists() else []


def orders(ws: Path) -> pl.DataFrame:
    return pl.read_parquet(ws / "orders.parquet")


def error_line(result) -> str:
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) >= 1
    return lines[0]


def write_mapping(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# -- title lines, sheets, headers -----------------------------------------------------------


def test_title_lines_above_the_header_are_found(c2m, tmp_path: Path):
    text = "店铺订单报表\n导出时间：2024-11-12 09:00,,,,,,\n" + CSV + "A4,u4,S4,不是日期,1,1,交易成功\n"
    src = tmp_path / "taobao.csv"
    src.write_bytes(text.encode("gb18030"))
    summary = ingest(c2m, tmp_path / "ws", "--orders", src)
    assert (summary["rows_in"], summary["rows_written"], summary["rows_rejected"]) == (4, 3, 1)
    assert summary["notes"] == [f"{src}: header on line 3 (2 line(s) above it skipped)"]
    assert rejects(tmp_path / "ws") == [(str(src), 7, "ts", "不是日期", "not a date/time")]
    assert orders(tmp_path / "ws")["order_id"].to_list() == ["A1", "A2", "A3"]


def test_skip_rows_read_option(c2m, tmp_path: Path):
    src = tmp_path / "o.csv"
    src.write_text("report\nsecond title line\n" + CSV, encoding="utf-8")
    mapping = write_mapping(tmp_path / "m.toml", "[orders.read]\nskip_rows = 2\n")
    summary = ingest(c2m, tmp_path / "ws", "--orders", src, "--mapping", mapping)
    assert (summary["rows_in"], summary["rows_written"], summary["rows_rejected"]) == (3, 3, 0)
    assert "notes" not in summary


def _workbook(path: Path, sheets: dict[str, list[list]]) -> Path:
    import xlsxwriter

    book = xlsxwriter.Workbook(str(path))
    for name, rows in sheets.items():
        sheet = book.add_worksheet(name)
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if isinstance(value, str) and value.startswith("#") and value.endswith(("!", "A")):
                    sheet.write_formula(r, c, "=1/0" if value == "#DIV/0!" else "=NA()", None, value)
                elif value is not None:
                    sheet.write(r, c, value)
    book.close()
    return path


ORDER_SHEET = [
    ["订单明细（导出）"],
    HEADER.split(","),
    ["A1", "u1", "S1", "2024/11/11 20:15", 1, 99.0, "交易成功"],
    ["A2", "u2", "S2", "2024/11/11 21:00", 2, 12.5, "交易成功"],
    ["A3", "u3", "S3", "2024/06/18 10:00", 1, 5, "已取消"],
]
COVER = [["店铺销售报表"], ["导出人", "运营部"], ["说明", "订单见第二页"]]


def test_workbook_cover_page_uses_the_sheet_holding_the_columns(c2m, tmp_path: Path):
    src = _workbook(tmp_path / "export.xlsx", {"封面": COVER, "订单": ORDER_SHEET})
    summary = ingest(c2m, tmp_path / "ws", "--orders", src)
    assert (summary["rows_in"], summary["rows_written"], summary["rows_rejected"]) == (3, 3, 0)
    assert summary["notes"] == [
        f"{src}: read sheet '订单' (sheets: 封面, 订单)",
        f"{src}: header on row 2 (1 row(s) above it skipped)",
    ]
    table = orders(tmp_path / "ws")
    assert table["unit_price"].to_list() == [99.0, 12.5, 5.0]
    assert table["ts"][0] == datetime(2024, 11, 11, 12, 15, tzinfo=UTC)


@pytest.mark.parametrize("sheet", ['"订单"', "2"])
def test_sheet_by_name_or_index(c2m, tmp_path: Path, sheet: str):
    src = _workbook(tmp_path / "export.xlsx", {"封面": COVER, "订单": ORDER_SHEET})
    mapping = write_mapping(tmp_path / "m.toml", f"[orders.read]\nsheet = {sheet}\n")
    summary = ingest(c2m, tmp_path / "ws", "--orders", src, "--mapping", mapping)
    assert (summary["rows_in"], summary["rows_written"]) == (3, 3)


def test_no_sheet_holds_the_columns_names_the_sheets(c2m, tmp_path: Path):
    src = _workbook(tmp_path / "export.xlsx", {"封面": COVER, "库存": [["商品编码", "库存"], ["S1", 3]]})
    result = c2m("ingest", tmp_path / "ws", "--orders", src)
    assert result.exit_code == 3
    assert error_line(result) == (
        f"Error: {src}: no sheet holds the table's required columns (sheets: 封面, 库存);"
        " name one with [read] sheet or map the columns"
    )


def test_sheet_out_of_range_or_unknown_is_exit_2(c2m, tmp_path: Path):
    src = _workbook(tmp_path / "export.xlsx", {"封面": COVER, "订单": ORDER_SHEET})
    mapping = write_mapping(tmp_path / "m.toml", "[orders.read]\nsheet = 3\n")
    result = c2m("ingest", tmp_path / "ws", "--orders", src, "--mapping", mapping)
    assert result.exit_code == 2
    assert error_line(result) == f"Error: [read] sheet 3 is out of range: {src} has 2 sheet(s) (封面, 订单)"
    mapping.write_text('[orders.read]\nsheet = "明细"\n', encoding="utf-8")
    result = c2m("ingest", tmp_path / "ws", "--orders", src, "--mapping", mapping)
    assert result.exit_code == 2
    assert error_line(result) == f"Error: [read] sheet '明细' is not in {src} (sheets: 封面, 订单)"


def test_merged_header_cells_over_two_rows(c2m, tmp_path: Path):
    # 订单编号 / 买家会员名 / 数量 / 单价 merged over two header rows; 商品信息 over two columns
    rows = [
        ["订单编号", "买家会员名", "商品信息", None, "购买数量", "单价"],
        [None, None, "商品编码", "下单时间", None, None],
        ["A1", "u1", "S1", "2024-11-11 20:15", 1, 9.5],
        ["A2", "u2", "S2", "2024-11-11 21:00", 3, 2],
    ]
    src = _workbook(tmp_path / "merged.xlsx", {"订单": rows})
    summary = ingest(c2m, tmp_path / "ws", "--orders", src)
    assert (summary["rows_in"], summary["rows_written"], summary["rows_rejected"]) == (2, 2, 0)
    table = orders(tmp_path / "ws")
    assert table.select("order_id", "sku", "qty").rows() == [("A1", "S1", 1.0), ("A2", "S2", 3.0)]


def test_blank_header_cell_gets_a_name_the_mapping_can_use(c2m, tmp_path: Path):
    src = tmp_path / "o.csv"
    src.write_text(
        "order_id,user_id,sku,ts,qty,unit_price,\n1,u,s,2024-01-01,1,2,店A\n2,v,t,2024-01-02,1,3,店B\n",
        encoding="utf-8",
    )
    mapping = write_mapping(tmp_path / "m.toml", '[orders]\nstore_id = "column_7"\n')
    summary = ingest(c2m, tmp_path / "ws", "--orders", src, "--mapping", mapping)
    assert (summary["rows_in"], summary["rows_written"]) == (2, 2)
    assert orders(tmp_path / "ws")["store_id"].to_list() == ["店A", "店B"]


def test_spreadsheet_error_cells_in_a_csv(c2m, tmp_path: Path):
    src = tmp_path / "o.csv"
    src.write_text(
        "order_id,user_id,sku,ts,qty,unit_price,channel\n"
        "1,u,s,2024-01-01,#DIV/0!,2,web\n"
        "2,v,t,2024-01-02,1,#VALUE!,web\n"
        "3,w,x,2024-01-03,1,4,#N/A\n",
        encoding="utf-8",
    )
    summary = ingest(c2m, tmp_path / "ws", "--orders", src)
    assert (summary["rows_in"], summary["rows_written"], summary["rows_rejected"]) == (3, 1, 2)
    assert rejects(tmp_path / "ws") == [
        (str(src), 2, "qty", "#DIV/0!", "not a number"),
        (str(src), 3, "unit_price", "#VALUE!", "not a number"),
    ]
    assert orders(tmp_path / "ws")["channel"].to_list() == [None]


def test_spreadsheet_error_cells_in_a_workbook(c2m, tmp_path: Path):
    rows = [
        ["order_id", "user_id", "sku", "ts", "qty", "unit_price"],
        ["1", "u", "s", "2024-01-01", "#DIV/0!", 2],
        ["2", "v", "t", "2024-01-02", 1, "#N/A"],
        ["3", "w", "x", "2024-01-03", 1, 4],
    ]
    src = _workbook(tmp_path / "o.xlsx", {"Sheet1": rows})
    summary = ingest(c2m, tmp_path / "ws", "--orders", src)
    assert (summary["rows_in"], summary["rows_written"], summary["rows_rejected"]) == (3, 1, 2)
    assert rejects(tmp_path / "ws") == [
        (str(src), 2, "qty", "", "missing value"),
        (str(src), 3, "unit_price", "", "missing value"),
    ]


# -- compressed and structured files --------------------------------------------------------


def test_gzipped_csv(c2m, tmp_path: Path):
    src = tmp_path / "orders.csv.gz"
    src.write_bytes(gzip.compress(CSV.encode("gb18030")))
    summary = ingest(c2m, tmp_path / "ws", "--orders", src)
    assert (summary["rows_in"], summary["rows_written"], summary["rows_rejected"]) == (3, 3, 0)
    assert "notes" not in summary


def test_gzip_file_named_csv_is_read_and_said(c2m, tmp_path: Path):
    src = tmp_path / "orders.csv"
    src.write_bytes(gzip.compress(CSV.encode("utf-8")))
    summary = ingest(c2m, tmp_path / "ws", "--orders", src)
    assert (summary["rows_in"], summary["rows_written"]) == (3, 3)
    assert summary["notes"] == [f"{src}: gzip-compressed although named .csv; read decompressed"]


def test_zip_with_one_member(c2m, tmp_path: Path):
    src = tmp_path / "export.zip"
    with zipfile.ZipFile(src, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("订单.csv", CSV.encode("gb18030"))
    summary = ingest(c2m, tmp_path / "ws", "--orders", src)
    assert (summary["rows_in"], summary["rows_written"], summary["files"]) == (3, 3, 1)


def test_zip_with_several_members_names_each_in_rejects(c2m, tmp_path: Path):
    src = tmp_path / "export.zip"
    with zipfile.ZipFile(src, "w") as archive:
        archive.writestr("day1.csv", HEADER + "\n" + ROWS[0] + "\n")
        archive.writestr("day2.csv", HEADER + "\n" + ROWS[1] + "\nA9,u9,S9,bad,1,1,交易成功\n")
        archive.writestr("readme.md", "not data")
        archive.writestr("__MACOSX/._day1.csv", "resource fork")
    summary = ingest(c2m, tmp_path / "ws", "--orders", src)
    assert (summary["rows_in"], summary["rows_written"], summary["rows_rejected"], summary["files"]) == (3, 2, 1, 2)
    assert summary["notes"] == [f"{src}: members skipped (not a known format): readme.md"]
    assert rejects(tmp_path / "ws") == [(f"{src}:day2.csv", 3, "ts", "bad", "not a date/time")]


def test_zip_without_a_data_file_exits_3(c2m, tmp_path: Path):
    src = tmp_path / "export.zip"
    with zipfile.ZipFile(src, "w") as archive:
        archive.writestr("readme.md", "nothing")
    result = c2m("ingest", tmp_path / "ws", "--orders", src)
    assert result.exit_code == 3
    assert error_line(result) == (
        f"Error: {src}: the zip archive holds no CSV, Parquet, JSON or Excel file (members: readme.md)"
    )


def test_json_array_file(c2m, tmp_path: Path):
    src = tmp_path / "orders.json"
    records = [
        {"order_id": 1, "user_id": "u1", "sku": "S1", "ts": "2024-11-11 20:15", "qty": 1, "unit_price": 9.5},
        {"order_id": 2, "user_id": "u2", "sku": "S2", "ts": "2024-11-12 08:00", "qty": 2, "unit_price": 3},
    ]
    src.write_text(json.dumps(records, ensure_ascii=False, indent=2), encoding="utf-8")
    summary = ingest(c2m, tmp_path / "ws", "--orders", src)
    assert (summary["rows_in"], summary["rows_written"]) == (2, 2)
    assert orders(tmp_path / "ws")["order_id"].to_list() == ["1", "2"]


def test_nested_json_columns_are_flattened(c2m, tmp_path: Path):
    src = tmp_path / "orders.jsonl"
    lines = [
        {"order": {"id": "A1", "buyer": {"id": "u1"}}, "item": {"sku": "S1", "qty": 1, "price": 9.5},
         "ts": "2024-11-11T20:15:00+08:00", "tags": ["gift", "618"]},
        {"order": {"id": "A2", "buyer": {"id": "u2"}}, "item": {"sku": "S2", "qty": 2, "price": 3.0},
         "ts": "2024-11-11T21:00:00+08:00", "tags": []},
    ]
    src.write_text("\n".join(json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    mapping = write_mapping(
        tmp_path / "m.toml",
        '[orders]\norder_id = "order.id"\nuser_id = "order.buyer.id"\nsku = "item.sku"\n'
        'qty = "item.qty"\nunit_price = "item.price"\n',
    )
    summary = ingest(c2m, tmp_path / "ws", "--orders", src, "--mapping", mapping)
    assert (summary["rows_in"], summary["rows_written"]) == (2, 2)
    table = orders(tmp_path / "ws")
    assert table.select("order_id", "user_id", "sku", "qty", "unit_price").rows() == [
        ("A1", "u1", "S1", 1.0, 9.5), ("A2", "u2", "S2", 2.0, 3.0),
    ]
    assert table["ts"][0] == datetime(2024, 11, 11, 12, 15, tzinfo=UTC)


def test_integers_beyond_int64_as_ids_keep_every_digit(c2m, tmp_path: Path):
    src = tmp_path / "orders.jsonl"
    big = [123456789012345678901234, 123456789012345678901235, 18446744073709551617]
    src.write_text(
        "".join(
            f'{{"order_id": {n}, "user_id": {n + 1}, "sku": "S", "ts": "2024-01-0{i + 1}", "qty": 1, "unit_price": 2}}\n'
            for i, n in enumerate(big)
        ),
        encoding="utf-8",
    )
    summary = ingest(c2m, tmp_path / "ws", "--orders", src)
    assert (summary["rows_in"], summary["rows_written"]) == (3, 3)
    table = orders(tmp_path / "ws")
    assert table["order_id"].to_list() == [str(n) for n in big]
    assert table["user_id"].to_list() == [str(n + 1) for n in big]


def test_one_truncated_json_line_is_rejected_the_others_kept(c2m, tmp_path: Path):
    src = tmp_path / "orders.jsonl"
    good = '{"order_id": "%d", "user_id": "u", "sku": "s", "ts": "2024-01-01", "qty": 1, "unit_price": 2}'
    src.write_text(good % 1 + "\n" + good % 2 + "\n" + '{"order_id": "3", "user_id": "u", "sku"' + "\n"
                   + "\n" + good % 4 + "\n", encoding="utf-8")
    summary = ingest(c2m, tmp_path / "ws", "--orders", src)
    assert (summary["rows_in"], summary["rows_written"], summary["rows_rejected"]) == (4, 3, 1)
    (row,) = rejects(tmp_path / "ws")
    assert row[:4] == (str(src), 3, None, '{"order_id": "3", "user_id": "u", "sku"')
    assert row[4].startswith("not valid JSON (") and row[4].endswith("truncated?)")
    assert orders(tmp_path / "ws")["order_id"].to_list() == ["1", "2", "4"]


def test_json_lines_are_read_in_batches(tmp_path: Path, monkeypatch):
    from c2m_cli.ingest import readers

    src = tmp_path / "orders.jsonl"
    src.write_text("".join(f'{{"id": {i}, "v": {"1.5" if i % 7 else "null"}}}\n' for i in range(5000)), encoding="utf-8")
    monkeypatch.setattr(readers, "JSON_BATCH_BYTES", 4096)
    raw = readers.open_ndjson(src, str(src), tmp_path / "scratch")
    assert len(list((tmp_path / "scratch").iterdir())) > 10  # one Parquet part per batch
    frame = raw.frame.collect()
    assert frame["id"].to_list() == list(range(5000))
    assert frame[readers.LINE].to_list() == list(range(1, 5001))
    assert frame["v"].null_count() == len(range(0, 5000, 7))


# -- encodings and line ends ----------------------------------------------------------------


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_unicode_text_export(c2m, tmp_path: Path, codec: str):
    bom = b"\xff\xfe" if codec.endswith("le") else b"\xfe\xff"
    text = CSV.replace(",", "\t").replace("\n", "\r\n")
    src = tmp_path / "unicode.txt"
    src.write_bytes(bom + text.encode(codec))
    summary = ingest(c2m, tmp_path / "ws", "--orders", src)
    assert (summary["rows_in"], summary["rows_written"], summary["rows_rejected"]) == (3, 3, 0)
    assert orders(tmp_path / "ws")["status"].to_list() == ["paid", "paid", "cancelled"]


def test_big5_declared_encoding(c2m, tmp_path: Path):
    text = "訂單編號,買家,商品,時間,數量,單價\nT1,陳大文,S1,2024-01-01,1,100\nT2,林小美,S2,2024-01-02,2,50\n"
    src = tmp_path / "big5.csv"
    src.write_bytes(text.encode("big5"))
    mapping = write_mapping(
        tmp_path / "m.toml",
        '[orders]\norder_id = "訂單編號"\nuser_id = "買家"\nsku = "商品"\nts = "時間"\n'
        'qty = "數量"\nunit_price = "單價"\n[orders.read]\nencoding = "big5"\n',
    )
    summary = ingest(c2m, tmp_path / "ws", "--orders", src, "--mapping", mapping)
    assert (summary["rows_in"], summary["rows_written"]) == (2, 2)
    assert orders(tmp_path / "ws")["user_id"].to_list() == ["陳大文", "林小美"]


def test_declared_encoding_that_does_not_fit_exits_3(c2m, tmp_path: Path):
    src = tmp_path / "o.csv"
    src.write_bytes(CSV.encode("gb18030"))
    mapping = write_mapping(tmp_path / "m.toml", '[orders.read]\nencoding = "utf-8"\n')
    result = c2m("ingest", tmp_path / "ws", "--orders", src, "--mapping", mapping)
    assert result.exit_code == 3
    assert error_line(result).startswith(f"Error: {src}: not readable as utf-8 (invalid")


def test_cr_only_line_endings(c2m, tmp_path: Path):
    src = tmp_path / "mac.csv"
    src.write_bytes((CSV.replace("\n", "\r") + "A4,u4,S4,nope,1,1,交易成功\r").encode("utf-8"))
    summary = ingest(c2m, tmp_path / "ws", "--orders", src)
    assert (summary["rows_in"], summary["rows_written"], summary["rows_rejected"]) == (4, 3, 1)
    assert rejects(tmp_path / "ws") == [(str(src), 5, "ts", "nope", "not a date/time")]


# -- broken text ------------------------------------------------------------------------------


def test_unterminated_quote_rejects_from_that_line_on(c2m, tmp_path: Path):
    src = tmp_path / "o.csv"
    src.write_text(
        "order_id,user_id,sku,ts,qty,unit_price\n"
        "1,u,s,2024-01-01,1,2\n"
        '2,"v,t,2024-01-02,1,3\n'
        "3,w,x,2024-01-03,1,4\n",
        encoding="utf-8",
    )
    summary = ingest(c2m, tmp_path / "ws", "--orders", src)
    assert (summary["rows_in"], summary["rows_written"], summary["rows_rejected"]) == (3, 1, 2)
    reason = "unterminated quote (opened on line 3)"
    assert rejects(tmp_path / "ws") == [
        (str(src), 3, None, '2,"v,t,2024-01-02,1,3', reason),
        (str(src), 4, None, "3,w,x,2024-01-03,1,4", reason),
    ]


def test_header_repeated_mid_file_is_rejected_as_such(c2m, tmp_path: Path):
    src = tmp_path / "concatenated.csv"
    src.write_text(CSV + HEADER + "\n" + "A9,u9,S9,2024/11/12 10:00,1,3,交易成功\n", encoding="utf-8")
    summary = ingest(c2m, tmp_path / "ws", "--orders", src)
    assert (summary["rows_in"], summary["rows_written"], summary["rows_rejected"]) == (5, 4, 1)
    assert summary["reject_reasons"] == {"repeated header": 1}
    assert rejects(tmp_path / "ws") == [(str(src), 5, None, HEADER, "repeated header")]


def test_quoted_newlines_keep_line_numbers_and_repeated_header(c2m, tmp_path: Path):
    src = tmp_path / "o.csv"
    src.write_text(
        "order_id,user_id,sku,ts,qty,unit_price,channel\n"
        '1,u,s,2024-01-01,1,2,"two\nlines"\n'
        "order_id,user_id,sku,ts,qty,unit_price,channel\n"
        "2,v,t,2024-01-02,x,3,web\n",
        encoding="utf-8",
    )
    summary = ingest(c2m, tmp_path / "ws", "--orders", src)
    assert (summary["rows_in"], summary["rows_written"], summary["rows_rejected"]) == (3, 1, 2)
    assert [r[1:] for r in rejects(tmp_path / "ws")] == [
        (4, None, "order_id,user_id,sku,ts,qty,unit_price,channel", "repeated header"),
        (5, "qty", "x", "not a number"),
    ]


# -- folders ----------------------------------------------------------------------------------


def test_daily_exports_folder_with_an_empty_file(c2m, tmp_path: Path):
    folder = tmp_path / "daily"
    folder.mkdir()
    (folder / "2024-11-11.csv").write_text(HEADER + "\n" + ROWS[0] + "\n", encoding="utf-8")
    (folder / "2024-11-12.csv").write_text("", encoding="utf-8")
    (folder / "2024-11-13.csv").write_text(HEADER + "\n" + ROWS[1] + "\n", encoding="utf-8")
    summary = ingest(c2m, tmp_path / "ws", "--orders", folder)
    assert (summary["rows_in"], summary["rows_written"], summary["files"]) == (2, 2, 2)
    assert summary["notes"] == [f"{folder / '2024-11-12.csv'}: empty file, skipped"]


def test_single_empty_file_exits_3(c2m, tmp_path: Path):
    src = tmp_path / "o.csv"
    src.write_text("", encoding="utf-8")
    result = c2m("ingest", tmp_path / "ws", "--orders", src)
    assert result.exit_code == 3
    assert error_line(result) == f"Error: {src}: the file is empty"


def test_folder_with_a_symlink_loop_reads_each_file_once(c2m, tmp_path: Path):
    folder = tmp_path / "exports"
    (folder / "nov").mkdir(parents=True)
    (folder / "nov" / "a.csv").write_text(CSV, encoding="utf-8")
    os.symlink(folder, folder / "nov" / "loop")  # nov/loop → exports: a cycle
    os.symlink(folder / "nov" / "a.csv", folder / "same-file.csv")
    summary = ingest(c2m, tmp_path / "ws", "--orders", folder)
    assert (summary["rows_in"], summary["rows_written"], summary["files"]) == (3, 3, 1)


def test_directory_src_never_reads_the_workspace_inside_it(c2m, tmp_path: Path):
    folder = tmp_path / "shop"
    folder.mkdir()
    (folder / "orders.csv").write_text(CSV, encoding="utf-8")
    ws = folder / "ws"
    first = ingest(c2m, ws, "--orders", folder)
    again = ingest(c2m, ws, "--orders", folder)  # ws/orders.parquet now sits inside the SRC
    assert first["rows_in"] == again["rows_in"] == 3 and again["files"] == 1


# -- read options -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("read", "message"),
    [
        ("colour = 1", "[orders.read]: unknown key 'colour' (keys: encoding, delimiter, decimal, sheet, skip_rows, header, names)"),
        ('delimiter = "||"', "[orders.read]: delimiter must be one character (or \"tab\", \"whitespace\"), got '||'"),
        ('decimal = ";"', "[orders.read]: decimal must be \".\" or \",\", got ';'"),
        ('decimal = ","\ndelimiter = ","', "[orders.read]: decimal and delimiter are both ','"),
        ("sheet = 0", "[orders.read]: sheet index counts from 1, got 0"),
        ("skip_rows = -1", "[orders.read]: skip_rows must be a whole number ≥ 0, got -1"),
        ('encoding = "klingon"', "[orders.read]: encoding 'klingon' is not a known text encoding"),
    ],
)
def test_bad_read_options_exit_2_naming_the_key(c2m, tmp_path: Path, read: str, message: str):
    src = tmp_path / "o.csv"
    src.write_text(CSV, encoding="utf-8")
    mapping = write_mapping(tmp_path / "m.toml", f"[orders.read]\n{read}\n")
    result = c2m("ingest", tmp_path / "ws", "--orders", src, "--mapping", mapping)
    assert result.exit_code == 2, result.stderr
    assert error_line(result) == f"Error: mapping {mapping}: {message}"


def test_decimal_option_reaches_the_source(tmp_path: Path):
    from c2m_cli.ingest.readers import open_all

    src = tmp_path / "o.csv"
    src.write_text("order_id;qty\n1;1,5\n", encoding="utf-8")
    opened = open_all(str(src), "orders", {"decimal": ","}, tmp_path / "scratch")
    assert [s.decimal for s in opened.sources] == [","]
    assert opened.sources[0].frame.collect()["qty"].to_list() == ["1,5"]


def test_big_workbooks_are_streamed_row_by_row_with_the_same_result(tmp_path: Path, monkeypatch):
    from c2m_cli.ingest import readers, run_ingest
    from c2m_cli.workspace import Workspace

    rows = [["订单明细"], HEADER.split(",")]
    for i in range(3000):
        rows.append([f"A{i}", f"u{i % 97}", f"S{i % 13}", f"2024/11/{1 + i % 28:02d} 20:15", 1 + i % 3,
                     round(1 + i * 0.37, 2), "交易成功" if i % 5 else "已取消"])
    rows.append(["A9999", "u1", "S1", "2024/11/11 20:15", "many", 1, "交易成功"])
    src = _workbook(tmp_path / "big.xlsx", {"封面": COVER, "订单": rows})
    whole = run_ingest(Workspace(tmp_path / "whole"), {"orders": str(src)}, timezone="Asia/Shanghai")
    monkeypatch.setattr(readers, "EXCEL_STREAM_BYTES", 0)
    monkeypatch.setattr(readers, "EXCEL_BATCH_ROWS", 500)
    streamed = run_ingest(Workspace(tmp_path / "streamed"), {"orders": str(src)}, timezone="Asia/Shanghai")
    assert whole["tables"]["orders"] == streamed["tables"]["orders"]
    assert (streamed["tables"]["orders"]["rows_in"], streamed["tables"]["orders"]["rows_rejected"]) == (3001, 1)
    assert pl.read_parquet(tmp_path / "whole" / "orders.parquet").equals(
        pl.read_parquet(tmp_path / "streamed" / "orders.parquet")
    )
    assert rejects(tmp_path / "streamed") == rejects(tmp_path / "whole") == [
        (str(src), 3003, "qty", "many", "not a number")
    ]


def test_taobao_style_export_and_its_zipped_copy_give_the_same_table(c2m, tmp_path: Path):
    lines = ["淘宝卖家中心 订单报表", "导出时间：2024-11-12 09:00:00  共 6 条", HEADER.replace("单价", "实付单价")]
    for i in range(6):
        price = f'"¥{1299 + i:,}.00"' if i % 2 else f"￥{12 + i}.50"
        status = ["交易成功", "交易关闭", "退款成功"][i % 3]
        lines.append(f"T2024{i:04d},买家{i},SKU{i % 2},2024/11/11 2{i % 4}:0{i}:00,{1 + i % 2},{price},{status}")
    lines.append("T20249999,买家9,SKU9,2024/11/11 20:00:00,一件,¥5.00,交易成功")
    text = "\r\n".join(lines) + "\r\n"
    plain = tmp_path / "ExportOrderList.csv"
    plain.write_bytes(text.encode("gb18030"))
    zipped = tmp_path / "ExportOrderList.zip"
    with zipfile.ZipFile(zipped, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("ExportOrderList.csv", text.encode("gb18030"))
    mapping = write_mapping(tmp_path / "m.toml", '[orders]\nunit_price = "实付单价"\n')
    a = ingest(c2m, tmp_path / "a", "--orders", plain, "--mapping", mapping)
    b = ingest(c2m, tmp_path / "b", "--orders", zipped, "--mapping", mapping)
    assert (a["rows_in"], a["rows_written"], a["rows_rejected"]) == (7, 6, 1)
    assert {k: v for k, v in a.items() if k != "notes"} == {k: v for k, v in b.items() if k != "notes"}
    assert orders(tmp_path / "a").equals(orders(tmp_path / "b"))
    assert orders(tmp_path / "a")["unit_price"].to_list() == [12.5, 1300.0, 14.5, 1302.0, 16.5, 1304.0]
    assert orders(tmp_path / "a")["status"].to_list() == ["paid", "cancelled", "returned"] * 2
    assert rejects(tmp_path / "a") == [(str(plain), 10, "qty", "一件", "not a number")]
    assert rejects(tmp_path / "b") == [(f"{zipped}:ExportOrderList.csv", 10, "qty", "一件", "not a number")]


def test_one_pretty_printed_json_object_is_named_as_such(c2m, tmp_path: Path):
    src = tmp_path / "export.json"
    src.write_text(json.dumps({"code": 0, "data": {"orders": []}, "msg": "ok"}, indent=2), encoding="utf-8")
    result = c2m("ingest", tmp_path / "ws", "--orders", src)
    assert result.exit_code == 3
    assert error_line(result) == (
        f"Error: {src}: one JSON object (keys: code, data, msg), not JSON lines (one object per line)"
        " or an array of objects; export the records as one of those"
    )


def test_exact_re_read_of_quoted_newlines_is_batched(tmp_path: Path, monkeypatch):
    from c2m_cli.ingest import readers

    src = tmp_path / "reviews.csv"
    src.write_text("id,text\n" + "".join(f'{i},"line one\nline two {i}"\n' for i in range(1000)), encoding="utf-8")
    monkeypatch.setattr(readers, "EXACT_BATCH_ROWS", 64)
    frame = readers.exact_text_frame(src, ",", ["id", "text"], 1, str(src), ["id", "text"], tmp_path / "parts").collect()
    assert len(list((tmp_path / "parts").iterdir())) == 16  # ⌈1000 / 64⌉
    assert frame["id"].to_list() == [str(i) for i in range(1000)]
    assert frame[readers.LINE].to_list() == list(range(2, 2002, 2))
    assert frame["text"][999] == "line one\nline two 999"
