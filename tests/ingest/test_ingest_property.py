"""Random malformed CSV never ends in a traceback, and every row is accounted for."""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from c2m_cli.errors import C2MError
from c2m_cli.ingest import run_ingest
from c2m_cli.workspace import Workspace

HEADER = ["order_id", "user_id", "sku", "ts", "qty", "unit_price", "status"]

good_values = {
    "order_id": st.sampled_from(["1", "A-2", "订单3", "0004"]),
    "user_id": st.sampled_from(["u1", "买家", "u3"]),
    "sku": st.sampled_from(["S1", "S2", "笔记本"]),
    "ts": st.sampled_from(["2024-11-11 20:15", "2024/6/18", "2024年1月1日", "1731327300", "2024-11-11T12:00:00+08:00"]),
    "qty": st.sampled_from(["1", "２", "3.5", "-1"]),
    "unit_price": st.sampled_from(["¥1,299.00", "12.5", "0", "1.2万"]),
    "status": st.sampled_from(["已完成", "已取消", "paid", "", "退款"]),
}
junk = st.one_of(
    st.text(max_size=8),
    st.sampled_from(["", " ", "NULL", "2024-13-45", "abc", "¥", '"', 'a"b', "1,0", "x\ny", "\t", "；"]),
)


@st.composite
def malformed_csv(draw: st.DrawFn) -> str:
    rows = []
    for _ in range(draw(st.integers(0, 12))):
        kind = draw(st.sampled_from(["good", "good", "junk", "short", "long", "blank", "dup"]))
        if kind == "blank":
            rows.append([])
            continue
        if kind == "dup" and rows:
            rows.append(list(rows[-1]))
            continue
        row = [draw(good_values[c]) for c in HEADER]
        if kind == "junk":
            i = draw(st.integers(0, len(HEADER) - 1))
            row[i] = draw(junk)
        elif kind == "short":
            row = row[: draw(st.integers(1, len(HEADER) - 1))]
        elif kind == "long":
            row = [*row, draw(st.sampled_from(["extra", "x", "1"]))]
        rows.append(row)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=draw(st.sampled_from(["\n", "\r\n"])))
    writer.writerow(HEADER)
    writer.writerows(rows)
    return out.getvalue()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=malformed_csv(), encoding=st.sampled_from(["utf-8", "utf-8-sig", "gb18030"]))
def test_random_malformed_csv_is_accounted_for(text: str, encoding: str):
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "orders.csv"
        try:
            src.write_bytes(text.encode(encoding))
        except UnicodeEncodeError:
            src.write_bytes(text.encode("utf-8"))
        ws = Workspace(Path(tmp) / "ws")
        records = list(csv.reader(io.StringIO(text, newline="")))[1:]
        try:
            summary = run_ingest(ws, {"orders": str(src)}, timezone="UTC")
        except C2MError as error:
            # exit 3 only when nothing is usable, and then the message still accounts for every row
            assert error.exit_code == 3, error.message
            assert "\n" not in error.message.strip()
            assert str(src) in error.message
            if records:
                assert f"({len(records):,} read, all rejected; first: {src} line " in error.message, error.message
            else:
                assert error.message == f"{src}: no orders rows (the file holds no data lines)"
            assert not (ws.root / "orders.parquet").exists()
            return
        table = summary["tables"]["orders"]
        written = ws.read("orders").height
        rejects_path = ws.root / "_rejects" / "orders.parquet"
        rejects = pl.read_parquet(rejects_path) if rejects_path.exists() else pl.DataFrame()
        assert table["rows_written"] == written
        assert table["rows_rejected"] == rejects.height
        assert table["rows_in"] == written + rejects.height
        assert sum(table["reject_reasons"].values()) == rejects.height
        assert table["rows_in"] == len(records)
        if rejects.height:
            lines = text.count("\n") + (0 if text.endswith("\n") else 1)
            assert rejects["line"].is_between(2, lines).all()
            assert rejects["line"].is_unique().all()
