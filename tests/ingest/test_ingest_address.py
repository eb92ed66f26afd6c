"""Derived columns through the CLI: province / prefecture-level city from 收货地址, birth_year
from birth_date, category_l1…l3 from category_path."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from c2m_cli.resources import read_seed

ORDERS = "订单编号,买家会员名,商品编码,下单时间,购买数量,单价,收货地址\n"
ADDRESSES = [
    ("江苏省苏州市昆山市花桥镇绿地大道1号", "江苏", "苏州"),
    ("江苏 昆山市 玉山镇", "江苏", "苏州"),          # county-level city → its prefecture
    ("广东省深圳市南山区科技园", "广东", "深圳"),
    ("广东省 南山区 粤海街道", "广东", "深圳"),      # district → prefecture, inside the province
    ("北京市朝阳区建国路88号", "北京", "北京"),      # 朝阳区 in 北京 is not 辽宁's 朝阳市
    ("辽宁省朝阳市双塔区", "辽宁", "朝阳"),
    ("昆山市前进西路", "江苏", "苏州"),              # unique in China: the province is inferred
    ("中国 浙江省 杭州市 西湖区", "浙江", "杭州"),
    ("上海浦东新区张江", "上海", "上海"),
    ("吉林省延边朝鲜族自治州延吉市", "吉林", "延边"),
    ("新疆石河子市", "新疆", "石河子"),              # administered by the region directly
    ("南山区科技园", None, None),                    # 深圳 or 鹤岗: ambiguous, listed
    ("火星基地", None, None),                        # not an address in China: listed
    ("保密", None, None),                            # unknown: null, not listed
]


def test_address_gives_province_and_prefecture_city(c2m, tmp_path: Path):
    lines = [f"A{i},u{i},s,2024-11-11 10:00,1,10,{address}" for i, (address, _, _) in enumerate(ADDRESSES)]
    src = tmp_path / "orders.csv"
    src.write_text(ORDERS + "\n".join(lines) + "\n", encoding="utf-8")
    result = c2m("ingest", tmp_path / "ws", "--orders", src, "--timezone", "Asia/Shanghai", "--json")
    assert result.exit_code == 0, result.stderr
    orders = pl.read_parquet(tmp_path / "ws" / "orders.parquet")
    assert orders.select("province", "city").rows() == [(p, c) for _, p, c in ADDRESSES]
    assert orders["address"][0] == ADDRESSES[0][0]
    table = result.json["tables"]["orders"]
    assert (table["rows_in"], table["rows_written"], table["rows_rejected"], table["fields_nulled"]) == (14, 14, 0, 2)
    fields = pl.read_parquet(tmp_path / "ws" / "_rejects" / "orders_fields.parquet")
    assert fields.select("line", "column", "raw_value", "reason").rows() == [
        (13, "address", "南山区科技园", "ambiguous place name 南山区 (深圳, 鹤岗): add the province"),
        (14, "address", "火星基地", "no province or city found in the address"),
    ]


def test_every_prefecture_city_found_is_in_the_city_tier_table(c2m, tmp_path: Path):
    customers = tmp_path / "c.csv"
    customers.write_text(
        "用户ID,收货地址,出生日期\n"
        "u1,江苏省苏州市昆山市,1990-05-01\n"
        "u2,广东省深圳市南山区,1985/12/31\n"
        "u3,四川省成都市武侯区,1890-01-01\n",
        encoding="utf-8",
    )
    products = tmp_path / "p.csv"
    products.write_text(
        "商品ID,类目路径\ns1,数码 > 电脑 > 笔记本\ns2,家居/厨具\ns3,服饰|女装|连衣裙|夏季\n", encoding="utf-8"
    )
    orders = tmp_path / "o.csv"
    orders.write_text("order_id,user_id,sku,ts,qty,unit_price\n1,u1,s1,2024-01-01,1,1\n", encoding="utf-8")
    result = c2m("ingest", tmp_path / "ws", "--orders", orders, "--customers", customers, "--products", products,
                 "--timezone", "UTC", "--json")
    assert result.exit_code == 0, result.stderr
    got = pl.read_parquet(tmp_path / "ws" / "customers.parquet")
    assert got.select("province", "city", "birth_year").rows() == [
        ("江苏", "苏州", 1990), ("广东", "深圳", 1985), ("四川", "成都", None),
    ]
    fields = pl.read_parquet(tmp_path / "ws" / "_rejects" / "customers_fields.parquet")
    assert fields.select("line", "column", "raw_value", "reason").rows() == [
        (4, "birth_date", "1890-01-01", "implausible date (before 1900-01-01)"),
    ]
    seed = read_seed("city_tiers.csv")
    assert set(got["city"].drop_nulls().to_list()) <= set(seed["city_short"].to_list())
    products_out = pl.read_parquet(tmp_path / "ws" / "products.parquet")
    assert products_out.select("category_l1", "category_l2", "category_l3").rows() == [
        ("数码", "电脑", "笔记本"), ("家居", "厨具", None), ("服饰", "女装", "连衣裙"),
    ]


def test_prefecture_names_match_the_city_tier_table():
    """Every prefecture of the division table (short name) has a tier row, and back."""
    divisions = read_seed("admin_divisions.csv").filter(
        pl.col("level") == "prefecture", ~pl.col("adcode").cast(pl.String).str.starts_with("71")
    )
    seed = read_seed("city_tiers.csv")
    tiers = set(seed["city"].to_list()) | set(seed["city_short"].to_list())
    missing = [
        row["prefecture"] for row in divisions.iter_rows(named=True)
        if row["prefecture"] not in tiers and row["prefecture_short"] not in tiers
    ]
    # 雄安新区 (2017) is a new area the published tier list does not rank
    assert missing == ["雄安新区"]


def test_city_tiers_top_tiers_follow_the_2025_published_list():
    """一线 and 新一线 as 第一财经·新一线城市研究所 published them on 2025-05-28 (佛山 in, 无锡 out)."""
    seed = read_seed("city_tiers.csv")
    new_tier_1 = seed.filter(pl.col("tier") == "新一线")
    assert set(new_tier_1["city"]) == {
        "成都", "杭州", "重庆", "武汉", "苏州", "西安", "南京", "长沙", "郑州", "天津", "合肥", "青岛", "东莞", "宁波", "佛山",
    }
    assert set(seed.filter(pl.col("tier") == "一线")["city"]) == {"上海", "北京", "深圳", "广州"}
    top = seed.filter(pl.col("tier").is_in(["一线", "新一线"]) | (pl.col("city") == "无锡"))
    assert top["source"].str.contains("《2025新一线城市魅力排行榜》(2025-05-28", literal=True).all()
    assert seed.filter(pl.col("city") == "无锡")["tier"].to_list() == ["二线"]


# A place name longer than the province name it starts with is that place (a general rule of the
# matching, not a list of exceptions); a tie goes to the province.
PREFIX_CLASHES = [
    ("海南藏族自治州共和县恰卜恰镇", "青海", "海南"),   # a prefecture of 青海, not 海南 province
    ("河南蒙古族自治县优干宁镇", "青海", "黄南"),       # a county of 青海, not 河南 province
    ("海南区拉僧庙镇", "内蒙古", "乌海"),               # a district of 乌海, not 海南 province
    ("吉林市船营区", "吉林", "吉林"),                   # the prefecture 吉林市 (its province inferred)
    ("海南海口市龙华区", "海南", "海口"),               # tie (海南 = 海南): the province
    ("吉林省吉林市昌邑区", "吉林", "吉林"),
    ("青海省海南藏族自治州共和县", "青海", "海南"),
]


def test_a_longer_place_name_beats_the_province_name_it_starts_with(c2m, tmp_path: Path):
    lines = [f"A{i},u{i},s,2024-11-11 10:00,1,10,{address}" for i, (address, _, _) in enumerate(PREFIX_CLASHES)]
    src = tmp_path / "orders.csv"
    src.write_text(ORDERS + "\n".join(lines) + "\n", encoding="utf-8")
    result = c2m("ingest", tmp_path / "ws", "--orders", src, "--timezone", "Asia/Shanghai", "--json")
    assert result.exit_code == 0, result.stderr
    orders = pl.read_parquet(tmp_path / "ws" / "orders.parquet")
    assert orders.select("province", "city").rows() == [(p, c) for _, p, c in PREFIX_CLASHES]
    table = result.json["tables"]["orders"]
    assert (table["rows_in"], table["rows_written"], table["fields_nulled"]) == (7, 7, 0)
