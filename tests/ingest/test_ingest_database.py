"""`c2m ingest` from real PostgreSQL and MariaDB servers, row for row against a file ingest.

The servers are throw-away clusters started here on a free localhost port (db_servers.py);
the tests skip only when the server binaries are not installed (`make databases`).
"""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from tests.ingest.db_servers import (
    PASSWORD,
    Server,
    find_mariadb,
    find_postgres,
    free_port,
    mariadb_server,
    postgres_server,
)

STATUSES = ["交易成功", "已取消", "退款成功", "已付款"]


def shop_orders(n: int = 3000, seed: int = 7) -> pl.DataFrame:
    """Order lines as an ERP writes them (text ids, Chinese statuses, money to the cent)."""
    rng = random.Random(seed)
    start = datetime(2024, 1, 1, 8, 0, 0)
    rows = []
    for i in range(n):
        rows.append({
            "order_id": f"T{100000 + i // 2}",
            "user_id": f"u{rng.randrange(400)}",
            "sku": f"SKU-{rng.randrange(60):03d}",
            "ts": start + timedelta(minutes=rng.randrange(500_000)),
            "qty": float(rng.choice([1, 1, 1, 2, 3, 0.5])),
            "unit_price": round(rng.uniform(1, 500), 2),
            "status": rng.choice(STATUSES),
            "channel": rng.choice(["天猫", "京东", None]),
        })
    return pl.DataFrame(rows)


def with_bad_values(frame: pl.DataFrame) -> pl.DataFrame:
    """All text, with the defects a varchar dump carries."""
    text = frame.with_columns(
        pl.col("ts").dt.strftime("%Y-%m-%d %H:%M:%S"), pl.col("qty").cast(pl.String), pl.col("unit_price").cast(pl.String)
    )
    return text.with_columns(
        pl.when(pl.int_range(pl.len()) == 10).then(pl.lit("abc")).otherwise(pl.col("qty")).alias("qty"),
        pl.when(pl.int_range(pl.len()) == 20).then(pl.lit("2024-13-45")).otherwise(pl.col("ts")).alias("ts"),
        pl.when(pl.int_range(pl.len()) == 30).then(pl.lit(None)).otherwise(pl.col("user_id")).alias("user_id"),
    )


MY_TYPES = {pl.String: "varchar(255)", pl.Float64: "double", pl.Int64: "bigint", pl.Datetime: "datetime(6)"}


def _columns(frame: pl.DataFrame, types: dict) -> str:
    def sql_type(dtype: pl.DataType) -> str:
        for base, name in types.items():
            if dtype == base or (base == pl.Datetime and isinstance(dtype, pl.Datetime)):
                return name
        raise TypeError(dtype)

    return ", ".join(f"`{n}` {sql_type(d)}" for n, d in frame.schema.items())


def load_postgres(server: Server, table: str, frame: pl.DataFrame, *, money_numeric: bool = False) -> None:
    """Create ``table`` from ``frame`` with ADBC's bulk ingest (binary COPY)."""
    import adbc_driver_postgresql.dbapi as dbapi

    with dbapi.connect(server.libpq_uri()) as connection, connection.cursor() as cursor:
        cursor.execute(f'DROP TABLE IF EXISTS "{table}"')
        timestamps = [n for n, d in frame.schema.items() if isinstance(d, pl.Datetime)]
        cursor.adbc_ingest(table, frame.with_columns(pl.col(timestamps).cast(pl.Datetime("us"))).to_arrow(), mode="create")
        if money_numeric:
            cursor.execute(f'ALTER TABLE "{table}" ALTER COLUMN unit_price TYPE numeric(12,2)')
        connection.commit()


def load_mysql(server: Server, table: str, frame: pl.DataFrame) -> None:
    import pymysql

    connection = pymysql.connect(host="127.0.0.1", port=server.port, user=server.user, password=server.password,
                                 database=server.database, charset="utf8mb4")
    with connection, connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS `{table}`")
        cursor.execute(f"CREATE TABLE `{table}` (_row_no int primary key auto_increment, {_columns(frame, MY_TYPES)})")
        names = ", ".join(f"`{n}`" for n in frame.columns)
        marks = ", ".join(["%s"] * frame.width)
        for chunk in frame.iter_slices(20_000):
            cursor.executemany(f"INSERT INTO `{table}` ({names}) VALUES ({marks})", chunk.rows())
        connection.commit()


