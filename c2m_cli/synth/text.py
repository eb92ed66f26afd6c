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
    "居家": ("家里囤货用", "一家人都在用", "日常居家必备", "囤了好几箱", "放家里随时用"),
    "健身": ("健身后来一杯", "跑步的时候用", "每天打卡健身", "上班通勤也方便", "练完瑜伽用正好"),
    "养生": ("给家里老人买的", "注重养生", "爸妈说身体舒服多了", "每天坚持吃", "中老年人很适合"),
    "养宠": ("主子很爱吃", "猫咪吃得很香", "毛孩子很喜欢", "家里两只猫都抢着吃", "铲屎官放心之选"),
}

MOTIVE_CUES: dict[str, tuple[str, ...]] = {
    "安全": ("成分安全", "配料干净放心", "大品牌质量有保障", "安全无添加"),
    "性能": ("性能强劲", "配置很顶", "速度飞快", "参数很能打"),
    "价格": ("性价比超高", "活动价很划算", "便宜实惠", "比超市便宜多了", "凑满减很值"),
    "品质": ("质感很好", "做工精致", "品质在线", "高级感十足"),
    "健康": ("对身体好", "健康营养", "吃得放心也健康", "营养均衡"),
    "爱宠": ("给毛孩子最好的", "宠物吃得健康", "主子的口粮不能省", "为了猫咪值得"),
}

# A remark about the category, positive and negative.
ASPECTS_POS = ("质量很好", "包装很用心", "发货速度快", "和图片一致", "使用感很好")
ASPECTS_NEG = ("质量不太行", "包装有破损", "发货太慢了", "和描述不符", "用了几天就有问题")

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
