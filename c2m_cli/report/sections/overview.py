"""The data behind the run: period, consumers, products, revenue, weekly units, tables, rejects, steps."""

from __future__ import annotations

from typing import Any, TypedDict

import polars as pl

from c2m_cli.errors import InvalidDataError
from c2m_cli.report.sections.base import Context, first_of, local_ts, sold_orders

CANONICAL = ("orders", "customers", "products", "events", "reviews")


class TableRow(TypedDict):
    table: str
    rows: int
    canonical: bool


class RejectReason(TypedDict):
    column: str | None
    reason: str | None
    rows: int


class Rejects(TypedDict):
    table: str
    rows: int
    why: list[RejectReason]


class StepRow(TypedDict):
    command: str | None
    version: str | None
    seed: int | None
    via: str | None
    outputs: str


class Week(TypedDict):
    week: str
    units: float
    revenue: float


class OverviewData(TypedDict, total=False):
    missing: str
    tables: list[TableRow]
    rejects: list[Rejects]
    steps: list[StepRow]
    timezone: str
    market: str
    currency: str
    first: str | None
    last: str | None
    users: int
    skus: int
    lines: int
    revenue: float
    weekly: list[Week]
    festivals: list[dict[str, str]]


def gather(ctx: Context) -> OverviewData:
    ws = ctx.ws
    tables: list[TableRow] = []
    for name in ws.tables():
        rows = int(pl.scan_parquet(ws.table_path(name)).select(pl.len()).collect().item())
        tables.append({"table": name, "rows": rows, "canonical": name in CANONICAL})
    tables.sort(key=lambda r: (not r["canonical"], CANONICAL.index(r["table"]) if r["canonical"] else 0, r["table"]))
    out: OverviewData = {
        "tables": tables,
        "rejects": _rejects(ctx),
        "steps": _steps(ctx),
        "timezone": ctx.timezone,
        "market": ctx.market,
        "currency": ctx.currency,
    }
    if not ws.has("orders"):
        out["missing"] = "orders"
        return out
    orders = ctx.step.scan("orders")
    names = orders.collect_schema().names()
    require = [c for c in ("ts", "qty", "unit_price", "user_id", "sku") if c not in names]
    if require:
        raise InvalidDataError(f"orders.parquet lacks column(s) {', '.join(require)} needed by the report")
    stats = order_stats(orders, ctx.timezone)
    sold = sold_orders(orders)
    revenue = sold.select((pl.col("qty") * pl.col("unit_price")).sum()).collect().item()
    weekly = (
        sold.group_by(local_ts(ctx.timezone).dt.date().dt.truncate("1w").alias("week"))
        .agg(pl.col("qty").sum().alias("units"), (pl.col("qty") * pl.col("unit_price")).sum().alias("revenue"))
        .sort("week")
        .collect()
    )
    out["first"] = stats["first"].isoformat() if stats["first"] else None
    out["last"] = stats["last"].isoformat() if stats["last"] else None
    out["users"] = int(stats["users"])
    out["skus"] = int(stats["skus"])
    out["lines"] = int(stats["lines"])
    out["revenue"] = float(revenue or 0.0)
    out["weekly"] = [
        {"week": w.isoformat(), "units": float(u or 0.0), "revenue": float(r or 0.0)} for w, u, r in weekly.iter_rows()
    ]
    if out["weekly"]:
        from c2m_cli.report.sections.demand import festival_windows

        first, last = weekly["week"].min(), weekly["week"].max()
        out["festivals"] = [dict(f) for f in festival_windows(ctx.market, first, last)]  # type: ignore[arg-type]
    return out


def order_stats(orders: pl.LazyFrame, tz: str) -> dict[str, Any]:
    """The order lines' first and last local day, distinct users and SKUs and line count, by
    streaming passes (distinct values counted as ``unique``: memory grows with the users, not
    with the lines; a null id counts once, as ``n_unique`` does)."""
    span, users, skus = pl.collect_all(
        [
            orders.select(local_ts(tz).min().dt.date().alias("first"), local_ts(tz).max().dt.date().alias("last"), pl.len().alias("lines")),
            orders.select("user_id").unique().select(pl.len().alias("users")),
            orders.select("sku").unique().select(pl.len().alias("skus")),
        ],
        engine="streaming",
    )
    return {**span.row(0, named=True), "users": users.item(), "skus": skus.item()}


def _rejects(ctx: Context) -> list[Rejects]:
    out: list[Rejects] = []
    folder = ctx.ws.root / "_rejects"
    for path in sorted(folder.glob("*.parquet")) if folder.is_dir() else []:
        frame = pl.read_parquet(path)
        reason = first_of(frame, ("reason", "error", "cause"))
        column = first_of(frame, ("column", "field"))
        keys = [c for c in (column, reason) if c]
        why: list[RejectReason] = []
        if keys and frame.height:
            grouped = frame.group_by(keys).agg(pl.len().alias("rows"))
            grouped = grouped.sort(["rows", *keys], descending=[True] + [False] * len(keys))
            why = [
                {
                    "column": row.get(column) if column else None,
                    "reason": row.get(reason) if reason else None,
                    "rows": int(row["rows"]),
                }
                for row in grouped.head(10).iter_rows(named=True)
            ]
        out.append({"table": path.stem, "rows": frame.height, "why": why})
    return out


def _steps(ctx: Context) -> list[StepRow]:
    rows: list[StepRow] = []
    for s in ctx.ws.manifest().get("steps", []):
        # earlier reports and wall times are left out: the page must not change when only they do
        if s.get("command") == "report":
            continue
        outputs = ", ".join(
            f"{o.get('path')} ({o.get('rows')})" if o.get("rows") is not None else str(o.get("path"))
            for o in s.get("outputs", [])
        )
        rows.append(
            {
                "command": s.get("command"),
                "version": s.get("c2m_version"),
                "seed": s.get("seed"),
                "via": s.get("via"),
                "outputs": outputs,
            }
        )
    return rows
