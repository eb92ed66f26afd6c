"""Chinese text of the synthetic world: review fragments and search queries.

A review is assembled from fragments: an opening whose tone follows the rating, a remark about
the category, a lifestyle cue and a motive cue of the writer (each present with some
probability, in varied wording) and, for the planted product, a micro-demand complaint.
"""

from __future__ import annotations

OPENINGS: dict[str, tuple[str, ...]] = {
    "pos": ("非常满意", "很好用，推荐", "回购好几次了", "物流很快，包装完好", "超出预期", "整体不错", "五星好评"),
    "mid": ("还行吧", "一般般", "中规中矩", "凑合能用", "和描述差不多"),
    "neg": ("很失望", "不推荐", "差评", "质量一般，后悔买了", "客服态度也不好"),
}

LIFESTYLE_CUES: dict[str, tuple[str, ...]] = {
    "母婴": ("宝宝很喜欢", "给娃用着放心", "带娃的宝妈必备", "我家宝宝一直用这个", "孩子喝完不上火"),
    "电竞": ("打游戏一点不卡", "开黑必备", "电竞党狂喜", "熬夜上分很给力", "玩游戏帧数很稳"),
    "烹饪": ("平时在家做饭用", "下厨必备", "厨房常备", "做菜很香", "周末烘焙用得上"),
    "健身": ("健身后来一杯", "每天打卡健身房", "练完瑜伽用正好", "减脂期也能吃", "撸铁党推荐"),
    "旅行": ("退休后常出去旅游，带着方便", "出行旅行必备", "自驾游路上用", "和老伴去度假带上了", "旅行箱里常备"),
    "宠物": ("主子很爱吃", "猫咪吃得很香", "狗狗很喜欢", "家里两只猫都抢着吃", "铲屎官放心之选"),
}

MOTIVE_CUES: dict[str, tuple[str, ...]] = {
    "品质": ("品质在线", "做工精致", "正品有保障", "用料扎实"),
    "性能": ("性能强劲", "配置很顶", "速度飞快", "散热也不错"),
    "性价比": ("性价比超高", "活动价很划算", "便宜实惠", "比超市便宜多了", "凑满减很值"),
    "颜值": ("颜值超高", "外观好看", "设计感十足", "配色很时尚"),
    "健康": ("健康无添加", "营养均衡", "天然成分吃着放心", "低糖更健康"),
    "便利": ("送货上门很方便", "囤一次用很久，省事", "下单就到，快捷", "一键回购很方便"),
}

# A remark about the purchase, positive and negative (deliberately free of motive words).
ASPECTS_POS = ("东西收到了", "包装很用心", "和图片一致", "使用感很好", "客服回复及时")
ASPECTS_NEG = ("用着不太行", "包装有破损", "发货太慢了", "和描述不符", "用了几天就坏了")

GOOD_LID = ("盖子设计很贴心", "罐子密封性好")  # lid mentions that are not complaints

# Search queries per category_l2 (besides the category and l3 names and "<brand><l2>").
EXTRA_QUERIES: dict[str, tuple[str, ...]] = {
    "笔记本电脑": ("笔记本", "轻薄笔记本", "办公电脑"),
    "手机": ("5G手机", "拍照手机", "新款手机"),
    "奶粉": ("婴儿奶粉", "3段奶粉", "有机奶粉"),
    "面霜": ("保湿面霜", "抗老面霜", "贵妇面霜"),
    "猫粮": ("无谷猫粮", "幼猫粮"),
    "零食": ("零食大礼包", "坚果"),
    "咖啡": ("冷萃咖啡", "速溶咖啡"),
}
