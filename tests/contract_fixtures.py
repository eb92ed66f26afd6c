"""Test tables built from the contract (c2m_cli.contract), so no fixture drifts from what producers write.

``table_frame("orders", order_id=[...], ...)`` gives a frame with exactly the contract's dtypes for
the columns given (missing optional columns are left out, unknown columns are refused), and
``orders_csv(rows)`` the same lines as a CSV a shop would export.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import polars as pl

from c2m_cli import contract


def table_frame(name: str, **columns: list[Any]) -> pl.DataFrame:
    """A frame of table ``name`` with the contract's dtypes; every required column must be given."""
    spec = contract.table(name)
    dtypes = spec.dtypes()
    unknown = sorted(set(columns) - set(dtypes))
    if unknown and not spec.prefixes:
        raise KeyError(f"{name} has no column(s) {', '.join(unknown)} in the contract")
    missing = [c for c in spec.required if c not in columns]
    if missing:
        raise KeyError(f"{name} needs column(s) {', '.join(missing)}")
    ordered = [c for c in dtypes if c in columns] + [c for c in columns if c not in dtypes]
    frame = pl.DataFrame({c: columns[c] for c in ordered}, schema_overrides={c: dtypes[c] for c in ordered if c in dtypes})
    contract.validate_schema(name, frame.schema, writing=True)
    return frame


ORDER_HEADER = "order_id,user_id,sku,ts,qty,unit_price"


def shop_orders(users: int = 60, *, seed: int = 0, start: dt.date = dt.date(2024, 1, 1), weeks: int = 30) -> list[tuple[Any, ...]]:
    """Order lines of a small plain shop (one line per order, in the canonical column order)."""
    rng = random.Random(seed)
    rows = []
    number = 0
    for user in range(users):
        for _ in range(rng.randint(1, 6)):
            number += 1
            day = start + dt.timedelta(days=rng.randrange(weeks * 7))
            rows.append(
                (
                    f"o{number:05d}",
                    f"u{user:04d}",
                    rng.choice(["A", "B", "C", "D"]),
                    f"{day.isoformat()} {rng.randrange(8, 22):02d}:00:00",
                    float(rng.randint(1, 3)),
                    rng.choice([9.5, 19.0, 49.0]),
                )
            )
    return rows


def orders_csv(rows: list[tuple[Any, ...]]) -> str:
    return ORDER_HEADER + "\n" + "".join(",".join(str(v) for v in row) + "\n" for row in rows)


def orders_frame(rows: list[tuple[Any, ...]]) -> pl.DataFrame:
    names = ORDER_HEADER.split(",")
    data = {name: [row[i] for row in rows] for i, name in enumerate(names)}
    data["ts"] = [dt.datetime.fromisoformat(t).replace(tzinfo=dt.UTC) for t in data["ts"]]
    return table_frame("orders", **data)
