"""The seeds the label step ships: city tiers, lexicons, the sentiment model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from c2m_cli.labels.geography import REGIONS
from c2m_cli.labels.sentiment import SentimentModel, load_model, model_card
from c2m_cli.labels.text import lexicon, tags_of
from c2m_cli.resources import read_seed, seed_path


def test_city_tiers_cover_every_prefecture_level_division() -> None:
    cities = read_seed("city_tiers.csv")
    assert cities.columns == ["city", "city_short", "city_en", "province", "province_en", "region", "tier", "tier_en", "source"]
    assert cities.height == 337  # 4 municipalities + 333 prefecture-level divisions
    assert cities["city"].n_unique() == 337 and cities["city_short"].n_unique() == 337
    assert cities["city_en"].n_unique() == 337
    assert cities.null_count().sum_horizontal().item() == 0
    counts = dict(cities.group_by("tier").len().iter_rows())
    assert counts == {"一线": 4, "新一线": 15, "二线": 30, "三线": 70, "四线": 90, "五线": 128}
    assert set(cities.filter(pl.col("tier") == "一线")["city"]) == {"北京", "上海", "广州", "深圳"}
    assert cities["province"].n_unique() == 31
    provinces = {p for ps in REGIONS.values() for p in ps}
    assert set(cities["province"]) <= provinces
    for province, region in cities.select("province", "region").unique().iter_rows():
        assert province in REGIONS[region]
    assert cities["source"].str.contains("2024").all()
    per_province = dict(cities.group_by("province").len().iter_rows())
    assert (per_province["广东"], per_province["四川"], per_province["河南"], per_province["北京"]) == (21, 21, 17, 1)


def test_lexicons_name_the_issue_tags_in_chinese_and_english() -> None:
    lex = lexicon()
    assert set(tags_of("motive")) >= {"性价比", "品质", "颜值", "性能", "健康", "便利", "送礼", "身份"}
    assert set(tags_of("lifestyle")) >= {"母婴", "电竞", "运动户外", "美妆", "宠物", "健身", "烹饪", "旅行"}
    assert set(tags_of("attitude")) >= {"理性对比", "冲动", "尝鲜", "忠诚", "挑剔"}
    assert set(lex["lang"]) == {"zh", "en"}
    assert lex["weight"].is_between(0, 1, closed="right").all()
    for family in ("motive", "lifestyle", "attitude"):
        langs = lex.filter(pl.col("family") == family).group_by("tag").agg(pl.col("lang").unique())
        assert all(set(v) == {"zh", "en"} for v in langs["lang"]), family


def test_sentiment_model_is_small_plain_json() -> None:
    path = seed_path("sentiment_model.json")
    assert path.stat().st_size < 3 * 1024 * 1024
    data = json.loads(path.read_text(encoding="utf-8"))
    assert len(data["vocabulary"]) == len(data["coef"]) and len(set(data["vocabulary"])) == len(data["vocabulary"])
    card = model_card()
    assert card["heldout_accuracy"] > card["snownlp_heldout_accuracy"]
    model = load_model()
    pos, neg = model.predict_proba(["非常好用，物流很快，推荐购买", "质量太差了，用了两天就坏，很失望"])
    assert pos > 0.8 and neg < 0.2
    assert model.predict_proba([]).shape == (0,)


@pytest.mark.real_data
def test_sentiment_heldout_accuracy_is_what_the_model_card_says(shared_data: Path) -> None:
    """Re-measure on the fixed held-out 20 % of reviews_zh (never trained on)."""
    from c2m_cli.labels.train_sentiment import split

    frame = pl.read_csv(shared_data / "reviews_zh" / "reviews.csv", schema_overrides={"review_id": pl.String, "text": pl.String})
    frame = frame.with_columns(pl.col("text").fill_null(""))
    _, test = split(frame)
    assert test.height == 7025
    data = json.loads(seed_path("sentiment_model.json").read_text(encoding="utf-8"))
    model = SentimentModel.from_dict(data)
    proba = model.predict_proba(test["text"].to_list())
    accuracy = float(((proba > 0.5) == (test["polarity"] == "pos").to_numpy()).mean())
    assert accuracy == pytest.approx(data["heldout_accuracy"], abs=1e-4)
    assert accuracy >= 0.95
    assert accuracy > data["snownlp_heldout_accuracy"] + 0.05
    assert np.isfinite(proba).all()
