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
from c2m_cli.ingest.coerce import check_format, check_timezone, normalise_key_text
from c2m_cli.ingest.readers import READ_KEYS, check_read_options
from c2m_cli.ingest.schema import TABLES, ColumnSpec, specs

# Order statuses of Chinese and English exports (Taobao / Tmall / JD / Pinduoduo and ERPs), each to
# a canonical value, with the reason (docs/ingest.md):
#   paid      money received and not refunded: paid, shipped, delivered, completed, after-sales
#             service (售后中: an exchange or repair; a refund completing later says 退款成功);
#   cancelled no sale: cancelled, closed, and *unpaid* orders (等待买家付款: nothing was paid, so
#             it is not a sale; it is kept as cancelled so the order still exists);
#   returned  money went or is going back: refunded, refund in progress (退款中), returned,
#             refused on delivery (拒收);
#   presale   a deposit paid on a product not yet shipped (定金 / 尾款 statuses).
# Keys are compared normalised (full-/half-width punctuation, spaces, case): "卖家已发货，等待买家确认"
# and "卖家已发货,等待买家确认" are one key.
_PAID = [
    "paid", "completed", "complete", "success", "succeeded", "shipped", "delivered", "fulfilled",
    "closed won", "已完成", "完成", "已付款", "付款成功", "支付成功", "交易成功", "交易完成", "已支付",
    "已发货", "待发货", "待收货", "已签收", "已收货", "确认收货", "已确认收货", "买家已付款",
    "买家已付款,等待卖家发货", "等待卖家发货", "卖家已发货", "卖家已发货,等待买家确认",
    "卖家已发货,待买家确认", "等待买家确认收货", "等待买家收货", "等待出库", "等待收货", "已出库",
    "配送中", "部分发货", "卖家部分发货", "待评价", "已评价", "交易成功,待评价", "待成团", "已成团",
    "售后中", "售后完成", "换货完成", "成功",
]
_CANCELLED = [
    "cancelled", "canceled", "cancel", "closed", "void", "voided", "unpaid", "pending payment",
    "已取消", "取消", "订单已取消", "交易关闭", "交易已关闭", "已关闭", "订单关闭", "未付款关闭",
    "付款前关闭", "交易被淘宝关闭", "等待买家付款", "待付款", "未付款", "待支付", "未支付", "锁定",
    "已锁定", "已作废", "作废", "删除", "已删除", "未成团",
]
_RETURNED = [
    "returned", "refunded", "refund", "return", "partially refunded", "已退货", "退款", "退货",
    "已退款", "退款成功", "退款中", "退款处理中", "申请退款", "退货中", "退货退款", "退货成功",
    "交易关闭,退款成功", "拒收", "已拒收", "全额退款", "部分退款",
]
_PRESALE = [
    "presale", "pre-sale", "preorder", "pre-order", "预售", "预售中", "待付尾款", "已付定金",
    "定金已付", "等待付尾款", "尾款待付", "付定金", "已付订金",
]

VOCABULARIES: dict[str, dict[str, str]] = {
    "status": {
        **dict.fromkeys(_PAID, "paid"),
        **dict.fromkeys(_CANCELLED, "cancelled"),
        **dict.fromkeys(_RETURNED, "returned"),
        **dict.fromkeys(_PRESALE, "presale"),
    },
    "gender": {
        **dict.fromkeys(["m", "male", "man", "男", "男性", "先生", "boy"], "M"),
        **dict.fromkeys(["f", "female", "woman", "女", "女性", "女士", "girl"], "F"),
    },
    "event": {
        **dict.fromkeys(["search", "搜索", "查询"], "search"),
        **dict.fromkeys(["view", "pv", "click", "浏览", "点击", "访问"], "view"),
        **dict.fromkeys(["cart", "add_to_cart", "addtocart", "加购", "加入购物车", "购物车"], "cart"),
        **dict.fromkeys(["fav", "favorite", "favourite", "collect", "收藏", "关注"], "fav"),
        **dict.fromkeys(["presale", "pre-sale", "预售", "预定", "预约", "付定金"], "presale"),
    },
}

