"""What a workspace holds: tables, row counts, schemas and a few rows — and how to show them as
text: aligned plain columns (wide rows one block per row), or CSV; values inert on a terminal."""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from dataclasses import dataclass
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


# -- rendering as text (no rich here: the console draws rich tables on a terminal) ----------------

FORMATS = ("table", "csv", "json")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


@dataclass
class TextTable:
    title: str
    columns: list[str]
    rows: list[list[str]]


def cell_text(value: Any) -> str:
    """A value as one line of inert text: control characters and line breaks removed."""
    if value is None:
        return ""
    if isinstance(value, float):
        text = f"{value:.6g}"
    elif isinstance(value, list | tuple):
        text = "[" + ", ".join(cell_text(v) for v in value) + "]"
    elif isinstance(value, dict):
        text = json.dumps(value, ensure_ascii=False, default=str)
    else:
        text = str(value)
    return _CONTROL.sub("", text.replace("\r\n", " ").replace("\n", " ").replace("\t", " "))


def text_tables(summary: dict[str, Any]) -> list[TextTable]:
    """The tables that show a summary of ``describe_workspace`` or ``describe_table``."""
    if "tables" in summary:
        out = [
            TextTable(
                "tables",
                ["table", "rows", "columns"],
                [[cell_text(t["table"]), f"{t['rows']:,}", str(t["columns"])] for t in summary["tables"]],
            )
        ]
        if summary.get("rejects"):
            out.append(TextTable("rejected rows", ["table", "rows"], [[cell_text(r["table"]), f"{r['rows']:,}"] for r in summary["rejects"]]))
        if summary.get("steps"):
            out.append(TextTable("steps run (manifest.json)", ["#", "command"], [[str(i), cell_text(c)] for i, c in enumerate(summary["steps"], 1)]))
        return out
    out = [TextTable(f"{summary['table']}: {summary['rows']:,} rows", ["column", "type"], [[cell_text(c), cell_text(t)] for c, t in summary["schema"].items()])]
    head = summary.get("head") or []
    columns = list(summary["schema"])
    if head:
        out.append(TextTable(f"first {len(head)} rows", [cell_text(c) for c in columns], [[cell_text(row.get(c)) for c in columns] for row in head]))
    return out


def _width(text: str) -> int:
    """Display width: East Asian wide characters take two columns."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def _pad(text: str, width: int, right: bool) -> str:
    gap = " " * max(width - _width(text), 0)
    return gap + text if right else text + gap


def _numeric(values: list[str]) -> bool:
    return bool(values) and all(re.fullmatch(r"-?[\d,]+(\.\d+)?(e[+-]?\d+)?", v) for v in values if v)


def plain_table(table: TextTable, width: int = 100) -> str:
    """Aligned columns; a table wider than ``width`` is shown one row per block (column: value)."""
    widths = [max([_width(c)] + [_width(row[i]) for row in table.rows]) for i, c in enumerate(table.columns)]
    if sum(widths) + 2 * (len(widths) - 1) > width and len(table.columns) > 2:
        return vertical_table(table)
    right = [_numeric([row[i] for row in table.rows]) for i in range(len(table.columns))]
    lines = [table.title]
    lines.append("  ".join(_pad(c, w, r) for c, w, r in zip(table.columns, widths, right, strict=True)).rstrip())
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(_pad(v, w, r) for v, w, r in zip(row, widths, right, strict=True)).rstrip() for row in table.rows]
    return "\n".join(lines) + "\n"


def vertical_table(table: TextTable) -> str:
    """One block per row, one ``column  value`` line per column (psql's expanded display)."""
    label = max((_width(c) for c in table.columns), default=0)
    lines = [table.title]
    for n, row in enumerate(table.rows, 1):
        lines.append(f"-[ row {n} ]" + "-" * max(label - 6, 4))
        lines += [f"{_pad(c, label, False)} | {v}".rstrip() for c, v in zip(table.columns, row, strict=True)]
    return "\n".join(lines) + "\n"


def csv_text(table: TextTable) -> str:
    """The table as CSV, every text cell formula-safe (a spreadsheet never evaluates it)."""
    from c2m_cli.report.safe import neutralise

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([neutralise(c) for c in table.columns])
    writer.writerows([[neutralise(v) for v in row] for row in table.rows])
    return buffer.getvalue()
