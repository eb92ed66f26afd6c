"""The single pass (fast lane, later copies dropped as they stream, the table written once)
against the two-pass reference (``ingest_table``): the same tables, rejects and accounting."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from c2m_cli.ingest import run_ingest
from c2m_cli.ingest import step as ingest_step
from c2m_cli.ingest.stream import SeenHashes
from c2m_cli.workspace import Workspace

HEADER = "订单编号,买家会员名,商品编码,下单时间,购买数量,单价,订单状态"


def _lines(n: int, offset: int = 0) -> list[str]:
    return [
        f"{offset + i},u{(offset + i) % 97},{(offset + i) % 31},2024/05/{1 + i % 28:02d} 10:{i % 60:02d}:00,"
        f"{1 + i % 3},¥{(i % 50) + 0.5:.2f},交易成功"
        for i in range(n)
    ]


def _edge_files(tmp_path: Path) -> Path:
    rows = _lines(400)
    rows[5] = " 12 ,  u12 ,12, 2024/05/04 01:04:48 , 2 , ¥63.49 ,交易成功"  # untrimmed: the slow rows
    rows[6] = "13,u13,13,2024/05/04 01:04:48,2,63.49,保密"  # a placeholder status: null, no problem
    rows[7] = '14,u14,14,2024-05-04 01:04:48,1,"1,299.00",'  # another date format, grouped price
    rows[8] = "15,u15,15,2024/05/04 01:04:48,1,¥12.00,卖家已发货，待买家确认"
    rows[9] = "16,u16,16,2024/02/30 01:04:48,1,¥12.00,退款成功"  # impossible date
    rows[10] = "17,u17,17,2024/05/04 01:04:48,1,面议,交易成功"  # not a number
    rows[11] = ""  # an empty row
    rows[12] = HEADER  # a repeated header
    rows[13] = "18,u18,18,2024/05/04 01:04:48,1,12,交易成功,extra"  # too many fields
    rows[14] = "19,u19,19,2024/05/04 01:04:48,1,12,unknown-status"  # optional field nulled
    rows[15] = "007,u7,7,2024/05/04 01:04:48,1,12,交易成功"
    rows[16] = "7,u7,7,2024/05/04 01:04:48,1,12,交易成功"  # not a copy of 007
    rows[17] = rows[16]  # an adjacent copy
    rows[18] = "20,u20,20,2024/05/04 01:04:48,inf,12,交易成功"  # read by the fast path, not finite
    rows[19] = "21,u21,21,2024/05/04 01:04:48,1,NaN,交易成功"
    rows[20] = "22,u22,22,2024/05/04 01:04:48,1e308,12,交易成功"  # above the bound
    rows[21] = "23,u23,23,1900/05/04 01:04:48,1,-0.5,交易成功"  # implausible, negative price
    rows[200] = rows[3]  # a far copy of a fast row
    rows[201] = rows[6]  # a far copy of a slow row
    rows[300] = "12,u12,12,2024/05/04 01:04:48,2,63.49,交易成功"  # row 5 read the same: a copy
    rows[350] = rows[14]  # a copy of a row whose optional field was nulled
    folder = tmp_path / "exports"
    folder.mkdir()
    (folder / "a.csv").write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    other = [HEADER, rows[3], rows[42], "99,u1,2,2024/06/01 10:00:00,1,¥5.00,交易成功", " 99 ,u1,2,2024/06/01 10:00:00,1,5,交易成功"]
    (folder / "b.csv").write_text("\n".join(other) + "\n", encoding="utf-8")
    return folder


def _outputs(ws: Workspace) -> dict[str, pl.DataFrame]:
    return {
        str(path.relative_to(ws.root)): pl.read_parquet(path)
        for path in sorted(ws.root.rglob("*.parquet"))
    }


def _two_passes(*args: object, **kwargs: object) -> object:
    raise ingest_step._TwoPasses("the reference")


def _count_two_pass_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A list that gets one item per call of the two-pass ingest (the single pass's fallback)."""
    calls: list[int] = []
    real = ingest_step.ingest_table

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(ingest_step, "ingest_table", counted)
    return calls