# The canonical values each vocabulary maps to: a value map to anything else is a bad mapping.
CANONICAL_VALUES: dict[str, tuple[str, ...]] = {
    name: tuple(sorted(set(vocab.values()))) for name, vocab in VOCABULARIES.items()
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
        "address": ["收货地址", "收件地址", "详细地址", "地址", "address", "shipping_address"],
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
        "birth_date": ["出生日期", "生日", "birthday", "date_of_birth", "dob"],
        "address": ["收货地址", "地址", "详细地址", "address"],
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
        "category_path": ["类目路径", "分类路径", "商品类目", "category_path", "category path"],
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
        """Normalised key → canonical value: the built-in vocabulary, then the mapping's entries."""
        vocab = {normalise_key_text(k): v for k, v in VOCABULARIES.get(base or "", {}).items()}
        vocab.update({normalise_key_text(k): str(v) for k, v in self.values.get(column, {}).items()})
        return vocab

    def value_map(self, column: str) -> dict[str, str]:
        """Normalised key → replacement text of a column that has no built-in vocabulary."""
        return {normalise_key_text(k): str(v) for k, v in self.values.get(column, {}).items()}


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
    columns = {s.name: s for s in specs(table)}
    result = TableMapping()
    for key, value in data.items():
        where = f"[{table}].{key}"
        if key == "values":
            if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
                raise _bad(path, f"[{table}.values] must hold tables such as [{table}.values.status]")
            for column, vocab in value.items():
                if column not in columns:
                    raise _bad(path, f"[{table}.values.{column}]: {column} is not a column of {table}")
                if not all(isinstance(v, str | int | float | bool) for v in vocab.values()):
                    raise _bad(path, f"[{table}.values.{column}]: values must be strings or numbers")
                _check_targets(path, table, columns[column], vocab)
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
            if fmt is not None:
                problem = check_format(fmt)
                if problem:
                    raise _bad(path, f"{where}: format {fmt!r} {problem}")
                if columns[key].kind not in {"datetime", "date"} and columns[key].parse != "year":
                    raise _bad(path, f"{where}: format applies to date/time columns (and birth_year), not {key}")
            if "column" in value:
                if not isinstance(value["column"], str):
                    raise _bad(path, f"{where}: column must be a string")
                result.columns[key] = ColumnRule(source=value["column"], format=fmt)
            else:
                result.columns[key] = ColumnRule(value=value["value"], format=fmt)
        else:
            raise _bad(path, f"{where} must be a source column name or an inline table, got {value!r}")
    return result


def _check_targets(path: Path, table: str, spec: ColumnSpec, vocab: dict[str, Any]) -> None:
    """A value map's targets must be values the column can hold (canonical for a vocabulary)."""
    where = f"[{table}.values.{spec.name}]"
    if spec.kind == "vocab":
        allowed = CANONICAL_VALUES[spec.vocab or ""]
        for k, v in vocab.items():
            if str(v) not in allowed:
                raise _bad(path, f"{where}: {k!r} = {v!r} is not a canonical {spec.name} (use {', '.join(allowed)})")
    elif spec.kind in {"integer", "number"}:
        for k, v in vocab.items():
            try:
                number = float(v)
            except (TypeError, ValueError):
                raise _bad(path, f"{where}: {k!r} = {v!r} is not a number") from None
            if spec.kind == "integer" and number != int(number):
                raise _bad(path, f"{where}: {k!r} = {v!r} is not a whole number")
            if (spec.minimum is not None and number < spec.minimum) or (spec.maximum is not None and number > spec.maximum):
                raise _bad(path, f"{where}: {k!r} = {v!r} is outside {spec.minimum:g}–{spec.maximum:g}")
    elif spec.kind == "bool":
        from c2m_cli.ingest.coerce import BOOL_VOCAB

        for k, v in vocab.items():
            if normalise_key_text(str(v)) not in BOOL_VOCAB:
                raise _bad(path, f"{where}: {k!r} = {v!r} is not a boolean (true/false)")


def match_column(table: str, column: str, available: list[str]) -> str | None:
    """The source column that holds ``column`` by its canonical name or a common header."""
    lowered = {name.strip().lower(): name for name in available}
    for candidate in [column, *SYNONYMS.get(table, {}).get(column, [])]:
        found = lowered.get(candidate.lower())
        if found is not None:
            return found
    return None
