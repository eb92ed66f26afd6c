"""`c2m export`: the tables a category manager works with, as one Excel workbook or a CSV folder.

Sheets (those whose step has run): opportunities, briefs, quantities, audiences, segment profiles,
forecasts (the selected model, with the period's local start date), bundles. Ids are joined with
names (segment name, product name) so a sheet reads on its own; list columns (variants,
attributes, bundles' SKUs) are flattened into one text cell for BI tools, nested values into
JSON text. Headers are Chinese when the data is. Every text cell is formula-safe: a value starting
with ``=``, ``+``, ``-``, ``@`` (or tab / carriage return) gets a leading apostrophe, so a
spreadsheet shows it as text and never evaluates it (OWASP CSV injection). Numbers stay numbers,
dates stay dates. CSV files are UTF-8 with a BOM, which Excel needs to read Chinese.

``build_sheets`` is the pure part (frames in, frames out); ``run_export`` reads the workspace
and writes atomically.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from c2m_cli.errors import MissingPrerequisiteError, UsageError
from c2m_cli.report.safe import FORMULA_STARTS, neutralise
from c2m_cli.workspace import Workspace

FORMATS = ("xlsx", "csv")

# (table, sheet name zh, sheet name en)
SHEETS = (
    ("opportunities", "机会", "opportunities"),
    ("briefs", "产品简报", "briefs"),
    ("quantities", "建议生产量", "quantities"),
    ("audiences", "目标人群", "audiences"),
    ("segment_profiles", "分群画像", "segments"),
    ("forecast", "需求预测", "forecast"),
    ("bundles", "组合推荐", "bundles"),
)

HEADERS_ZH = {
    "opportunity_id": "机会编号", "rank": "排名", "kind": "类型", "kind_name": "类型名称", "category": "品类",
    "sku": "商品编码", "product_name": "商品名称", "subject": "机会", "evidence": "证据", "score": "得分",
    "segment_id": "分群编号", "segment_name": "分群名称", "variants": "同类说法", "volume": "规模",
    "brief_id": "简报编号", "portrait": "人群画像", "price_band": "价格带", "attributes": "应具备的属性",
    "micro_demands": "要解决的微需求", "demand_p10": "需求 P10（件）", "demand_p50": "需求 P50（件）",
    "demand_p90": "需求 P90（件）", "demand_method": "需求估计方法", "launch_window": "上市窗口",
    "presale_plan": "预售计划", "presale_orders": "预售订单", "forecast_p10": "预测 P10（件）",
    "forecast_p50": "预测 P50（件）", "forecast_p90": "预测 P90（件）", "expected_demand": "预期需求（件）",
    "recommended_qty": "建议生产量（件）", "service_level": "服务水平", "expected_fill_rate": "预期满足率",
    "expected_leftover": "预期剩余（件）", "method": "方法", "user_id": "用户 ID", "audience": "人群",
    "audience_name": "人群名称", "reason": "原因", "size": "人数", "share": "占比", "value_share": "价值占比",
    "value_index": "价值指数", "avg_clv": "人均预期价值", "description": "描述", "suggested_action": "建议行动",
    "campaign": "营销活动", "product_mix": "产品组合", "top_tags": "主要标签", "top_categories": "主要品类",
    "top_brands": "主要品牌", "stability_jaccard": "稳定性（Jaccard）", "level": "层级", "unique_id": "序列",
    "name": "名称", "ds": "周期起始日", "y_hat": "预测值（件）", "q0.05": "P5（件）", "q0.1": "P10（件）",
    "q0.5": "P50（件）", "q0.9": "P90（件）", "q0.95": "P95（件）", "antecedent": "购买了（编码）",
    "consequent": "也会买（编码）", "antecedent_names": "购买了", "consequent_names": "也会买",
    "support": "支持度", "confidence": "置信度", "lift": "提升度", "baskets": "购物篮数",
}
AUDIENCE_ZH = {"reactivation": "唤醒召回", "super_users": "超级用户", "early_adopters": "新品尝鲜者"}
KIND_ZH = {
    "search_gap": "搜索缺口", "rising_demand": "需求上升", "micro_demand": "微需求", "price_band": "价格带",
    "attribute_gap": "属性缺口", "festival": "节日",
}
KIND_EN = {k: k.replace("_", " ") for k in KIND_ZH}


@dataclass
class Sheet:
    name: str
    table: str
    frame: pl.DataFrame


def _names(frames: dict[str, pl.DataFrame], table: str, key: str, value: str) -> pl.DataFrame | None:
    frame = frames.get(table)
    if frame is None or key not in frame.columns or value not in frame.columns:
        return None
    return frame.select(pl.col(key).cast(pl.String), pl.col(value).cast(pl.String)).unique(key, keep="first")


def _with_names(frame: pl.DataFrame, frames: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """Add segment_name after segment_id and product_name after sku when they are missing."""
    segments = _names(frames, "segment_profiles", "segment_id", "segment_name")
    if segments is not None and "segment_id" in frame.columns and "segment_name" not in frame.columns:
        frame = frame.with_columns(pl.col("segment_id").cast(pl.String)).join(segments, on="segment_id", how="left")
    products = _names(frames, "products", "sku", "name")
    if products is not None and "sku" in frame.columns and "product_name" not in frame.columns:
        frame = frame.with_columns(pl.col("sku").cast(pl.String)).join(
            products.rename({"name": "product_name"}), on="sku", how="left"
        )
    return frame


def _bundle_names(frame: pl.DataFrame, frames: dict[str, pl.DataFrame], sep: str) -> pl.DataFrame:
    products = _names(frames, "products", "sku", "name")
    if products is None:
        return frame
    mapping = dict(products.iter_rows())
    out = frame
    for column in ("antecedent", "consequent"):
        if column in frame.columns and isinstance(frame.schema[column], pl.List):
            out = out.with_columns(
                pl.col(column)
                .list.eval(pl.element().cast(pl.String).replace(mapping))
                .list.join(sep)
                .alias(f"{column}_names")
            )
    return out


def flatten(frame: pl.DataFrame, sep: str) -> pl.DataFrame:
    """One value per cell: lists of scalars joined by ``sep``, nested values as JSON text."""
    exprs = []
    for name, dtype in frame.schema.items():
        if isinstance(dtype, pl.List) and not isinstance(dtype.inner, pl.List | pl.Struct):
            exprs.append(pl.col(name).list.eval(pl.element().cast(pl.String)).list.join(sep).alias(name))
        elif isinstance(dtype, pl.List | pl.Struct | pl.Array):
            values = [None if v is None else json.dumps(_plain(v), ensure_ascii=False, sort_keys=True) for v in frame[name].to_list()]
            exprs.append(pl.lit(pl.Series(name, values, dtype=pl.String)).alias(name))
    return frame.with_columns(exprs) if exprs else frame


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, float) and value != value:
        return None
    return value


def _local_dates(frame: pl.DataFrame, tz: str) -> pl.DataFrame:
    """Timestamps as the data's local wall time (a spreadsheet holds no time zone)."""
    exprs = [
        pl.col(name).dt.convert_time_zone(tz).dt.replace_time_zone(None)
        for name, dtype in frame.schema.items()
        if isinstance(dtype, pl.Datetime) and dtype.time_zone is not None
    ]
    return frame.with_columns(exprs) if exprs else frame