@pytest.mark.parametrize("batch_rows", [None, 7])  # one batch, or many (copies across batches)
def test_single_pass_equals_two_passes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, batch_rows: int | None):
    folder = _edge_files(tmp_path)
    monkeypatch.setattr(ingest_step, "_BATCH_ROWS", batch_rows)
    monkeypatch.setattr(ingest_step, "_FLUSH_ROWS", 50)
    called = _count_two_pass_calls(monkeypatch)
    one = Workspace(tmp_path / "one")
    summary = run_ingest(one, {"orders": str(folder)}, timezone="Asia/Shanghai")
    assert called == []  # the single pass gave the result
    monkeypatch.setattr(ingest_step, "stream_table", _two_passes)
    two = Workspace(tmp_path / "two")
    reference = run_ingest(two, {"orders": str(folder)}, timezone="Asia/Shanghai")
    assert summary["tables"] == reference["tables"]
    table = summary["tables"]["orders"]
    assert table["rows_in"] == 404 and table["duplicates"] == 8
    assert table["rows_in"] == table["rows_written"] + table["rows_rejected"]
    a, b = _outputs(one), _outputs(two)
    assert list(a) == list(b) == ["_rejects/orders.parquet", "_rejects/orders_fields.parquet", "orders.parquet"]
    for name in a:
        assert a[name].equals(b[name]), name
    copies = a["_rejects/orders.parquet"].filter(pl.col("reason") == "duplicate order line").select(
        pl.col("file").str.split("/").list.last(), "line",
        pl.col("raw_value").str.replace(str(folder) + "/", "", literal=True),
    )
    assert copies.rows() == [  # 007 and 7 are two ids; " 12 ", ¥63.49 and 12, 63.49 one row
        ("a.csv", 19, "same as a.csv line 18"), ("a.csv", 202, "same as a.csv line 5"),
        ("a.csv", 203, "same as a.csv line 8"), ("a.csv", 302, "same as a.csv line 7"),
        ("a.csv", 352, "same as a.csv line 16"), ("b.csv", 2, "same as a.csv line 5"),
        ("b.csv", 3, "same as a.csv line 44"), ("b.csv", 5, "same as b.csv line 4"),
    ]


def test_two_rows_with_one_hash_fall_back_to_two_passes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    folder = _edge_files(tmp_path)
    real = SeenHashes.later_copies

    def collide(self: SeenHashes, hashes: np.ndarray) -> np.ndarray:  # row 2 "repeats" a hash
        copy = real(self, hashes)
        if len(copy) > 2 and self.count < 500:
            copy[2] = True
        return copy

    monkeypatch.setattr(SeenHashes, "later_copies", collide)
    fell_back = _count_two_pass_calls(monkeypatch)
    one = Workspace(tmp_path / "one")
    summary = run_ingest(one, {"orders": str(folder / "a.csv")}, timezone="Asia/Shanghai")
    assert fell_back == [1]
    assert summary["tables"]["orders"]["duplicates"] == 5
    monkeypatch.setattr(SeenHashes, "later_copies", real)
    two = Workspace(tmp_path / "two")
    run_ingest(two, {"orders": str(folder / "a.csv")}, timezone="Asia/Shanghai")
    assert _outputs(one)["orders.parquet"].equals(_outputs(two)["orders.parquet"])


def test_seen_hashes_finds_every_repeat_and_grows() -> None:
    rng = np.random.default_rng(7)
    values = rng.integers(0, 2**63, 20_000, dtype=np.int64).astype(np.uint64)
    values[[5, 9_000, 19_999]] = [values[3], values[3], values[12_345]]
    values[100] = 0  # kept as 1: still found again below
    values[101] = 0
    seen = SeenHashes(expected_rows=0)  # grows from its smallest table
    flags = np.concatenate([seen.later_copies(values[i:i + 3_000]) for i in range(0, len(values), 3_000)])
    expected = np.zeros(len(values), dtype=bool)
    first: set[int] = set()
    for i, v in enumerate(values.tolist()):
        expected[i] = v in first
        first.add(v)
    assert flags.tolist() == expected.tolist()
    assert np.flatnonzero(flags).tolist() == [5, 101, 9_000, 19_999]
    assert seen.count == len(first)


def test_seen_hashes_probes_long_chains_across_the_table_end() -> None:
    """Keys crowded on the last home slots: linear probing walks past the end to slot 0 and on."""
    golden = 0x9E3779B97F4A7C15
    inverse = pow(golden, -1, 2**64)
    size = 1 << 16  # the smallest table
    homes = [size - 3] * 400 + [size - 1] * 300 + [0] * 100
    keys = [(home << 48) + j + 1 for j, home in enumerate(homes)]
    hashes = np.array([(k * inverse) % 2**64 for k in keys], dtype=np.uint64)
    stream = np.concatenate([hashes[:500], hashes[[10, 450]], hashes[500:], hashes[[799, 0]]])
    seen = SeenHashes(expected_rows=0)
    flags = np.concatenate([seen.later_copies(stream[i:i + 128]) for i in range(0, len(stream), 128)])
    assert np.flatnonzero(flags).tolist() == [500, 501, 802, 803]
    assert seen.count == 800


