"""The design of the synthetic world: consumer types, cities, catalogue and calendar effects.

Everything here is declarative configuration; ``generate.py`` turns it into tables with numpy.
The planted signals (recorded in ``truth/``) are parameters of this module so that tests and the
scorecard can name them, but methods must recover them from the tables alone.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

DEFAULT_END = dt.date(2025, 11, 30)
DATA_TIMEZONE = "Asia/Shanghai"
UTC_OFFSET_HOURS = 8  # Asia/Shanghai has no daylight saving time
CHUNK_USERS = 25_000  # users generated per chunk (fixed: results do not depend on memory)

GENERATIONS = ("70后", "80后", "90后", "00后")
GENERATION_YEARS = {"70后": (1970, 1979), "80后": (1980, 1989), "90后": (1990, 1999), "00后": (2000, 2006)}
TIERS = ("一线", "新一线", "二线", "三线", "四线", "五线")
STAGES = ("new", "active", "sleeping", "dormant", "lost")
CHANNELS = ("APP", "小程序", "网页", "直播")

# (city, province, tier): real cities, tiers after the 2024 城市商业魅力排行榜 in spirit.
CITIES: tuple[tuple[str, str, str], ...] = (
    ("北京", "北京", "一线"), ("上海", "上海", "一线"), ("广州", "广东", "一线"), ("深圳", "广东", "一线"),
    ("成都", "四川", "新一线"), ("重庆", "重庆", "新一线"), ("杭州", "浙江", "新一线"),
    ("武汉", "湖北", "新一线"), ("苏州", "江苏", "新一线"), ("西安", "陕西", "新一线"),
    ("南京", "江苏", "新一线"), ("长沙", "湖南", "新一线"), ("天津", "天津", "新一线"),
    ("郑州", "河南", "新一线"), ("东莞", "广东", "新一线"), ("青岛", "山东", "新一线"),
    ("合肥", "安徽", "新一线"), ("宁波", "浙江", "新一线"), ("佛山", "广东", "新一线"),
    ("沈阳", "辽宁", "二线"), ("昆明", "云南", "二线"), ("济南", "山东", "二线"),
    ("厦门", "福建", "二线"), ("福州", "福建", "二线"), ("温州", "浙江", "二线"),
    ("大连", "辽宁", "二线"), ("哈尔滨", "黑龙江", "二线"), ("长春", "吉林", "二线"),
    ("南昌", "江西", "二线"), ("南宁", "广西", "二线"), ("泉州", "福建", "二线"),
    ("石家庄", "河北", "二线"), ("贵阳", "贵州", "二线"), ("太原", "山西", "二线"),
    ("金华", "浙江", "二线"), ("兰州", "甘肃", "二线"),
    ("徐州", "江苏", "三线"), ("洛阳", "河南", "三线"), ("襄阳", "湖北", "三线"),
    ("赣州", "江西", "三线"), ("绵阳", "四川", "三线"), ("桂林", "广西", "三线"),
    ("芜湖", "安徽", "三线"), ("烟台", "山东", "三线"), ("汕头", "广东", "三线"),
    ("湛江", "广东", "三线"), ("保定", "河北", "三线"), ("海口", "海南", "三线"),
    ("呼和浩特", "内蒙古", "三线"), ("乌鲁木齐", "新疆", "三线"),
    ("曲靖", "云南", "四线"), ("南充", "四川", "四线"), ("商丘", "河南", "四线"),
    ("周口", "河南", "四线"), ("九江", "江西", "四线"), ("岳阳", "湖南", "四线"),
    ("宜宾", "四川", "四线"), ("常德", "湖南", "四线"),
    ("固原", "宁夏", "五线"), ("张掖", "甘肃", "五线"), ("铜仁", "贵州", "五线"),
    ("白山", "吉林", "五线"), ("黑河", "黑龙江", "五线"), ("商洛", "陕西", "五线"),
)


@dataclass(frozen=True)
class ConsumerType:
    """One planted consumer type: who they are, what, when and how they buy and write."""

    name: str
    name_en: str
    share: float
    generation: tuple[float, float, float, float]  # 70后, 80后, 90后, 00后
    female: float
    tier: tuple[float, float, float, float, float, float]  # 一线 … 五线
    categories: dict[str, float]  # category_l2 → preference weight (others get 0.05)
    basket: float  # extra lines per order (Poisson mean)
    hours: dict[int, float]  # local hour → weight (others 0.2)
    festival_sensitivity: float  # exponent on the festival multiplier
    coupon: float  # probability of using an extra coupon
    channels: tuple[float, float, float, float]  # APP, 小程序, 网页, 直播
    lifestyle: str
    motive: str
    review_rate: float


CONSUMER_TYPES: tuple[ConsumerType, ...] = (
    ConsumerType(
        "精致妈妈", "Refined moms", 0.20, (0.02, 0.28, 0.62, 0.08), 0.92,
        (0.30, 0.35, 0.20, 0.10, 0.04, 0.01),
        {"奶粉": 6.0, "纸尿裤": 5.0, "辅食": 3.0, "面霜": 1.5, "精华": 1.0, "零食": 1.0, "纸巾": 1.0},
        1.3, {20: 1.5, 21: 2.5, 22: 2.5, 23: 1.2, 10: 0.8, 14: 0.8}, 1.0, 0.35, (0.45, 0.30, 0.05, 0.20),
        "母婴", "品质", 0.30,
    ),
    ConsumerType(
        "Z世代玩家", "Gen-Z gamers", 0.16, (0.0, 0.03, 0.27, 0.70), 0.18,
        (0.15, 0.25, 0.30, 0.20, 0.08, 0.02),
        {"笔记本电脑": 3.0, "电脑外设": 5.0, "手机": 3.0, "耳机": 4.0, "零食": 2.0, "咖啡": 0.5},
        0.3, {22: 2.0, 23: 2.8, 0: 2.5, 1: 1.8, 2: 1.0, 21: 1.2}, 0.8, 0.25, (0.55, 0.05, 0.35, 0.05),
        "电竞", "性能", 0.18,
    ),
    ConsumerType(
        "小镇青年", "Small-town bargain hunters", 0.20, (0.05, 0.15, 0.45, 0.35), 0.50,
        (0.0, 0.02, 0.08, 0.35, 0.35, 0.20),
        {"零食": 4.0, "粮油": 3.0, "纸巾": 4.0, "洗衣液": 3.0, "手机": 1.5, "耳机": 1.0, "跑鞋": 1.0},
        0.9, {12: 1.5, 13: 1.2, 19: 1.5, 20: 2.0, 21: 1.8}, 1.6, 0.65, (0.35, 0.25, 0.02, 0.38),
        "烹饪", "性价比", 0.15,
    ),
    ConsumerType(
        "都市白领", "Urban professionals", 0.18, (0.05, 0.50, 0.42, 0.03), 0.58,
        (0.62, 0.30, 0.06, 0.02, 0.0, 0.0),
        {"面霜": 4.0, "精华": 3.0, "口红": 2.0, "咖啡": 4.0, "跑鞋": 2.5, "瑜伽垫": 1.5, "笔记本电脑": 0.8},
        0.6, {8: 1.2, 12: 2.5, 13: 2.0, 20: 1.5, 21: 1.8, 22: 1.2}, 0.7, 0.20, (0.70, 0.10, 0.15, 0.05),
        "健身", "颜值", 0.22,
    ),
    ConsumerType(
        "银发家庭", "Silver households", 0.12, (0.75, 0.25, 0.0, 0.0), 0.55,
        (0.05, 0.15, 0.30, 0.30, 0.15, 0.05),
        {"维生素": 4.0, "钙片": 4.0, "粮油": 3.0, "洗衣液": 2.0, "纸巾": 2.0, "手机": 0.8},
        1.0, {7: 1.5, 8: 2.0, 9: 2.5, 10: 2.5, 15: 1.5, 16: 1.2}, 1.2, 0.45, (0.30, 0.55, 0.05, 0.10),
        "旅行", "健康", 0.12,
    ),
    ConsumerType(
        "铲屎官", "Pet parents", 0.14, (0.0, 0.25, 0.60, 0.15), 0.68,
        (0.35, 0.35, 0.18, 0.08, 0.03, 0.01),
        {"猫粮": 6.0, "猫砂": 4.0, "狗粮": 3.0, "宠物零食": 3.0, "零食": 1.0},
        0.9, {19: 1.5, 20: 2.0, 21: 2.2, 22: 1.8, 12: 1.0}, 1.0, 0.35, (0.60, 0.25, 0.05, 0.10),
        "宠物", "便利", 0.25,
    ),
)

LIFESTYLES = tuple(t.lifestyle for t in CONSUMER_TYPES)
MOTIVES = tuple(t.motive for t in CONSUMER_TYPES)


@dataclass(frozen=True)
class Category:
    l1: str
    l2: str
    l3: tuple[str, ...]
    brands: tuple[str, ...]
    price: tuple[float, float]
    skus: int
    unit: str = ""
    qty_extra: float = 0.2  # extra units per line (Poisson mean)
    attrs: dict[str, tuple[str, ...]] = field(default_factory=dict)


CATEGORIES: tuple[Category, ...] = (
    Category("电脑办公", "笔记本电脑", ("轻薄本", "商务本", "全能本"), ("联想", "华为", "戴尔", "惠普", "荣耀"),
             (3299, 9999), 10, attrs={"内存": ("16GB", "32GB"), "屏幕": ("14英寸", "16英寸")}),
    Category("电脑办公", "电脑外设", ("机械键盘", "电竞鼠标", "显示器"), ("罗技", "雷蛇", "达尔优", "AOC"),
             (99, 1999), 8, attrs={"连接": ("有线", "无线")}),
    Category("手机通讯", "手机", ("5G手机",), ("小米", "华为", "OPPO", "vivo", "荣耀", "Apple"),
             (999, 7999), 10, attrs={"存储": ("128GB", "256GB", "512GB")}),
    Category("手机通讯", "耳机", ("蓝牙耳机", "头戴耳机"), ("漫步者", "索尼", "华为", "小米"), (99, 1999), 6),
    Category("母婴", "奶粉", ("1段奶粉", "2段奶粉", "3段奶粉"), ("飞鹤", "君乐宝", "爱他美", "惠氏", "美赞臣"),
             (168, 468), 8, "罐", 0.8, {"规格": ("800g", "700g"), "段数": ("1段", "2段", "3段")}),
    Category("母婴", "纸尿裤", ("纸尿裤", "拉拉裤"), ("花王", "帮宝适", "好奇", "大王"), (79, 199), 6, "包", 0.8),
    Category("母婴", "辅食", ("米粉", "果泥"), ("嘉宝", "亨氏", "小皮"), (29, 89), 4, "盒", 0.6),
    Category("美妆护肤", "面霜", ("保湿面霜", "修护面霜", "抗老面霜"), ("珀莱雅", "薇诺娜", "自然堂", "兰蔻", "雅诗兰黛", "海蓝之谜"),
             (89, 1580), 9, attrs={"功效": ("保湿", "修护", "抗老")}),
    Category("美妆护肤", "精华", ("精华液",), ("珀莱雅", "雅诗兰黛", "兰蔻", "修丽可"), (199, 1280), 6),
    Category("美妆护肤", "口红", ("口红",), ("花西子", "完美日记", "迪奥", "YSL"), (59, 399), 6),
    Category("运动户外", "跑鞋", ("跑鞋",), ("李宁", "安踏", "耐克", "阿迪达斯", "特步"), (199, 1099), 8,
             attrs={"尺码": ("40", "41", "42", "43")}),
    Category("运动户外", "瑜伽垫", ("瑜伽垫",), ("Keep", "迪卡侬", "李宁"), (49, 299), 4),
    Category("宠物", "猫粮", ("成猫粮", "幼猫粮"), ("皇家", "渴望", "麦富迪", "网易严选"), (89, 499), 7, "袋", 0.5),
    Category("宠物", "猫砂", ("豆腐猫砂", "膨润土猫砂"), ("pidan", "许翠花", "洁珊"), (39, 129), 4, "袋", 1.0),
    Category("宠物", "狗粮", ("成犬粮",), ("皇家", "比瑞吉", "麦富迪"), (99, 399), 4, "袋", 0.4),
    Category("宠物", "宠物零食", ("冻干", "猫条"), ("麦富迪", "网易严选"), (19, 99), 4, "袋", 1.0),
    Category("食品饮料", "零食", ("坚果", "辣条", "饼干"), ("三只松鼠", "良品铺子", "卫龙", "百草味"), (9.9, 99), 10, "袋", 1.5),
    Category("食品饮料", "咖啡", ("挂耳咖啡", "冻干咖啡"), ("三顿半", "瑞幸", "雀巢"), (39, 159), 5, "盒", 0.6),
    Category("食品饮料", "粮油", ("大米", "食用油"), ("金龙鱼", "福临门", "五常"), (39, 129), 5, "袋", 0.5),
    Category("家居日用", "纸巾", ("抽纸",), ("维达", "清风", "心相印"), (29, 69), 4, "提", 1.2),
    Category("家居日用", "洗衣液", ("洗衣液",), ("蓝月亮", "立白", "奥妙"), (29, 99), 4, "瓶", 0.8),
    Category("保健品", "维生素", ("复合维生素",), ("汤臣倍健", "善存", "Swisse"), (59, 299), 4, "瓶", 0.5),
    Category("保健品", "钙片", ("钙片",), ("汤臣倍健", "钙尔奇", "迪巧"), (49, 199), 4, "瓶", 0.5),
)
CATEGORY_BY_L2 = {c.l2: c for c in CATEGORIES}

# Calendar: multiplier of the daily order intensity inside each festival window, and on its peak.
FESTIVAL_MULTIPLIER = {"年货节": 1.35, "38节": 1.25, "618": 2.0, "双11": 2.2, "双12": 1.4}
FESTIVAL_PEAK = {"618": 3.5, "双11": 5.0, "双12": 2.2}
SPRING_PAUSE = 0.35  # 春节 logistics pause (除夕 − 4 … 初六)
WEEKDAY = (0.95, 0.93, 0.95, 0.97, 1.03, 1.08, 1.09)  # Monday … Sunday

# Planted signals.
NICHE: dict[str, Any] = {
    "query": "游戏本",
    "category": "笔记本电脑",
    "category_l1": "电脑办公",
    "category_level": "category_l2",
    "trend_start": 1.45,  # laptop choice weight at the start of the window …
    "trend_end": 0.55,  # … and at its end: the generic category's sales fall
    "search_rate": 0.9,  # niche searches per user over the window
    "search_rise": 6.0,  # search intensity at the end / at the start
}
MICRO_DEMAND: dict[str, Any] = {
    "category": "奶粉",
    "aspect": "罐盖难开",
    "aspect_en": "the tin's lid is hard to open",
    "share": 0.30,
    "phrases": (
        "盖子太难打开了",
        "罐盖拧半天都打不开",
        "开盖特别费劲，指甲都掰断了",
        "盖子太紧，单手抱娃根本打不开",
        "密封盖设计不合理，每次开罐都很费力",
        "奶粉罐的盖子真的很难开",
        "盖子卡扣太硬，老人根本打不开",
    ),
}
PRICE_BAND: dict[str, Any] = {"category": "面霜", "low": 600.0, "high": 1600.0, "generation": "80后", "city_tier": "一线",
              "target_weight": 25.0, "other_weight": 0.08}
BUNDLE: dict[str, Any] = {"category_a": "猫粮", "category_b": "猫砂", "attach_rate": 0.55}
PRESALE: dict[str, Any] = {"category": "手机", "brand": "小米", "presale_days": 30, "launch_after_end_days": 15,
           "horizon_days": 56, "conversion": 2.5, "reference_launch": dt.date(2025, 4, 15)}
SUPER_USER_SHARE = 0.015
SHARES: dict[str, Any] = {  # lifecycle stage at the end date
    "new": 0.08, "active": 0.40, "sleeping": 0.14, "dormant": 0.16, "lost": 0.22,
}
REACTIVATED_SHARE = 0.06
SLOWING_SHARE = 0.15  # of active users
REGULAR_SHARE = 0.78  # typical gap ≤ 30 days
ONE_TIME_SHARE = 0.10  # of non-new users