@pytest.fixture(scope="module")
def postgres():
    bindir = find_postgres()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl, postgres) are not installed; run make databases")
    with postgres_server(bindir) as server:
        yield server


@pytest.fixture(scope="module")
def mariadb():
    binaries = find_mariadb()
    if binaries is None:
        pytest.skip("MariaDB server binaries (mariadbd, mariadb-install-db) are not installed; run make databases")
    with mariadb_server(binaries) as server:
        yield server


def ingest_json(c2m, ws: Path, src: str | Path, *extra: str, env: dict | None = None):
    result = c2m("ingest", ws, "--orders", src, "--json", "--timezone", "Asia/Shanghai", *extra, env=env)
    return result


def file_reference(c2m, tmp_path: Path, frame: pl.DataFrame) -> tuple[Path, dict]:
    src = tmp_path / "orders.csv"
    frame.write_csv(src)
    ws = tmp_path / "file-ws"
    result = ingest_json(c2m, ws, src)
    assert result.exit_code == 0, result.stderr
    return ws, result.json["tables"]["orders"]


def assert_same_ingest(db_ws: Path, file_ws: Path, db_summary: dict, file_summary: dict) -> None:
    keys = ("rows_in", "rows_written", "rows_rejected", "duplicates", "reject_reasons")
    assert {k: db_summary[k] for k in keys} == {k: file_summary[k] for k in keys}
    assert pl.read_parquet(db_ws / "orders.parquet").equals(pl.read_parquet(file_ws / "orders.parquet"))
    db_rejects, file_rejects = db_ws / "_rejects" / "orders.parquet", file_ws / "_rejects" / "orders.parquet"
    assert db_rejects.exists() == file_rejects.exists()
    if file_rejects.exists():
        # a database row number is the file's line minus its header line
        ours = pl.read_parquet(db_rejects).select(pl.col("line") + 1, "column", "raw_value", "reason")
        theirs = pl.read_parquet(file_rejects).select("line", "column", "raw_value", "reason")
        assert ours.equals(theirs)


# -- PostgreSQL -------------------------------------------------------------------------------


def test_postgres_table_equals_the_file_ingest(c2m, tmp_path: Path, postgres: Server):
    frame = shop_orders()
    load_postgres(postgres, "orders", frame, money_numeric=True)
    file_ws, file_summary = file_reference(c2m, tmp_path, frame)
    result = ingest_json(c2m, tmp_path / "db-ws", postgres.uri(table="orders"))
    assert result.exit_code == 0, result.stderr
    summary = result.json["tables"]["orders"]
    assert summary["rows_in"] == 3000 and summary["rows_written"] == 3000
    assert_same_ingest(tmp_path / "db-ws", file_ws, summary, file_summary)
    manifest = (tmp_path / "db-ws" / "manifest.json").read_text(encoding="utf-8")
    assert PASSWORD not in manifest and "c2m:***@127.0.0.1" in manifest


def test_postgres_text_columns_reject_like_the_file(c2m, tmp_path: Path, postgres: Server):
    frame = with_bad_values(shop_orders(500, seed=3))
    load_postgres(postgres, "raw_orders", frame)
    file_ws, file_summary = file_reference(c2m, tmp_path, frame)
    result = ingest_json(c2m, tmp_path / "db-ws", postgres.uri(table="raw_orders"))
    assert result.exit_code == 0, result.stderr
    summary = result.json["tables"]["orders"]
    assert summary["rows_rejected"] == 3 and summary["rows_in"] == 500
    assert_same_ingest(tmp_path / "db-ws", file_ws, summary, file_summary)
    labels = pl.read_parquet(tmp_path / "db-ws" / "_rejects" / "orders.parquet")["file"].unique().to_list()
    assert labels == [postgres.uri(table="raw_orders").replace(f":{PASSWORD.replace('!', '%21')}@", ":***@")]


def test_postgres_query_and_password_from_pgpassword(c2m, tmp_path: Path, postgres: Server):
    frame = shop_orders(400, seed=5)
    load_postgres(postgres, "q_orders", frame)
    expected = frame.filter(pl.col("status") == "交易成功")
    file_ws, file_summary = file_reference(c2m, tmp_path, expected)
    query = "SELECT * FROM q_orders WHERE status = '交易成功'"
    uri = postgres.uri(with_password=False, query=query)
    result = ingest_json(c2m, tmp_path / "db-ws", uri, env={"PGPASSWORD": PASSWORD})
    assert result.exit_code == 0, result.stderr
    assert_same_ingest(tmp_path / "db-ws", file_ws, result.json["tables"]["orders"], file_summary)