def build_sheets(frames: dict[str, pl.DataFrame], *, lang: str, tz: str = "UTC") -> list[Sheet]:
    """The sheets to export from the workspace's tables (pure: frames in, frames out)."""
    sep = "、" if lang == "zh" else "; "
    sheets = []
    for table, zh, en in SHEETS:
        frame = frames.get(table)
        if frame is None:
            continue
        if table == "forecast":
            if "model" in frame.columns and (frame["model"] == "selected").any():
                frame = frame.filter(pl.col("model") == "selected").drop("model")
            frame = frame.sort([c for c in ("level", "unique_id", "ds") if c in frame.columns])
            products = _names(frames, "products", "sku", "name")
            if products is not None and {"level", "unique_id"} <= set(frame.columns):
                frame = frame.join(
                    products.rename({"sku": "unique_id"}), on="unique_id", how="left"
                ).with_columns(pl.when(pl.col("level") == "sku").then(pl.col("name")).otherwise(pl.col("unique_id")).alias("name"))
                first = [c for c in ("level", "unique_id", "name", "ds") if c in frame.columns]
                frame = frame.select(*first, pl.exclude(first))
        elif table == "bundles":
            frame = _bundle_names(frame, frames, sep)
        else:
            frame = _with_names(frame, frames)
        if "kind" in frame.columns:
            kinds = KIND_ZH if lang == "zh" else KIND_EN
            frame = frame.with_columns(pl.col("kind").replace_strict(kinds, default=pl.col("kind"), return_dtype=pl.String).alias("kind_name"))
        if table == "audiences" and "audience" in frame.columns and lang == "zh":
            frame = frame.with_columns(pl.col("audience").replace_strict(AUDIENCE_ZH, default=pl.col("audience"), return_dtype=pl.String).alias("audience_name"))
        frame = flatten(_local_dates(frame, tz), sep)
        if lang == "zh":
            frame = frame.rename({c: HEADERS_ZH[c] for c in frame.columns if c in HEADERS_ZH})
        sheets.append(Sheet(zh if lang == "zh" else en, table, frame))
    return sheets


