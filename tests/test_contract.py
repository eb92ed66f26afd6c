"""The contract: table schemas validated on write and read, and the one order-line rule."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from contract_fixtures import orders_frame, table_frame

from c2m_cli import contract
from c2m_cli.errors import InvalidDataError
from c2m_cli.workspace import Workspace

UTC = dt.UTC


def _lines() -> pl.DataFrame:
    # one line of each kind, by hand: (status, presale flag, qty, unit_price) -> expected kind
    cases = [
        ("paid", False, 2.0, 10.0, "sale"),
        (None, None, 1.0, 5.0, "sale"),
        ("returned", False, 1.0, 10.0, "returned"),
        ("cancelled", False, 3.0, 10.0, "cancelled"),
        ("paid", False, -1.0, 10.0, "refund"),
        ("presale", True, 1.0, 100.0, "presale"),
        ("paid", True, 1.0, 100.0, "presale"),
        ("paid", False, 0.0, 0.0, "void"),
        ("cancelled", True, 1.0, 100.0, "cancelled"),
    ]
    return table_frame(
        "orders",
        order_id=[str(i) for i in range(len(cases))],
        user_id=["u"] * len(cases),
        sku=["A"] * len(cases),
        ts=[dt.datetime(2024, 3, 3, 17, 30, tzinfo=UTC)] * len(cases),
        qty=[c[2] for c in cases],
        unit_price=[c[3] for c in cases],
        status=[c[0] for c in cases],
        presale=[c[1] for c in cases],
    ).with_columns(expected=pl.Series([c[4] for c in cases]))


def test_every_line_has_exactly_one_kind():
    lines = _lines()
    assert lines.select(contract.line_kind(lines))["line_kind"].to_list() == lines["expected"].to_list()


def test_sales_presale_and_purchase_lines():
    lines = _lines().lazy()
    ids = lambda lf: sorted(lf.collect()["order_id"].to_list())  # noqa: E731
    assert ids(contract.sales_lines(lines)) == ["0", "1"]
    assert ids(contract.sales_lines(lines, returns="include")) == ["0", "1", "2"]
    assert ids(contract.sales_lines(lines, returns="net")) == ["0", "1", "4"]
    assert ids(contract.presale_lines(lines)) == ["5", "6"]
    assert ids(contract.purchase_lines(lines)) == ["0", "1", "5", "6"]
    # a table without status or presale columns is all paid
    plain = lines.drop("status", "presale")
    assert ids(contract.sales_lines(plain)) == ["0", "1", "2", "3", "5", "6", "8"]


def test_local_dates_and_period_starts():
    frame = pl.DataFrame({"ts": [dt.datetime(2024, 3, 3, 17, 30, tzinfo=UTC)]})  # Sunday 17:30 UTC
    local = frame.select(
        contract.local_date("ts", "Asia/Shanghai").alias("day"), contract.local_hour("ts", "Asia/Shanghai").alias("hour")
    ).row(0)
    assert local == (dt.date(2024, 3, 4), 1)  # Monday 01:30 in Shanghai
    days = pl.DataFrame({"d": [dt.date(2024, 3, 3), dt.date(2024, 3, 4), dt.date(2024, 2, 29)]})
    starts = {freq: days.select(contract.period_start(pl.col("d"), freq))["d"].to_list() for freq in "DWM"}
    assert starts["D"] == days["d"].to_list()
    assert starts["W"] == [dt.date(2024, 2, 26), dt.date(2024, 3, 4), dt.date(2024, 2, 26)]  # Mondays
    assert starts["M"] == [dt.date(2024, 3, 1), dt.date(2024, 3, 1), dt.date(2024, 2, 1)]


def test_writing_a_table_without_a_required_column_names_table_and_column(tmp_path):
    ws = Workspace(tmp_path)
    bad = pl.DataFrame({"user_id": ["u1"], "segment_id": ["1"], "segment_name": ["x"]})
    with pytest.raises(InvalidDataError) as caught, ws.step("segment", parameters={}) as step:
        step.write_table("segments", bad)
    assert str(caught.value) == "segments.parquet: missing required column distance (has: user_id, segment_id, segment_name)"
    assert not (tmp_path / "segments.parquet").exists()


def test_mistyped_and_unprefixed_columns_are_refused_on_write(tmp_path):
    ws = Workspace(tmp_path)
    orders = orders_frame([("o1", "u1", "A", "2024-01-01 10:00:00", 1.0, 5.0)])
    with pytest.raises(InvalidDataError) as caught, ws.step("ingest", parameters={}) as step:
        step.write_table("orders", orders.with_columns(pl.col("qty").cast(pl.Int64)))
    assert str(caught.value) == "orders.parquet: column qty is Int64, expected Float64"
    labels = table_frame("labels", user_id=["u1"], lifecycle_stage=["new"], value_clv=[1.0], value_p_alive=[0.5])
    with pytest.raises(InvalidDataError) as caught, ws.step("label", parameters={}) as step:
        step.write_table("labels", labels.with_columns(score=pl.lit(1.0)))
    assert str(caught.value).startswith("labels.parquet: column score has no family prefix (geo, demo, value,")


def test_reading_a_table_with_a_wrong_key_column_is_invalid_data(tmp_path):
    ws = Workspace(tmp_path)
    pl.DataFrame({"user_id": [1, 2], "lifecycle_stage": ["new", "lost"]}).write_parquet(tmp_path / "labels.parquet")
    with pytest.raises(InvalidDataError) as caught, ws.step("segment", parameters={}) as step:
        step.read("labels")
    assert str(caught.value) == "labels.parquet: column user_id is Int64, expected id (String)"
    pl.DataFrame({"segment_id": ["1"]}).write_parquet(tmp_path / "segments.parquet")
    with pytest.raises(InvalidDataError) as caught, ws.step("recommend", parameters={}) as step:
        step.read("segments")
    assert str(caught.value) == "segments.parquet: missing required column user_id (has: segment_id)"


@pytest.mark.parametrize("name", sorted(contract.TABLES))
def test_every_table_has_a_fixture_that_validates(name):
    spec = contract.table(name)
    frame = pl.DataFrame(schema=spec.dtypes())
    contract.validate_schema(name, frame.schema, writing=True)
    assert contract.empty_frame(name).columns == [c.name for c in spec.columns]


def test_placeholder_review_is_one_rule_for_labels_and_recommend() -> None:
    import polars as pl

    from c2m_cli.contract import placeholder_review
    from c2m_cli.labels.text import is_placeholder
    from c2m_cli.recommend.reviews import drop_placeholders

    stock = ["此用户没有填写评价。", "系统默认好评", "好评！", "默认评价", "买家未及时做出评价,系统默认好评!", "  ", None,
             "该用户觉得商品较好", "No comment.", "hao ping"]
    real = ["好评，宝宝很喜欢", "很好", "不错", "盖子太紧，系统默认好评是错的：很难打开"]
    frame = pl.DataFrame({"text": stock + real})
    flags = frame.select(placeholder_review(pl.col("text")))["text"].to_list()
    assert flags == [True] * len(stock) + [False] * len(real)
    assert [is_placeholder(t) for t in stock + real] == flags
    assert drop_placeholders(frame)["text"].to_list() == real