def test_postgres_is_read_in_batches(tmp_path: Path, postgres: Server, monkeypatch):
    from c2m_cli.ingest import database

    load_postgres(postgres, "batched", shop_orders(1000, seed=1))
    monkeypatch.setattr(database, "BATCH_BYTES", 8192)
    raw = database.open_database(postgres.uri(table="batched"), "orders", tmp_path / "scratch")
    assert len(list((tmp_path / "scratch").iterdir())) >= 5  # one Parquet part per Arrow batch
    frame = raw.frame.collect()
    assert frame.height == 1000 and frame["_line"].to_list() == list(range(1, 1001))


def test_postgres_wrong_password_exits_2_masked(c2m, tmp_path: Path, postgres: Server):
    uri = postgres.uri(password="Wr0ng-Secret", table="orders")
    result = c2m("ingest", tmp_path / "ws", "--orders", uri)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Wr0ng-Secret" not in result.stderr + result.stdout
    assert lines[0].startswith(
        f"Error: --orders postgresql://c2m:***@127.0.0.1:{postgres.port}/shop?table=orders: cannot connect ("
    )
    assert "password authentication failed" in lines[0]


def test_postgres_unknown_table_exits_2(c2m, tmp_path: Path, postgres: Server):
    result = c2m("ingest", tmp_path / "ws", "--orders", postgres.uri(table="nope"))
    assert result.exit_code == 2
    line = result.stderr.strip().splitlines()[0]
    assert line.startswith(f"Error: --orders postgresql://c2m:***@127.0.0.1:{postgres.port}/shop?table=nope:"
                           " the server refused the read (")
    assert 'relation "nope" does not exist' in line and PASSWORD not in result.stderr


@pytest.mark.parametrize("scheme", ["postgresql", "mysql"])
def test_unreachable_server_exits_2_with_the_password_masked(c2m, tmp_path: Path, scheme: str):
    port = free_port()  # nothing listens there
    uri = f"{scheme}://shop:Hunter2-Secret@127.0.0.1:{port}/db?table=orders"
    result = c2m("ingest", tmp_path / "ws", "--orders", uri, "--json")
    assert result.exit_code == 2
    assert "Hunter2-Secret" not in result.stdout + result.stderr
    assert json.loads(result.stdout)["error"].startswith(
        f"--orders {scheme}://shop:***@127.0.0.1:{port}/db?table=orders: cannot connect ("
    )
    assert not (tmp_path / "ws" / "manifest.json").exists() or "Hunter2" not in (tmp_path / "ws" / "manifest.json").read_text()


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("postgresql://u@h/db", "--orders postgresql://u@h/db: add exactly one of ?table=NAME or ?query=SELECT… to the URI"),
        ("postgresql://u:pw@h/db?table=a&colour=1",
         "--orders postgresql://u:***@h/db?table=a&colour=1: unknown URI parameter 'colour' (use ?table=NAME or ?query=SELECT…)"),
        ("oracle://u@h/db?table=a", "--orders oracle://u@h/db?table=a: unknown database scheme 'oracle'"
         " (use sqlite:///path.db, postgresql://user@host/db or mysql://user@host/db)"),
        ("mysql://u:pw@h:99999/db?table=a", "--orders mysql://u:***@h:99999/db?table=a: the port is not a number"),
    ],
)
def test_malformed_database_uris_exit_2(c2m, tmp_path: Path, uri: str, message: str):
    result = c2m("ingest", tmp_path / "ws", "--orders", uri)
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines()[0] == f"Error: {message}"


# -- MariaDB ----------------------------------------------------------------------------------


def test_mariadb_table_equals_the_file_ingest(c2m, tmp_path: Path, mariadb: Server):
    frame = shop_orders()
    load_mysql(mariadb, "orders", frame)
    file_ws, file_summary = file_reference(c2m, tmp_path, frame)
    query = "SELECT order_id, user_id, sku, ts, qty, unit_price, status, channel FROM orders ORDER BY _row_no"
    result = ingest_json(c2m, tmp_path / "db-ws", mariadb.uri(query=query))
    assert result.exit_code == 0, result.stderr
    summary = result.json["tables"]["orders"]
    assert summary["rows_written"] == 3000
    assert_same_ingest(tmp_path / "db-ws", file_ws, summary, file_summary)