def safe_cell(value: Any) -> Any:
    """A cell value that no spreadsheet evaluates: text starting like a formula is prefixed."""
    if isinstance(value, str):
        return neutralise(value)
    if isinstance(value, float) and value != value:
        return None
    return value


def _formula_safe(frame: pl.DataFrame) -> pl.DataFrame:
    exprs = [
        pl.when(_starts_any(name))
        .then(pl.lit("'") + pl.col(name))
        .otherwise(pl.col(name))
        .alias(name)
        for name, dtype in frame.schema.items()
        if dtype == pl.String
    ]
    frame = frame.with_columns(exprs) if exprs else frame
    return frame.rename({c: neutralise(c) for c in frame.columns})


def _starts_any(name: str) -> pl.Expr:
    expr = pl.lit(False)
    for start in FORMULA_STARTS:
        expr = expr | pl.col(name).str.starts_with(start)
    return expr


def write_xlsx(sheets: list[Sheet], path: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    book = Workbook(write_only=True)
    for sheet in sheets:
        out = book.create_sheet(title=sheet.name[:31])
        frame = _formula_safe(sheet.frame)
        out.append([WriteOnlyCell(out, value=str(c)) for c in frame.columns])
        date_columns = {i for i, dtype in enumerate(frame.dtypes) if dtype in (pl.Date,) or isinstance(dtype, pl.Datetime)}
        for row in frame.iter_rows():
            cells = []
            for i, value in enumerate(row):
                cell = WriteOnlyCell(out, value=None if isinstance(value, float) and value != value else value)
                if isinstance(value, str):
                    cell.data_type = "s"  # text, never a formula, whatever it holds
                if i in date_columns and value is not None:
                    cell.number_format = "yyyy-mm-dd" if isinstance(value, dt.date) and not isinstance(value, dt.datetime) else "yyyy-mm-dd hh:mm"
                cells.append(cell)
            out.append(cells)
    _atomic(path, book.save)


def write_csv(sheets: list[Sheet], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for sheet in sheets:
        path = folder / f"{sheet.table}.csv"

        def save(target: str, frame: pl.DataFrame = _formula_safe(sheet.frame)) -> None:
            with open(target, "wb") as handle:
                handle.write("\ufeff".encode())
                frame.write_csv(handle, date_format="%Y-%m-%d", datetime_format="%Y-%m-%d %H:%M:%S")

        _atomic(path, save)
        written.append(path)
    return written


def _atomic(path: Path, save: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(handle)
    try:
        save(temp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temp, 0o666 & ~umask)  # like any file the user writes, not mkstemp's 0600
        os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise


def run_export(ws: Workspace, *, fmt: str = "xlsx", out: Path | None = None) -> dict[str, Any]:
    """Write the workbook (or CSV folder) and say what it holds."""
    from c2m_cli.report import data_language

    if fmt not in FORMATS:
        raise UsageError(f"--format must be xlsx or csv, got {fmt!r}")
    names = {"products", *(table for table, _zh, _en in SHEETS)}
    frames = {name: ws.read(name) for name in sorted(names) if ws.has(name)}
    if not any(table in frames for table, _zh, _en in SHEETS):
        raise MissingPrerequisiteError(
            f"nothing to export in {ws.root}: no opportunities, briefs, quantities, audiences, segments or forecast yet",
            hint=f"run c2m recommend {ws.root} (after label, segment and forecast) first",
        )
    lang = data_language(ws)
    tz = str(ws.manifest().get("data_timezone") or "UTC")
    sheets = build_sheets(frames, lang=lang, tz=tz)
    if fmt == "xlsx":
        target = Path(out) if out is not None else ws.root / "c2m_export.xlsx"
        if target.is_dir():
            raise UsageError(f"--out {target} is a directory; give a file name ending in .xlsx")
        write_xlsx(sheets, target)
        files = [target]
    else:
        target = Path(out) if out is not None else ws.root / "c2m_export"
        if target.exists() and not target.is_dir():
            raise UsageError(f"--out {target} is a file; --format csv writes a folder")
        files = write_csv(sheets, target)
    return {
        "format": fmt,
        "out": str(target),
        "lang": lang,
        "files": [str(f) for f in files],
        "sheets": [{"sheet": s.name, "table": s.table, "rows": s.frame.height, "columns": s.frame.width} for s in sheets],
    }
