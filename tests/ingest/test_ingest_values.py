"""Values real exports hold, through the real CLI: exit code, message and exact row accounting.

Timestamps (Excel serial days, epoch numbers, implausible dates, bad formats, assumed zones),
numbers (decimal commas, ambiguity, currency, bounds, the negative-quantity rule), ids
(scientific notation, beyond int64, ``1`` = ``1.0``), unknown values and optional fields,
vocabularies (normalised keys, built-in statuses, canonical targets). docs/ingest.md has the rules.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

HEAD = "order_id,user_id,sku,ts,qty,unit_price"


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def ingest(c2m, ws: Path, *args: str | Path):
    result = c2m("ingest", ws, *args, "--json")
    return result


def rejects(ws: Path, table: str = "orders", suffix: str = "") -> list[tuple]:
    path = ws / "_rejects" / f"{table}{suffix}.parquet"
    if not path.exists():
        return []
    return pl.read_parquet(path).select("line", "column", "raw_value", "reason").rows()


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# -- timestamps --------------------------------------------------------------------------------


def test_excel_serial_days_in_a_workbook_and_a_csv_and_epoch_numbers_in_json(c2m, tmp_path: Path):
    book = tmp_path / "orders.xlsx"
    pl.DataFrame({
        "订单编号": ["A1", "A2", "A3"], "买家会员名": ["u1", "u2", "u3"], "商品编码": ["s", "s", "s"],
        "下单时间": [45607.5, 45607.0, 45658.25], "购买数量": [1, 2, 1], "单价": [10.0, 20.0, 30.0],
    }).write_excel(book)
    result = ingest(c2m, tmp_path / "x", "--orders", book, "--timezone", "Asia/Shanghai")
    assert result.exit_code == 0, result.stderr
    orders = pl.read_parquet(tmp_path / "x" / "orders.parquet")
    # serial days are local wall times: 45607.5 = 2024-11-11 12:00 in Shanghai = 04:00 UTC
    assert orders["ts"].to_list() == [utc(2024, 11, 11, 4), utc(2024, 11, 10, 16), utc(2024, 12, 31, 22)]

    csv = write(tmp_path / "o.csv", f"{HEAD}\n1,u,s,45607.5,1,1\n2,u,s,45607.75,1,1\n3,u,s,2024,1,1\n")
    result = ingest(c2m, tmp_path / "c", "--orders", csv, "--timezone", "UTC")
    assert result.exit_code == 0, result.stderr
    assert result.json["tables"]["orders"]["rows_rejected"] == 1
    assert pl.read_parquet(tmp_path / "c" / "orders.parquet")["ts"].to_list() == [utc(2024, 11, 11, 12), utc(2024, 11, 11, 18)]
    assert rejects(tmp_path / "c") == [(4, "ts", "2024", "implausible date (before 1950-01-01)")]

    lines = [
        {"order_id": "s", "user_id": "u", "sku": "k", "ts": 1731326400, "qty": 1, "unit_price": 1},
        {"order_id": "ms", "user_id": "u", "sku": "k", "ts": 1731326400000, "qty": 1, "unit_price": 1},
        {"order_id": "us", "user_id": "u", "sku": "k", "ts": 1731326400000000, "qty": 1, "unit_price": 1},
        {"order_id": "zero", "user_id": "u", "sku": "k", "ts": 0, "qty": 1, "unit_price": 1},
    ]
    jsonl = write(tmp_path / "o.jsonl", "".join(json.dumps(line) + "\n" for line in lines))
    result = ingest(c2m, tmp_path / "j", "--orders", jsonl, "--timezone", "Asia/Shanghai")
    assert result.exit_code == 0, result.stderr
    orders = pl.read_parquet(tmp_path / "j" / "orders.parquet")
    assert orders["order_id"].to_list() == ["s", "ms", "us"]
    assert orders["ts"].to_list() == [utc(2024, 11, 11, 12)] * 3  # epochs are instants: no zone applied
    # 0 is never 1970: as a number below 10^6 it is an Excel day (1899-12-30), implausible
    assert rejects(tmp_path / "j") == [(4, "ts", "0", "implausible date (before 1950-01-01)")]
    assert all(ts.year != 1970 for ts in orders["ts"].to_list())


def test_implausible_dates_are_rejected_with_a_reason(c2m, tmp_path: Path):
    src = write(tmp_path / "o.csv", (
        f"{HEAD}\n"
        "1,u,s,0001-01-01,1,1\n"
        "2,u,s,1900-01-01 10:00,1,1\n"
        "3,u,s,2999-01-01,1,1\n"
        "4,u,s,1950-01-01,1,1\n"
        "5,u,s,2024-06-18 10:00,1,1\n"
    ))
    result = ingest(c2m, tmp_path / "ws", "--orders", src, "--timezone", "UTC")
    assert result.exit_code == 0, result.stderr
    table = result.json["tables"]["orders"]
    assert (table["rows_in"], table["rows_written"], table["rows_rejected"]) == (5, 2, 3)
    got = rejects(tmp_path / "ws")
    assert got[:2] == [
        (2, "ts", "0001-01-01", "implausible date (before 1950-01-01)"),
        (3, "ts", "1900-01-01 10:00", "implausible date (before 1950-01-01)"),
    ]
    assert got[2][:3] == (4, "ts", "2999-01-01") and got[2][3].startswith("implausible date (after 20")


def test_an_invalid_strftime_format_is_a_usage_error(c2m, tmp_path: Path):
    src = write(tmp_path / "o.csv", f"{HEAD}\n1,u,s,2024-01-01,1,1\n")
    mapping = write(tmp_path / "m.toml", '[orders]\nts = { column = "ts", format = "%Y-%m-%q" }\n')
    result = c2m("ingest", tmp_path / "ws", "--orders", src, "--mapping", mapping)
    assert result.exit_code == 2
    assert f"mapping {mapping}: [orders].ts: format '%Y-%m-%q' has an unknown directive %q" in result.stderr
    assert "Traceback" not in result.stderr


def test_timezone_assumed_is_a_warning_and_read_from_offsets_in_other_rows(c2m, tmp_path: Path):
    src = write(tmp_path / "o.csv", (
        f"{HEAD}\n"
        "1,u,s,2024-11-11T20:00:00+08:00,1,1\n"
        "2,u,s,2024-11-11 20:00:00,1,1\n"
        "3,u,s,2024-11-12T09:30:00+08:00,1,1\n"
    ))
    result = ingest(c2m, tmp_path / "ws", "--orders", src)
    assert result.exit_code == 0, result.stderr
    warnings = {w["code"]: w["message"] for w in result.json["warnings"]}
    assert warnings["timezone-assumed"] == (
        "orders.ts: 1 sampled timestamps carry no offset; read at UTC+08:00 (Etc/GMT-8), the offset"
        " 2 other sampled timestamps carry (give --timezone or a mapping timezone to override)"
    )
    orders = pl.read_parquet(tmp_path / "ws" / "orders.parquet")
    assert orders["ts"].to_list() == [utc(2024, 11, 11, 12), utc(2024, 11, 11, 12), utc(2024, 11, 12, 1, 30)]
    assert result.json["data_timezone"] == "Etc/GMT-8"

    naive = write(tmp_path / "n.csv", f"{HEAD}\n1,u,s,2024-11-11 20:00,1,1\n")
    result = ingest(c2m, tmp_path / "n", "--orders", naive)
    assert [w["message"] for w in result.json["warnings"] if w["code"] == "timezone-assumed"] == [
        "orders.ts: no --timezone or mapping timezone given; 1 sampled naive timestamps read as UTC"
    ]
    given = ingest(c2m, tmp_path / "g", "--orders", naive, "--timezone", "Asia/Shanghai")
    assert "timezone-assumed" not in {w["code"] for w in given.json["warnings"]}
    strict = c2m("ingest", tmp_path / "s", "--orders", naive, "--strict")
    assert strict.exit_code == 6


# -- numbers -----------------------------------------------------------------------------------


def test_decimal_commas_in_a_semicolon_file_are_read_never_multiplied(c2m, tmp_path: Path):
    src = write(tmp_path / "eu.csv", (
        "order_id;user_id;sku;ts;qty;unit_price\n"
        "1;u;s;2024-01-01;1,5;12,50\n"
        "2;u;s;2024-01-01;2;1.234,56\n"
        "3;u;s;2024-01-01;3;€ 7,00\n"
    ))
    result = ingest(c2m, tmp_path / "auto", "--orders", src, "--timezone", "UTC")
    assert result.exit_code == 0, result.stderr
    orders = pl.read_parquet(tmp_path / "auto" / "orders.parquet")
    assert orders["qty"].to_list() == [1.5, 2.0, 3.0]
    assert orders["unit_price"].to_list() == [12.5, 1234.56, 7.0]

    # declared: "1,234" is one point two three four, not a thousand
    declared = write(tmp_path / "d.csv", "order_id;user_id;sku;ts;qty;unit_price\n1;u;s;2024-01-01;1,234;5\n")
    mapping = write(tmp_path / "m.toml", '[orders.read]\ndecimal = ","\n')
    result = ingest(c2m, tmp_path / "d", "--orders", declared, "--mapping", mapping, "--timezone", "UTC")
    assert result.exit_code == 0, result.stderr
    assert pl.read_parquet(tmp_path / "d" / "orders.parquet")["qty"].to_list() == [1.234]


def test_ambiguous_numbers_currency_fullwidth_and_bounds(c2m, tmp_path: Path):
    src = write(tmp_path / "o.csv", (
        f"{HEAD}\n"
        '1,u,s,2024-01-01,1,"¥1,299.00"\n'   # 2 good: thousands group + decimal point
        "2,u,s,2024-01-01,１,￥１２．５０\n"    # 3 good: full-width
        "3,u,s,2024-01-01,1,$3\n"              # 4 good
        '4,u,s,2024-01-01,"1,5",12.50\n'       # 5 ambiguous: the column also holds 2.5
        "5,u,s,2024-01-01,1e308,1\n"           # 6 beyond sane bounds
        "6,u,s,2024-01-01,inf,1\n"             # 7 not finite
        "7,u,s,2024-01-01,1,1e12\n"            # 8 price beyond sane bounds
        "8,u,s,2024-01-01,nan,1\n"             # 9 nan is a placeholder: missing
        "9,u,s,2024-01-01,2.5,1\n"             # 10 good
    ))
    result = ingest(c2m, tmp_path / "ws", "--orders", src, "--timezone", "UTC")
    assert result.exit_code == 0, result.stderr
    assert pl.read_parquet(tmp_path / "ws" / "orders.parquet")["unit_price"].to_list() == [1299.0, 12.5, 3.0, 1.0]
    assert rejects(tmp_path / "ws") == [
        (5, "qty", "1,5", 'ambiguous decimal separator (declare decimal = "." or "," in [TABLE.read])'),
        (6, "qty", "1e308", "above 1,000,000"),
        (7, "qty", "inf", "not a finite number"),
        (8, "unit_price", "1e12", "above 1,000,000,000"),
        (9, "qty", "nan", "missing value"),
    ]
    table = result.json["tables"]["orders"]
    assert (table["rows_in"], table["rows_written"], table["rows_rejected"]) == (9, 4, 5)


def test_negative_quantities_and_zero_or_negative_prices_follow_one_rule(c2m, tmp_path: Path):
    src = write(tmp_path / "o.csv", (
        f"{HEAD},status\n"
        "1,u,s,2024-01-01,2,10,交易成功\n"
        "2,u,s,2024-01-02,-1,10,交易成功\n"   # a refund line: kept as written
        "3,u,gift,2024-01-01,1,0,交易成功\n"  # a free item: kept
        "4,u,s,2024-01-01,1,-10,交易成功\n"   # a negative price: rejected
    ))
    result = ingest(c2m, tmp_path / "ws", "--orders", src, "--timezone", "UTC")
    assert result.exit_code == 0, result.stderr
    orders = pl.read_parquet(tmp_path / "ws" / "orders.parquet")
    assert orders.select("order_id", "qty", "unit_price", "status").rows() == [
        ("1", 2.0, 10.0, "paid"), ("2", -1.0, 10.0, "paid"), ("3", 1.0, 0.0, "paid"),
    ]
    assert rejects(tmp_path / "ws") == [
        (5, "unit_price", "-10", "negative price (write a refund as a negative quantity)"),
    ]
    from c2m_cli.contract import line_kind

    assert orders.select(line_kind(orders))["line_kind"].to_list() == ["sale", "refund", "sale"]


# -- ids ---------------------------------------------------------------------------------------


def test_scientific_ids_are_rejected_big_integers_kept_and_float_ids_are_one(c2m, tmp_path: Path):
    big = "123456789012345678901234567890"
    src = write(tmp_path / "o.csv", (
        f"{HEAD},store_id\n"
        f"3.71235E+18,u,s,2024-01-01,1,1,\n"
        f"{big},u,s,2024-01-01,1,1,\n"
        f"5,u,s,2024-01-01,1,1,1.2E+5\n"
    ))
    result = ingest(c2m, tmp_path / "ws", "--orders", src, "--timezone", "UTC")
    assert result.exit_code == 0, result.stderr
    scientific = "scientific notation (a spreadsheet rounded this id; export the column as text)"
    assert rejects(tmp_path / "ws") == [(2, "order_id", "3.71235E+18", scientific)]
    assert rejects(tmp_path / "ws", suffix="_fields") == [(4, "store_id", "1.2E+5", scientific)]
    orders = pl.read_parquet(tmp_path / "ws" / "orders.parquet")
    assert orders["order_id"].to_list() == [big, "5"]
    assert orders["store_id"].to_list() == [None, None]
    assert result.json["tables"]["orders"]["fields_nulled"] == 1

    # a column written from numbers (pandas: 1.0, 2.0): 1 and 1.0 are one user
    numeric = write(tmp_path / "n.csv", f"{HEAD}\n1,1.0,s,2024-01-01,1,1\n2,1,s,2024-01-02,1,1\n3,2.0,s,2024-01-02,1,1\n")
    result = ingest(c2m, tmp_path / "n", "--orders", numeric, "--timezone", "UTC")
    assert result.exit_code == 0, result.stderr
    assert pl.read_parquet(tmp_path / "n" / "orders.parquet")["user_id"].to_list() == ["1", "1", "2"]


# -- unknown values, optional fields, years, ratings --------------------------------------------


def test_unknown_values_are_null_and_optional_failures_are_listed(c2m, tmp_path: Path):
    orders = write(tmp_path / "o.csv", f"{HEAD}\n1,u1,s,2024-01-01,1,1\n")
    customers = write(tmp_path / "c.csv", (
        "用户ID,性别,出生年份,城市,年龄段\n"
        "u1,保密,1995年,上海,\n"
        "u2,未知,95后,不详,\n"
        "u3,—,19x5,N/A,\n"
        "u4,女,1880,-,\n"
        "u5,X,90后,成都,30-39\n"
    ))
    reviews = write(tmp_path / "r.csv", (
        "评价内容,评分\n好用,五星\n还行,3星\n完美,★★★★★\n一般,4.0\n差,好评\n不错,6\n"
    ))
    result = ingest(c2m, tmp_path / "ws", "--orders", orders, "--customers", customers, "--reviews", reviews,
                    "--timezone", "UTC")
    assert result.exit_code == 0, result.stderr
    got = pl.read_parquet(tmp_path / "ws" / "customers.parquet").select("user_id", "gender", "birth_year", "city", "age_band")
    assert got.rows() == [
        ("u1", None, 1995, "上海", None),
        ("u2", None, None, None, "95后"),
        ("u3", None, None, None, None),
        ("u4", "F", None, None, None),
        ("u5", None, None, "成都", "30-39"),
    ]
    table = result.json["tables"]["customers"]
    assert (table["rows_in"], table["rows_written"], table["rows_rejected"], table["fields_nulled"]) == (5, 5, 0, 3)
    assert rejects(tmp_path / "ws", "customers", "_fields") == [
        (4, "birth_year", "19x5", "not a number"),
        (5, "birth_year", "1880", "below 1900"),
        (6, "gender", "X", "not a known value"),
    ]
    ratings = pl.read_parquet(tmp_path / "ws" / "reviews.parquet")["rating"].to_list()
    assert ratings == [5, 3, 5, 4, None, None]
    assert rejects(tmp_path / "ws", "reviews", "_fields") == [
        (6, "rating", "好评", "not a number"), (7, "rating", "6", "above 5"),
    ]
    assert result.json["tables"]["reviews"]["field_reasons"] == {"rating: above 5": 1, "rating: not a number": 1}


def test_format_and_value_maps_work_for_every_column(c2m, tmp_path: Path):
    orders = write(tmp_path / "o.csv", f"{HEAD}\n1,u1,s,2024-01-01,1,1\n")
    customers = write(tmp_path / "c.csv", "uid,sex,born\nu1,帅哥,02/03/1990\nu2,美女,1991\n")
    reviews = write(tmp_path / "r.csv", "text,stars\n好,好评\n差,差评\n中,中评\n")
    mapping = write(tmp_path / "m.toml", (
        "[customers]\nuser_id = \"uid\"\ngender = \"sex\"\n"
        "birth_year = { column = \"born\", format = \"%d/%m/%Y\" }\n"
        "[customers.values.gender]\n\"帅哥\" = \"M\"\n\"美女\" = \"F\"\n"
        "[reviews]\ntext = \"text\"\nrating = \"stars\"\n"
        "[reviews.values.rating]\n\"好评\" = 5\n\"中评\" = 3\n\"差评\" = 1\n"
    ))
    result = ingest(c2m, tmp_path / "ws", "--orders", orders, "--customers", customers, "--reviews", reviews,
                    "--mapping", mapping, "--timezone", "UTC")
    assert result.exit_code == 0, result.stderr
    got = pl.read_parquet(tmp_path / "ws" / "customers.parquet").select("gender", "birth_year").rows()
    assert got == [("M", 1990), ("F", None)]
    assert rejects(tmp_path / "ws", "customers", "_fields") == [(3, "birth_year", "1991", "not a date")]
    assert pl.read_parquet(tmp_path / "ws" / "reviews.parquet")["rating"].to_list() == [5, 1, 3]


# -- vocabularies ------------------------------------------------------------------------------


STATUSES = {
    "交易成功": "paid", "交易关闭": "cancelled", "买家已付款，等待卖家发货": "paid",
    "卖家已发货，等待买家确认": "paid", "退款成功": "returned", "退款中": "returned",
    "已完成": "paid", "已取消": "cancelled", "等待买家付款": "cancelled", "已签收": "paid",
    "待发货": "paid", "已发货": "paid", "售后中": "paid", "待付尾款": "presale",
    "卖家已发货, 等待买家确认": "paid", "ＰＡＩＤ": "paid", "Refunded": "returned",
}


def test_built_in_statuses_and_normalised_value_map_keys(c2m, tmp_path: Path):
    lines = [f"{i},u,s,2024-01-01,1,1,\"{status}\"" for i, status in enumerate([*STATUSES, "卖家已发货，待买家确认"])]
    src = write(tmp_path / "o.csv", f"{HEAD},status\n" + "\n".join(lines) + "\n")
    # the key is written with a half-width comma, the data with a full-width one
    mapping = write(tmp_path / "m.toml", '[orders.values.status]\n"卖家已发货,待买家确认" = "paid"\n')
    result = ingest(c2m, tmp_path / "ws", "--orders", src, "--mapping", mapping, "--timezone", "UTC")
    assert result.exit_code == 0, result.stderr
    assert result.json["tables"]["orders"]["fields_nulled"] == 0
    status = pl.read_parquet(tmp_path / "ws" / "orders.parquet")["status"].to_list()
    assert status == [*STATUSES.values(), "paid"]


def test_a_value_map_to_a_non_canonical_value_is_a_usage_error(c2m, tmp_path: Path):
    src = write(tmp_path / "o.csv", f"{HEAD}\n1,u,s,2024-01-01,1,1\n")
    mapping = write(tmp_path / "m.toml", '[orders.values.status]\n"已完成" = "done"\n')
    result = c2m("ingest", tmp_path / "ws", "--orders", src, "--mapping", mapping)
    assert result.exit_code == 2
    assert (
        f"mapping {mapping}: [orders.values.status]: '已完成' = 'done' is not a canonical status"
        " (use cancelled, paid, presale, returned)"
    ) in result.stderr
    rating = write(tmp_path / "r.toml", '[reviews.values.rating]\n"好评" = 7\n')
    result = c2m("ingest", tmp_path / "ws", "--orders", src, "--mapping", rating)
    assert result.exit_code == 2
    assert "[reviews.values.rating]: '好评' = 7 is outside 1–5" in result.stderr


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('[orders]\nqty = { column = "qty", format = "%Y" }\n', "[orders].qty: format applies to date/time columns"),
        ('[orders.read]\ndecimal = ";"\n', "decimal must be"),
    ],
)
def test_bad_format_or_read_option_is_exit_2(c2m, tmp_path: Path, body: str, message: str):
    src = write(tmp_path / "o.csv", f"{HEAD}\n1,u,s,2024-01-01,1,1\n")
    mapping = write(tmp_path / "m.toml", body)
    result = c2m("ingest", tmp_path / "ws", "--orders", src, "--mapping", mapping)
    assert result.exit_code == 2
    assert message in result.stderr
