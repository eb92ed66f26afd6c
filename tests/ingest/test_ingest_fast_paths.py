"""The shortcuts that make a big ingest fast give the same results as the full rules.

* A big UTF-8 text file is not decoded whole in Python: its head is, its lines are counted by
  polars, and polars' UTF-8 reader checks the rest; a file that turns out not to be UTF-8 past
  its head (a GB18030 export whose first megabytes are ASCII) is read again as what it is.
* The fast path of a column reads the source text untrimmed; padded values, placeholders and
  values needing the full rules (thousands groups, full-width digits, 万, scientific ids …) give
  what the full rules give.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from c2m_cli.ingest import readers
from c2m_cli.ingest.readers import probe_text

HEADER = "订单编号,买家会员名,商品编码,下单时间,购买数量,单价,订单状态\n"


@pytest.mark.parametrize(
    "content",
    [
        b"a,b\n1,2\n3,4\n",
        b"a,b\n1,2\n3,4",  # no newline at the end
        b"a,b\r\n1,2\r\n\r\n3,4\r\n",  # CRLF and a blank line
        b"a,b\n1,\"x\ny\"\n3,4\n",  # a quoted newline: physical lines, not records
        b"a,b\n1,2\r3\n",  # a bare CR inside a LF file is no line end
        "名,值\n甲,１\n乙,2\n".encode(),
    ],
)
def test_the_byte_count_of_lines_equals_the_decoded_count(tmp_path: Path, monkeypatch, content: bytes):
    path = tmp_path / "f.csv"
    path.write_bytes(content)
    full = probe_text(path, fast=False)
    monkeypatch.setattr(readers, "FAST_PROBE_BYTES", 0)
    quick = probe_text(path)
    assert not quick.checked and full.checked
    assert (quick.encoding, quick.lines, quick.sample, quick.cr_only) == (
        full.encoding, full.lines, full.sample, full.cr_only
    )


def test_a_head_that_is_not_utf8_is_decoded_whole(tmp_path: Path, monkeypatch):
    path = tmp_path / "f.csv"
    path.write_bytes("名,值\n甲,1\n".encode("gb18030"))
    monkeypatch.setattr(readers, "FAST_PROBE_BYTES", 0)
    probe = probe_text(path)
    assert probe.checked and probe.encoding == "gb18030" and probe.lines == 2


def _big_gb18030_export(path: Path, ascii_lines: int, statuses: list[str]) -> int:
    """A GB18030 orders export whose first ``ascii_lines`` lines are ASCII (so its head is also
    valid UTF-8) and whose last lines carry Chinese status values; returns its data lines."""
    rows = [f"A{i},u{i % 977},s{i % 50},2024-11-11 10:00:00,1,10.50,paid" for i in range(ascii_lines)]
    rows += [f"B{i},u{i},s{i},2024-11-11 10:00:00,2,¥8.00,{status}" for i, status in enumerate(statuses)]
    header = "order_id,user_id,sku,ts,qty,unit_price,status\n"
    path.write_bytes((header + "\n".join(rows) + "\n").encode("gb18030"))
    return len(rows)


def test_a_gb18030_export_with_an_ascii_head_is_read_as_gb18030(c2m, tmp_path: Path):
    src = tmp_path / "orders.csv"
    statuses = ["交易成功", "交易关闭", "卖家已发货，等待买家确认"]
    lines = _big_gb18030_export(src, 90_000, statuses)
    assert src.stat().st_size > readers.FAST_PROBE_BYTES  # the fast probe is tried
    assert src.read_bytes()[: readers.CHUNK].isascii()
    result = c2m("ingest", tmp_path / "ws", "--orders", src, "--timezone", "Asia/Shanghai", "--json")
    assert result.exit_code == 0, result.stderr
    table = result.json["tables"]["orders"]
    assert (table["rows_in"], table["rows_written"], table["rows_rejected"]) == (lines, lines, 0)
    tail = pl.read_parquet(tmp_path / "ws" / "orders.parquet").tail(3)
    assert tail.select("order_id", "status", "unit_price").rows() == [
        ("B0", "paid", 8.0), ("B1", "cancelled", 8.0), ("B2", "paid", 8.0)
    ]


def test_a_big_file_neither_utf8_nor_gb18030_past_its_head_is_exit_3(c2m, tmp_path: Path):
    src = tmp_path / "orders.csv"
    _big_gb18030_export(src, 90_000, [])
    with src.open("ab") as handle:
        handle.write(b"C1,u1,s1,2024-11-11 10:00:00,1,10,\x81\x20\n")  # a broken GB18030 pair
    result = c2m("ingest", tmp_path / "ws", "--orders", src, "--timezone", "Asia/Shanghai")
    assert result.exit_code == 3, result.stderr
    assert "not readable text (neither UTF-8 nor GB18030" in result.stderr
    assert "Traceback" not in result.stderr


# (source row, expected: written (order_id, user_id, qty, unit_price, status) or the reject reason)
EDGE_ROWS = [
    (" A1 , u1,s1 , 2024-11-11 10:00:00 , 2 , ¥10.50 , 交易成功 ", ("A1", "u1", 2.0, 10.5, "paid")),
    ("A2,u2,s2,2024-11-11 10:00:00,nan,10,无", "qty: missing value"),  # a placeholder
    ("A3,u3,s3,2024-11-11 10:00:00,NaN,10,交易成功", "qty: not a finite number"),
    ("A4,u4,s4,2024-11-11 10:00:00,inf,10,交易成功", "qty: not a finite number"),
    ("3.71235E+18,u5,s5,2024-11-11 10:00:00,1,10,交易成功", "order_id: scientific notation"),
    ("A6,+5,s6,2024-11-11 10:00:00,1,10,—", ("A6", "+5", 1.0, 10.0, None)),
    ("A7,007,s7,2024-11-11 10:00:00,１,１０,已付款", ("A7", "007", 1.0, 10.0, "paid")),
    ('A8,u8,s8,2024-11-11 10:00:00,1,"1,299.00",卖家已发货，等待买家确认', ("A8", "u8", 1.0, 1299.0, "paid")),
    ("A9,u9,s9,2024-11-11 10:00:00,1.5万,¥ 63.49,交易成功", ("A9", "u9", 15000.0, 63.49, "paid")),
    ("A10,u10,s10,２０２４-１１-１１ １０:００:００,1,  ,交易成功", "unit_price: missing value"),
    (" ,u11,s11,2024-11-11 10:00:00,1,10,交易成功", "order_id: missing value"),
    (" , , , , , , ", "empty row"),
    ("A13,u13,s13,2024-11-11 10:00:00,1,10,weird status", ("A13", "u13", 1.0, 10.0, None)),
]


def test_padded_values_and_placeholders_read_as_the_full_rules_read_them(c2m, tmp_path: Path):
    src = tmp_path / "orders.csv"
    src.write_text(HEADER + "\n".join(row for row, _ in EDGE_ROWS) + "\n", encoding="utf-8")
    result = c2m("ingest", tmp_path / "ws", "--orders", src, "--timezone", "Asia/Shanghai", "--json")
    assert result.exit_code == 0, result.stderr
    written = pl.read_parquet(tmp_path / "ws" / "orders.parquet")
    assert written.select("order_id", "user_id", "qty", "unit_price", "status").rows() == [
        want for _, want in EDGE_ROWS if isinstance(want, tuple)
    ]
    assert written["ts"].dt.to_string("%Y-%m-%d %H:%M").unique().to_list() == ["2024-11-11 02:00"]
    rejects = pl.read_parquet(tmp_path / "ws" / "_rejects" / "orders.parquet")
    got = [
        (line, reason if column is None else f"{column}: {reason}")
        for line, column, reason in rejects.select("line", "column", "reason").iter_rows()
    ]
    expected = [(i + 2, want) for i, (_, want) in enumerate(EDGE_ROWS) if isinstance(want, str)]
    assert [(line, text[: len(want)]) for (line, text), (_, want) in zip(got, expected, strict=True)] == expected
    fields = pl.read_parquet(tmp_path / "ws" / "_rejects" / "orders_fields.parquet")
    assert fields.select("line", "column", "raw_value").rows() == [(14, "status", "weird status")]
