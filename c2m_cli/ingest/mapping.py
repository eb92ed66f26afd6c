"""The mapping TOML, built-in header synonyms and value vocabularies.

A mapping has one table per canonical table; each key is a canonical column and each value the
source column (``order_id = "订单编号"``), an inline table with a format
(``ts = { column = "下单时间", format = "%Y/%m/%d %H:%M" }``) or a constant
(``category_l1 = { value = "笔记本电脑" }``). ``[orders.values.status]`` adds or overrides
vocabulary entries, ``[orders.read]`` pins how files are read (encoding, delimiter, header,
sheet). Top-level ``timezone`` is the zone naive timestamps were written in. Columns a mapping
does not name are matched by their canonical name or a common header (Chinese or English).
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from c2m_cli.errors import UsageError
from c2m_cli.ingest.coerce import SPECIAL_FORMATS, check_timezone
from c2m_cli.ingest.readers import READ_KEYS, check_read_options
from c2m_cli.ingest.schema import TABLES, specs

VOCABULARIES: dict[str, dict[str, str]] = {
    "status": {
        **dict.fromkeys(
            ["paid", "completed", "complete", "success", "shipped", "delivered", "已完成",
             "已付款", "交易成功", "已支付", "已发货", "待发货", "待收货", "已签收", "交易完成",
             "买家已付款", "卖家已发货", "已收货", "成功"],
            "paid",
        ),
        **dict.fromkeys(
            ["cancelled", "canceled", "cancel", "closed", "已取消", "交易关闭", "取消",
             "已关闭", "订单关闭", "未付款关闭"],
            "cancelled",
        ),
        **dict.fromkeys(
            ["returned", "refunded", "refund", "return", "已退货", "退款", "退货", "已退款",
             "退款成功", "退货退款", "售后完成"],
            "returned",
        ),
        **dict.fromkeys(["presale", "pre-sale", "预售", "预售中", "待付尾款", "已付定金"], "presale"),
    },
    "gender": {
        **dict.fromkeys(["m", "male", "man", "男", "男性", "先生"], "M"),
        **dict.fromkeys(["f", "female", "woman", "女", "女性", "女士"], "F"),
    },
    "event": {
        **dict.fromkeys(["search", "搜索", "查询"], "search"),
        **dict.fromkeys(["view", "pv", "click", "浏览", "点击", "访问"], "view"),
        **dict.fromkeys(["cart", "add_to_cart", "addtocart", "加购", "加入购物车", "购物车"], "cart"),
        **dict.fromkeys(["fav", "favorite", "favourite", "collect", "收藏", "关注"], "fav"),
        **dict.fromkeys(["presale", "pre-sale", "预售", "预定", "预约", "付定金"], "presale"),
    },
}

# Common export headers for canonical columns (compared trimmed and lower-cased).
SYNONYMS: dict[str, dict[str, list[str]]] = {
    "orders": {
        "order_id": ["订单号", "订单编号", "订单id", "主订单编号", "子订单编号", "order id", "order_no", "orderid"],
        "user_id": ["用户id", "买家id", "会员id", "买家会员名", "客户id", "customer_id", "buyer_id", "member_id"],
        "sku": ["商品id", "商品编码", "商品编号", "sku_id", "skuid", "product_id", "item_id", "商家编码"],
        "ts": ["下单时间", "订单创建时间", "创建时间", "付款时间", "支付时间", "order_time", "timestamp", "created_at", "date"],
        "qty": ["数量", "购买数量", "宝贝数量", "商品数量", "quantity", "件数"],
        "unit_price": ["单价", "价格", "商品单价", "成交单价", "price", "unitprice"],
        "status": ["订单状态", "状态", "order_status"],
        "channel": ["渠道", "销售渠道", "平台", "来源"],
        "province": ["省份", "收货省份", "省"],
        "city": ["城市", "收货城市", "市"],
        "presale": ["是否预售", "预售"],
        "discount": ["优惠", "优惠金额", "折扣", "折扣金额", "discount_amount"],
        "store_id": ["店铺id", "门店id", "门店", "店铺", "store"],
    },
    "customers": {
        "user_id": ["用户id", "会员id", "客户id", "买家id", "customer_id", "member_id"],
        "gender": ["性别", "sex"],
        "birth_year": ["出生年份", "出生年", "birthyear"],
        "age_band": ["年龄段", "年龄", "age"],
        "income_band": ["收入", "收入段", "income"],
        "household": ["家庭", "家庭结构"],
        "province": ["省份", "省"],
        "city": ["城市", "市"],
        "city_tier": ["城市等级", "城市线级"],
        "country": ["国家"],
        "signup_ts": ["注册时间", "注册日期", "signup", "created_at"],
    },
    "products": {
        "sku": ["商品id", "商品编码", "商品编号", "sku_id", "product_id", "item_id", "商家编码"],
        "name": ["商品名称", "商品标题", "宝贝标题", "标题", "title", "product_name"],
        "category_l1": ["一级类目", "一级分类", "类目", "category"],
        "category_l2": ["二级类目", "二级分类"],
        "category_l3": ["三级类目", "三级分类"],
        "brand": ["品牌"],
        "list_price": ["标价", "原价", "吊牌价", "售价", "price"],
        "launch_date": ["上市时间", "上市日期", "上架时间", "launch"],
        "attrs": ["属性", "商品属性", "attributes"],
    },
    "events": {
        "user_id": ["用户id", "会员id", "买家id", "customer_id"],
        "ts": ["时间", "行为时间", "timestamp", "time"],
        "event": ["行为", "行为类型", "事件", "event_type", "behavior", "action"],
        "sku": ["商品id", "商品编码", "product_id", "item_id"],
        "category": ["类目", "分类"],
        "query": ["搜索词", "关键词", "search_query", "keyword"],
    },
    "reviews": {
        "text": ["评价内容", "评论内容", "评价", "评论", "内容", "review", "comment", "content"],
        "review_id": ["评价id", "评论id"],
        "user_id": ["用户id", "买家id", "会员id", "customer_id"],
        "sku": ["商品id", "商品编码", "product_id", "item_id"],
        "category": ["类目", "分类"],
        "ts": ["评价时间", "评论时间", "时间", "date"],
        "rating": ["评分", "星级", "打分", "score", "stars"],
    },
}



@dataclass(frozen=True)
class ColumnRule:
    """How one canonical column is obtained from a source."""

    source: str | None = None
    value: Any = None
    format: str | None = None
    # A derived column (presets): a function of ``number(name)`` / ``column(name)`` helpers.
    derive: Callable[[Callable[[str], pl.Expr], Callable[[str], pl.Expr]], pl.Expr] | None = None
    needs: tuple[str, ...] = ()

    @property
    def is_constant(self) -> bool:
        return self.source is None and self.derive is None


@dataclass
class TableMapping:
    columns: dict[str, ColumnRule] = field(default_factory=dict)
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    read: dict[str, Any] = field(default_factory=dict)
    extras: dict[str, str] = field(default_factory=dict)  # extra output column → source column
    auto: bool = True  # match unmapped canonical columns by name/synonym

    def vocabulary(self, column: str, base: str | None) -> dict[str, str]:
        vocab = dict(VOCABULARIES.get(base or "", {}))
        vocab.update({str(k): str(v) for k, v in self.values.get(column, {}).items()})
        return vocab


@dataclass
class Mapping:
    tables: dict[str, TableMapping] = field(default_factory=dict)
    timezone: str | None = None  # zone naive timestamps were written in
    data_timezone: str | None = None  # zone to analyse in (defaults to ``timezone``)
    market: str | None = None  # the data's market (DESIGN.md, markets); None: detect
    name: str = "auto"

    def table(self, name: str) -> TableMapping:
        return self.tables.get(name) or TableMapping()


def _bad(path: Path, message: str) -> UsageError:
    return UsageError(f"mapping {path}: {message}")


def load_mapping(path: Path) -> Mapping:
    """Read and check a mapping TOML; every problem is a UsageError (exit 2) naming the key."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"mapping file {path} does not exist")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise _bad(path, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise _bad(path, f"not valid TOML ({exc})") from exc
    mapping = Mapping(name=str(path))
    for key, value in data.items():
        if key in {"timezone", "data_timezone"}:
            if not isinstance(value, str):
                raise _bad(path, f"{key} must be a string such as \"Asia/Shanghai\"")
            try:
                setattr(mapping, key, check_timezone(value))
            except UsageError as exc:
                raise _bad(path, f"{key}: {exc}") from None
        elif key == "market":
            from c2m_cli.market import check_market

            if not isinstance(value, str):
                raise _bad(path, "market must be a string such as \"cn\" or \"us\"")
            try:
                mapping.market = check_market(value)
            except UsageError as exc:
                raise _bad(path, f"market: {exc}") from None
        elif key in TABLES:
            if not isinstance(value, dict):
                raise _bad(path, f"[{key}] must be a table of canonical column = source column")
            mapping.tables[key] = _table_mapping(path, key, value)
        else:
            raise _bad(
                path,
                f"unknown key {key!r} (expected timezone, data_timezone, market or a table: {', '.join(TABLES)})",
            )
    return mapping