def test_mariadb_text_columns_reject_like_the_file(c2m, tmp_path: Path, mariadb: Server):
    frame = with_bad_values(shop_orders(500, seed=3))
    load_mysql(mariadb, "raw_orders", frame)
    file_ws, file_summary = file_reference(c2m, tmp_path, frame)
    query = "SELECT order_id, user_id, sku, ts, qty, unit_price, status, channel FROM raw_orders ORDER BY _row_no"
    uri = mariadb.uri(with_password=False, query=query)
    result = ingest_json(c2m, tmp_path / "db-ws", uri, env={"MYSQL_PWD": PASSWORD})
    assert result.exit_code == 0, result.stderr
    assert result.json["tables"]["orders"]["rows_rejected"] == 3
    assert_same_ingest(tmp_path / "db-ws", file_ws, result.json["tables"]["orders"], file_summary)


def test_mariadb_wrong_password_exits_2_masked(c2m, tmp_path: Path, mariadb: Server):
    uri = mariadb.uri(password="Wr0ng-Secret", table="orders")
    result = c2m("ingest", tmp_path / "ws", "--orders", uri)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Wr0ng-Secret" not in result.stderr
    assert lines[0].startswith(f"Error: --orders mysql://c2m:***@127.0.0.1:{mariadb.port}/shop?table=orders: cannot connect (")
    assert "Access denied" in lines[0]


# -- The Complete Journey, both servers against the Parquet file -----------------------------


@pytest.mark.real_data
def test_complete_journey_sample_from_both_servers_equals_parquet(
    c2m, tmp_path: Path, shared_data: Path, postgres: Server, mariadb: Server
):
    sample = pl.read_parquet(shared_data / "completejourney" / "transactions.parquet", n_rows=20_000)
    sample = sample.with_columns(pl.col("transaction_timestamp").cast(pl.Datetime("us")))
    src = tmp_path / "transactions.parquet"
    sample.write_parquet(src)
    reference = c2m("ingest", tmp_path / "file-ws", "--orders", src, "--preset", "completejourney", "--json")
    assert reference.exit_code == 0, reference.stderr
    load_postgres(postgres, "transactions", sample)
    load_mysql(mariadb, "transactions", sample)
    columns = ", ".join(sample.columns)
    for name, uri in [
        ("pg", postgres.uri(table="transactions")),
        ("my", mariadb.uri(query=f"SELECT {columns} FROM transactions ORDER BY _row_no")),
    ]:
        result = c2m("ingest", tmp_path / name, "--orders", uri, "--preset", "completejourney", "--json")
        assert result.exit_code == 0, result.stderr
        assert result.json["tables"]["orders"] == reference.json["tables"]["orders"]
        assert pl.read_parquet(tmp_path / name / "orders.parquet").equals(
            pl.read_parquet(tmp_path / "file-ws" / "orders.parquet")
        )


def test_postgres_types_without_a_polars_twin(c2m, tmp_path: Path, postgres: Server):
    """uuid, numeric, jsonb, date and arrays arrive as usable values, not as a crash."""
    import adbc_driver_postgresql.dbapi as dbapi

    with dbapi.connect(postgres.libpq_uri()) as connection, connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS items")
        cursor.execute("CREATE TABLE items (sku uuid, name text, list_price numeric(10,2), attrs jsonb,"
                       " launch_date date, tags text[])")
        cursor.execute(
            "INSERT INTO items VALUES"
            " ('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '保温杯', 129.90, '{\"颜色\": \"红\"}', '2024-03-01', '{a,b}'),"
            " ('b1eebc99-9c0b-4ef8-bb6d-6bb9bd380a12', '茶壶', NULL, NULL, NULL, NULL)"
        )
        connection.commit()
    orders = tmp_path / "orders.csv"
    orders.write_text("order_id,user_id,sku,ts,qty,unit_price\n1,u,a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11,2024-03-02,1,129.9\n",
                      encoding="utf-8")
    result = c2m("ingest", tmp_path / "ws", "--orders", orders, "--products", postgres.uri(table="items"), "--json")
    assert result.exit_code == 0, result.stderr
    assert result.json["tables"]["products"]["rows_written"] == 2
    products = pl.read_parquet(tmp_path / "ws" / "products.parquet")
    assert products.select("sku", "name", "list_price").rows() == [
        ("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "保温杯", 129.9),
        ("b1eebc99-9c0b-4ef8-bb6d-6bb9bd380a12", "茶壶", None),
    ]
    assert json.loads(products["attrs"][0]) == {"颜色": "红"}
    assert str(products["launch_date"][0]) == "2024-03-01"
