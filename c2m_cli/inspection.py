"""What a workspace holds: tables, row counts, schemas and a few rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from c2m_cli.errors import UsageError
from c2m_cli.workspace import Workspace


def describe_workspace(ws: Workspace) -> dict[str, Any]:
    """Every Parquet table of the workspace with its row and column counts, and the steps run."""
    tables = []
    for name in ws.tables():
        lazy = pl.scan_parquet(ws.table_path(name))
        schema = lazy.collect_schema()
        rows = int(lazy.select(pl.len()).collect().item())
        tables.append({"table": name, "rows": rows, "columns": len(schema)})
    rejects_dir = ws.root / "_rejects"
    rejects = []
    if rejects_dir.is_dir():
        for path in sorted(rejects_dir.glob("*.parquet")):
            rows = int(pl.scan_parquet(path).select(pl.len()).collect().item())
            rejects.append({"table": path.stem, "rows": rows})
    steps = [step.get("command") for step in ws.manifest().get("steps", [])]
    return {"workspace": str(ws.root), "tables": tables, "rejects": rejects, "steps": steps}


def describe_table(ws: Workspace, name: str, *, rows: int = 5) -> dict[str, Any]:
    """Schema, row count and the first ``rows`` rows of one table (``_rejects/x`` allowed)."""
    path = ws.root / f"{name}.parquet"
    if Path(name).is_absolute() or ".." in Path(name).parts or not path.resolve().is_relative_to(ws.root):
        raise UsageError(f"{name!r} is not a table of the workspace (a name like orders or _rejects/orders)")
    if not path.is_file():
        available = ", ".join(ws.tables()) or "none"
        raise UsageError(f"no table {name!r} in {ws.root} (tables: {available})")
    lazy = pl.scan_parquet(path)
    schema = lazy.collect_schema()
    head = lazy.head(rows).collect()
    return {
        "table": name,
        "rows": int(lazy.select(pl.len()).collect().item()),
        "schema": {column: str(dtype) for column, dtype in schema.items()},
        "head": head.to_dicts(),
    }