def _table_mapping(path: Path, table: str, data: dict[str, Any]) -> TableMapping:
    columns = {s.name for s in specs(table)}
    result = TableMapping()
    for key, value in data.items():
        where = f"[{table}].{key}"
        if key == "values":
            if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
                raise _bad(path, f"[{table}.values] must hold tables such as [{table}.values.status]")
            for column, vocab in value.items():
                if column not in columns:
                    raise _bad(path, f"[{table}.values.{column}]: {column} is not a column of {table}")
                if not all(isinstance(v, str | int | bool) for v in vocab.values()):
                    raise _bad(path, f"[{table}.values.{column}]: values must be strings")
                result.values[column] = {str(k): str(v) for k, v in vocab.items()}
            continue
        if key == "read":
            if not isinstance(value, dict):
                raise _bad(path, f"[{table}.read] must be a table of read options ({', '.join(READ_KEYS)})")
            try:  # keys and values checked by the readers (exit 2 naming the key)
                result.read = check_read_options(value, f"[{table}.read]")
            except UsageError as exc:
                raise _bad(path, str(exc)) from None
            continue
        if key not in columns:
            raise _bad(path, f"{where}: {key} is not a column of {table} (columns: {', '.join(sorted(columns))})")
        if isinstance(value, str):
            result.columns[key] = ColumnRule(source=value)
        elif isinstance(value, dict):
            unknown = set(value) - {"column", "format", "value"}
            if unknown:
                raise _bad(path, f"{where}: unknown key(s) {', '.join(sorted(unknown))} (use column, format or value)")
            if ("column" in value) == ("value" in value):
                raise _bad(path, f"{where}: give exactly one of column = \"…\" or value = …")
            fmt = value.get("format")
            if fmt is not None and not isinstance(fmt, str):
                raise _bad(path, f"{where}: format must be a string such as \"%Y/%m/%d %H:%M\"")
            if fmt is not None and fmt not in SPECIAL_FORMATS and "%" not in fmt:
                raise _bad(path, f"{where}: format {fmt!r} has no % directive (or use epoch_s / epoch_ms)")
            if "column" in value:
                if not isinstance(value["column"], str):
                    raise _bad(path, f"{where}: column must be a string")
                result.columns[key] = ColumnRule(source=value["column"], format=fmt)
            else:
                result.columns[key] = ColumnRule(value=value["value"], format=fmt)
        else:
            raise _bad(path, f"{where} must be a source column name or an inline table, got {value!r}")
    return result


def match_column(table: str, column: str, available: list[str]) -> str | None:
    """The source column that holds ``column`` by its canonical name or a common header."""
    lowered = {name.strip().lower(): name for name in available}
    for candidate in [column, *SYNONYMS.get(table, {}).get(column, [])]:
        found = lowered.get(candidate.lower())
        if found is not None:
            return found
    return None