def test_table_writer_raises_what_its_thread_raised_and_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from c2m_cli.ingest import stream

    def fail(self: stream.TableWriter, frame: pl.DataFrame) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(stream.TableWriter, "_write", fail)
    target = tmp_path / "orders.parquet"
    writer = stream.TableWriter(target, pl.Schema({"sku": pl.String()}), [])
    writer.append(pl.DataFrame({"sku": ["a", "b"]}))
    with pytest.raises(OSError, match="No space left"):
        writer.close()
    writer.abort()
    assert not target.exists()


@pytest.mark.parametrize("batch_rows", [None, 7])
def test_batches_whose_slow_rows_are_all_rejected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, batch_rows: int | None):
    """The usual batch of a real export: its slow rows are bad rows (the part stays as the
    fast lane read it, their rejects come from the full rules): the same as two passes."""
    rows = [line.replace(",u", ",", 1) for line in _lines(60)]  # numeric ids: the fast lane reads these rows
    rows[3] = "3,3,3,2024/02/30 10:00:00,1,¥5.00,交易成功"  # impossible date
    rows[10] = "10,10,10,2024/05/10 10:10:00,1,面议,交易成功"  # not a number
    rows[11] = rows[4]  # a copy, in the same batch of 7
    rows[40] = "40,40,40,1900/05/10 10:10:00,1,¥5.00,交易成功"  # implausible
    rows[41] = "41,41,41,2024/05/10 10:10:00,1e308,¥5.00,交易成功"  # above the bound
    src = tmp_path / "orders.csv"
    src.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    monkeypatch.setattr(ingest_step, "_BATCH_ROWS", batch_rows)
    monkeypatch.setattr(ingest_step, "_FLUSH_ROWS", 50)
    called = _count_two_pass_calls(monkeypatch)
    one = Workspace(tmp_path / "one")
    summary = run_ingest(one, {"orders": str(src)}, timezone="Asia/Shanghai")
    assert called == []
    monkeypatch.setattr(ingest_step, "stream_table", _two_passes)
    two = Workspace(tmp_path / "two")
    reference = run_ingest(two, {"orders": str(src)}, timezone="Asia/Shanghai")
    assert summary["tables"] == reference["tables"]
    table = summary["tables"]["orders"]
    assert (table["rows_in"], table["rows_written"], table["rows_rejected"], table["duplicates"]) == (60, 55, 5, 1)
    a, b = _outputs(one), _outputs(two)
    assert list(a) == list(b)
    for name in a:
        assert a[name].equals(b[name]), name
    assert a["_rejects/orders.parquet"]["line"].to_list() == [5, 12, 13, 42, 43]


def test_a_parquet_source_sizes_the_duplicate_check_from_its_footer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Parquet knows its rows before reading: the hash table is made once at their size (each
    growth re-inserts every hash: at 50M lines the last one took 5.6 s and 1.2 GB more), and
    copies are found as before."""
    from c2m_cli.ingest.readers import open_parquet

    n = 120_000  # above the smallest table's 49,152 rows
    i = np.arange(n)
    orders = pl.DataFrame(
        {
            "order_id": (i // 2).astype(str),
            "user_id": np.char.add("u", (i % 997).astype(str)),
            "sku": np.char.add("s", (i % 31).astype(str)),
            "ts": pl.datetime_range(pl.datetime(2024, 1, 1), pl.datetime(2024, 1, 1) + pl.duration(minutes=n - 1), "1m", eager=True, time_zone="UTC"),
            "qty": 1.0 + i % 3,
            "unit_price": 9.5 + i % 7,
        }
    )
    orders = pl.concat([orders, orders[[7, 100_003]]])  # a near and a far later copy
    path = tmp_path / "orders.parquet"
    orders.write_parquet(path)
    assert open_parquet(path, "orders.parquet").expected_records == n + 2
    grown: list[int] = []
    real_grow = SeenHashes._grow
    monkeypatch.setattr(SeenHashes, "_grow", lambda self, rows: (grown.append(rows), real_grow(self, rows))[1])
    summary = run_ingest(Workspace(tmp_path / "ws"), {"orders": str(path)})
    assert grown == []
    counts = {k: summary["tables"]["orders"][k] for k in ("rows_in", "rows_written", "rows_rejected", "duplicates")}
    assert counts == {"rows_in": n + 2, "rows_written": n, "rows_rejected": 2, "duplicates": 2}
